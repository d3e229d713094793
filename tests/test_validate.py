"""Validate stage: the generated schema, its checked-in copy, and readable errors for every mistake."""
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from netspec.compiler import check
from netspec.editorschema import schema, schema_json
from netspec.loader import loads
from netspec.registry import layers
from netspec.schema import validation_schema
from netspec.validate import schema_errors, validate, validator_class
from tests.helpers import ROOT, spec


def errors_of(data: dict) -> list:
    return check(data).errors


def test_checked_in_schema_is_the_generated_one():
    checked_in = (ROOT / "schemas" / "netspec.schema.json").read_text()
    assert checked_in == schema_json(), "run `netspec schema > schemas/netspec.schema.json`"


def test_schema_is_valid_draft_2020_12_with_one_def_per_layer():
    s = validation_schema()
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(layers()) <= set(s["$defs"])
    dispatch = s["$defs"]["layer_entry"]["else"]["allOf"]
    assert {d["if"]["required"][0] for d in dispatch} == set(layers())
    assert "oneOf" not in json.dumps(s)


def _all_spec_files():
    return sorted(p for p in (ROOT / "tests" / "specs").rglob("*.yaml")) + sorted((ROOT / "specs").glob("*.yaml"))


def _loadable(path: Path):
    try:
        return loads(path.read_bytes(), str(path)).data
    except Exception:
        return None


def _spoiled(data: dict) -> tuple[dict, set]:
    """The spec with one mistake planted in every layer entry of the model that has arguments (an unknown
    argument, or a word where a value goes) and an unknown top-level key; and the paths that must be reported."""
    import copy

    data, where = copy.deepcopy(data), set()
    data["trian"] = {}
    layers_ = data.get("model", {}).get("layers") if isinstance(data.get("model"), dict) else None
    for i, entry in enumerate(layers_ if isinstance(layers_, list) else []):
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        (name, args), = entry.items()
        if name not in layers() or name.startswith("torchvision."):  # torchvision judges its models' arguments
            continue
        if isinstance(args, dict) and args and "from" not in args:
            args["bogus_argument"] = 1
        elif isinstance(args, (int, float)) and not isinstance(args, bool):
            entry[name] = {"bogus_argument": args}
        else:
            continue
        where.add(("model", "layers", i, name))
    return data, where


def _both(data: dict) -> tuple[set, set]:
    full = {(tuple(e.absolute_path), e.validator) for e in validator_class()(validation_schema()).iter_errors(data)}
    fast = {(prefix + tuple(e.absolute_path), e.validator) for prefix, e in schema_errors(data)}
    return full, fast


@pytest.mark.parametrize("path", _all_spec_files(), ids=lambda p: p.name)
def test_fast_dispatch_finds_the_same_errors_as_the_full_schema(path):
    data = _loadable(path)
    if not isinstance(data, dict):
        with pytest.raises(Exception):  # not a YAML mapping: the loader refuses it before the schema
            check(loads(path.read_bytes(), str(path)).data)
        return
    full, fast = _both(data)
    # the full schema reports a failing `then` of an `if` through its inner keyword, as the fast path does
    assert fast == full
    spoiled, planted = _spoiled(data)  # and the same again with a mistake in every layer: both must see them
    full, fast = _both(spoiled)
    assert fast == full
    assert planted <= {p[:len(w)] for p, _ in full for w in planted if p[:len(w)] == w}, (planted, full)
    assert ((), "additionalProperties") in full  # the unknown top-level key


def test_fast_dispatch_matches_on_a_mutated_spec():
    data = spec([{"Conv2d": {"out_channels": 0, "kernel_size": [3, 3, 3], "padding": "samee", "x": 1}},
                 {"MaxPool2d": "two"}, {"Linear": {"in_features": -1}}, "ReLU", {"Dropout": 2}])
    data["train"] = {"device": "gpu", "epochs": 0}
    full = {(tuple(e.absolute_path), e.validator) for e in validator_class()(validation_schema()).iter_errors(data)}
    fast = {(prefix + tuple(e.absolute_path), e.validator) for prefix, e in schema_errors(data)}
    assert fast == full and len(full) >= 7


def test_every_error_is_reported_with_its_path():
    data = spec([{"Conv2d": {"out_channels": 0, "kernel_size": 3}}, {"Conv2D": 6}, {"Dropout": 1.5}])
    data["trian"] = {}
    errs = errors_of(data)
    paths = {e.path for e in errs}
    assert ("model", "layers", 0, "Conv2d", "out_channels") in paths
    assert ("model", "layers", 1, "Conv2D") in paths
    assert ("model", "layers", 2, "Dropout") in paths
    assert ("trian",) in paths
    assert len(errs) == 4


@pytest.mark.parametrize("entry,words,hint", [
    ({"Conv2D": {"out_channels": 6, "kernel_size": 3}}, "unknown layer type `Conv2D`", "did you mean Conv2d?"),
    ("Relu", "unknown layer type `Relu`", "did you mean ReLU?"),
    ({"Conv2d": {"out_channels": 6, "kernal_size": 3}}, "Conv2d has no argument `kernal_size`",
     "did you mean kernel_size?"),
    ({"Conv2d": {"out_channels": 6, "kernel_size": 3, "padding": "samee"}}, "must be one of same, valid",
     "did you mean same?"),
    ({"Conv2d": {"out_channels": 6, "kernel_size": 3, "padding_mode": "reflct"}}, "padding_mode must be one of",
     "did you mean reflect?"),
    ("Conv2d", "Conv2d needs out_channels and kernel_size", "write it as `- Conv2d: {"),
    ({"Conv2d": 6}, "Conv2d needs kernel_size", "write it as"),
    ({"Linear": 10, "ReLU": None}, "one entry holds 2 layers", "indentation"),
    ({"name": "x"}, "no layer type", "layer's name first"),
])
def test_entry_mistakes_get_plain_messages_and_hints(entry, words, hint):
    errs = errors_of(spec([entry]))
    assert len(errs) == 1, errs
    assert words in errs[0].message
    assert any(hint in h for h in errs[0].hints), errs[0].hints


@pytest.mark.parametrize("section,value,words", [
    ("train", {"device": "gpu"}, "train.device must be one of auto, cpu, cuda"),
    ("train", {"epochs": "ten"}, "train.epochs must be a whole number"),
    ("data", {"batch_size": 0}, "data.batch_size must be at least 1"),
    ("output", {"dri": "x"}, "output has no key `dri`"),
    ("netspec", 2, "netspec is the spec-language version; this netspec reads version 1"),
    ("name", "../../etc", "name must be a name made of letters"),
])
def test_section_mistakes(section, value, words):
    data = spec(["ReLU"])
    data[section] = value
    errs = errors_of(data)
    assert len(errs) == 1 and words in errs[0].message, errs


def test_missing_top_level_keys():
    errs = errors_of({"model": {"input": [3], "layers": ["ReLU"]}})
    assert [e.message for e in errs] == ["the spec needs `netspec`"]
    assert errs[0].hints == ("add `netspec: 1` as the first line",)
    errs = errors_of({"netspec": 1})
    assert errs[0].message == "the spec needs `model`"


def test_errors_are_located_and_sorted():
    doc = loads("netspec: 1\nmodel:\n  input: [3, 8, 8]\n  layers:\n    - Conv2d: {out_channels: 0, kernel_size: 3}\n"
                "    - Dropuot: 0.5\n", "s.yaml")
    errs = validate(doc)
    assert [(e.line, e.column) for e in errs] == [(5, 30), (6, 7)]
    assert errs[1].hints[0] == "did you mean Dropout?"


def test_layer_names_cannot_shadow_module_attributes():
    import torch.nn as nn

    from netspec.resolve import RESERVED_NAMES

    public = {n for n in dir(nn.Module()) if not n.startswith("_")}
    assert public <= RESERVED_NAMES, sorted(public - RESERVED_NAMES)
    errs = errors_of(spec([{"ReLU": None, "name": "forward"}]))
    assert "PyTorch uses it" in errs[0].message


@pytest.mark.parametrize("args,said", [
    ("{digits: {test_split: lots}}", "must be a number"), ("{digits: {test_split: 1.5}}", "must be less than 1"),
    ("{digits: {test_split: 0}}", "must be greater than 0"), ("{FakeData: {size: 0}}", "must be at least 1"),
    ("{CIFAR10: {download: yes please}}", "must be true or false"),
])
def test_a_datasets_own_settings_are_checked(args, said):
    report = check(loads("netspec: 1\nmodel: {input: [1, 8, 8], layers: [Flatten, {Linear: 10}]}\n"
                                 f"data: {{dataset: {args}}}\n", "d.yaml"))
    assert [said in str(e.message) for e in report.errors] == [True], [str(e.message) for e in report.errors]


@pytest.mark.parametrize("layers,section,path,words", [
    (["Flatten", {"Linear": True}], {}, ("model", "layers", 1, "Linear"),
     "the value beside Linear must be a mapping of its arguments or its out_features (a whole number), but it is true"),
    ([{"Conv2d": {"out_channels": True, "kernel_size": 3}}], {}, ("model", "layers", 0, "Conv2d", "out_channels"),
     "Conv2d's out_channels must be a whole number, but it is true"),
    (["Flatten", {"Linear": 10}], {"train": {"epochs": True}}, ("train", "epochs"),
     "train.epochs must be a whole number, but it is true"),
])
def test_true_and_false_are_not_whole_numbers(layers, section, path, words):
    """YAML's `true` is a Python bool, which Python counts as the integer 1; a spec never means that."""
    (e,) = errors_of(spec(layers, **section))
    assert e.path == path and e.message == words
