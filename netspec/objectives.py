"""The objects a spec's `train` section names, built by their torch names: the loss, the optimizer and
the learning-rate scheduler, with errors that point at the section and name the accepted arguments."""
from __future__ import annotations

import inspect

import torch

from .errors import NetspecError, Problem, did_you_mean
from .i18n import _


def _named(value) -> tuple[str, dict]:
    return (value, {}) if isinstance(value, str) else (next(iter(value)), next(iter(value.values())) or {})


def _construct(cls, name: str, where: tuple, *args, **kwargs):
    try:
        return cls(*args, **kwargs)
    except TypeError as e:
        params = [p for p in inspect.signature(cls).parameters if p not in ("self", "params", "optimizer")]
        bad = [k for k in kwargs if k not in params]
        hints = did_you_mean(bad[0], params) if bad else ()
        raise NetspecError(Problem(_("{name} does not accept these arguments ({error})", name=name, error=str(e)),
                                   where, hints + (_("its arguments: {names}", names=", ".join(params)),))) from None
    except ValueError as e:  # torch's own words on a value it refuses
        raise NetspecError(Problem(_("{name}: {error}", name=name, error=str(e)), where)) from None


def make_loss(spec) -> tuple[str, torch.nn.Module]:
    name, args = _named(spec)
    return name, _construct(getattr(torch.nn, name), name, ("train", "loss"), **args)


def sums(loss_fn) -> bool:
    """Whether the loss adds up its samples (reduction `sum`) rather than averaging them."""
    return getattr(loss_fn, "reduction", "mean") == "sum"


def make_optimizer(spec, params):
    name, args = _named(spec)
    return _construct(getattr(torch.optim, name), name, ("train", "optimizer"), params, **args)


def make_scheduler(spec, optimizer, steps_per_epoch: int, epochs: int):
    if not spec:
        return None, None
    name, args = _named(spec)
    if name == "OneCycleLR":
        args = {"total_steps": steps_per_epoch * epochs} | args
    cls = getattr(torch.optim.lr_scheduler, name)
    return name, _construct(cls, name, ("train", "scheduler"), optimizer, **args)
