"""The speed options of `train` run on the CPU: channels_last, bf16 and fp16 autocast, torch.compile,
and the in-memory path gives the same results as the per-sample (streaming) path."""
import pytest
import torch

import netspec
from netspec import checkpoint


def _run(tmp_path, *sets, epochs=2):
    return netspec.train("specs/digits.yaml", overrides=[f"train.epochs={epochs}", f"output.dir={tmp_path}/run",
                                                         "output.tensorboard=false", *sets])


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    from tests.helpers import ROOT

    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("option", ["train.precision=bf16", "train.precision=fp16", "train.channels_last=true"])
def test_speed_option_trains(tmp_path, option):
    history = _run(tmp_path, option)
    last = history.epochs[-1]
    assert len(history.epochs) == 2 and last["test_accuracy"] > 0.5
    weights = checkpoint.load(f"{history.run_dir}/last.pt")["state_dict"]
    assert all(torch.isfinite(w).all() and w.dtype == torch.float32 for w in weights.values())


def test_compile_trains_to_the_same_accuracy_as_eager(tmp_path):
    eager = _run(tmp_path / "eager", epochs=1).epochs[-1]
    compiled = _run(tmp_path / "compiled", "train.compile=true", epochs=1).epochs[-1]
    assert abs(compiled["test_accuracy"] - eager["test_accuracy"]) < 0.05
    assert compiled["test_accuracy"] > 0.5


def test_in_memory_and_streaming_paths_give_the_same_run(tmp_path):
    """Both paths draw the same order from the epoch's generator; digits needs no augmentation, so
    the two runs see the same batches and end with the same weights and accuracy."""
    memory = _run(tmp_path / "memory", epochs=3)
    stream = _run(tmp_path / "stream", "data.memory_budget_mb=0", epochs=3)
    assert [r["test_accuracy"] for r in memory.epochs] == [r["test_accuracy"] for r in stream.epochs]
    a = checkpoint.load(f"{memory.run_dir}/last.pt")["state_dict"]
    b = checkpoint.load(f"{stream.run_dir}/last.pt")["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert memory.epochs[-1]["test_accuracy"] > 0.85
