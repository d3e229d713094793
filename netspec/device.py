"""Which device a run uses: `auto`, `cpu`, `cuda`, `cuda:N` or `mps`, checked before anything is loaded."""
from __future__ import annotations

import torch

from .errors import NetspecError, Problem
from .i18n import _

_WHERE = ("train", "device")


def resolve_device(name: str, where: tuple | str = _WHERE) -> torch.device:
    """The torch.device for a device setting, or a clear error when that device is not here.

    `where` is the setting's spec path, or a label such as "--device cuda" for a command-line option.
    """
    option = isinstance(where, str)
    try:
        return _resolve(name, option)
    except NetspecError as e:
        if option:
            e.problems = [Problem(p.message, (), p.hints).at(where, None, None) for p in e.problems]
        else:
            e.problems = [Problem(p.message, where, p.hints) for p in e.problems]
        raise


def _resolve(name: str, option: bool = False) -> torch.device:
    """`option`: the setting came from --device, so a fix says what to type there."""
    other = _("use --device cpu or auto") if option else _("set train.device to cpu or auto")
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
            raise NetspecError(Problem(_("CUDA is not available on this machine; {fix}", fix=other),
                                       _WHERE, (_("auto uses a GPU when there is one and the CPU otherwise"),)))
        index = int(name.split(":")[1]) if ":" in name else 0
        count = torch.cuda.device_count()
        if index >= count:
            last = f"cuda:{count - 1}"
            raise NetspecError(Problem(_("there is no GPU {name}: this machine has {count} ({first} to {last})",
                                         name=name, count=count, first="cuda:0", last=last),
                                       _WHERE, (_("use cuda or auto"),)))
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise NetspecError(Problem(_("MPS (the Apple silicon GPU) is not available on this machine; {fix}",
                                         fix=other), _WHERE))
        return torch.device("mps")
    raise NetspecError(Problem(_("unknown device `{name}`", name=name), _WHERE,
                               (_("use auto, cpu, cuda, cuda:N or mps"),)))


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
