"""Checkpoints: what they hold, atomic writes, files that are refused (pickled code, truncated, not netspec), eval."""
import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

import netspec
from netspec import checkpoint
from netspec.errors import NetspecError
from tests.helpers import run_cli

SPEC = {"netspec": 1, "name": "ckpt",
        "model": {"input": [1, 8, 8], "layers": ["Flatten", {"Linear": 32}, "ReLU", {"Linear": 10}]},
        "data": {"dataset": "digits", "batch_size": 64},
        "train": {"epochs": 2, "optimizer": {"Adam": {"lr": 0.01}}, "device": "cpu",
                  "scheduler": {"StepLR": {"step_size": 1, "gamma": 0.5}}},
        "output": {"tensorboard": False}}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished two-epoch run on the digits: its folder."""
    tmp = tmp_path_factory.mktemp("ckpt")
    (tmp / "ckpt.yaml").write_text(yaml.safe_dump(SPEC))
    code, _, err = run_cli("train", str(tmp / "ckpt.yaml"), "--set", f"output.dir={tmp / 'run'}")
    assert (code, err) == (0, "")
    Image.new("L", (8, 8), 0).save(tmp / "digit.png")
    return tmp / "run"


def test_a_checkpoint_is_plain_data_that_rebuilds_the_model(run):
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert set(ckpt) >= {"format", "state_dict", "spec", "classes", "epoch", "optimizer", "scheduler", "rng",
                         "metrics", "netspec_version"}
    assert ckpt["epoch"] == 2 and ckpt["classes"] == [str(i) for i in range(10)]
    assert ckpt["netspec_version"] == netspec.__version__
    assert ckpt["spec"] == yaml.safe_load((run / "spec.yaml").read_text())
    assert ckpt["scheduler"]["last_epoch"] == 2 and len(ckpt["metrics"]) == 2
    model = netspec.build(ckpt["spec"])
    model.load_state_dict(ckpt["state_dict"])  # strict: every tensor has its place
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "last.pt"
    checkpoint.atomic_write(str(target), lambda f: f.write(b"old"))

    def half_then_fail(f):
        f.write(b"new but torn")
        raise OSError("disk full")
    with pytest.raises(OSError):
        checkpoint.atomic_write(str(target), half_then_fail)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["last.pt"]


def test_weights_that_are_not_finite_are_never_saved(tmp_path):
    target = tmp_path / "last.pt"
    target.write_bytes(b"good")
    with pytest.raises(NetspecError, match=r"the weights \(w\) are not finite numbers"):
        checkpoint.save(str(target), {"state_dict": {"w": torch.tensor([1.0, float("nan")])}})
    assert target.read_bytes() == b"good"


class Payload:
    """Unpickling this object opens (creates) a file: the smallest code a malicious checkpoint could run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("command", ["eval", "predict", "resume"])
@pytest.mark.parametrize("inside", [False, True], ids=["bare", "inside-a-real-checkpoint"])
def test_a_checkpoint_with_a_pickled_payload_is_refused_and_never_runs(run, tmp_path, command, inside):
    proof, marker = tmp_path / "proof", tmp_path / "PWNED"
    torch.save(Payload(proof), tmp_path / "proof.pt")
    torch.load(tmp_path / "proof.pt", weights_only=False)
    assert proof.exists()  # the payload works where loading is not restricted

    evil = torch.load(run / "last.pt", weights_only=True) if inside else {}
    evil["extra"] = Payload(marker)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "spec.yaml").write_bytes((run / "spec.yaml").read_bytes())
    torch.save(evil, folder / "last.pt")
    argv = {"eval": ["eval", str(folder / "last.pt")],
            "predict": ["predict", str(folder / "last.pt"), str(run.parent / "digit.png")],
            "resume": ["train", "--resume", str(folder), "--set", "train.epochs=3"]}[command]
    code, out, err = run_cli(*argv)
    assert code == 1 and out == "" and "Traceback" not in err
    assert (f"{folder / 'last.pt'} was refused: it holds Python objects or code, which a netspec checkpoint never "
            "does; nothing in it was run") in err
    assert not marker.exists()


@pytest.mark.parametrize("cut", ["half", "100 bytes", "empty"])
@pytest.mark.parametrize("command", ["eval", "predict"])
def test_a_truncated_checkpoint_is_refused_with_a_clear_message(run, tmp_path, cut, command):
    data = (run / "last.pt").read_bytes()
    torn = tmp_path / "torn.pt"
    torn.write_bytes({"half": data[: len(data) // 2], "100 bytes": data[:100], "empty": b""}[cut])
    argv = ["eval", str(torn)] if command == "eval" else ["predict", str(torn), str(run.parent / "digit.png")]
    code, out, err = run_cli(*argv)
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"netspec: error: {torn} is damaged or cut short") or (
        cut == "empty" and err.startswith(f"netspec: error: {torn} is empty"))
    assert "hint: use the run's other checkpoint (last.pt or best.pt), or train again" in err


NOT_CODE = "the file holds no code: saying it does would be a false alarm"


def _not_netspec(tmp_path: Path, run: Path, kind: str) -> Path:
    path = tmp_path / {"torch dict": "weights.pt", "spec.yaml": "spec.yaml", "png": "cat.png", "jpeg": "cat.jpg",
                       "text": "notes.txt"}[kind]
    if kind == "torch dict":
        torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    elif kind == "spec.yaml":
        path.write_bytes((run / "spec.yaml").read_bytes())
    elif kind in ("png", "jpeg"):
        Image.new("RGB", (16, 16), (200, 100, 0)).save(path)
    else:
        path.write_text("hello, this is not a checkpoint\n")
    return path


@pytest.mark.parametrize("kind", [
    "torch dict", "text",
    "spec.yaml", "png", "jpeg",
])
def test_a_file_that_is_not_a_netspec_checkpoint_is_refused_as_such(run, tmp_path, kind):
    path = _not_netspec(tmp_path, run, kind)
    code, out, err = run_cli("eval", str(path))
    assert code == 1 and out == "" and "Traceback" not in err
    assert f"error: {path} is not a netspec checkpoint" in err or f"error: {path} is corrupt" in err
    assert "Python objects or code" not in err, NOT_CODE


def test_eval_prints_loss_accuracy_per_class_and_the_confusion_matrix(run):
    code, out, err = run_cli("eval", str(run / "last.pt"), "--format", "json")
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert set(result) >= {"loss", "accuracy", "per_class", "confusion", "classes", "samples"}
    matrix, n = result["confusion"], result["samples"]
    assert n == 359 and len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == n and result["accuracy"] == sum(matrix[i][i] for i in range(10)) / n
    assert result["per_class"] == {str(i): matrix[i][i] / sum(matrix[i]) for i in range(10)}
    assert 0 < result["loss"] < 2.3 and result["accuracy"] > 0.8

    code, text, err = run_cli("eval", str(run / "last.pt"))
    assert (code, err) == (0, "")
    lines = text.splitlines()
    assert lines[:3] == ["test samples: 359", f"loss:         {result['loss']:.4f}",
                         f"accuracy:     {100 * result['accuracy']:.2f}%"]
    per_class = lines[lines.index("per class:") + 1:][:10]
    assert [ln.split() for ln in per_class] == [[str(i), f"{100 * result['per_class'][str(i)]:.2f}%"]
                                                for i in range(10)]
    start = lines.index("confusion matrix (rows: true class, columns: predicted):")
    assert lines[start + 1].split() == [str(i) for i in range(10)]
    assert [[int(v) for v in ln.split()[1:]] for ln in lines[start + 2:start + 12]] == matrix


def test_eval_with_set_points_at_other_data(run):
    code, out, _ = run_cli("eval", str(run / "last.pt"), "--format", "json",
                           "--set", "data.dataset={digits: {test_split: 0.5}}")
    assert code == 0 and json.loads(out)["samples"] == round(1797 * 0.5)
    code, _, err = run_cli("eval", str(run / "last.pt"), "--set", "data.dataset=digitz")
    assert code == 1 and "Traceback" not in err and "digits" in err


def test_eval_and_predict_of_a_missing_checkpoint(tmp_path):
    for argv in (["eval", str(tmp_path / "x.pt")], ["predict", str(tmp_path / "x.pt"), str(tmp_path / "a.png")]):
        code, _, err = run_cli(*argv)
        assert code == 2 and f"no such checkpoint: {tmp_path / 'x.pt'}" in err  # a usage error, as SPEC.md says
