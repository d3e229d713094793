"""What `netspec train` imports before its first batch (issue 16): CIFAR folders are read, and the default
ToTensor applied, without importing torchvision, whose import costs a second or two."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from netspec.data import ToTensor
from tests.helpers import ROOT
from tests.test_data import write_cifar10


def test_training_on_a_cifar_folder_does_not_import_torchvision(tmp_path):
    write_cifar10(tmp_path)
    code = (
        "import sys, torch, netspec\n"
        "from netspec.data import load_data\n"
        "from netspec.fastdata import loaders\n"
        "from netspec.distributed import World\n"
        "from netspec import imagestats\n"
        f"data = load_data({{'dataset': 'CIFAR10', 'root': {str(tmp_path)!r}, 'transform': ['ToTensor']}}, (3, 32, 32))\n"
        "spec = {'batch_size': 8, 'test_batch_size': 8, 'num_workers': 0, 'transform': ['ToTensor']}\n"
        "train, test = loaders(data, spec, torch.device('cpu'), torch.Generator(), torch.Generator(), World())\n"
        "x, y = next(iter(train))\n"
        "imagestats.of_dataset(data.test, (3, 32, 32))\n"
        "print(type(train).__name__, tuple(x.shape), 'torchvision' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["MemoryLoader", "(8,", "3,", "32,", "32)", "False"], out.stderr


@pytest.mark.parametrize("mode,shape", [("RGB", (7, 5, 3)), ("L", (7, 5)), ("RGBA", (4, 6, 4)), ("1", (4, 4)),
                                        ("I;16", (3, 3)), ("F", (2, 3))])
def test_netspec_to_tensor_equals_torchvision(mode, shape):
    from PIL import Image
    import torchvision.transforms as T

    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, shape, dtype=np.uint8)
    img = Image.fromarray(array).convert(mode) if mode in ("1", "I;16", "F") else Image.fromarray(array, mode)
    ours, theirs = ToTensor()(img), T.ToTensor()(img)
    assert ours.dtype == theirs.dtype and torch.equal(ours, theirs)


@pytest.mark.parametrize("epochs", [1, 3])
def test_curves_are_never_drawn_twice_for_the_same_epochs(epochs, tmp_path, monkeypatch):
    """Drawing (matplotlib's import and a render) costs about a second: a one-epoch run draws once."""
    import time

    from netspec import plots
    from tests.helpers import run_cli

    drawn = []
    real = plots.curves
    monkeypatch.setattr(plots, "curves", lambda runs, path: drawn.append(len(runs[0][1])) or real(runs, path))
    clock = iter(range(0, 10_000_000, 1000))  # each epoch 1000 s after the one before: never throttled
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    code, _out, err = run_cli("train", str(ROOT / "specs" / "digits.yaml"), "--set", f"train.epochs={epochs}",
                              "--set", f"output.dir={tmp_path / 'run'}", "--set", "output.tensorboard=false")
    assert code == 0, err
    assert drawn == list(range(1, epochs + 1)) and (tmp_path / "run" / "curves.png").exists()


# torch's compiler, torch._dynamo, is not imported by a run that does not compile (netspec/eager.py).

_RUN = ("import sys\nfrom netspec.cli import main\nfrom netspec import eager\n"
        "code = main(['train', sys.argv[1], '--set', 'output.dir=' + sys.argv[2], '--set', 'train.epochs=1'],\n"
        "            open('/dev/null', 'w'), sys.stderr)\n"
        "print(code, eager.compiler_loaded())\n")


def _weights(folder):
    return torch.load(folder / "last.pt", weights_only=True)["state_dict"]


def test_a_run_that_does_not_compile_never_imports_the_compiler_and_trains_the_same(tmp_path):
    spec = str(ROOT / "specs" / "digits.yaml")
    eager_run = subprocess.run([sys.executable, "-c", _RUN, spec, str(tmp_path / "eager")], cwd=ROOT,
                               capture_output=True, text=True, timeout=600)
    assert eager_run.stdout.split() == ["0", "False"], eager_run.stderr
    # the same run with the real compiler imported first: bit-identical weights
    real = "import torch._dynamo\n" + _RUN
    compiled = subprocess.run([sys.executable, "-c", real, spec, str(tmp_path / "real")], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
    assert compiled.stdout.split() == ["0", "True"], compiled.stderr
    a, b = _weights(tmp_path / "eager"), _weights(tmp_path / "real")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_stand_in_gives_the_real_compiler_to_whatever_asks_for_more():
    probe = ("from netspec import eager\nassert eager.without_the_compiler(strict=False)\n"
             "import torch\nassert not eager.compiler_loaded()\n"
             "optimize = torch._dynamo.optimize\n"  # asked for: the real one is imported and answers
             "import torch._dynamo as d\nprint(eager.compiler_loaded(), d.optimize is optimize, "
             "d.utils.is_compile_supported('cpu'), torch._dynamo is d)\n")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.stdout.split() == ["True", "True", "True", "True"], r.stderr


def test_a_run_that_compiles_is_given_the_real_compiler(tmp_path):
    from argparse import Namespace

    from netspec.cli import _compiles

    spec = tmp_path / "spec.yaml"  # also a run folder's spec
    spec.write_text((ROOT / "specs" / "digits.yaml").read_text())
    run = dict(spec=str(spec), resume=None, overrides=[], scale=None)
    assert not _compiles(Namespace(**run))
    assert _compiles(Namespace(**dict(run, overrides=["train.compile=true"])))
    assert not _compiles(Namespace(**dict(run, spec=str(tmp_path / "missing.yaml"))))
    assert not _compiles(Namespace(**dict(run, spec=None)))  # neither: the usage error is _train's to say
    assert _compiles(Namespace(**dict(run, spec=None, resume=str(tmp_path), overrides=["train.compile=true"])))


def test_curves_are_redrawn_within_two_percent_of_the_time():
    from netspec.runner import curves_due

    assert curves_due(6.0, 0.0) and not curves_due(4.9, 0.0)  # at most every 5 s
    assert not curves_due(20.0, 0.5) and curves_due(25.0, 0.5)  # half a second of drawing: every 25 s
    assert not curves_due(59.0, 1.2) and curves_due(61.0, 1.2)
