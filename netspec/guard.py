"""Resource guard: a model that cannot fit in this machine's memory is refused before anything is
allocated, with the estimate and the limit, instead of the operating system killing the process."""
from __future__ import annotations

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


def memory_problem(report, max_params: int | None = None, needed: int | None = None,
                   limit: int | None = None, what: str = "to hold its weights") -> Problem | None:
    """A Problem when the model's weights (or `needed` bytes) exceed `limit` (default: available memory).

    `max_params` overrides the guard for models up to that many parameters."""
    if max_params is not None and report.total_params <= max_params:
        return None
    needed = report.param_bytes if needed is None else needed
    limit = available_bytes() if limit is None else limit
    if max_params is not None and report.total_params > max_params:
        limit = min(limit or max_params * 4, max_params * 4)
    if limit is None or needed <= limit:
        return None
    biggest = max(report.layers, key=lambda info: info.params)
    return Problem(
        f"the model needs {size(needed)} {what} ({report.total_params:,} parameters), but only {size(limit)} "
        f"{'is allowed' if max_params is not None else 'of memory is available'}; {biggest.type} `{biggest.name}` "
        f"alone has {biggest.params:,}",
        biggest.node.origin or biggest.node.path,
        ("make that layer smaller (fewer features or channels, or a pooling layer before it)",
         "if the machine that will train it has the memory, pass --max-params N to allow N parameters"))
