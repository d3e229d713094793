"""Layers that move, pad, resample or drop values: Flatten, Unflatten, Identity, Upsample,
PixelShuffle, PixelUnshuffle, the padding layers and the dropouts."""
from __future__ import annotations

from math import floor, prod

from ..i18n import _
from ..registry import (MAX_INT, Arg, Args, LayerType, Out, ShapeError, Tensor, boolean, choice, fmt, inplace, integer,
                        ints, number)
from .common import SPATIAL, batched, need_rank, norm_dim, ntuple

_BATCH_HINT = _("dimension 0 is the batch N; use 1 or more")


def _flatten(a: Args, x: Tensor) -> Out:
    start = norm_dim("Flatten", "start_dim", a["start_dim"], x)
    end = norm_dim("Flatten", "end_dim", a["end_dim"], x)
    if start == 0 or end == 0:
        raise ShapeError(_("Flatten would merge the batch dimension N into the features"),
                         [_("use start_dim: 1 (the default)")], arg="start_dim" if start == 0 else "end_dim")
    if start > end:
        raise ShapeError(_("Flatten: start_dim ({start}) comes after end_dim ({end}) for its input {shape}",
                           start=a["start_dim"], end=a["end_dim"], shape=fmt(x.shape)),
                         [_("start_dim must not come after end_dim")], arg="start_dim")
    s = x.shape
    return Out(s[: start - 1] + (prod(s[start - 1: end]),) + s[end:])


def _unflatten(a: Args, x: Tensor) -> Out:
    d = norm_dim("Unflatten", "dim", a["dim"], x)
    if d == 0:
        raise ShapeError(_("Unflatten cannot split the batch dimension N"), [_BATCH_HINT], arg="dim")
    sizes = list(a["unflattened_size"])
    size = x.shape[d - 1]
    known = prod(v for v in sizes if v != -1)
    if sizes.count(-1) > 1 or any(v == 0 or v < -1 for v in sizes):
        raise ShapeError(_("Unflatten: unflattened_size {sizes} may hold positive sizes and at most one -1",
                           sizes=sizes), arg="unflattened_size")
    if (-1 in sizes and size % known) or (-1 not in sizes and known != size):
        raise ShapeError(_("Unflatten: dimension {dim} has size {size}, which cannot be split into {sizes}",
                           dim=d, size=size, sizes=sizes),
                         [_("choose sizes whose product is {size}", size=size)], arg="unflattened_size")
    sizes = [size // known if v == -1 else v for v in sizes]
    return Out(x.shape[: d - 1] + tuple(sizes) + x.shape[d:])


_INTERPOLATING = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _upsample(a: Args, x: Tensor) -> Out:
    need_rank("Upsample", x, {2, 3, 4}, _("(N, C, L), (N, C, H, W) or (N, C, D, H, W)"))
    d = len(x.shape) - 1
    size, scale, mode = a["size"], a["scale_factor"], a["mode"]
    if (size is None) == (scale is None):
        raise ShapeError(_("Upsample needs exactly one of size and scale_factor"),
                         [_("give size (the output size) or scale_factor (e.g. 2), not both")], arg="size")
    if mode in _INTERPOLATING and _INTERPOLATING[mode] != d:
        raise ShapeError(_("Upsample: mode '{mode}' works on {d}-D inputs, but its input {shape} has {spatial} "
                           "spatial dimensions", mode=mode, d=_INTERPOLATING[mode], shape=fmt(x.shape), spatial=d),
                         [_("use mode 'nearest', or the mode for this many dimensions (linear, bilinear, trilinear)")],
                         arg="mode")
    if a["align_corners"] is not None and mode not in _INTERPOLATING:
        raise ShapeError(_("Upsample: align_corners can only be set with an interpolating mode, not '{mode}'",
                           mode=mode), [_("remove align_corners")], arg="align_corners")
    if a["recompute_scale_factor"] and size is not None:
        raise ShapeError(_("Upsample: recompute_scale_factor only applies with scale_factor, not size"),
                         [_("remove recompute_scale_factor")], arg="recompute_scale_factor")
    for arg, v in (("size", size), ("scale_factor", scale)):
        if isinstance(v, list) and len(v) != d:
            raise ShapeError(_("Upsample: {arg} has {count} values but the input has {spatial} spatial dimensions",
                               arg=arg, count=len(v), spatial=d),
                             [_("give one {arg} per spatial dimension, or a single number", arg=arg)], arg=arg)
    if size is not None:
        out = ntuple(size, d)
    else:
        big = [float(n) * f for n, f in zip(x.shape[1:], ntuple(scale, d))]
        out = tuple(MAX_INT + 1 if v > MAX_INT else floor(v) for v in big)
    if min(out) < 1:
        raise ShapeError(_("Upsample: the output size {size} would be empty", size=out),
                         [_("use a larger scale_factor")], arg="scale_factor")
    if max(out) > MAX_INT:
        raise ShapeError(_("Upsample: the output size {size} is beyond what a tensor can hold", size=out),
                         [_("use a smaller scale_factor")], arg="scale_factor")
    return Out(x.shape[:1] + tuple(out))


def _pixel_shuffle(a: Args, x: Tensor) -> Out:
    need_rank("PixelShuffle", x, range(3, 64), "(N, C, H, W)")
    r = a["upscale_factor"]
    c, h, w = x.shape[-3:]
    if c % (r * r):
        raise ShapeError(_("PixelShuffle: the channels ({channels}) must be divisible by upscale_factor squared "
                           "({square})", channels=c, square=r * r),
                         [_("give the layer before it a multiple of {square} channels", square=r * r)],
                         arg="upscale_factor")
    return Out(x.shape[:-3] + (c // (r * r), h * r, w * r))


def _pixel_unshuffle(a: Args, x: Tensor) -> Out:
    need_rank("PixelUnshuffle", x, range(3, 64), "(N, C, H, W)")
    r = a["downscale_factor"]
    c, h, w = x.shape[-3:]
    if h % r or w % r:
        raise ShapeError(_("PixelUnshuffle: the height and width ({height}x{width}) must be divisible by "
                           "downscale_factor ({factor})", height=h, width=w, factor=r),
                         [_("choose a downscale_factor that divides both")], arg="downscale_factor")
    return Out(x.shape[:-3] + (c * r * r, h // r, w // r))


def _pad_rule(name: str, d: int, mode: str):
    ranks = range(d, 64) if mode == "constant" else {d, d + 1}

    def rule(a: Args, x: Tensor) -> Out:
        need_rank(name, x, ranks, "(N, C, " + ", ".join(SPATIAL[d]) + ")")
        pad = ntuple(a["padding"], 2 * d)  # (left, right, top, bottom, front, back): last dimension first
        shape = list(x.shape)
        for i in range(d):
            left, right = pad[2 * i], pad[2 * i + 1]
            size = shape[-1 - i]
            if (mode == "reflect" and max(left, right) >= size) or (mode == "circular" and max(left, right) > size):
                given = dict(layer=name, padding=max(left, right), size=size)
                message = (_("{layer}: the padding ({padding}) must be smaller than the input size ({size}) it "
                             "pads", **given) if mode == "reflect" else
                           _("{layer}: the padding ({padding}) must be at most the input size ({size}) it pads",
                             **given))
                raise ShapeError(message, [_("use less padding, or ZeroPad instead")], arg="padding")
            shape[-1 - i] = size + left + right
        return Out(tuple(shape))
    return rule


def _dropout_rule(ranks, expected: str):
    def rule(a: Args, x: Tensor) -> Out:
        if ranks is not None:
            need_rank(a.layer, x, ranks, expected)
        return Out(x.shape)
    return rule


def _dropout_strict(expected: str) -> str:
    return _("the input must be {shape}; torch runs other shapes too (with a warning)", shape=expected)


def _p() -> dict[str, Arg]:
    return {"p": number(0.5, minimum=0, maximum=1), "inplace": inplace()}


def _pad_strict(d: int) -> str:
    if d == 1:
        return _("the input needs at least 1 dimension after N; torch would pad the batch dimension N too")
    return _("the input needs at least {d} dimensions after N; torch would pad the batch dimension N too", d=d)


_PAD_MODES = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate",
              "Circular": "circular"}

LAYERS = [
    LayerType("Flatten", {"start_dim": integer(1), "end_dim": integer(-1)}, _flatten, main="start_dim",
              accepts_int=True, summary=_("joins dimensions start_dim..end_dim into one"), views=True,
              stricter=_("start_dim 0 would merge the batch dimension; torch allows it")),
    LayerType("Unflatten", {"dim": integer(), "unflattened_size": Arg(
        {"type": "array", "items": {"type": "integer"}, "minItems": 1}, kind=_("list of ints"))}, _unflatten,
        accepts_int=True, summary=_("splits dimension dim into unflattened_size"), views=True,
        stricter=_("dim 0 would split the batch dimension N; torch allows it when the batch size fits")),
    LayerType("Identity", {}, lambda a, x: Out(x.shape), accepts_int=True, summary=_("passes its input on"),
              views=True),
    LayerType("Upsample", {"size": Arg(
        {"type": ["integer", "array", "null"], "minimum": 1, "items": {"type": "integer", "minimum": 1},
         "minItems": 1, "maxItems": 3}, None, False, _("int or list of ints, one per spatial dimension")),
        "scale_factor": Arg(
        {"type": ["number", "array", "null"], "exclusiveMinimum": 0,
         "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 1, "maxItems": 3}, None, False,
        _("number or list of numbers")),
        "mode": choice("nearest", "nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"),
        "align_corners": boolean(None, null=True), "recompute_scale_factor": boolean(None, null=True)},
        _upsample, main="scale_factor", summary=_("resizes the spatial dimensions")),
    LayerType("PixelShuffle", {"upscale_factor": integer(minimum=1)}, _pixel_shuffle, main="upscale_factor",
              summary="(C*r*r, H, W) -> (C, H*r, W*r)", stricter=batched("(N, C, H, W)")),
    LayerType("PixelUnshuffle", {"downscale_factor": integer(minimum=1)}, _pixel_unshuffle,
              main="downscale_factor", summary="(C, H*r, W*r) -> (C*r*r, H, W)", stricter=batched("(N, C, H, W)")),
    LayerType("Dropout", _p(), _dropout_rule(None, ""), main="p", summary=_("zeroes random elements while training"),
              views=True),
    LayerType("Dropout1d", _p(), _dropout_rule({1, 2}, _("(N, C) or (N, C, L)")), main="p",
              summary=_("zeroes random channels while training"), views=True),
    LayerType("Dropout2d", _p(), _dropout_rule({3}, "(N, C, H, W)"), main="p",
              summary=_("zeroes random channels while training"), stricter=_dropout_strict("(N, C, H, W)"),
              views=True),
    LayerType("Dropout3d", _p(), _dropout_rule({4}, "(N, C, D, H, W)"), main="p",
              summary=_("zeroes random channels while training"), stricter=_dropout_strict("(N, C, D, H, W)"),
              views=True),
    LayerType("AlphaDropout", _p(), _dropout_rule(None, ""), main="p",
              summary=_("dropout that keeps SELU's statistics"), views=True),
    LayerType("FeatureAlphaDropout", _p(), _dropout_rule(range(2, 64), "(N, C, *)"), main="p",
              summary=_("AlphaDropout of whole channels"),
              stricter=_dropout_strict(_("(N, C, *), with at least one dimension after C")), views=True),
]
for _kind, _mode in _PAD_MODES.items():
    for _d in (1, 2, 3):
        _args = {"padding": ints(2 * _d, minimum=0)}
        if _kind == "Constant":
            _args["value"] = number()
        LAYERS.append(LayerType(f"{_kind}Pad{_d}d", _args, _pad_rule(f"{_kind}Pad{_d}d", _d, _mode),
                                main="padding", accepts_int=_mode == "constant",
                                summary=_("pads the last {d} dimension(s) ({mode})", d=_d, mode=_mode),
                                stricter=_pad_strict(_d) if _mode == "constant" else ""))
