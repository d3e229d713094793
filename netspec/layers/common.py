"""Shape arithmetic shared by the layer families: the one conv/pool formula, and rank checks."""
from __future__ import annotations

from math import prod

from ..errors import Fix
from ..i18n import _
from ..registry import ShapeError, Tensor, fmt

SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def ntuple(value, n: int) -> tuple:
    """An int (or None) repeated n times, or a list as a tuple."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def layout(d: int, channels: bool = True) -> str:
    return "(" + ", ".join(["N"] + (["C"] if channels else []) + list(SPATIAL[d])) + ")"


def batched(expected: str) -> str:
    """The `stricter` note of a layer that takes only batched input, e.g. batched("(N, C, H, W)")."""
    return _("the input must be batched, {shape}; torch would also read one dimension less as one unbatched "
             "sample", shape=expected)


def need_rank(layer: str, x: Tensor, ranks: set[int] | range, expected: str) -> None:
    """Refuse an input whose number of dimensions the layer cannot take."""
    if len(x.shape) not in ranks:
        hint = (_("a layer after Flatten sees (N, features); put it before Flatten")
                if len(x.shape) == 1 else _("check the layers before it, or use the layer made for this shape"))
        sibling = _sibling(layer, len(x.shape))
        line = f"- {sibling}"
        hints = [_("use {layer}, made for this shape: write `{line}`", layer=sibling, line=line), hint] \
            if sibling else [hint]
        raise ShapeError(_("{layer} expects an input of shape {expected} but its input is {shape}", layer=layer,
                           expected=expected, shape=fmt(x.shape)), hints,
                         fix=Fix(sibling, how="rename") if sibling else None)


def _sibling(layer: str, rank: int) -> str | None:
    """BatchNorm2d -> BatchNorm1d for (C,) or (C, L), BatchNorm2d for (C, H, W), BatchNorm3d for (C, D, H, W)."""
    from ..registry import layers

    if not layer.endswith(("1d", "2d", "3d")) or rank not in (1, 2, 3, 4):
        return None
    if rank == 1 and not layer.startswith("BatchNorm"):  # the others' 1d takes (C, L), not (features,)
        return None
    name = layer[:-2] + {1: "1d", 2: "1d", 3: "2d", 4: "3d"}[rank]
    return name if name != layer and name in layers() else None


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
             ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling window, as PyTorch computes it.

    floor((size + 2*padding - dilation*(kernel-1) - 1) / stride + 1), with ceil instead of
    floor when ceil_mode is set, and then the last window must start inside the input or
    its left padding (else it is dropped).
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = (span + stride - 1) // stride + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
        return out
    return span // stride + 1


def conv_formula(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                 ceil_mode: bool = False) -> str:
    """The formula of conv_out with the numbers put in, for error messages."""
    rnd = "ceil" if ceil_mode else "floor"
    out = conv_out(size, kernel, stride, padding, dilation, ceil_mode)
    return (f"{rnd}(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride} + 1) = {out}")


def too_small(layer: str, d: int, sizes, kernels, strides, pads, dilations, ceil_mode=False, dim=0) -> ShapeError:
    """The error for a window that does not fit its input, formula and fix included."""
    k = "x".join(map(str, kernels))
    s = "x".join(map(str, sizes))
    eff = "x".join(str(dl * (kk - 1) + 1) for kk, dl in zip(kernels, dilations))
    kernel = _("{kernel} (dilated to {dilated})", kernel=k, dilated=eff) if any(dl != 1 for dl in dilations) else k
    size = _("{size} with padding {padding}", size=s, padding="x".join(map(str, pads))) if any(pads) else s
    formula = SPATIAL[d][dim] + "_out = " + conv_formula(sizes[dim], kernels[dim], strides[dim], pads[dim],
                                                       dilations[dim], ceil_mode)
    return ShapeError(
        _("{layer}: the input is {size} but the kernel is {kernel}, so the output would be empty "
          "({formula})", layer=layer, size=size, kernel=kernel, formula=formula),
        [_("use a smaller kernel_size, add padding, or remove a pooling layer before it")], arg="kernel_size",
        fix=_smaller_window(layer, sizes, kernels))


def _smaller_window(layer: str, sizes, kernels) -> Fix | None:
    """The edit that mends a window larger than its input: a pooling layer that has nothing left to pool
    is deleted; a convolution gets the usual 3x3 kernel where that fits. Checked before it is offered."""
    if "Pool" in layer:
        return Fix("", how="delete")
    if min(sizes) >= 3 and max(kernels) > 3:
        return Fix("3")
    return None


def numel(shape) -> int:
    return prod(shape)


def even_split(layer: str, arg: str, total: int, parts: int, what: str) -> None:
    if total % parts:
        raise ShapeError(_("{layer}: {what} ({total}) is not divisible by {arg} ({parts})", layer=layer, what=what,
                           total=total, arg=arg, parts=parts),
                         [_("choose {arg} so that it divides {total}, e.g. 1", arg=arg, total=total)], arg=arg)


def norm_dim(layer: str, arg: str, dim: int, x: Tensor) -> int:
    """A `dim` argument as a non-negative index into (N, *shape); the batch dimension is 0."""
    rank = len(x.shape) + 1
    if not -rank <= dim < rank:
        raise ShapeError(_("{layer}: {arg}={dim} is out of range for its input {shape}, which has {rank} "
                           "dimensions (N is dimension 0)", layer=layer, arg=arg, dim=dim, shape=fmt(x.shape),
                           rank=rank),
                         [_("use a {arg} between {low} and {high}; the last dimension is -1", arg=arg, low=-rank,
                            high=rank - 1)], arg=arg)
    return dim % rank
