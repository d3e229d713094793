"""The resource guard: a model too big for this machine is refused before anything is allocated.

The machine is the one tests/conftest.py pins (64 GiB free, no GPU) unless a test sets its own."""
import subprocess
import sys

import pytest
import torch

import netspec
from netspec import guard
from netspec.guard import gpu_problem, memory_problem
from tests.helpers import ROOT, run_cli, spec

HUGE = spec([{"Linear": 1_000_000}], input_shape=[1_000_000])  # 10^12 weights: 3.6 TiB


def test_check_warns_of_a_model_that_cannot_fit_and_build_refuses_it_saying_how_much_it_needs():
    report = netspec.check(HUGE)  # the same verdict whatever memory is free: valid, with a warning
    assert report.valid and [w.code for w in report.warnings] == ["memory"]
    assert report.warnings[0].message == netspec.check(HUGE, allocate=True).errors[0].message
    (e,) = netspec.check(HUGE, allocate=True).errors
    assert e.message == ("the model needs 3.6 TiB to hold its weights (1,000,001,000,000 parameters) and its layer "
                         "outputs for a batch of 64, but only 64.0 GiB of memory is available; Linear `linear_1` "
                         "alone has 1,000,001,000,000")
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


# The machine's inputs: its free memory and whether `device: auto` finds a GPU. -------------------------------

ONE_LINEAR = spec([{"Linear": 100}], input_shape=[100])  # 10,100 weights: 39.5 KiB, and 400 B per sample


@pytest.fixture
def this_machine(monkeypatch, tmp_path):
    """The guard reading a machine made up in tmp_path: write(meminfo text) and gpus(driver loaded?)."""
    monkeypatch.delenv(guard.MEMORY_VARIABLE)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr(guard, "MEMINFO", str(tmp_path / "meminfo"))
    monkeypatch.setattr(guard, "NVIDIA_GPUS", str(tmp_path / "nvidia" / "gpus"))

    class Machine:
        @staticmethod
        def write(text: str) -> None:
            (tmp_path / "meminfo").write_text(text)

        @staticmethod
        def gpus(loaded: bool) -> None:
            (tmp_path / "nvidia" / "gpus" / "0000:01:00.0").mkdir(parents=True, exist_ok=True)
            if not loaded:
                (tmp_path / "nvidia" / "gpus" / "0000:01:00.0").rmdir()
                (tmp_path / "nvidia" / "gpus").rmdir()
    return Machine


def test_the_memory_available_is_read_from_meminfo(this_machine):
    this_machine.write("MemTotal:       16303748 kB\nMemFree:          101424 kB\nMemAvailable:         64 kB\n")
    assert guard.available_bytes() == 64 * 1024
    (w,) = netspec.check(ONE_LINEAR).warnings  # 39.5 KiB of weights, 64 x 400 B of outputs: 64.5 KiB
    assert w.message.startswith("the model needs 64.5 KiB to hold its weights (10,100 parameters) and its layer "
                                "outputs for a batch of 64, but only 64.0 KiB of memory is available")


@pytest.mark.parametrize("meminfo", [None, "MemTotal: 16303748 kB\nMemFree: 101424 kB\n", "MemAvailable: lots\n"],
                         ids=["no meminfo", "no MemAvailable", "not a number"])
def test_a_guard_that_cannot_read_the_memory_says_it_is_off_instead_of_refusing(this_machine, meminfo):
    if meminfo is not None:
        this_machine.write(meminfo)
    assert guard.available_bytes() is None
    report = netspec.check(HUGE)  # 3.6 TiB: no machine holds it, but this one cannot tell
    assert report.valid and [(w.code, w.message) for w in report.warnings] == [
        ("memory", "cannot read this machine's free memory; the memory check is off")]
    assert report.warnings[0].file == guard.MEMINFO
    assert "--max-params N" in report.warnings[0].hints[0] and "NETSPEC_MEMORY_BYTES" in report.warnings[0].hints[1]
    assert netspec.check(HUGE, allocate=True).valid  # not refused: the guard does not know
    assert netspec.check(HUGE | {"silence": ["memory"]}).warnings == []
    (e,) = netspec.check(HUGE, max_params=10**9).errors  # a parameter limit needs no memory figure
    assert "but only 3.7 GiB is allowed" in e.message
    assert netspec.check(ONE_LINEAR, max_params=10**9).warnings == []


def test_cannot_read_the_memory_is_a_warning_of_check_and_an_error_under_strict(this_machine, tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [100]\n  layers:\n    - Linear: 100\n")
    code, out, err = run_cli("check", str(f))
    assert code == 0 and err.splitlines()[0] == (f"{tmp_path / 'meminfo'}: warning[memory]: cannot read this "
                                                 "machine's free memory; the memory check is off"), err
    assert "  hint: if it is meant, add `silence: [memory]` to the spec to silence this warning" in err.splitlines()
    assert run_cli("check", "--strict", str(f))[0] == 1
    assert run_cli("check", "--max-params", "20000", str(f)) == (0, out, "")


@pytest.mark.parametrize("value", ["12x", "-5", "1.5e9"])
def test_netspec_memory_bytes_replaces_the_machines_memory_and_must_be_a_number(monkeypatch, tmp_path, value):
    monkeypatch.setenv(guard.MEMORY_VARIABLE, "66000")  # exactly ONE_LINEAR's weights and a batch of outputs
    assert netspec.check(ONE_LINEAR).valid and not netspec.check(ONE_LINEAR).warnings
    monkeypatch.setenv(guard.MEMORY_VARIABLE, "65999")
    (w,) = netspec.check(ONE_LINEAR).warnings
    assert "but only 64.5 KiB of memory is available" in w.message
    monkeypatch.setenv(guard.MEMORY_VARIABLE, value)
    report = netspec.check(ONE_LINEAR)
    assert report.exit_code == 2 and [(e.file, e.message) for e in report.errors] == [
        ("NETSPEC_MEMORY_BYTES", f"the environment variable NETSPEC_MEMORY_BYTES is `{value}`, not a number of bytes")]
    f = tmp_path / "one.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [100]\n  layers:\n    - Linear: 10\n"
                 f"data: {{dataset: FakeData}}\noutput: {{dir: {tmp_path / 'run'}}}\n")
    code, _, err = run_cli("train", str(f))
    assert code != 0 and "NETSPEC_MEMORY_BYTES: error: " in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("driver, visible, on_cpu", [
    (False, None, True),  # no NVIDIA driver: auto trains on the CPU
    (True, None, False),  # a driver: auto trains on the GPU, whose memory train checks
    (True, "0", False),
    (True, "", True),  # every GPU hidden, as torch sees it
    (True, "-1", True),
    (True, "-1,0", True),
], ids=["no driver", "driver", "driver, GPU 0 shown", "driver, none shown", "driver, -1", "driver, -1 first"])
def test_check_counts_a_batch_of_layer_outputs_when_auto_trains_on_the_cpu(this_machine, monkeypatch, driver,
                                                                          visible, on_cpu):
    this_machine.write("MemAvailable:  1048576 kB\n")  # 1 GiB
    this_machine.gpus(driver)
    if visible is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert guard.gpu_visible() is not on_cpu
    wide = WIDE | {"data": {"dataset": "FakeData", "batch_size": 8}}  # 8 GiB of layer outputs, 7 KiB of weights
    report = netspec.check(wide)
    assert report.batch == (8 if on_cpu else 0)
    assert [w.code for w in report.warnings if w.code == "memory"] == (["memory"] if on_cpu else [])
    assert netspec.check(wide | {"train": {"device": "cpu"}}).batch == 8  # cpu and cuda say where, whatever the machine
    assert netspec.check(wide | {"train": {"device": "cuda"}}).batch == 0
