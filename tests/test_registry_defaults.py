"""A layer's defaults are torch's: every registry entry that builds a torch.nn class declares, for each
argument, the default (or the being required) of that class's constructor, read from its signature.

Where netspec differs on purpose, the difference is listed here with its reason and is documented in
docs/reference.md: a different default, an argument inferred from the input where torch requires it,
an argument of netspec's own. Every constructor argument netspec does not offer is listed too, so that
a torch argument is left out knowingly, not by oversight.
"""
from __future__ import annotations

import inspect
import re
import typing

import pytest
from torch import nn

from netspec import modules
from netspec.registry import REQUIRED, layers
from tests.helpers import ROOT

REFERENCE = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The text of reference.md under `### title`, up to the next heading."""
    start = REFERENCE.index(f"### {title}\n")
    end = REFERENCE.find("\n#", start + 1)
    return REFERENCE[start: end if end > 0 else None]


# netspec's default where torch's differs: each is in reference.md's "Defaults that differ from PyTorch".
DIFFERENT_DEFAULTS = {
    (layer, "dim"): "torch's dim=None is deprecated and guesses the dimension from the rank; 1 is the class "
                    "dimension of (N, C)"
    for layer in ("Softmax", "LogSoftmax", "Softmin")
}

# netspec's own arguments, which torch's class does not take: (layer, argument) -> what reference.md says of it.
OWN_ARGUMENTS = {(layer, "output"): "with `output: last`" for layer in ("RNN", "LSTM", "GRU")}


def _activation_named(value, torch_default) -> bool:
    """torch turns an activation's name into the function it names."""
    return nn.TransformerEncoderLayer(4, 1, activation=value).activation is torch_default


# The same default spelt otherwise: YAML holds a name where torch's default is a function.
SPELT_OTHERWISE = {("TransformerEncoderLayer", "activation"): _activation_named,
                   ("TransformerEncoder", "activation"): _activation_named}

# torch constructor arguments that netspec does not offer, with the reason; "*" is every entry. A phrase
# after the reason must be in reference.md, which tells users.
_NORMS = [f"{kind}{d}d" for kind in ("BatchNorm", "InstanceNorm") for d in (1, 2, 3)] + ["GroupNorm"]
_SEQUENCE = ["RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]
OMITTED = {
    ("*", "device"): ("the model is built on the CPU and moved to train.device as a whole", None),
    ("*", "dtype"): ("the model's dtype follows model.input's (float64 makes it double)", None),
    ("LazyLinear", "in_features"): ("LazyLinear is built as a Linear whose in_features is inferred",
                                    "which has no such argument and becomes a `Linear`"),
    ("Embedding", "_weight"): ("a private argument of from_pretrained: the starting weights", None),
    ("Embedding", "_freeze"): ("a private argument of from_pretrained: weights that do not learn", None),
    ("Hardtanh", "min_value"): ("torch's deprecated spelling of min_val", None),
    ("Hardtanh", "max_value"): ("torch's deprecated spelling of max_val", None),
    **{(layer, "bias"): ("affine gives a norm its weight and bias together; a weight without a bias is not "
                         "offered", None) for layer in _NORMS},
    **{(layer, "batch_first"): ("always batch_first=True", "so `batch_first` is not an argument")
       for layer in _SEQUENCE},
    ("MultiheadAttention", "kdim"): ("self-attention: the key is the input, so kdim is embed_dim",
                                     "`MultiheadAttention` is self-attention"),
    ("MultiheadAttention", "vdim"): ("self-attention: the value is the input, so vdim is embed_dim",
                                     "`MultiheadAttention` is self-attention"),
    ("TransformerEncoder", "encoder_layer"): ("the layer is built from the entry's other arguments", None),
    ("TransformerEncoder", "norm"): ("no final norm; a LayerNorm entry after it adds one", "adds no final norm"),
    ("TransformerEncoder", "enable_nested_tensor"): ("no masks are applied, so nested tensors gain nothing",
                                                     "No masks are applied"),
    ("TransformerEncoder", "mask_check"): ("no masks are applied", "No masks are applied"),
}

# Entries whose netspec module passes some arguments to a second torch class.
ALSO_BUILDS = {"TransformerEncoder": nn.TransformerEncoderLayer}

TORCH_ENTRIES = sorted(name for name, lt in layers().items() if not lt.module or lt.wraps_torch)


def torch_class(name: str) -> type:
    lt = layers()[name]
    return getattr(nn, lt.torch_class or name)


def torch_arguments(name: str) -> dict[str, inspect.Parameter]:
    """The named constructor arguments of the torch class(es) an entry builds. A class that takes only
    *args, **kwargs (RNN, LSTM, GRU) declares them in its typed overload."""
    found: dict[str, inspect.Parameter] = {}
    for cls in (torch_class(name), ALSO_BUILDS.get(name)):
        if cls is None:
            continue
        for init in (cls.__init__, *typing.get_overloads(cls.__init__)):
            named = {n: p for n, p in inspect.signature(init).parameters.items()
                     if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
            if named:
                found |= named
                break
    return found


def _inferred_in_docs() -> set[tuple[str, str]]:
    """(layer, argument) pairs of reference.md's table "Sizes that netspec infers"."""
    pairs = set()
    for row in _section("Sizes that netspec infers").splitlines():
        cells = row.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        listed = re.sub(r"`(\w+)1d/2d/3d`", lambda m: ", ".join(f"`{m[1]}{d}d`" for d in (1, 2, 3)), cells[2])
        pairs |= {(layer, arg) for arg in re.findall(r"`(\w+)`", cells[1]) for layer in re.findall(r"`(\w+)`",
                                                                                                     listed)}
    return pairs


def _omitted(name: str, arg: str):
    return OMITTED.get((name, arg)) or OMITTED.get(("*", arg))


def test_wraps_torch_is_set_exactly_where_a_netspec_module_subclasses_a_torch_layer():
    """The field this file trusts to find the entries built from a torch class."""
    for name, lt in layers().items():
        if not lt.module:
            assert issubclass(torch_class(name), nn.Module), name
        elif lt.module != "torchvision_model":
            own = getattr(modules, lt.module)
            torch_bases = [c for c in own.__mro__ if c.__module__.startswith("torch.nn") and c is not nn.Module]
            assert bool(torch_bases) == lt.wraps_torch, (name, torch_bases)
            if lt.wraps_torch:
                assert issubclass(own, torch_class(name)), name


@pytest.mark.parametrize("name", TORCH_ENTRIES)
def test_defaults_are_torchs(name: str):
    lt, theirs = layers()[name], torch_arguments(name)
    inferred_in_docs = _inferred_in_docs()
    for arg, declared in lt.args.items():
        if arg not in theirs:
            assert (name, arg) in OWN_ARGUMENTS, f"{name}.{arg} is not an argument of torch's; list it in OWN_ARGUMENTS"
            continue
        torch_default = theirs[arg].default
        if declared.inferred:
            assert torch_default is inspect.Parameter.empty, \
                f"{name}.{arg} is inferred, but torch has a default for it ({torch_default!r})"
            assert (name, arg) in inferred_in_docs, f"{name}.{arg} is inferred: add it to reference.md's table"
            continue
        if (name, arg) in DIFFERENT_DEFAULTS:
            assert declared.default != torch_default, f"{name}.{arg} has torch's default now: drop the exception"
            continue
        if (name, arg) in SPELT_OTHERWISE:
            assert SPELT_OTHERWISE[name, arg](declared.default, torch_default), f"{name}.{arg}"
            continue
        if torch_default is inspect.Parameter.empty:
            assert declared.default is REQUIRED, f"{name}.{arg}: torch requires it, netspec has default " \
                                                 f"{declared.default!r}"
        else:
            assert declared.default is not REQUIRED, f"{name}.{arg}: netspec requires it, torch has default " \
                                                     f"{torch_default!r}"
            assert (declared.default, type(declared.default)) == (torch_default, type(torch_default)), \
                f"{name}.{arg}: netspec's default is {declared.default!r}, torch's is {torch_default!r}"


@pytest.mark.parametrize("name", TORCH_ENTRIES)
def test_every_torch_argument_left_out_is_listed(name: str):
    lt = layers()[name]
    left_out = [arg for arg in torch_arguments(name) if arg not in lt.args]
    unlisted = [arg for arg in left_out if _omitted(name, arg) is None]
    assert not unlisted, f"{name} does not offer torch's {unlisted}: offer them, or list them in OMITTED with why"


def test_the_lists_name_real_arguments():
    """No exception outlives its reason: each names an entry and a torch argument as they are now."""
    for (name, arg) in DIFFERENT_DEFAULTS | SPELT_OTHERWISE:
        assert arg in layers()[name].args and arg in torch_arguments(name), (name, arg)
    for (name, arg) in OWN_ARGUMENTS:
        assert arg in layers()[name].args and arg not in torch_arguments(name), (name, arg)
    for (name, arg) in OMITTED:
        entries = TORCH_ENTRIES if name == "*" else [name]
        assert any(arg in torch_arguments(n) and arg not in layers()[n].args for n in entries), (name, arg)


def test_the_differences_are_documented():
    differ = _section("Defaults that differ from PyTorch")
    for (name, arg) in DIFFERENT_DEFAULTS:
        assert f"`{name}`" in differ, name
        assert f"`{arg}: {layers()[name].args[arg].default}`" in differ, (name, arg)
    for (name, arg), phrase in OWN_ARGUMENTS.items():
        assert phrase in REFERENCE and f"`{name}`" in REFERENCE, (name, arg)
    for (name, arg), (_why, phrase) in OMITTED.items():
        if phrase:
            assert phrase in REFERENCE, (name, arg, phrase)
