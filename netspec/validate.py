"""Validate stage: the JSON Schema, then what a schema cannot say, as plain-words Problems."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from .errors import Fix, Path, Problem, did_you_mean, format_path
from .i18n import Msg, _, either
from .loader import Document
from .registry import MAX_INT, layers
from .schema import META_KEYS, validation_schema
from .slips import layer_call
from .trainargs import check_train

_WORDS = {"integer": _("a whole number"), "number": _("a number"), "string": _("text"),
          "boolean": _("true or false"), "array": _("a list"), "object": _("a mapping (key: value)"),
          "null": _("empty")}
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
    full = validation_schema()
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
    entries = check_layer_lists(doc.data)
    written = {p.path for p in entries if p.fix is not None}  # entries written as code: one message each
    problems = [p for prefix, err in schema_errors(doc.data) for p in _translate(err, prefix)
                if tuple(p.path) not in written]
    problems += entries + check_train(doc.data.get("train"))
    placed = {}
    for p in problems:
        p = doc.place(_with_fix(p, doc))
        placed.setdefault((p.line, p.column, p.message), p)
    return sorted(placed.values(), key=lambda p: (p.line or 0, p.column or 0))


def _with_fix(p: Problem, doc: Document) -> Problem:
    """A problem whose hint names exactly one right name gets the edit that writes it: the key renamed,
    or the value replaced."""
    if p.fix is not None:
        return p
    for hint in p.hints:
        if isinstance(hint, Msg) and hint.id == "did you mean {names}?" and isinstance(hint.args["names"], str) \
                and not isinstance(hint.args["names"], Msg):
            return replace(p, fix=Fix(hint.args["names"], path=tuple(p.path), how="rename" if p.at_key else "replace"))
        if isinstance(hint, Msg) and hint.id in _VALUE_HINTS and p.path and \
                str(hint.args["line"]).startswith(f"{p.path[-1]}: "):
            return replace(p, fix=Fix(str(hint.args["line"])[len(str(p.path[-1])) + 2:], path=tuple(p.path)))
    return p


# hints that show the line `key: value` to write instead of the one written
_VALUE_HINTS = ("write it without quotes: `{line}`", "write it in plain half-width characters: `{line}`",
                "write it without the decimal point: `{line}`", "write it with a decimal point: `{line}`")


def number_fix(value, types, path: Path) -> Fix | None:
    """A number written as text ("0.001") or a whole number written with a point (6.0): the number."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        if "number" in types or "integer" in types and number.is_integer() and value.strip().lstrip("+-").isdigit():
            return Fix(value.strip(), path=path)
    elif isinstance(value, float) and "integer" in types and value.is_integer():
        return Fix(str(int(value)), path=path)
    return None


def entry_problems(kind: str, value, path: tuple) -> list[Problem]:
    """The schema's problems with one layer's arguments (a block's entry, params substituted)."""
    _, per_layer = _validators()
    problems = [p for err in per_layer[kind].iter_errors(value) for p in _translate(err, path)]
    if not problems and not isinstance(value, dict):
        problems = _check_entry(path[:-1], {kind: value}, list(layers()))
    return problems


def describe(value) -> str:
    """A value in words (a Msg), or as YAML writes it: 'the text "five"', '5', 'true', 'a list'."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return _("empty")
    if isinstance(value, (int, float)):
        return repr(value)  # 1.0 stays 1.0: a size must be written 1
    if isinstance(value, str):
        return _("the text \"{text}\"", text=value)
    return _("a list") if isinstance(value, list) else _("a mapping")


def label(path: Path, value=None) -> str:
    """How a message names the place: "Conv2d's kernel_size", or "train.epochs"."""
    table = layers()
    for i in range(len(path) - 1, 0, -1):
        if isinstance(path[i], str) and path[i] in table and isinstance(path[i - 1], int):
            rest = format_path(path[i + 1:])
            main = table[path[i]].main
            if main and (not rest and not isinstance(value, dict) or rest.startswith("[")):
                rest = main + rest  # the short form `- MaxPool2d: 2` sets the main argument
            if rest:
                return _("{layer}'s {arg}", layer=path[i], arg=rest)
            return _("the value beside {layer}", layer=path[i])
    return format_path(path) or _("the spec")


def _expected(types, words=_WORDS) -> str:
    types = [types] if isinstance(types, str) else list(types)
    return either([words.get(t, t) for t in types])


def _translate(err, prefix=()) -> list[Problem]:
    problems = _problems(err, prefix)
    extra = err.schema.get("x-hint") if isinstance(err.schema, dict) else None
    if extra:
        problems = [replace(p, hints=p.hints + (Msg(extra),)) for p in problems]  # the schema keeps plain str
    return problems


def _problems(err, prefix) -> list[Problem]:
    path, value, kw, want = prefix + tuple(err.absolute_path), err.instance, err.validator, err.validator_value
    where = label(path, value)
    if "propertyNames" in err.relative_schema_path:
        if kw == "enum":
            return [_unknown_name(path, value, want)]
        return [Problem(_("`{name}` is not a valid name here", name=value), path + (value,), at_key=True,
                        hints=(_("names are letters, digits and _ and start with a letter"),))]
    if kw == "enum" and isinstance(value, str) and (path and path[-1] in _KINDS or path[-2:-1] in _LISTS):
        return [_unknown_name(path, value, want, at_key=False)]
    if kw == "type":
        return [_type_problem(path, value, want, where, err.schema)]
    if kw == "enum":
        options = ", ".join(str(v) for v in want if v is not None)
        return [Problem(_("{where} must be one of {allowed}, but it is {value}", where=where, allowed=options,
                          value=describe(value)), path,
                        did_you_mean(str(value), [str(v) for v in want if v is not None]))]
    if kw == "const":
        if path == ("netspec",):
            line = f"netspec: {want}"
            return [Problem(_("netspec is the spec-language version; this netspec reads version {version}, "
                              "but the file says {value}", version=want, value=describe(value)), path,
                            (_("write `{line}`", line=line),))]
        return [Problem(_("{where} must be {allowed}, but it is {value}", where=where, allowed=want,
                          value=describe(value)), path)]
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [_range_problem(path, value, kw, want, where, err.schema)]
    if kw in ("minItems", "maxItems"):
        return [_count_problem(path, value, kw, where, err.schema)]
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
        return [Problem(_("{where} must name exactly one choice, e.g. {example}", where=where, example=example),
                        path)]
    if kw == "pattern":
        expected = err.schema.get("x-expected")
        if expected:  # the schema keeps a plain str: its Msg again, for the catalogue
            return [Problem(_("{where} must be {allowed}, but it is {value}", where=where, allowed=Msg(expected),
                              value=describe(value)), path,
                            fix=Fix("auto", path=path) if path == ("train", "device") else None)]
        return [Problem(_("{where} is not valid ({value})", where=where, value=describe(value)), path)]
    if kw == "minLength":
        return [Problem(_("{where} must not be empty", where=where), path)]
    return [Problem(_("{where}: {message}", where=where, message=err.message), path)]  # jsonschema's own words


def _count_problem(path: Path, value, kw: str, where, schema: dict) -> Problem:
    """Too few or too many values in a list: "exactly 2", "at least 1", "at most 8"."""
    lo, hi = schema.get("minItems"), schema.get("maxItems")
    if lo == hi:
        count = _("exactly {n}", n=lo)
    else:
        count = _("at least {n}", n=lo) if kw == "minItems" else _("at most {n}", n=hi)
    fields = {"where": where, "count": count, "n": len(value)}
    if lo == hi and lo and lo > 1:
        return Problem(_("{where} must hold {count} values (one per dimension), but it holds {n}", **fields), path,
                       (_("give one value per dimension, e.g. {example}, or a single number for all of them",
                          example=str([3] * lo)),))
    if (hi or lo) != 1:
        return Problem(_("{where} must hold {count} values, but it holds {n}", **fields), path)
    return Problem(_("{where} must hold {count} value, but it holds {n}", **fields), path)


_KINDS = {"dataset": "dataset", "optimizer": "optimizer", "loss": "loss", "scheduler": "scheduler"}
_LISTS = {("transform",), ("augment",)}


def _unknown_kind(kind: str, name: str):
    """'unknown dataset `X`': a whole sentence per kind, so that a translator can word each."""
    return {"dataset": _("unknown dataset `{name}`", name=name),
            "optimizer": _("unknown optimizer `{name}`", name=name),
            "loss": _("unknown loss `{name}`", name=name),
            "scheduler": _("unknown scheduler `{name}`", name=name),
            "transform": _("unknown transform `{name}`", name=name),
            "name": _("unknown name `{name}`", name=name)}[kind]


def _known_kind(kind: str, names: str):
    return {"dataset": _("the datasets netspec knows are: {names}", names=names),
            "optimizer": _("the optimizers netspec knows are: {names}", names=names),
            "loss": _("the losses netspec knows are: {names}", names=names),
            "scheduler": _("the schedulers netspec knows are: {names}", names=names),
            "transform": _("the transforms netspec knows are: {names}", names=names),
            "name": _("the names netspec knows are: {names}", names=names)}[kind]


def _unknown_name(path: Path, name, choices: list, at_key: bool = True) -> Problem:
    """An unknown dataset, transform, optimizer, loss or scheduler name, with 'did you mean'."""
    name = str(name)
    kind = _KINDS.get(path[-1], "transform") if path else "name"
    place = path + (name,) if at_key else path
    return Problem(_unknown_kind(kind, name), place, did_you_mean(name, choices) or
                   (_known_kind(kind, ", ".join(choices)),), at_key=at_key)


def _range_problem(path: Path, value, kw: str, want, where, schema: dict) -> Problem:
    fields = {"where": where, "bound": want, "value": describe(value)}
    message = {"minimum": _("{where} must be at least {bound}, but it is {value}", **fields),
               "maximum": _("{where} must be at most {bound}, but it is {value}", **fields),
               "exclusiveMinimum": _("{where} must be greater than {bound}, but it is {value}", **fields),
               "exclusiveMaximum": _("{where} must be less than {bound}, but it is {value}", **fields)}[kw]
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    lo = None if lo is not None and lo <= -MAX_INT else lo  # the technical bounds of int32 and float32
    hi = None if hi is not None and hi >= MAX_INT else hi  # are not worth a person's attention
    if lo is not None and hi is not None:
        hint = _("use a value between {low} and {high}", low=lo, high=hi)
    elif kw in ("minimum", "exclusiveMinimum"):
        hint = _("use {bound} or more", bound=want) if kw == "minimum" else _("use a value above {bound}", bound=want)
    else:
        hint = _("use {bound} or less", bound=want) if kw == "maximum" else _("use a value below {bound}", bound=want)
    if kw == "maximum" and want == 1 and not isinstance(value, bool) and 2 <= value <= 100 and value == int(value):
        return Problem(message, path, (_("{value} looks like a percentage: write it as a fraction, {fraction}",
                                         value=value, fraction=value / 100), hint), fix=Fix(str(value / 100), path=path))
    return Problem(message, path, (hint,))


def _type_problem(path: Path, value, want, where, schema: dict) -> Problem:
    if len(path) >= 2 and isinstance(path[-2], int) and path[-1] in layers():
        lt = layers()[path[-1]]
        hints = (_("see `netspec layers {layer}` for its arguments", layer=lt.name),)
        if lt.main:
            return Problem(_("the value beside {layer} must be a mapping of its arguments or its {arg} ({expected}), "
                             "but it is {value}", layer=lt.name, arg=lt.main,
                             expected=_expected(lt.args[lt.main].schema.get("type", "string")),
                             value=describe(value)), path, hints)
        return Problem(_("the value beside {layer} must be a mapping of its arguments, but it is {value}",
                         layer=lt.name, value=describe(value)), path, hints)
    types = [want] if isinstance(want, str) else list(want)
    words = _WORDS
    n = schema.get("minItems")
    if "array" in types and n and n == schema.get("maxItems") and schema.get("items", {}).get("type"):
        words = dict(_WORDS, array=_("a list of {n} whole numbers", n=n))
    fix = number_fix(value, types, path)
    if fix is not None and isinstance(path[-1], str):
        line = f"{path[-1]}: {fix.text}"
        hints = (_("write it without quotes: `{line}`", line=line) if isinstance(value, str) else
                 _("write it without the decimal point: `{line}`", line=line),)
    else:
        hints = _example(path, types, schema)
    return Problem(_("{where} must be {allowed}, but it is {value}", where=where, allowed=_expected(types, words),
                     value=describe(value)), path, hints, fix=fix)


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
        line = f"{key}: {number}"
        return (_("write a number without quotes, e.g. `{line}`", line=line),)
    if "boolean" in types:
        yes, no = f"{key}: true", f"{key}: false"
        return (_("write `{yes}` or `{no}`", yes=yes, no=no),)
    return ()


def _missing(path: Path, key: str) -> Problem:
    if path and path[-1] in layers():
        line = f"{key}: ..."
        return Problem(_("{layer} needs {arg}", layer=path[-1], arg=key), path,
                       (_("add `{line}`; see `netspec layers {layer}`", line=line, layer=path[-1]),))
    section = f"{key}:"
    if not path:
        hint = _("add `{line}` as the first line", line="netspec: 1") if key == "netspec" else \
            _("add a `{line}` section", line=section)
        return Problem(_("the spec needs `{key}`", key=key), path, (hint,))
    where = format_path(path)
    return Problem(_("{path} needs `{key}`", path=where, key=key), path,
                   (_("add `{line}` under {path}", line=section, path=where),))


def _unknown_key(path: Path, key: str, allowed: list[str]) -> Problem:
    if path and path[-1] in layers():
        msg = _("{name} has no argument `{arg}`", name=path[-1], arg=key)
        hints = did_you_mean(key, allowed) + (_("`netspec layers {layer}` lists its arguments", layer=path[-1]),)
        if key == "batch_first":
            hints = (_("netspec always puts the batch first, as {shape}: leave {arg} out",
                       shape="(N, L, features)", arg=key),)
    elif not path:
        msg, hints = _("unknown top-level key `{key}`", key=key), did_you_mean(key, allowed) or (
            _("the top-level keys are {keys}", keys=", ".join(allowed)),)
    else:
        msg = _("{path} has no key `{key}`", path=format_path(path), key=key)
        hints = did_you_mean(key, allowed) or (_("its keys are {keys}", keys=", ".join(allowed)),)
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
    problems = [Problem(_("the block name `{name}` is already a layer type", name=name) if name in layers() else
                        _("the block name `{name}` is a key entries use beside their layer", name=name),
                        ("blocks", name), (_("rename the block, e.g. {example}", example="my_" + name.lower()),),
                        at_key=True)
                for name in blocks if name in layers() or name in META_KEYS]
    problems += [Problem(_("a block's name starts with a lower-case letter, as `{name}` does not: names that start "
                           "with a capital are layer types", name=name), ("blocks", name),
                         (_("rename the block to `{suggestion}`, and its uses with it", suggestion=_lower(name)),),
                         at_key=True)
                 for name in blocks if name not in layers() and name[:1].isalpha() and not name[:1].islower()]
    for base, entries in layer_lists(data):
        for i, entry in enumerate(entries):
            problems.extend(_check_entry(base + (i,), entry, known))
    return problems


def _lower(name: str) -> str:
    """MyBlock -> my_block; BASIC -> basic."""
    if name.isupper():
        return name.lower()
    return "".join(("_" if i and c.isupper() and not name[i - 1].isupper() else "") + c.lower()
                   for i, c in enumerate(name))


def _check_entry(path: Path, entry, known: list[str]) -> list[Problem]:
    if isinstance(entry, str):
        name, value, at = entry, None, path
    elif isinstance(entry, dict):
        kinds = [k for k in entry if k not in META_KEYS]
        if not kinds:
            return [Problem(_("this entry has no layer type, only {keys}", keys=", ".join(entry)), path,
                            (_("write the layer's name first, e.g. `{line}` with the meta keys below it",
                               line="- ReLU:"),))]
        if len(kinds) > 1:
            return [Problem(_("one entry holds {count} layers ({layers}); each layer needs its own `- ` line",
                              count=len(kinds), layers=", ".join(kinds)), path + (kinds[1],),
                            (_("check the indentation: a line that starts a new layer begins with `- `"),),
                            at_key=True)]
        name, value, at = kinds[0], entry[kinds[0]], path + (kinds[0],)
    else:
        return []
    if isinstance(entry, str) and name not in known:
        written = _written_as_code(path, entry)
        if written is not None:
            return [written]
    if name not in known and OTHER_NAMES.get(name) in known:
        return [Problem(_("unknown layer type `{name}`", name=name), at,
                        (_("did you mean {names}?", names=OTHER_NAMES[name]),
                         _("{name} is what Keras calls it; PyTorch, and netspec, call it {torch_name}", name=name,
                           torch_name=OTHER_NAMES[name])), at_key=isinstance(entry, dict))]
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
    line = f"- {name}: {{{example}}}"
    return [Problem(_("{layer} needs {arg}", layer=name, arg=_all_of(missing)), at,
                    (_("write it as `{line}`", line=line),), at_key=isinstance(entry, dict))]


# Keras' names of layers, and PyTorch's
OTHER_NAMES = {"Dense": "Linear", "Conv2D": "Conv2d", "Conv1D": "Conv1d", "Conv3D": "Conv3d",
               "MaxPooling2D": "MaxPool2d", "MaxPooling1D": "MaxPool1d", "AveragePooling2D": "AvgPool2d",
               "GlobalAveragePooling2D": "AdaptiveAvgPool2d", "BatchNormalization": "BatchNorm2d",
               "Conv2DTranspose": "ConvTranspose2d", "LayerNormalization": "LayerNorm"}


def _written_as_code(path: Path, entry: str) -> Problem | None:
    """`- Conv2d(3, 6, 5)` (PyTorch's call) or `- Linear 84` (no colon): the YAML entry it means."""
    yaml_entry = layer_call(entry)
    if yaml_entry is not None:
        line = "- " + yaml_entry
        return Problem(_("`{text}` is how PyTorch writes a layer; a spec writes it as a YAML entry: the layer's "
                         "name, a colon, then its arguments by name", text=entry), path,
                       (_("write `{line}`", line=line),), fix=Fix(yaml_entry, path=path))
    name, _space, value = entry.partition(" ")
    known = layers().get(name)
    if known is not None and known.main and value.strip() and " " not in value.strip():
        line = f"- {name}: {value.strip()}"
        return Problem(_("a colon is missing after `{name}`: a layer's arguments follow `{name}:`", name=name), path,
                       (_("write `{line}`", line=line),), fix=Fix(f"{name}: {value.strip()}", path=path))
    return None


def _all_of(names: list[str]):
    """"a and b and c" (a Msg, so that "and" is said in the user's language); one name as it is."""
    if len(names) == 1:
        return names[0]
    return _("{first} and {rest}", first=names[0], rest=_all_of(names[1:]))
