"""torchvision's classification models as layers: `- torchvision.resnet18: {num_classes: 10, weights: null}`.

Each entry's output shape, parameter count and MACs are measured by visionprobe.py, which ships and
caches the answers so that `netspec check` seldom imports torch.
"""
from __future__ import annotations

from ..i18n import _
from ..registry import Arg, Args, LayerType, Out, ShapeError, Tensor, channels, integer
from .common import need_rank
from .visionprobe import PREFIX, _cannot_take, _in_words, _table, probe, weights_of

MODELS = (
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121", "densenet161",
    "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l",
    "efficientnet_v2_m", "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mnasnet0_75",
    "mnasnet1_0", "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_16gf",
    "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf",
    "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf",
    "regnet_y_800mf", "regnet_y_8gf", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
    "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t",
    "swin_v2_b", "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32", "wide_resnet101_2", "wide_resnet50_2",
)


def _refusal(model: str, kwargs: dict, shape: tuple[int, ...], result: dict) -> tuple[str, str]:
    """The message and hint of a refused entry, said again from the answer's parts: an answer read from
    JSON (the child process, the cache, the shipped table) holds its words as English text only."""
    if "about" in result:
        said = _in_words(model, result)
        return said["error"], said["hint"]
    # the input: which the model takes, or (another argument may be the cause) the general hint
    hint = _size_hint(model if set(kwargs) <= {"num_classes"} else None)
    text, before = result["error"], _cannot_take(model, shape, "")
    return (_cannot_take(model, shape, text[len(before):]) if text.startswith(before) else text), hint


def weights_problem(model: str, weights, num_classes) -> tuple[str, tuple] | None:
    """Whether the weights name exists for the model and fits num_classes; checked without downloading."""
    if weights is None:
        return None
    from ..errors import did_you_mean

    known = weights_of(model)
    if weights not in known:
        return (_("{model} has no weights `{weights}`", model=PREFIX + model, weights=weights),
                did_you_mean(weights, list(known)) or (_("its weights: {names}", names=", ".join(known)),))
    classes = known[weights]
    if num_classes is not None and classes and num_classes != classes:
        return (_("the {weights} weights of {model} have {classes} classes, but num_classes is {num_classes}",
                  weights=weights, model=PREFIX + model, classes=classes, num_classes=num_classes),
                (_("remove num_classes (or set it to {classes}) and put a Linear after the model for your classes",
                   classes=classes),))
    return None


def _rule(model: str):
    def rule(a: Args, x: Tensor) -> Out:
        need_rank(a.layer, x, {3}, "(N, C, H, W)")
        if x.shape[0] != 3:  # each of them starts with a convolution of 3 input channels
            shape = f"[3, {x.shape[1]}, {x.shape[2]}]"
            raise ShapeError(_("{layer} takes colour images of 3 channels, but its input has {channels}",
                               layer=a.layer, channels=channels(x.shape[0])),
                             [_("give model.input 3 channels ({shape}), or put a Conv2d with out_channels: 3 before "
                                "the model", shape=shape)])
        kwargs = {k: v for k, v in a.items() if k not in ("weights", "model") and v is not None}
        wrong = weights_problem(model, a.get("weights"), a.get("num_classes"))
        if wrong:
            raise ShapeError(wrong[0], wrong[1], arg="weights")
        if a.get("weights") is not None and (set(kwargs) - {"num_classes"} or _weights_change(model, a["weights"])):
            kwargs["weights"] = a["weights"]  # measured as torchvision builds the model for these weights
        result = probe(model, kwargs, x.shape)
        if "error" in result:
            message, hint = _refusal(model, kwargs, x.shape, result)
            raise ShapeError(message, [hint], arg=result.get("arg"), at_key="arg" in result)
        a["model"] = model  # for the builder
        return Out(tuple(result["shape"]), result["params"], result["macs"], inner_bytes=result["inner_bytes"])
    return rule


def _weights_change(model: str, weights: str) -> bool:
    """Whether torchvision builds the model otherwise for these weights than without (shipped table)."""
    known = _table().get("weights_change", {})
    return model not in known or weights in known[model]


def _size_hint(model: str | None) -> str:
    """What input the model takes, from the shipped table (tools/make_torchvision_shapes.py); None: in general."""
    sizes = _table().get("sizes", {}).get(model, {}) if model else {}
    if "exactly" in sizes:
        e = sizes["exactly"]
        given, line = f"[3, {e}, {e}]", f"Upsample: {{size: {e}}}"
        return _("{model} takes {size}x{size} images: set model.input to {input}, or put `{line}` before the model",
                 model=PREFIX + model, size=e, input=given, line=line)
    if "smallest" in sizes:
        s = sizes["smallest"]
        given = f"[3, {s}, {s}]"
        return _("{model} takes images of {size}x{size} or larger: make model.input at least {input}, or put "
                 "`{line}` (the size it was made for) before the model", model=PREFIX + model, size=s,
                 input=given, line="Upsample: {size: 224}")
    return _("check the model's arguments in torchvision's documentation; and the input: most of these models "
             "want (N, 3, 224, 224), which a larger model.input or an Upsample first gives")


def _args() -> dict:
    weights = Arg({"type": ["string", "null"]}, None, False, _("null, DEFAULT or a weights name such as IMAGENET1K_V1"))
    return {"num_classes": integer(None, minimum=1, null=True), "weights": weights}


LAYERS = [
    LayerType(f"{PREFIX}{m}", _args(), _rule(m), main="num_classes", module="torchvision_model",
              summary=_("torchvision.models.{model}, built without downloading anything unless weights are asked "
                        "for", model=m),
              extra_args=True)
    for m in MODELS
]
