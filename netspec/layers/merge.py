"""Merge and split layers: Add, Mul and Concat join the outputs of several entries (named with `from`);
Chunk and Split cut one into several (taken as `name.0`, `name.1`, ... or `name.*`)."""
from __future__ import annotations

from ..i18n import _
from ..registry import Arg, Args, LayerType, MAX_INT, Out, ShapeError, Tensor, fmt, integer
from .common import norm_dim

MANY = (2, 64)
PROMOTION = ("int32", "int64", "float32", "float64")  # torch's type promotion of these: the later one wins


def _promoted(xs: tuple[Tensor, ...]) -> str:
    """The dtype torch gives when it adds, multiplies or concatenates these (int64 and float32: float32)."""
    return max((x.dtype for x in xs), key=PROMOTION.index)


def _inputs(j: int) -> dict:
    """The fields naming input 0 and input j: placeholders that infer fills with where each comes from."""
    return {"in0": "{in0}", "in1": f"{{in{j}}}"}


def _broadcast(a: Args, *xs: Tensor) -> Out:
    """torch's broadcasting, per sample: equal ranks, and each dimension equal or 1 in all but one input."""
    shape = list(xs[0].shape)
    for j, x in enumerate(xs[1:], start=1):
        fields = dict(layer=a.layer, shape0=fmt(tuple(shape)), shape1=fmt(x.shape), **_inputs(j))
        if len(x.shape) != len(shape):
            raise ShapeError(_("{layer} needs inputs with the same number of dimensions, but {in0} gives {shape0} "
                               "and {in1} gives {shape1}", **fields),
                             [_("make the two branches end with the same shape; a size of 1 is repeated to match "
                                "(e.g. (N, C, 1, 1) with (N, C, H, W))")], inputs=True)
        for k, (p, q) in enumerate(zip(shape, x.shape)):
            if p != q and 1 not in (p, q):
                raise ShapeError(_("{layer} needs inputs whose sizes are equal or 1 in each dimension (torch's "
                                   "broadcasting), but {in0} gives {shape0} and {in1} gives {shape1}: dimension "
                                   "{dim} is {size0} against {size1}", dim=k + 1, size0=p, size1=q, **fields),
                                 [_("make the two branches end with the same shape; a size of 1 is repeated to "
                                    "match (e.g. (N, C, 1, 1) with (N, C, H, W))")], inputs=True)
            shape[k] = max(p, q)
    return Out(tuple(shape), dtype=_promoted(xs))


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
    LayerType("Add", {}, _broadcast, module="Add", inputs=MANY, accepts_int=True,
              summary=_("adds the outputs of the entries named in `from` (a skip connection); sizes of 1 "
                        "broadcast"),
              stricter=_("the inputs must have the same number of dimensions")),
    LayerType("Mul", {}, _broadcast, module="Mul", inputs=MANY, accepts_int=True,
              summary=_("multiplies the outputs of the entries named in `from`, element by element; sizes of 1 "
                        "broadcast (squeeze-and-excitation's (N, C, 1, 1) gate)"),
              stricter=_("the inputs must have the same number of dimensions")),
    LayerType("Concat", {"dim": integer(1)}, _concat, main="dim", module="Concat", inputs=MANY, accepts_int=True,
              summary=_("joins the outputs of the entries named in `from` along dim (1: channels)")),
]


def _split_dim(a: Args, x: Tensor) -> int:
    d = norm_dim(a.layer, "dim", a["dim"], x)
    if d == 0:
        raise ShapeError(_("{layer} cannot cut along dimension 0, the batch N", layer=a.layer),
                         [_("use dim: 1 (channels)")], arg="dim")
    return d


def _chunk(a: Args, x: Tensor) -> Out:
    d = _split_dim(a, x)
    size, chunks = x.shape[d - 1], a["chunks"]
    if size % chunks:
        raise ShapeError(_("Chunk cuts dimension {dim} of {shape} into {chunks} equal parts, but {size} is not a "
                           "multiple of {chunks}", dim=d, shape=fmt(x.shape), chunks=chunks, size=size),
                         [_("choose chunks that divide {size}, or use Split with the sizes as a list", size=size)],
                         arg="chunks")
    _check_index(a, chunks)
    return Out(x.shape[: d - 1] + (size // chunks,) + x.shape[d:])


def _split(a: Args, x: Tensor) -> Out:
    d = _split_dim(a, x)
    size, sizes = x.shape[d - 1], a["split_size_or_sections"]
    if isinstance(sizes, int):
        sizes = [sizes] * (size // sizes) + ([size % sizes] if size % sizes else [])
    elif sum(sizes) != size:
        raise ShapeError(_("Split cuts dimension {dim} of {shape} into parts of {sizes}, but they add up to {total}, "
                           "not {size}", dim=d, shape=fmt(x.shape), sizes=list(sizes), total=sum(sizes), size=size),
                         [_("make the sizes add up to {size}", size=size)], arg="split_size_or_sections")
    _check_index(a, len(sizes))
    return Out(x.shape[: d - 1] + (sizes[a["index"]],) + x.shape[d:])


def _check_index(a: Args, count: int) -> None:
    if a["index"] is not None and a["index"] >= count:
        raise ShapeError(_("{layer} gives {count} parts, numbered from 0 to {last}, but index is {index}",
                           layer=a.layer, count=count, last=count - 1, index=a["index"]),
                         [_("use an index from 0 to {last}", last=count - 1)], arg="index")


_INDEX = Arg({"type": ["integer", "null"], "minimum": 0, "maximum": MAX_INT}, None, False,
             _("int; left out: every part"))

LAYERS += [
    LayerType("Chunk", {"chunks": integer(minimum=1), "dim": integer(1), "index": _INDEX}, _chunk, main="chunks",
              module="Chunk", accepts_int=True, views=True,
              summary=_("cuts its input into `chunks` equal parts along dim, each an output (`name.0`, `name.1`, "
                        "...); with index, only that part"),
              stricter=_("the size must be a multiple of chunks (torch would make fewer or smaller parts); dim "
                         "defaults to 1")),
    LayerType("Split", {"split_size_or_sections": Arg(
        {"type": ["integer", "array"], "minimum": 1, "maximum": MAX_INT, "minItems": 1,
         "items": {"type": "integer", "minimum": 1, "maximum": MAX_INT}}, kind=_("int or list of ints")),
        "dim": integer(1), "index": _INDEX}, _split, main="split_size_or_sections", module="Split",
              accepts_int=True, views=True,
              summary=_("cuts its input along dim into parts of the listed sizes, each an output (`name.0`, ...); "
                        "with index, only that part"),
              stricter=_("without index the sizes must be a list, so that the number of outputs is known; dim "
                         "defaults to 1")),
]
