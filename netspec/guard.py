"""Resource guard: a model that cannot fit in the memory that will hold it is refused before anything
is allocated, with the estimate and the limit, instead of the operating system killing the process.

The estimate is a lower bound of what training needs: the weights, and for a batch the output of every
layer (what a forward pass keeps for the backward pass). Gradients, optimizer state and torch's working
memory come on top, so a model refused here could never have trained; one accepted may still not fit."""
from __future__ import annotations

import os

from .catalog import DEFAULT_BATCH
from .errors import Problem

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: float) -> str:
    for unit in UNITS:
        if n < 1024 or unit == UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def available_bytes() -> int | None:
    """Memory this machine can still give (Linux MemAvailable); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def trains_on_cpu(data: dict, device: str | None = None) -> bool:
    """Whether a spec (or the `device` that overrides its train.device) trains in this machine's memory,
    judged without torch: `cpu`, or `auto` where no NVIDIA driver is loaded."""
    train = data.get("train") if isinstance(data.get("train"), dict) else {}
    name = device or train.get("device", "auto")
    return name == "cpu" or (name == "auto" and not os.path.isdir("/proc/driver/nvidia/gpus"))


def batch_size(data: dict) -> int:
    section = data.get("data") if isinstance(data.get("data"), dict) else {}
    return section.get("batch_size", DEFAULT_BATCH)


def memory_problem(report, max_params: int | None = None, limit: int | None = None, batch: int = 0,
                   where: str = "of memory") -> Problem | None:
    """A Problem when the model's weights and, for `batch` samples, its activations exceed `limit`
    (default: this machine's available memory); `where` names that memory ("of GPU memory").

    `max_params` overrides the guard for models up to that many parameters, and refuses bigger ones."""
    if max_params is not None:
        if report.total_params <= max_params:
            return None
        limit, batch = max_params * 4, 0
    limit = available_bytes() if limit is None else limit
    weights, activations = report.param_bytes, batch * report.activation_bytes
    if limit is None or weights + activations <= limit:
        return None
    allowed = "is allowed" if max_params is not None else f"{where} is available"
    override = "if the machine that will train it has the memory, pass --max-params N to allow N parameters"
    if weights >= activations:
        biggest = max(report.layers, key=lambda info: info.params)
        return Problem(
            f"the model needs {size(weights + activations)} to hold its weights ({report.total_params:,} "
            f"parameters){_for_batch(batch, activations)}, but only {size(limit)} {allowed}; {biggest.type} "
            f"`{biggest.name}` alone has {biggest.params:,}",
            biggest.node.origin or biggest.node.path,
            ("make that layer smaller (fewer features or channels, or a pooling layer before it)", override))
    biggest = max(report.layers, key=_layer_bytes)
    return Problem(
        f"the model needs at least {size(weights + activations)} to train on a batch of {batch} ({size(weights)} "
        f"of weights, {size(report.activation_bytes)} of layer outputs per sample), but only {size(limit)} {allowed}; "
        f"{biggest.type} `{biggest.name}` alone needs {size(_layer_bytes(biggest))} per sample",
        biggest.node.origin or biggest.node.path,
        ("make that layer's output smaller (a smaller input, fewer channels, or pooling before it), "
         "or lower data.batch_size",
         f"if the machine that will train it has the memory, pass --max-params {report.total_params} "
         "(its parameter count, or more) to skip this check"))


def _for_batch(batch: int, activations: int) -> str:
    return f" and its layer outputs for a batch of {batch}" if batch and activations else ""


def _layer_bytes(info) -> int:
    return info.output.nbytes() + info.inner_bytes


def gpu_problem(report, device, batch: int, max_params: int | None = None) -> Problem | None:
    """The guard for a run on a CUDA device: weights and a batch's layer outputs against its free memory."""
    if device.type != "cuda":
        return None  # the CPU's memory was guarded by check()
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return memory_problem(report, max_params, limit=free, batch=batch, where="of GPU memory")
