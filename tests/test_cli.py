"""The command line, through netspec.cli.main(argv) and, where the process matters, a subprocess."""
import json
import os
import subprocess
import sys

import pytest

from netspec.registry import layers
from netspec.editorschema import schema_json
from tests.helpers import ROOT, run_cli


def test_check_prints_the_shape_table(monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli("check", "specs/cifar.yaml")
    assert code == 0 and err == ""
    assert out.startswith("specs/cifar.yaml: valid (cifar-lenet)")
    rows = [ln.split() for ln in out.splitlines()]
    assert ["0", "conv2d_1", "Conv2d", "(N,", "6,", "28,", "28)", "456", "352,800"] in rows
    assert ["11", "linear_3", "Linear", "(N,", "10)", "850", "840"] in rows
    assert "Total params:                  62,006 (62.01 K)" in out
    assert "Output shape:                  (N, 10)" in out
    assert "Parameter memory:              242.2 KiB (float32)" in out


def test_check_json_for_a_valid_spec(monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = run_cli("check", "specs/cifar.yaml", "--format", "json")
    obj = json.loads(out)
    assert code == 0 and obj["valid"] is True and obj["errors"] == []
    assert obj["output_shape"] == [None, 10] and obj["input_shape"] == [None, 3, 32, 32]
    assert obj["total_params"] == 62006 and obj["total_macs"] == sum(l["macs"] for l in obj["layers"])
    first = obj["layers"][0]
    assert first == {**first, "index": 0, "name": "conv2d_1", "type": "Conv2d", "output_shape": [None, 6, 28, 28],
                     "params": 456, "macs": 352800, "line": 10}
    assert first["args"]["in_channels"] == 3  # inferred arguments are filled in


def test_check_json_for_a_wrong_spec(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [3, 8, 8]\n  layers:\n    - Conv2d: {out_channels: 4, kernel_size: 9}\n")
    code, out, err = run_cli("check", str(f), "--format", "json")
    obj = json.loads(out)
    assert code == 1 and err == "" and obj["valid"] is False and obj["layers"] == []
    (e,) = obj["errors"]
    assert e["file"] == str(f) and (e["line"], e["column"]) == (5, 46)
    assert e["path"] == "model.layers[0].Conv2d.kernel_size"
    assert "the input is 8x8 but the kernel is 9x9" in e["message"]
    assert e["hints"] == ["use a smaller kernel_size, add padding, or remove a pooling layer before it"]


def test_check_text_error_has_source_line_and_caret(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [3, 8, 8]\n  layers:\n    - Flatten\n"
                 "    - Linear: {in_features: 100, out_features: 10}\n")
    code, out, err = run_cli("check", str(f))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{f}:6:29: error: Linear expects in_features=100 but its input is (N, 192)",
        "  6 |     - Linear: {in_features: 100, out_features: 10}",
        "    |                             ^",
        "  hint: set it to 192, or remove in_features to infer it",
        f"{f}: 1 error",
    ]


def test_several_specs_and_the_worst_exit_code(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("netspec: 1\n")
    code, out, err = run_cli("check", "specs/cifar.yaml", str(bad), "specs/seed_mlp.yaml")
    assert code == 1 and out.count(": valid") == 2 and "the spec needs `model`" in err
    code, out, _ = run_cli("check", "specs/cifar.yaml", "specs/seed_mlp.yaml", "--format", "json")
    assert code == 0 and [o["output_shape"] for o in json.loads(out)] == [[None, 10], [None, 8]]


@pytest.mark.parametrize("argv", [["check"], ["check", "--format", "xml", "x.yaml"], ["nope"], [],
                                  ["check", "/no/such/spec.yaml"], ["layers", "Conv2D"],
                                  ["check", "specs/cifar.yaml", "--depth", "-1"],
                                  ["check", "specs/cifar.yaml", "--depth", "two"]])
def test_bad_command_line_use_exits_2(argv):
    code, out, err = run_cli(*argv)
    assert code == 2
    assert "Traceback" not in out + err and (err or out)


def test_a_negative_depth_says_what_depth_takes():
    code, _, err = run_cli("check", "specs/cifar.yaml", "--depth", "-1")
    assert code == 2 and err.endswith("netspec check: error: argument --depth: it must be 0 or more, not -1\n")


def test_missing_file_message():
    code, _, err = run_cli("check", "/no/such/spec.yaml")
    assert code == 2 and "no such file: /no/such/spec.yaml" in err


def test_schema_command_prints_the_schema():
    code, out, _ = run_cli("schema")
    assert code == 0 and out == schema_json() and json.loads(out)["title"] == "netspec spec"


def test_layers_lists_every_layer_and_one_layers_arguments():
    code, out, _ = run_cli("layers")
    assert code == 0 and all(f"\n{name} " in "\n" + out for name in layers())
    code, out, _ = run_cli("layers", "Conv2d")
    assert code == 0
    assert "in_channels   int, inferred; inferred from the input when left out" in out
    assert "kernel_size   int or list of 2 ints; required" in out
    assert "short form:  - Conv2d: <out_channels>" in out
    code, _, err = run_cli("layers", "Conv2D")
    assert code == 2 and "did you mean Conv2d?" in err


def test_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("netspec ")


def test_check_does_not_import_torch():
    code = ("import sys\nfrom netspec.cli import main\nrc = main(['check', 'specs/cifar.yaml'])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'numpy'))\n"
            "assert rc == 0 and not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_console_script_entry_point_and_module():
    r = subprocess.run([sys.executable, "-m", "netspec", "check", "specs/seed_mlp.yaml"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "(N, 8)" in r.stdout


def _run_entry(tmp_path, before: str, argv: list[str]):
    """The `netspec` console entry (cli.run) in a child, after `before`, its output piped (so buffered)."""
    code = f"import sys, atexit, threading, time\n{before}\nsys.argv = {['netspec', *argv]!r}\n" \
           "from netspec.cli import run\nrun()\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)


def test_the_entry_leaves_without_teardown_yet_flushes_and_runs_exit_handlers(tmp_path):
    mark = tmp_path / "atexit"
    r = _run_entry(tmp_path, f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))",
                   ["check", "specs/seed_mlp.yaml"])
    assert r.returncode == 0 and "(N, 8)" in r.stdout  # the buffered table arrives whole
    assert mark.read_text() == "ran"
    bad = tmp_path / "bad.yaml"
    bad.write_text("netspec: 1\nmodel:\n  input: [4]\n  layers:\n    - Linear: {out_features: -3}\n")
    r = _run_entry(tmp_path, "", ["check", str(bad)])
    assert r.returncode == 1 and "bad.yaml:5:" in r.stderr  # the exit code and the words, as before


def test_the_entry_waits_for_a_thread_still_alive(tmp_path):
    mark = tmp_path / "thread"
    r = _run_entry(tmp_path, "threading.Thread(target=lambda: (time.sleep(1), open("
                             f"{str(mark)!r}, 'w').write('done'))).start()", ["--version"])
    assert r.returncode == 0 and r.stdout.startswith("netspec ")
    assert mark.read_text() == "done"  # the ordinary exit joined it
