"""The language's reach (issue 17): expressions over real numbers with functions, spec params and scales,
multi-output layers (Chunk, Split) taken as `name.K` or `name.*`, every copy of a repeated entry as
`name.*`, and merges that broadcast: each checked against torch written by hand."""
import pytest
import torch
from torch import nn

import netspec
from netspec.params import ParamError, evaluate
from tests.helpers import ROOT, run_cli, spec
from tests.test_graph import agree, errors


@pytest.mark.parametrize("text,value", [
    ("make_divisible(min(128, mc) * w, 8)", 32), ("make_divisible(100 * 0.75, 8)", 80),
    ("max(round(3 * 0.33), 1)", 1), ("max(round(6 * 0.67), 1)", 4), ("round(2.5)", 2), ("round(3.5)", 4),
    ("c / 2", 1.5), ("c * 0.5 * 4", 6), ("1e-3", 0.001), ("7 % 3", 1), ("floor(2.7) + ceil(.2)", 3),
    ("min(c, 2, 5)", 2), ("-max(-1, -2)", 1)])
def test_expressions_hold_real_numbers_and_functions(text, value):
    result = evaluate(text, {"c": 3, "mc": 1024, "w": 0.25}, ())
    assert result == value and type(result) is type(value)  # whole results are ints: they can be sizes


@pytest.mark.parametrize("text,words", [
    ("open(1)", "calls `open`, which is not a function netspec knows"), ("round(1, 2)", "round() takes 1 arguments"),
    ("min(1)", "min() takes 2-16 arguments"), ("c / 0", "divides by 0"), ("1e400", "too large"),
    ("__import__('os')", "cannot hold `'`"), ("mx(c, 2)", "calls `mx`"), ("1, 2", "not a complete expression")])
def test_the_evaluator_names_what_it_refuses(text, words):
    with pytest.raises(ParamError) as e:
        evaluate(text, {"c": 3}, ())
    assert words in e.value.message


def _scaled(scale=None):
    data = spec([{"wide": {"c": 64}}, "Flatten", {"Linear": 3}],
                params={"width": 0.25, "max_channels": 48},
                scales={"n": {"width": 0.25}, "x": {"width": 1.25}},
                blocks={"wide": {"params": {"c": None, "out": "$(make_divisible(min(c, max_channels) * width, 8))"},
                                 "layers": [{"Conv2d": {"out_channels": "$out", "kernel_size": 1}}]}})
    if scale:
        data["scale"] = scale
    return data


def test_a_scale_sets_the_spec_params_that_blocks_use():
    assert agree(_scaled()).layers[0].output.shape == (16, 8, 8)  # the first scale: min(64, 48) * 0.25
    assert agree(_scaled("x")).layers[0].output.shape == (64, 8, 8)  # make_divisible(48 * 1.25, 8) = 64
    code, out, err = run_cli("check", str(ROOT / "specs/zoo/yolov8-cls.yaml"), "--scale", "nope")
    assert code == 1 and "scale `nope` is not one of the spec's scales" in err and "n, s, m, l, x" in err


def test_a_scale_may_only_set_declared_params():
    data = _scaled()
    data["scales"]["x"] = {"widht": 2}
    (e,) = errors(data)
    assert e.message == "scale `x` sets `widht`, which is not one of the spec's params" and e.path == (
        "scales", "x", "widht") and "width" in e.hints[0]


def test_a_size_that_is_not_whole_is_refused_where_the_block_is_used():
    data = _scaled()
    data["blocks"]["wide"]["params"]["out"] = "$(c * width / 3)"
    (e,) = errors(data)
    assert e.path == ("model", "layers", 0) and "out_channels" in e.message and "5.33" in e.message


def test_an_expression_cut_by_a_flow_comma_says_so(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("netspec: 1\nblocks:\n  b:\n    params: {c: 8}\n    layers:\n"
                 "      - Conv2d: {out_channels: $(min(c, 1024) // 4), kernel_size: 1}\n"
                 "model:\n  input: [3, 8, 8]\n  layers:\n    - b\n    - Flatten\n    - Linear: 10\n")
    code, _out, err = run_cli("check", str(f))
    assert code == 1 and "`$(min(c` is cut short: its parentheses are not closed" in err
    assert '"$(min(c, 1024) // 4)"' in err and f"{f}:6:32: note: in block `b`" in err


class _C2f(nn.Module):
    """Ultralytics' C2f as its source writes it (plain convolutions for brevity)."""

    def __init__(self, cin, c, n):
        super().__init__()
        self.cv1 = nn.Conv2d(cin, 2 * c, 1)
        self.m = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(n))
        self.cv2 = nn.Conv2d((2 + n) * c, 2 * c, 1)

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


C2F = {"params": {"c": 4, "n": 2}, "layers": [
    {"Conv2d": {"out_channels": "$(2 * c)", "kernel_size": 1}}, {"Chunk": 2, "name": "y"},
    {"Conv2d": {"out_channels": "$c", "kernel_size": 3, "padding": 1}, "from": "y.1", "repeat": "$n", "name": "m"},
    {"Concat": 1, "from": ["y.*", "m.*"]}, {"Conv2d": {"out_channels": "$(2 * c)", "kernel_size": 1}}]}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_chunk_and_every_copy_of_a_repeat_make_c2f_for_any_n(n):
    report = agree(spec([{"c2f": {"n": n}}], blocks={"c2f": C2F}))
    assert [i.name for i in report.layers[1:3]] == ["c2f_1.y.0", "c2f_1.y.1"]
    assert report.layers[-2].node.inputs == (1, 2, *range(3, 3 + n))
    model = netspec.build(report)
    reference = _C2f(3, 4, n)
    assert [p.shape for p in model.parameters()] == [p.shape for p in reference.parameters()]
    with torch.no_grad():
        for a, b in zip(model.parameters(), reference.parameters()):
            a.copy_(b)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(model(x), reference(x))


def test_split_outputs_by_number_and_an_index_for_one_part():
    report = agree(spec([{"Split": {"split_size_or_sections": [1, 2], "dim": 1}, "name": "s"},
                         {"Chunk": {"chunks": 8, "dim": -1, "index": 3}, "from": "s.1"},
                         {"Mul": None, "from": ["s.0", -1]}, "Flatten"]))
    assert [(i.name, i.output.shape) for i in report.layers[:3]] == [
        ("s.0", (1, 8, 8)), ("s.1", (2, 8, 8)), ("chunk_1", (2, 8, 1))]
    model = netspec.build(report)
    x = torch.randn(2, 3, 8, 8)
    a, b = x.split([1, 2], 1)
    assert torch.equal(model(x), (a * b.chunk(8, -1)[3]).flatten(1))  # (N, 1, 8, 8) * (N, 2, 8, 1)


@pytest.mark.parametrize("layers,path,words", [
    ([{"Chunk": 3, "name": "y"}, {"Concat": 1, "from": "y.*"}], ("model", "layers", 0, "Chunk"),
     "Chunk cuts dimension 1 of (N, 4, 8, 8) into 3 equal parts, but 4 is not a multiple of 3"),
    ([{"Split": [1, 2], "name": "s"}, {"Concat": 1, "from": "s.*"}], ("model", "layers", 0, "Split"),
     "add up to 3, not 4"),
    ([{"Split": 2}, "Flatten"], ("model", "layers", 0, "Split"), "Split needs its sizes as a list here"),
    ([{"Chunk": 2, "name": "y"}, "ReLU"], ("model", "layers", 1),
     "the entry before this one gives 2 outputs; say which one this entry takes"),
    ([{"Chunk": 2, "name": "y"}, {"ReLU": None, "from": "y.2"}], ("model", "layers", 1, "from"),
     "from: `y.2`: `y` gives 2 outputs, numbered from 0 to 1"),
    (["ReLU", {"ReLU": None, "from": "relu.0", "name": "relu"}], ("model", "layers", 1, "from"),
     "from: `relu` is defined below this entry (entry 3)"),
    (["ReLU", {"ReLU": None, "from": "rleu.0"}, {"ReLU": None, "name": "relu"}], ("model", "layers", 1, "from"),
     "there is no entry named `rleu` before this one"),
    ([{"ReLU": None, "name": "r"}, {"ReLU": None, "from": "r.0"}], ("model", "layers", 1, "from"),
     "from: `r.0` names one output of `r`, but `r` gives one output"),
    ([{"Chunk": 2, "name": "y"}], ("model", "layers", 0),
     "the list ends with Chunk, which gives several outputs"),
    ([{"Chunk": 2, "repeat": 2}, "Flatten"], ("model", "layers", 0, "repeat"), "Chunk cannot be repeated"),
    ([{"Chunk": {"chunks": 2, "dim": 0}, "name": "y"}, {"Add": None, "from": "y.*"}], ("model", "layers", 0, "Chunk", "dim"),
     "cannot cut along dimension 0, the batch N"),
])
def test_multi_output_mistakes_are_located(layers, path, words):
    """After a first Conv2d entry, so each path's entry number is one more than in the list given."""
    (e,) = errors(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 1}}] + layers))
    assert words in e.message and e.path == path[:2] + (path[2] + 1,) + path[3:]


def test_squeeze_and_excitation_broadcasts_and_equals_torch():
    se = [{"Identity": None, "name": "x"}, {"AdaptiveAvgPool2d": 1}, {"Conv2d": {"out_channels": 2, "kernel_size": 1}},
          "SiLU", {"Conv2d": {"out_channels": 8, "kernel_size": 1}}, "Sigmoid", {"Mul": None, "from": ["x", -1]}]
    report = agree(spec([{"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}}] + se))
    assert report.layers[-1].output.shape == (8, 8, 8) and report.layers[-2].output.shape == (8, 1, 1)
    model = netspec.build(report)
    conv, c1, c2 = (m for m in model.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(2, 3, 8, 8)
    y = conv(x)
    assert torch.equal(model(x), y * torch.sigmoid(c2(nn.functional.silu(c1(y.mean((2, 3), keepdim=True))))))


@pytest.mark.parametrize("second,words", [
    ({"AdaptiveAvgPool2d": [2, 1]}, "dimension 2 is 4 against 2"),
    ("Flatten", "the same number of dimensions"),
])
def test_shapes_that_do_not_broadcast_are_refused_with_the_rule(second, words):
    (e,) = errors(spec([{"Conv2d": {"out_channels": 4, "kernel_size": 1}, "name": "c"},
                        {"MaxPool2d": 2}, second,
                        {"Add": None, "from": ["c", -1]}], input_shape=(3, 4, 4)))
    assert words in e.message and "a size of 1 is repeated to match" in e.hints[0]


def test_layers_tell_which_torch_class_their_module_is_made_of():
    from netspec import modules
    from netspec.registry import layers
    from netspec.render import torch_class

    for lt in layers().values():
        if lt.module and lt.module != "torchvision_model":
            base = getattr(nn, lt.torch_class or lt.name, None)
            made_of = base is not None and issubclass(getattr(modules, lt.module), base)
            assert ("(torch.nn." in torch_class(lt)) == made_of, lt.name
