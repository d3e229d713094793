"""The disk cache of a folder of pictures: each picture decoded once, put through the deterministic transforms
that lead its split's list (Resize, CenterCrop, ...: the size the model needs), and kept as rows of one uint8
.npy file of shape (N, C, H, W) that later epochs, and later runs, read instead of the pictures.

A cache's name holds a key over its pictures (path, size, modification time, label), those transforms, the
colour mode and the decoders' versions: a changed, added or removed picture makes another name. It is written
under a temporary name and renamed when every row is in, so a killed first pass never leaves a file that reads
as whole. It lives in ROOT/.netspec-cache/ beside train/ and test/, or, where ROOT cannot be written, in the
user's cache folder (~/.cache/netspec/ or $XDG_CACHE_HOME/netspec/).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import warnings

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from .i18n import _

FORMAT = 1  # raised when what a cache holds changes meaning
CACHEABLE = ("Resize", "CenterCrop", "Pad", "Grayscale", "Invert")  # deterministic, on pictures
_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)\.[^.]+\.tmp$")  # .NAME.PID.RANDOM.tmp
_JPEG, _PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
CHUNK = 64 << 20  # bytes read at a time when a cache is loaded whole


def _named(entry) -> tuple[str, object]:
    return (entry, None) if isinstance(entry, str) else next(iter(entry.items()))


def leading(entries: list) -> list:
    """The transform entries a cache applies: those at the start of the list that are deterministic and work
    on pictures (the rest run on each batch)."""
    n = 0
    while n < len(entries) and _named(entries[n])[0] in CACHEABLE:
        n += 1
    return list(entries[:n])


def _one_size(prefix: list) -> bool:
    """Whether the entries make every picture one size whatever its own (a CenterCrop, or a Resize to [h, w])."""
    for name, value in map(_named, prefix):
        size = value.get("size") if isinstance(value, dict) else value
        if name == "CenterCrop" or name == "Resize" and isinstance(size, (list, tuple)) and len(size) == 2:
            return True
    return False


def read_picture(path: str, mode: str) -> torch.Tensor:
    """A picture as (C, H, W) uint8 with the pixels PIL's Image.open(path).convert(mode) gives: torchvision's
    decoders (about twice as fast) for JPEG and 8-bit PNG in grey or colour, PIL for everything else."""
    with open(path, "rb") as f:
        data = f.read()
    if mode in ("RGB", "L") and (data.startswith(_JPEG) or data.startswith(_PNG) and len(data) > 24 and data[24] <= 8):
        x = _decode(data)
        if x is not None and mode == "L":  # PIL's luma (ITU-R 601-2) in its own fixed-point arithmetic
            x = x.int()
            x = ((x[0] * 19595 + x[1] * 38470 + x[2] * 7471 + 0x8000) >> 16).to(torch.uint8)[None]
        if x is not None:
            return x
    from PIL import Image
    from torchvision.transforms.functional import pil_to_tensor

    with Image.open(io.BytesIO(data)) as img:
        return pil_to_tensor(img.convert(mode))


def _decode(data: bytes) -> torch.Tensor | None:
    """torchvision's decoding of a JPEG or PNG into RGB; None where it cannot (a torchvision without its image
    extension, or with its decoders gone: they are deprecated for TorchCodec since 0.29)."""
    try:
        from torchvision.io import ImageReadMode, decode_image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (ImportError, RuntimeError):
        return None


class FolderCache(Dataset):
    """One split's cache: its pictures and labels, the transforms it applies, its file's name and folders.
    As a Dataset, picture i as the cache holds it: what worker processes decode in the first pass."""

    def __init__(self, paths: list[str], labels: list[int], mode: str, prefix: list, role: str, base: str):
        self.paths, self.labels, self.mode, self.prefix = paths, torch.tensor(labels, dtype=torch.long), mode, prefix
        stats = [os.stat(p) for p in paths]
        described = json.dumps([FORMAT, mode, prefix, _versions()], sort_keys=True)
        files = json.dumps([[os.path.relpath(p, base), s.st_size, s.st_mtime_ns, y]
                            for p, s, y in zip(paths, stats, labels)])
        self.group = f"{role}-{_digest(described)[:8]}"  # the caches that replace one another
        self.name = f"{self.group}-{_digest(described + files)[:16]}.npy"
        self.folders = (os.path.join(base, ".netspec-cache"), _user_folder(base))
        self.shape: tuple[int, ...] | None = None  # (C, H, W)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def nbytes(self) -> int:
        return len(self) * int(np.prod(self.shape))

    def find(self) -> tuple[str, int] | None:
        """(path, offset of the first row) of the whole cache file, if one is there."""
        for folder in self.folders:
            found = _whole(os.path.join(folder, self.name), len(self))
            if found:
                self.shape = found[1][1:]
                return found[0], found[2]
        return None

    def __getitem__(self, i: int) -> torch.Tensor:
        """Picture i as the cache holds it: decoded, then the leading transforms."""
        x = read_picture(self.paths[i], self.mode)
        if not self.prefix:
            return x
        from PIL import Image
        from torchvision.transforms.functional import pil_to_tensor

        from .data import transforms

        if getattr(self, "_compose", None) is None:
            self._compose = transforms(self.prefix, ("data", "transform"), True)
        array = x.permute(1, 2, 0).contiguous().numpy()
        return pil_to_tensor(self._compose(Image.fromarray(array[:, :, 0] if x.shape[0] == 1 else array)))

    def load(self, device: torch.device = torch.device("cpu")) -> torch.Tensor:
        """The whole cache as one tensor on `device`, filled 64 MiB at a time: loading onto a GPU never holds
        the whole of it in this process's memory."""
        rows = self.rows()
        out = torch.empty((len(self), *self.shape), dtype=torch.uint8, device=device)
        step = max(1, CHUNK // rows.row)
        for start in range(0, len(self), step):
            out[start: start + step] = rows[start: start + step]
        return out

    def rows(self) -> "DiskRows":
        """The cache's rows, read from the file when asked for."""
        path, offset = self.find()
        return DiskRows(path, offset, (len(self), *self.shape))

    def writer(self) -> "Writer":
        return Writer(self)


def folder_cache(dataset: Dataset, entries: list, role: str) -> tuple[FolderCache | None, object]:
    """(the disk cache of a split that is a folder of pictures (an ImageFolder of netspec's, or a part of one)
    for the split's transform entries, None); or (None, a message that says why it has none)."""
    indices = None
    if isinstance(dataset, Subset):
        indices, dataset = list(dataset.indices), dataset.dataset
    mode, samples = getattr(getattr(dataset, "loader", None), "mode", None), getattr(dataset, "samples", None) or []
    samples = samples if indices is None else [samples[i] for i in indices]
    if mode is None or not samples or not isinstance(getattr(dataset, "root", None), str):
        return None, _("only ImageFolder data is cached on disk; other data is read into memory, or from its "
                       "files, as it is")
    prefix = leading(entries)
    cache = FolderCache([p for p, _y in samples], [int(y) for _p, y in samples], mode, prefix, role,
                        os.path.dirname(os.path.abspath(dataset.root)))
    if cache.find():
        return cache, None
    if not _one_size(prefix) and not _same_sizes(cache.paths):
        return None, _("the pictures in {folder} differ in size and the transforms do not start with a Resize to "
                       "[height, width] or a CenterCrop: every picture is decoded in every epoch",
                       folder=dataset.root)
    if _writable(cache.folders) is None:
        return None, _("no cache folder can be written ({folders}): every picture is decoded in every epoch",
                       folders=", ".join(cache.folders))
    cache.shape = tuple(cache[0].shape)
    return cache, None


def _same_sizes(paths: list[str]) -> bool:
    """Whether all the pictures have the same width and height (read from their headers)."""
    from PIL import Image

    sizes = set()
    for path in paths:
        with Image.open(path) as img:
            sizes.add(img.size)
        if len(sizes) > 1:
            return False
    return True


def _versions() -> list[str]:
    import PIL
    import torchvision

    return [PIL.__version__, torchvision.__version__.split("+")[0]]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _user_folder(base: str) -> str:
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(home, "netspec", _digest(os.path.realpath(base))[:16])


def _writable(folders) -> str | None:
    """The first of the folders that exists or can be made, and can be written."""
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


def _whole(path: str, n: int) -> tuple[str, tuple[int, ...], int] | None:
    """(path, shape, data offset) when the file is a whole cache of n uint8 rows; None for anything else."""
    try:
        with open(path, "rb") as f:
            if np.lib.format.read_magic(f) != (1, 0):  # what Writer writes
                return None
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            offset, size = f.tell(), os.fstat(f.fileno()).st_size
    except (OSError, ValueError):
        return None
    if dtype != np.uint8 or fortran or len(shape) != 4 or shape[0] != n or size != offset + int(np.prod(shape)):
        return None
    return path, tuple(shape), offset


class DiskRows:
    """A cache file's rows as a uint8 tensor would give them (x[i:j], x[index tensor]), read with pread: the
    pages stay in the system's file cache, which it can reclaim, not in this process's memory."""

    device = torch.device("cpu")

    def __init__(self, path: str, offset: int, shape: tuple[int, ...], rows: list[int] | None = None):
        self.path, self.offset, self.rows = path, offset, rows
        self.shape = (len(rows) if rows is not None else shape[0], *shape[1:])
        self.row = int(np.prod(shape[1:]))
        self.fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __del__(self):
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)

    def select(self, rows) -> "DiskRows":
        """These rows only (still on disk), as rows 0, 1, ..."""
        rows = [self.rows[r] for r in rows] if self.rows is not None else list(rows)
        return DiskRows(self.path, self.offset, self.shape, rows)

    def __getitem__(self, index) -> torch.Tensor:
        rows = range(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index).tolist()
        rows = [self.rows[r] for r in rows] if self.rows is not None else rows
        out = np.empty((len(rows), *self.shape[1:]), np.uint8)
        if isinstance(rows, range) and rows.step == 1:
            self._read(out, rows.start)
        else:
            for j in np.argsort(rows, kind="stable"):  # in file order
                self._read(out[j], rows[j])
        return torch.from_numpy(out)

    def will_need(self, index) -> None:
        """Tell the system these rows are read next, so that it reads them from the disk meanwhile."""
        if hasattr(os, "posix_fadvise"):
            for row in torch.as_tensor(index).tolist() if not isinstance(index, range) else index:
                row = self.rows[row] if self.rows is not None else row
                os.posix_fadvise(self.fd, self.offset + row * self.row, self.row, os.POSIX_FADV_WILLNEED)

    def _read(self, out: np.ndarray, row: int) -> None:
        view, at = memoryview(out).cast("B"), self.offset + row * self.row
        while len(view):  # one read gives at most about 2 GiB
            got = os.preadv(self.fd, [view], at)
            if got <= 0:
                raise OSError(f"{self.path} is shorter than its header says")
            view, at = view[got:], at + got


class Writer:
    """A cache file being written: a temporary file in its folder, renamed into place by commit() once every
    row is in; removed if the pass stops before. A kill leaves the temporary file, which the next writer in
    that folder removes (its process is gone)."""

    def __init__(self, cache: FolderCache):
        self.cache, self.file, self.tmp, self.failed = cache, None, None, False
        self.missing = np.ones(len(cache), bool)
        self.row = int(np.prod(cache.shape))
        self.folder = _writable(cache.folders)
        try:
            if self.folder is None:
                raise OSError("no cache folder can be written")
            _remove_dead(self.folder)
            fd, self.tmp = tempfile.mkstemp(prefix=f".{cache.name}.{os.getpid()}.", suffix=".tmp", dir=self.folder)
            self.file = os.fdopen(fd, "r+b")
            np.lib.format.write_array_header_1_0(self.file, {"descr": "|u1", "fortran_order": False,
                                                             "shape": (len(cache), *cache.shape)})
            self.file.flush()
            self.offset = self.file.tell()
            self.file.truncate(self.offset + len(cache) * self.row)
        except OSError:  # the cache is a saving, never a reason to stop: the pass goes on without it
            self.failed = True

    def __call__(self, rows: list[int], x: torch.Tensor) -> None:
        """Put the pictures x (uint8, one per row) at their rows."""
        if self.failed:
            return
        array = np.ascontiguousarray(x.cpu().numpy())
        try:
            if rows and rows == list(range(rows[0], rows[0] + len(rows))):
                os.pwrite(self.file.fileno(), array, self.offset + rows[0] * self.row)
            else:
                for row, picture in zip(rows, array):
                    os.pwrite(self.file.fileno(), picture, self.offset + row * self.row)
        except OSError:  # a full disk
            self.failed = True
        self.missing[rows] = False

    def commit(self) -> str:
        """The cache file, whole, in its place (the older caches it replaces removed)."""
        assert not self.missing.any(), "a cache is committed with every row written"
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(self.file.fileno(), 0o666 & ~umask)
        os.fsync(self.file.fileno())
        self.file.close()
        path = os.path.join(self.folder, self.cache.name)
        os.replace(self.tmp, path)
        for entry in os.listdir(self.folder):
            if entry.startswith(self.cache.group + "-") and entry.endswith(".npy") and entry != self.cache.name:
                _unlink(os.path.join(self.folder, entry))
        return path

    def abandon(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tmp is not None:
            _unlink(self.tmp)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None and not self.failed and not self.missing.any():
            try:
                self.commit()
                return
            except OSError:
                pass
        self.abandon()


def _remove_dead(folder: str) -> None:
    """Delete the temporary files that writers which were killed left in the folder."""
    for entry in os.listdir(folder):
        match = _TEMPORARY.match(entry)
        if match and not _alive(int(match["pid"])):
            _unlink(os.path.join(folder, entry))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only whether the process is there
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # someone else's to remove, or already gone


def build(cache: FolderCache, workers: int) -> str | None:
    """Write the whole cache in one pass over its pictures (in `workers` processes); its path, or None when it
    could not be written."""
    from torch.utils.data import DataLoader

    batch = 64
    pictures = DataLoader(cache, batch, num_workers=workers, generator=torch.Generator())
    with cache.writer() as write:
        for k, x in enumerate(pictures):
            write(list(range(k * batch, k * batch + len(x))), x)
    found = cache.find()
    return found[0] if found else None
