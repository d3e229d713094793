"""torch without its compiler, for a process that never compiles.

torch._dynamo, torch's compiler, takes about a second to import on a 2-core machine (a third of a training
run's start-up), and an eager process touches only three of its names: torch's optimizers wrap their step
in `torch._dynamo.graph_break()` (a no-op outside compiled code) and `torch._dynamo.disable(fn)` (fn, when
nothing is compiled), and the meta device asks `torch._dynamo.utils.is_compile_supported` (never, here).
A stand-in installed before torch is imported answers those three exactly as torch would in eager mode.

Anything else asked of it: `strict` stand-ins refuse (the caller then falls back to the real compiler, as
visionprobe's measuring child does); lazy ones import the real torch._dynamo and answer from it (a run that
turns out to need the compiler, such as DistributedDataParallel asking for its settings, gets it).
"""
from __future__ import annotations

import sys
import types

_NAMES = ("torch._dynamo", "torch._dynamo.utils")


class _StandIn(types.ModuleType):
    strict = True

    def __getattr__(self, name: str):
        if self.strict or name.startswith("__"):
            raise AttributeError(f"{self.__name__}.{name}: not in netspec's stand-in for the compiler")
        return getattr(_real(self.__name__), name)


def _real(module: str):
    """The real torch._dynamo (or its submodule), imported now in place of the stand-ins."""
    for name in _NAMES:
        if isinstance(sys.modules.get(name), _StandIn):
            del sys.modules[name]
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(torch.__dict__.get("_dynamo"), _StandIn):
        del torch._dynamo
    import torch._dynamo.utils  # noqa: F401  (the real ones, now that the stand-ins are gone)

    return sys.modules[module]


def without_the_compiler(strict: bool = True) -> bool:
    """Install the stand-ins (before torch is imported); False, doing nothing, where torch already is."""
    if "torch" in sys.modules:
        return False
    dynamo, utils = _StandIn(_NAMES[0]), _StandIn(_NAMES[1])
    dynamo.strict = utils.strict = strict
    dynamo.disable = _disable
    dynamo.graph_break = lambda msg="": None  # outside compiled code it does nothing
    utils.is_compile_supported = lambda device_type: False
    dynamo.utils = utils
    sys.modules.update({_NAMES[0]: dynamo, _NAMES[1]: utils})
    return True


def _disable(fn=None, recursive=True, wrapping=True):
    """Nothing is compiled, so nothing is to be disabled: the function itself (also as a decorator)."""
    return fn if fn is not None else (lambda f: f)


def compiler_loaded() -> bool:
    """Whether the real torch._dynamo has been imported in this process."""
    return "torch._dynamo" in sys.modules and not isinstance(sys.modules["torch._dynamo"], _StandIn)
