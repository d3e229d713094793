"""Out of netspec: netspec.load and load_spec, and `netspec export` as a torch.export program, TorchScript
and a standalone Python file, each compared with the model it came from; bad input is one message and
leaves no file."""
import glob
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import netspec
from tests.helpers import ROOT, run_cli

SPECS = sorted(glob.glob(str(ROOT / "specs" / "*.yaml")))  # VGG-16 too: 134 million parameters, about a minute


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A digits run of 2 epochs: its best.pt."""
    out = tmp_path_factory.mktemp("run")
    code, _, err = run_cli("train", str(ROOT / "specs" / "digits.yaml"), "--set", f"output.dir={out}",
                           "--set", "train.epochs=2")
    assert code == 0, err
    return out / "best.pt"


def test_load_gives_the_trained_model_in_eval_mode_on_the_cpu(checkpoint):
    model = netspec.load(str(checkpoint))
    assert not model.training and next(model.parameters()).device.type == "cpu"
    weights = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    info = netspec.load_spec(str(checkpoint))
    assert info["classes"] == [str(d) for d in range(10)] and info["input"] == [1, 8, 8] and info["epoch"] in (1, 2)


# the generated file, run where netspec cannot be imported: it needs only torch
RUN_ALONE = textwrap.dedent("""\
    import importlib.util, sys
    sys.modules["netspec"] = None  # `import netspec` fails here
    import torch
    spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, sys.argv[2])()
    if sys.argv[3] != "-":
        model.load_state_dict(torch.load(sys.argv[3], weights_only=True)["state_dict"], strict=True)
    else:
        model.load_state_dict(torch.load(sys.argv[4], weights_only=True), strict=True)
    model.eval()
    x = torch.load(sys.argv[5], weights_only=True)
    with torch.no_grad():
        torch.save(model(x), sys.argv[6])
""")


def _run_alone(tmp_path, py: Path, cls: str, ckpt: str, state: str, x: torch.Tensor) -> torch.Tensor:
    torch.save(x, tmp_path / "x.pt")
    script = tmp_path / "run_alone.py"
    script.write_text(RUN_ALONE)
    r = subprocess.run([sys.executable, str(script), str(py), cls, ckpt, state, str(tmp_path / "x.pt"),
                        str(tmp_path / "y.pt")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return torch.load(tmp_path / "y.pt", weights_only=True)


def _input(report, batch: int) -> torch.Tensor:
    if report.input.dtype.startswith("int"):
        return torch.randint(0, 50, (batch, *report.input.shape), dtype=getattr(torch, report.input.dtype))
    return torch.randn(batch, *report.input.shape)


def test_the_python_file_of_a_checkpoint_runs_without_netspec_and_gives_the_same_outputs(checkpoint, tmp_path):
    out = tmp_path / "digits_model.py"
    code, said, err = run_cli("export", str(checkpoint), "--format", "python", "-o", str(out))
    assert code == 0 and err == "" and str(out) in said
    text = out.read_text()
    # a checkpoint keeps the spec as data, not its text: the comments give the shapes, not spec lines
    assert "class Digits(nn.Sequential):" in text and "  # (N, 10)" in text and "import netspec" not in text
    model = netspec.load(str(checkpoint))
    x = torch.randn(7, 1, 8, 8)
    with torch.no_grad():
        want = model(x)
    got = _run_alone(tmp_path, out, "Digits", str(checkpoint), "-", x)
    assert torch.equal(got, want)
    meta = json.loads((tmp_path / "digits_model.py.json").read_text())
    assert meta["classes"] == [str(d) for d in range(10)] and meta["input"] == {"shape": [None, 1, 8, 8],
                                                                                "dtype": "float32"}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: Path(p).name)
def test_the_python_file_of_every_spec_has_the_same_state_dict_keys_and_outputs(path, tmp_path):
    out = tmp_path / "model.py"
    code, _, err = run_cli("export", path, "--format", "python", "-o", str(out))
    assert code == 0, err
    assert "# spec line " in out.read_text()
    report = netspec.check(path)
    model = netspec.build(report).eval()
    state = tmp_path / "state.pt"
    torch.save(model.state_dict(), state)
    cls = next(line.split("(")[0][len("class "):] for line in out.read_text().splitlines()
               if line.startswith("class ") and "nn." in line and "Add(" not in line and "_Recurrent" not in line
               and line.split("(")[0][len("class "):] not in ("Add", "Mul", "Concat", "LSTM", "GRU", "RNN"))
    x = _input(report, 3)
    with torch.no_grad():
        want = model(x)
    got = _run_alone(tmp_path, out, cls, "-", str(state), x)
    assert torch.equal(got, want)


def _loaded(fmt: str, out: Path):
    if fmt == "pt2":
        return torch.export.load(str(out)).module()
    if fmt == "torchscript":
        return torch.jit.load(str(out))
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


@pytest.mark.parametrize("fmt", ["onnx", "pt2", "torchscript"])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: Path(p).name)
def test_onnx_pt2_and_torchscript_give_the_models_outputs(path, fmt, tmp_path):
    out = tmp_path / f"model.{fmt}"
    meta = netspec.export(path, fmt, str(out))
    tolerance = 1e-4 if fmt == "onnx" else 1e-5
    assert meta["max_abs_difference"] <= tolerance and out.exists() and Path(str(out) + ".json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, out.name + ".json"]  # one file, and its sidecar
    report = netspec.check(path)
    torch.manual_seed(0)
    model = netspec.build(report).eval()
    loaded = _loaded(fmt, out)
    for batch in (1, 7):
        x = _input(report, batch)
        with torch.no_grad():
            assert (loaded(x) - model(x)).abs().max().item() <= tolerance


def test_a_checkpoint_exports_to_pt2_with_its_weights(checkpoint, tmp_path):
    out = tmp_path / "digits.pt2"
    meta = netspec.export(str(checkpoint), "pt2", str(out))
    program = torch.export.load(str(out)).module()
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        assert (program(x) - netspec.load(str(checkpoint))(x)).abs().max().item() <= 1e-5
    assert meta["epoch"] in (1, 2) and meta["classes"][0] == "0"


def test_bad_input_is_one_message_and_leaves_no_file(tmp_path):
    not_ckpt = tmp_path / "notes.pt"
    not_ckpt.write_text("hello")
    out = tmp_path / "x.py"
    code, said, err = run_cli("export", str(not_ckpt), "--format", "python", "-o", str(out))
    assert code == 1 and "Traceback" not in err and err.count("error:") == 1 and not out.exists()
    code, _, err = run_cli("export", str(tmp_path / "missing.pt"), "--format", "pt2", "-o", str(out))
    assert code == 2 and "no such file" in err and not out.exists()
    code, _, err = run_cli("export", str(ROOT / "specs" / "digits.yaml"), "--format", "pt2",
                           "-o", str(tmp_path / "no" / "such" / "folder.pt2"))
    assert code == 2 and "cannot write" in err
    code, _, err = run_cli("export", str(ROOT / "specs" / "digits.yaml"), "--format", "onnx2")
    assert code == 2 and "--format" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pt"]


def test_exporting_a_checkpoint_never_writes_over_it(checkpoint, tmp_path):
    """TorchScript's default file beside best.pt is best.torchscript.pt (it was best.pt itself: the export
    replaced the checkpoint); an --output that names the checkpoint is refused and its bytes stay."""
    source = tmp_path / "best.pt"
    source.write_bytes(checkpoint.read_bytes())
    before = source.read_bytes()
    code, out, err = run_cli("export", str(source), "--format", "torchscript")
    assert (code, err) == (0, "") and source.read_bytes() == before
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(tmp_path / "best.torchscript.pt"))(x), netspec.load(str(source))(x),
                              atol=1e-5)
    for fmt in ("pt2", "torchscript"):
        code, _, err = run_cli("export", str(source), "--format", fmt, "-o", str(source))
        assert code == 2 and "would overwrite the file it is exported from" in err and "Traceback" not in err
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "best.torchscript.pt", "best.torchscript.pt.json"]


def test_onnx_without_its_packages_says_how_to_install_them(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    out = tmp_path / "m.onnx"
    code, _, err = run_cli("export", str(ROOT / "specs" / "digits.yaml"), "--format", "onnx", "-o", str(out))
    assert code == 2 and "onnxruntime is missing" in err and "pip install 'netspec[export]'" in err
    assert not out.exists()
