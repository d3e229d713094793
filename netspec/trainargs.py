"""The arguments of the `train` section's optimizer, loss and scheduler, checked without torch: their
names, kinds of value, allowed values and ranges as torch's signatures and checks have them (read from
netspec/train_args.json, which tools/make_train_args.py writes), so that `netspec check` finds what
training would refuse, in words rather than in Python's."""
from __future__ import annotations

import json
import math
import unicodedata
from functools import lru_cache
from importlib import resources

from .catalog import TRAIN_DEFAULTS
from .errors import Path, Problem, did_you_mean
from .i18n import _, either

SECTIONS = {"optimizer": "optimizers", "loss": "losses", "scheduler": "schedulers"}

# What a beginner types for an argument, and torch's names it may mean (looked up in lower case, - as _).
SYNONYMS = {
    "learning_rate": ("lr",), "learningrate": ("lr",), "rate": ("lr",), "weightdecay": ("weight_decay",),
    "wd": ("weight_decay",), "l2": ("weight_decay",), "decay": ("weight_decay", "gamma", "lr_decay"),
    "beta1": ("betas",), "beta2": ("betas",), "beta_1": ("betas",), "beta_2": ("betas",), "beta": ("betas",),
    "epsilon": ("eps",), "step": ("step_size",), "stepsize": ("step_size",), "steps": ("step_size", "milestones"),
    "milestone": ("milestones",), "smoothing": ("label_smoothing",), "size_average": ("reduction",),
    "reduce": ("reduction",), "ignore_label": ("ignore_index",), "max_learning_rate": ("max_lr",),
    "base_learning_rate": ("base_lr",), "min_learning_rate": ("min_lr",), "tmax": ("T_max",),
}


# Optimizers torch has that netspec's training loop (one step per batch, dense gradients) cannot drive.
UNTRAINABLE = {
    "LBFGS": lambda: _("LBFGS evaluates each batch several times per step (it needs a closure); netspec trains "
                       "with one forward and backward pass per batch, so it cannot use LBFGS"),
    "SparseAdam": lambda: _("SparseAdam works only with sparse gradients (Embedding with sparse: true and nothing "
                            "else); netspec's models have dense gradients, so it cannot use SparseAdam"),
}


@lru_cache(maxsize=1)
def table() -> dict:
    """{"optimizers"|"losses"|"schedulers": {name: {"args": {arg: rule}, ...}}}."""
    return json.loads(resources.files(__package__).joinpath("train_args.json").read_text(encoding="utf-8"))


def check_train(train) -> list[Problem]:
    """Every problem with the arguments of train.optimizer, train.loss and train.scheduler, and an optimizer
    netspec's training loop cannot drive. Unknown names and a value that is neither a name nor a mapping
    are the schema's to report, and are passed over."""
    entry = _entry(train.get("optimizer"), "optimizer") if isinstance(train, dict) else None
    if entry is not None and entry[0] in UNTRAINABLE:
        name, _args, path, at_key = entry
        others = [p for p in check_args(train) if p.path[:2] != ("train", "optimizer")]
        return [Problem(UNTRAINABLE[name](), path, (_("use {first} or {second} instead", first="Adam",
                                                      second="SGD"),), at_key=at_key)] + others
    return check_args(train)


def check_args(train) -> list[Problem]:
    """The arguments' problems alone: their names, kinds of value, allowed values and ranges, as torch's
    signatures and checks have them."""
    if not isinstance(train, dict):
        return []
    problems = []
    for section, group in SECTIONS.items():
        entry = _entry(train.get(section), section)
        if entry is None or entry[0] not in table()[group]:
            continue
        name, args, path, at_key = entry
        rules = table()[group][name]["args"]
        found = _names(name, rules, args, path, at_key, section)
        for arg, value in args.items():
            if arg in rules:
                found += _value(name, arg, rules[arg], value, path + (arg,))
        problems += found or _together(section, name, rules, args, path, at_key, train)
    return problems


def _entry(value, section: str):
    """(name, arguments, path, whether the path ends at the name's key) of `Adam` or `{Adam: {...}}`."""
    if isinstance(value, str):
        return value, {}, ("train", section), False
    if isinstance(value, dict) and len(value) == 1:
        (name, args), = value.items()
        if isinstance(args, dict) or args is None:
            return name, args or {}, ("train", section, name), True
    return None


def _settable(rules: dict) -> list[str]:
    """The arguments a spec can usefully give, in torch's order."""
    return [a for a, r in sorted(rules.items(), key=lambda kv: kv[1]["position"])
            if r["kind"] not in ("tensor", "function") and len(r.get("values", "..")) > 1
            and not r.get("set_by_netspec")]


def _guess(arg, rules: dict) -> str | None:
    """The argument a beginner's word for it means, when name has it: `learning_rate` -> lr."""
    word = str(arg).lower().replace("-", "_").replace(" ", "_")
    return next((n for n in SYNONYMS.get(word, (word,)) if n in rules), None)


def _names(name: str, rules: dict, args: dict, path: Path, at_key: bool, section: str) -> list[Problem]:
    """Arguments that name has not, and required ones left out."""
    problems = []
    unknown = [arg for arg in args if arg not in rules]
    for arg in unknown:
        guess = _guess(arg, rules)
        hints = (_("did you mean {names}?", names=guess),) if guess else did_you_mean(str(arg), rules)
        if guess and rules[guess]["kind"] == "pair":
            hints += (_("{arg} holds both numbers in one list: `{line}`", arg=guess,
                        line=_line(guess, _example(rules[guess]))),)
        problems.append(Problem(_("{name} has no argument `{arg}`", name=name, arg=arg), path + (arg,),
                                hints + (_("its arguments: {names}", names=", ".join(_settable(rules))),),
                                at_key=True))
    for arg in _settable(rules):
        # a misspelled required argument is reported once, as the unknown one with its "did you mean"
        meant = any(_guess(u, rules) == arg or did_you_mean(str(u), [arg]) for u in unknown)
        if rules[arg]["required"] and arg not in args and not meant:
            line = f"{section}: {{{name}: {_yaml({**args, arg: _example(rules[arg])})}}}"
            problems.append(Problem(_("{name} needs {arg}", name=name, arg=arg), path,
                                    (_("write it as `{line}`", line=line),), at_key=at_key))
    return problems


# Kinds of value: what fits, and how a message says it.
def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


FITS = {
    "number": _number, "float": lambda v: isinstance(v, float), "integer": _integer,
    "boolean": lambda v: isinstance(v, bool), "text": lambda v: isinstance(v, str),
    "integers": lambda v: isinstance(v, list) and all(map(_integer, v)),
    "pair": lambda v: isinstance(v, list) and len(v) == 2,
    "number_or_list": lambda v: _number(v) or isinstance(v, list) and all(map(_number, v)),
    "tensor": lambda v: False, "function": lambda v: False,
}
EXPECTED = {
    "number": _("a number"), "float": _("a number with a decimal point (torch refuses a whole number here)"),
    "integer": _("a whole number"), "boolean": _("true or false"), "text": _("text"),
    "integers": _("a list of whole numbers"), "pair": _("a list of two numbers"),
    "number_or_list": _("a number"),
}
EXAMPLES = {"number": 0.1, "float": 0.5, "integer": 10, "boolean": True, "integers": [30, 60], "pair": [0.9, 0.999],
            "number_or_list": 0.01}


def _value(name: str, arg: str, rule: dict, value, path: Path) -> list[Problem]:
    where = _("{name}'s {arg}", name=name, arg=arg)
    kind = rule["kind"]
    if rule.get("set_by_netspec"):
        return [Problem(_("netspec sets {where} itself, from train.epochs and the number of batches", where=where),
                        path, (_("leave `{arg}` out", arg=arg),))]
    if value is None and rule["nullable"]:
        return []
    if kind in ("tensor", "function"):
        message = (_("{where} takes a tensor, which a spec cannot give", where=where) if kind == "tensor" else
                   _("{where} takes a Python function, which a spec cannot give", where=where))
        return [Problem(message, path, (_("leave `{arg}` out", arg=arg),))]
    if "values" in rule:
        return _choice(where, arg, rule, value, path)
    if not FITS[kind](value):
        return [Problem(_("{where} must be {expected}, but it is {value}", where=where, expected=EXPECTED[kind],
                          value=_describe(value)), path, (_kind_hint(arg, rule, value),))]
    if kind == "pair":
        return [p for i, (v, item) in enumerate(zip(value, rule["items"]))
                for p in _item(name, arg, i, item | {"default": (rule.get("default") or [None, None])[i]}, value,
                               path + (i,))]
    if kind == "number_or_list" and isinstance(value, list) and len(value) != 1:
        return [Problem(_("{where} must be one number, or a list of one number (netspec trains one group of "
                          "parameters), but it holds {count}", where=where, count=len(value)), path,
                        (_("write one number, e.g. `{line}`", line=_line(arg, _example(rule))),))]
    return _range(where, arg, rule, value, path)


def _item(name: str, arg: str, i: int, rule: dict, pair: list, path: Path) -> list[Problem]:
    """The problem with one number of a pair (betas, etas), if any."""
    value = pair[i]
    if value is None and rule.get("nullable"):
        return []
    where = (_("the first number of {name}'s {arg}", name=name, arg=arg) if i == 0 else
             _("the second number of {name}'s {arg}", name=name, arg=arg))
    kind = rule.get("kind", "number")
    if not FITS[kind](value):
        hint = _kind_hint(arg, rule | {"kind": kind}, value, lambda v: _line(arg, pair[:i] + [v] + pair[i + 1:]))
        return [Problem(_("{where} must be {expected}, but it is {value}", where=where, expected=EXPECTED[kind],
                          value=_describe(value)), path, (hint,))]
    return _range(where, arg, rule, value, path)


def _choice(where, arg: str, rule: dict, value, path: Path) -> list[Problem]:
    values = rule["values"]
    if any(value == v and type(value) is type(v) for v in values):
        return []
    shown = [_yaml(v) for v in values]
    if len(values) == 1:
        return [Problem(_("{where} must be {allowed}, but it is {value}", where=where, allowed=shown[0],
                          value=_describe(value)), path,
                        (_("leave `{arg}` out: netspec can only use its default, {default}", arg=arg,
                           default=shown[0]),))]
    hints = did_you_mean(value, values) if isinstance(value, str) and all(isinstance(v, str) for v in values) else ()
    return [Problem(_("{where} must be one of {allowed}, but it is {value}", where=where, allowed=", ".join(shown),
                      value=_describe(value)), path, hints or (_("write e.g. `{line}`", line=_line(arg, values[0])),))]


def _range(where, arg: str, rule: dict, value, path: Path) -> list[Problem]:
    """The first bound the value breaks, compared as torch compares."""
    fields = {"where": where, "value": _describe(value)}
    if "minimum" in rule and not value >= rule["minimum"]:
        message = _("{where} must be at least {bound}, but it is {value}", bound=rule["minimum"], **fields)
    elif "exclusiveMinimum" in rule and not value > rule["exclusiveMinimum"]:
        message = _("{where} must be greater than {bound}, but it is {value}", bound=rule["exclusiveMinimum"],
                    **fields)
    elif "maximum" in rule and not value <= rule["maximum"]:
        message = _("{where} must be at most {bound}, but it is {value}", bound=rule["maximum"], **fields)
    elif "exclusiveMaximum" in rule and not value < rule["exclusiveMaximum"]:
        message = _("{where} must be less than {bound}, but it is {value}", bound=rule["exclusiveMaximum"], **fields)
    elif rule.get("nonzero") and value == 0:
        return [Problem(_("{where} must not be 0", where=where), path,
                        (_("write e.g. `{line}`", line=_line(arg, _example(rule))),))]
    else:
        return []
    return [Problem(message, path, (_range_hint(rule),))]


def _range_hint(rule: dict):
    low = rule.get("minimum", rule.get("exclusiveMinimum"))
    high = rule.get("maximum", rule.get("exclusiveMaximum"))
    if low is not None and high is not None:
        return _("use a value between {low} and {high}", low=low, high=high)
    if "minimum" in rule:
        return _("use {bound} or more", bound=low)
    if "exclusiveMinimum" in rule:
        return _("use a value above {bound}", bound=low)
    if "maximum" in rule:
        return _("use {bound} or less", bound=high)
    return _("use a value below {bound}", bound=high)


def _kind_hint(arg: str, rule: dict, value, put=None):
    """What to write instead; put(v) is the line that sets the argument to v."""
    put = put or (lambda v: _line(arg, v))
    kind = rule["kind"]
    if isinstance(value, str) and kind in ("number", "float", "integer", "number_or_list"):
        plain = unicodedata.normalize("NFKC", value).replace("。", ".").strip()  # a Chinese keyboard's digits
        number = _as_number(plain, kind)
        if number is not None and plain != value.strip():
            return _("write it in plain half-width characters: `{line}`", line=put(number))
        if number is not None:
            return _("write it without quotes: `{line}`", line=put(number))
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return _("write it without the decimal point: `{line}`", line=put(int(value)))
    if kind == "float" and _integer(value):
        return _("write it with a decimal point: `{line}`", line=put(float(value)))
    if kind == "boolean":
        return _("write `{arg}: true` or `{arg}: false`", arg=arg)
    return _("write e.g. `{line}`", line=put(_example(rule)))


def _as_number(text: str, kind: str):
    """The number a quoted text means, of the kind wanted, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if kind == "integer":
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else None
    if kind == "float":
        return number
    return int(number) if number.is_integer() and text.lstrip("+-").isdigit() else number


def _example(rule: dict):
    for value in (rule.get("example"), rule.get("default")):
        if value is not None and FITS[rule["kind"]](value):
            return value
    return EXAMPLES.get(rule["kind"], 0)


def _describe(value):
    """A value in words: 'the text "five"', '0.5', 'true', '[0.9]'."""
    if isinstance(value, bool) or _number(value):
        return _yaml(value)
    if value is None:
        return _("empty")
    if isinstance(value, str):
        return _("the text \"{text}\"", text=value)
    if isinstance(value, list):
        flow = _yaml(value) if all(v is None or isinstance(v, (bool, int, float)) for v in value) else ""
        return flow if flow and len(flow) <= 40 else _("a list of {count} values", count=len(value))
    return _("a mapping")


def _line(arg: str, value) -> str:
    """The YAML line that sets arg to value: `lr: 0.001`."""
    return f"{arg}: {_yaml(value)}"


def _yaml(value) -> str:
    """A value as a spec writes it (flow style)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(map(_yaml, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


# Rules between arguments, and between the scheduler and the optimizer; checked once each argument is
# right. Each takes (name, the arguments with their defaults, path, at_key) and gives a Problem or None.
def _nesterov(name: str, given: dict, path: Path, at_key: bool):
    if given.get("nesterov") and (not given["momentum"] > 0 or given["dampening"] != 0):
        fix = (_("add e.g. `{line}`, or leave nesterov out", line="momentum: 0.9") if not given["momentum"] > 0
               else _("leave dampening out, or write `{line}`", line="dampening: 0"))
        return Problem(_("{name}'s nesterov needs a momentum above 0 and a dampening of 0, but momentum is "
                         "{momentum} and dampening is {dampening}", name=name, momentum=given["momentum"],
                         dampening=given["dampening"]), path + ("nesterov",), (fix,))
    return None


def _fused_and_foreach(name: str, given: dict, path: Path, at_key: bool):
    if given.get("fused") is True and given.get("foreach") is True:
        return Problem(_("{name} cannot take `fused: true` and `foreach: true` together", name=name),
                       path + ("foreach",), (_("leave one of them out"),))
    return None


def _line_search(name: str, given: dict, path: Path, at_key: bool):
    """LBFGS's line search divides by lr and needs an evaluation of its own."""
    search = given.get("line_search_fn")
    if search and not given["lr"] > 0:
        return Problem(_("{name}'s line search ({search}) needs an lr above 0, but lr is {lr}", name=name,
                         search=search, lr=given["lr"]), path + ("lr",), (_("write e.g. `{line}`", line="lr: 1"),))
    if search and given["max_eval"] is not None and given["max_eval"] < 1:
        return Problem(_("{name}'s line search ({search}) needs a max_eval of 1 or more, but max_eval is "
                         "{max_eval}", name=name, search=search, max_eval=given["max_eval"]),
                       path + ("max_eval",), (_("leave `{arg}` out", arg="max_eval"),))
    return None


def _cycle_length(name: str, given: dict, path: Path, at_key: bool):
    """CyclicLR divides by the length of a cycle."""
    if "step_size_up" not in given:
        return None
    down = given["step_size_up"] if given["step_size_down"] is None else given["step_size_down"]
    if given["step_size_up"] + down == 0:
        return Problem(_("{name}'s step_size_up and step_size_down add up to 0: a cycle needs at least one step",
                         name=name), path, (_("write e.g. `{line}`", line="step_size_up: 2000"),), at_key=at_key)
    return None


TOGETHER = (_nesterov, _fused_and_foreach, _line_search, _cycle_length)


def _together(section: str, name: str, rules: dict, args: dict, path: Path, at_key: bool, train: dict):
    given = {a: args.get(a, rules[a].get("default")) for a in rules}
    problems = [p for rule in TOGETHER for p in [rule(name, given, path, at_key)] if p is not None]
    if section == "scheduler" and given.get("cycle_momentum"):
        optimizer = _entry(train.get("optimizer", TRAIN_DEFAULTS["optimizer"]), "optimizer")
        known = table()["optimizers"].get(optimizer[0]) if optimizer else None
        if known is not None and not known["momentum"]:  # torch asks the optimizer for momentum or betas
            problems.append(Problem(
                _("{scheduler} also cycles the optimizer's momentum, but {optimizer} has none", scheduler=name,
                  optimizer=optimizer[0]), path,
                (_("add `{line}` to {scheduler}, or use an optimizer with momentum, such as {examples}",
                   line="cycle_momentum: false", scheduler=name, examples=either(["SGD", "Adam"])),), at_key=at_key))
    return problems
