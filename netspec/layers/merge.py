"""Merge layers: Add, Mul and Concat join the outputs of several entries (named with `from`)."""
from __future__ import annotations

from ..i18n import _
from ..registry import Args, LayerType, Out, ShapeError, Tensor, fmt, integer
from .common import norm_dim

MANY = (2, 64)
PROMOTION = ("int32", "int64", "float32", "float64")  # torch's type promotion of these: the later one wins


def _promoted(xs: tuple[Tensor, ...]) -> str:
    """The dtype torch gives when it adds, multiplies or concatenates these (int64 and float32: float32)."""
    return max((x.dtype for x in xs), key=PROMOTION.index)


def _inputs(j: int) -> dict:
    """The fields naming input 0 and input j: placeholders that infer fills with where each comes from."""
    return {"in0": "{in0}", "in1": f"{{in{j}}}"}


def _same_shapes(a: Args, *xs: Tensor) -> Out:
    for j, x in enumerate(xs[1:], start=1):
        if x.shape != xs[0].shape:
            raise ShapeError(_("{layer} needs inputs of equal shape, but {in0} gives {shape0} and {in1} gives "
                               "{shape1}", layer=a.layer, shape0=fmt(xs[0].shape), shape1=fmt(x.shape), **_inputs(j)),
                             [_("make the two branches end with the same shape (channels and size)")], inputs=True)
    return Out(xs[0].shape, dtype=_promoted(xs))


def _concat(a: Args, *xs: Tensor) -> Out:
    d = norm_dim("Concat", "dim", a["dim"], xs[0])
    if d == 0:
        raise ShapeError(_("Concat cannot join along dimension 0, the batch N"), [_("use dim: 1 (channels)")],
                         arg="dim")
    for j, x in enumerate(xs[1:], start=1):
        if len(x.shape) != len(xs[0].shape) or any(
                p != q for k, (p, q) in enumerate(zip(x.shape, xs[0].shape)) if k != d - 1):
            raise ShapeError(_("Concat joins along dimension {dim}, so every other dimension must agree, but {in0} "
                               "gives {shape0} and {in1} gives {shape1}", dim=d, shape0=fmt(xs[0].shape),
                               shape1=fmt(x.shape), **_inputs(j)),
                             [_("make the branches agree in size, or concatenate along another dim")], inputs=True)
    size = sum(x.shape[d - 1] for x in xs)
    return Out(xs[0].shape[: d - 1] + (size,) + xs[0].shape[d:], dtype=_promoted(xs))


LAYERS = [
    LayerType("Add", {}, _same_shapes, module="Add", inputs=MANY, accepts_int=True,
              summary=_("adds the outputs of the entries named in `from` (a skip connection)"),
              stricter=_("the inputs must have equal shapes; torch would broadcast")),
    LayerType("Mul", {}, _same_shapes, module="Mul", inputs=MANY, accepts_int=True,
              summary=_("multiplies the outputs of the entries named in `from`, element by element"),
              stricter=_("the inputs must have equal shapes; torch would broadcast")),
    LayerType("Concat", {"dim": integer(1)}, _concat, main="dim", module="Concat", inputs=MANY, accepts_int=True,
              summary=_("joins the outputs of the entries named in `from` along dim (1: channels)")),
]
