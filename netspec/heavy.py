"""torch and torchvision, imported without the cyclic garbage collector.

Importing them makes hundreds of thousands of objects and no garbage, yet the collector sweeps
them over and over while they load: 0.4 s of the 2.4 s the two take on a 2-core machine.
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
        if was_enabled:
            gc.enable()
