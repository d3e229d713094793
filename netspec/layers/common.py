"""Shape arithmetic shared by the layer families: the one conv/pool formula, and rank checks."""
from __future__ import annotations

from math import prod

from ..registry import ShapeError, Tensor, fmt

SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def ntuple(value, n: int) -> tuple:
    """An int (or None) repeated n times, or a list as a tuple."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def layout(d: int, channels: bool = True) -> str:
    return "(" + ", ".join(["N"] + (["C"] if channels else []) + list(SPATIAL[d])) + ")"


def batched(expected: str) -> str:
    """The `stricter` note of a layer that takes only batched input, e.g. batched("(N, C, H, W)")."""
    return (f"the input must be batched, {expected}; torch would also read one dimension less "
            f"as one unbatched sample")


def need_rank(layer: str, x: Tensor, ranks: set[int] | range, expected: str) -> None:
    """Refuse an input whose number of dimensions the layer cannot take."""
    if len(x.shape) not in ranks:
        hint = ("a layer after Flatten sees (N, features); put it before Flatten"
                if len(x.shape) == 1 else "check the layers before it, or use the layer made for this shape")
        raise ShapeError(f"{layer} expects an input of shape {expected} but its input is {fmt(x.shape)}", [hint])


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
    name = SPATIAL[d][dim]
    k = "x".join(map(str, kernels))
    s = "x".join(map(str, sizes))
    eff = [dl * (kk - 1) + 1 for kk, dl in zip(kernels, dilations)]
    dilated = f" (dilated to {'x'.join(map(str, eff))})" if any(dl != 1 for dl in dilations) else ""
    padded = f" with padding {'x'.join(map(str, pads))}" if any(pads) else ""
    formula = conv_formula(sizes[dim], kernels[dim], strides[dim], pads[dim], dilations[dim], ceil_mode)
    return ShapeError(
        f"{layer}: the input is {s}{padded} but the kernel is {k}{dilated}, so the output would be empty "
        f"({name}_out = {formula})",
        ["use a smaller kernel_size, add padding, or remove a pooling layer before it"], arg="kernel_size")


def numel(shape) -> int:
    return prod(shape)


def even_split(layer: str, arg: str, total: int, parts: int, what: str) -> None:
    if total % parts:
        raise ShapeError(f"{layer}: {what} ({total}) is not divisible by {arg} ({parts})",
                         [f"choose {arg} so that it divides {total}, e.g. 1"], arg=arg)


def norm_dim(layer: str, arg: str, dim: int, x: Tensor) -> int:
    """A `dim` argument as a non-negative index into (N, *shape); the batch dimension is 0."""
    rank = len(x.shape) + 1
    if not -rank <= dim < rank:
        raise ShapeError(f"{layer}: {arg}={dim} is out of range for its input {fmt(x.shape)}, which has "
                         f"{rank} dimensions (N is dimension 0)",
                         [f"use a {arg} between {-rank} and {rank - 1}; the last dimension is -1"], arg=arg)
    return dim % rank
