"""torch and torchvision, imported without the cyclic garbage collector.

Importing them makes hundreds of thousands of objects and no garbage, yet the collector sweeps
them over and over while they load: 0.4 s of the 2.4 s the two take on a 2-core machine. Once they are
in, their objects are frozen (gc.freeze): they live as long as the process, and each later full collection
(while torchvision.datasets or matplotlib load, say) would otherwise walk all of them again, 0.15 to 0.25 s
each time.
"""
from __future__ import annotations

import gc


def import_torch(vision: bool = False):
    """torch (or, with vision, torchvision), imported with the collector paused meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch

        if not vision:
            return torch
        import torchvision

        return torchvision
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
