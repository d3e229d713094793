"""Validate stage: the JSON Schema, then what a schema cannot say, as plain-words Problems."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from .errors import Path, Problem, did_you_mean, format_path
from .i18n import _
from .loader import Document
from .registry import MAX_INT, layers
from .schema import META_KEYS, schema

_WORDS = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
          "array": "a list", "object": "a mapping (key: value)", "null": "empty"}
_SECTIONS = {"model": "model", "data": "data", "train": "train", "output": "output", "blocks": "blocks"}


@lru_cache(maxsize=1)
def validator_class():
    """Draft 2020-12, except that an integer is an int: JSON Schema counts 1.0 as one, torch does not."""
    from jsonschema import Draft202012Validator, validators

    strict = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool))
    return validators.extend(Draft202012Validator, type_checker=strict)


@lru_cache(maxsize=1)
def _validators():
    """A validator for the spec, and one per layer type for the layer entries.

    The schema dispatches each layer entry to its layer's `$defs` entry through an
    `if`/`then` per layer type; jsonschema tries every `if` of every entry, which takes
    most of a second on a 1,000-layer spec. Here the dispatch is done by name instead:
    the same schemas and the same errors (a test checks this), a fraction of the time.
    """
    Validator = validator_class()
    full = schema()
    entry = dict(full["$defs"]["layer_entry"])
    entry["else"] = {k: v for k, v in entry["else"].items() if k != "allOf"}
    outer = dict(full, **{"$defs": dict(full["$defs"], layer_entry=entry)})
    per_layer = {name: Validator(full["$defs"][name]) for name in layers()}
    return Validator(outer), per_layer


def schema_errors(data: dict):
    """(path prefix, jsonschema error) for every schema error in the document.

    A block's entries are checked when the block is used, once its params are substituted
    (see entry_problems); here only the model's own."""
    outer, per_layer = _validators()
    for err in outer.iter_errors(data):
        yield (), err
    for base, entries in layer_lists(data):
        if base[0] == "blocks":
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            for name, value in entry.items():
                if name in per_layer:
                    for err in per_layer[name].iter_errors(value):
                        yield base + (i, name), err


def validate(doc: Document) -> list[Problem]:
    """Every problem the schema finds, then the layer-entry checks; sorted by place in the file."""
    problems = []
    for prefix, err in schema_errors(doc.data):
        problems.extend(_translate(err, prefix))
    problems.extend(check_layer_lists(doc.data))
    placed = {}
    for p in problems:
        p = doc.place(p)
        placed.setdefault((p.line, p.column, p.message), p)
    return sorted(placed.values(), key=lambda p: (p.line or 0, p.column or 0))


def entry_problems(kind: str, value, path: tuple) -> list[Problem]:
    """The schema's problems with one layer's arguments (a block's entry, params substituted)."""
    _, per_layer = _validators()
    problems = [p for err in per_layer[kind].iter_errors(value) for p in _translate(err, path)]
    if not problems and not isinstance(value, dict):
        problems = _check_entry(path[:-1], {kind: value}, list(layers()))
    return problems


def describe(value) -> str:
    """A value in words: 'the text "five"', 'the number 5', 'a list'."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "empty"
    if isinstance(value, (int, float)):
        return repr(value)  # 1.0 stays 1.0: a size must be written 1
    if isinstance(value, str):
        return f'the text "{value}"'
    return "a list" if isinstance(value, list) else "a mapping"


def label(path: Path, value=None) -> str:
    """How a message names the place: "Conv2d's kernel_size", or "train.epochs"."""
    table = layers()
    for i in range(len(path) - 1, 0, -1):
        if isinstance(path[i], str) and path[i] in table and isinstance(path[i - 1], int):
            rest = format_path(path[i + 1:])
            main = table[path[i]].main
            if main and (not rest and not isinstance(value, dict) or rest.startswith("[")):
                rest = main + rest  # the short form `- MaxPool2d: 2` sets the main argument
            return f"{path[i]}'s {rest}" if rest else f"the value beside {path[i]}"
    return format_path(path) or "the spec"


def _expected(types) -> str:
    types = [types] if isinstance(types, str) else list(types)
    return " or ".join(_WORDS.get(t, t) for t in types)


def _translate(err, prefix=()) -> list[Problem]:
    problems = _problems(err, prefix)
    extra = err.schema.get("x-hint") if isinstance(err.schema, dict) else None
    if extra:
        problems = [replace(p, hints=p.hints + (extra,)) for p in problems]
    return problems


def _problems(err, prefix) -> list[Problem]:
    path, value, kw, want = prefix + tuple(err.absolute_path), err.instance, err.validator, err.validator_value
    where = label(path, value)
    if "propertyNames" in err.relative_schema_path:
        if kw == "enum":
            return [_unknown_name(path, value, want)]
        return [Problem(f"`{value}` is not a valid name here", path + (value,), at_key=True,
                        hints=("names are letters, digits and _ and start with a letter",))]
    if kw == "enum" and isinstance(value, str) and (path and path[-1] in _KINDS or path[-2:-1] in _LISTS):
        return [_unknown_name(path, value, want, at_key=False)]
    if kw == "type":
        return [_type_problem(path, value, want, where, err.schema)]
    if kw == "enum":
        options = ", ".join(str(v) for v in want if v is not None)
        return [Problem(f"{where} must be one of {options}, but it is {describe(value)}", path,
                        did_you_mean(str(value), [str(v) for v in want if v is not None]))]
    if kw == "const":
        if path == ("netspec",):
            return [Problem(f"netspec is the spec-language version; this netspec reads version {want}, "
                            f"but the file says {describe(value)}", path, (f"write `netspec: {want}`",))]
        return [Problem(f"{where} must be {want}, but it is {describe(value)}", path)]
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [_range_problem(path, value, kw, want, where, err.schema)]
    if kw in ("minItems", "maxItems"):
        lo, hi = err.schema.get("minItems"), err.schema.get("maxItems")
        count = f"exactly {lo}" if lo == hi else (f"at least {lo}" if kw == "minItems" else f"at most {hi}")
        per_dim = lo == hi and lo and lo > 1
        hints = (f"give one value per dimension, e.g. {[3] * lo}, or a single number for all of them",) \
            if per_dim else ()
        return [Problem(f"{where} must hold {count} value{'s' if (hi or lo) != 1 else ''}"
                        f"{' (one per dimension)' if per_dim else ''}, but it holds {len(value)}", path, hints)]
    if kw == "required":
        # a misspelled required key is reported once, as the unknown key with its "did you mean"
        unknown = [k for k in value if k not in err.schema.get("properties", {})]
        return [_missing(path, key) for key in want if key not in value
                and not any(did_you_mean(u, [key]) for u in unknown)]
    if kw == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        return [_unknown_key(path, key, allowed) for key in value if key not in allowed]
    if kw in ("minProperties", "maxProperties"):
        example = "{RandomCrop: {size: 32}}" if path[-2:-1] in _LISTS else "{Adam: {lr: 0.001}}"
        return [Problem(f"{where} must name exactly one choice, e.g. {example}", path)]
    if kw == "pattern":
        expected = err.schema.get("x-expected")
        if expected:
            return [Problem(f"{where} must be {expected}, but it is {describe(value)}", path)]
        return [Problem(f"{where} is not valid ({describe(value)})", path)]
    if kw == "minLength":
        return [Problem(f"{where} must not be empty", path)]
    return [Problem(f"{where}: {err.message}", path)]


_KINDS = {"dataset": "dataset", "optimizer": "optimizer", "loss": "loss", "scheduler": "scheduler"}
_LISTS = {("transform",), ("augment",)}


def _unknown_name(path: Path, name, choices: list, at_key: bool = True) -> Problem:
    """An unknown dataset, transform, optimizer, loss or scheduler name, with 'did you mean'."""
    name = str(name)
    kind = _KINDS.get(path[-1], "transform") if path else "name"
    place = path + (name,) if at_key else path
    plural = "losses" if kind == "loss" else kind + "s"
    return Problem(f"unknown {kind} `{name}`", place, did_you_mean(name, choices) or
                   (f"the {plural} netspec knows are: {', '.join(choices)}",), at_key=at_key)


def _range_problem(path: Path, value, kw: str, want, where: str, schema: dict) -> Problem:
    words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "greater than",
             "exclusiveMaximum": "less than"}[kw]
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    lo = None if lo is not None and lo <= -MAX_INT else lo  # the technical bounds of int32 and float32
    hi = None if hi is not None and hi >= MAX_INT else hi  # are not worth a person's attention
    if lo is not None and hi is not None:
        hint = f"use a value between {lo} and {hi}"
    elif kw in ("minimum", "exclusiveMinimum"):
        hint = f"use {want} or more" if kw == "minimum" else f"use a value above {want}"
    else:
        hint = f"use {want} or less" if kw == "maximum" else f"use a value below {want}"
    return Problem(f"{where} must be {words} {want}, but it is {describe(value)}", path, (hint,))


def _type_problem(path: Path, value, want, where: str, schema: dict) -> Problem:
    if len(path) >= 2 and isinstance(path[-2], int) and path[-1] in layers():
        lt = layers()[path[-1]]
        main = f" or its {lt.main} ({_expected(lt.args[lt.main].schema.get('type', 'string'))})" if lt.main else ""
        return Problem(f"the value beside {lt.name} must be a mapping of its arguments{main}, "
                       f"but it is {describe(value)}", path,
                       (f"see `netspec layers {lt.name}` for its arguments",))
    types = [want] if isinstance(want, str) else list(want)
    expected = _expected(types)
    n = schema.get("minItems")
    if "array" in types and n and n == schema.get("maxItems") and schema.get("items", {}).get("type"):
        expected = expected.replace("a list", f"a list of {n} whole numbers")
    return Problem(f"{where} must be {expected}, but it is {describe(value)}", path, _example(path, types, schema))


def _example(path: Path, types: list, schema: dict) -> tuple[str, ...]:
    """A hint that shows a value of the right kind for this place."""
    key = path[-1] if path and isinstance(path[-1], str) else None
    if key is None:
        return ()
    default = schema.get("default")
    if "integer" in types or "number" in types:
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            number = default
        elif "integer" in types and schema.get("maximum", MAX_INT) >= MAX_INT:
            number = max(schema.get("minimum", 3), 3)
        else:
            number = schema.get("minimum", 1)
        return (f"write a number without quotes, e.g. `{key}: {number}`",)
    if "boolean" in types:
        return (f"write `{key}: true` or `{key}: false`",)
    return ()


def _missing(path: Path, key: str) -> Problem:
    if path and path[-1] in layers():
        return Problem(f"{path[-1]} needs {key}", path, (f"add `{key}: ...`; see `netspec layers {path[-1]}`",))
    if not path:
        hint = "add `netspec: 1` as the first line" if key == "netspec" else f"add a `{key}:` section"
        return Problem(f"the spec needs `{key}`", path, (hint,))
    return Problem(f"{format_path(path)} needs `{key}`", path, (f"add `{key}:` under {format_path(path)}",))


def _unknown_key(path: Path, key: str, allowed: list[str]) -> Problem:
    if path and path[-1] in layers():
        msg = f"{path[-1]} has no argument `{key}`"
        hints = did_you_mean(key, allowed) + (f"`netspec layers {path[-1]}` lists its arguments",)
        if key == "batch_first":
            hints = ("netspec always puts the batch first, as (N, L, features): leave batch_first out",)
    elif not path:
        msg, hints = f"unknown top-level key `{key}`", did_you_mean(key, allowed) or (
            f"the top-level keys are {', '.join(allowed)}",)
    else:
        msg = f"{format_path(path)} has no key `{key}`"
        hints = did_you_mean(key, allowed) or (f"its keys are {', '.join(allowed)}",)
    return Problem(msg, path + (key,), hints, at_key=True)


def layer_lists(data: dict):
    """(path, list) of every layer list in the spec: model.layers and each block's layers."""
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("layers"), list):
        yield ("model", "layers"), model["layers"]
    blocks = data.get("blocks")
    if isinstance(blocks, dict):
        for name, block in blocks.items():
            if isinstance(block, dict) and isinstance(block.get("layers"), list):
                yield ("blocks", name, "layers"), block["layers"]


def check_layer_lists(data: dict) -> list[Problem]:
    """Layer names and the arguments a short entry form leaves out; a schema cannot know the blocks."""
    blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
    known = list(layers()) + list(blocks)
    problems = [Problem(f"the block name `{name}` is already a layer type" if name in layers() else
                        f"the block name `{name}` is a key entries use beside their layer",
                        ("blocks", name), (f"rename the block, e.g. my_{name.lower()}",), at_key=True)
                for name in blocks if name in layers() or name in META_KEYS]
    for base, entries in layer_lists(data):
        for i, entry in enumerate(entries):
            problems.extend(_check_entry(base + (i,), entry, known))
    return problems


def _check_entry(path: Path, entry, known: list[str]) -> list[Problem]:
    if isinstance(entry, str):
        name, value, at = entry, None, path
    elif isinstance(entry, dict):
        kinds = [k for k in entry if k not in META_KEYS]
        if not kinds:
            return [Problem("this entry has no layer type, only " + ", ".join(entry), path,
                            ("write the layer's name first, e.g. `- ReLU:` with the meta keys below it",))]
        if len(kinds) > 1:
            return [Problem(f"one entry holds {len(kinds)} layers ({', '.join(kinds)}); each layer needs its "
                            f"own `- ` line", path + (kinds[1],),
                            ("check the indentation: a line that starts a new layer begins with `- `",), at_key=True)]
        name, value, at = kinds[0], entry[kinds[0]], path + (kinds[0],)
    else:
        return []
    if name not in known:
        return [Problem(_("unknown layer type `{name}`", name=name), at, did_you_mean(name, known) +
                        (_("`netspec layers` lists every layer type"),), at_key=isinstance(entry, dict))]
    lt = layers().get(name)
    if lt is None or isinstance(value, dict):
        return []
    given = {lt.main} if value is not None and lt.main else set()
    missing = [r for r in lt.required if r not in given]
    if not missing:
        return []
    example = ", ".join(f"{r}: ..." for r in lt.required)
    return [Problem(f"{name} needs {' and '.join(missing)}", at,
                    (f"write it as `- {name}: {{{example}}}`",), at_key=isinstance(entry, dict))]
