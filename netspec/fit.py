"""The model against its data, before any data is read: model.input against the dataset's sample shape,
and the model's output against its class count (both known from datafacts for the usual datasets), and a
classifier's Linear that receives a whole image because its Flatten was left out. No torch here."""
from __future__ import annotations

from .datafacts import facts
from .errors import Fix, Problem
from .i18n import _
from .layers.linear import flatten_missing
from .registry import Tensor, fmt

CLASS_LOSSES = ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss")
# Layers after the last Linear that keep one score per class: they do not end a classifier's Linears.
_AFTER_OUTPUT = ("Identity", "Dropout", "AlphaDropout", "Softmax", "LogSoftmax", "Sigmoid")
# Layers whose output is an image-like (C, H, W) map: a Linear right after them wants a Flatten between.
_SPATIAL = ("Conv", "MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool", "LPPool", "FractionalMaxPool")


def _yaml(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _loss(spec: dict) -> str | None:
    """The loss a spec trains with (CrossEntropyLoss unless it says otherwise)."""
    loss = (spec.get("train") or {}).get("loss", "CrossEntropyLoss")
    return loss if isinstance(loss, str) else next(iter(loss), None) if isinstance(loss, dict) else None


def input_problems(spec: dict, x: Tensor) -> list[Problem]:
    """model.input against the shape the data section's dataset and transforms give one sample."""
    if not isinstance(spec.get("data"), dict) or x.dtype != "float32":
        return []
    known = facts(spec["data"], x.shape)
    if known.shape is None or tuple(x.shape) == tuple(known.shape):
        return []
    where = ("model", "input", "shape") if isinstance(spec["model"]["input"], dict) else ("model", "input")
    fix = Fix(_yaml(known.shape), path=where)
    line = "input: " + _yaml(known.shape)
    if len(x.shape) == 3 and len(known.shape) == 3 and (x.shape[2], x.shape[0], x.shape[1]) == tuple(known.shape):
        return [Problem(_("model.input {shape} is written channels last (height, width, channels); netspec, like "
                          "PyTorch, wants channels first: (channels, height, width)", shape=_yaml(x.shape)),
                        where, (_("write `{line}`", line=line),), fix=fix)]
    return [Problem(_("{dataset} gives samples of {data_shape} (channels, height, width), but model.input is "
                      "{shape}", dataset=known.dataset, data_shape=_yaml(known.shape), shape=_yaml(x.shape)),
                    where, (_("write `{line}`", line=line),), fix=fix)]


def output_problems(spec: dict, layers: list, x: Tensor) -> list[Problem]:
    """A classifier (its loss wants one score per class) whose Linear receives a convolution's or pool's
    output of more than one dimension, or whose number of scores differs from the dataset's class count.
    A model alone (no `data`, no `train`) is taken for a classifier only in the first case."""
    if _loss(spec) not in CLASS_LOSSES or not layers:
        return []
    out = layers[-1].output.shape
    if len(out) > 1:
        spatial = False
        for info in layers:
            inputs = [x if i < 0 else layers[i].output for i in info.node.inputs]
            spatial = spatial or info.type.startswith(_SPATIAL)
            if info.type == "Linear" and spatial and len(inputs) == 1 and len(inputs[0].shape) > 1:
                e = flatten_missing(info.type, inputs[0])
                fix = Fix("- Flatten", path=info.node.path, how="insert") if info.node.origin is None else None
                p = info.node.problem(e.message, e.hints)
                return [Problem(p.message, p.path, p.hints, notes=p.notes, fix=fix)]
        return []
    if not isinstance(spec.get("data"), dict):
        return []
    known = facts(spec["data"], x.shape)
    if known.classes is None or out[0] == known.classes:
        return []
    i = len(layers) - 1
    while i > 0 and layers[i].type in _AFTER_OUTPUT:
        i -= 1
    last, n = layers[i], known.classes
    if last.type == "Linear":
        fix = Fix(str(n), path=last.node.arg_path("out_features")) if last.node.origin is None else None
        p = last.node.problem(_("the model ends with {scores} scores, but {dataset} has {classes} classes: the last "
                                "Linear's out_features gives one score per class", scores=out[0],
                                dataset=known.dataset, classes=n),
                              (_("set out_features to {classes}", classes=n),), arg="out_features")
        return [Problem(p.message, p.path, p.hints, notes=p.notes, fix=fix)]
    entry = layers[-1].node
    fix = Fix(f"- Linear: {n}", path=entry.path, how="after") if entry.origin is None else None
    p = entry.problem(_("the model ends with {values} values from {layer}, but {dataset} has {classes} classes: a "
                        "classifier ends with a Linear that gives one score per class", values=out[0],
                        layer=last.type, dataset=known.dataset, classes=n),
                      (_("add `- Linear: {classes}` as the model's last layer", classes=n),))
    return [Problem(p.message, p.path, p.hints, notes=p.notes, fix=fix)]
