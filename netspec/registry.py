"""The layer registry: all that netspec knows about each layer type, in one closed table.

An entry holds the layer's arguments (each with its JSON Schema, default and whether it
is inferred), its main scalar argument, its shape rule and the torch class it builds.
The rules work on plain shapes and never import torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .errors import Fix
from .i18n import _

REQUIRED = object()  # default of an argument that must be given
INT_DTYPES = ("int64", "int32")


@dataclass(frozen=True)
class Arg:
    schema: dict
    default: Any = REQUIRED
    inferred: bool = False  # filled in from the incoming shape when left out
    kind: str = ""  # its type in words, for `netspec layers`


DTYPE_BYTES = {"float32": 4, "float64": 8, "int64": 8, "int32": 4}


@dataclass(frozen=True)
class Tensor:
    """What flows between layers: one sample's shape (no batch dimension) and dtype."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    def numel(self) -> int:
        return math.prod(self.shape)

    def nbytes(self) -> int:
        return self.numel() * DTYPE_BYTES.get(self.dtype, 4)


@dataclass(frozen=True)
class Out:
    """A layer's output as a rule computes it."""

    shape: tuple[int, ...]
    params: int = 0
    macs: int = 0  # multiply-accumulates per sample
    dtype: str | None = None  # None: the input's dtype
    inner_bytes: int = 0  # memory inside the layer beyond its output (a torchvision model, LRN's padded copy)


class ShapeError(Exception):
    """A rule's verdict that its input cannot go through the layer."""

    def __init__(self, message: str, hints: tuple[str, ...] | list[str] = (), arg: str | None = None,
                 inputs: bool = False, at_key: bool = False, fix: Fix | None = None):
        super().__init__(message)
        self.message, self.hints, self.arg, self.at_key = message, tuple(hints), arg, at_key  # at_key: the arg's name
        # the edit that mends it, without a path: infer puts it at the entry (insert, delete) or at `arg` (replace)
        self.fix = fix
        # inputs: the message (a Msg) names inputs by fields whose values are placeholders, "{in0}" for input 0
        # ({in0}: "{in0}", {in1}: "{in2}" when it compares inputs 0 and 2); infer says where each comes from
        self.inputs = inputs


class Args(dict):
    """A layer's arguments, defaults filled in; rules read them and fill in inferred ones."""

    def __init__(self, layer: str, values: dict):
        super().__init__(values)
        self.layer = layer

    def infer(self, name: str, value, x: Tensor, what: str = ""):
        """Fill in `name` from the input, or check the given value against it."""
        if self.get(name) is None:
            self[name] = value
        elif self[name] != value:
            given = dict(layer=self.layer, arg=name, value=self[name], shape=fmt(x.shape))
            message = (_("{layer} expects {arg}={value} but its input is {shape} ({what})", what=what, **given)
                       if what else _("{layer} expects {arg}={value} but its input is {shape}", **given))
            raise ShapeError(message, [_("set it to {value}, or remove {arg} to infer it", arg=name, value=value)],
                             arg=name, fix=Fix(str(list(value)) if isinstance(value, tuple) else str(value)))
        return value


@dataclass(frozen=True)
class LayerType:
    name: str
    args: dict[str, Arg]
    rule: Callable[..., Out]
    main: str | None = None  # the argument a scalar entry (`- Linear: 10`) sets
    torch_class: str = ""  # the torch.nn class built; default: name
    module: str = ""  # or a class of netspec/modules.py, for layers torch has no one-input class for
    wraps_torch: bool = False  # that netspec module subclasses torch.nn.<torch_class or name> (LSTM, attention)
    summary: str = ""
    accepts_int: bool = False  # may take integer (token id) input
    inputs: tuple[int, int] = (1, 1)  # fewest and most inputs
    stricter: str = ""  # where netspec refuses something torch lets through, and why
    extra_args: bool = False  # takes arguments beyond `args` (a torchvision model's own), checked when built
    views: bool = False  # its output may share memory with its input (Identity, Flatten; Dropout when testing)

    @property
    def required(self) -> list[str]:
        return [n for n, a in self.args.items() if a.default is REQUIRED]

    def defaults(self) -> dict:
        return {n: (None if a.default is REQUIRED else a.default) for n, a in self.args.items()}


def channels(n: int) -> str:
    return _("{n} channel", n=n) if n == 1 else _("{n} channels", n=n)


def fmt(shape: tuple[int, ...]) -> str:
    """(3, 32, 32) -> "(N, 3, 32, 32)"."""
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


# Argument kinds, as JSON Schema fragments. ----------------------------------------
# Bounds that keep every value inside what torch can hold: sizes fit an int32, numbers a float32.
MAX_INT = 2**31 - 1
MAX_FLOAT = 3.4028234663852886e38  # float32's largest

def integer(default=REQUIRED, minimum: int | None = None, maximum: int | None = None, inferred=False,
            null=False) -> Arg:
    s: dict = {"type": ["integer", "null"] if null or inferred else "integer"}
    s["minimum"] = -MAX_INT if minimum is None else minimum
    s["maximum"] = MAX_INT if maximum is None else maximum
    return Arg(s, None if inferred else default, inferred, _("int, inferred") if inferred else _("int"))


def number(default=REQUIRED, minimum=None, maximum=None, exclusive_minimum=None, null=False) -> Arg:
    s: dict = {"type": ["number", "null"] if null else "number"}
    if exclusive_minimum is not None:
        s["exclusiveMinimum"] = exclusive_minimum
    else:
        s["minimum"] = -MAX_FLOAT if minimum is None else minimum
    s["maximum"] = MAX_FLOAT if maximum is None else maximum
    return Arg(s, default, False, _("number"))


def boolean(default=REQUIRED, null=False) -> Arg:
    return Arg({"type": ["boolean", "null"] if null else "boolean"}, default, False, _("true/false"))


def choice(default, *values) -> Arg:
    return Arg({"enum": list(values)}, default, False, " | ".join(map(str, values)))  # the values themselves


def ints(n: int, default=REQUIRED, minimum: int | None = 1, null=False, null_items=False, inferred=False) -> Arg:
    """An int, or a list of n ints (one per spatial dimension)."""
    item: dict = {"type": ["integer", "null"] if null_items else "integer", "maximum": MAX_INT}
    if minimum is not None:
        item["minimum"] = minimum
    s: dict = {"type": ["integer", "array"] + (["null"] if null or inferred else []),
               "items": item, "minItems": n, "maxItems": n, "maximum": MAX_INT}
    if minimum is not None:
        s["minimum"] = minimum
    if n == 1:
        s["minItems"] = s["maxItems"] = 1
    return Arg(s, None if inferred else default, inferred, _("int or list of {n} ints", n=n))


def int_list(default=REQUIRED, minimum: int | None = 1, inferred=False) -> Arg:
    """An int, or a list of ints of any length (LayerNorm's normalized_shape, Unflatten's sizes)."""
    item: dict = {"type": "integer", "maximum": MAX_INT}
    if minimum is not None:
        item["minimum"] = minimum
    s: dict = {"type": ["integer", "array"] + (["null"] if inferred else []), "items": item, "minItems": 1,
               "maximum": MAX_INT}
    if minimum is not None:
        s["minimum"] = minimum
    return Arg(s, None if inferred else default, inferred, _("int or list of ints"))


def inplace() -> Arg:
    return boolean(False)


# The table. -----------------------------------------------------------------------

_LAYERS: dict[str, LayerType] | None = None


def layers() -> dict[str, LayerType]:
    """Every layer type by name (built once, on first use)."""
    global _LAYERS
    if _LAYERS is None:
        from .layers import activation, conv, learned, linear, merge, norm, pool, reshape, sequence, vision

        table: dict[str, LayerType] = {}
        for module in (linear, conv, pool, norm, activation, reshape, learned, merge, sequence, vision):
            for lt in module.LAYERS:
                assert lt.name not in table, lt.name
                table[lt.name] = lt
        _LAYERS = table
    return _LAYERS


def lookup(name: str) -> LayerType | None:
    return layers().get(name)
