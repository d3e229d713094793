"""Fully connected layers and embeddings: Linear, LazyLinear, Bilinear, Embedding."""
from __future__ import annotations

from math import prod

from ..errors import Fix
from ..i18n import _
from ..registry import (INT_DTYPES, Args, LayerType, Out, ShapeError, Tensor, boolean, fmt, integer, number)
from .common import need_rank

_ANY = range(1, 64)


def _linear(a: Args, x: Tensor) -> Out:
    need_rank(a.layer, x, _ANY, "(N, *, in_features)")
    if len(x.shape) > 1 and a.get("in_features") == prod(x.shape) != x.shape[-1]:
        raise flatten_missing(a.layer, x)
    n_in = a.infer("in_features", x.shape[-1], x)
    n_out = a["out_features"]
    params = n_in * n_out + (n_out if a["bias"] else 0)
    return Out(x.shape[:-1] + (n_out,), params, prod(x.shape[:-1]) * n_in * n_out)


def flatten_missing(layer: str, x: Tensor) -> ShapeError:
    """A Linear given a sample of more than one dimension, such as a convolution's (C, H, W): it would work on
    the last dimension alone. Nearly always a Flatten left out, which is the fix."""
    return ShapeError(_("{layer} receives {shape}, more than one dimension per sample: it would use only the last "
                        "dimension ({last} values) and keep the others, so the model would not end in one score "
                        "per class; a Flatten before it makes one row of {total} values",
                        layer=layer, shape=fmt(x.shape), last=x.shape[-1], total=prod(x.shape)),
                      [_("add `- Flatten` before this line")], fix=Fix("- Flatten", how="insert"))


def _bilinear(a: Args, x1: Tensor, x2: Tensor | None = None) -> Out:
    x2 = x1 if x2 is None else x2
    need_rank("Bilinear", x1, _ANY, "(N, *, in1_features)")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(_("Bilinear's two inputs must agree in all but the last dimension, but they are {shape1} "
                           "and {shape2}", shape1=fmt(x1.shape), shape2=fmt(x2.shape)))
    n1 = a.infer("in1_features", x1.shape[-1], x1)
    n2 = a.infer("in2_features", x2.shape[-1], x2)
    n_out = a["out_features"]
    params = n1 * n2 * n_out + (n_out if a["bias"] else 0)
    return Out(x1.shape[:-1] + (n_out,), params, prod(x1.shape[:-1]) * n1 * n2 * n_out)


def _embedding(a: Args, x: Tensor) -> Out:
    if x.dtype not in INT_DTYPES:
        raise ShapeError(_("Embedding needs integer token ids as input, but its input is {dtype}", dtype=x.dtype),
                         [_("give the model an integer input, e.g. `{line}`",
                            line="input: {shape: [100], dtype: int64}")])
    n = a["num_embeddings"]
    if a["padding_idx"] is not None and not -n <= a["padding_idx"] < n:
        raise ShapeError(_("Embedding: padding_idx ({padding_idx}) must be between {low} and {high}",
                           padding_idx=a["padding_idx"], low=-n, high=n - 1),
                         [_("padding_idx is the id of the padding token, usually 0")], arg="padding_idx")
    return Out(x.shape + (a["embedding_dim"],), n * a["embedding_dim"], 0, dtype="float32")


LAYERS = [
    LayerType("Linear", {"in_features": integer(minimum=1, inferred=True), "out_features": integer(minimum=1),
                         "bias": boolean(True)}, _linear, main="out_features",
              summary=_("fully connected layer over the last dimension")),
    LayerType("LazyLinear", {"out_features": integer(minimum=1), "bias": boolean(True)}, _linear,
              main="out_features", torch_class="Linear",
              summary=_("a Linear whose in_features is inferred (built as a Linear)")),
    LayerType("Bilinear", {"in1_features": integer(minimum=1, inferred=True),
                           "in2_features": integer(minimum=1, inferred=True),
                           "out_features": integer(minimum=1), "bias": boolean(True)}, _bilinear,
              main="out_features", inputs=(1, 2),
              summary=_("bilinear form of two inputs (one input is used as both)")),
    LayerType("Embedding", {"num_embeddings": integer(minimum=1), "embedding_dim": integer(minimum=1),
                            "padding_idx": integer(None, null=True), "max_norm": number(None, null=True),
                            "norm_type": number(2.0), "scale_grad_by_freq": boolean(False),
                            "sparse": boolean(False)}, _embedding, accepts_int=True,
              summary=_("a lookup table from integer token ids to vectors")),
]
