"""What a spec's data section tells about its samples without reading them: each dataset's sample shape
and class count (torchvision's datasets, digits and FakeData by their definition, ImageFolder from its
folder names, an npz from its arrays' headers), and the shape after the transforms whose effect on it is
known. `netspec check` compares them with the model, so a model that cannot fit its data is an error
before any data is loaded. No torch here."""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

# (channels, height, width) of one sample, and the number of classes
KNOWN = {"CIFAR10": ((3, 32, 32), 10), "CIFAR100": ((3, 32, 32), 100), "MNIST": ((1, 28, 28), 10),
         "FashionMNIST": ((1, 28, 28), 10), "KMNIST": ((1, 28, 28), 10), "digits": ((1, 8, 8), 10)}
# transforms that keep a sample's shape (the others that change it are worked out in _after)
SAME_SHAPE = ("ToTensor", "Normalize", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
              "RandomAffine", "RandomPerspective", "ColorJitter", "RandomGrayscale", "GaussianBlur",
              "RandomErasing", "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness",
              "RandomAutocontrast", "RandomEqualize", "RandAugment", "TrivialAugmentWide", "AugMix",
              "ElasticTransform", "Invert")


@dataclass(frozen=True)
class Facts:
    """What is known of the data: None where it is not known without reading it."""

    dataset: str
    shape: tuple[int, ...] | None  # one sample after the transforms, as the model receives it
    classes: int | None
    raw_shape: tuple[int, ...] | None = None  # before the transforms


def dataset_of(data: dict) -> tuple[str, dict]:
    """(dataset name, its settings): data-level keys, overridden by the dataset mapping's own."""
    ds = data.get("dataset", "digits")
    name, args = (ds, {}) if isinstance(ds, str) else next(iter(ds.items()))
    settings = {k: data[k] for k in ("root", "download", "val_split") if k in data}
    return name, settings | (args or {})


def facts(data: dict, model_input: tuple[int, ...]) -> Facts:
    name, args = dataset_of(data)
    raw, classes = KNOWN.get(name, (None, None))
    if name == "FakeData":
        raw, classes = tuple(model_input), int(args.get("num_classes", 10))
    elif name == "ImageFolder":
        classes = _folder_classes(str(args.get("root", os.path.join("data", "imagefolder"))))
    elif name == "npz":
        raw, classes = _npz_facts(str(args.get("root", os.path.join("data", "data.npz"))))
    shape = raw
    for entry in data.get("transform", ["ToTensor"]):
        shape = _after(entry, shape)
    return Facts(name, shape, classes, raw)


def _after(entry, shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """A sample's shape after one transform entry; None when it cannot be known here."""
    name, value = (entry, None) if isinstance(entry, str) else next(iter(entry.items()))
    if shape is None or name in SAME_SHAPE:
        return shape
    args = value if isinstance(value, dict) else {}
    main = value if not isinstance(value, dict) else None
    if len(shape) != 3:
        return None
    c, h, w = shape
    if name in ("Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop"):
        size = args.get("size", main)
        if isinstance(size, int):
            if name == "Resize" and h != w:
                return None  # the shorter side becomes `size`; the other follows the aspect ratio
            return (c, size, size)
        if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size):
            return (c, size[0], size[1])
        if isinstance(size, list) and len(size) == 1 and isinstance(size[0], int):
            return (c, size[0], size[0])
        return None
    if name == "Grayscale":
        n = args.get("num_output_channels", main if main is not None else 1)
        return (n, h, w) if isinstance(n, int) else None
    if name == "Pad":
        pad = args.get("padding", main)
        pad = [pad] if isinstance(pad, int) else pad
        if isinstance(pad, list) and all(isinstance(v, int) for v in pad) and len(pad) in (1, 2, 4):
            left, top, right, bottom = (pad * 4)[:4] if len(pad) == 1 else \
                (pad[0], pad[1], pad[0], pad[1]) if len(pad) == 2 else pad
            return (c, h + top + bottom, w + left + right)
    return None


def _folder_classes(root: str) -> int | None:
    """ImageFolder's class count as torchvision counts it: the folders in root/train."""
    try:
        with os.scandir(os.path.join(root, "train")) as entries:
            n = sum(1 for e in entries if e.is_dir())
    except OSError:
        return None  # not there (yet): train says so, with the folder it looked in
    return n or None


def _npz_facts(path: str) -> tuple[tuple[int, ...] | None, int | None]:
    """An npz's sample shape from x_train's header and its class count from `classes` (the labels' largest
    value would only be a lower bound), without reading the samples; (None, None) when unreadable."""
    try:
        import numpy as np

        with zipfile.ZipFile(path) as z:
            with z.open("x_train.npy") as f:
                fmt = np.lib.format
                read = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
                shape = read(f)[0]
            with np.load(path, allow_pickle=False) as arrays:
                return tuple(shape[1:]), len(arrays["classes"]) if "classes" in arrays.files else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None, None
