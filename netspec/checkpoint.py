"""Checkpoints: one file of plain data and tensors, written atomically, read with weights_only=True."""
from __future__ import annotations

import os
import pickle
import zipfile

import torch

from .atomic import atomic_write
from .errors import NetspecError, Problem

FORMAT = "netspec-checkpoint/1"
_OTHER = ("use the run's other checkpoint (last.pt or best.pt), or train again",)
_NOT_OURS = ("netspec reads the last.pt and best.pt files that `netspec train` writes in a run folder",)


def save(path: str, payload: dict) -> None:
    """Write a checkpoint; refuses weights that are not finite, so a good file is never replaced by NaNs."""
    for name, tensor in payload["state_dict"].items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise NetspecError(Problem(f"the weights ({name}) are not finite numbers; the checkpoint "
                                       f"{path} was not written", hints=("lower the learning rate",)))
    atomic_write(path, lambda f: torch.save(payload, f))


def load(path: str) -> dict:
    """Read a netspec checkpoint on the CPU; never runs code that a file may hold."""
    if not os.path.isfile(path):
        raise NetspecError(Problem(f"no such checkpoint: {path}" if not os.path.exists(path)
                                   else f"{path} is not a file", hints=("a run folder holds last.pt and best.pt",)))
    if os.path.getsize(path) == 0:
        raise NetspecError(Problem(f"{path} is empty (an interrupted copy?)", hints=_OTHER))
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"
    if not zipped:  # torch.save writes zip archives; anything else is not ours
        raise NetspecError(Problem(f"{path} is not a netspec checkpoint (nor any PyTorch checkpoint); "
                                   "nothing in it was run", hints=_NOT_OURS))
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise NetspecError(Problem(
            f"{path} was refused: it holds Python objects or code, which a netspec checkpoint never does; "
            "nothing in it was run", hints=("only load checkpoints that netspec wrote",))) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError):
        raise NetspecError(Problem(f"{path} is damaged or cut short (an interrupted copy?) and cannot be read",
                                   hints=_OTHER)) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise NetspecError(Problem(f"{path} is not a netspec checkpoint", hints=_NOT_OURS))
    return ckpt
