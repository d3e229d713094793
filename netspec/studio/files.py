"""The studio's files: only spec files inside the folder it was started in, read and written whole.

A name from the page is a relative path: no absolute path, no `..`, nothing that resolves (through a
symbolic link) outside the folder. Saving is atomic and refuses to overwrite a file that changed on
disk since the page read it, unless the page says to.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass

from ..atomic import atomic_write
from ..i18n import _

SUFFIXES = (".yaml", ".yml")
SKIP = {"node_modules", "runs", "__pycache__", "venv", ".venv"}
MAX_LISTED = 500
MAX_DEPTH = 4


class Refused(Exception):
    """A name or request the studio will not serve; `message` says why (a Msg), `status` the HTTP code."""

    def __init__(self, message, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass
class Saved:
    """What a save did: written (and the new hash), or a conflict with what is on disk now."""

    written: bool
    hash: str | None
    disk_text: str | None = None
    copy: str | None = None  # where the page's text was kept instead


class Folder:
    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self._lock = threading.Lock()

    def path(self, name: object) -> str:
        """The real path of `name` inside the folder, or Refused."""
        if not isinstance(name, str) or not name or "\0" in name:
            raise Refused(_("the file name is missing or not text"))
        if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            raise Refused(_("{name}: only files inside {folder} can be opened", name=name, folder=self.root), 403)
        if not name.lower().endswith(SUFFIXES):
            raise Refused(_("{name}: only .yaml spec files can be opened", name=name), 403)
        real = os.path.realpath(os.path.join(self.root, name))
        if os.path.commonpath([real, self.root]) != self.root:
            raise Refused(_("{name}: only files inside {folder} can be opened", name=name, folder=self.root), 403)
        return real

    def specs(self) -> list[str]:
        """The .yaml files under the folder (a few levels deep, hidden folders and run folders left out)."""
        found: list[str] = []
        for top, dirs, files in os.walk(self.root):
            depth = os.path.relpath(top, self.root).count(os.sep) + (top != self.root)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP and depth < MAX_DEPTH)
            for f in sorted(files):
                if f.lower().endswith(SUFFIXES) and not f.startswith("."):
                    rel = os.path.relpath(os.path.join(top, f), self.root).replace(os.sep, "/")
                    try:
                        self.path(rel)
                    except Refused:
                        continue  # a link out of the folder
                    found.append(rel)
                    if len(found) >= MAX_LISTED:
                        return found
        return found

    def read(self, name: str) -> tuple[str, str]:
        """The file's text and its hash."""
        data = self._bytes(self.path(name))
        if data is None:
            raise Refused(_("no such file: {path}", path=name), 404)
        return data.decode("utf-8", "replace"), digest(data)

    def save(self, name: str, text: str, base: str | None, force: bool = False) -> Saved:
        """Write `text` if the file is still what the page read (hash `base`), or `force`; else a conflict."""
        path = self.path(name)
        data = text.encode("utf-8")
        with self._lock:
            disk = self._bytes(path)
            if not force and digest(disk) != base:
                return Saved(False, digest(disk), None if disk is None else disk.decode("utf-8", "replace"))
            self._write(path, data)
        return Saved(True, digest(data))

    def keep_copy(self, name: str, text: str) -> str:
        """Write the page's text beside `name` under a new name (NAME.mine.yaml, NAME.mine-2.yaml, ...)."""
        path = self.path(name)
        stem, suffix = os.path.splitext(name)
        with self._lock:
            for n in range(1, 1000):
                copy = f"{stem}.mine{'' if n == 1 else f'-{n}'}{suffix}"
                if not os.path.lexists(self.path(copy)):
                    self._write(self.path(copy), text.encode("utf-8"))
                    return copy
        raise Refused(_("cannot write {path}: {reason}", path=os.path.dirname(path), reason=_("too many copies")), 500)

    @staticmethod
    def _bytes(path: str) -> bytes | None:
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise Refused(_("{path} is a folder, not a spec file", path=os.path.basename(path))) from None
        except OSError as e:
            raise Refused(_("cannot read {path}: {reason}", path=os.path.basename(path), reason=e.strerror), 500) \
                from None

    @staticmethod
    def _write(path: str, data: bytes) -> None:
        try:
            atomic_write(path, lambda f: f.write(data))
        except OSError as e:
            raise Refused(_("cannot write {path}: {reason}", path=os.path.basename(path), reason=e.strerror), 500) \
                from None
