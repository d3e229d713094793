"""Fully connected layers and embeddings: Linear, LazyLinear, Bilinear, Embedding."""
from __future__ import annotations

from math import prod

from ..registry import (INT_DTYPES, Args, LayerType, Out, ShapeError, Tensor, boolean, fmt, integer, number)
from .common import need_rank

_ANY = range(1, 64)


def _linear(a: Args, x: Tensor) -> Out:
    need_rank(a.layer, x, _ANY, "(N, *, in_features)")
    n_in = a.infer("in_features", x.shape[-1], x)
    n_out = a["out_features"]
    params = n_in * n_out + (n_out if a["bias"] else 0)
    return Out(x.shape[:-1] + (n_out,), params, prod(x.shape[:-1]) * n_in * n_out)


def _bilinear(a: Args, x1: Tensor, x2: Tensor | None = None) -> Out:
    x2 = x1 if x2 is None else x2
    need_rank("Bilinear", x1, _ANY, "(N, *, in1_features)")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(f"Bilinear's two inputs must agree in all but the last dimension, "
                         f"but they are {fmt(x1.shape)} and {fmt(x2.shape)}")
    n1 = a.infer("in1_features", x1.shape[-1], x1)
    n2 = a.infer("in2_features", x2.shape[-1], x2)
    n_out = a["out_features"]
    params = n1 * n2 * n_out + (n_out if a["bias"] else 0)
    return Out(x1.shape[:-1] + (n_out,), params, prod(x1.shape[:-1]) * n1 * n2 * n_out)


def _embedding(a: Args, x: Tensor) -> Out:
    if x.dtype not in INT_DTYPES:
        raise ShapeError(f"Embedding needs integer token ids as input, but its input is {x.dtype}",
                         ["give the model an integer input, e.g. `input: {shape: [100], dtype: int64}`"])
    n = a["num_embeddings"]
    if a["padding_idx"] is not None and not -n <= a["padding_idx"] < n:
        raise ShapeError(f"Embedding: padding_idx ({a['padding_idx']}) must be between {-n} and {n - 1}",
                         ["padding_idx is the id of the padding token, usually 0"], arg="padding_idx")
    return Out(x.shape + (a["embedding_dim"],), n * a["embedding_dim"], 0, dtype="float32")


LAYERS = [
    LayerType("Linear", {"in_features": integer(minimum=1, inferred=True), "out_features": integer(minimum=1),
                         "bias": boolean(True)}, _linear, main="out_features",
              summary="fully connected layer over the last dimension"),
    LayerType("LazyLinear", {"out_features": integer(minimum=1), "bias": boolean(True)}, _linear,
              main="out_features", torch_class="Linear",
              summary="a Linear whose in_features is inferred (built as a Linear)"),
    LayerType("Bilinear", {"in1_features": integer(minimum=1, inferred=True),
                           "in2_features": integer(minimum=1, inferred=True),
                           "out_features": integer(minimum=1), "bias": boolean(True)}, _bilinear,
              main="out_features", inputs=(1, 2),
              summary="bilinear form of two inputs (one input is used as both)"),
    LayerType("Embedding", {"num_embeddings": integer(minimum=1), "embedding_dim": integer(minimum=1),
                            "padding_idx": integer(None, null=True), "max_norm": number(None, null=True),
                            "norm_type": number(2.0), "scale_grad_by_freq": boolean(False),
                            "sparse": boolean(False)}, _embedding, accepts_int=True,
              summary="a lookup table from integer token ids to vectors"),
]
