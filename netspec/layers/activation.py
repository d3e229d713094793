"""Element-wise activations, and the softmax family."""
from __future__ import annotations

from ..registry import Args, LayerType, Out, ShapeError, Tensor, choice, inplace, integer, number
from .common import batched, norm_dim


def _same(a: Args, x: Tensor) -> Out:
    return Out(x.shape)


def _prelu(a: Args, x: Tensor) -> Out:
    n = a["num_parameters"]
    if n != 1 and n != x.shape[0]:
        raise ShapeError(f"PReLU has num_parameters={n} but its input has {x.shape[0]} channels "
                         f"(dimension 1 of (N, {', '.join(map(str, x.shape))}))",
                         [f"set num_parameters to 1 (one slope shared) or {x.shape[0]} (one per channel)"],
                         arg="num_parameters")
    return Out(x.shape, n)


def _hardtanh(a: Args, x: Tensor) -> Out:
    if a["max_val"] <= a["min_val"]:
        raise ShapeError(f"Hardtanh: max_val ({a['max_val']}) must be greater than min_val ({a['min_val']})",
                         ["swap the two values"], arg="max_val")
    return Out(x.shape)


def _rrelu(a: Args, x: Tensor) -> Out:
    if a["lower"] > a["upper"]:
        raise ShapeError(f"RReLU: lower ({a['lower']}) must not be greater than upper ({a['upper']})",
                         ["swap the two values"], arg="lower")
    return Out(x.shape)


def _celu(a: Args, x: Tensor) -> Out:
    if a["alpha"] == 0:
        raise ShapeError("CELU divides by alpha, so alpha cannot be 0",
                         ["use alpha: 1.0 (the default), or any number other than 0"], arg="alpha")
    return Out(x.shape)


def _glu(a: Args, x: Tensor) -> Out:
    d = norm_dim("GLU", "dim", a["dim"], x)
    if d == 0:
        raise ShapeError("GLU: dim 0 is the batch dimension N; GLU would split the batch in two",
                         ["use dim: -1 (the default) or another feature dimension"], arg="dim")
    size = x.shape[d - 1]
    if size % 2:
        raise ShapeError(f"GLU halves dimension {d} of its input, but that dimension has odd size {size}",
                         ["make that dimension even, or choose another dim"], arg="dim")
    return Out(x.shape[: d - 1] + (size // 2,) + x.shape[d:])


def _softmax(a: Args, x: Tensor) -> Out:
    norm_dim(a.layer, "dim", a["dim"], x)
    return Out(x.shape)


def _softmax2d(a: Args, x: Tensor) -> Out:
    if len(x.shape) != 3:
        raise ShapeError(f"Softmax2d expects an input of shape (N, C, H, W) but its input has "
                         f"{len(x.shape) + 1} dimensions", ["use Softmax with a dim instead"])
    return Out(x.shape)


def _act(name, summary, args=None, main=None, rule=_same, stricter="") -> LayerType:
    return LayerType(name, args or {}, rule, main=main, summary=summary, stricter=stricter)


_INPLACE = {"inplace": inplace()}

LAYERS = [
    _act("ReLU", "max(0, x)", _INPLACE),
    _act("ReLU6", "min(max(0, x), 6)", _INPLACE),
    _act("LeakyReLU", "x, or negative_slope * x below 0",
         {"negative_slope": number(0.01), "inplace": inplace()}, main="negative_slope"),
    _act("PReLU", "LeakyReLU with a learned slope (one, or one per channel)",
         {"num_parameters": integer(1, minimum=1), "init": number(0.25)}, main="num_parameters", rule=_prelu),
    _act("RReLU", "LeakyReLU with a random slope between lower and upper while training",
         {"lower": number(0.125), "upper": number(1 / 3), "inplace": inplace()}, rule=_rrelu),
    _act("ELU", "exponential linear unit", {"alpha": number(1.0), "inplace": inplace()}, main="alpha"),
    _act("SELU", "scaled exponential linear unit", _INPLACE),
    _act("CELU", "continuously differentiable ELU",
         {"alpha": number(1.0), "inplace": inplace()}, main="alpha", rule=_celu),
    _act("GELU", "Gaussian error linear unit", {"approximate": choice("none", "none", "tanh")},
         main="approximate"),
    _act("SiLU", "x * sigmoid(x), also called swish", _INPLACE),
    _act("Mish", "x * tanh(softplus(x))", _INPLACE),
    _act("Sigmoid", "1 / (1 + exp(-x))"),
    _act("Tanh", "hyperbolic tangent"),
    _act("Hardtanh", "x clamped to [min_val, max_val]",
         {"min_val": number(-1.0), "max_val": number(1.0), "inplace": inplace()}, rule=_hardtanh),
    _act("Hardswish", "a cheap approximation of SiLU", _INPLACE),
    _act("Hardsigmoid", "a cheap approximation of Sigmoid", _INPLACE),
    _act("Softplus", "log(1 + exp(beta * x)) / beta",
         {"beta": number(1.0), "threshold": number(20.0)}, main="beta"),
    _act("Softsign", "x / (1 + |x|)"),
    _act("Softshrink", "shrinks x towards 0 by lambd", {"lambd": number(0.5, minimum=0)}, main="lambd"),
    _act("Hardshrink", "x where |x| > lambd, else 0", {"lambd": number(0.5)}, main="lambd"),
    _act("Tanhshrink", "x - tanh(x)"),
    _act("Threshold", "x where x > threshold, else value",
         {"threshold": number(), "value": number(), "inplace": inplace()}),
    _act("LogSigmoid", "log(sigmoid(x))"),
    _act("GLU", "gated linear unit: halves dimension dim", {"dim": integer(-1)}, main="dim", rule=_glu,
         stricter="dim 0 would halve the batch dimension N; torch allows it when the batch is even"),
    _act("Softmax", "softmax over dimension dim (N is 0; 1 is the class dimension)",
         {"dim": integer(1)}, main="dim", rule=_softmax),
    _act("LogSoftmax", "log of softmax over dimension dim", {"dim": integer(1)}, main="dim", rule=_softmax),
    _act("Softmin", "softmin over dimension dim", {"dim": integer(1)}, main="dim", rule=_softmax),
    _act("Softmax2d", "softmax over the channels of (N, C, H, W)", rule=_softmax2d,
         stricter=batched("(N, C, H, W)")),
]
