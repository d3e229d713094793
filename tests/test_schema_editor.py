"""The published schema (schemas/netspec.schema.json, `netspec schema`), as editors and other validators
use it: it accepts every valid spec, flags the mistakes an editor should underline, never disagrees with
`netspec check` where it speaks, uses only standard keywords (and the editors' title and
markdownDescription), and what an editor inserts from it is valid as inserted."""
import glob
import json
import subprocess
from pathlib import Path
import sys

import pytest
from jsonschema import Draft202012Validator

import netspec
from netspec.loader import loads
from netspec.registry import REQUIRED, layers
from netspec.editorschema import schema
from netspec.schema import SCHEMA_ID
from tests.helpers import ROOT

SCHEMA = schema()
VALIDATOR = Draft202012Validator(SCHEMA)
SPECS = sorted(glob.glob(str(ROOT / "specs" / "*.yaml")) + glob.glob(str(ROOT / "tests" / "specs" / "**" / "*.yaml"),
                                                                     recursive=True))
# JSON Schema 2020-12's keywords, and the annotations editors read (VS Code's markdownDescription, and the
# errorMessage string yaml-language-server shows in place of a failed keyword's message)
STANDARD = {"$schema", "$id", "$ref", "$defs", "title", "description", "default", "examples", "type", "enum",
            "const", "properties", "patternProperties", "additionalProperties", "required", "propertyNames",
            "dependentSchemas", "minProperties", "maxProperties", "items", "minItems", "maxItems", "uniqueItems",
            "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "minLength", "maxLength",
            "anyOf", "allOf", "oneOf", "not", "if", "then", "else", "markdownDescription", "errorMessage"}


def _keywords(node, inside_properties=False):
    if isinstance(node, dict):
        for key, value in node.items():
            if not inside_properties:
                yield key
            yield from _keywords(value, key in ("properties", "patternProperties", "$defs", "dependentSchemas"))
    elif isinstance(node, list):
        for value in node:
            yield from _keywords(value)


def test_only_standard_keywords_and_a_stable_id():
    assert set(_keywords(SCHEMA)) <= STANDARD, set(_keywords(SCHEMA)) - STANDARD
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] == SCHEMA_ID == "https://netspec.dev/schemas/netspec.schema.json"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.split("/tests/")[-1].split("/specs/")[-1])
def test_the_schema_never_refuses_what_check_accepts(path):
    try:
        data = loads(open(path, "rb").read(), path).data
    except netspec.NetspecError:
        return  # not readable as YAML: nothing reaches a schema
    errors = [e.message for e in VALIDATOR.iter_errors(data)]
    if errors:
        assert not netspec.check(path).valid, errors
    if "/specs/" in path and "/tests/" not in path:
        assert errors == []  # the shipped specs


def entry_errors(entry) -> list[str]:
    data = {"netspec": 1, "model": {"input": [3, 8, 8], "layers": [entry]}, "blocks": {"basic": {"layers": ["ReLU"]}}}
    return [e.message for e in VALIDATOR.iter_errors(data)]


@pytest.mark.parametrize("entry", [{"Conv2D": {"out_channels": 6, "kernel_size": 5}}, "Relu", {"Conv2d": 6},
                                   "Linear", {"Linear": None}, {"Conv2d": {"out_channels": 6, "kernel_size": 5},
                                                                "ReLU": None},
                                   {"Conv2d": {"out_channels": 6, "kernel_size": 0}}, {"MaxPool2d": "two"},
                                   {"Linear": {"out_features": 10, "bias": "yes"}}, {"Basic": {"channels": 3}}])
def test_the_mistakes_an_editor_underlines(entry):
    assert entry_errors(entry), entry
    assert not netspec.check({"netspec": 1, "model": {"input": [3, 8, 8], "layers": [entry]},
                              "blocks": {"basic": {"layers": ["ReLU"]}}}).valid


@pytest.mark.parametrize("entry", ["ReLU", {"ReLU": None}, {"MaxPool2d": 2}, {"Linear": 10}, "basic", {"basic": None},
                                   {"basic": {"channels": 3}, "repeat": 2}, {"Linear": 4, "name": "fc", "from": -1},
                                   {"torchvision.resnet18": 10}, {"Dropout": 0.5}, "Flatten"])
def test_the_forms_netspec_accepts(entry):
    assert entry_errors(entry) == []


def _args():
    for lt in layers().values():
        for name, arg in lt.args.items():
            yield lt, name, arg


def test_every_layer_and_argument_has_a_title_and_a_markdown_description():
    for lt in layers().values():
        d = SCHEMA["$defs"][lt.name]
        assert d["title"] == lt.name and lt.summary in d["markdownDescription"]
        assert f"netspec layers {lt.name}" in d["markdownDescription"]
    for lt, name, arg in _args():
        s = _mapping(lt.name)["properties"][name]
        assert s["title"] == name and s["markdownDescription"].startswith(f"**{name}**:")
        state = "required" if arg.default is REQUIRED and not arg.inferred else "inferred" if arg.inferred else "default"
        assert state in s["markdownDescription"], (lt.name, name)
    conv = SCHEMA["$defs"]["Conv2d"]["markdownDescription"]
    assert "H_out = floor((H_in + 2·padding − dilation·(kernel_size − 1) − 1) / stride + 1)" in conv


def _mapping(layer: str) -> dict:
    """A layer's argument mapping: at the top of its definition (the other forms are anyOf branches)."""
    d = SCHEMA["$defs"][layer]
    assert d["type"] == "object" or d["type"][0] == "object"
    return d


def test_what_an_editor_inserts_for_an_argument_is_valid_as_inserted():
    for lt, name, arg in _args():
        s = _mapping(lt.name)["properties"][name]
        values = ([s["default"]] if "default" in s else []) + s.get("examples", [])
        assert values, (lt.name, name)
        # yaml-language-server inserts a value only when it has exactly one to propose (or a required
        # argument's default), and a list template when `items` stands at the top
        assert "items" not in s and "enum" not in s and ("default" in s or len(s["examples"]) == 1), (lt.name, name)
        for value in values:
            assert list(Draft202012Validator(s).iter_errors(value)) == [], (lt.name, name, value)


def test_names_of_datasets_optimizers_losses_schedulers_and_transforms_are_listed():
    props = SCHEMA["properties"]
    assert "CIFAR10" in props["data"]["properties"]["dataset"]["anyOf"][0]["enum"]
    for key, name in (("optimizer", "Adam"), ("loss", "CrossEntropyLoss"), ("scheduler", "StepLR")):
        choice = props["train"]["properties"][key]
        assert name in choice["anyOf"][0]["enum"] and name in choice["anyOf"][1]["properties"]
    assert "lr" in props["train"]["properties"]["optimizer"]["anyOf"][1]["properties"]["Adam"]["properties"]
    assert "ToTensor" in SCHEMA["$defs"]["transform_entry"]["anyOf"][0]["enum"]


def test_a_capitalised_block_name_is_an_error_of_check_with_the_name_to_use():
    report = netspec.check({"netspec": 1, "model": {"input": [4], "layers": ["MyBlock"]},
                            "blocks": {"MyBlock": {"layers": ["ReLU"]}}})
    (e,) = report.errors
    assert e.path == ("blocks", "MyBlock") and "lower-case" in e.message and "`my_block`" in e.hints[0]


def test_netspec_schema_output_writes_the_file_and_the_package_holds_it(tmp_path):
    target = tmp_path / "s.json"
    r = subprocess.run([sys.executable, "-m", "netspec", "schema", "--output", str(target)], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and json.loads(target.read_text()) == SCHEMA
    from importlib import resources

    shipped = resources.files("netspec").joinpath("netspec.schema.json").read_text(encoding="utf-8")
    assert json.loads(shipped) == SCHEMA


def test_check_jsonschema_takes_the_schema_and_every_valid_spec():
    """check-jsonschema (python-jsonschema with its own YAML reader) as another standard validator."""
    import shutil

    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    schema_file = str(ROOT / "schemas" / "netspec.schema.json")
    valid = sorted(glob.glob(str(ROOT / "specs" / "*.yaml")) + glob.glob(str(ROOT / "tests" / "specs" / "valid" / "*.yaml")))
    for argv in (["--check-metaschema", schema_file], ["--schemafile", schema_file, *valid]):
        r = subprocess.run([tool, *argv], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
