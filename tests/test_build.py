"""Build stage: the module's names, wiring and dtype, and refusal of wrong specs."""
import pytest
import torch

import netspec
from netspec.errors import NetspecError
from tests.helpers import ROOT, spec


def test_submodules_carry_readable_names():
    model = netspec.build(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 3}, "name": "stem"},
                                "ReLU", "ReLU", {"Linear": 5, "repeat": 2}, {"Linear": 3, "name": "head",
                                                                               "repeat": 2}],
                                train={"loss": "MSELoss"}))  # a Linear on the last dimension, meant
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
    assert report.errors[0].hints[0].startswith("put an Embedding before it for token ids; for images")


X = torch.tensor([[-1.0, 2.0, -3.0, 4.0]])


def _run(layers: list) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The built model, its output on X, and what X holds afterwards."""
    model = netspec.build(spec(layers, input_shape=[4])).eval()
    given = X.clone()
    with torch.no_grad():
        return model, model(given), given


@pytest.mark.parametrize("layers,expected", [
    # the ReLU would overwrite x, which the Concat reads after it
    ([{"Identity": None, "name": "x"}, {"ReLU": {"inplace": True}}, {"Concat": 1, "from": ["x", -1]}],
     torch.cat([X, X.relu()], 1)),
    # the same through views of x: Flatten, and Dropout (which passes its input on when testing)
    ([{"Identity": None, "name": "x"}, "Flatten", {"Dropout": {"inplace": True}}, {"ReLU": {"inplace": True}},
      {"Add": None, "from": ["x", -1]}], X + X.relu()),
    ([{"ReLU": {"inplace": True}}, {"Mul": None, "from": ["input", -1]}], X * X.relu()),
    ([{"Hardtanh": {"inplace": True, "min_val": 0.5}}], X.clamp(0.5, 1)),  # the caller's tensor
])
def test_an_in_place_layer_never_overwrites_a_tensor_still_to_be_read(layers, expected):
    _, out, given = _run(layers)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(given, X)


def test_in_place_layers_stay_in_place_where_nothing_reads_their_input_again():
    model, out, _ = _run([{"Linear": 4, "name": "x"}, {"Linear": 4}, {"ReLU": {"inplace": True}},
                          {"Add": None, "from": ["x", -1]}, {"ReLU": {"inplace": True}}])
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert [m.inplace for m in relus] == [True, True]
    x = model.x(X)
    torch.testing.assert_close(out, (x + model.linear_1(x).relu()).relu())


def _train_step(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list]:
    torch.manual_seed(0)
    x = x.clone().requires_grad_()
    out = model.train()(x)
    out.square().sum().backward()
    return out.detach(), [x.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("layers,in_place", [
    # a 1x1 convolution keeps `a` for its backward pass; the ReLU after it must not overwrite `a`
    ([{"Linear": 6, "name": "a"}, {"Linear": 6, "name": "sc", "from": "a"}, {"ReLU": {"inplace": True}, "from": "a"},
      {"Linear": 6}, {"Add": None, "from": ["sc", -1]}], [False]),
    ([{"Linear": 6}, "Sigmoid", {"ReLU": {"inplace": True}}], [False]),  # Sigmoid's backward reads its output
    ([{"Linear": 6}, "Softmax", {"Dropout": {"inplace": True}}], [False]),
    ([{"Linear": 6}, {"ReLU": {"inplace": True}}, {"Dropout": {"inplace": True}}], [True, False]),
    # where torchvision's ResNet writes in place, so does netspec
    ([{"Linear": 6, "name": "x"}, {"Linear": 6}, {"BatchNorm1d": None}, {"ReLU": {"inplace": True}}, {"Linear": 6},
      {"Add": None, "from": ["x", -1]}, {"ReLU": {"inplace": True}}], [True, True]),
])
def test_in_place_layers_train_as_their_out_of_place_twins(layers, in_place):
    from netspec.builder import Network, build_layer

    report = netspec.check(spec(layers, input_shape=[4]))
    model = netspec.build(report)
    assert [m.inplace for m in model.modules() if hasattr(m, "inplace")] == in_place
    twin = Network([(info.name, build_layer(info, in_place=False), info.node.inputs) for info in report.layers])
    twin.load_state_dict(model.state_dict())
    x = torch.randn(5, 4)
    (out, grads), (expected, expected_grads) = _train_step(model, x), _train_step(twin, x)
    torch.testing.assert_close(out, expected)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad)
