"""Data: the datasets a spec names, their transforms, and the checks against the model's input."""
from __future__ import annotations

import gzip
import inspect
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from .cifar import CIFAR, CifarImages
from .catalog import DATASETS, TORCHVISION_DATASETS
from .errors import NetspecError, Path, Problem, did_you_mean
from .i18n import _

SOURCES = {
    "CIFAR10": ("cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "CIFAR100": ("cifar-100-python", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
    "MNIST": ("MNIST/raw", _("the four *-ubyte files from {url}", url="http://yann.lecun.com/exdb/mnist/")),
    "FashionMNIST": ("FashionMNIST/raw", _("the four *-ubyte files from the {name} repository", name="Fashion-MNIST")),
    "KMNIST": ("KMNIST/raw", _("the four *-ubyte files from the {name} repository", name="KMNIST")),
}
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


@dataclass
class Data:
    """A dataset's two splits, its class names, and whether its samples start as PIL images."""

    train: Dataset
    test: Dataset
    classes: list[str]
    images: bool  # PIL images (transforms start from a picture) rather than tensors


class TensorData(Dataset):
    """Samples already in memory as one tensor, labels as another."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform=None):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i]
        return (self.transform(x) if self.transform else x), self.y[i]


def dataset_spec(data: dict) -> tuple[str, dict]:
    """(dataset name, its settings): data-level keys, overridden by the dataset mapping's own."""
    ds = data.get("dataset", "digits")
    name, args = (ds, {}) if isinstance(ds, str) else next(iter(ds.items()))
    settings = {k: data[k] for k in ("root", "download", "val_split") if k in data}
    return name, settings | (args or {})


def load_data(data: dict, input_shape: tuple[int, ...], input_dtype: str = "float32") -> Data:
    """Both splits of the spec's dataset with its transforms (augment on training only); an npz's
    arrays become `input_dtype` (the model input's), uint8 images scaled to [0, 1]."""
    name, args = dataset_spec(data)
    images = name not in ("npz", "digits")
    test_tf = transforms(data.get("transform", ["ToTensor"]), ("data", "transform"), images)
    train_tf = transforms(data.get("augment", []) + data.get("transform", ["ToTensor"]), ("data", "augment"), images)
    if name in TORCHVISION_DATASETS:
        train, test, classes = _torchvision(name, args, train_tf, test_tf)
    elif name == "ImageFolder":
        train, test, classes = _image_folder(args, train_tf, test_tf, input_shape)
    elif name == "npz":
        train, test, classes = _npz(args, train_tf, test_tf, input_dtype)
    elif name == "digits":
        train, test, classes = _digits(args, train_tf, test_tf)
    elif name == "FakeData":
        train, test, classes = _fake(args, train_tf, test_tf, input_shape)
    else:  # the schema refuses other names; a dict spec that skipped it lands here
        raise NetspecError(Problem(_("unknown dataset `{name}`", name=name), ("data", "dataset"),
                                   did_you_mean(name, DATASETS)))
    return Data(train, test, classes, images)


# Transforms. ------------------------------------------------------------------------

def transforms(entries: list, where: Path, images: bool):
    """A torchvision Compose from transform entries; on tensor data ToTensor has nothing to do."""
    named = [(i, entry, *((entry, None) if isinstance(entry, str) else next(iter(entry.items()))))
             for i, entry in enumerate(entries)]
    named = [n for n in named if images or n[2] != "ToTensor"]
    if not named:
        return None  # no torchvision import: it takes a second or two
    if all(entry == "ToTensor" for _i, entry, _n, _v in named):
        return ToTensor()  # the default: torchvision is imported only if a sample is ever transformed one by one
    import torchvision.transforms as T

    return T.Compose([_transform(T, name, value, where + (i, name) if isinstance(entry, dict) else where + (i,))
                      for i, entry, name, value in named])


class ToTensor:
    """torchvision's ToTensor, without importing torchvision (a second or two: it imports torch._dynamo) for
    the 8-bit images of the usual modes, computed as torchvision does; anything else goes to torchvision's."""

    def __call__(self, img):
        if getattr(img, "mode", None) in ("L", "RGB", "RGBA"):
            array = np.array(img, np.uint8, copy=True)
            x = torch.from_numpy(array).view(img.size[1], img.size[0], len(img.getbands()))
            return x.permute((2, 0, 1)).contiguous().to(dtype=torch.get_default_dtype()).div(255)
        import torchvision.transforms as T

        return T.ToTensor()(img)

    def __repr__(self) -> str:
        return "ToTensor()"


class Invert:
    """Light becomes dark and dark becomes light: a photo of dark ink on white paper, for a model trained on
    light strokes on black (netspec's own transform; torchvision has only RandomInvert)."""

    def __call__(self, img):
        import torchvision.transforms.functional as F

        return F.invert(img)


def _transform(T, name: str, value, where: Path):
    cls = Invert if name == "Invert" else getattr(T, name)
    params = [p for p in inspect.signature(cls).parameters if p not in ("self",)]
    kwargs = dict(value) if isinstance(value, dict) else ({} if value is None else {params[0]: value})
    if "interpolation" in kwargs and isinstance(kwargs["interpolation"], str):
        kwargs["interpolation"] = T.InterpolationMode(kwargs["interpolation"].lower())
    known = _("its arguments: {names}", names=", ".join(params))
    for key in kwargs:
        if key not in params:
            raise NetspecError(Problem(_("{name} has no argument `{arg}`", name=name, arg=key),
                                       where + (key,) if isinstance(value, dict) else where,
                                       did_you_mean(key, params) + (known,)))
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})
    except (TypeError, ValueError) as e:  # torchvision's own words on what it refuses
        raise NetspecError(Problem(_("{name} does not accept these arguments: {error}", name=name, error=str(e)),
                                   where, (known,))) from None


# The datasets. ----------------------------------------------------------------------

def _root(args: dict, name: str) -> str:
    return str(args.get("root", os.path.join("data", name.lower())))


def _torchvision(name: str, args: dict, train_tf, test_tf):
    root, download = _root(args, name), bool(args.get("download", False))
    folder, source = SOURCES[name]
    try:
        if name in CIFAR:  # read by netspec itself: no torchvision import unless it must download
            if download and not CifarImages.present(root, name):
                import torchvision.datasets as D

                getattr(D, name)(root, train=True, download=True)  # downloads and checks the archive
            train, test = CifarImages(root, name, True, train_tf), CifarImages(root, name, False, test_tf)
        else:
            import torchvision.datasets as D

            local = getattr(D, name)
            train = local(root, train=True, transform=train_tf, download=download)
            test = local(root, train=False, transform=test_tf, download=False)
    except (RuntimeError, OSError) as e:
        if not _missing(e):
            if isinstance(e, OSError):  # there but unreadable: a permission, a broken disk
                raise NetspecError(Problem(_("the {name} files in {folder} cannot be read: {error}", name=name,
                                             folder=os.path.join(root, folder), error=str(e)), ("data", "root"))) from None
            raise  # not about the files: shown as what it is, an internal error
        where = os.path.join(root, folder)
        missing = _("the {name} files are not in {folder} and it could not be downloaded (no network?)",
                    name=name, folder=where) if download else \
            _("the {name} files are not in {folder} and data.download is false", name=name, folder=where)
        raise NetspecError(Problem(missing, ("data", "root"), (
            _("put {source} there (unpacked), or set data.root to where they are", source=source),))) from None
    return train, test, list(train.classes)


def _missing(e: Exception) -> bool:
    """Whether a dataset's failure to open says its files are not there (or could not be downloaded):
    torchvision's "Dataset not found", a missing file, or a network error while downloading."""
    from urllib.error import URLError

    if isinstance(e, RuntimeError):
        words = str(e).lower()
        return any(w in words for w in ("not found", "error downloading", "corrupted"))
    return isinstance(e, (FileNotFoundError, URLError, ConnectionError, TimeoutError))


class PictureLoader:
    """ImageFolder's loader: a picture in the model's colour mode (L, RGB or RGBA). A class, not a closure:
    worker processes receive it, and the disk cache reads its mode."""

    def __init__(self, mode: str):
        self.mode = mode

    def __call__(self, path: str):
        from PIL import Image

        with open(path, "rb") as f:
            return Image.open(f).convert(self.mode)


def _image_folder(args: dict, train_tf, test_tf, input_shape):
    from torchvision.datasets import ImageFolder

    root = _root(args, "imagefolder")
    loader = PictureLoader(_MODES.get(input_shape[0], "RGB"))
    train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
    if not os.path.isdir(train_dir):
        raise NetspecError(Problem(_("ImageFolder needs {folder}/<class>/ folders of images, but {folder} is not "
                                     "there", folder=train_dir), ("data", "root"),
                                   (_("data.root is the folder that holds train/"),)))
    try:
        train = ImageFolder(train_dir, transform=train_tf, loader=loader)
        if os.path.isdir(test_dir):
            return train, ImageFolder(test_dir, transform=test_tf, loader=loader), list(train.classes)
    except (FileNotFoundError, OSError) as e:
        raise NetspecError(Problem(_("ImageFolder cannot read {folder}: {error}", folder=root, error=str(e)),
                                   ("data", "root"))) from None
    split = args.get("val_split")
    if split is None:
        raise NetspecError(Problem(_("{folder} has no test/ folder", folder=root), ("data", "root"),
                                   (_("add test/<class>/ folders, or set data.val_split (e.g. 0.2) to hold out part "
                                      "of train/"),)))
    plain = ImageFolder(train_dir, transform=test_tf, loader=loader)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
    n_test = max(1, int(round(len(order) * split)))
    return Subset(train, order[n_test:]), Subset(plain, order[:n_test]), list(train.classes)


def _samples(x: np.ndarray, dtype: str) -> torch.Tensor:
    """An npz's samples as the model takes them: token ids as integers, uint8 images in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if dtype.startswith("int"):  # floats stay floats: check_fits says they are not ids
        return t if t.is_floating_point() else t.to(getattr(torch, dtype))
    return t.float().div_(255) if t.dtype == torch.uint8 else t.to(getattr(torch, dtype))


def _npz(args: dict, train_tf, test_tf, dtype: str):
    path = _root(args, "data.npz")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise NetspecError(Problem(_("no such file: {path}", path=path), ("data", "root"),
                                   (_("data.root is the .npz file's path"),))) from None
    except (OSError, ValueError) as e:
        raise NetspecError(Problem(_("{path} cannot be read as an .npz file: {error}", path=path, error=str(e)),
                                   ("data", "root"))) from None
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise NetspecError(Problem(_("{path} has no {names}", path=path, names=", ".join(missing)), ("data", "root"),
                                   (_("an npz dataset holds x_train, y_train, x_test, y_test (and optionally "
                                      "classes)"),)))
    ys = [torch.from_numpy(arrays[k].astype(np.int64)) for k in ("y_train", "y_test")]
    n = int(max(int(y.max()) for y in ys)) + 1 if all(len(y) for y in ys) else 0
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else [str(i) for i in range(n)]
    return (TensorData(_samples(arrays["x_train"], dtype), ys[0], train_tf),
            TensorData(_samples(arrays["x_test"], dtype), ys[1], test_tf), classes)


def _digits(args: dict, train_tf, test_tf):
    """The UCI optical digits that netspec carries: 1,797 8x8 images, a fixed 80/20 split."""
    raw = resources.files("netspec.datasets").joinpath("digits.csv.gz").read_bytes()
    table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.float32)
    x = torch.from_numpy(table[:, :64]).reshape(-1, 1, 8, 8) / 16.0
    y = torch.from_numpy(table[:, 64]).long()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_test = int(round(len(y) * float(args.get("test_split", 0.2))))
    test_idx, train_idx = order[:n_test], order[n_test:]
    return (TensorData(x[train_idx], y[train_idx], train_tf), TensorData(x[test_idx], y[test_idx], test_tf),
            [str(i) for i in range(10)])


def _fake(args: dict, train_tf, test_tf, input_shape):
    from torchvision.datasets import FakeData

    size, test_size, k = int(args.get("size", 1000)), int(args.get("test_size", 200)), int(args.get("num_classes", 10))
    train = FakeData(size, tuple(input_shape), k, transform=train_tf)
    test = FakeData(test_size, tuple(input_shape), k, transform=test_tf, random_offset=size)
    return train, test, [str(i) for i in range(k)]


def first_sample(dataset: Dataset, where: Path):
    """The first sample, with a clear error when the data cannot make one."""
    try:
        x, y = dataset[0]
    except (OSError, ValueError, TypeError, RuntimeError) as e:
        raise NetspecError(Problem(_("the data's first sample cannot be made: {error}", error=str(e)), where,
                                   (_("check data.transform: images need ToTensor before tensor transforms"),))
                           ) from None
    if not isinstance(x, torch.Tensor):
        raise NetspecError(Problem(_("data.transform turns samples into {type}, not tensors", type=type(x).__name__),
                                   ("data", "transform"), (_("add ToTensor to data.transform"),)))
    return x, y


def check_fits(report, data: Data, loss) -> None:
    """The data's samples have model.input's shape and kind of number, and its classes the output's size."""
    x, y = first_sample(data.train, ("data", "dataset"))
    want = tuple(report.input.shape)
    if tuple(x.shape) != want:
        shape = str(list(x.shape))
        raise NetspecError(Problem(
            _("the data's samples are {shape} but model.input is {input}", shape=shape, input=str(list(want))),
            ("model", "input"),
            (_("set model.input to {shape}, or add transforms (e.g. Resize, Grayscale) to data.transform",
               shape=shape),)))
    _check_kind(report.input.dtype, x)
    loss_name = loss if isinstance(loss, str) else next(iter(loss))
    out = report.output.shape
    is_label = isinstance(y, int) or (isinstance(y, torch.Tensor) and not y.is_floating_point() and y.dim() == 0)
    if is_label and loss_name != "PoissonNLLLoss" and out != (len(data.classes),):
        last = report.layers[-1]
        n, wanted, shape = len(data.classes), f"(N, {len(data.classes)})", f"(N, {', '.join(map(str, out))})"
        fix = (_("set the last layer's out_features to {classes}", classes=n) if "out_features" in last.args
               else _("make the model's output {shape}", shape=wanted))
        raise NetspecError(Problem(_("the data has {classes} classes but the model's output is {shape}", classes=n,
                                     shape=shape), last.node.path, (fix,)))
    if is_label:
        for training, dataset in ((True, data.train), (False, data.test)):
            _labels_in_range(training, dataset, len(data.classes))


def _check_kind(dtype: str, x: torch.Tensor) -> None:
    """Integer token ids for a model that takes ids, floating-point values for the others."""
    ids = dtype.startswith("int")
    if ids != x.is_floating_point():
        return
    kind = f"{x.dtype}".removeprefix("torch.")
    if ids:
        raise NetspecError(Problem(
            _("model.input takes integer token ids ({dtype}), but the data's samples are {kind}", dtype=dtype,
              kind=kind), ("model", "input"), (_("token ids come from an .npz of integers"),)))
    raise NetspecError(Problem(
        _("model.input takes floating-point values ({dtype}), but the data's samples are {kind}", dtype=dtype,
          kind=kind), ("model", "input"),
        (_("add ToTensor to data.transform, or set model.input's dtype to the data's (e.g. {example} for token "
           "ids)", example="{shape: [...], dtype: int64}"),)))


def _labels_in_range(training: bool, dataset: Dataset, n: int) -> None:
    """Every label names one of the n classes (where the labels can be read without the samples)."""
    labels = _labels(dataset)
    if labels is None or not len(labels) or n == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= n:
        label, last = high if high >= n else low, n - 1
        said = _("the training data has the label {label}, but its {classes} classes are numbered 0 to {last}",
                 label=label, classes=n, last=last) if training else \
            _("the test data has the label {label}, but its {classes} classes are numbered 0 to {last}", label=label,
              classes=n, last=last)
        raise NetspecError(Problem(said, ("data", "dataset"),
                                   (_("check the labels (y_train, y_test) and the class names"),)))


def _labels(dataset: Dataset) -> torch.Tensor | None:
    if isinstance(dataset, Subset):
        inner = _labels(dataset.dataset)
        return None if inner is None else inner[torch.as_tensor(dataset.indices, dtype=torch.long)]
    labels = dataset.y if isinstance(dataset, TensorData) else getattr(dataset, "targets", None)
    return None if labels is None else torch.as_tensor(labels)
