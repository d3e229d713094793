"""Reading the pickles a published dataset format forces on us (CIFAR's batches) without running code.

A pickle names Python callables to rebuild its objects, and `pickle.load` calls whatever is named:
a crafted `batches.meta` runs its payload. This unpickler rebuilds only what the published files
hold (dicts, lists, strings, bytes, numbers, numpy arrays and scalars of plain numbers) and refuses
any other name, as torch.load(weights_only=True) does for checkpoints.
"""
from __future__ import annotations

import codecs
import pickle

import numpy as np

from .i18n import _


class UnsafePickle(Exception):
    """The file names a callable that is not on the list: it could run code, so it is not opened.
    `name` is that callable's dotted name, or words (a Msg) for what the file tried to make."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _latin1(text: str, encoding: str = "utf-8") -> bytes:
    """Python 3 pickles bytes for Python 2 readers as _codecs.encode(text, "latin1"); only that."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePickle(f"_codecs.encode(..., {encoding!r})")
    return text.encode("latin-1")


_NDARRAY = object()  # stands for numpy.ndarray, which is only ever an argument of _reconstruct here


def _reconstruct(subtype, shape, dtype):
    """numpy's array rebuilder, for plain arrays only (not subclasses that run their own code)."""
    if subtype is not _NDARRAY:
        raise UnsafePickle(_("an array of type {type}", type=repr(getattr(subtype, "__name__", subtype))))
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _scalar(dtype: np.dtype, data: bytes = b""):
    if dtype.hasobject:
        raise UnsafePickle(_("a numpy scalar of Python objects"))
    return np.frombuffer(data, dtype=dtype, count=1)[0]


_ALLOWED = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # numpy 1's name, still in old files
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("_codecs", "encode"): _latin1,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise UnsafePickle(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise UnsafePickle(_("a persistent object"))


def read(path: str):
    """The pickled object in `path` (Python 2 strings read as latin-1, as CIFAR's loader does).
    Raises UnsafePickle for anything beyond plain data, pickle.UnpicklingError or EOFError for a
    damaged file."""
    with open(path, "rb") as f:
        obj = _Unpickler(f, encoding="latin1").load()
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise UnsafePickle(_("an array of Python objects"))
    return obj
