"""Pooling: max, average, adaptive and power-average pools in 1, 2 and 3 dimensions."""
from __future__ import annotations

from ..i18n import _
from ..registry import Args, LayerType, Out, ShapeError, Tensor, boolean, choice, integer, ints, number
from .common import batched, conv_out, layout, need_rank, ntuple, too_small


def _window_rule(name: str, d: int, has_padding: bool = True, has_dilation: bool = False,
                 covers_kernel: bool = False):
    """covers_kernel: the input itself must be as large as the kernel, padding aside, as
    PyTorch's 3-D average pooling demands (AvgPool3d, and LPPool3d which runs on it)."""
    def rule(a: Args, x: Tensor) -> Out:
        need_rank(name, x, {d + 1}, layout(d))
        sizes = x.shape[1:]
        k = ntuple(a["kernel_size"], d)
        s = ntuple(a["stride"] if a.get("stride") is not None else a["kernel_size"], d)
        p = ntuple(a["padding"], d) if has_padding else (0,) * d
        dl = ntuple(a["dilation"], d) if has_dilation else (1,) * d
        ceil = bool(a.get("ceil_mode"))
        for i in range(d):
            if p[i] > k[i] // 2:
                half = f"{k[i]} // 2 = {k[i] // 2}"
                raise ShapeError(_("{layer}: padding ({padding}) may be at most half the kernel size ({half})",
                                   layer=name, padding=p[i], half=half),
                                 [_("lower padding to {most} or less, or use a larger kernel_size", most=k[i] // 2)],
                                 arg="padding")
        if covers_kernel and any(sizes[i] < k[i] for i in range(d)):
            raise ShapeError(_("{layer}: the input is {size} but the kernel is {kernel}; PyTorch's {d}-D average "
                               "pooling needs an input at least as large as the kernel in every dimension, whatever "
                               "the padding", layer=name, size="x".join(map(str, sizes)), kernel="x".join(map(str, k)),
                               d=d),
                             [_("use a smaller kernel_size, or remove a pooling layer before it")], arg="kernel_size")
        out = tuple(conv_out(sizes[i], k[i], s[i], p[i], dl[i], ceil) for i in range(d))
        for i in range(d):
            if out[i] < 1:
                raise too_small(name, d, sizes, k, s, p, dl, ceil, dim=i)
        return Out((x.shape[0],) + out)
    return rule


def _adaptive_rule(name: str, d: int):
    def rule(a: Args, x: Tensor) -> Out:
        need_rank(name, x, {d + 1}, layout(d))
        target = ntuple(a["output_size"], d)
        return Out((x.shape[0],) + tuple(x.shape[1 + i] if t is None else t for i, t in enumerate(target)))
    return rule


def _max(d):
    return {"kernel_size": ints(d), "stride": ints(d, None, null=True), "padding": ints(d, 0, minimum=0),
            "dilation": ints(d, 1), "return_indices": choice(False, False), "ceil_mode": boolean(False)}


def _avg(d):
    args = {"kernel_size": ints(d), "stride": ints(d, None, null=True), "padding": ints(d, 0, minimum=0),
            "ceil_mode": boolean(False), "count_include_pad": boolean(True)}
    if d > 1:
        args["divisor_override"] = integer(None, minimum=1, null=True)
    return args


def _lp(d):
    # torch's lp_pool1d multiplies by kernel_size, which fails for a list: LPPool1d takes an int only
    kernel = integer(minimum=1) if d == 1 else ints(d)
    return {"norm_type": number(exclusive_minimum=0), "kernel_size": kernel, "stride": ints(d, None, null=True),
            "ceil_mode": boolean(False)}


LAYERS = []
for _d in (1, 2, 3):
    _shape = layout(_d)
    if _d == 1:
        _avg_to = _("{d}-D average pooling to a fixed output size", d=_d)
        _max_to = _("{d}-D max pooling to a fixed output size", d=_d)
        _adaptive_strict = batched(_shape)
    else:
        _avg_to = _("{d}-D average pooling to a fixed output size (null keeps a size)", d=_d)
        _max_to = _("{d}-D max pooling to a fixed output size (null keeps a size)", d=_d)
        _adaptive_strict = _("{note}; with output_size 1 it takes any number of leading dimensions",
                             note=batched(_shape))
    LAYERS += [
        LayerType(f"MaxPool{_d}d", _max(_d), _window_rule(f"MaxPool{_d}d", _d, has_dilation=True),
                  main="kernel_size", summary=_("{d}-D max pooling over {shape}", d=_d, shape=_shape),
                  stricter=batched(_shape)),
        LayerType(f"AvgPool{_d}d", _avg(_d), _window_rule(f"AvgPool{_d}d", _d, covers_kernel=_d == 3),
                  main="kernel_size", summary=_("{d}-D average pooling over {shape}", d=_d, shape=_shape),
                  stricter=batched(_shape)),
        LayerType(f"AdaptiveAvgPool{_d}d", {"output_size": ints(_d, null_items=_d > 1)},
                  _adaptive_rule(f"AdaptiveAvgPool{_d}d", _d), main="output_size", summary=_avg_to,
                  stricter=_adaptive_strict),
        LayerType(f"AdaptiveMaxPool{_d}d", {"output_size": ints(_d, null_items=_d > 1),
                                            "return_indices": choice(False, False)},
                  _adaptive_rule(f"AdaptiveMaxPool{_d}d", _d), main="output_size", summary=_max_to,
                  stricter=batched(_shape)),
        LayerType(f"LPPool{_d}d", _lp(_d), _window_rule(f"LPPool{_d}d", _d, has_padding=False,
                                                        covers_kernel=_d == 3),
                  summary=_("{d}-D power-average pooling over {shape}", d=_d, shape=_shape), stricter=batched(_shape)),
    ]
