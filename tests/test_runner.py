"""netspec train: accuracy on digits, the run folder, seeds, resume after SIGKILL, devices, NaN, --set, the API."""
import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import netspec
from netspec import checkpoint
from tests.helpers import ROOT, STEPS, run_cli

TINY = """\
netspec: 1
name: tiny
model:
  input: [1, 8, 8]
  layers:
    - Flatten
    - Linear: 32
    - ReLU
    - Linear: 10
data:
  dataset: digits
  batch_size: 64
train:
  epochs: 2
  optimizer: {Adam: {lr: 0.01}}
  device: cpu
output:
  tensorboard: false
"""
COLUMNS = ["epoch", "train_loss", "test_loss", "test_accuracy", "lr", "seconds", "images_per_s"]
N_TRAIN_DIGITS = 1797 - 359  # netspec's fixed 80/20 split of the 1,797 digits


def tiny_spec(tmp_path: Path, text: str = TINY, name: str = "tiny.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def tiny_dict(**sections) -> dict:
    spec = yaml.safe_load(TINY)
    for key, value in sections.items():
        spec[key] = {**spec[key], **value} if isinstance(value, dict) else value
    return spec


def metrics(run_dir) -> list[dict]:
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def weights(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def snapshot(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def test_digits_spec_learns_and_leaves_a_complete_run_folder(tmp_path):
    run_dir = tmp_path / "digits"
    code, out, err = run_cli("train", str(ROOT / "specs" / "digits.yaml"), "--device", "cpu",
                             "--set", "train.epochs=3", "--set", f"output.dir={run_dir}",
                             "--set", "output.tensorboard=false")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"training digits on cpu into {run_dir}" and lines[-1] == f"run folder: {run_dir}"
    assert [ln.split()[1] for ln in lines[1:-2]] == ["1/3", "2/3", "3/3"]
    assert lines[-2].startswith("best test accuracy ") and lines[-2].endswith(f"its checkpoint: {run_dir}/best.pt")
    assert sorted(os.listdir(run_dir)) == ["best.pt", "curves.png", "last.pt", "metrics.csv", "spec.yaml"]

    rows = metrics(run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert all(math.isfinite(float(r[k])) and float(r[k]) >= 0 for r in rows for k in COLUMNS)
    assert all(float(r["lr"]) == 0.002 and float(r["seconds"]) > 0 and float(r["images_per_s"]) > 0 for r in rows)
    accuracy = [float(r["test_accuracy"]) for r in rows]
    assert accuracy[-1] >= 0.93  # a real classifier: chance is 0.10
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"]) / 3
    assert f"accuracy {100 * accuracy[-1]:.2f}%" in lines[3]

    resolved = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert resolved["train"]["epochs"] == 3 and resolved["output"]["dir"] == str(run_dir)
    assert resolved["data"] == {**resolved["data"], "dataset": "digits", "batch_size": 32, "test_batch_size": 256}
    assert run_cli("check", str(run_dir / "spec.yaml"))[0] == 0

    last = torch.load(run_dir / "last.pt", weights_only=True)
    best = torch.load(run_dir / "best.pt", weights_only=True)
    assert last["epoch"] == 3 and best["epoch"] == accuracy.index(max(accuracy)) + 1
    assert [m["test_accuracy"] for m in last["metrics"]] == accuracy
    code, out, _ = run_cli("eval", str(run_dir / "last.pt"), "--format", "json")
    assert code == 0 and json.loads(out)["accuracy"] == accuracy[-1] and json.loads(out)["samples"] == 359


def test_tensorboard_logs_each_epochs_figures(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "tb"
    code, _, err = run_cli("train", tiny_spec(tmp_path), "--set", f"output.dir={run_dir}",
                           "--set", "output.tensorboard=true")
    assert (code, err) == (0, "")
    events = list(run_dir.glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    acc = EventAccumulator(str(run_dir)).Reload()
    assert set(acc.Tags()["scalars"]) == {"loss/train", "loss/test", "accuracy/test", "lr"}
    rows = metrics(run_dir)
    logged = [(e.step, e.value) for e in acc.Scalars("accuracy/test")]
    assert logged == [(1, pytest.approx(float(rows[0]["test_accuracy"]))),
                      (2, pytest.approx(float(rows[1]["test_accuracy"])))]


def test_the_same_seed_gives_bit_identical_weights_and_another_seed_does_not(tmp_path):
    spec = tiny_spec(tmp_path)
    dirs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for run_dir, seed in zip(dirs, (7, 7, 8)):
        assert run_cli("train", spec, "--set", f"output.dir={run_dir}", "--set", f"train.seed={seed}")[0] == 0
    a, b, c = (weights(d / "last.pt") for d in dirs)
    assert same_weights(a, b)
    assert not same_weights(a, c)


RESUME_SPEC = TINY.replace("    - ReLU\n", "    - ReLU\n    - Dropout: 0.2\n").replace(
    "  epochs: 2\n", "  epochs: 6\n  scheduler: {StepLR: {step_size: 2, gamma: 0.5}}\n")


def test_resume_after_sigkill_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    # Dropout draws from the global RNG and StepLR has state: both must be restored for the weights to match.
    # Killed at the first optimizer step after epoch 2's line (torch's step hook prints "step"), mid-epoch 3,
    # whatever the machine's speed.
    spec = tiny_spec(tmp_path, RESUME_SPEC)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen([sys.executable, "-c", STEPS, "train", spec, "--set", f"output.dir={killed}"],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        second = False
        for line in proc.stdout:
            second = second or line.startswith("epoch 2/6")
            if second and line == "step\n":
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, stderr
    done = torch.load(killed / "last.pt", weights_only=True)["epoch"]
    assert done == 2

    code, out, err = run_cli("train", "--resume", str(killed))
    assert (code, err) == (0, "")
    assert f"epoch {done + 1}/6" in out and "epoch 6/6" in out and f"epoch {done}/6" not in out
    assert run_cli("train", spec, "--set", f"output.dir={whole}")[0] == 0
    assert same_weights(weights(killed / "last.pt"), weights(whole / "last.pt"))
    figures = ["epoch", "train_loss", "test_loss", "test_accuracy", "lr"]
    assert [[r[k] for k in figures] for r in metrics(killed)] == [[r[k] for k in figures] for r in metrics(whole)]

    before = snapshot(killed)
    code, out, err = run_cli("train", "--resume", str(killed))
    assert (code, err) == (0, "")
    assert f"{killed} has already trained 6 of 6 epochs; to train more, add --set train.epochs=N" in out
    assert snapshot(killed) == before

    code, out, _ = run_cli("train", "--resume", str(killed), "--set", "train.epochs=7")
    assert code == 0 and "epoch 7/7" in out and len(metrics(killed)) == 7


def test_a_kill_between_last_and_best_checkpoint_still_ends_with_the_best_epoch_in_best_pt(tmp_path, monkeypatch):
    spec = tiny_spec(tmp_path)
    assert run_cli("train", spec, "--set", f"output.dir={tmp_path / 'whole'}")[0] == 0
    accuracy = [float(r["test_accuracy"]) for r in metrics(tmp_path / "whole")]
    assert accuracy[1] > accuracy[0]  # epoch 2 is the best: best.pt is written after epoch 2

    real_save = checkpoint.save

    def killed_before_best(path, payload):  # the process dies here, as SIGKILL would leave it
        if path.endswith("best.pt") and payload["epoch"] == 2:
            raise KeyboardInterrupt
        real_save(path, payload)
    monkeypatch.setattr(checkpoint, "save", killed_before_best)
    assert run_cli("train", spec, "--set", f"output.dir={tmp_path / 'killed'}")[0] == 130
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert run_cli("train", "--resume", str(tmp_path / "killed"))[0] == 0
    assert torch.load(tmp_path / "killed" / "best.pt", weights_only=True)["epoch"] == 2
    assert same_weights(weights(tmp_path / "killed" / "best.pt"), weights(tmp_path / "whole" / "best.pt"))


def test_a_resume_that_raised_the_epochs_goes_on_to_them_when_resumed_again(tmp_path, monkeypatch):
    run_dir = tmp_path / "longer"
    assert run_cli("train", tiny_spec(tmp_path), "--set", f"output.dir={run_dir}", "--set", "train.epochs=1")[0] == 0
    real_save = checkpoint.save

    def interrupted_in_epoch_3(path, payload):
        if payload["epoch"] == 3:
            raise KeyboardInterrupt
        real_save(path, payload)
    monkeypatch.setattr(checkpoint, "save", interrupted_in_epoch_3)
    assert run_cli("train", "--resume", str(run_dir), "--set", "train.epochs=3")[0] == 130
    monkeypatch.setattr(checkpoint, "save", real_save)
    code, out, _ = run_cli("train", "--resume", str(run_dir))
    assert code == 0 and "epoch 3/3" in out and len(metrics(run_dir)) == 3


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    code, _, err = run_cli("train", "--resume", str(tmp_path))
    assert code == 1 and f"{tmp_path} is not a run folder: it has no spec.yaml" in err
    assert run_cli("train", "--resume", str(tmp_path), tiny_spec(tmp_path))[0] == 2


def test_a_second_run_into_the_same_folder_goes_to_the_next_free_one(tmp_path):
    spec, run_dir = tiny_spec(tmp_path), tmp_path / "runs" / "same"
    sets = ("--set", f"output.dir={run_dir}", "--set", "train.epochs=1")
    assert run_cli("train", spec, *sets)[0] == 0
    first = snapshot(run_dir)
    assert set(first) == {"spec.yaml", "metrics.csv", "last.pt", "best.pt", "curves.png"}
    code, out, err = run_cli("train", spec, *sets, "--set", "train.seed=1")
    second = Path(f"{run_dir}-2")
    assert (code, err) == (0, "") and out.splitlines()[-1] == f"run folder: {second}"
    assert snapshot(run_dir) == first
    assert yaml.safe_load((second / "spec.yaml").read_text())["output"]["dir"] == str(second)
    assert not same_weights(weights(run_dir / "last.pt"), weights(second / "last.pt"))


@pytest.mark.parametrize("how", [("--device", "cuda"), ("--device", "cuda:0"), ("--set", "train.device=cuda"),
                                 ("spec", "cuda")])
def test_cuda_on_a_machine_without_it_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch, how):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on this machine; the same anywhere
    monkeypatch.chdir(tmp_path)
    text = TINY.replace("device: cpu", "device: cuda") if how[0] == "spec" else TINY
    spec = tiny_spec(tmp_path, text, "gpu.yaml")
    argv = ["train", spec] + ([] if how[0] == "spec" else list(how))
    code, out, err = run_cli(*argv)
    assert code == 1 and out == "" and "Traceback" not in err
    first = err.splitlines()[0]
    fix = "use --device cpu or auto" if how[0] == "--device" else "set train.device to cpu or auto"
    assert first.endswith(f"error: CUDA is not available on this machine; {fix}")
    where = {"--device": f"--device {how[1]}", "--set": "--set train.device=cuda", "spec": f"{spec}:16:11"}[how[0]]
    assert first.startswith(f"{where}: error:")
    assert sorted(os.listdir(tmp_path)) == ["gpu.yaml"]


def test_a_loss_that_becomes_nan_stops_with_the_epoch_and_batch_and_writes_no_checkpoint(tmp_path):
    run_dir = tmp_path / "nan"
    code, out, err = run_cli("train", tiny_spec(tmp_path), "--set", f"output.dir={run_dir}",
                             "--set", "train.optimizer={SGD: {lr: 1e30}}")
    assert code == 1 and "Traceback" not in err
    assert re.search(r"error: the loss became NaN or infinite in epoch 1, batch \d+; training stopped", err)
    assert "hint: lower the learning rate in train.optimizer" in err
    assert not (run_dir / "last.pt").exists() and not (run_dir / "best.pt").exists()


def test_a_nan_after_a_good_epoch_leaves_that_epochs_checkpoints_unchanged(tmp_path):
    # The scheduler multiplies the learning rate by 1e32 after epoch 1: epoch 1 is fine, epoch 2 diverges.
    run_dir = tmp_path / "nan"
    code, _, _ = run_cli("train", tiny_spec(tmp_path), "--set", f"output.dir={run_dir}", "--set", "train.epochs=1",
                         "--set", "train.optimizer={SGD: {lr: 0.01}}",
                         "--set", "train.scheduler={StepLR: {step_size: 1, gamma: 1e32}}")
    assert code == 0
    before = snapshot(run_dir)
    code, _, err = run_cli("train", "--resume", str(run_dir), "--set", "train.epochs=3")
    assert code == 1 and "Traceback" not in err
    assert re.search(r"the loss became NaN or infinite in epoch 2, batch \d+", err) and "lower the learning rate" in err
    assert snapshot(run_dir) == before
    assert all(torch.isfinite(t).all() for t in weights(run_dir / "last.pt").values())


def test_metrics_record_the_learning_rate_each_epoch_trained_with(tmp_path):
    run_dir = tmp_path / "lr"
    assert run_cli("train", tiny_spec(tmp_path), "--set", f"output.dir={run_dir}",
                   "--set", "train.optimizer={SGD: {lr: 0.1}}",
                   "--set", "train.scheduler={StepLR: {step_size: 1, gamma: 0.5}}")[0] == 0
    assert [float(r["lr"]) for r in metrics(run_dir)] == [0.1, 0.05]


def test_data_shape_that_differs_from_model_input_is_a_located_error(tmp_path):
    spec = tiny_spec(tmp_path, TINY.replace("input: [1, 8, 8]", "input: [3, 8, 8]"))
    code, out, err = run_cli("train", spec, "--set", f"output.dir={tmp_path / 'runs'}")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.splitlines()[:4] == [
        f"{spec}:4:10: error: digits gives samples of [1, 8, 8] (channels, height, width), but model.input is "
        "[3, 8, 8]",
        "  4 |   input: [3, 8, 8]",
        "    |          ^",
        "  hint: write `input: [1, 8, 8]`",
    ]
    assert not (tmp_path / "runs").exists()


def test_classes_that_differ_from_the_models_output_is_a_located_error(tmp_path):
    spec = tiny_spec(tmp_path, TINY.replace("Linear: 10", "Linear: 7"))
    code, out, err = run_cli("train", spec, "--set", f"output.dir={tmp_path / 'runs'}")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.splitlines()[:4] == [
        f"{spec}:9:15: error: the model ends with 7 scores, but digits has 10 classes: the last Linear's "
        "out_features gives one score per class",
        "  9 |     - Linear: 7",
        "    |               ^",
        "  hint: set out_features to 10",
    ]
    assert not (tmp_path / "runs").exists()


def test_set_overrides_epochs_batch_size_and_output_dir(tmp_path):
    run_dir = tmp_path / "over"
    code, _, _ = run_cli("train", tiny_spec(tmp_path), "--set", "train.epochs=3", "--set", "data.batch_size=100",
                         "--set", f"output.dir={run_dir}")
    assert code == 0 and len(metrics(run_dir)) == 3
    ckpt = torch.load(run_dir / "last.pt", weights_only=True)
    steps = {float(s["step"]) for s in ckpt["optimizer"]["state"].values()}
    assert steps == {3 * math.ceil(N_TRAIN_DIGITS / 100)}  # Adam counts its steps: the batches really had 100
    resolved = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert resolved["data"]["batch_size"] == 100 and resolved["train"]["epochs"] == 3


@pytest.mark.parametrize("item, message", [
    ("train.epochs=0", "--set train.epochs=0: error: train.epochs must be at least 1, but it is 0"),
    ("train.epochs=two", "--set train.epochs=two: error: train.epochs must be a whole number"),
    ("train.epoch=3", "--set train.epoch=3: error: train has no key `epoch`"),
    ("trian.epochs=3", "--set trian.epochs=3: error: unknown top-level key `trian`"),
])
def test_a_bad_set_value_is_an_error_that_names_the_set(tmp_path, item, message):
    code, out, err = run_cli("train", tiny_spec(tmp_path), "--set", item, "--set", f"output.dir={tmp_path / 'r'}")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(message)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("item", ["train..epochs=3", "train.epochs", "3train=1", "model.layers[9].Linear=3"])
def test_a_malformed_set_key_is_a_usage_error(tmp_path, item):
    code, out, err = run_cli("train", tiny_spec(tmp_path), "--set", item, "--set", f"output.dir={tmp_path / 'r'}")
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"--set {item.split('=')[0]}" in err and not (tmp_path / "r").exists()


def test_python_api_train_and_predict(tmp_path):
    from PIL import Image

    run_dir = tmp_path / "api"
    history = netspec.train(tiny_dict(), overrides=["train.epochs=3", f"output.dir={run_dir}"])
    assert history.run_dir == str(run_dir) and not history.stopped_early
    assert [row["epoch"] for row in history.epochs] == [1, 2, 3]
    assert history.epochs == torch.load(run_dir / "last.pt", weights_only=True)["metrics"]
    assert history.best == max(row["test_accuracy"] for row in history.epochs) >= 0.85


    # Digits from the test split, written as 32x32 PNGs: predict names the digit the model sees there.
    from netspec.data import load_data

    model = netspec.build(tiny_dict())
    model.load_state_dict(weights(run_dir / "best.pt"))
    model.eval()
    test = load_data({"dataset": "digits"}, (1, 8, 8)).test
    x, y = test.x[:40], test.y[:40]
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)
    sure = [i for i in range(40) if probs[i].max() > 0.9 and probs[i].argmax() == y[i]][:5]
    assert len(sure) == 5
    paths = []
    for i in sure:
        pixels = (x[i, 0] * 255).round().to(torch.uint8).numpy()
        paths.append(str(tmp_path / f"digit{i}.png"))
        Image.fromarray(pixels, "L").resize((32, 32), Image.NEAREST).save(paths[-1])
    top = netspec.predict(history.run_dir + "/best.pt", paths, top=3)
    assert [r["image"] for r in top] == paths
    assert [r["top"][0]["class"] for r in top] == [str(int(y[i])) for i in sure]
    assert all(len(r["top"]) == 3 and r["top"][0]["probability"] >= r["top"][1]["probability"] for r in top)


def test_python_api_evaluate_after_train_as_the_readme_shows(tmp_path):
    history = netspec.train(tiny_spec(tmp_path), overrides=[f"output.dir={tmp_path / 'api'}", "train.epochs=1"])
    result = netspec.evaluate(history.run_dir + "/best.pt")
    assert result["accuracy"] == history.best and result["classes"] == [str(i) for i in range(10)]
    assert set(result) >= {"loss", "accuracy", "per_class", "confusion"}


def test_python_api_trains_a_spec_file_and_resumes_its_folder(tmp_path):
    run_dir = tmp_path / "file"
    history = netspec.train(tiny_spec(tmp_path), overrides=[f"output.dir={run_dir}", "train.epochs=1"])
    assert len(history.epochs) == 1
    more = netspec.train(None, resume=history.run_dir, overrides=["train.epochs=2"])
    assert more.run_dir == history.run_dir and [r["epoch"] for r in more.epochs] == [1, 2]


def test_python_api_resumes_with_only_the_run_folder(tmp_path):
    run_dir = tmp_path / "file"
    netspec.train(tiny_spec(tmp_path), overrides=[f"output.dir={run_dir}", "train.epochs=1"])
    more = netspec.train(resume=str(run_dir), overrides=["train.epochs=2"])
    assert [r["epoch"] for r in more.epochs] == [1, 2]


def test_a_dict_spec_without_a_name_trains_into_a_plain_folder_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tiny_dict(train={"epochs": 1})
    del spec["name"]
    history = netspec.train(spec)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", os.path.basename(history.run_dir)), history.run_dir


def test_early_stop_counts_epochs_without_improvement_across_a_resume(tmp_path):
    """SGD with lr 0 never improves after epoch 1: patience 2 stops after epoch 3, also when the run was
    resumed in between (the count is in the checkpoint)."""
    flat = TINY.replace("optimizer: {Adam: {lr: 0.01}}", "optimizer: {SGD: {lr: 0.0}}\n  early_stop: {patience: 2}")
    spec = tiny_spec(tmp_path, flat.replace("epochs: 2", "epochs: 6"))
    code, out, _ = run_cli("train", spec, "--set", f"output.dir={tmp_path / 'whole'}")
    assert code == 0 and "stopping early: no improvement for 2 epochs" in out and "epoch 4/6" not in out
    assert len(metrics(tmp_path / "whole")) == 3
    assert run_cli("train", spec, "--set", f"output.dir={tmp_path / 'cut'}", "--set", "train.epochs=2")[0] == 0
    code, out, _ = run_cli("train", "--resume", str(tmp_path / "cut"), "--set", "train.epochs=6")
    assert code == 0 and "epoch 3/6" in out and "stopping early: no improvement for 2 epochs" in out
    assert len(metrics(tmp_path / "cut")) == 3


def test_a_one_cycle_schedule_cannot_be_stretched_by_a_resume_and_says_so(tmp_path):
    cyc = TINY.replace("optimizer: {Adam: {lr: 0.01}}", "optimizer: {SGD: {lr: 0.01}}\n"
                       "  scheduler: {OneCycleLR: {max_lr: 0.1}}")
    spec = tiny_spec(tmp_path, cyc)
    assert run_cli("train", spec, "--set", f"output.dir={tmp_path / 'run'}")[0] == 0
    code, out, err = run_cli("train", "--resume", str(tmp_path / "run"), "--set", "train.epochs=3")
    assert code == 1 and "Traceback" not in err and "internal error" not in err
    steps = 2 * math.ceil(N_TRAIN_DIGITS / 64)
    assert err.startswith(f"--set train.epochs=3: error: OneCycleLR's schedule was planned for {steps} steps and "
                          f"cannot go on to the {steps // 2 * 3} of train.epochs 3"), err


def test_early_stop_watches_the_figure_its_monitor_names(tmp_path):
    """monitor: test_loss stops when the loss stops falling, even while the accuracy still rises."""
    from netspec.runner import _score

    rows = [{"test_accuracy": 0.5, "test_loss": 1.0}, {"test_accuracy": 0.6, "test_loss": 1.2}]
    assert _score(rows[1], "test_accuracy") > _score(rows[0], "test_accuracy")
    assert _score(rows[1], "test_loss") < _score(rows[0], "test_loss")
    assert _score({"test_accuracy": None, "test_loss": 0.3}, "test_accuracy") == -0.3  # no accuracy: the loss
    flat = TINY.replace("optimizer: {Adam: {lr: 0.01}}", "optimizer: {Adam: {lr: 0.01}}\n"
                        "  early_stop: {patience: 1, monitor: test_loss}")
    code, out, _ = run_cli("train", tiny_spec(tmp_path, flat.replace("epochs: 2", "epochs: 40")),
                           "--set", f"output.dir={tmp_path / 'run'}")
    losses = [float(r["test_loss"]) for r in metrics(tmp_path / "run")]
    assert code == 0 and "stopping early: no improvement for 1 epoch" in out
    assert losses[-1] >= min(losses[:-1]) and all(b < a for a, b in zip(losses[:-2], losses[1:-1]))


def test_a_resumed_run_says_it_resumes(tmp_path):
    run_dir = tmp_path / "again"
    code, _, err = run_cli("train", tiny_spec(tmp_path), "--set", f"output.dir={run_dir}", "--set", "train.epochs=1")
    assert code == 0, err
    code, out, err = run_cli("train", "--resume", str(run_dir), "--set", "train.epochs=2")
    assert code == 0, err
    assert out.splitlines()[0] == f"resuming tiny after epoch 1 of 2, on cpu, in {run_dir}"
