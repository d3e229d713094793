"""Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""
from __future__ import annotations

from math import prod

from ..i18n import _
from ..registry import Arg, Args, LayerType, Out, ShapeError, Tensor, boolean, channels, choice, integer, ints
from .common import batched, conv_out, even_split, layout, need_rank, ntuple, too_small


def _padding(n: int) -> Arg:
    s = {"type": ["integer", "array", "string"], "minimum": 0,
         "items": {"type": "integer", "minimum": 0}, "minItems": n, "maxItems": n,
         "if": {"type": "string"}, "then": {"enum": ["same", "valid"]}}
    return Arg(s, 0, False, _("int, list of {n} ints, 'same' or 'valid'", n=n))


def _channels(layer: str, a: Args, x: Tensor) -> int:
    c_in = a.infer("in_channels", x.shape[0], x, channels(x.shape[0]))
    even_split(layer, "groups", c_in, a["groups"], "in_channels")
    even_split(layer, "groups", a["out_channels"], a["groups"], "out_channels")
    return c_in


def _conv_rule(d: int):
    def rule(a: Args, x: Tensor) -> Out:
        name = f"Conv{d}d"
        need_rank(name, x, {d + 1}, layout(d))
        c_in = _channels(name, a, x)
        sizes = x.shape[1:]
        k, s, dl = ntuple(a["kernel_size"], d), ntuple(a["stride"], d), ntuple(a["dilation"], d)
        if a["padding"] == "same":
            if any(v != 1 for v in s):
                raise ShapeError(_("{layer}: padding 'same' needs stride 1, but stride is {stride}", layer=name,
                                   stride=a["stride"]),
                                 [_("use stride 1 with 'same', or give padding as a number")], arg="padding")
            total = [dd * (kk - 1) for kk, dd in zip(k, dl)]
            lefts, rights = [t // 2 for t in total], [t - t // 2 for t in total]
            out = tuple(sizes)
        else:
            p = (0,) * d if a["padding"] == "valid" else ntuple(a["padding"], d)
            lefts = rights = list(p)
            for i in range(d):
                if sizes[i] + 2 * p[i] < dl[i] * (k[i] - 1) + 1:
                    raise too_small(name, d, sizes, k, s, p, dl, dim=i)
            out = tuple(conv_out(sizes[i], k[i], s[i], p[i], dl[i]) for i in range(d))
        _check_pad_mode(name, a["padding_mode"], sizes, lefts, rights)
        per_out = c_in // a["groups"] * prod(k)
        params = a["out_channels"] * per_out + (a["out_channels"] if a["bias"] else 0)
        return Out((a["out_channels"],) + out, params, a["out_channels"] * prod(out) * per_out)
    return rule


def _check_pad_mode(name: str, mode: str, sizes, lefts, rights) -> None:
    """reflect needs padding < size and circular padding <= size, as F.pad demands."""
    for size, left, right in zip(sizes, lefts, rights):
        pad = max(left, right)
        if (mode == "reflect" and pad >= size) or (mode == "circular" and pad > size):
            given = dict(layer=name, mode=mode, pad=pad, size=size)
            message = (_("{layer}: padding_mode '{mode}' needs padding smaller than the input size, but the padding "
                         "is {pad} and the input size is {size}", **given) if mode == "reflect" else
                       _("{layer}: padding_mode '{mode}' needs padding at most the input size, but the padding is "
                         "{pad} and the input size is {size}", **given))
            raise ShapeError(message, [_("use less padding, or padding_mode 'zeros'")], arg="padding_mode")


def _conv_transpose_rule(d: int):
    def rule(a: Args, x: Tensor) -> Out:
        name = f"ConvTranspose{d}d"
        need_rank(name, x, {d + 1}, layout(d))
        c_in = _channels(name, a, x)
        k, s, dl = ntuple(a["kernel_size"], d), ntuple(a["stride"], d), ntuple(a["dilation"], d)
        p, op = ntuple(a["padding"], d), ntuple(a["output_padding"], d)
        for i in range(d):
            if op[i] >= s[i] and op[i] >= dl[i]:
                raise ShapeError(_("{layer}: output_padding ({output_padding}) must be smaller than stride "
                                   "({stride}) or dilation ({dilation})", layer=name, output_padding=op[i],
                                   stride=s[i], dilation=dl[i]),
                                 [_("lower output_padding, or raise stride")], arg="output_padding")
        out = tuple((x.shape[1 + i] - 1) * s[i] - 2 * p[i] + dl[i] * (k[i] - 1) + op[i] + 1 for i in range(d))
        if min(out) < 1:
            i = min(range(d), key=lambda j: out[j])
            formula = f"out = ({x.shape[1 + i]}-1)*{s[i]} - 2*{p[i]} + {dl[i]}*({k[i]}-1) + {op[i]} + 1 = {out[i]}"
            raise ShapeError(
                _("{layer}: the padding ({padding}) is too large for this input, so the output would be empty "
                  "({formula})", layer=name, padding=p[i], formula=formula),
                [_("use less padding or a larger kernel_size")], arg="padding")
        per_in = a["out_channels"] // a["groups"] * prod(k)
        params = c_in * per_in + (a["out_channels"] if a["bias"] else 0)
        return Out((a["out_channels"],) + out, params, c_in * prod(x.shape[1:]) * per_in)
    return rule


def _conv_args(d: int, transpose: bool) -> dict[str, Arg]:
    args = {
        "in_channels": integer(minimum=1, inferred=True),
        "out_channels": integer(minimum=1),
        "kernel_size": ints(d),
        "stride": ints(d, 1),
        "padding": ints(d, 0, minimum=0) if transpose else _padding(d),
    }
    if transpose:
        args["output_padding"] = ints(d, 0, minimum=0)
    args |= {"dilation": ints(d, 1), "groups": integer(1, minimum=1), "bias": boolean(True)}
    args["padding_mode"] = (choice("zeros", "zeros") if transpose
                            else choice("zeros", "zeros", "reflect", "replicate", "circular"))
    return args


LAYERS = [
    LayerType(f"Conv{d}d", _conv_args(d, False), _conv_rule(d), main="out_channels", stricter=batched(layout(d)),
              summary=_("{d}-D convolution over {shape}", d=d, shape=layout(d)))
    for d in (1, 2, 3)
] + [
    LayerType(f"ConvTranspose{d}d", _conv_args(d, True), _conv_transpose_rule(d), main="out_channels",
              stricter=_("{note}; and an output size of 0 is an error, where torch returns an empty tensor",
                         note=batched(layout(d))),
              summary=_("{d}-D transposed convolution over {shape}", d=d, shape=layout(d)))
    for d in (1, 2, 3)
]
