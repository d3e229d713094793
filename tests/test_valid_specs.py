"""Every valid spec (tests/specs/valid/ and the examples in specs/), checked against torch.

The checker's shapes, dtypes and parameter counts come from formulas; here the built module
runs a forward pass and must agree with them, layer by layer.
"""
from pathlib import Path

import pytest
import torch

import netspec
from tests.helpers import ROOT, run_cli

SPECS = sorted((ROOT / "tests" / "specs" / "valid").glob("*.yaml")) + sorted((ROOT / "specs").glob("*.yaml"))
BATCH = 2

# Specs the checker accepts but the built module cannot run yet. Strict: a fix turns the xfail into
# a failure, and the name comes off this list.


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _zeros(report: netspec.Report) -> torch.Tensor:
    """A batch of zeros in the spec's input shape and dtype (zeros are valid token ids too)."""
    return torch.zeros((BATCH, *report.input.shape), dtype=getattr(torch, report.input.dtype))


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_enough_valid_specs():
    assert len(list((ROOT / "tests" / "specs" / "valid").glob("*.yaml"))) >= 12


@pytest.mark.parametrize("path", [
    p for p in SPECS], ids=_rel)
def test_torch_agrees_with_the_checker(path: Path):
    report = netspec.check(_rel(path))
    assert report.valid, [p.message for p in report.errors]
    model = netspec.build(report).eval()

    seen: dict[str, torch.Tensor] = {}
    for info in report.layers:
        module = model.get_submodule(info.name)
        module.register_forward_hook(lambda m, args, out, name=info.name: seen.__setitem__(name, out))
    with torch.no_grad():
        y = model(_zeros(report))

    assert tuple(y.shape) == (BATCH, *report.output.shape)
    assert _dtype(y) == report.output.dtype
    assert sum(p.numel() for p in model.parameters()) == report.total_params
    for i, info in enumerate(report.layers):
        out = seen[info.name]
        got = (tuple(out.shape), _dtype(out))
        assert got == ((BATCH, *info.output.shape), info.output.dtype), f"layer {i} ({info.name}, {info.type})"
        assert sum(p.numel() for p in model.get_submodule(info.name).parameters()) == info.params, info.name


@pytest.mark.parametrize("path", SPECS, ids=_rel)
def test_cli_says_valid(path: Path):
    code, out, err = run_cli("check", _rel(path))
    assert code == 0, err
    assert out.startswith(f"{_rel(path)}: valid")


@pytest.mark.parametrize("path, params, output", [
    ("specs/cifar.yaml", 62_006, (10,)),
    ("specs/seed_mlp.yaml", 664, (8,)),
    ("specs/seed_sequential.yaml", None, (8,)),
])
def test_seed_examples(path: str, params: int | None, output: tuple[int, ...]):
    report = netspec.check(path)
    assert report.valid
    assert report.output.shape == output
    model = netspec.build(report)
    assert tuple(model(_zeros(report)).shape) == (BATCH, *output)
    if params is not None:
        assert report.total_params == params
        assert sum(p.numel() for p in model.parameters()) == params
