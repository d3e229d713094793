"""The product does not depend on the host in silent ways (issue 18, item 4): a malformed torchrun
environment is an error, and the shipped torchvision table survives a local version suffix."""
import json

import pytest

from netspec import distributed
from netspec.errors import UsageError
from netspec.layers import visionprobe
from tests.helpers import run_cli


@pytest.mark.parametrize("env,words", [
    ({"RANK": "1x", "WORLD_SIZE": "2"}, "the environment variable RANK is `1x`, not a whole number 0 or more"),
    ({"RANK": "0", "WORLD_SIZE": "two"}, "the environment variable WORLD_SIZE is `two`"),
    ({"RANK": "-1", "WORLD_SIZE": "2"}, "the environment variable RANK is `-1`"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, "this is process RANK=2 of WORLD_SIZE=2, which cannot be"),
    ({"RANK": "0", "WORLD_SIZE": "0"}, "RANK=0 of WORLD_SIZE=0"),
])
def test_a_malformed_torchrun_environment_is_an_error_not_a_single_process_run(env, words, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as e:
        distributed.from_env()
    assert words in e.value.problems[0].message and e.value.exit_code == 2


def test_a_well_formed_environment_gives_its_world(monkeypatch):
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    assert distributed.from_env() == distributed.World(1, 2, 1, 2)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name)
    assert distributed.from_env() == distributed.World()


@pytest.fixture
def installed(monkeypatch):
    """Pretend another torchvision version is installed (the table is read afresh)."""
    import importlib.metadata

    real = importlib.metadata.version

    def pretend(value):
        monkeypatch.setattr(importlib.metadata, "version", lambda name: value if name == "torchvision" else real(name))
        visionprobe._table.cache_clear()
        return visionprobe._table()
    yield pretend
    monkeypatch.setattr(importlib.metadata, "version", real)
    visionprobe._table.cache_clear()


def test_the_shipped_table_is_kept_for_a_local_version_suffix(installed, capsys):
    import json
    from importlib import resources

    shipped = json.loads(resources.files("netspec.layers").joinpath("torchvision_shapes.json").read_text())
    base = shipped["torchvision"].split("+")[0]
    assert installed(base + "+cpu")["shapes"] and installed(base)["shapes"]
    assert capsys.readouterr().err == ""


def test_another_release_drops_the_table_and_says_how_to_rebuild_it(installed, capsys):
    assert installed("0.1.0") == {}
    err = capsys.readouterr().err
    assert "this is 0.1.0" in err and "python tools/make_torchvision_shapes.py" in err


# The shipped table, against torchvision itself: models built as a user builds them (on the CPU, with
# their real initialisation) and run on a real input, not measured on the meta device as the table was made.
SMALL = ("resnet18", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5", "mnasnet0_5", "regnet_x_400mf")


def _entries():
    shipped = visionprobe._shipped()
    keys = sorted(k for k in shipped if json.loads(k)[0] in SMALL and json.loads(k)[2][1] <= 64)
    return [(k, shipped[k]) for k in keys[::3]]


@pytest.mark.parametrize("key,entry", _entries())
def test_the_shipped_table_agrees_with_a_model_built_and_run_on_the_cpu(key, entry):
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    model, kwargs, shape = json.loads(key)
    torch.manual_seed(0)
    net = torchvision.models.get_model(model, weights=None, **kwargs).eval()
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            out = net(torch.rand(2, *shape))
    except (RuntimeError, ValueError, AssertionError):
        assert "error" in entry, key  # the table says the input is refused, and torch refuses it
        return
    assert "error" not in entry, key
    assert entry["shape"] == list(out.shape[1:]) and out.shape[0] == 2
    assert entry["params"] == sum(p.numel() for p in net.parameters())
    assert entry["macs"] == counter.get_total_flops() // 2 // 2  # torch counted a batch of 2


# Errors that are not verdicts on the spec are not dressed up as one (item 4).

def test_a_failure_while_measuring_a_torchvision_model_is_an_internal_error_not_a_refusal(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    visionprobe._cache.cache_clear()

    def out_of_memory(*args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(torchvision.models, "get_model", out_of_memory)
    spec = tmp_path / "s.yaml"
    spec.write_text("netspec: 1\nmodel:\n  input: [3, 40, 44]\n  layers:\n    - torchvision.resnet18: 10\n")
    code, out, err = run_cli("check", str(spec))
    visionprobe._cache.cache_clear()
    assert code == 1 and "Traceback" not in err
    assert err.startswith("netspec: internal error: MemoryError") and "NETSPEC_DEBUG=1" in err
    assert "does not accept" not in err


def test_a_real_refusal_of_arguments_is_still_said_as_one(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    visionprobe._cache.cache_clear()
    spec = tmp_path / "s.yaml"
    spec.write_text("netspec: 1\nmodel:\n  input: [3, 40, 44]\n  layers:\n    - torchvision.resnet18: {num_classes: 10, "
                    "groups: 0}\n")
    code, out, err = run_cli("check", str(spec))
    visionprobe._cache.cache_clear()
    assert code == 1 and "internal error" not in err and "torchvision.resnet18" in err, err


def _cifar_spec(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"netspec: 1\ndata:\n  dataset: CIFAR10\n  root: {tmp_path / 'data'}\nmodel:\n  input: [3, 32, 32]\n"
                    "  layers:\n    - Flatten\n    - Linear: 10\ntrain:\n  epochs: 1\n  device: cpu\n"
                    f"output:\n  dir: {tmp_path / 'runs'}\n")
    return spec


def test_a_dataset_that_fails_for_another_reason_than_missing_files_is_not_called_missing(tmp_path, monkeypatch):
    from netspec import data

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in reading")
    monkeypatch.setattr(data, "CifarImages", broken)
    code, out, err = run_cli("train", str(_cifar_spec(tmp_path)))
    assert code == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: a bug in reading" in err and "are not in" not in err


def test_dataset_files_that_cannot_be_read_say_so(tmp_path, monkeypatch):
    from netspec import data

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "data" / "cifar-10-batches-py" / "data_batch_1"))
    monkeypatch.setattr(data, "CifarImages", denied)
    code, out, err = run_cli("train", str(_cifar_spec(tmp_path)))
    assert code == 1 and "Traceback" not in err and "internal error" not in err
    assert "the CIFAR10 files in" in err and "cannot be read: [Errno 13] Permission denied" in err


def test_missing_dataset_files_are_still_called_missing(tmp_path):
    code, out, err = run_cli("train", str(_cifar_spec(tmp_path)))
    assert code == 1 and "the CIFAR10 files are not in" in err and "data.download is false" in err


@pytest.mark.parametrize("error", ["torch", "python"])
def test_running_out_of_memory_while_training_is_said_with_what_to_lower(tmp_path, monkeypatch, error):
    import torch

    def exhausted(self, x):
        if error == "torch":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        raise MemoryError()
    monkeypatch.setattr(torch.nn.Linear, "forward", exhausted)
    spec = tmp_path / "s.yaml"
    spec.write_text(f"netspec: 1\ndata:\n  dataset: digits\n  batch_size: 32\nmodel:\n  input: [1, 8, 8]\n  layers:\n"
                    f"    - Flatten\n    - Linear: 10\ntrain:\n  epochs: 1\n  device: cpu\noutput:\n  dir: {tmp_path}\n")
    code, out, err = run_cli("train", str(spec))
    assert code == 1 and "Traceback" not in err and "internal error" not in err
    assert "training ran out of memory" in err and "lower data.batch_size from 32 to 16, say," in err
    assert ("Tried to allocate 2.00 GiB" in err) == (error == "torch")
    assert f"{spec}:4:" in err  # at data.batch_size
    assert "--resume" not in err  # nothing was saved in epoch 1: no comfort to offer


def test_running_out_of_memory_at_a_batch_of_one_says_what_else_to_change(tmp_path, monkeypatch):
    import torch

    def exhausted(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory.")
    monkeypatch.setattr(torch.nn.Linear, "forward", exhausted)
    spec = tmp_path / "s.yaml"
    spec.write_text(f"netspec: 1\ndata:\n  dataset: digits\n  batch_size: 1\nmodel:\n  input: [1, 8, 8]\n  layers:\n"
                    f"    - Flatten\n    - Linear: 10\ntrain:\n  epochs: 1\n  device: cpu\noutput:\n  dir: {tmp_path}\n")
    code, _out, err = run_cli("train", str(spec))
    assert code == 1 and "data.batch_size (1) cannot be made smaller" in err and "lower data.batch_size" not in err


def test_running_out_of_memory_after_saved_epochs_says_how_to_go_on_with_a_smaller_batch(tmp_path, monkeypatch):
    import torch

    real, calls = torch.nn.Linear.forward, []

    def exhausted_in_epoch_2(self, x):
        calls.append(1)
        if len(calls) > 80:  # epoch 1 is 45 training batches and a test pass of 2
            raise torch.OutOfMemoryError("CUDA out of memory.")
        return real(self, x)
    monkeypatch.setattr(torch.nn.Linear, "forward", exhausted_in_epoch_2)
    spec = tmp_path / "s.yaml"
    run = tmp_path / "run"
    spec.write_text(f"netspec: 1\ndata:\n  dataset: digits\n  batch_size: 32\nmodel:\n  input: [1, 8, 8]\n  layers:\n"
                    f"    - Flatten\n    - Linear: 10\ntrain:\n  epochs: 3\n  device: cpu\noutput:\n  dir: {run}\n")
    code, out, err = run_cli("train", str(spec))
    assert code == 1 and "training ran out of memory" in err and "epoch 1/3" in out and "epoch 2/3" not in out
    assert f"1 epoch saved in {run}: `netspec train --resume {run} --set data.batch_size=16`" in err
    monkeypatch.setattr(torch.nn.Linear, "forward", real)
    code, out, err = run_cli("train", "--resume", str(run), "--set", "data.batch_size=16")
    assert (code, err) == (0, "") and "epoch 2/3" in out and "epoch 3/3" in out and "epoch 1/3" not in out


def _digits_spec(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"netspec: 1\ndata:\n  dataset: digits\nmodel:\n  input: [1, 8, 8]\n  layers:\n    - Flatten\n"
                    f"    - Linear: 10\ntrain:\n"
                    f"  epochs: 1\n  device: cpu\noutput:\n  dir: {tmp_path / 'runs'}\n  tensorboard: false\n")
    return spec


def test_train_says_too_that_the_memory_check_is_off(tmp_path, monkeypatch):
    from netspec import guard

    monkeypatch.delenv(guard.MEMORY_VARIABLE)
    monkeypatch.setattr(guard, "MEMINFO", str(tmp_path / "no-meminfo"))
    code, out, err = run_cli("train", str(_digits_spec(tmp_path)))
    assert code == 0 and "warning[memory]: cannot read this machine's free memory; the memory check is off" in err


def test_train_given_a_malformed_memory_variable_is_a_usage_error(tmp_path, monkeypatch):
    from netspec import guard

    monkeypatch.setenv(guard.MEMORY_VARIABLE, "lots")
    code, out, err = run_cli("train", str(_digits_spec(tmp_path)))
    assert code == 2 and "NETSPEC_MEMORY_BYTES" in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("doc", ["docs/guarantees.md", "docs/zh/guarantees.md"])
def test_every_test_a_guarantee_cites_exists(doc):
    """A promise beside a test that was renamed or removed would be checked by nothing."""
    import re

    from tests.helpers import ROOT

    text = (ROOT / doc).read_text()
    cited = 0
    for row in (line for line in text.splitlines() if line.startswith("|")):
        file = None
        for ref in re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`(test_\w+)`", row):
            path, name, bare = ref
            if path:
                file = (ROOT / path).read_text()
            if name or bare:
                assert file is not None and f"def {name or bare}(" in file, (doc, path or "", name or bare)
                cited += 1
    assert cited >= 30


@pytest.mark.parametrize("processes,batch,half", [(1, 64, 32), (1, 3, 1), (4, 12, 4), (4, 6, 4), (4, 4, None)])
def test_the_smaller_batch_offered_after_running_out_of_memory_divides_among_the_processes(
        processes, batch, half, monkeypatch):
    from netspec.loader import loads
    from netspec.render import problems_text
    from netspec.runner import _out_of_memory

    monkeypatch.setenv("WORLD_SIZE", str(processes))
    doc = loads(f"netspec: 1\ndata: {{dataset: digits, batch_size: {batch}}}\nmodel: {{input: [4], layers: [Linear: 2]}}\n")
    said = problems_text(_out_of_memory(MemoryError(), doc, saved=1, folder="runs/x").problems, doc)
    if half is None:
        assert f"data.batch_size ({batch}) cannot be made smaller" in said and "--resume" not in said
    else:
        assert f"from {batch} to {half}, say" in said and f"--set data.batch_size={half}`" in said
        assert half % processes == 0 and half < batch
