"""Atomic file writes: a kill at any moment leaves the old file or the new one, never a torn one."""
from __future__ import annotations

import os
import tempfile


def atomic_write(path: str, write) -> None:
    """write(file) into a temporary file beside `path`, flushed and fsynced, then os.replace it in.

    A kill at any moment leaves either the old file or the new one, never a torn one. A symbolic link is
    written through (its target is replaced); the file gets the permissions a new file gets (the umask's),
    or keeps those of the file it replaces.
    """
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), _mode(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the file itself is safe


def _mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def remove_leftovers(folder: str, names: tuple[str, ...]) -> None:
    """Delete the temporary files that a write of one of `names` left when the process was killed."""
    prefixes = tuple(f".{name}." for name in names)
    for entry in os.listdir(folder):
        if entry.startswith(prefixes) and entry.endswith(".tmp"):
            try:
                os.unlink(os.path.join(folder, entry))
            except OSError:
                pass  # not ours to insist on: it only takes space
