"""netspec: a declarative network-spec compiler and runner for PyTorch.

    import netspec
    report = netspec.check("specs/cifar.yaml")   # shapes, parameters, errors; no torch
    model = netspec.build("specs/cifar.yaml")    # a torch.nn.Module
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .compiler import Report, check
from .errors import NetspecError, Problem

if TYPE_CHECKING:
    from torch import nn

__version__ = "0.1.0"
__all__ = ["NetspecError", "Problem", "Report", "build", "check", "__version__"]


def build(spec) -> "nn.Module":
    """The torch.nn.Module of a spec (path, dict or Report); raises NetspecError when it is wrong."""
    from .builder import build_network

    report = spec if isinstance(spec, Report) else check(spec)
    if not report.valid:
        raise NetspecError(report.errors)
    return build_network(report.layers, report.input)
