"""Build stage: the module's names, wiring and dtype, and refusal of wrong specs."""
import pytest
import torch

import netspec
from netspec.errors import NetspecError
from tests.helpers import ROOT, spec


def test_submodules_carry_readable_names():
    model = netspec.build(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 3}, "name": "stem"},
                                "ReLU", "ReLU", {"Linear": 5, "repeat": 2}, {"Linear": 3, "name": "head",
                                                                               "repeat": 2}]))
    names = [n for n, _ in model.named_children()]
    assert names == ["stem", "relu_1", "relu_2", "linear_1", "linear_2", "head_1", "head_2"]
    assert model(torch.zeros(2, 3, 8, 8)).shape == (2, 4, 6, 3)
    assert set(model.state_dict()) >= {"stem.weight", "head_2.bias"}


def test_auto_names_never_clash_with_given_ones():
    model = netspec.build(spec([{"ReLU": None, "name": "relu_1"}, "ReLU"]))
    assert [n for n, _ in model.named_children()] == ["relu_1", "relu_2"]


def test_a_name_used_twice_is_an_error():
    with pytest.raises(NetspecError) as e:
        netspec.build(spec([{"ReLU": None, "name": "a"}, {"ReLU": None, "name": "a"}]))
    assert "the name `a` is used twice" in str(e.value)


def test_build_refuses_a_wrong_spec_with_located_errors():
    with pytest.raises(NetspecError) as e:
        netspec.build(str(ROOT / "specs" / "cifar.yaml").replace("cifar", "nonexistent"))
    assert e.value.problems[0].message.startswith("no such file")
    with pytest.raises(NetspecError) as e:
        netspec.build(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 30}}]))
    assert "kernel is 30x30" in e.value.problems[0].message


def test_lazy_linear_becomes_linear_and_float64_input_gives_a_double_model():
    model = netspec.build(spec(["Flatten", {"LazyLinear": 4}], input_shape={"shape": [2, 3], "dtype": "float64"}))
    (linear,) = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert type(linear) is torch.nn.Linear and linear.in_features == 6 and linear.weight.dtype == torch.float64
    assert model(torch.zeros(1, 2, 3, dtype=torch.float64)).shape == (1, 4)


def test_build_accepts_a_report_and_matches_its_counts():
    report = netspec.check(str(ROOT / "specs" / "cifar.yaml"))
    model = netspec.build(report)
    assert sum(p.numel() for p in model.parameters()) == report.total_params == 62006
    assert model(torch.zeros(3, 3, 32, 32)).shape == (3, 10)


def test_embedding_model_on_token_ids():
    model = netspec.build(spec([{"Embedding": {"num_embeddings": 50, "embedding_dim": 8}}, "Flatten",
                                {"Linear": 2}], input_shape={"shape": [7], "dtype": "int64"}))
    assert model(torch.randint(0, 50, (4, 7))).shape == (4, 2)


def test_integer_input_into_a_float_layer_is_refused():
    report = netspec.check(spec([{"Linear": 3}], input_shape={"shape": [7], "dtype": "int64"}))
    assert not report.valid and "needs floating-point input" in report.errors[0].message
    assert report.errors[0].hints == ("put an Embedding before it",)
