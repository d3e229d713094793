"""Which device a run uses: `auto`, `cpu`, `cuda`, `cuda:N` or `mps`, checked before anything is loaded."""
from __future__ import annotations

import torch

from .errors import NetspecError, Problem

_WHERE = ("train", "device")


def resolve_device(name: str, where: tuple | str = _WHERE) -> torch.device:
    """The torch.device for a device setting, or a clear error when that device is not here.

    `where` is the setting's spec path, or a label such as "--device cuda" for a command-line option.
    """
    try:
        return _resolve(name)
    except NetspecError as e:
        if isinstance(where, str):  # a command-line option: say what to type there
            e.problems = [Problem(p.message.replace("set train.device to", "use --device"), (), p.hints)
                          .at(where, None, None) for p in e.problems]
        else:
            e.problems = [Problem(p.message, where, p.hints) for p in e.problems]
        raise


def _resolve(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise NetspecError(Problem("CUDA is not available on this machine; set train.device to cpu or auto",
                                       _WHERE, ("auto uses a GPU when there is one and the CPU otherwise",)))
        index = int(name.split(":")[1]) if ":" in name else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise NetspecError(Problem(f"there is no GPU {name}: this machine has {count} "
                                       f"(cuda:0 to cuda:{count - 1})", _WHERE, ("use cuda or auto",)))
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise NetspecError(Problem("MPS (the Apple silicon GPU) is not available on this machine; set "
                                       "train.device to cpu or auto", _WHERE))
        return torch.device("mps")
    raise NetspecError(Problem(f"unknown device `{name}`", _WHERE, ("use auto, cpu, cuda, cuda:N or mps",)))


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
