"""Resource guard: a model that cannot fit in the memory that will hold it is refused before anything
is allocated, with the estimate and the limit, instead of the operating system killing the process.

The estimate is a lower bound of what training needs: the weights, and for a batch the output of every
layer (what a forward pass keeps for the backward pass). Gradients, optimizer state and torch's working
memory come on top, so a model refused here could never have trained; one accepted may still not fit."""
from __future__ import annotations

import os

from .catalog import DEFAULT_BATCH
from .errors import Problem, UsageError
from .i18n import _

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: float) -> str:
    """A byte count for people: "1.2 GiB" (numbers and units, said alike in every language)."""
    for unit in UNITS:
        if n < 1024 or unit == UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


MEMINFO = "/proc/meminfo"
NVIDIA_GPUS = "/proc/driver/nvidia/gpus"  # a folder per GPU while NVIDIA's driver is loaded
MEMORY_VARIABLE = "NETSPEC_MEMORY_BYTES"  # the memory to check against instead of this machine's


def available_bytes() -> int | None:
    """Memory this machine can still give: NETSPEC_MEMORY_BYTES when set (another machine's, or a fixed
    figure for tests), else Linux's MemAvailable; None where it cannot be read."""
    given = os.environ.get(MEMORY_VARIABLE, "").strip()
    if given:
        if not given.isdigit():
            raise UsageError(Problem(_("the environment variable {name} is `{value}`, not a number of bytes",
                                       name=MEMORY_VARIABLE, value=given[:40]),
                                     hints=(_("write the bytes as digits alone ({example} for 16 GiB), or unset "
                                              "it to check against this machine's free memory",
                                              example=16 * 2**30),)).at(MEMORY_VARIABLE, None, None))
        return int(given)
    try:
        with open(MEMINFO) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def gpu_visible() -> bool:
    """Whether `auto` will find a CUDA GPU, judged without torch: an NVIDIA driver is loaded, and
    CUDA_VISIBLE_DEVICES, when set, does not hide every device ("" or -1)."""
    shown = os.environ.get("CUDA_VISIBLE_DEVICES")
    if shown is not None and shown.split(",")[0].strip() in ("", "-1"):
        return False
    return os.path.isdir(NVIDIA_GPUS)


def trains_on_cpu(data: dict, device: str | None = None) -> bool:
    """Whether a spec (or the `device` that overrides its train.device) trains in this machine's memory:
    `cpu`, or `auto` where no GPU is visible (gpu_visible)."""
    train = data.get("train") if isinstance(data.get("train"), dict) else {}
    name = device or train.get("device", "auto")
    return name == "cpu" or (name == "auto" and not gpu_visible())


def batch_size(data: dict) -> int:
    section = data.get("data") if isinstance(data.get("data"), dict) else {}
    return section.get("batch_size", DEFAULT_BATCH)


def memory_problem(report, max_params: int | None = None, limit: int | None = None, batch: int = 0,
                   gpu: bool = False) -> Problem | None:
    """A Problem when the model's weights and, for `batch` samples, its activations exceed `limit`
    (default: this machine's available memory); `gpu`: that memory is a GPU's. Where that memory cannot be
    read, a warning (its code already `memory`) that says the check is off, never a refusal.

    `max_params` overrides the guard for models up to that many parameters, and refuses bigger ones."""
    if max_params is not None:
        if report.total_params <= max_params:
            return None
        limit, batch = max_params * 4, 0
    limit = available_bytes() if limit is None else limit
    if limit is None:
        return Problem(_("cannot read this machine's free memory; the memory check is off"), (),
                       (_("pass {option} to check the model against a number of parameters instead",
                          option="--max-params N"),
                        _("set {name} to the memory, in bytes, of the machine that will train it",
                          name=MEMORY_VARIABLE)), code="memory").at(MEMINFO, None, None)
    weights, activations = report.param_bytes, batch * report.activation_bytes
    if weights + activations <= limit:
        return None
    only = _only(size(limit), max_params is not None, gpu)
    if weights >= activations:
        biggest = max(report.layers, key=lambda info: info.params)
        fields = dict(size=size(weights + activations), params=report.total_params, batch=batch, only=only,
                      layer=biggest.type, name=biggest.name, layer_params=biggest.params)
        if batch and activations:
            message = _("the model needs {size} to hold its weights ({params:,} parameters) and its layer outputs "
                        "for a batch of {batch}, but {only}; {layer} `{name}` alone has {layer_params:,}", **fields)
        else:
            message = _("the model needs {size} to hold its weights ({params:,} parameters), but {only}; "
                        "{layer} `{name}` alone has {layer_params:,}", **fields)
        return Problem(message, biggest.node.origin or biggest.node.path,
                       (_("make that layer smaller (fewer features or channels, or a pooling layer before it)"),
                        _("if the machine that will train it has the memory, pass {option} to allow N parameters",
                          option="--max-params N")))
    biggest = max(report.layers, key=_layer_bytes)
    option = f"--max-params {report.total_params}"
    return Problem(
        _("the model needs at least {size} to train on a batch of {batch} ({weights} of weights, {per_sample} of "
          "layer outputs per sample), but {only}; {layer} `{name}` alone needs {layer_size} per sample",
          size=size(weights + activations), batch=batch, weights=size(weights),
          per_sample=size(report.activation_bytes), only=only, layer=biggest.type, name=biggest.name,
          layer_size=size(_layer_bytes(biggest))),
        biggest.node.origin or biggest.node.path,
        (_("make that layer's output smaller (a smaller input, fewer channels, or pooling before it), "
           "or lower {key}", key="data.batch_size"),
         _("if the machine that will train it has the memory, pass {option} (its parameter count, or more) "
           "to skip this check", option=option)))


def _only(limit: str, allowed: bool, gpu: bool):
    """The limit the model exceeds: "only 1.2 GiB is allowed" (--max-params), or what is available."""
    if allowed:
        return _("only {size} is allowed", size=limit)
    if gpu:
        return _("only {size} of GPU memory is available", size=limit)
    return _("only {size} of memory is available", size=limit)


def _layer_bytes(info) -> int:
    return info.output.nbytes() + info.inner_bytes


def gpu_problem(report, device, batch: int, max_params: int | None = None) -> Problem | None:
    """The guard for a run on a CUDA device: weights and a batch's layer outputs against its free memory."""
    if device.type != "cuda":
        return None  # the CPU's memory was guarded by check()
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return memory_problem(report, max_params, limit=free, batch=batch, gpu=True)
