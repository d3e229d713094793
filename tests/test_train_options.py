"""The speed options of `train`, observed in the model that trains: bf16 and fp16 run its layers under autocast
(their outputs in the 16-bit type torch's own autocast gives) with float32 weights, fp16 scales every step's loss;
channels_last makes the convolutions' outputs channels-last; compile trains through torch.compile's wrapper;
and the in-memory path gives the same run as the per-sample (streaming) path. Each runs on the CPU, and on CUDA
too where there is a GPU; the promise of the same weights from the same spec and seed is the CPU's."""
import pytest
import torch
from torch import nn

import netspec
from netspec import builder, checkpoint

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _run(tmp_path, device, *sets, epochs=1):
    return netspec.train("specs/digits.yaml", overrides=[f"train.epochs={epochs}", f"train.device={device}",
                                                         f"output.dir={tmp_path}/run", "output.tensorboard=false",
                                                         *sets])


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    from tests.helpers import ROOT

    monkeypatch.chdir(ROOT)


@pytest.fixture
def built(monkeypatch):
    """The models `train` builds, in order."""
    models = []
    build = builder.build_network

    def recording(*args, **kwargs):
        models.append(build(*args, **kwargs))
        return models[-1]

    monkeypatch.setattr(builder, "build_network", recording)
    return models


@pytest.fixture
def seen(monkeypatch):
    """What each Conv2d and Linear of the built model gives while training and while evaluating: its type, its
    output's dtype, and for a convolution whether its output is channels-last (and not plain contiguous)."""
    calls = {"train": [], "eval": []}
    build = builder.build_network

    def hook(module, args, out):
        layout = _channels_last(out) if isinstance(module, nn.Conv2d) else None
        calls["train" if module.training else "eval"].append((type(module).__name__, out.dtype, layout))

    def hooked(*args, **kwargs):
        model = build(*args, **kwargs)
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.register_forward_hook(hook)
        return model

    monkeypatch.setattr(builder, "build_network", hooked)
    return calls


def _channels_last(t: torch.Tensor) -> bool:
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def _autocast_dtypes(device: str, dtype: torch.dtype) -> set:
    """What torch's own autocast makes of a Conv2d's and a Linear's outputs on `device`."""
    conv, linear = nn.Conv2d(1, 2, 3).to(device), nn.Linear(4, 2).to(device)
    with torch.autocast(device, dtype=dtype):
        return {("Conv2d", conv(torch.zeros(1, 1, 8, 8, device=device)).dtype),
                ("Linear", linear(torch.zeros(1, 4, device=device)).dtype)}


def _weights(history) -> dict:
    return checkpoint.load(f"{history.run_dir}/last.pt")["state_dict"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("precision,dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)], ids=["bf16", "fp16"])
def test_precision_runs_the_layers_under_autocast(tmp_path, monkeypatch, seen, device, precision, dtype):
    scaled = []
    scale = torch.amp.GradScaler.scale
    monkeypatch.setattr(torch.amp.GradScaler, "scale", lambda self, loss: scaled.append(loss) or scale(self, loss))
    history = _run(tmp_path, device, f"train.precision={precision}")

    expected = _autocast_dtypes(device, dtype)
    assert {d for _, d in expected} == {dtype}  # torch computes these layers in 16 bits under autocast
    assert {c[:2] for c in seen["train"]} == expected and {c[:2] for c in seen["eval"]} == expected
    steps = sum(c[0] == "Conv2d" for c in seen["train"])
    assert steps > 0 and len(scaled) == (steps if precision == "fp16" else 0)  # fp16: every step's loss scaled
    assert history.epochs[-1]["test_accuracy"] > 0.5
    assert all(torch.isfinite(w).all() and w.dtype == torch.float32 for w in _weights(history).values())


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_makes_the_convolutions_channels_last(tmp_path, seen, device):
    history = _run(tmp_path, device, "train.channels_last=true")
    convs = [c for c in seen["train"] if c[0] == "Conv2d"]
    assert convs and all(c[2] for c in convs)
    assert {c[1] for c in seen["train"] + seen["eval"]} == {torch.float32}  # precision fp32: no autocast
    assert history.epochs[-1]["test_accuracy"] > 0.5


@pytest.mark.parametrize("device", DEVICES)
def test_compile_trains_through_the_compiled_wrapper(tmp_path, monkeypatch, built, device):
    from torch._dynamo.eval_frame import OptimizedModule
    from torch._dynamo.utils import counters

    compiled, passes = [], []  # what torch.compile was given and gave; each call of what it gave, as training?
    compile_ = torch.compile

    def recording(model, *args, **kwargs):
        compiled.append((model, compile_(model, *args, **kwargs)))
        compiled[-1][1].register_forward_pre_hook(lambda _, x: passes.append(model.training and
                                                                             torch.is_grad_enabled()))
        return compiled[-1][1]

    monkeypatch.setattr(torch, "compile", recording)
    graphs = counters["stats"]["unique_graphs"]
    run = _run(tmp_path / "compiled", device, "train.compile=true")
    assert len(compiled) == 1 and compiled[0][0] is built[0] and isinstance(compiled[0][1], OptimizedModule)
    assert True in passes and False in passes  # training steps and evaluation both went through the wrapper
    assert counters["stats"]["unique_graphs"] > graphs  # dynamo captured the model's forward pass
    eager = _run(tmp_path / "eager", device)
    assert len(compiled) == 1
    if device == "cpu":  # the same computation, other kernels: the same weights up to rounding
        a, b = _weights(run), _weights(eager)
        assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    assert abs(run.epochs[-1]["test_accuracy"] - eager.epochs[-1]["test_accuracy"]) < 0.05
    assert run.epochs[-1]["test_accuracy"] > 0.5


@pytest.mark.parametrize("device", DEVICES)
def test_in_memory_and_streaming_paths_give_the_same_run(tmp_path, device):
    """Both paths draw the same order from the epoch's generator; digits needs no augmentation, so the two
    runs see the same batches: on the CPU they end with the same weights and accuracy (on a GPU, whose
    kernels need not add in the same order twice, with about the same accuracy)."""
    memory = _run(tmp_path / "memory", device, epochs=3)
    stream = _run(tmp_path / "stream", device, "data.memory_budget_mb=0", epochs=3)
    accuracy = [(m["test_accuracy"], s["test_accuracy"]) for m, s in zip(memory.epochs, stream.epochs)]
    assert len(accuracy) == 3 and memory.epochs[-1]["test_accuracy"] > 0.85
    if device == "cpu":
        assert all(m == s for m, s in accuracy)
        a, b = _weights(memory), _weights(stream)
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    else:
        assert all(abs(m - s) < 0.03 for m, s in accuracy)
