"""The train section's optimizer, loss and scheduler arguments: netspec/train_args.json is what
tools/make_train_args.py writes from torch; every hand rule in it is one torch enforces; and torch is
the oracle for check_train: for random arguments, check_train finds a problem exactly when torch
refuses to build the object or to use it once (an optimizer's step, a scheduler's steps, a loss on a
batch), as training would. check_train never imports torch.

Where netspec deliberately refuses more than torch, the drawn value is marked `odd` (only netspec's
refusal is checked) and STRICTER pins each such kind down with its reason.
"""
from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from torch.nn.functional import embedding

from netspec.evaluation import targets
from netspec.objectives import make_loss, make_optimizer, make_scheduler
from netspec.trainargs import SECTIONS, UNTRAINABLE, check_args, check_train, table
from tests.helpers import ROOT, examples
from tools import make_train_args

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]

BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
STEPS = 6  # the oracle's optimizer and scheduler steps: past a schedule's default end (total_iters 5)
PLAN = (50, 2)  # batches per epoch and epochs, from which netspec plans OneCycleLR's total_steps
# Values netspec checks that torch only reads in a setting a spec cannot reach: CyclicLR's scale_mode
# counts only beside a scale_fn, which a spec cannot give.
IGNORED_VALUES = {"scale_mode"}


def test_the_shipped_table_is_what_the_generator_writes():
    shipped = (ROOT / "netspec" / "train_args.json").read_text()
    assert make_train_args.generate() == shipped, "run python tools/make_train_args.py"


# Torch's verdict: build the object as the runner does, and use it once. --------------------------

def _closure(optimizer, param, sign: int):
    """A steep bowl (LBFGS returns before its line search when the gradient is below tolerance_grad),
    upside down for an optimizer that maximizes."""
    def closure():
        optimizer.zero_grad()
        rows = torch.tensor([0, 2])
        loss = (param - 1).pow(2).sum() if param.dim() == 1 else embedding(rows, param, sparse=True).pow(2).sum()
        loss = sign * 1000 * loss
        loss.backward()
        return loss
    return closure


def _param(optimizer_name: str):
    """A tiny parameter; SparseAdam's is an embedding table with sparse gradients, as SparseAdam needs."""
    if optimizer_name == "SparseAdam":
        return torch.nn.Embedding(3, 2, sparse=True).weight
    return torch.nn.Parameter(torch.zeros(3))


def _loss_inputs(name: str):
    out, y = torch.randn(4, 3, requires_grad=True), torch.tensor([0, 1, 2, 0])
    special = {"BCELoss": lambda: (out.sigmoid(), targets(y, out, name)),
               "GaussianNLLLoss": lambda: (out, torch.zeros(4, 3), torch.ones(4, 3)),
               "HingeEmbeddingLoss": lambda: (out, torch.ones(4, 3)),
               "MultiLabelMarginLoss": lambda: (out, torch.tensor([[0, 1, -1]] * 4)),
               "KLDivLoss": lambda: (out.log_softmax(1), targets(y, out, name))}
    return special.get(name, lambda: (out, targets(y, out, name)))()


def torch_error(section: str, name: str, args: dict, optimizer=("Adam", {})) -> str | None:
    """What torch says when it cannot build or use `{name: args}`, or None when it can."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if section == "loss":
                _, loss_fn = make_loss({name: args})
                loss_fn(*_loss_inputs(name)).sum().backward()
                return None
            opt_name, opt_args = (name, args) if section == "optimizer" else optimizer
            param = _param(opt_name)
            opt = make_optimizer({opt_name: opt_args}, [param])
            _, scheduler = make_scheduler({name: args}, opt, *PLAN) if section == "scheduler" else (None, None)
            sign = -1 if opt_args.get("maximize") is True else 1
            for _ in range(STEPS):
                loss = opt.step(_closure(opt, param, sign))
                if scheduler is not None:
                    scheduler.step(loss.item()) if name == "ReduceLROnPlateau" else scheduler.step()
    except Exception as e:  # noqa: BLE001 -- any refusal is the verdict
        return f"{type(e).__name__}: {e}"
    return None


# Every hand rule is one torch enforces: a value just inside is taken, one just outside refused. ----

def _near(bound, kind: str, side: int):
    """The value next to bound on side (+1 above, -1 below), of the argument's kind."""
    return bound + side if kind == "integer" else float(bound + side * 1e-3)


def _wrong(values: list):
    """A value of the same type as the allowed ones, which none of them is."""
    v = values[0]
    if isinstance(v, bool):
        return not v
    if isinstance(v, str):
        return v.upper() if v.upper() not in values else v + "x"
    return max(values) + 1


def _rule_cases():
    for group, classes in table().items():
        section = next(s for s, g in SECTIONS.items() if g == group)
        for name, entry in classes.items():
            for arg, rule in entry["args"].items():
                if arg in IGNORED_VALUES:
                    continue
                parts = [(None, rule)] + list(enumerate(rule.get("items", [])))
                for index, part in parts:
                    for key in BOUNDS + ("nonzero", "values"):
                        if key in part:
                            where = arg if index is None else f"{arg}[{index}]"
                            yield pytest.param(section, name, arg, index, key, id=f"{name}.{where}.{key}")
                    if part.get("kind") == "float":
                        yield pytest.param(section, name, arg, index, "float", id=f"{name}.{where}.float")


def _required(section: str, name: str) -> dict:
    rules = table()[SECTIONS[section]][name]["args"]
    return {a: r["example"] for a, r in rules.items() if r["required"]}


def _with(section: str, name: str, arg: str, index, value) -> dict:
    rule = table()[SECTIONS[section]][name]["args"][arg]
    if index is not None:
        pair = list(rule["default"])
        pair[index] = value
        value = pair
    return _required(section, name) | {arg: value}


@pytest.mark.parametrize("section, name, arg, index, key", list(_rule_cases()))
def test_each_hand_rule_is_one_torch_enforces(section, name, arg, index, key):
    rule = table()[SECTIONS[section]][name]["args"][arg]
    part = rule if index is None else rule["items"][index]
    kind = part.get("kind", "number")
    if key in BOUNDS:  # the bound and the value beside it, on the side torch takes and on the other
        bound = part[key]
        beside = _near(bound, kind, -1 if key in ("minimum", "exclusiveMaximum") else 1)
        inside, outside = ([bound], beside) if key in ("minimum", "maximum") else ([beside], bound)
        if kind == "float":
            inside, outside = [float(v) for v in inside], float(outside)
    elif key == "nonzero":
        inside, outside = [part.get("example", rule.get("default"))], 0
    elif key == "values":
        inside, outside = part["values"], _wrong(part["values"])
    else:  # a number torch wants as a float: the same number written as a whole number is refused
        inside, outside = [float(part["minimum"])], int(part["minimum"])
    for value in inside:
        args = _with(section, name, arg, index, value)
        assert torch_error(section, name, args) is None, f"torch refuses {args}"
        assert check_args({section: {name: args}}) == []
    args = _with(section, name, arg, index, outside)
    assert torch_error(section, name, args) is not None, f"torch takes {args}: the rule is not torch's"
    assert check_args({section: {name: args}}) != []


@pytest.mark.parametrize("section, name", [(s, n) for s, g in SECTIONS.items() for n in table()[g]])
def test_the_least_a_spec_can_write_works_and_each_required_argument_is_needed(section, name):
    least = _required(section, name)
    assert torch_error(section, name, least) is None and check_args({section: {name: least}}) == []
    for arg in least:
        short = {a: v for a, v in least.items() if a != arg}
        assert torch_error(section, name, short) is not None
        assert [p.message for p in check_args({section: {name: short}})] == [f"{name} needs {arg}"]


# The oracle. ---------------------------------------------------------------------------------------

def _bounds(rule: dict) -> list:
    return [rule[k] for k in BOUNDS if k in rule]


@st.composite
def _number(draw, rule: dict, integer: bool = False):
    near = [b + d for b in _bounds(rule) for d in ((-1, 0, 1) if integer else (-1, -1e-3, 0, 1e-3, 1))]
    near += [0, 1, -1, 2, 10] + ([] if integer else [0.5, 1e-3, 2.5, -0.5])
    if rule.get("default") is not None and not isinstance(rule["default"], list):
        near.append(rule["default"])
    if integer:
        return draw(st.one_of(st.sampled_from([int(n) for n in near]), st.integers(-3, 30)))
    value = draw(st.one_of(st.sampled_from(near), st.floats(-3, 3), st.integers(-3, 30)))
    return value if value == 0 or abs(value) > 1e-30 else 0.0  # the loader refuses what float32 cannot hold


def _odd(draw, rule: dict):
    """(a value of another kind than the argument takes, True)."""
    kind = rule["kind"]
    text = st.text(st.sampled_from("0123456789.e-abc"), min_size=1, max_size=5)
    wrong = [text, st.just({}), st.lists(text, min_size=1, max_size=2)]
    wrong += [] if rule["nullable"] else [st.none()]
    wrong += [] if kind == "boolean" else [st.booleans()]
    wrong += {"number": [], "number_or_list": [], "float": [st.integers(0, 1)],
              "integer": [st.sampled_from([2.5, 2.0, -1.0])], "boolean": [st.integers(0, 1)],
              "integers": [st.integers(0, 3), st.just([1.5])],
              "pair": [st.floats(0, 1), st.just([0.5]), st.just([0.5, 0.5, 0.5])],
              "tensor": [st.just([1, 2, 3]), st.floats(0, 1)], "function": [st.floats(0, 1)],
              "text": [st.integers(0, 3)]}[kind]
    return draw(st.one_of(wrong)), True


@st.composite
def value_for(draw, arg: str, rule: dict):
    """(value, odd): a value for the argument, and whether netspec refuses it where torch may not."""
    kind = rule["kind"]
    if kind in ("tensor", "function") or draw(st.integers(0, 9)) == 0:
        if rule["nullable"] and draw(st.booleans()):
            return None, False
        return _odd(draw, rule)
    if "values" in rule:
        values = rule["values"]
        if draw(st.booleans()):
            return draw(st.sampled_from(values)), False
        other = draw(st.sampled_from([_wrong(values), str(values[0]) + "s", str(values[0]).title()]))
        same_type = type(other) is type(values[0]) or isinstance(values[0], str) and isinstance(other, str)
        return other, not same_type or arg in IGNORED_VALUES
    if kind in ("number", "float", "integer"):
        value = draw(_number(rule, kind == "integer"))
        return (float(value) if kind == "float" else value), False
    if kind == "boolean":
        return draw(st.booleans()), False
    if kind == "pair":
        items = [draw(_number(item)) if not (item.get("nullable") and draw(st.booleans())) else None
                 for item in rule["items"]]
        return items, False
    if kind == "integers":
        return draw(st.lists(st.integers(-2, 12), max_size=3)), False
    numbers = draw(st.lists(_number(rule), min_size=1, max_size=2))  # number_or_list
    return (numbers[0] if draw(st.booleans()) else numbers), False


# Arguments not drawn: capturable: true needs the parameters on a GPU (torch refuses it on the CPU the
# oracle runs on, and netspec cannot know the device); OneCycleLR's step counts are netspec's (STRICTER).
NOT_DRAWN = {"capturable", "total_steps", "epochs", "steps_per_epoch"}
UNKNOWN = ["learning_rate", "Lr", "betas1", "weight-decay", "momentum_", "stepsize", "gama", "reduktion"]


def _number_of(args: dict, arg: str, default):
    value = args.get(arg, default)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _stricter(name: str, args: dict) -> list[str]:
    """Arguments netspec refuses though torch takes them in this combination (see STRICTER)."""
    out = []
    if name == "OneCycleLR" and args.get("cycle_momentum") is False:
        out += [a for a in ("base_momentum", "max_momentum") if isinstance(args.get(a), list) and len(args[a]) != 1]
    # what fails when the schedule ends, at last_epoch == total_iters: the oracle's steps reach 1 to STEPS
    end = _number_of(args, "total_iters", 5)
    if end is not None and not 1 <= end <= STEPS:
        power, factor = _number_of(args, "power", 1.0), _number_of(args, "factor", 0.5)
        out += ["power"] if name == "PolynomialLR" and power is not None and power < 0 else []
        out += ["factor"] if name == "ConstantLR" and factor == 0 else []
    return out


def _unjudged(name: str, args: dict) -> str | None:
    """Why torch's verdict on this case says nothing about the arguments, or None."""
    max_iter = _number_of(args, "max_iter", 20)
    if name == "LBFGS" and (max_iter is not None and max_iter < 1 or _number_of(args, "lr", 1) == 0):
        return "LBFGS takes no step (max_iter below 1) or stands still (lr 0): it meets none of the values it checks"
    momenta = [_number_of(args, a, 0.9) for a in ("base_momentum", "max_momentum")]
    if name in ("CyclicLR", "OneCycleLR") and any(m is not None and not 0 < m < 1 for m in momenta):
        return ("the cycled momentum goes into the optimizer's momentum or first beta, unchecked: outside (0, 1) "
                "it fails in some optimizers' steps (RMSprop, Adam's bias correction) and not in others")
    pct, total = _number_of(args, "pct_start", 0.3), PLAN[0] * PLAN[1]
    if name == "OneCycleLR" and pct is not None and 0 in (pct * total - 1, (total + 1) / 2 - pct * total):
        return "OneCycleLR divides by its phases' lengths, which depend on the number of batches"
    return None


@st.composite
def cases(draw):
    """(section, name, arguments, the scheduler's optimizer, odd arguments)."""
    section = draw(st.sampled_from(sorted(SECTIONS)))
    name = draw(st.sampled_from(sorted(table()[SECTIONS[section]])))
    rules = table()[SECTIONS[section]][name]["args"]
    args, odd = {}, []
    for arg, rule in sorted(rules.items()):
        wanted = draw(st.integers(0, 9)) >= (1 if rule["required"] else 7)  # most required ones, few others
        if arg in NOT_DRAWN or not wanted:
            continue
        value, strange = draw(value_for(arg, rule))
        args[arg] = value
        if strange:
            odd.append(arg)
    if draw(st.integers(0, 5)) == 0:
        args[draw(st.sampled_from(UNKNOWN))] = 1
    optimizer = draw(st.sampled_from(sorted(table()["optimizers"])))
    return section, name, args, optimizer, odd + _stricter(name, args)


def judge(section: str, name: str, args: dict, optimizer: str, odd: list) -> None:
    """check_train's verdict is torch's; an odd value is refused by netspec whatever torch does."""
    train = {section: {name: args}} | ({"optimizer": optimizer} if section == "scheduler" else {})
    problems = check_args(train)
    note(f"netspec: {[str(p.message) for p in problems]}")
    if odd:
        assert problems, f"netspec takes {odd}, which it should refuse"
        return
    if _unjudged(name, args):
        return
    error = torch_error(section, name, args, (optimizer, {}))
    note(f"torch: {error}")
    assert bool(problems) == (error is not None)


def test_check_train_agrees_with_torch():
    @settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=cases())
    def run(case):
        judge(*case)
    run()


# Where netspec refuses what torch takes, on purpose; each with its reason. -------------------------

STRICTER = [
    ("optimizer", "Adam", {"lr": True}, "true is not a number, though Python counts it as 1"),
    ("optimizer", "Adam", {"amsgrad": "no"}, "torch takes any value's truth: the text \"no\" would mean yes"),
    ("optimizer", "SGD", {"maximize": 0}, "0 is not false; a spec writes true or false"),
    ("optimizer", "Adam", {"betas": [0.9, 0.999, 0.5]}, "torch reads two numbers and ignores the rest"),
    ("scheduler", "StepLR", {"step_size": 2.5}, "torch's signature says int, and nothing checks it"),
    ("scheduler", "StepLR", {"step_size": 2, "last_epoch": -1.0}, "-1.0 is not the whole number -1"),
    ("scheduler", "MultiStepLR", {"milestones": [1.5]}, "milestones are epochs, whole numbers"),
    ("scheduler", "CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "gamma": "x"}, "torch reads gamma only in exp_range"),
    ("scheduler", "CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "scale_mode": "x"}, "read only beside a scale_fn"),
    ("scheduler", "OneCycleLR", {"max_lr": 0.1, "total_steps": 100}, "netspec plans the steps from train.epochs"),
    ("scheduler", "OneCycleLR", {"max_lr": 0.1, "epochs": 3}, "netspec plans the steps from train.epochs"),
    ("scheduler", "OneCycleLR", {"max_lr": 0.1, "cycle_momentum": False, "base_momentum": [0.8, 0.9]},
     "torch reads the momenta only when it cycles them; netspec checks them all the same"),
    ("scheduler", "PolynomialLR", {"total_iters": 0, "power": -1.0},
     "a negative power fails when the schedule ends (0.0 to a negative power); with total_iters 0 it never does"),
    ("scheduler", "ConstantLR", {"total_iters": 100, "factor": 0},
     "factor 0 fails when the schedule ends (it divides by factor), here after 100 epochs"),
    ("loss", "MultiMarginLoss", {"p": 2.0}, "torch's signature says int"),
    ("loss", "CrossEntropyLoss", {"size_average": False}, "deprecated: torch warns and maps it to reduction"),
]


@pytest.mark.parametrize("section, name, args, why", STRICTER, ids=[f"{c[1]}-{list(c[2])[-1]}" for c in STRICTER])
def test_stricter_than_torch(section, name, args, why):
    assert torch_error(section, name, args) is None, "torch refuses this too: no stricter case"
    problems = check_args({section: {name: args}})
    assert problems and all(p.hints for p in problems)


def test_capturable_is_left_to_torch_as_it_depends_on_the_device():
    assert check_args({"optimizer": {"Adam": {"capturable": True}}}) == []
    if not torch.cuda.is_available():
        assert "supported devices" in torch_error("optimizer", "Adam", {"capturable": True})


# What a beginner writes, and what netspec says. ----------------------------------------------------

BEGINNER = [
    ({"optimizer": {"Adam": {"lr": "0.001"}}}, ("train", "optimizer", "Adam", "lr"),
     "Adam's lr must be a number, but it is the text \"0.001\"", ["write it without quotes: `lr: 0.001`"]),
    ({"optimizer": {"Adam": {"learning_rate": 0.001}}}, ("train", "optimizer", "Adam", "learning_rate"),
     "Adam has no argument `learning_rate`",
     ["did you mean lr?", "its arguments: lr, betas, eps, weight_decay, amsgrad, foreach, maximize, capturable, "
                          "fused, decoupled_weight_decay"]),
    ({"optimizer": {"SGD": {"LR": 0.1}}}, ("train", "optimizer", "SGD", "LR"), "SGD has no argument `LR`",
     ["did you mean lr?", "its arguments: lr, momentum, dampening, weight_decay, nesterov, maximize, foreach, fused"]),
    ({"optimizer": {"AdamW": {"wd": 0.01}}}, ("train", "optimizer", "AdamW", "wd"), "AdamW has no argument `wd`",
     ["did you mean weight_decay?", "its arguments: lr, betas, eps, weight_decay, amsgrad, maximize, foreach, "
                                    "capturable, fused"]),
    ({"optimizer": {"Adam": {"beta1": 0.5}}}, ("train", "optimizer", "Adam", "beta1"), "Adam has no argument `beta1`",
     ["did you mean betas?", "betas holds both numbers in one list: `betas: [0.9, 0.999]`",
      "its arguments: lr, betas, eps, weight_decay, amsgrad, foreach, maximize, capturable, fused, "
      "decoupled_weight_decay"]),
    ({"optimizer": {"Adam": {"betas": [0.9, 1.0]}}}, ("train", "optimizer", "Adam", "betas", 1),
     "the second number of Adam's betas must be less than 1, but it is 1.0", ["use a value between 0 and 1"]),
    ({"optimizer": {"Adam": {"betas": [0, 0.999]}}}, ("train", "optimizer", "Adam", "betas", 0),
     "the first number of Adam's betas must be a number with a decimal point (torch refuses a whole number here), "
     "but it is 0", ["write it with a decimal point: `betas: [0.0, 0.999]`"]),
    ({"optimizer": {"SGD": {"lr": -0.1}}}, ("train", "optimizer", "SGD", "lr"),
     "SGD's lr must be at least 0, but it is -0.1", ["use 0 or more"]),
    ({"optimizer": {"SGD": {"lr": 0.1, "nesterov": True}}}, ("train", "optimizer", "SGD", "nesterov"),
     "SGD's nesterov needs a momentum above 0 and a dampening of 0, but momentum is 0 and dampening is 0",
     ["add e.g. `momentum: 0.9`, or leave nesterov out"]),
    ({"scheduler": "StepLR"}, ("train", "scheduler"), "StepLR needs step_size",
     ["write it as `scheduler: {StepLR: {step_size: 10}}`"]),
    ({"scheduler": {"StepLR": {"gamma": 0.5}}}, ("train", "scheduler", "StepLR"), "StepLR needs step_size",
     ["write it as `scheduler: {StepLR: {gamma: 0.5, step_size: 10}}`"]),
    ({"scheduler": {"StepLR": {"step_size": "10"}}}, ("train", "scheduler", "StepLR", "step_size"),
     "StepLR's step_size must be a whole number, but it is the text \"10\"",
     ["write it without quotes: `step_size: 10`"]),
    ({"scheduler": {"OneCycleLR": {"max_lr": 0.1, "pct_start": 0}}}, ("train", "scheduler", "OneCycleLR", "pct_start"),
     "OneCycleLR's pct_start must be a number with a decimal point (torch refuses a whole number here), but it is 0",
     ["write it with a decimal point: `pct_start: 0.0`"]),
    ({"optimizer": "Adagrad", "scheduler": {"OneCycleLR": {"max_lr": 0.1}}}, ("train", "scheduler", "OneCycleLR"),
     "OneCycleLR also cycles the optimizer's momentum, but Adagrad has none",
     ["add `cycle_momentum: false` to OneCycleLR, or use an optimizer with momentum, such as SGD or Adam"]),
    ({"loss": {"CrossEntropyLoss": {"reduction": "Mean"}}}, ("train", "loss", "CrossEntropyLoss", "reduction"),
     "CrossEntropyLoss's reduction must be one of none, mean, sum, but it is the text \"Mean\"",
     ["did you mean mean?"]),
    ({"loss": {"CrossEntropyLoss": {"weight": [1, 2]}}}, ("train", "loss", "CrossEntropyLoss", "weight"),
     "CrossEntropyLoss's weight takes a tensor, which a spec cannot give", ["leave `weight` out"]),
    ({"loss": {"CrossEntropyLoss": {"label_smoothing": 1.5}}},
     ("train", "loss", "CrossEntropyLoss", "label_smoothing"),
     "CrossEntropyLoss's label_smoothing must be at most 1, but it is 1.5", ["use 1 or less"]),
    ({"scheduler": {"StepLR": {"step_size": 5, "last_epoch": 3}}}, ("train", "scheduler", "StepLR", "last_epoch"),
     "StepLR's last_epoch must be -1, but it is 3", ["leave `last_epoch` out: netspec can only use its default, -1"]),
    ({"optimizer": {"Adam": {"lr": "0。002"}}}, ("train", "optimizer", "Adam", "lr"),
     "Adam's lr must be a number, but it is the text \"0。002\"",
     ["write it in plain half-width characters: `lr: 0.002`"]),
    ({"optimizer": {"Adam": {"amsgrad": "yes"}}}, ("train", "optimizer", "Adam", "amsgrad"),
     "Adam's amsgrad must be true or false, but it is the text \"yes\"",
     ["write `amsgrad: true` or `amsgrad: false`"]),
]


@pytest.mark.parametrize("train, path, message, hints", BEGINNER, ids=[c[2][:40] for c in BEGINNER])
def test_what_a_beginner_writes_gets_a_plain_answer(train, path, message, hints):
    (problem,) = check_args(train)
    assert (problem.path, problem.message, list(problem.hints)) == (path, message, hints)


def test_a_misspelled_required_argument_is_reported_once():
    problems = check_args({"scheduler": {"StepLR": {"stepsize": 10}}})
    assert [p.message for p in problems] == ["StepLR has no argument `stepsize`"]
    assert problems[0].hints[0] == "did you mean step_size?" and problems[0].at_key


def test_unknown_names_and_other_shapes_are_left_to_the_schema():
    for train in ({"optimizer": "Adamm"}, {"optimizer": {"Adam": 0.1}}, {"loss": ["MSELoss"]}, None, {},
                  {"optimizer": {"Adam": None}}, {"optimizer": {"Adam": {}, "SGD": {}}}):
        assert check_args(train) == []


def test_check_train_does_not_import_torch():
    code = ("import sys; from netspec.trainargs import check_train; "
            "assert check_train({'optimizer': {'Adam': {'lr': '0.1'}}, 'scheduler': 'StepLR'}); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_every_value_in_the_table_is_finite_json():
    def walk(v):
        if isinstance(v, float):
            assert math.isfinite(v)
        for w in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()):
            walk(w)
    walk(table())


@pytest.mark.parametrize("optimizer", [*UNTRAINABLE, {"LBFGS": {"lr": 1}}])
def test_an_optimizer_the_training_loop_cannot_drive_is_refused_by_check(optimizer):
    (p,) = check_train({"optimizer": optimizer, "loss": "CrossEntropyLoss"})
    name = optimizer if isinstance(optimizer, str) else next(iter(optimizer))
    assert p.message.startswith(f"{name} ") and "cannot use" in p.message and p.hints == ("use Adam or SGD instead",)
    assert p.path == (("train", "optimizer") if isinstance(optimizer, str) else ("train", "optimizer", name))
