"""Data-parallel training on torch.distributed (gloo, CPU): two processes on this machine train as one
does, rank 0 alone writes, checkpoints move between world sizes, a dead rank or Ctrl-C stops the job."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import netspec
from netspec import checkpoint
from netspec.distributed import World
from tests.helpers import ROOT, run_cli
from tests.test_runner import metrics, weights

# No BatchNorm and no dropout: two ranks must then compute what one process computes.
SPEC = """\
netspec: 1
name: ddp
model:
  input: [1, 8, 8]
  layers:
    - Flatten
    - Linear: 32
    - Tanh
    - Linear: 10
data:
  dataset: digits
  batch_size: 100
train:
  epochs: 3
  optimizer: {Adam: {lr: 0.01}}
  scheduler: {StepLR: {step_size: 2, gamma: 0.5}}
  device: cpu
output:
  tensorboard: true
"""
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def netspec_cli(*args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspec", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same spec trained by one process and by two (in-memory path), each into its own folder."""
    folder = tmp_path_factory.mktemp("ddp")
    spec = folder / "ddp.yaml"
    spec.write_text(SPEC)
    one, two = folder / "one", folder / "two"
    assert run_cli("train", str(spec), "--set", f"output.dir={one}")[0] == 0
    done = netspec_cli("train", str(spec), "--nproc", "2", "--set", f"output.dir={two}")
    assert done.returncode == 0, done.stderr
    return {"spec": spec, "one": one, "two": two, "two_out": done.stdout, "two_err": done.stderr}


def close(a: dict, b: dict, atol=1e-5) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


def test_two_processes_end_with_the_weights_and_accuracy_of_one(runs):
    """Global batch 100 split 50/50 (the last batch of 38 too): the gradient is the whole batch's."""
    assert close(weights(runs["one"] / "last.pt"), weights(runs["two"] / "last.pt"))
    one, two = metrics(runs["one"]), metrics(runs["two"])
    assert [r["test_accuracy"] for r in one] == [r["test_accuracy"] for r in two]
    assert [r["lr"] for r in one] == [r["lr"] for r in two] == ["0.01", "0.01", "0.005"]
    for a, b in zip(one, two):  # losses are means over the whole split, whichever rank saw a sample
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), abs=1e-5)
        assert float(a["test_loss"]) == pytest.approx(float(b["test_loss"]), abs=1e-5)


def test_only_rank_0_writes_and_speaks(runs):
    files = sorted(p.name for p in runs["two"].iterdir())
    events = [f for f in files if f.startswith("events.out.tfevents")]
    assert len(events) == 1 and sorted(set(files) - set(events)) == ["best.pt", "curves.png", "last.pt", "metrics.csv", "spec.yaml"]
    assert len(metrics(runs["two"])) == 3
    out = runs["two_out"]
    assert out.count("run folder:") == 1 and out.count("epoch 3/3") == 1
    assert "training ddp on 2 processes (cpu)" in out and runs["two_err"] == ""
    assert not list(runs["two"].parent.glob("two-*"))  # no second folder from another rank


def test_a_distributed_checkpoint_loads_in_one_process_for_eval_and_predict(runs, tmp_path):
    ckpt = checkpoint.load(str(runs["two"] / "last.pt"))
    assert ckpt["epoch"] == 3 and not any(k.startswith("module.") for k in ckpt["state_dict"])
    code, out, err = run_cli("eval", str(runs["two"] / "last.pt"), "--format", "json")
    assert code == 0 and err == ""
    assert f'"accuracy": {float(metrics(runs["two"])[-1]["test_accuracy"])}' in out
    model = netspec.build(ckpt["spec"])
    model.load_state_dict(ckpt["state_dict"])


def test_a_two_process_run_resumes_in_one_process_and_a_one_process_run_in_two(runs, tmp_path):
    """Either way it goes on to the weights of the one-process run resumed in one process."""
    ends = {}
    for source, nproc in (("two", "1"), ("one", "2"), ("one", "1")):
        copy = tmp_path / f"{source}-resumed-in-{nproc}"
        copy.mkdir()
        for f in runs[source].iterdir():
            (copy / f.name).write_bytes(f.read_bytes())
        done = netspec_cli("train", "--resume", str(copy), "--nproc", nproc, "--set", "train.epochs=5")
        assert done.returncode == 0, done.stderr
        assert "epoch 4/5" in done.stdout and "epoch 5/5" in done.stdout and "epoch 3/5" not in done.stdout
        rows = metrics(copy)
        assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5"] and rows[:3] == metrics(runs[source])
        assert checkpoint.load(str(copy / "last.pt"))["epoch"] == 5
        ends[source, nproc] = weights(copy / "last.pt")
    reference = ends["one", "1"]
    assert close(ends["two", "1"], reference, atol=1e-4) and close(ends["one", "2"], reference, atol=1e-4)
    assert not close(weights(runs["one"] / "last.pt"), reference, atol=1e-4)  # the two epochs did train


def test_the_streaming_path_splits_batches_the_same_way(tmp_path):
    """memory_budget_mb 0: a DataLoader per rank with its part of each global batch, and its share of test."""
    spec = tmp_path / "ddp.yaml"
    spec.write_text(SPEC.replace("batch_size: 100", "batch_size: 64\n  memory_budget_mb: 0"))
    assert run_cli("train", str(spec), "--set", f"output.dir={tmp_path / 'one'}", "--set", "train.epochs=2")[0] == 0
    done = netspec_cli("train", str(spec), "--nproc", "2", "--set", f"output.dir={tmp_path / 'two'}",
                       "--set", "train.epochs=2")
    assert done.returncode == 0, done.stderr
    assert close(weights(tmp_path / "one" / "last.pt"), weights(tmp_path / "two" / "last.pt"))
    assert [r["test_accuracy"] for r in metrics(tmp_path / "one")] == \
        [r["test_accuracy"] for r in metrics(tmp_path / "two")]


def test_a_batch_size_the_world_does_not_divide_is_a_located_error(tmp_path, monkeypatch):
    spec = tmp_path / "ddp.yaml"
    spec.write_text(SPEC)
    monkeypatch.setenv("WORLD_SIZE", "3")  # as torchrun would set it; the check comes before any connection
    monkeypatch.setenv("RANK", "0")
    code, out, err = run_cli("train", str(spec), "--set", f"output.dir={tmp_path / 'run'}")
    assert code == 1 and not (tmp_path / "run").exists()
    assert err.startswith(f"{spec}:12:15: error: data.batch_size 100 is the global batch, split across the 3 "
                          "processes, and 3 does not divide it")
    assert "hint: use a multiple of 3, e.g. 99" in err
    monkeypatch.setenv("RANK", "1")  # the other ranks print only their errors, each line marked with the rank
    code, out, err = run_cli("train", str(spec), "--set", f"output.dir={tmp_path / 'run'}")
    assert (code, out) == (1, "") and err.splitlines()[0].startswith(f"rank 1: {spec}:12:15: error: data.batch_size")
    assert all(line.startswith("rank 1: ") for line in err.splitlines())


def test_nproc_checks_the_spec_once_before_starting_any_process(tmp_path):
    spec = tmp_path / "ddp.yaml"
    spec.write_text(SPEC)
    code, out, err = run_cli("train", str(spec), "--nproc", "3", "--set", f"output.dir={tmp_path / 'run'}")
    assert code == 1 and out == "" and not (tmp_path / "run").exists()
    assert err.startswith(f"{spec}:12:15: error: data.batch_size 100 is the global batch, split across the 3 "
                          "processes, and 3 does not divide it") and "rank" not in err
    spec.write_text(SPEC.replace("Linear: 10", "Linear: ten"))
    code, out, err = run_cli("train", str(spec), "--nproc", "2")
    assert code == 1 and err.count("error:") == 1 and f"{spec}:9:15: error:" in err


def test_each_rank_takes_its_part_of_every_global_batch():
    idx = torch.arange(10, 17)  # a last batch of 7 over 3 ranks: 3, 2, 2, as torch.tensor_split splits
    parts = [World(r, 3).part(idx) for r in range(3)]
    assert [p.tolist() for p in parts] == [t.tolist() for t in torch.tensor_split(idx, 3)] == \
        [[10, 11, 12], [13, 14], [15, 16]]
    assert [World(r, 3).share(7) for r in range(3)] == [3, 2, 2]
    assert World().part(idx) is idx and World().share(7) == 7
    # a last batch of fewer than 2 samples per rank is left out (BatchNorm cannot train on one sample)
    assert World(0, 2).batches(103, 10) == 10 and World(0, 2).batches(104, 10) == 11
    assert World().batches(101, 10) == 11 and World(0, 2).batches(100, 10) == 10


def _npz_spec(tmp_path, n_train: int, layers: str, extra: str = "") -> Path:
    """A spec on an npz of n_train 1x6x6 samples of 4 classes (the class is where the bright square is)."""
    import numpy as np

    rng = np.random.default_rng(3)
    arrays = {}
    for split, n in (("train", n_train), ("test", 50)):
        y = rng.integers(0, 4, n)
        x = rng.integers(0, 80, (n, 1, 6, 6))
        for i, c in enumerate(y):
            x[i, 0, 3 * (c // 2): 3 * (c // 2) + 3, 3 * (c % 2): 3 * (c % 2) + 3] += 150
        arrays |= {f"x_{split}": x.astype(np.uint8), f"y_{split}": y}
    np.savez(tmp_path / "data.npz", **arrays)
    spec = tmp_path / "npz.yaml"
    spec.write_text(f"netspec: 1\nname: npz\nmodel:\n  input: [1, 6, 6]\n  layers:\n{layers}"
                    f"data:\n  dataset: npz\n  root: {tmp_path / 'data.npz'}\n  batch_size: 10\n{extra}"
                    "train:\n  epochs: 2\n  optimizer: {SGD: {lr: 0.05}}\n  device: cpu\n"
                    "output:\n  tensorboard: false\n")
    return spec


@pytest.mark.parametrize("case", ["sum loss, last batch of 1", "random flips"])
def test_two_processes_equal_one_with_a_summed_loss_and_with_random_augmentation(tmp_path, case):
    """A summed loss: the ranks' gradients add up to the whole batch's, and the reported losses stay
    per-sample means. Random flips: every rank flips the whole global batch with the draws one process
    makes, and keeps its part."""
    layers = "    - Flatten\n    - Linear: 4\n"
    if case == "random flips":
        spec = _npz_spec(tmp_path, 100, layers, "  augment: [RandomHorizontalFlip, RandomVerticalFlip]\n")
    else:
        spec = _npz_spec(tmp_path, 100, layers)
        spec.write_text(spec.read_text().replace("device: cpu", "device: cpu\n  loss: {CrossEntropyLoss: "
                                                 "{reduction: sum}}").replace("lr: 0.05", "lr: 0.002"))
    assert run_cli("train", str(spec), "--set", f"output.dir={tmp_path / 'one'}")[0] == 0
    done = netspec_cli("train", str(spec), "--nproc", "2", "--set", f"output.dir={tmp_path / 'two'}")
    assert done.returncode == 0, done.stderr
    assert close(weights(tmp_path / "one" / "last.pt"), weights(tmp_path / "two" / "last.pt"))
    one, two = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    for a, b in zip(one, two):  # per-sample means, whatever the reduction and the number of processes
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), abs=1e-5)
        assert float(a["test_loss"]) == pytest.approx(float(b["test_loss"]), abs=1e-5)


def test_batchnorm_with_a_tiny_last_batch_trains_and_its_test_figures_are_the_checkpoints(tmp_path):
    """102 samples in batches of 10 leave a last batch of 2, one sample per rank: it is left out. The test
    pass uses rank 0's BatchNorm statistics on every rank, those the checkpoint holds."""
    spec = _npz_spec(tmp_path, 102, "    - Flatten\n    - Linear: 16\n    - BatchNorm1d\n    - ReLU\n"
                                    "    - Linear: 4\n")
    done = netspec_cli("train", str(spec), "--nproc", "2", "--set", f"output.dir={tmp_path / 'two'}")
    assert done.returncode == 0, done.stderr
    last = metrics(tmp_path / "two")[-1]
    code, out, _ = run_cli("eval", str(tmp_path / "two" / "last.pt"), "--format", "json")
    result = json.loads(out)
    assert code == 0 and result["loss"] == pytest.approx(float(last["test_loss"]), abs=1e-6)
    assert result["accuracy"] == pytest.approx(float(last["test_accuracy"]))


def _environ(pid: int) -> dict[bytes, bytes]:
    """A process's environment ({} once it has ended, or for a zombie)."""
    try:
        return dict(kv.split(b"=", 1) for kv in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in kv)
    except OSError:
        return {}


def _ranks(launcher: int) -> dict[int, int]:
    """pid of each rank of this test's job: the launcher's own children that torchrun started (never another
    job's processes), by their RANK."""
    found = {}
    for task in os.listdir(f"/proc/{launcher}/task"):
        for pid in map(int, Path(f"/proc/{launcher}/task/{task}/children").read_text().split()):
            env = _environ(pid)
            if env.get(b"TORCHELASTIC_RUN_ID") and b"RANK" in env:
                found[int(env[b"RANK"])] = pid
    return found


def _running(pid: int, job: bytes) -> bool:
    """Whether a rank still runs: its pid alive, not a zombie, and still the job's (not a pid used again)."""
    return _environ(pid).get(b"TORCHELASTIC_RUN_ID") == job


@pytest.mark.parametrize("victim,sig", [(1, signal.SIGKILL), ("launcher", signal.SIGINT)])
def test_a_dead_rank_or_ctrl_c_stops_every_rank_with_a_message(tmp_path, victim, sig):
    spec = tmp_path / "ddp.yaml"
    spec.write_text(SPEC)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "netspec", "train", str(spec), "--nproc", "2",
                             "--set", "train.epochs=1000", "--set", f"output.dir={run_dir}"],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "last.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        ranks = _ranks(proc.pid)
        assert sorted(ranks) == [0, 1] and proc.poll() is None
        job = _environ(ranks[0])[b"TORCHELASTIC_RUN_ID"]
        os.kill(proc.pid if victim == "launcher" else ranks[victim], sig)
        out, err = proc.communicate(timeout=60)  # bounded: no rank hangs waiting for the dead one
    finally:
        proc.kill()
    if victim == "launcher":  # Ctrl-C: every rank stops, rank 0 says how to go on
        assert proc.returncode == 130
        assert "finished and saved in" in err and f"go on with `netspec train --resume {run_dir}`" in err
    else:
        assert proc.returncode == 1
        assert f"rank 1 (process {ranks[1]}) was killed by SIGKILL; every rank of the job was stopped" in err
    assert "Traceback" not in err
    assert not any(_running(pid, job) for pid in ranks.values())
    assert checkpoint.load(str(run_dir / "last.pt"))["epoch"] >= 1


def test_more_processes_than_gpus_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for key, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    spec = tmp_path / "ddp.yaml"
    spec.write_text(SPEC)
    code, out, err = run_cli("train", str(spec), "--device", "cuda", "--set", f"output.dir={tmp_path / 'run'}")
    assert code == 1 and not (tmp_path / "run").exists() and "Traceback" not in err
    assert "error: 2 processes on this machine train on CUDA, one GPU each, but it has 1" in err
    assert "hint: start at most 1 process per machine (--nproc / --nproc-per-node)" in err
