"""Names and wiring (`from`, Add, Mul, Concat) and blocks (params, `$(expr)`, nesting), checked against torch."""
import pytest
import torch

import netspec
from netspec.params import ParamError, evaluate
from tests.helpers import ROOT, run_cli, spec


def agree(data: dict) -> netspec.Report:
    """The spec is valid, and the built module's output shape and parameters equal the checker's."""
    report = netspec.check(data)
    assert report.valid, [p.message for p in report.errors]
    model = netspec.build(report).eval()
    out = model(torch.zeros(2, *report.input.shape))
    assert tuple(out.shape) == (2, *report.output.shape)
    assert sum(p.numel() for p in model.parameters()) == report.total_params
    return report


def errors(data: dict) -> list:
    report = netspec.check(data)
    assert not report.valid
    return report.errors


def test_skip_connection_with_names_and_offsets():
    report = agree(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}, "name": "stem"},
                         "ReLU", {"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
                         {"Add": None, "from": ["stem", -1]}, {"Mul": None, "from": [-1, "stem"]},
                         {"Concat": 1, "from": ["stem", -1, -2]}, "Flatten", {"Linear": 3}]))
    concat = report.layers[5]
    assert concat.output.shape == (12, 8, 8) and concat.node.inputs == (0, 4, 3)


def test_from_input_and_concat_on_the_last_dimension():
    report = agree(spec(["Flatten", {"Linear": 5}, {"Concat": {"dim": -1}, "from": [-1, "input"]}],
                        input_shape=[7]))
    assert report.output.shape == (12,)


def test_only_needed_tensors_are_kept():
    model = netspec.build(spec([{"ReLU": None, "name": "a"}, "ReLU", "ReLU", {"Add": None, "from": ["a", -1]},
                                "ReLU"]))
    # after each layer, drop what no later layer reads: the input after `a`, `a` itself only after Add
    assert model._free == [[-1], [], [1], [0, 2], [3]]


@pytest.mark.parametrize("layers,words,hint", [
    ([{"ReLU": None, "name": "stem"}, {"Add": None, "from": ["stme", -1]}],
     "from: there is no entry named `stme` before this one", "did you mean stem?"),
    ([{"Add": None, "from": ["later", -1]}, {"ReLU": None, "name": "later"}],
     "`later` is defined below this entry", "move the entry"),
    ([{"ReLU": None, "name": "a"}, {"ReLU": None, "name": "a"}], "the name `a` is used twice", "its own name"),
    ([{"ReLU": None, "name": "a"}, "ReLU", {"ReLU": None, "from": "a"}],
     "the output of `relu_1` (ReLU) is never used", "from:"),
    (["ReLU", {"Add": None, "from": -1}], "Add takes at least 2 inputs, but `from` names 1", "from: [stem, -1]"),
    ([{"ReLU": None, "name": "a"}, {"ReLU": None, "from": ["a", "input"]}], "ReLU takes one input",
     "Add or Concat"),
    (["ReLU", {"ReLU": None, "from": -3}], "from: -3 reaches 3 entries back", "-1 is the entry just before"),
    ([{"ReLU": None, "name": "input"}], "`input` cannot be a layer's name", "choose another name"),
])
def test_wiring_mistakes(layers, words, hint):
    (e,) = errors(spec(layers, input_shape=[4, 6, 6]))
    assert words in e.message, e.message
    assert any(hint in h for h in e.hints), e.hints


def test_a_merge_of_unequal_shapes_says_which_and_where_from():
    (e,) = errors(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 3}, "name": "stem"},
                        {"Conv2d": {"out_channels": 8, "kernel_size": 1}}, {"Add": None, "from": ["stem", -1]}]))
    assert e.message == ("Add needs inputs whose sizes are equal or 1 in each dimension (torch's broadcasting), but "
                         "`stem` (Conv2d) gives (N, 4, 6, 6) and `conv2d_1` (Conv2d) gives (N, 8, 6, 6): dimension 1 "
                         "is 4 against 8")
    (e,) = errors(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 3}, "name": "stem"},
                        {"Concat": 1, "from": ["stem", "input"]}]))
    assert "`stem` (Conv2d) gives (N, 4, 6, 6) and the model input gives (N, 3, 8, 8)" in e.message
    (e,) = errors(spec([{"ReLU": None, "name": "a"}, {"Concat": 0, "from": ["a", -1]}]))
    assert "batch" in e.message


RESNET = {
    "netspec": 1,
    "blocks": {
        "basic": {"params": {"channels": 8, "stride": 1}, "layers": [
            {"Identity": None, "name": "x"},
            {"Conv2d": {"out_channels": "$channels", "kernel_size": 3, "padding": 1, "bias": False}},
            "BatchNorm2d", "ReLU",
            {"Conv2d": {"out_channels": "$(channels * 2 // 2)", "kernel_size": 3, "padding": 1}},
            {"Add": None, "from": ["x", -1]}, "ReLU"]},
        "stage": {"params": {"width": None}, "layers": [
            {"Conv2d": {"out_channels": "$width", "kernel_size": 3, "stride": 2, "padding": 1}},
            {"basic": {"channels": "$width"}, "repeat": 2}]},
    },
    "model": {"input": [3, 16, 16], "layers": [
        {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
        {"basic": None, "name": "first"}, {"stage": {"width": 16}}, {"AdaptiveAvgPool2d": 1}, "Flatten",
        {"Linear": 10}]},
}


def test_blocks_expand_with_params_and_local_names():
    report = agree(RESNET)
    names = [info.name for info in report.layers]
    assert "first.x" in names and "stage_1.basic_1.x" in names and "stage_1.basic_2.x" in names
    assert report.layers[names.index("stage_1.basic_2.conv2d_2")].args["out_channels"] == 16
    add = report.layers[names.index("stage_1.basic_1.add_1")]
    assert [report.layers[i].name for i in add.node.inputs] == ["stage_1.basic_1.x", "stage_1.basic_1.conv2d_2"]
    model = netspec.build(report)
    assert "stage_1.basic_2.conv2d_1.weight" in model.state_dict()
    assert report.layers[names.index("stage_1.basic_2.x")].node.blocks == ("stage", "basic")


def test_a_block_written_out_by_hand_gives_the_same_model():
    by_hand = spec([{"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
                    "ReLU", {"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}}, "ReLU"])
    blocked = spec([{"cr": {"c": 4}, "repeat": 2}],
                   blocks={"cr": {"params": {"c": 1}, "layers": [
                       {"Conv2d": {"out_channels": "$c", "kernel_size": 3, "padding": 1}}, "ReLU"]}})
    a, b = agree(by_hand), agree(blocked)
    assert [i.output.shape for i in a.layers] == [i.output.shape for i in b.layers]
    assert a.total_params == b.total_params and a.total_macs == b.total_macs


def with_blocks(layers, blocks):
    return spec(layers, blocks=blocks)


@pytest.mark.parametrize("layers,blocks,words", [
    ([{"b": {"chanels": 3}}], {"b": {"params": {"channels": 1}, "layers": ["ReLU"]}},
     "block `b` has no param `chanels`"),
    (["b"], {"b": {"params": {"channels": None}, "layers": ["ReLU"]}},
     "block `b` needs a value for its param `channels`"),
    (["a"], {"a": {"layers": ["b"]}, "b": {"layers": ["a"]}}, "block `a` uses itself (a -> b -> a)"),
    (["a"], {"a": {"layers": ["ReLU", "a"]}}, "block `a` uses itself (a -> a)"),
    (["b"], {"b": {"params": {"c": 2}, "layers": [{"Linear": "$d"}]}}, "the block has no param `d`"),
    (["b"], {"b": {"params": {"c": 2}, "layers": [{"Linear": "$(c // 0)"}]}}, "divides by 0, with this use's params {c: 2}"),
    ([{"b": 3}], {"b": {"params": {"c": 2}, "layers": ["ReLU"]}}, "takes its params as a mapping"),
])
def test_block_mistakes(layers, blocks, words):
    errs = errors(with_blocks(layers, blocks))
    assert words in errs[0].message, errs[0].message


def test_a_block_name_may_not_shadow_a_layer():
    (e,) = errors(with_blocks(["ReLU"], {"ReLU": {"layers": ["Tanh"]}}))
    assert e.message == "the block name `ReLU` is already a layer type" and e.path == ("blocks", "ReLU")


def test_an_error_inside_a_block_names_the_use_and_the_definition(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text("netspec: 1\nblocks:\n  wide:\n    params: {c: 4}\n    layers:\n"
                 "      - Conv2d: {out_channels: $c, kernel_size: 9}\n"
                 "model:\n  input: [3, 8, 8]\n  layers:\n    - ReLU\n    - wide: {c: 8}\n")
    code, out, err = run_cli("check", str(f))
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{f}:11:7: error: Conv2d: the input is 8x8 but the kernel is 9x9")
    assert lines[1:3] == ["  11 |     - wide: {c: 8}", "     |       ^"]
    assert lines[4] == f"{f}:6:49: note: the entry is defined here, in block `wide`"
    assert lines[5] == "  6 |       - Conv2d: {out_channels: $c, kernel_size: 9}"


def test_a_substituted_argument_is_checked_against_the_layer_schema(tmp_path):
    (e,) = errors(with_blocks([{"b": {"c": 0}}], {"b": {"params": {"c": 4}, "layers": [
        {"Conv2d": {"out_channels": "$c", "kernel_size": 3}}]}}))
    assert e.message == "Conv2d's out_channels must be at least 1, but it is 0"
    assert e.path == ("model", "layers", 0)
    assert e.notes[0].path == ("blocks", "b", "layers", 0, "Conv2d", "out_channels")


def test_depth_folds_block_uses(tmp_path, monkeypatch):
    import yaml

    f = tmp_path / "r.yaml"
    f.write_text(yaml.safe_dump(RESNET))
    code, out, _ = run_cli("check", str(f), "--depth", "0")
    rows = [line.split() for line in out.splitlines()]
    assert code == 0
    assert ["1", "first", "block", "basic", "(N,", "8,", "16,", "16)"] == rows[6][:8]
    assert any(r[:4] == ["8", "stage_1", "block", "stage"] for r in rows)
    assert sum(1 for r in rows if r and r[0].isdigit()) == 6  # stem, first, stage_1, pool, flatten, linear


@pytest.mark.parametrize("text,value", [("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("c * 2 // 3", 2), ("-c + 10", 7),
                                        ("c - -1", 4), ("((c))", 3), ("7 // 2", 3)])
def test_the_expression_evaluator(text, value):
    assert evaluate(text, {"c": 3}, ()) == value


@pytest.mark.parametrize("text", ["__import__('os')", "c ** 2", "c.real", "c @ 2", "(1", "1 +", "open", "1; 2",
                                  "(" * 40 + "1" + ")" * 40, "9999999 * 9999999", "9" * 5000, "1 + " + "9" * 13])
def test_the_evaluator_refuses_anything_else(text):
    with pytest.raises(ParamError):
        evaluate(text, {"c": 3}, ())


class _BasicBlock(torch.nn.Module):
    """ResNet's basic block as the paper and torchvision write it, a 1x1 projection where the size changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        nn = torch.nn
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def _resnet20() -> torch.nn.Module:
    nn, blocks, cin = torch.nn, [], 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            blocks.append(_BasicBlock(cin, cout, stride if i == 0 else 1))
            cin = cout
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), *blocks,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def test_the_shipped_resnet_cifar_spec_is_a_hand_written_resnet20():
    report = netspec.check(str(ROOT / "specs" / "resnet_cifar.yaml"))
    reference = _resnet20()
    assert report.valid and report.total_params == sum(p.numel() for p in reference.parameters()) == 272_474
    model = netspec.build(report)
    assert sum(1 for m in model.modules() if isinstance(m, torch.nn.Conv2d)) == 21  # 19 + 2 projections
    ours, theirs = model.state_dict(), reference.state_dict()  # the same tensors in the same order
    assert [t.shape for t in ours.values()] == [t.shape for t in theirs.values()]
    for m in reference.modules():  # BatchNorm statistics that are not the defaults, to be compared too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2)
    model.load_state_dict(dict(zip(ours, reference.state_dict().values())))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model.eval()(x), reference.eval()(x))


@pytest.mark.parametrize("merge,value", [("Add", None), ("Mul", None), ("Concat", 1)])
def test_a_merge_of_token_ids_and_floats_gives_floats_as_torch_does(merge, value):
    ids = {"shape": [4], "dtype": "int64"}
    layers = [{"Embedding": {"num_embeddings": 10, "embedding_dim": 1}}, "Flatten", {merge: value, "from": ["input", -1]}]
    report = netspec.check(spec(layers + [{"Linear": 3}], input_shape=ids))
    assert report.valid, [p.message for p in report.errors]
    assert report.layers[2].output.dtype == "float32"
    out = netspec.build(report)(torch.randint(0, 10, (2, 4)))
    assert out.shape == (2, 3) and out.dtype == torch.float32
    (e,) = netspec.check(spec(layers + [{"Embedding": {"num_embeddings": 10, "embedding_dim": 2}}],
                              input_shape=ids)).errors  # torch's Embedding refuses float indices
    assert e.message == "Embedding needs integer token ids as input, but its input is float32"


def test_repeat_inside_a_block_may_be_a_param():
    blocks = {"stage": {"params": {"c": 4, "n": 3},
                        "layers": [{"Conv2d": {"out_channels": "$c", "kernel_size": 3, "padding": 1}, "repeat": "$n"},
                                   {"Conv2d": {"out_channels": "$c", "kernel_size": 1}, "repeat": "$(n - 1)"}]}}
    report = agree(spec([{"stage": {"n": 2}}, {"stage": {"c": 6}}], input_shape=[3, 8, 8], blocks=blocks))
    assert [info.node.layer.name for info in report.layers] == ["Conv2d"] * (2 + 1 + 3 + 2)
    (e,) = errors(spec([{"stage": {"n": 1}}], input_shape=[3, 8, 8], blocks=blocks))
    assert e.message == "repeat must be a whole number, 1 or more, but with this use's params it is 0"
    assert e.path == ("model", "layers", 0) and e.notes[0].path == ("blocks", "stage", "layers", 1, "repeat")


def test_a_wrong_from_item_is_pointed_at_itself():
    (e,) = errors(spec([{"Linear": 4, "name": "a"}, {"Linear": 4}, {"Add": None, "from": ["a", "b"]}], input_shape=[4]))
    assert e.path == ("model", "layers", 2, "from", 1) and "no entry named `b`" in e.message


@pytest.mark.parametrize("name", ["repeat", "from", "name"])
def test_a_block_cannot_be_named_as_a_meta_key(name):
    (e,) = errors(spec([{"Linear": 3}], input_shape=[4], blocks={name: {"layers": ["ReLU"]}}))
    assert e.message == f"the block name `{name}` is a key entries use beside their layer" and e.at_key


@pytest.mark.parametrize("layer,needs", [("LSTM", "hidden_size"), ("GRU", "hidden_size"), ("MultiheadAttention", "num_heads")])
def test_batch_first_says_netspec_always_puts_the_batch_first(layer, needs):
    (e,) = errors(spec([{layer: {"batch_first": False, needs: 2}}], input_shape=[10, 8]))
    assert e.hints == ("netspec always puts the batch first, as (N, L, features): leave batch_first out",)


@pytest.mark.parametrize("first,message", [
    ({"ReLU": None}, "the name `relu_1` is taken: netspec gave it to an earlier ReLU entry"),
    ({"Linear": 4, "name": "relu", "repeat": 2}, "the name `relu_1` is taken: netspec gave it to copy 1 of the "
                                                  "repeated `relu`")])
def test_a_name_netspec_made_says_what_it_was_made_for(first, message):
    (e,) = errors(spec([{"Linear": 4}, first, {"ReLU": None, "name": "relu_1"}], input_shape=[4]))
    assert (e.message, e.hints) == (message, ("choose another name",))


def test_the_copies_of_a_repeated_named_entry_can_be_named_in_from():
    report = agree(spec([{"Linear": 4, "name": "fc", "repeat": 3}, {"Add": None, "from": ["fc_1", "fc_2", "fc"]}],
                        input_shape=[4]))
    model = netspec.build(report).eval()
    x = torch.randn(2, 4)
    first = model.fc_1(x)
    second = model.fc_2(first)
    torch.testing.assert_close(model(x), first + second + model.fc_3(second))
    (e,) = errors(spec([{"Linear": 4, "name": "fc", "repeat": 2}, {"Add": None, "from": ["fc_3", "fc"]}],
                       input_shape=[4]))
    assert e.message == "from: there is no entry named `fc_3` before this one"
