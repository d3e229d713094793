#!/usr/bin/env python3
"""Write netspec/train_args.json: the keyword arguments a spec may give each optimizer, loss and
scheduler that netspec/catalog.py lists, read from torch's own signatures (name, default, whether it
is required, its kind of value), with the values and ranges torch refuses at run time from the hand
table RULES below, so that `netspec check` judges a `train:` section without importing torch.
tests/test_trainargs.py checks every rule against torch and fails when the file drifts from this
script's output. Run it again after upgrading torch.

usage: python tools/make_train_args.py
"""
from __future__ import annotations

import ast
import inspect
import json
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "netspec" / "train_args.json"
sys.path.insert(0, str(ROOT))

from netspec.catalog import LOSSES, OPTIMIZERS, SCHEDULERS  # noqa: E402

# The kinds of value (the vocabulary netspec/trainargs.py knows), by torch's annotation, `| None` removed.
KINDS = {
    "float": "number", "float | torch.Tensor": "number", "int": "integer", "bool": "boolean", "str": "text",
    "tuple[float, float]": "pair", "tuple[float | torch.Tensor, float | torch.Tensor]": "pair",
    "tuple[float | None, float]": "pair", "Iterable[int]": "integers",
    "float | list[float]": "number_or_list", "list[float] | float": "number_or_list",
    "torch.Tensor": "tensor", "Callable[[float], float]": "function",
}
SKIPPED = {"self", "params", "optimizer"}  # given by the runner, not by a spec
DEPRECATED = {"size_average", "reduce"}  # a loss's old spelling of `reduction`

GE0 = {"minimum": 0}
GT0 = {"exclusiveMinimum": 0}
UNIT = {"minimum": 0, "exclusiveMaximum": 1}  # [0, 1)
NONZERO = {"nonzero": True}  # torch divides by it
BY_NETSPEC = {"set_by_netspec": True}  # the runner gives it

# What torch refuses that its signatures do not say: {class or group: {argument: rule}}. A rule is a
# range (JSON Schema's words), `nonzero`, `values` (the only ones torch takes), `items` (a pair's
# two rules), `kind` (overriding the signature's), `set_by_netspec`, `example` (a value for a hint).
# tests/test_trainargs.py checks each against torch raising on a value just outside.
RULES = {
    "optimizers": {"lr": GE0, "eps": GE0, "weight_decay": GE0, "momentum": GE0, "betas": {"items": [UNIT, UNIT]},
                   # its step runs under autograd and updates the weights in place, which torch refuses
                   "differentiable": {"values": [False]}},
    # Adam and AdamW want betas "both floats or both Tensors": [0, 0.999] is refused, [0.0, 0.999] taken
    "Adam": {"betas": {"items": [UNIT | {"kind": "float"}, UNIT | {"kind": "float"}]}},
    "AdamW": {"betas": {"items": [UNIT | {"kind": "float"}, UNIT | {"kind": "float"}]}},
    "Adadelta": {"rho": {"minimum": 0, "maximum": 1}},
    "Adafactor": {"beta2_decay": {"maximum": 0}, "eps": {"items": [{"minimum": 0, "nullable": True}, GE0]},
                  "d": {"minimum": 1}},
    "Adagrad": {"lr_decay": GE0, "initial_accumulator_value": GE0},
    "LBFGS": {"line_search_fn": {"values": ["strong_wolfe"]}, "history_size": {"minimum": 1}},
    "NAdam": {"momentum_decay": GE0},
    "RMSprop": {"alpha": GE0},
    "Rprop": {"etas": {"items": [{"exclusiveMinimum": 0, "exclusiveMaximum": 1}, {"exclusiveMinimum": 1}]}},
    "SparseAdam": {"lr": GT0, "eps": GT0},
    "losses": {"reduction": {"values": ["none", "mean", "sum"]}},
    "CrossEntropyLoss": {"label_smoothing": {"maximum": 1}},
    "HuberLoss": {"delta": GT0},
    "KLDivLoss": {"reduction": {"values": ["none", "batchmean", "mean", "sum"]}},
    "MultiMarginLoss": {"p": {"values": [1, 2]}},
    "SmoothL1Loss": {"beta": GE0},
    # a run goes on from its checkpoint (`netspec train --resume`), not from a scheduler's last_epoch
    "schedulers": {"last_epoch": {"values": [-1]}},
    # ConstantLR divides by factor when its schedule ends
    "ConstantLR": {"factor": {"exclusiveMinimum": 0, "maximum": 1}},
    "CosineAnnealingLR": {"T_max": NONZERO | {"example": 10}},
    "CosineAnnealingWarmRestarts": {"T_0": {"minimum": 1, "example": 10}, "T_mult": {"minimum": 1}},
    "CyclicLR": {"base_lr": {"example": 0.001}, "max_lr": {"example": 0.01}},
    "ExponentialLR": {"gamma": {"example": 0.95}},
    "LinearLR": {"start_factor": {"exclusiveMinimum": 0, "maximum": 1}, "end_factor": {"minimum": 0, "maximum": 1}},
    "MultiStepLR": {"milestones": {"example": [30, 60]}},
    # torch wants a float for pct_start (0 is refused, 0.0 taken); netspec plans the steps from train.epochs
    "OneCycleLR": {"max_lr": {"example": 0.01}, "pct_start": {"kind": "float", "minimum": 0, "maximum": 1},
                   "div_factor": NONZERO, "final_div_factor": NONZERO, "total_steps": BY_NETSPEC, "epochs": BY_NETSPEC,
                   "steps_per_epoch": BY_NETSPEC},
    # 0.0 to a negative power, once the schedule reaches total_iters
    "PolynomialLR": {"power": GE0},
    "ReduceLROnPlateau": {"factor": {"exclusiveMaximum": 1}},
    "StepLR": {"step_size": NONZERO | {"example": 10}},
}


def annotation(param: inspect.Parameter) -> str:
    a = param.annotation
    return a if isinstance(a, str) else inspect.formatannotation(a)


def kind_of(text: str) -> tuple[str, list | None, bool]:
    """(kind, allowed values, nullable) of an annotation; a new annotation stops the script."""
    parts = [p for p in re.split(r" \| (?![^\[]*\])", text) if p != "None"]
    nullable = len(parts) < len(re.split(r" \| (?![^\[]*\])", text))
    text = " | ".join(parts)
    literal = re.fullmatch(r"Literal\[(.*)\]", text)
    if literal:
        return "text", list(ast.literal_eval(f"[{literal.group(1)}]")), nullable
    if text not in KINDS:
        raise SystemExit(f"unknown annotation {text!r}: add it to KINDS in {__file__}")
    return KINDS[text], None, nullable


def arguments(cls, group: str) -> dict:
    """Each keyword argument of cls that a spec may set, as netspec/trainargs.py reads it."""
    out = {}
    params = [p for p in inspect.signature(cls).parameters.values()
              if p.name not in SKIPPED | DEPRECATED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for position, p in enumerate(params):
        kind, values, nullable = kind_of(annotation(p))
        arg = {"kind": kind, "position": position, "required": p.default is p.empty}
        if p.default is not p.empty:
            default = list(p.default) if isinstance(p.default, tuple) else p.default
            arg["default"] = default
            nullable = nullable or default is None
        arg["nullable"] = nullable
        if kind == "pair":
            arg["items"] = [{}, {}]
        if values:
            arg["values"] = values
        arg.update(RULES.get(cls.__name__, {}).get(p.name, RULES[group].get(p.name, {})))
        out[p.name] = arg
    return out


def has_momentum(cls) -> bool:
    """Whether CyclicLR and OneCycleLR can cycle this optimizer's momentum (torch asks its defaults)."""
    import torch

    return bool({"momentum", "betas"} & set(cls([torch.nn.Parameter(torch.zeros(1))]).defaults))


def table() -> dict:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "optimizers": {n: {"args": arguments(getattr(torch.optim, n), "optimizers"),
                               "momentum": has_momentum(getattr(torch.optim, n))} for n in OPTIMIZERS},
            "losses": {n: {"args": arguments(getattr(torch.nn, n), "losses")} for n in LOSSES},
            "schedulers": {n: {"args": arguments(getattr(torch.optim.lr_scheduler, n), "schedulers")}
                           for n in SCHEDULERS},
        }


def generate() -> str:
    """The file's text: the same for the same torch."""
    return json.dumps(table(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    OUTPUT.write_text(generate())
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
