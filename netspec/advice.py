"""Warnings: specs that torch accepts and that train, but that are almost certainly not what the person
meant (a Softmax before CrossEntropyLoss trains silently to lower accuracy). Each has a name, by which a
spec can silence it (`silence: [softmax-before-loss]`); `check` shows them after the errors and exits 0
unless asked to be strict. No torch here."""
from __future__ import annotations

from typing import Callable

from .errors import Fix, Problem
from .i18n import _

# Layers that change no shape and hold no weights: they do not separate two Linears, nor end a model.
_PASS_THROUGH = ("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Flatten")
_ACTIVATIONS = ("ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
                "Tanh", "Sigmoid", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Softsign", "Tanhshrink",
                "Threshold", "LogSigmoid", "Softmax", "LogSoftmax", "Softmin", "GLU")
_CLASS_LOSSES = ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss")
# A usual learning rate for each optimizer: a rate over 50x or under 1/10,000 of it is far outside.
USUAL_LR = {"Adam": 1e-3, "AdamW": 1e-3, "Adamax": 2e-3, "NAdam": 2e-3, "RAdam": 1e-3, "SGD": 1e-2,
            "ASGD": 1e-2, "RMSprop": 1e-2, "Adagrad": 1e-2, "Adadelta": 1.0, "Rprop": 1e-2, "LBFGS": 1.0,
            "SparseAdam": 1e-3, "Adafactor": 1e-2}

WARNINGS: dict[str, Callable] = {}  # name -> check(report, train) -> [Problem]


def warning(name: str):
    def register(fn):
        WARNINGS[name] = fn
        return fn
    return register


def _named(value) -> tuple[str | None, dict]:
    if value is None:
        return None, {}
    return (value, {}) if isinstance(value, str) else (next(iter(value)), next(iter(value.values())) or {})


def _loss(train: dict) -> str:
    return _named(train.get("loss", "CrossEntropyLoss"))[0]


def _last_real(layers: list) -> int:
    """The index of the model's last layer that is not a pass-through (Dropout, Identity, ...)."""
    i = len(layers) - 1
    while i > 0 and layers[i].type in _PASS_THROUGH:
        i -= 1
    return i


def _delete(info) -> Fix | None:
    """Deleting an entry of the model's own list (not one inside a block, which other uses share)."""
    return Fix("", path=info.node.path, how="delete") if info.node.origin is None else None


def _problem(info, message, hints, fix: Fix | None, name: str) -> Problem:
    p = info.node.problem(message, hints)
    return Problem(p.message, p.path, p.hints, notes=p.notes, fix=fix, code=name)


@warning("softmax-before-loss")
def _softmax_before_loss(layers, train) -> list[Problem]:
    loss, last = _loss(train), layers[-1] if layers else None
    if last is None or last.type not in ("Softmax", "LogSoftmax", "Sigmoid"):
        return []
    pairs = {("Softmax", "CrossEntropyLoss"): _("CrossEntropyLoss applies log-softmax itself: a Softmax before "
                                                 "it squeezes the scores, and the model trains slowly to a lower "
                                                 "accuracy"),
             ("LogSoftmax", "CrossEntropyLoss"): _("CrossEntropyLoss applies log-softmax itself: this "
                                                    "LogSoftmax does it a second time, for nothing"),
             ("Softmax", "NLLLoss"): _("NLLLoss expects log-probabilities (LogSoftmax), not probabilities"),
             ("Sigmoid", "BCEWithLogitsLoss"): _("BCEWithLogitsLoss applies the sigmoid itself: this one "
                                                 "squeezes the scores twice")}
    why = pairs.get((last.type, loss))
    if why is None:
        return []
    hint = _("delete this line: `netspec predict` still shows probabilities") if loss != "NLLLoss" else \
        _("use `- LogSoftmax: {dim: 1}` with NLLLoss, or delete this line and use CrossEntropyLoss")
    return [_problem(last, _("{layer} as the last layer, before {loss}: {why}", layer=last.type, loss=loss,
                             why=why), (hint,), _delete(last) if loss != "NLLLoss" else None,
                     "softmax-before-loss")]


@warning("activation-after-output")
def _activation_after_output(layers, train) -> list[Problem]:
    if len(layers) < 2 or _loss(train) not in _CLASS_LOSSES:
        return []
    last = layers[-1]
    if last.type in ("Softmax", "LogSoftmax") or last.type not in _ACTIVATIONS or layers[-2].type != "Linear":
        return []
    return [_problem(last, _("{layer} after the last Linear bends the class scores before {loss} (a ReLU, for "
                             "one, turns every negative score into 0), and the model learns worse",
                             layer=last.type, loss=_loss(train)),
                     (_("delete this line: the last Linear's scores go to the loss as they are"),),
                     _delete(last), "activation-after-output")]


@warning("dropout-before-output")
def _dropout_before_output(layers, train) -> list[Problem]:
    if len(layers) < 2 or not layers[-1].type.startswith("Dropout") and layers[-1].type != "AlphaDropout":
        return []
    last = layers[-1]
    return [_problem(last, _("{layer} as the last layer sets random class scores to 0 while training; dropout "
                             "belongs before a Linear, not after the output", layer=last.type),
                     (_("delete this line, or move it above the last Linear"),), _delete(last),
                     "dropout-before-output")]


@warning("two-linears")
def _two_linears(layers, train) -> list[Problem]:
    out = []
    for i, info in enumerate(layers):
        if info.type != "Linear" or info.node.inputs != (i - 1,) or i == 0:
            continue
        j = i - 1
        while j > 0 and layers[j].type in _PASS_THROUGH and layers[j].node.inputs == (j - 1,):
            j -= 1
        if layers[j].type == "Linear":
            out.append(_problem(info, _("two Linear layers with no activation between them ({first} and this "
                                        "one) are the same as one Linear: the second adds weights but no power",
                                        first=layers[j].name),
                                (_("add `- ReLU` before this line"),),
                                Fix("- ReLU", path=info.node.path, how="insert") if info.node.origin is None
                                else None, "two-linears"))
    return out


@warning("output-not-classes")
def _output_not_classes(layers, train) -> list[Problem]:
    if not layers or _loss(train) not in _CLASS_LOSSES or len(layers[-1].output.shape) == 1:
        return []
    last = layers[_last_real(layers)]
    shape = "(N, " + ", ".join(map(str, layers[-1].output.shape)) + ")"
    return [_problem(last, _("{loss} wants one score per class, (N, classes), but the model's output is "
                             "{shape}", loss=_loss(train), shape=shape),
                     (_("add `- Flatten` before the last Linear, or end the model with a Linear whose "
                        "out_features is the number of classes"),), None, "output-not-classes")]


def lr_warning(train: dict) -> list[Problem]:
    name, args = _named(train.get("optimizer"))
    lr = args.get("lr")
    usual = USUAL_LR.get(name)
    if usual is None or not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
        return []
    if usual / 10_000 <= lr <= usual * 50:
        return []
    where = ("train", "optimizer", name, "lr")
    return [Problem(_("a learning rate of {lr} is far from the usual {usual} for {optimizer}: training is "
                      "likely to {what}", lr=lr, usual=usual, optimizer=name,
                      what=_("jump around and end in NaN") if lr > usual else _("barely move")),
                    where, (_("try `lr: {usual}` and change it by factors of 3 from there", usual=usual),),
                    fix=Fix(str(usual), path=where), code="learning-rate")]


def advise(layers: list, doc_data: dict) -> list[Problem]:
    """Every warning for a valid spec, less those its `silence:` list names."""
    train = doc_data.get("train") or {}
    silenced = set(doc_data.get("silence") or ())
    if "data" not in doc_data and "train" not in doc_data:  # a model alone: not known to be a classifier
        silenced |= {"softmax-before-loss", "activation-after-output", "output-not-classes"}
    found = [p for name, check in WARNINGS.items() if name not in silenced for p in check(layers, train)]
    if "learning-rate" not in silenced:
        found += lr_warning(train)
    return found


NAMES = (*WARNINGS, "learning-rate", "memory")
