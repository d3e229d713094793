"""Normalization layers: batch, layer, group, instance, RMS and local response norms."""
from __future__ import annotations

from math import prod

from ..i18n import _
from ..registry import Args, LayerType, Out, ShapeError, Tensor, boolean, channels, fmt, int_list, integer, number
from .common import batched, even_split, layout, need_rank, ntuple

_ANY = range(1, 64)
_STRICT = _("a given num_features must equal the input's channels even when torch would only warn")
_TRAILING_STRICT = _("normalized_shape may not reach into the batch dimension N; torch allows it")


def _instance_strict(d: int) -> str:
    return _("{batched}; {num_features}; and one value per channel is an error even with track_running_stats, "
             "where torch fails only in training", batched=batched(layout(d)), num_features=_STRICT)


def _batch_rule(d: int):
    ranks = {1, 2} if d == 1 else {d + 1}
    shape = _("(N, C) or (N, C, L)") if d == 1 else layout(d)

    def rule(a: Args, x: Tensor) -> Out:
        need_rank(a.layer, x, ranks, shape)
        c = a.infer("num_features", x.shape[0], x, channels(x.shape[0]))
        return Out(x.shape, 2 * c if a["affine"] else 0)
    return rule


def _instance_rule(d: int):
    def rule(a: Args, x: Tensor) -> Out:
        need_rank(a.layer, x, {d + 1}, layout(d))
        c = a.infer("num_features", x.shape[0], x, channels(x.shape[0]))
        if prod(x.shape[1:]) == 1:
            raise ShapeError(_("{layer} normalizes each channel of each sample over its own values, but its input "
                               "{shape} has only one value per channel, so training fails", layer=a.layer,
                               shape=fmt(x.shape)),
                             [_("put it before the layer that shrinks the input to one value per channel, or use "
                                "BatchNorm instead")])
        return Out(x.shape, 2 * c if a["affine"] else 0)
    return rule


def _trailing_rule(weights_per_element):
    """LayerNorm and RMSNorm: normalize over the trailing normalized_shape dimensions."""
    def rule(a: Args, x: Tensor) -> Out:
        need_rank(a.layer, x, _ANY, "(N, *, normalized_shape)")
        given = a.get("normalized_shape")
        if given is None:
            a["normalized_shape"] = [x.shape[-1]]
        ns = tuple(ntuple(a["normalized_shape"], 1))
        if len(ns) > len(x.shape) or x.shape[len(x.shape) - len(ns):] != ns:
            want = list(x.shape[-len(ns):]) if len(ns) <= len(x.shape) else list(x.shape)
            raise ShapeError(_("{layer} expects normalized_shape={given} to match the last dimensions of its "
                               "input, but its input is {shape}", layer=a.layer, given=list(ns), shape=fmt(x.shape)),
                             [_("remove normalized_shape to normalize over the last dimension, or set it to {want}",
                                want=want)], arg="normalized_shape")
        return Out(x.shape, prod(ns) * weights_per_element(a) if a["elementwise_affine"] else 0)
    return rule


def _group(a: Args, x: Tensor) -> Out:
    need_rank("GroupNorm", x, _ANY, "(N, C, *)")
    c = a.infer("num_channels", x.shape[0], x, channels(x.shape[0]))
    even_split("GroupNorm", "num_groups", c, a["num_groups"], "num_channels")
    return Out(x.shape, 2 * c if a["affine"] else 0)


def _lrn(a: Args, x: Tensor) -> Out:
    need_rank("LocalResponseNorm", x, range(2, 64), _("(N, C, *), with at least one dimension after C"))
    c, spatial = x.shape[0], x.numel() // x.shape[0]
    # torch squares the input into a copy padded by size - 1 channels, then averages it over C channels
    return Out(x.shape, inner_bytes=4 * (c + a["size"] - 1 + c) * spatial)


def _batch_args():
    return {"num_features": integer(minimum=1, inferred=True), "eps": number(1e-5, exclusive_minimum=0),
            "momentum": number(0.1, null=True), "affine": boolean(True), "track_running_stats": boolean(True)}


def _instance_args():
    return _batch_args() | {"affine": boolean(False), "track_running_stats": boolean(False)}


LAYERS = [
    LayerType(f"BatchNorm{d}d", _batch_args(), _batch_rule(d), summary=_("batch normalization over channels"),
              stricter=_STRICT)
    for d in (1, 2, 3)
] + [
    LayerType(f"InstanceNorm{d}d", _instance_args(), _instance_rule(d), stricter=_instance_strict(d),
              summary=_("instance normalization, per sample and channel"))
    for d in (1, 2, 3)
] + [
    LayerType("LayerNorm", {"normalized_shape": int_list(inferred=True), "eps": number(1e-5, exclusive_minimum=0),
                            "elementwise_affine": boolean(True), "bias": boolean(True)},
              _trailing_rule(lambda a: 2 if a["bias"] else 1), main="normalized_shape", stricter=_TRAILING_STRICT,
              summary=_("layer normalization over the last dimension(s); by default the last one")),
    LayerType("RMSNorm", {"normalized_shape": int_list(inferred=True),
                          "eps": number(None, exclusive_minimum=0, null=True),
                          "elementwise_affine": boolean(True)},
              _trailing_rule(lambda a: 1), main="normalized_shape", stricter=_TRAILING_STRICT,
              summary=_("root-mean-square normalization over the last dimension(s)")),
    LayerType("GroupNorm", {"num_groups": integer(minimum=1), "num_channels": integer(minimum=1, inferred=True),
                            "eps": number(1e-5, exclusive_minimum=0), "affine": boolean(True)},
              _group, main="num_groups", summary=_("group normalization over channel groups"),
              stricter=_("a given num_channels must equal the input's channels even with affine: false, where torch "
                         "ignores it")),
    LayerType("LocalResponseNorm", {"size": integer(minimum=1, maximum=4096), "alpha": number(1e-4), "beta": number(0.75),
                                    "k": number(1.0)}, _lrn, main="size",
              summary=_("local response normalization across channels")),
]
