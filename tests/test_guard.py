"""The resource guard: a model too big for this machine is refused before anything is allocated."""
import subprocess
import sys

import pytest
import torch

import netspec
from netspec.guard import gpu_problem, memory_problem
from tests.helpers import ROOT, run_cli, spec

HUGE = spec([{"Linear": 1_000_000}], input_shape=[1_000_000])  # 10^12 weights: 3.6 TiB


def test_check_warns_of_a_model_that_cannot_fit_and_build_refuses_it_saying_how_much_it_needs():
    report = netspec.check(HUGE)  # the same verdict whatever memory is free: valid, with a warning
    assert report.valid and [w.code for w in report.warnings] == ["memory"]
    assert report.warnings[0].message == netspec.check(HUGE, allocate=True).errors[0].message
    (e,) = netspec.check(HUGE, allocate=True).errors
    assert e.message.startswith("the model needs 3.6 TiB to hold its weights (1,000,001,000,000 parameters) and "
                                "its layer outputs for a batch of 64, but only ")
    assert "of memory is available; Linear `linear_1` alone has 1,000,001,000,000" in e.message
    assert e.path == ("model", "layers", 0) and "--max-params" in e.hints[1]


def test_build_and_train_refuse_it_without_allocating(tmp_path):
    code = ("import netspec, tests.helpers as h\n"
            "try:\n    netspec.build(h.spec([{'Linear': 1000000}], input_shape=[1000000]))\n"
            "except netspec.NetspecError as e:\n    print('refused', e.problems[0].message[:31])\n"
            # VmHWM is this process's own peak; ru_maxrss would carry over the peak of a big pytest forking it
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) // 1024)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    refused, peak_mib = r.stdout.splitlines()
    assert refused.startswith("refused the model needs 3.6 TiB") and int(peak_mib) < 1500
    f = tmp_path / "huge.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [1000000]\n  layers:\n    - Linear: 1000000\ndata: {dataset: {FakeData: {num_classes: 1000000}}}\n"
                 f"output: {{dir: {tmp_path / 'run'}}}\n")
    code, out, err = run_cli("train", str(f))
    assert code == 1 and "the model needs 3.6 TiB" in err and not (tmp_path / "run").exists()


def test_max_params_overrides_the_guard_and_also_limits():
    assert netspec.check(HUGE, max_params=2 * 10**12).valid
    small = spec([{"Linear": 100}], input_shape=[100])
    (e,) = netspec.check(small, max_params=1000).errors
    assert "but only 3.9 KiB is allowed" in e.message
    code, out, _ = run_cli("check", str(ROOT / "specs" / "cifar.yaml"), "--max-params", "62006")
    assert code == 0


def test_the_limit_is_the_memory_available():
    report = netspec.check(spec([{"Linear": 100}], input_shape=[100]))
    assert memory_problem(report, limit=40_400) is None  # 10,100 weights of 4 bytes
    problem = memory_problem(report, limit=40_399)
    assert problem is not None and "39.5 KiB to hold its weights" in problem.message


# 64 channels of 2048 x 2048 float32: 1 GiB of layer output per sample, and only 1,792 weights
WIDE = spec([{"Conv2d": {"out_channels": 64, "kernel_size": 3, "padding": 1}}], input_shape=[3, 2048, 2048])


def test_layer_outputs_for_a_batch_count_too_when_training_on_the_cpu():
    report = netspec.check(WIDE | {"data": {"dataset": "FakeData", "batch_size": 8}, "train": {"device": "cpu"}})
    assert report.activation_bytes == 64 * 2048 * 2048 * 4
    assert memory_problem(report, limit=8 * 2**30 + 1792 * 4) is None
    problem = memory_problem(report, limit=8 * 2**30 + 1792 * 4 - 1, batch=8)
    assert problem.message.startswith("the model needs at least 8.0 GiB to train on a batch of 8 (7.0 KiB of "
                                      "weights, 1.0 GiB of layer outputs per sample), but only 8.0 GiB of memory is "
                                      "available; Conv2d `conv2d_1` alone needs 1.0 GiB per sample")
    assert problem.path == ("model", "layers", 0)
    assert "lower data.batch_size" in problem.hints[0] and "--max-params 1792 " in problem.hints[1]


def test_check_uses_the_specs_batch_size_and_device():
    big_batch = WIDE | {"data": {"dataset": "FakeData", "batch_size": 100_000}}
    (e,) = netspec.check(big_batch | {"train": {"device": "cpu"}}, allocate=True).errors
    assert "to train on a batch of 100000 (" in e.message and "of memory is available" in e.message
    (w,) = [w for w in netspec.check(big_batch | {"train": {"device": "cpu"}}).warnings if w.code == "memory"]
    assert w.message == e.message and w.code == "memory"
    assert not netspec.check(big_batch | {"train": {"device": "cuda"}}, allocate=True).errors  # train checks the GPU
    assert netspec.check(big_batch | {"train": {"device": "cuda"}}, device="cpu", allocate=True).errors  # --device
    assert netspec.check(big_batch | {"train": {"device": "cpu"}}, max_params=1792).valid  # the override
    (e,) = netspec.check(WIDE | {"train": {"device": "cpu"}}, max_params=1000).errors  # and its own limit
    assert e.message.startswith("the model needs 7.0 KiB to hold its weights (1,792 parameters), but only 3.9 KiB "
                                "is allowed")


def test_a_working_copy_inside_a_layer_counts(tmp_path):
    """LocalResponseNorm pads a squared copy of its input by size - 1 channels (the fuzzer found it)."""
    report = netspec.check(spec([{"LocalResponseNorm": 4096}], input_shape=[1, 512, 512]))
    x = torch.zeros(1, 1, 512, 512, device="meta")  # the padded copy torch makes, sized without memory
    assert report.layers[0].inner_bytes >= 4 * (1 + 4095) * 512 * 512 == torch.nn.functional.pad(
        x.unsqueeze(1), (0, 0, 0, 0, 2048, 2047)).numel() * 4


@pytest.mark.parametrize("free,refused", [(10**12, False), (10**9, True)])
def test_train_on_a_gpu_compares_with_its_free_memory(tmp_path, monkeypatch, free, refused):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))
    report = netspec.check(WIDE | {"data": {"dataset": "FakeData", "batch_size": 8}, "train": {"device": "cuda"}})
    problem = gpu_problem(report, torch.device("cuda"), 8)
    if not refused:
        assert problem is None
        return
    assert "but only 953.7 MiB of GPU memory is available" in problem.message
    f = tmp_path / "wide.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [3, 2048, 2048]\n  layers:\n    - Conv2d: {out_channels: 64, "
                 "kernel_size: 3, padding: 1}\ndata: {dataset: FakeData, batch_size: 8}\ntrain: {device: cuda}\n"
                 f"output: {{dir: {tmp_path / 'run'}}}\n")
    code, out, err = run_cli("train", str(f))
    assert code == 1 and "of GPU memory is available" in err and not (tmp_path / "run").exists()
