"""Checkpoints: one file of plain data and tensors, written atomically, read with weights_only=True."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings

import torch

from .atomic import atomic_write
from .errors import NetspecError, Problem, UsageError
from .i18n import _

FORMAT = "netspec-checkpoint/2"  # /2 carries a digest; /1 (earlier netspec) does not
_OTHER = (_("use the run's other checkpoint (last.pt or best.pt), or train again"),)
_NOT_OURS = (_("netspec reads the last.pt and best.pt files that `netspec train` writes in a run folder"),)


def save(path: str, payload: dict) -> None:
    """Write a checkpoint; refuses weights that are not finite, so a good file is never replaced by NaNs."""
    for name, tensor in payload["state_dict"].items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise NetspecError(Problem(_("the weights ({name}) are not finite numbers; the checkpoint {path} was "
                                         "not written", name=name, path=path), hints=(_("lower the learning rate"),)))
    payload = {k: v for k, v in payload.items() if k != "digest"}
    payload["digest"] = digest(payload)
    buffer = io.BytesIO()  # serialised first: a disk that fills up then fails in the write, as an OSError
    torch.save(payload, buffer)
    kept = _("the previous checkpoint is kept") if os.path.exists(path) else _("it was not written")
    try:
        atomic_write(path, lambda f: f.write(buffer.getbuffer()))
    except OSError as e:
        raise NetspecError(Problem(
            _("cannot write the checkpoint {path}: {reason}; {kept}", path=path, reason=str(e.strerror or e),
              kept=kept),
            hints=(_("free some disk space or make the run folder writable, then go on with "
                     "`netspec train --resume {folder}`", folder=os.path.dirname(path) or "."),))) from None


def _damaged(path: str) -> Problem:
    return Problem(_("{path} is damaged or cut short (an interrupted copy?) and cannot be read", path=path),
                   hints=_OTHER)


def digest(payload: dict) -> str:
    """SHA-256 of everything a checkpoint holds (tensors by their bytes): a bit flipped on disk or in a
    copy that torch.load does not notice changes it."""
    h = hashlib.sha256()
    _feed(h, payload)
    return h.hexdigest()


def _feed(h, value) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy())
    elif isinstance(value, dict):
        h.update(f"D{len(value)}:".encode())
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}:".encode())
        for v in value:
            _feed(h, v)
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


def load(path: str) -> dict:
    """Read a netspec checkpoint on the CPU; never runs code that a file may hold."""
    if not os.path.isfile(path):  # a path given on the command line that leads nowhere: exit status 2
        raise UsageError(Problem(_("no such checkpoint: {path}", path=path) if not os.path.exists(path)
                                   else _("{path} is not a file", path=path),
                                   hints=(_("a run folder holds last.pt and best.pt"),)))
    if os.path.getsize(path) == 0:
        raise NetspecError(Problem(_("{path} is empty (an interrupted copy?)", path=path), hints=_OTHER))
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"
    if not zipped:  # torch.save writes zip archives; anything else is not ours
        raise NetspecError(Problem(_("{path} is not a netspec checkpoint (nor any PyTorch checkpoint); nothing in it "
                                     "was run", path=path), hints=_NOT_OURS))
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols in damaged files
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" in str(e):
            raise NetspecError(Problem(
                _("{path} was refused: it holds Python objects or code, which a netspec checkpoint never does; "
                  "nothing in it was run", path=path),
                hints=(_("only load checkpoints that netspec wrote"),))) from None
        raise NetspecError(_damaged(path)) from None
    except Exception:  # torch's reader fails in many ways on a damaged file (IndexError, TypeError, ...)
        raise NetspecError(_damaged(path)) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") not in (FORMAT, "netspec-checkpoint/1"):
        raise NetspecError(Problem(_("{path} is not a netspec checkpoint", path=path), hints=_NOT_OURS))
    written = ckpt.pop("digest", None)
    if ckpt["format"] == FORMAT and written != digest(ckpt):
        raise NetspecError(Problem(_("{path} is damaged: what it holds no longer matches the checksum written with "
                                     "it (a bit changed on disk or in a copy)", path=path), hints=_OTHER))
    return ckpt
