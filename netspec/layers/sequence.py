"""Sequence layers: RNN, LSTM, GRU, self-attention and Transformer encoders over (N, L, features).

netspec builds all of them with batch_first=True (the sample is (L, features) after the implicit
N) and does not offer batch_first as an argument. MACs count the matrix multiplies per sample:
input, hidden and projection weights at every step and in every direction for the recurrent
layers; the q, k, v and output projections and the two attention products (scores and weighted
sum) for attention; and the two feed-forward Linears in an encoder layer. Additions, gates,
softmax and norms count 0.
"""
from __future__ import annotations

from ..i18n import _
from ..registry import Args, LayerType, Out, ShapeError, Tensor, boolean, choice, fmt, integer, number

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
# common.batched's note, said of a sequence
_STRICT = _("the input must be batched, {shape}; torch would also read one dimension less as one unbatched "
            "sequence", shape="(N, L, features)")


MAX_LAYERS = 1000  # stacked layers: far beyond any trained network

def _need_sequence(layer: str, x: Tensor, features: str = "features") -> tuple[int, int]:
    """The steps L and the features of a (N, L, features) input."""
    if len(x.shape) == 1:
        line = f"- Unflatten: {{dim: 1, unflattened_size: [{x.shape[0]}, 1]}}"
        hints = [_("put it before Flatten; for token ids, put an Embedding before it: (N, L) becomes "
                   "(N, L, embedding_dim)"),
                 _("to read the {count} values as a sequence, put an Unflatten before it, e.g. `{line}` (one value "
                   "per step)", count=x.shape[0], line=line)]
    elif len(x.shape) > 2:
        hints = [_("merge the dimensions after L into one first: `{line}`", line="- Flatten: {start_dim: 2}")]
    else:
        return x.shape
    expected = "(N, L, " + features + ")"
    raise ShapeError(_("{layer} expects an input of shape {expected} but its input is {shape}", layer=layer,
                       expected=expected, shape=fmt(x.shape)), hints)


def _recurrent(a: Args, x: Tensor) -> Out:
    steps, features = _need_sequence(a.layer, x)
    n_in = a.infer("input_size", features, x)
    h, p = a["hidden_size"], a.get("proj_size", 0)
    if p >= h:
        raise ShapeError(_("LSTM: proj_size ({proj_size}) must be smaller than hidden_size ({hidden_size})",
                           proj_size=p, hidden_size=h),
                         [_("use a proj_size below {hidden_size}, or 0 for no projection", hidden_size=h)],
                         arg="proj_size")
    h_out, d = p or h, 2 if a["bidirectional"] else 1
    gates = _GATES[a.layer] * h
    params = macs = 0
    for layer in range(a["num_layers"]):
        n = n_in if layer == 0 else d * h_out
        weights = gates * (n + h_out) + p * h  # weight_ih, weight_hh and LSTM's weight_hr
        params += d * (weights + (2 * gates if a["bias"] else 0))
        macs += d * steps * weights
    shape = (d * h_out,) if a["output"] == "last" else (steps, d * h_out)
    return Out(shape, params, macs)


def _divides(layer: str, heads_arg: str, heads: int, dim_arg: str, dim: int) -> None:
    if dim % heads:
        fits = ", ".join([str(k) for k in range(1, min(dim, 4096) + 1) if dim % k == 0][:6])
        raise ShapeError(_("{layer}: {heads_arg} ({heads}) must divide {dim_arg} ({dim})", layer=layer,
                           heads_arg=heads_arg, heads=heads, dim_arg=dim_arg, dim=dim),
                         [_("use a {heads_arg} that divides {dim}, e.g. {fits}", heads_arg=heads_arg, dim=dim,
                            fits=fits)], arg=heads_arg)


def _attention(e: int, steps: int, keys: int, bias: bool, bias_kv: bool = False) -> tuple[int, int]:
    """Parameters and MACs of self-attention: in_proj (q, k, v) and out_proj, E x E each."""
    params = 4 * e * e + (4 * e if bias else 0) + (2 * e if bias_kv else 0)
    return params, 4 * steps * e * e + 2 * steps * keys * e


def _self_attention(a: Args, x: Tensor) -> Out:
    steps, features = _need_sequence(a.layer, x, "embed_dim")
    e = a.infer("embed_dim", features, x)
    _divides(a.layer, "num_heads", a["num_heads"], "embed_dim", e)
    keys = steps + a["add_bias_kv"] + a["add_zero_attn"]
    params, macs = _attention(e, steps, keys, a["bias"], a["add_bias_kv"])
    return Out(x.shape, params, macs)


def _encoder(a: Args, x: Tensor) -> Out:
    """One encoder layer (self-attention, then Linear d_model->dim_feedforward->d_model, two LayerNorms)
    or a stack of num_layers of them."""
    steps, features = _need_sequence(a.layer, x, "d_model")
    e = a.infer("d_model", features, x)
    _divides(a.layer, "nhead", a["nhead"], "d_model", e)
    f, bias = a["dim_feedforward"], a["bias"]
    params, macs = _attention(e, steps, steps, bias)
    params += 2 * e * f + (f + e if bias else 0) + 2 * (2 * e if bias else e)
    macs += 2 * steps * e * f
    n = a.get("num_layers", 1)
    return Out(x.shape, n * params, n * macs)


def _recurrent_args(name: str) -> dict:
    args = {"input_size": integer(minimum=1, inferred=True), "hidden_size": integer(minimum=1),
            "num_layers": integer(1, minimum=1, maximum=MAX_LAYERS)}
    if name == "RNN":
        args["nonlinearity"] = choice("tanh", "tanh", "relu")
    args |= {"bias": boolean(True), "dropout": number(0.0, 0, 1), "bidirectional": boolean(False)}
    if name == "LSTM":
        args["proj_size"] = integer(0, minimum=0)
    return args | {"output": choice("sequence", "sequence", "last")}


def _encoder_args(stack: bool) -> dict:
    args = {"d_model": integer(minimum=1, inferred=True), "nhead": integer(minimum=1)}
    if stack:
        args["num_layers"] = integer(minimum=1, maximum=MAX_LAYERS)
    return args | {"dim_feedforward": integer(2048, minimum=1), "dropout": number(0.1, 0, 1),
                   "activation": choice("relu", "relu", "gelu"), "layer_norm_eps": number(1e-5, exclusive_minimum=0),
                   "norm_first": boolean(False), "bias": boolean(True)}


def _batch_first(summary: str) -> str:
    return _("{summary}; always batch_first (not an argument)", summary=summary)


_RECURRENT = {"RNN": _("Elman RNN (tanh or relu)"), "LSTM": _("long short-term memory RNN"),
              "GRU": _("gated recurrent unit RNN")}

LAYERS = [
    LayerType(name, _recurrent_args(name), _recurrent, main="hidden_size", module=name, wraps_torch=True, stricter=_STRICT,
              summary=_batch_first(_("{what} over (N, L, features); output: sequence (N, L, D*H_out) or last step "
                                     "(N, D*H_out)", what=what)))
    for name, what in _RECURRENT.items()
] + [
    LayerType("MultiheadAttention", {"embed_dim": integer(minimum=1, inferred=True), "num_heads": integer(minimum=1),
                                     "dropout": number(0.0, 0, 1), "bias": boolean(True),
                                     "add_bias_kv": boolean(False), "add_zero_attn": boolean(False)},
              _self_attention, main="num_heads", module="SelfAttention", wraps_torch=True, stricter=_STRICT,
              summary=_batch_first(_("self-attention (the input is query, key and value) over (N, L, embed_dim)"))),
    LayerType("TransformerEncoderLayer", _encoder_args(False), _encoder, main="nhead",
              module="TransformerEncoderLayer", wraps_torch=True, stricter=_STRICT,
              summary=_batch_first(_("self-attention and a feed-forward network over (N, L, d_model)"))),
    LayerType("TransformerEncoder", _encoder_args(True), _encoder, module="TransformerEncoder", wraps_torch=True, stricter=_STRICT,
              summary=_batch_first(_("num_layers TransformerEncoderLayers over (N, L, d_model), no final norm"))),
]
