"""Element-wise activations, and the softmax family."""
from __future__ import annotations

from ..i18n import _
from ..registry import Args, LayerType, Out, ShapeError, Tensor, choice, fmt, inplace, integer, number
from .common import batched, norm_dim


def _same(a: Args, x: Tensor) -> Out:
    return Out(x.shape)


def _prelu(a: Args, x: Tensor) -> Out:
    n = a["num_parameters"]
    if n != 1 and n != x.shape[0]:
        raise ShapeError(_("PReLU has num_parameters={n} but its input has {channels} channels (dimension 1 of "
                           "{shape})", n=n, channels=x.shape[0], shape=fmt(x.shape)),
                         [_("set num_parameters to 1 (one slope shared) or {channels} (one per channel)",
                            channels=x.shape[0])], arg="num_parameters")
    return Out(x.shape, n)


def _hardtanh(a: Args, x: Tensor) -> Out:
    if a["max_val"] <= a["min_val"]:
        raise ShapeError(_("Hardtanh: max_val ({high}) must be greater than min_val ({low})", high=a["max_val"],
                           low=a["min_val"]), [_("swap the two values")], arg="max_val")
    return Out(x.shape)


def _rrelu(a: Args, x: Tensor) -> Out:
    if a["lower"] > a["upper"]:
        raise ShapeError(_("RReLU: lower ({low}) must not be greater than upper ({high})", low=a["lower"],
                           high=a["upper"]), [_("swap the two values")], arg="lower")
    return Out(x.shape)


def _celu(a: Args, x: Tensor) -> Out:
    if a["alpha"] == 0:
        raise ShapeError(_("CELU divides by alpha, so alpha cannot be 0"),
                         [_("use alpha: 1.0 (the default), or any number other than 0")], arg="alpha")
    return Out(x.shape)


def _glu(a: Args, x: Tensor) -> Out:
    d = norm_dim("GLU", "dim", a["dim"], x)
    if d == 0:
        raise ShapeError(_("GLU: dim 0 is the batch dimension N; GLU would split the batch in two"),
                         [_("use dim: -1 (the default) or another feature dimension")], arg="dim")
    size = x.shape[d - 1]
    if size % 2:
        raise ShapeError(_("GLU halves dimension {dim} of its input, but that dimension has odd size {size}",
                           dim=d, size=size), [_("make that dimension even, or choose another dim")], arg="dim")
    return Out(x.shape[: d - 1] + (size // 2,) + x.shape[d:])


def _softmax(a: Args, x: Tensor) -> Out:
    norm_dim(a.layer, "dim", a["dim"], x)
    return Out(x.shape)


def _softmax2d(a: Args, x: Tensor) -> Out:
    if len(x.shape) != 3:
        raise ShapeError(_("Softmax2d expects an input of shape (N, C, H, W) but its input has {rank} dimensions",
                           rank=len(x.shape) + 1), [_("use Softmax with a dim instead")])
    return Out(x.shape)


def _act(name, summary, args=None, main=None, rule=_same, stricter="") -> LayerType:
    return LayerType(name, args or {}, rule, main=main, summary=summary, stricter=stricter)


_INPLACE = {"inplace": inplace()}

# A summary that is only a formula ("max(0, x)") stays a plain string: it has no words to translate.

LAYERS = [
    _act("ReLU", "max(0, x)", _INPLACE),
    _act("ReLU6", "min(max(0, x), 6)", _INPLACE),
    _act("LeakyReLU", _("x, or negative_slope * x below 0"),
         {"negative_slope": number(0.01), "inplace": inplace()}, main="negative_slope"),
    _act("PReLU", _("LeakyReLU with a learned slope (one, or one per channel)"),
         {"num_parameters": integer(1, minimum=1), "init": number(0.25)}, main="num_parameters", rule=_prelu),
    _act("RReLU", _("LeakyReLU with a random slope between lower and upper while training"),
         {"lower": number(0.125), "upper": number(1 / 3), "inplace": inplace()}, rule=_rrelu),
    _act("ELU", _("exponential linear unit"), {"alpha": number(1.0), "inplace": inplace()}, main="alpha"),
    _act("SELU", _("scaled exponential linear unit"), _INPLACE),
    _act("CELU", _("continuously differentiable ELU"),
         {"alpha": number(1.0), "inplace": inplace()}, main="alpha", rule=_celu),
    _act("GELU", _("Gaussian error linear unit"), {"approximate": choice("none", "none", "tanh")},
         main="approximate"),
    _act("SiLU", _("x * sigmoid(x), also called swish"), _INPLACE),
    _act("Mish", "x * tanh(softplus(x))", _INPLACE),
    _act("Sigmoid", "1 / (1 + exp(-x))"),
    _act("Tanh", _("hyperbolic tangent")),
    _act("Hardtanh", _("x clamped to [min_val, max_val]"),
         {"min_val": number(-1.0), "max_val": number(1.0), "inplace": inplace()}, rule=_hardtanh),
    _act("Hardswish", _("a cheap approximation of SiLU"), _INPLACE),
    _act("Hardsigmoid", _("a cheap approximation of Sigmoid"), _INPLACE),
    _act("Softplus", "log(1 + exp(beta * x)) / beta",
         {"beta": number(1.0), "threshold": number(20.0)}, main="beta"),
    _act("Softsign", "x / (1 + |x|)"),
    _act("Softshrink", _("shrinks x towards 0 by lambd"), {"lambd": number(0.5, minimum=0)}, main="lambd"),
    _act("Hardshrink", _("x where |x| > lambd, else 0"), {"lambd": number(0.5)}, main="lambd"),
    _act("Tanhshrink", "x - tanh(x)"),
    _act("Threshold", _("x where x > threshold, else value"),
         {"threshold": number(), "value": number(), "inplace": inplace()}),
    _act("LogSigmoid", "log(sigmoid(x))"),
    _act("GLU", _("gated linear unit: halves dimension dim"), {"dim": integer(-1)}, main="dim", rule=_glu,
         stricter=_("dim 0 would halve the batch dimension N; torch allows it when the batch is even")),
    _act("Softmax", _("softmax over dimension dim (N is 0; 1 is the class dimension)"),
         {"dim": integer(1)}, main="dim", rule=_softmax),
    _act("LogSoftmax", _("log of softmax over dimension dim"), {"dim": integer(1)}, main="dim", rule=_softmax),
    _act("Softmin", _("softmin over dimension dim"), {"dim": integer(1)}, main="dim", rule=_softmax),
    _act("Softmax2d", _("softmax over the channels of (N, C, H, W)"), rule=_softmax2d,
         stricter=batched("(N, C, H, W)")),
]
