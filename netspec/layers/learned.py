"""Layers for transformers and modern convolutional networks: Permute and Select move or pick dimensions;
ClassToken, PositionEmbedding and LayerScale hold a learned tensor; StochasticDepth drops whole samples
of a residual branch while training."""
from __future__ import annotations

from ..i18n import _
from ..registry import MAX_INT, Arg, Args, LayerType, Out, ShapeError, Tensor, choice, fmt, int_list, integer, number
from .common import need_rank, norm_dim


def _permute(a: Args, x: Tensor) -> Out:
    dims, rank = list(a["dims"]), len(x.shape) + 1
    if len(dims) != rank or sorted(d % rank for d in dims if -rank <= d < rank) != list(range(rank)):
        raise ShapeError(_("Permute: dims {dims} must name each of the {rank} dimensions of its input {shape} once "
                           "(N is dimension 0)", dims=dims, rank=rank, shape=fmt(x.shape)),
                         [_("e.g. {example} swaps the last two dimensions",
                            example=str([0, *range(1, rank - 2), rank - 1, rank - 2]) if rank > 2 else "[0, 1]")],
                         arg="dims")
    order = [d % rank for d in dims]
    if order[0] != 0:
        raise ShapeError(_("Permute must keep the batch dimension N first: dims must start with 0"),
                         [_("start dims with 0")], arg="dims")
    return Out(tuple(x.shape[d - 1] for d in order[1:]))


def _select(a: Args, x: Tensor) -> Out:
    d = norm_dim("Select", "dim", a["dim"], x)
    if d == 0:
        raise ShapeError(_("Select cannot pick from dimension 0, the batch N"), [_("use dim: 1")], arg="dim")
    size, index = x.shape[d - 1], a["index"]
    if not -size <= index < size:
        raise ShapeError(_("Select: index {index} is outside dimension {dim} of {shape}, whose size is {size}",
                           index=index, dim=d, shape=fmt(x.shape), size=size),
                         [_("use an index from 0 to {last} (or -1 for the last)", last=size - 1)], arg="index")
    return Out(x.shape[: d - 1] + x.shape[d:])


def _sequence(a: Args, x: Tensor) -> tuple[int, int]:
    need_rank(a.layer, x, {2}, "(N, L, D)")
    return x.shape


def _class_token(a: Args, x: Tensor) -> Out:
    length, dim = _sequence(a, x)
    a.infer("embed_dim", dim, x, _("the size of its last dimension"))
    return Out((length + 1, dim), params=dim)


def _position_embedding(a: Args, x: Tensor) -> Out:
    length, dim = _sequence(a, x)
    a.infer("num_positions", length, x, _("the length of its sequence"))
    a.infer("embed_dim", dim, x, _("the size of its last dimension"))
    return Out(x.shape, params=length * dim)


def _layer_scale(a: Args, x: Tensor) -> Out:
    d = norm_dim("LayerScale", "dim", a["dim"], x)
    if d == 0:
        raise ShapeError(_("LayerScale cannot scale along dimension 0, the batch N"), [_("use dim: 1 (channels)")],
                         arg="dim")
    a.infer("num_features", x.shape[d - 1], x, _("the size of dimension {dim}", dim=d))
    return Out(x.shape, params=x.shape[d - 1])  # an element-wise product: no MACs, as for Mul


def _stochastic_depth(a: Args, x: Tensor) -> Out:
    return Out(x.shape)


LAYERS = [
    LayerType("Permute", {"dims": Arg({"type": "array", "items": {"type": "integer", "minimum": -9, "maximum": 8},
                                       "minItems": 1, "maxItems": 9}, kind=_("list of ints"))},
              _permute, main="dims", module="Permute", accepts_int=True, views=True,
              summary=_("reorders the dimensions (dims counts N as 0): [0, 2, 1] swaps the last two of (N, A, B)"),
              stricter=_("the batch dimension N must stay first")),
    LayerType("Select", {"dim": integer(1), "index": integer(minimum=-MAX_INT)}, _select, main="index",
              module="Select", accepts_int=True, views=True,
              summary=_("picks one position of dimension dim and drops that dimension: a transformer's class "
                        "token is `Select: {dim: 1, index: 0}`"),
              stricter=_("it cannot pick from the batch dimension N")),
    LayerType("ClassToken", {"embed_dim": integer(minimum=1, inferred=True)}, _class_token, module="ClassToken",
              summary=_("puts a learned token (zeros at first) before the sequence: (N, L, D) -> (N, L + 1, D)")),
    LayerType("PositionEmbedding", {"num_positions": integer(minimum=1, inferred=True),
                                    "embed_dim": integer(minimum=1, inferred=True)},
              _position_embedding, module="PositionEmbedding",
              summary=_("adds a learned embedding of each position (normal, std 0.02, at first) to (N, L, D)")),
    LayerType("LayerScale", {"init_values": number(1e-5), "dim": integer(1),
                             "num_features": integer(minimum=1, inferred=True)},
              _layer_scale, main="init_values", module="LayerScale",
              summary=_("multiplies each position of dimension dim by a learned factor (init_values at first); "
                        "ConvNeXt's layer scale")),
    LayerType("StochasticDepth", {"p": number(minimum=0, maximum=1), "mode": choice("row", "row", "batch")},
              _stochastic_depth, main="p", module="StochasticDepth", views=True,
              summary=_("while training, zeroes a residual branch for a random p of the samples (mode row) or of "
                        "the batches (mode batch), as torchvision.ops.StochasticDepth")),
]
