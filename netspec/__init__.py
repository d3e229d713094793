"""netspec: a declarative network-spec compiler and runner for PyTorch.

    import netspec
    report = netspec.check("specs/cifar.yaml")   # shapes, parameters, errors; no torch
    model = netspec.build("specs/cifar.yaml")    # a torch.nn.Module
    history = netspec.train("specs/digits.yaml") # checkpoints and metrics in history.run_dir
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .compiler import Report, check
from .errors import NetspecError, Problem

if TYPE_CHECKING:
    from torch import nn

__version__ = "0.1.0"
__all__ = ["NetspecError", "Problem", "Report", "build", "check", "evaluate", "export", "load", "load_spec", "predict",
           "train", "__version__"]


def build(spec, max_params: int | None = None) -> "nn.Module":
    """The torch.nn.Module of a spec (path, dict or Report); raises NetspecError when it is wrong.

    A model too big for this machine's memory is refused before anything is allocated, unless
    `max_params` allows its parameter count."""
    from .builder import build_network

    report = spec if isinstance(spec, Report) else check(spec, max_params, allocate=True)
    if not report.valid:
        raise NetspecError(report.errors)
    return build_network(report.layers, report.input)


def load(checkpoint: str, device=None) -> "nn.Module":
    """The model of a checkpoint with its trained weights, in eval mode, on the CPU unless `device` says
    otherwise; checked as eval checks it (its digest; torch.load with weights_only=True)."""
    from .evaluation import load_model

    return load_model(checkpoint, str(device) if device is not None else "cpu")[0]


def load_spec(checkpoint: str) -> dict:
    """A checkpoint's resolved spec, class names, epoch and input: {"spec", "classes", "epoch", "input"}."""
    from . import checkpoint as ckpt_file

    ckpt = ckpt_file.load(checkpoint)
    return {"spec": ckpt["spec"], "classes": ckpt.get("classes"), "epoch": ckpt.get("epoch"),
            "input": ckpt["spec"]["model"]["input"]}


def export(source: str, format: str, output: str | None = None) -> dict:
    """Export a checkpoint (or a spec, fresh weights) as pt2, torchscript or python; returns its sidecar."""
    from .exporter import export as _export

    return _export(source, format, output)


def train(spec=None, overrides=None, device=None, resume=None, stream=None, max_params=None):
    """Train a spec (path or dict) or resume a run folder; returns a History (run_dir, epochs, best)."""
    from .runner import train as _train

    return _train(spec, overrides or (), device, resume, stream, max_params)


def evaluate(checkpoint: str, overrides=None, device=None) -> dict:
    """loss, accuracy, per_class, confusion and classes of a checkpoint on its spec's test split."""
    from .evaluation import evaluate as _evaluate

    return _evaluate(checkpoint, overrides or (), device)


def predict(checkpoint: str, images: list[str], top: int = 5) -> list[dict]:
    """[{"image": path, "top": [{"class": name, "probability": p}, ...]}, ...] for image files."""
    from .evaluation import predict as _predict

    return _predict(checkpoint, list(images), top)
