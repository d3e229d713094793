"""CIFAR-10 and CIFAR-100 folders as torchvision's archive unpacks them, read by netspec itself: the pickled
batches through safepickle (never anything that runs code), checked for holding CIFAR's data, and without
importing torchvision (a second or two)."""
from __future__ import annotations

import os

import numpy as np
from torch.utils.data import Dataset

from . import safepickle
from .errors import NetspecError, Problem
from .i18n import _


# torchvision's CIFAR layouts: the folder in the archive, the batches of each split, the file and key of the
# class names, and where the archive is published.
CIFAR = {
    "CIFAR10": dict(folder="cifar-10-batches-py", train=[f"data_batch_{i}" for i in range(1, 6)],
                    test=["test_batch"], meta=("batches.meta", "label_names"),
                    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "CIFAR100": dict(folder="cifar-100-python", train=["train"], test=["test"], meta=("meta", "fine_label_names"),
                     url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
}


class FilesMissing(FileNotFoundError):
    """A dataset's files are not where the spec says."""


class CifarImages(Dataset):
    """A CIFAR-10 or CIFAR-100 split read by netspec: its pickled batches through safepickle (torchvision's
    own pickle.load runs whatever a crafted file names), the files checked for being there and holding
    CIFAR's data, not for their checksums, so CIFAR-format files made elsewhere load too. Samples are PIL
    images, as torchvision's CIFAR classes give them; `data` (N, 32, 32, 3) uint8 and `targets` as theirs."""

    def __init__(self, root: str, name: str, train: bool, transform=None):
        layout = CIFAR[name]
        self.transform = transform
        folder = os.path.join(root, layout["folder"])
        if not self.present(root, name):
            raise FilesMissing(folder)
        data, self.targets = [], []
        for file in layout["train" if train else "test"]:
            entry = _cifar_pickle(os.path.join(folder, file), layout["url"])
            images, labels = entry.get("data"), entry.get("labels", entry.get("fine_labels"))
            if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2
                    and images.shape[1] == 3072 and isinstance(labels, list) and len(labels) == len(images)
                    and all(isinstance(v, (int, np.integer)) for v in labels)):
                raise _not_cifar(os.path.join(folder, file), _("its data or labels are not CIFAR's"))
            data.append(images)
            self.targets += [int(v) for v in labels]
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        meta, key = layout["meta"]
        path = os.path.join(folder, meta)
        classes = _cifar_pickle(path, layout["url"]).get(key)
        if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise _not_cifar(path, _("it has no list of class names under `{key}`", key=key))
        self.classes = classes
        self.class_to_idx = {c: i for i, c in enumerate(classes)}

    @staticmethod
    def present(root: str, name: str) -> bool:
        layout = CIFAR[name]
        folder = os.path.join(root, layout["folder"])
        return all(os.path.isfile(os.path.join(folder, f)) for f in layout["train"] + layout["test"] + [layout["meta"][0]])

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        from PIL import Image

        img = Image.fromarray(self.data[i])
        return (self.transform(img) if self.transform is not None else img), self.targets[i]


def _not_cifar(path: str, why: str) -> NetspecError:
    return NetspecError(Problem(_("{path} is not a CIFAR file: {why}", path=path, why=why), ("data", "root"),
                                (_("data.root is the folder that holds the unpacked archive's folder"),)))


def _cifar_pickle(path: str, url: str) -> dict:
    """One of CIFAR's pickled files, as plain data; never anything that runs code."""
    try:
        entry = safepickle.read(path)
    except safepickle.UnsafePickle as e:
        raise NetspecError(Problem(
            _("{path} holds more than data: it names {name}, which would run code when the file is opened, so "
              "netspec does not open it", path=path, name=e.name), ("data", "root"),
            (_("CIFAR's own files hold only numbers and names: get them again from {url}", url=url),))) from None
    except OSError:
        raise
    except Exception:  # any other failure of unpickling: the bytes are not a whole pickle
        raise _not_cifar(path, _("it is damaged or cut short")) from None
    if not isinstance(entry, dict):
        raise _not_cifar(path, _("it does not hold a dictionary"))
    return entry
