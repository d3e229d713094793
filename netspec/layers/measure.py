"""`python -m netspec.layers.measure '[MODEL, KWARGS, SHAPE]'`: visionprobe's measurement of one
torchvision model, in a process of its own, printed as JSON.

`netspec check` measures a model here rather than in its own process, for speed: a first check
takes 1.8 s instead of 2.65 s on a 2-core machine. Of the 1.8 s torch and torchvision take to
import, 0.75 s is torch's compiler, torch._dynamo, which a measurement never uses: torchvision
imports one helper of it, and the meta device's decompositions import it only to mark themselves
"do not compile". This process never compiles, so a stand-in answers those two calls exactly (the
marked function itself; "not supported"). Anything else asked of it fails the child, and the
caller then measures in its own process, with the real compiler. Every entry of the shipped table
measures the same either way.
"""
from __future__ import annotations

import gc
import json
import os
import sys


def _without_the_compiler() -> None:
    """torch._dynamo as a process that never compiles sees it (strict: anything more fails the child)."""
    from ..eager import without_the_compiler

    without_the_compiler(strict=True)


def main() -> None:
    gc.disable()  # a short process: its hundreds of thousands of objects are freed when it ends
    _without_the_compiler()
    from .visionprobe import _measure

    model, kwargs, shape = json.loads(sys.argv[1])
    sys.stdout.write(json.dumps(_measure(model, kwargs, tuple(shape))))
    sys.stdout.flush()
    os._exit(0)  # nothing to tidy: skip the interpreter's teardown of torch


if __name__ == "__main__":
    main()
