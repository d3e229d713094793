"""torch is the oracle for wiring and blocks, as tests/test_oracle.py is for single layers.

Hypothesis draws small networks: chains of Conv2d, pools, BatchNorm2d and ReLU with skips (Add, Mul,
Concat over `from`: names, negative offsets, `input`) and `repeat`, ending now and then in Flatten and
Linear; and models made of random `blocks:` (a residual block with an Identity named x, a down-sampling
block, a stage block that uses the others), their params written with `$name` and `$(expr)`, used with
random params and `repeat`. Beside each spec the strategy writes the same network as a plain list of
steps, params substituted in Python, and a small interpreter here runs it with torch.nn modules and
torch.add / torch.mul / torch.cat on a seeded batch of 2 (never with netspec.build).

The checker must call the spec valid exactly when torch runs it, blame no entry before the one torch
fails at, and for a valid spec give torch's output shape (and every layer's), its parameter count, and a
module from netspec.build with the same output shape and parameters, whose output has the values the
interpreter computes when each of its torch.nn modules loads the weights of the built layer in the same
place. Where netspec is stricter than torch on purpose (Add and Mul of shapes torch would broadcast, an
empty output), torch's run counts as a refusal.

Last, graphs of layers with `inplace` among branches and skips, built once as written and once with every
`inplace: false`: the same values, and the same gradients w.r.t. the input and the weights.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import reduce

import pytest
import torch
from hypothesis import event, example, given, note, settings
from hypothesis import strategies as st
from torch import nn

import netspec
from tests.helpers import examples, spec

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]

BATCH = 2
MERGES = ("Add", "Mul", "Concat")


@dataclass(frozen=True)
class Step:
    """One layer of the reference network: a torch.nn class name (or a merge) and its given arguments.

    sources: the indices of the steps it reads (-1: the model input); left empty, the step before.
    entry: the index in the model's layer list that the step comes from (for blame).
    """

    kind: str
    args: dict = field(default_factory=dict)
    sources: tuple = ()
    entry: int = 0


@dataclass
class Case:
    document: dict
    shape: tuple[int, ...]
    steps: list[Step]


# The torch reference. --------------------------------------------------------------------------

class Stricter(Exception):
    """torch runs it, netspec refuses it on purpose (see the `stricter` notes of Add and Mul)."""


@dataclass
class Outcome:
    shape: tuple[int, ...] = ()
    shapes: list = field(default_factory=list)  # every step's output shape, with the batch
    params: int = 0
    error: Exception | None = None
    at: int = -1  # the layer-list entry of the step torch failed at
    value: torch.Tensor | None = None  # the output


def _module(step: Step, x: torch.Tensor) -> nn.Module:
    """The torch.nn module of a step, sizes torch needs but the spec leaves out taken from the input x."""
    inferred = {"Conv2d": "in_channels", "BatchNorm2d": "num_features", "Linear": "in_features"}
    kwargs = dict(step.args)
    if step.kind in inferred and inferred[step.kind] not in kwargs:
        kwargs[inferred[step.kind]] = x.shape[1] if step.kind != "Linear" else x.shape[-1]
    return getattr(nn, step.kind)(**kwargs)


def _merge(step: Step, xs: list[torch.Tensor]) -> torch.Tensor:
    if step.kind == "Concat":
        return torch.cat(xs, dim=step.args.get("dim", 1))
    y = reduce(torch.add if step.kind == "Add" else torch.mul, xs)
    if any(x.dim() != xs[0].dim() for x in xs):  # the batch would meet another dimension
        raise Stricter(f"{step.kind} broadcasts {[tuple(x.shape) for x in xs]} to {tuple(y.shape)}")
    return y


def torch_outcome(case: Case, seed: int = 0, weights: list[dict] | None = None) -> Outcome:
    """Run the steps in eval mode on a seeded randn batch of 2.

    weights: per step, the state dict its torch.nn module loads (strictly: same keys and shapes), so that
    the output can be compared with a built model's; left out, torch's own initial weights."""
    torch.manual_seed(seed)
    values = {-1: torch.randn((BATCH,) + case.shape)}
    out = Outcome()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, step in enumerate(case.steps):
            xs = [values[j] for j in step.sources or (i - 1,)]
            try:
                if step.kind in MERGES:
                    y = _merge(step, xs)
                else:
                    module = _module(step, xs[0]).eval()
                    if weights is not None:
                        module.load_state_dict(weights[i])
                    out.params += sum(p.numel() for p in module.parameters())
                    y = module(xs[0])
                if 0 in y.shape:  # netspec refuses an empty output on purpose
                    raise Stricter(f"torch returns an empty output {tuple(y.shape)}")
            except Exception as e:  # any refusal, at construction or in forward, is torch's "invalid"
                return Outcome(error=e, at=step.entry)
            values[i] = y
            out.shapes.append(tuple(y.shape))
    out.shape = out.shapes[-1]
    out.value = values[len(case.steps) - 1]
    return out


def assert_agrees(case: Case) -> None:
    report = netspec.check(case.document)  # never raises: a refusal is a report with errors
    oracle = torch_outcome(case)
    verdict = "valid" if report.valid else "; ".join(f"{p.message} at {p.path}" for p in report.errors)
    note(f"spec: {case.document}\nsteps: {case.steps}\nchecker: {verdict}\ntorch: {oracle.error!r} at entry "
         f"{oracle.at}")
    event("valid" if oracle.error is None else f"refused: {type(oracle.error).__name__}")
    assert report.valid == (oracle.error is None), f"checker says {verdict!r}, torch says {oracle.error!r}"
    if not report.valid:
        assert report.errors
        blamed = [p.path[2] for p in report.errors if tuple(p.path[:2]) == ("model", "layers")]
        assert all(i >= oracle.at for i in blamed), (
            f"checker blames entries {blamed}, but torch runs every entry before {oracle.at}")
        # (argument errors, such as a negative padding, are all reported before any shape error)
        if isinstance(oracle.error, Stricter) and "broadcasts" in str(oracle.error) and oracle.at in blamed:
            assert any("the same number of dimensions" in p.message for p in report.errors), verdict
        return
    assert (BATCH,) + report.output.shape == oracle.shape, "output shape"
    assert [(BATCH,) + info.output.shape for info in report.layers] == oracle.shapes, "every layer's shape"
    assert report.total_params == oracle.params, "parameters"
    model = scrambled(netspec.build(report)).eval()
    assert sum(p.numel() for p in model.parameters()) == oracle.params, "parameters of netspec.build"
    torch.manual_seed(0)
    with torch.no_grad():
        y = model(torch.randn((BATCH,) + case.shape))
    assert tuple(y.shape) == oracle.shape, "output of netspec.build"
    # the same weights in the reference: each step's module is the built one of the same layer-list position
    weights = [model.get_submodule(info.name).state_dict() for info in report.layers]
    torch.testing.assert_close(y, torch_outcome(case, weights=weights).value, msg=lambda m: f"output values: {m}")


def scrambled(model: nn.Module) -> nn.Module:
    """model with random BatchNorm weights and statistics, so that in eval mode BatchNorm does more than
    divide by sqrt(1 + eps) (other layers start random already)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                for t in (m.weight, m.bias, m.running_mean):
                    if t is not None:
                        t.copy_(torch.randn(t.shape, generator=g))
                if m.running_var is not None:
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model


# Random graphs. --------------------------------------------------------------------------------

def _omit_or(draw, strategy):
    """A value of strategy, or None for an argument left out."""
    return draw(st.one_of(st.none(), strategy))


def _given(**args) -> dict:
    return {k: v for k, v in args.items() if v is not None}


@st.composite
def graphs(draw) -> Case:
    size = st.one_of(st.integers(1, 12), st.integers(6, 12))  # mostly room for a few windows
    c, h, w = draw(st.integers(1, 6)), draw(size), draw(size)
    channels = [c]  # a guess at each entry's channels (index 0: the input), to make merges agree often
    entries: list = []
    steps: list[Step] = []
    last = []  # per entry, the index of its last step (-1: the input)
    names: dict[int, str] = {}  # entry -> its name
    kinds = [draw(st.sampled_from(["Conv2d"] * 3 + ["MaxPool2d", "AvgPool2d", "BatchNorm2d", "ReLU"] +
                                  ["skip"] * 3 * (i >= 1))) for i in range(draw(st.integers(2, 8)))]
    if draw(st.booleans()):  # the end: Flatten, maybe Linear, maybe a merge of 2-d and 4-d outputs
        kinds += ["Flatten"] + ["Linear"] * draw(st.booleans()) + ["skip"] * (draw(st.integers(0, 2)) == 0)
    flat = False
    for i, kind in enumerate(kinds):
        flat = flat or kind == "Flatten"
        meta = {}
        if kind in ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "ReLU") and draw(st.integers(0, 5)) == 0:
            meta["repeat"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            meta["name"] = f"e{i}"
            names[i] = meta["name"]
        repeat = meta.get("repeat", 1)
        if kind == "Conv2d":
            out = draw(st.one_of(st.integers(1, 6), st.sampled_from(channels)))
            if draw(st.booleans()):  # size-keeping, so that skips meet
                k = draw(st.sampled_from([1, 3]))
                args = _given(out_channels=out, kernel_size=k, padding=k // 2,
                              stride=draw(st.sampled_from([None, 1])))
            else:
                args = _given(out_channels=out, kernel_size=draw(st.integers(1, 4)),
                              stride=_omit_or(draw, st.integers(1, 2)), padding=_omit_or(draw, st.integers(0, 2)))
            args |= _given(bias=_omit_or(draw, st.booleans()))
            if draw(st.integers(0, 9)) == 0:  # in_channels given, right or wrong
                args["in_channels"] = draw(st.sampled_from(channels[-1:] + [draw(st.integers(1, 6))]))
            entry = {"Conv2d": args}
            channels.append(out)
        elif kind in ("MaxPool2d", "AvgPool2d"):
            if draw(st.integers(0, 3)) == 0:  # size-keeping
                args = draw(st.sampled_from([{"kernel_size": 3, "stride": 1, "padding": 1},
                                             {"kernel_size": 1, "stride": 1}]))
            else:
                args = _given(kernel_size=draw(st.integers(1, 3)), stride=_omit_or(draw, st.integers(1, 2)),
                              padding=_omit_or(draw, st.integers(0, 1)))
            args |= _given(ceil_mode=_omit_or(draw, st.booleans()))
            entry = {kind: args["kernel_size"] if list(args) == ["kernel_size"] and draw(st.booleans()) else args}
            channels.append(channels[-1])
        elif kind == "BatchNorm2d":
            args = _given(num_features=_omit_or(draw, st.sampled_from(channels)))
            entry = {kind: args or None}
            channels.append(channels[-1])
        elif kind in ("ReLU", "Flatten"):
            args, entry = {}, {kind: None}
            channels.append(channels[-1])
        elif kind == "Linear":
            args = {"out_features": draw(st.integers(1, 5))}
            entry = {kind: args["out_features"]}
            channels.append(args["out_features"])
        else:
            kind = draw(st.sampled_from(MERGES))
            targets = [draw(st.integers(-1, i - 2))]  # -1: the input; never the entry just before
            if i >= 2 and draw(st.integers(0, 3)) == 0:
                targets.append(draw(st.integers(-1, i - 2)))
            refs = []
            for t in targets:
                forms = [t - i]  # a negative offset
                forms += ["input"] if t == -1 else [names[t]] if t in names else []
                refs.append(draw(st.sampled_from(forms)))
            sources = [last[t] if t >= 0 else -1 for t in targets]
            at = draw(st.integers(0, len(refs)))  # where the entry just before goes among the inputs
            refs.insert(at, -1 if i - 1 not in names or draw(st.booleans()) else names[i - 1])
            sources.insert(at, last[i - 1])
            meta["from"] = refs
            pick = [channels[t + 1] for t in targets] + [channels[-1]]
            if kind == "Concat":
                dim = draw(st.sampled_from([1, -1, 2]) if flat else st.sampled_from([1, 1, 1, -3, 2, 3, -1]))
                args = {"dim": dim}
                entry = {kind: draw(st.sampled_from([dim, {"dim": dim}] + ([None] if dim == 1 else [])))}
                channels.append(sum(pick) if dim in (1, -3) else channels[-1])
            else:
                args, entry = {}, {kind: None}
                channels.append(channels[-1])
            steps.append(Step(kind, args, tuple(sources), i))
            entries.append(entry | meta)
            last.append(len(steps) - 1)
            continue
        if not meta and not args and draw(st.booleans()):
            entry = kind  # the bare name
        elif meta or draw(st.booleans()):
            entry = entry | meta
        elif kind in ("ReLU", "Flatten"):
            entry = kind
        steps += [Step(kind, args, (), i)] * repeat
        entries.append(entry)
        last.append(len(steps) - 1)
    return Case(spec(entries, (c, h, w)), (c, h, w), steps)


@settings(max_examples=examples(400))
@given(case=graphs())
def test_random_graphs_agree_with_torch(case: Case):
    assert_agrees(case)


# Random blocks and block params. ------------------------------------------------------------------

# A param expression as the spec writes it, and its value in Python.
OUT = [("$channels", lambda p: p["channels"]), ("$(channels * e)", lambda p: p["channels"] * p["e"]),
       ("$(channels * 2)", lambda p: p["channels"] * 2), ("$(channels + e - 1)", lambda p: p["channels"] + p["e"] - 1)]
PAD = [("$(k // 2)", lambda p: p["k"] // 2), ("$((k - 1) // 2)", lambda p: (p["k"] - 1) // 2),
       ("$(k - 2)", lambda p: p["k"] - 2), (0, lambda p: 0), ("$(k // 2 * stride - stride + 1)",
                                                              lambda p: p["k"] // 2 * p["stride"] - p["stride"] + 1)]
VALUES = {"channels": st.integers(1, 6), "k": st.integers(1, 4), "stride": st.integers(1, 2), "e": st.integers(1, 3),
          "pool": st.integers(1, 3), "width": st.integers(1, 6)}


@dataclass
class Block:
    definition: dict
    expand: object  # (params, steps, entry) -> None: appends the use's steps, params substituted


def _res(draw) -> Block:
    """A residual block: Identity x, conv (stride), maybe BatchNorm, ReLU, maybe a second conv, maybe a merge."""
    params = {"channels": draw(st.one_of(st.none(), VALUES["channels"])), "k": draw(VALUES["k"]),
              "stride": draw(VALUES["stride"]), "e": draw(VALUES["e"])}
    out, pad = draw(st.sampled_from(OUT)), draw(st.sampled_from(PAD))
    bias = draw(st.sampled_from([None, True, False]))
    bn, relu_after = draw(st.booleans()), draw(st.booleans())
    second = draw(st.sampled_from([None, ("$k", "$(k // 2)"), (1, 0)]))
    merge = draw(st.sampled_from([None, "Add", "Add", "Mul", "Concat"]))
    x_first = draw(st.booleans())
    conv = {"out_channels": out[0], "kernel_size": "$k", "stride": "$stride", "padding": pad[0]} | _given(bias=bias)
    layers = [{"Identity": None, "name": "x"}, {"Conv2d": conv}] + ["BatchNorm2d"] * bn + ["ReLU"]
    if second:
        layers.append({"Conv2d": {"out_channels": "$channels", "kernel_size": second[0], "padding": second[1]}})
    if merge:
        layers.append({merge: {"dim": 1} if merge == "Concat" else None,
                       "from": ["x", -1] if x_first else [-1, "x"]})
    layers += ["ReLU"] * relu_after

    def expand(p: dict, steps: list, entry: int) -> None:
        x = len(steps)
        steps.append(Step("Identity", {}, (), entry))
        steps.append(Step("Conv2d", {"out_channels": out[1](p), "kernel_size": p["k"], "stride": p["stride"],
                                     "padding": pad[1](p)} | _given(bias=bias), (), entry))
        steps.extend([Step("BatchNorm2d", {}, (), entry)] * bn + [Step("ReLU", {}, (), entry)])
        if second:
            k2 = p["k"] if second[0] == "$k" else 1
            steps.append(Step("Conv2d", {"out_channels": p["channels"], "kernel_size": k2, "padding": k2 // 2}, (),
                              entry))
        if merge:
            both = (x, len(steps) - 1) if x_first else (len(steps) - 1, x)
            steps.append(Step(merge, {"dim": 1} if merge == "Concat" else {}, both, entry))
        steps.extend([Step("ReLU", {}, (), entry)] * relu_after)
    return Block({"params": params, "layers": layers}, expand)


def _down(draw) -> Block:
    """A 1x1 conv to $channels, then a pool of $pool (MaxPool2d's main argument, or AvgPool2d with padding)."""
    params = {"channels": draw(VALUES["channels"]), "pool": draw(VALUES["pool"])}
    avg = draw(st.booleans())
    pool = {"AvgPool2d": {"kernel_size": "$pool", "padding": "$(pool // 2)"}} if avg else {"MaxPool2d": "$pool"}

    def expand(p: dict, steps: list, entry: int) -> None:
        steps.append(Step("Conv2d", {"out_channels": p["channels"], "kernel_size": 1}, (), entry))
        if avg:
            steps.append(Step("AvgPool2d", {"kernel_size": p["pool"], "padding": p["pool"] // 2}, (), entry))
        else:
            steps.append(Step("MaxPool2d", {"kernel_size": p["pool"]}, (), entry))
    return Block({"params": params, "layers": [{"Conv2d": {"out_channels": "$channels", "kernel_size": 1}}, pool]},
                 expand)


@st.composite
def block_models(draw) -> Case:
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    res, down = _res(draw), _down(draw)
    inner = draw(st.integers(1, 2))
    stage = Block({"params": {"width": None}, "layers": [{"down": {"channels": "$width", "pool": 2}},
                                                         {"res": {"channels": "$width"}, "repeat": inner}]}, None)

    def expand_stage(p: dict, steps: list, entry: int) -> None:
        down.expand(down.definition["params"] | {"channels": p["width"], "pool": 2}, steps, entry)
        for _ in range(inner):
            res.expand(res.definition["params"] | {"channels": p["width"]}, steps, entry)
    stage.expand = expand_stage
    blocks = {"res": res, "down": down, "stage": stage}

    entries, steps = [], []
    if draw(st.booleans()):
        out = draw(st.integers(1, 6))
        entries.append({"Conv2d": {"out_channels": out, "kernel_size": 3, "padding": 1}})
        steps.append(Step("Conv2d", {"out_channels": out, "kernel_size": 3, "padding": 1}, (), 0))
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["res", "res", "down", "stage"]))
        block = blocks[name]
        defaults = block.definition["params"]
        given_params = {k: draw(VALUES[k]) for k, v in defaults.items() if v is None or draw(st.booleans())}
        repeat = draw(st.sampled_from([None, None, 1, 2, 3]))
        entry = len(entries)
        if given_params or repeat:
            entries.append({name: given_params or None} | _given(repeat=repeat))
        else:
            entries.append(draw(st.sampled_from([name, {name: None}, {name: {}}])))
        for _ in range(repeat or 1):
            block.expand(defaults | given_params, steps, entry)
    if draw(st.booleans()):
        out = draw(st.integers(1, 5))
        entries += ["Flatten", {"Linear": out}]
        steps += [Step("Flatten", {}, (), len(entries) - 2), Step("Linear", {"out_features": out}, (),
                                                                   len(entries) - 1)]
    definitions = {k: b.definition for k, b in blocks.items()}
    return Case(spec(entries, (c, h, w), blocks=definitions), (c, h, w), steps)


@settings(max_examples=examples(250))
@given(case=block_models())
def test_random_blocks_agree_with_torch(case: Case):
    assert_agrees(case)


# In place and out of place: the same values and gradients. -----------------------------------------

# Every layer that takes `inplace`, with random arguments (a test checks the registry's list against these).
# Negative slopes and alphas included: torch has no backward pass for them in place, so netspec must build
# those layers out of place.
_ALPHA = st.sampled_from([0.5, 1.0, 2.0, -0.5])
_P = st.fixed_dictionaries({"p": st.sampled_from([0.0, 0.2, 0.5])})
IN_PLACE = {
    "ReLU": st.just({}), "ReLU6": st.just({}), "SELU": st.just({}), "SiLU": st.just({}), "Mish": st.just({}),
    "Hardswish": st.just({}), "Hardsigmoid": st.just({}), "RReLU": st.sampled_from([{}, {"lower": -0.5, "upper": -0.1}]),
    "LeakyReLU": st.fixed_dictionaries({"negative_slope": st.sampled_from([0.0, 0.01, 0.3, -0.5])}),
    "ELU": st.fixed_dictionaries({"alpha": _ALPHA}), "CELU": st.fixed_dictionaries({"alpha": _ALPHA}),
    "Hardtanh": st.sampled_from([{}, {"min_val": -0.5, "max_val": 0.25}, {"min_val": 0.0, "max_val": 6.0}]),
    "Threshold": st.fixed_dictionaries({"threshold": st.sampled_from([-0.5, 0.0, 0.3]),
                                        "value": st.sampled_from([-1.0, 0.0, 2.0])}),
    "Dropout": _P, "Dropout1d": _P, "Dropout2d": _P, "AlphaDropout": _P, "FeatureAlphaDropout": _P,
}
NOT_DRAWN = {"Dropout3d": "it takes (N, C, D, H, W), and these graphs are (N, C, H, W) and (N, F)"}
RANKS = {"Dropout1d": 1, "Dropout2d": 3, "FeatureAlphaDropout": 3}  # the rank without N needed; others: any
RANDOM = {"RReLU", "Dropout", "Dropout1d", "Dropout2d", "AlphaDropout", "FeatureAlphaDropout"}  # while training


def _ref(t: int, i: int, names: dict, draw):
    """A `from` reference from entry i to entry t (-1: the input): a negative offset, its name or `input`."""
    return draw(st.sampled_from([t - i] + (["input"] if t == -1 else [names[t]] if t in names else [])))


@st.composite
def in_place_graphs(draw) -> Case:
    """Conv2d, BatchNorm2d, size-keeping MaxPool2d, Identity, Flatten and Linear around in-place layers, with
    branches (an entry `from` an earlier one) and merges, often of an in-place layer's input with its output.
    A last Concat takes the outputs nothing else reads (netspec refuses an unused output)."""
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    shapes = {-1: (c, h, w)}  # per entry, its output's shape without the batch (-1: the input)
    source: dict[int, int] = {}  # per single-input entry, the entry it reads
    entries: list = []
    steps: list[Step] = []
    last = {-1: -1}
    names: dict[int, str] = {}
    unread: set[int] = set()  # the entries no later one reads yet
    for i in range(draw(st.integers(2, 9))):
        meta = {"name": f"e{i}"} if draw(st.booleans()) else {}
        kind = draw(st.sampled_from(["layer"] * 3 + ["act"] * 3 + ["merge"] * 2 if i else ["layer"] * 3 + ["act"]))
        if kind == "merge":
            # often the input of the in-place layer just before, which that layer must not overwrite
            earlier = [j for j in range(-1, i - 1) if len(shapes[j]) == len(shapes[i - 1])]
            merge = draw(st.sampled_from(MERGES))
            if merge != "Concat":
                earlier = [j for j in earlier if shapes[j] == shapes[i - 1]]
            if not earlier:
                merge, earlier = "Add", [i - 1]  # the entry before, twice
            t = source[i - 1] if source.get(i - 1) in earlier and draw(st.booleans()) else draw(
                st.sampled_from(earlier))
            targets = [t] + ([draw(st.sampled_from(earlier))] if draw(st.integers(0, 3)) == 0 else [])
            at = draw(st.integers(0, len(targets)))
            targets.insert(at, i - 1)
            meta["from"] = [_ref(t, i, names, draw) for t in targets]
            if merge == "Concat":
                shape = (sum(shapes[t][0] for t in targets),) + shapes[i - 1][1:]
            else:
                shape = shapes[i - 1]
            args = {"dim": 1} if merge == "Concat" else {}
            entries.append({merge: args or None} | meta)
            steps.append(Step(merge, args, tuple(last[t] for t in targets), i))
            unread -= set(targets)
        else:
            branches = [j for j in range(-1, i - 1) if len(shapes[j]) == len(shapes[i - 1])]
            j = draw(st.sampled_from(branches)) if branches and draw(st.integers(0, 3)) == 0 else i - 1
            if j != i - 1:
                meta["from"] = _ref(j, i, names, draw)
            flat = len(shapes[j]) == 1
            if kind == "act":
                kind = draw(st.sampled_from([k for k in IN_PLACE if RANKS.get(k, len(shapes[j])) == len(shapes[j])]))
                args = draw(IN_PLACE[kind])
                entry = {kind: args | {"inplace": draw(st.sampled_from([True, True, True, False]))}}
                shape = shapes[j]
            else:
                kind = draw(st.sampled_from(["Linear", "Identity"] if flat else
                                            ["Conv2d", "Conv2d", "BatchNorm2d", "MaxPool2d", "Identity"] +
                                            ["Flatten"] * (not unread - {j})))  # all unread of one rank
                args = {"Conv2d": {"out_channels": draw(st.sampled_from([c, c, 2])),
                                   "kernel_size": (k := draw(st.sampled_from([1, 3]))), "padding": k // 2},
                        "Linear": {"out_features": draw(st.sampled_from([shapes[j][0], 3]))},
                        "MaxPool2d": {"kernel_size": 3, "stride": 1, "padding": 1}}.get(kind, {})
                entry = {kind: args or None}
                shape = {"Conv2d": lambda s: (args.get("out_channels"),) + s[1:],
                         "Flatten": lambda s: (math.prod(s),),
                         "Linear": lambda s: (args.get("out_features"),)}.get(kind, lambda s: s)(shapes[j])
            repeat = draw(st.sampled_from([1, 1, 1, 2])) if "from" not in meta and kind in IN_PLACE else 1
            meta |= {"repeat": repeat} if repeat > 1 else {}
            entries.append(entry | meta)
            steps += [Step(kind, args, (last[j],), i)] + [Step(kind, args, (), i)] * (repeat - 1)
            source[i] = j
            unread.discard(j)
        unread.add(i)
        shapes[i] = shape
        last[i] = len(steps) - 1
        if "name" in meta:
            names[i] = meta["name"]
    unread.discard(len(entries) - 1)
    if unread:
        n = len(entries)
        targets = [n - 1] + sorted(unread)
        entries.append({"Concat": None, "from": [_ref(t, n, names, draw) for t in targets]})
        steps.append(Step("Concat", {"dim": 1}, tuple(last[t] for t in targets), n))
    return Case(spec(entries, (c, h, w)), (c, h, w), steps)


def _out_of_place(document):
    """document with every `inplace: true` made false."""
    if isinstance(document, dict):
        return {k: False if k == "inplace" else _out_of_place(v) for k, v in document.items()}
    return [_out_of_place(v) for v in document] if isinstance(document, list) else document


def _forward_backward(model: nn.Module, shape: tuple) -> tuple:
    """The output, and the gradients of a seeded random weighting of it, w.r.t. the input and each parameter."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    x = torch.randn((BATCH,) + shape, requires_grad=True)
    y = model(x)
    (y * torch.randn(y.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    return y.detach(), x.grad, {n: p.grad for n, p in model.named_parameters()}


SKIP = Case(spec([{"Conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}, "name": "x"},
                   {"ReLU": {"inplace": True}}, {"Add": None, "from": ["x", -1]}], (2, 3, 3)), (2, 3, 3),
            [Step("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, (-1,), 0), Step("ReLU", {}, (0,), 1),
             Step("Add", {}, (0, 1), 2)])  # the classic: x + relu_(x) would give 2 * relu(x)


@settings(max_examples=examples(150))
@given(case=in_place_graphs())
@example(case=SKIP)
def test_in_place_layers_give_the_values_and_gradients_of_out_of_place_ones(case: Case):
    """docs/reference.md: netspec writes into a layer's input only when that is safe forward and backward,
    so a skip connection always gets the values the spec describes, and the gradients are the same."""
    assert_agrees(case)  # the in-place spec against the torch reference, which never works in place
    report = netspec.check(case.document)
    assert report.valid, "the strategy draws valid graphs"
    in_place = scrambled(netspec.build(report))
    out_of_place = netspec.build(netspec.check(_out_of_place(case.document)))
    out_of_place.load_state_dict(in_place.state_dict())
    event(f"layers built in place: {sum(bool(getattr(m, 'inplace', False)) for m in in_place.modules())}")
    x = torch.randn((BATCH,) + case.shape)
    before = x.clone()
    with torch.no_grad():
        torch.testing.assert_close(in_place.eval()(x), out_of_place.eval()(x))
    assert torch.equal(x, before), "the caller's input was written into"
    train = not any(step.kind in RANDOM for step in case.steps)  # else only eval mode is deterministic
    for training in (False, True) if train else (False,):
        got = _forward_backward(in_place.train(training), case.shape)
        expected = _forward_backward(out_of_place.train(training), case.shape)
        torch.testing.assert_close(got, expected, msg=lambda m: f"training={training}: {m}")


def test_every_layer_that_takes_inplace_is_drawn():
    from netspec.registry import layers

    assert {n for n, lt in layers().items() if "inplace" in lt.args} == set(IN_PLACE) | set(NOT_DRAWN)


# The interpreter itself, on networks whose answers are known by hand. -------------------------------

def test_the_reference_runs_a_residual_chain_and_refuses_a_mismatch():
    ok = Case(spec([], (2, 4, 4)), (2, 4, 4), [
        Step("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}), Step("ReLU"),
        Step("Add", {}, (-1, 1)), Step("Concat", {"dim": 1}, (2, 0))])
    outcome = torch_outcome(ok)
    assert outcome.error is None and outcome.shape == (2, 4, 4, 4) and outcome.params == 2 * 2 * 9 + 2
    assert outcome.shapes == [(2, 2, 4, 4)] * 3 + [(2, 4, 4, 4)]
    bad = Case(spec([], (2, 4, 4)), (2, 4, 4), [Step("Conv2d", {"out_channels": 3, "kernel_size": 1}, (), 0),
                                                 Step("Add", {}, (-1, 0), 1)])
    assert isinstance(torch_outcome(bad).error, RuntimeError) and torch_outcome(bad).at == 1
    broadcast = Case(spec([], (2, 4, 4)), (2, 4, 4), [Step("Conv2d", {"out_channels": 1, "kernel_size": 1}),
                                                       Step("Mul", {}, (-1, 0))])
    assert torch_outcome(broadcast).error is None and torch_outcome(broadcast).shape == (2, 2, 4, 4)
    ranks = Case(spec([], (1, 1, 4)), (1, 1, 4), [Step("Flatten"), Step("Mul", {}, (-1, 0))])  # (2,1,1,4) * (2,4)
    assert isinstance(torch_outcome(ranks).error, Stricter)
