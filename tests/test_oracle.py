"""torch is the oracle: for every registry entry, hypothesis draws arguments and an input shape,
and the checker's verdict, output shape and dtype, parameter count and MACs must equal what
torch does with the same layer on a batch of 2.

The oracle builds the torch layer straight from the spec's arguments (netspec's defaults, and
for an inferred argument left out, the value the input implies), so that it can also judge the
specs netspec rejects. For each valid spec the module of `netspec.build` must agree as well.
Where netspec is deliberately stricter than torch (`LayerType.stricter`), the cases are not
drawn here; `test_stricter_than_torch` pins them down instead.
"""
from __future__ import annotations

import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
import torch
from hypothesis import given, note, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.registry import REQUIRED, layers
from tests.helpers import examples, spec

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]

BATCH = 2
OMIT = object()  # an argument the spec leaves out


@dataclass(frozen=True)
class Case:
    """One drawn example: the arguments a spec writes, and one sample's shape and dtype."""

    given: dict
    shape: tuple[int, ...]
    dtype: str = "float32"
    truth: dict = field(default_factory=dict)  # what torch needs for inferred arguments left out


# Strategy helpers; those with `draw` run inside a composite strategy. ---------------------

def _maybe(draw, strategy):
    """A value of strategy, or OMIT."""
    return draw(st.one_of(st.just(OMIT), strategy))


def _args(draw, **optional) -> dict:
    """Each optional argument left out or drawn."""
    out = {name: _maybe(draw, s) for name, s in optional.items()}
    return {k: v for k, v in out.items() if v is not OMIT}


def _inferred(draw, true: int, lo: int = 1, hi: int = 8):
    """An inferred size: left out, given right, or given (likely) wrong."""
    return draw(st.one_of(st.just(OMIT), st.just(true), st.integers(lo, hi)))


def _put(given: dict, name: str, value) -> None:
    if value is not OMIT:
        given[name] = value


def _dims(d: int, elem) -> st.SearchStrategy:
    """One int for all d dimensions, or a list of d ints; elem is a strategy or i -> strategy."""
    pick = elem if not isinstance(elem, st.SearchStrategy) else (lambda i: elem)

    @st.composite
    def strategy(draw):
        if draw(st.booleans()):
            return draw(pick(0))
        return [draw(pick(i)) for i in range(d)]
    return strategy()


def _each(value, d: int) -> tuple:
    return tuple(value) if isinstance(value, list) else (value,) * d


def _sizes(draw, n: int, lo: int = 1, hi: int = 6) -> tuple[int, ...]:
    return tuple(draw(st.integers(lo, hi)) for _ in range(n))


def _numbers(lo=None, hi=None, above=None) -> st.SearchStrategy:
    """Floats in a JSON-schema number's domain, edge values often."""
    low = above if above is not None else lo
    edges = [v for v in (-2.0, -1.0, -0.5, 0.0, 0.01, 0.5, 1.0, 2.0, 20.0)
             if (lo is None or v >= lo) and (hi is None or v <= hi) and (above is None or v > above)]
    floats = st.floats(min_value=-50.0 if low is None else low, max_value=50.0 if hi is None else hi,
                       exclude_min=above is not None, allow_nan=False, width=32)
    return st.one_of(st.sampled_from(edges), floats)


def _from_schema(schema: dict) -> st.SearchStrategy:
    """Any value of a plain argument schema: enum, boolean, number, integer or null."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    known = {"boolean": st.booleans(), "null": st.none(),
             "number": _numbers(schema.get("minimum"), schema.get("maximum"), schema.get("exclusiveMinimum")),
             "integer": st.integers(schema.get("minimum", -3), schema.get("maximum", 8))}
    assert set(types) <= set(known), f"no generic strategy for {schema}; give the layer its own"
    return st.one_of([known[t] for t in types])


def _float(draw) -> str:
    return draw(st.sampled_from(["float32", "float32", "float32", "float64"]))


def _any_dtype(draw) -> str:
    return draw(st.sampled_from(["float32", "float32", "float64", "int64", "int32"]))


def _rank(draw, usual, refused=()) -> int:
    """Mostly a rank the layer takes; sometimes one that torch refuses too."""
    return draw(st.sampled_from(list(usual) * 10 + list(refused)))


def _dim(draw, rank: int, batch: bool = True):
    """A `dim` argument for a sample of this rank, out of range now and then; batch=False: never N."""
    n = rank + 1
    value = draw(st.integers(-n - 1, n))
    if not batch and -n <= value < n and value % n == 0:
        value = draw(st.sampled_from([n, -n - 1, 1, -1]))
    return value


# Strategies, one per registry entry. --------------------------------------------------------

def _conv(d: int, transpose: bool) -> st.SearchStrategy:
    hi = 6 if d == 3 else 12

    @st.composite
    def strategy(draw) -> Case:
        groups = draw(st.sampled_from([1, 1, 2, 3, 4]))
        multiple = st.integers(1, max(1, 8 // groups)).map(lambda m: m * groups)
        count = st.sampled_from([multiple] * 3 + [st.integers(1, 8)]).flatmap(lambda s: s)  # groups mostly divide
        c, out_c = draw(count), draw(count)
        rank = _rank(draw, [d + 1], [r for r in (d - 1, d + 2) if r > 0])  # rank d: stricter
        shape = (c,) + _sizes(draw, rank - 1, 1, hi)
        kernel = _dims(d, st.one_of(st.integers(1, 4), st.integers(1, hi + 2)))
        given = {"out_channels": out_c, "kernel_size": draw(kernel)}
        _put(given, "in_channels", _inferred(draw, c))
        padding = _dims(d, st.integers(0, 4))
        if not transpose:
            padding = st.one_of(padding, st.sampled_from(["same", "valid"]))
        given |= _args(draw, stride=_dims(d, st.integers(1, 5)), padding=padding,
                       dilation=_dims(d, st.integers(1, 3)), groups=st.just(groups), bias=st.booleans())
        if transpose:
            given |= _args(draw, output_padding=_dims(d, st.integers(0, 3)), padding_mode=st.just("zeros"))
        else:
            given |= _args(draw, padding_mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
        return Case(given, shape, _float(draw), {"in_channels": c})
    return strategy()


def _window(draw, name: str, d: int, hi: int) -> dict:
    """kernel_size, stride, ceil_mode, and padding near half the kernel, of a pooling window."""
    args = layers()[name].args
    kernel = st.one_of(st.integers(1, 4), st.integers(1, hi + 2))
    kernel = draw(_dims(d, kernel) if "array" in args["kernel_size"].schema["type"] else kernel)
    ks = _each(kernel, d)
    given = {"kernel_size": kernel}
    given |= _args(draw, stride=st.one_of(st.none(), _dims(d, st.integers(1, 6))), ceil_mode=st.booleans())
    if "padding" in args:
        near_half = lambda i: st.one_of(st.integers(0, 2), st.sampled_from([ks[i] // 2, ks[i] // 2 + 1]))
        given |= _args(draw, padding=_dims(d, near_half))
    if "dilation" in args:
        given |= _args(draw, dilation=_dims(d, st.integers(1, 3)))
    return given


def _pool(d: int, kind: str) -> st.SearchStrategy:
    hi = 6 if d == 3 else 12
    name = f"{kind}Pool{d}d"
    refused = [r for r in (d - 1, d + 2) if r > 0]  # torch refuses these too; rank d: stricter

    @st.composite
    def strategy(draw) -> Case:
        rank = _rank(draw, [d + 1], refused)
        shape = _sizes(draw, rank, 1, hi)
        if kind.startswith("Adaptive"):
            size = st.one_of(st.integers(1, 4), st.integers(1, hi + 2))
            if "null" in layers()[name].args["output_size"].schema["items"]["type"]:
                size_or_keep = st.one_of(st.none(), size)  # null keeps that size
            else:
                size_or_keep = size
            given = {"output_size": draw(st.one_of(size, st.lists(size_or_keep, min_size=d, max_size=d)))}
            if kind == "AdaptiveAvg" and rank != d + 1 and set(_each(given["output_size"], d)) <= {1, None}:
                given["output_size"] = 2  # output 1 is a mean, which torch takes over any rank: stricter
            if kind == "AdaptiveMax":
                given |= _args(draw, return_indices=st.just(False))
            return Case(given, shape, _float(draw))
        given = _window(draw, name, d, hi)
        if kind == "Max":
            given |= _args(draw, return_indices=st.just(False))
        elif kind == "Avg":
            given |= _args(draw, count_include_pad=st.booleans())
            if d > 1:
                given |= _args(draw, divisor_override=st.one_of(st.none(), st.integers(1, 5)))
        else:
            given["norm_type"] = draw(st.one_of(st.sampled_from([1, 2, 3, 0.5, 1.5]), _numbers(above=0, hi=4)))
        return Case(given, shape, _float(draw))
    return strategy()


def _channel_norm(d: int, kind: str) -> st.SearchStrategy:
    """BatchNorm and InstanceNorm: num_features is the channels, dimension 1 of (N, C, ...)."""
    if kind == "Batch":
        usual, refused = ([1, 2], [3]) if d == 1 else ([d + 1], [d, d + 2])
    else:
        usual, refused = [d + 1], [r for r in (d - 1, d + 2) if r > 0]  # rank d: stricter

    @st.composite
    def strategy(draw) -> Case:
        rank = _rank(draw, usual, refused)
        c = draw(st.integers(1, 8))
        shape = (c,) + _sizes(draw, rank - 1, 1, 5)
        given = _args(draw, eps=_numbers(above=0), momentum=st.one_of(st.none(), _numbers(0, 1)),
                      affine=st.booleans(), track_running_stats=st.booleans())
        default = kind == "Batch"
        weighted = given.get("affine", default) or given.get("track_running_stats", default)
        # a wrong num_features where torch has no weights or running stats to notice: stricter
        _put(given, "num_features", _inferred(draw, c) if weighted else _maybe(draw, st.just(c)))
        if kind == "Instance" and given.get("track_running_stats") and len(shape) > 1:
            shape = shape[:-1] + (draw(st.integers(2, 5)),)  # one value per channel fails only in training: stricter
        return Case(given, shape, _float(draw), {"num_features": c})
    return strategy()


def _trailing_norm(name: str) -> st.SearchStrategy:
    """LayerNorm and RMSNorm: normalized_shape is some trailing dimensions, or not quite."""
    @st.composite
    def strategy(draw) -> Case:
        shape = _sizes(draw, draw(st.integers(1, 4)), 1, 5)
        n = draw(st.integers(1, len(shape)))  # longer would reach into the batch: stricter
        trailing = list(shape[-n:])
        if draw(st.booleans()):
            i = draw(st.integers(0, n - 1))
            trailing[i] = draw(st.integers(1, 6))
        ns = draw(st.sampled_from([trailing, trailing[-1], draw(st.integers(1, 6))]))
        given = _args(draw, normalized_shape=st.just(ns), elementwise_affine=st.booleans())
        if name == "LayerNorm":
            given |= _args(draw, eps=_numbers(above=0), bias=st.booleans())
        else:
            given |= _args(draw, eps=st.one_of(st.none(), _numbers(above=0)))
        return Case(given, shape, _float(draw), {"normalized_shape": [shape[-1]]})
    return strategy()


@st.composite
def _group_norm(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 4)), 1, 8)
    c = shape[0]
    divisors = [g for g in range(1, c + 1) if c % g == 0]
    given = {"num_groups": draw(st.one_of(st.sampled_from(divisors), st.integers(1, 8)))}
    given |= _args(draw, eps=_numbers(above=0), affine=st.booleans())
    # a wrong num_channels without weights, which torch ignores: stricter
    _put(given, "num_channels", _inferred(draw, c) if given.get("affine", True) else _maybe(draw, st.just(c)))
    return Case(given, shape, _float(draw), {"num_channels": c})


@st.composite
def _local_response_norm(draw) -> Case:
    shape = _sizes(draw, _rank(draw, [2, 3, 4], [1]), 1, 6)
    given = {"size": draw(st.integers(1, 10))}
    given |= _args(draw, alpha=_numbers(), beta=_numbers(), k=_numbers())
    return Case(given, shape, _float(draw))


def _linear(lazy: bool) -> st.SearchStrategy:
    @st.composite
    def strategy(draw) -> Case:
        shape = _sizes(draw, draw(st.integers(1, 3)), 1, 8)
        given = {"out_features": draw(st.integers(1, 8))}
        if not lazy:
            _put(given, "in_features", _inferred(draw, shape[-1]))
        given |= _args(draw, bias=st.booleans())
        return Case(given, shape, _float(draw), {} if lazy else {"in_features": shape[-1]})
    return strategy()


@st.composite
def _bilinear(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 3)), 1, 6)
    given = {"out_features": draw(st.integers(1, 6))}
    _put(given, "in1_features", _inferred(draw, shape[-1]))
    _put(given, "in2_features", _inferred(draw, shape[-1]))
    given |= _args(draw, bias=st.booleans())
    return Case(given, shape, _float(draw), {"in1_features": shape[-1], "in2_features": shape[-1]})


@st.composite
def _embedding(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 3)), 1, 6)
    given = {"num_embeddings": draw(st.integers(1, 10)), "embedding_dim": draw(st.integers(1, 8))}
    given |= _args(draw, padding_idx=st.one_of(st.none(), st.integers(-12, 12)),
                   max_norm=st.one_of(st.none(), _numbers()), norm_type=_numbers(),
                   scale_grad_by_freq=st.booleans(), sparse=st.booleans())
    dtype = draw(st.sampled_from(["int64"] * 6 + ["int32", "float32"]))
    return Case(given, shape, dtype)


def _generic(name: str, ranks=(1, 2, 3, 4), refused=(), dtype=_float) -> st.SearchStrategy:
    """A layer whose arguments do not depend on the input: each drawn from its schema."""
    @st.composite
    def strategy(draw) -> Case:
        given = {}
        for arg_name, arg in layers()[name].args.items():
            value = draw(_from_schema(arg.schema))
            _put(given, arg_name, value if arg.default is REQUIRED else draw(st.sampled_from([OMIT, value])))
        return Case(given, _sizes(draw, _rank(draw, ranks, refused), 1, 5), dtype(draw))
    return strategy()


@st.composite
def _prelu(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 4)), 1, 6)
    given = _args(draw, num_parameters=st.sampled_from([1, shape[0], draw(st.integers(1, 8))]), init=_numbers())
    return Case(given, shape, _float(draw))


@st.composite
def _glu(draw) -> Case:
    shape = tuple(draw(st.one_of(st.integers(1, 3).map(lambda m: 2 * m), st.integers(1, 5)))
                  for _ in range(draw(st.integers(1, 4))))
    given = _args(draw, dim=st.just(_dim(draw, len(shape), batch=False)))  # halving N: stricter
    return Case(given, shape, _float(draw))


@st.composite
def _softmax(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 4)), 1, 5)
    return Case(_args(draw, dim=st.just(_dim(draw, len(shape)))), shape, _float(draw))


@st.composite
def _flatten(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 4)), 1, 5)
    given = _args(draw, start_dim=st.just(_dim(draw, len(shape), batch=False)),  # merging N: stricter
                  end_dim=st.just(_dim(draw, len(shape))))
    return Case(given, shape, _any_dtype(draw))


def _cut_dim(draw) -> tuple[tuple[int, ...], int, int]:
    """A sample's shape, a `dim` to cut (never N) and that dimension's size (any size when out of range)."""
    shape = _sizes(draw, draw(st.integers(1, 3)), 1, 8)
    dim = _dim(draw, len(shape), batch=False)
    n = len(shape) + 1
    return shape, dim, shape[dim % n - 1] if -n <= dim < n else draw(st.integers(1, 8))


@st.composite
def _chunk(draw) -> Case:
    shape, dim, size = _cut_dim(draw)
    chunks = draw(st.sampled_from([f for f in range(1, size + 1) if size % f == 0]))  # unequal parts: stricter
    index = draw(st.integers(0, chunks))  # `chunks` itself: a part neither has
    return Case({"chunks": chunks, "dim": dim, "index": index}, shape, _any_dtype(draw))


@st.composite
def _split(draw) -> Case:
    shape, dim, size = _cut_dim(draw)
    if draw(st.booleans()):
        sizes = draw(st.integers(1, size + 1))
        count = -(-size // sizes)
    else:
        sizes = draw(st.one_of(st.just([size]), st.lists(st.integers(1, 4), min_size=1, max_size=4)))
        count = len(sizes)
    return Case({"split_size_or_sections": sizes, "dim": dim, "index": draw(st.integers(0, count))}, shape,
                _any_dtype(draw))


@st.composite
def _permute(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 4)), 1, 5)
    rank = len(shape) + 1
    dims = [0] + draw(st.permutations(range(1, rank)))
    if draw(st.integers(0, 4)) == 0:  # negative spellings, a repeated or missing dimension, the batch moved
        dims = draw(st.lists(st.integers(-rank, rank), min_size=rank - 1, max_size=rank + 1))
        if dims[:1] != [0] and dims[:1] != [-rank] and len(set(d % rank for d in dims)) == rank == len(dims):
            dims = [0] + dims[1:]  # keep to what torch also refuses or allows: moving N is stricter
    return Case({"dims": dims}, shape, _any_dtype(draw))


@st.composite
def _select(draw) -> Case:
    shape, dim, size = _cut_dim(draw)
    return Case(_args(draw, dim=st.just(dim)) | {"index": draw(st.integers(-size - 1, size))}, shape,
                _any_dtype(draw)) if dim == 1 else \
        Case({"dim": dim, "index": draw(st.integers(-size - 1, size))}, shape, _any_dtype(draw))


def _wrong_or_right(draw, true: int):
    """An inferred size left out, given right, or given wrong (never 1 against a size torch would broadcast)."""
    return draw(st.sampled_from([OMIT, true, true + 1]))


@st.composite
def _class_token(draw) -> Case:
    length, dim = draw(st.integers(1, 6)), draw(st.integers(2, 8))
    given = {}
    _put(given, "embed_dim", _wrong_or_right(draw, dim))
    return Case(given, (length, dim), _float(draw), truth={"embed_dim": dim})


@st.composite
def _position_embedding(draw) -> Case:
    length, dim = draw(st.integers(2, 6)), draw(st.integers(2, 8))
    given = {}
    _put(given, "num_positions", _wrong_or_right(draw, length))
    _put(given, "embed_dim", _wrong_or_right(draw, dim))
    return Case(given, (length, dim), _float(draw), truth={"num_positions": length, "embed_dim": dim})


@st.composite
def _layer_scale(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 4)), 2, 5)
    rank = len(shape) + 1
    dim = draw(st.sampled_from([1, -1, rank - 1, 1 - rank]))
    size = shape[dim % rank - 1]
    given = {"dim": dim, "init_values": draw(_numbers(-2.0, 2.0))}
    _put(given, "num_features", _wrong_or_right(draw, size))
    return Case(given, shape, _float(draw), truth={"num_features": size})


@st.composite
def _unflatten(draw) -> Case:
    shape = _sizes(draw, draw(st.integers(1, 3)), 1, 8)
    dim = _dim(draw, len(shape), batch=False)  # splitting N: stricter
    n = len(shape) + 1
    size = shape[dim % n - 1] if -n <= dim < n else draw(st.integers(1, 8))
    a = draw(st.sampled_from([f for f in range(1, size + 1) if size % f == 0]))
    fitting = draw(st.permutations([a, size // a, *draw(st.lists(st.just(1), max_size=1))]))
    if draw(st.booleans()):
        fitting[draw(st.integers(0, len(fitting) - 1))] = -1
    anything = st.lists(st.integers(-2, 6), min_size=1, max_size=3)
    given = {"dim": dim, "unflattened_size": draw(st.one_of(st.just(list(fitting)), anything))}
    return Case(given, shape, _any_dtype(draw))


@st.composite
def _upsample(draw) -> Case:
    shape = _sizes(draw, _rank(draw, [2, 3, 4], [1, 5]), 1, 6)
    d = len(shape) - 1
    count = st.sampled_from([d, d, d, 1, 2, 3]) if d else st.integers(1, 3)  # values per list
    sizes = st.integers(1, 12)
    scales = st.one_of(st.sampled_from([0.3, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]), st.floats(0.125, 4.0, width=32))
    size = st.one_of(sizes, count.flatmap(lambda n: st.lists(sizes, min_size=n, max_size=n)))
    scale = st.one_of(scales, count.flatmap(lambda n: st.lists(scales, min_size=n, max_size=n)))
    which = draw(st.sampled_from(["size", "scale_factor"] * 3 + ["both", "neither"]))
    given = {}
    if which in ("size", "both"):
        given["size"] = draw(size)
    if which in ("scale_factor", "both"):
        given["scale_factor"] = draw(scale)
    if which == "neither":
        given |= _args(draw, size=st.none(), scale_factor=st.none())
    modes = layers()["Upsample"].args["mode"].schema["enum"]
    given |= _args(draw, mode=st.sampled_from(modes), align_corners=st.one_of(st.none(), st.booleans()),
                   recompute_scale_factor=st.one_of(st.none(), st.booleans()))
    return Case(given, shape, _float(draw))


def _pixel(shuffle: bool) -> st.SearchStrategy:
    @st.composite
    def strategy(draw) -> Case:
        r = draw(st.integers(1, 4))
        rank = _rank(draw, [3, 4], [1])  # rank 2: stricter
        multiple = lambda f, top: st.one_of(st.integers(1, 3).map(lambda m: m * f), st.integers(1, top))
        if shuffle:
            core = (draw(multiple(r * r, 8)),) + _sizes(draw, 2, 1, 4)
        else:
            core = (draw(st.integers(1, 3)), draw(multiple(r, 8)), draw(multiple(r, 8)))
        shape = _sizes(draw, rank - 3, 1, 3) + core if rank >= 3 else core[-rank:]
        arg = "upscale_factor" if shuffle else "downscale_factor"
        return Case({arg: r}, shape, _float(draw))
    return strategy()


def _pad(name: str, d: int, mode: str) -> st.SearchStrategy:
    constant = mode == "constant"
    usual, refused = ([d, d + 1, d + 2], []) if constant else ([d, d + 1], [r for r in (d - 1, d + 2) if r > 0])

    @st.composite
    def strategy(draw) -> Case:
        shape = _sizes(draw, _rank(draw, usual, refused), 1, 6)  # constant with rank < d: stricter
        padding = st.one_of(st.integers(0, 6), st.lists(st.integers(0, 6), min_size=2 * d, max_size=2 * d))
        given = {"padding": draw(padding)}
        if "value" in layers()[name].args:
            given["value"] = draw(_numbers())
        return Case(given, shape, _any_dtype(draw) if constant else _float(draw))
    return strategy()


def _recurrent(name: str) -> st.SearchStrategy:
    @st.composite
    def strategy(draw) -> Case:
        shape = _sizes(draw, _rank(draw, [2], [3]), 1, 5)  # rank 1: stricter
        h = draw(st.integers(1, 6))
        given = {"hidden_size": h}
        _put(given, "input_size", _inferred(draw, shape[-1]))
        given |= _args(draw, num_layers=st.integers(1, 3), bias=st.booleans(), dropout=_numbers(0, 1),
                       bidirectional=st.booleans(), output=st.sampled_from(["sequence", "last"]))
        if name == "RNN":
            given |= _args(draw, nonlinearity=st.sampled_from(["tanh", "relu"]))
        if name == "LSTM":
            given |= _args(draw, proj_size=st.one_of(st.integers(0, h - 1), st.integers(0, 7)))
        return Case(given, shape, _float(draw), {"input_size": shape[-1]})
    return strategy()


def _heads_and_width(draw, heads_hi: int, width_hi: int) -> tuple[int, int]:
    """A number of heads, and a width that it mostly divides."""
    heads = draw(st.integers(1, heads_hi))
    return heads, draw(st.one_of(st.integers(1, 3).map(lambda m: m * heads), st.integers(1, width_hi)))


@st.composite
def _attention(draw) -> Case:
    heads, e = _heads_and_width(draw, 4, 8)
    shape = _sizes(draw, _rank(draw, [2], [3]) - 1, 1, 5) + (e,)  # rank 1: stricter
    given = {"num_heads": heads}
    _put(given, "embed_dim", _inferred(draw, e))
    given |= _args(draw, dropout=_numbers(0, 1), bias=st.booleans(), add_bias_kv=st.booleans(),
                   add_zero_attn=st.booleans())
    return Case(given, shape, _float(draw), {"embed_dim": e})


def _encoder(stack: bool) -> st.SearchStrategy:
    @st.composite
    def strategy(draw) -> Case:
        heads, e = _heads_and_width(draw, 3, 6)
        shape = _sizes(draw, _rank(draw, [2], [3]) - 1, 1, 4) + (e,)  # rank 1: stricter
        given = {"nhead": heads}
        _put(given, "d_model", _inferred(draw, e))
        if stack:
            given["num_layers"] = draw(st.integers(1, 3))
        given |= _args(draw, dim_feedforward=st.integers(1, 12), dropout=_numbers(0, 1),
                       activation=st.sampled_from(["relu", "gelu"]), layer_norm_eps=_numbers(above=0),
                       norm_first=st.booleans(), bias=st.booleans())
        return Case(given, shape, _float(draw), {"d_model": e})
    return strategy()


def _table() -> dict[str, tuple[st.SearchStrategy, int]]:
    """Each registry entry's strategy and example count (conv and pool families: 200)."""
    table: dict[str, tuple[st.SearchStrategy, int]] = {
        "Linear": (_linear(False), 60), "LazyLinear": (_linear(True), 40), "Bilinear": (_bilinear(), 60),
        "Embedding": (_embedding(), 60), "LayerNorm": (_trailing_norm("LayerNorm"), 60),
        "RMSNorm": (_trailing_norm("RMSNorm"), 60), "GroupNorm": (_group_norm(), 60),
        "LocalResponseNorm": (_local_response_norm(), 40), "PReLU": (_prelu(), 40), "GLU": (_glu(), 60),
        "Softmax2d": (_generic("Softmax2d", [3], [1, 4]), 30), "Flatten": (_flatten(), 60),
        "Unflatten": (_unflatten(), 60), "Chunk": (_chunk(), 60), "Split": (_split(), 60),
        "Permute": (_permute(), 60), "Select": (_select(), 60), "ClassToken": (_class_token(), 30),
        "PositionEmbedding": (_position_embedding(), 30), "LayerScale": (_layer_scale(), 40),
        "StochasticDepth": (_generic("StochasticDepth"), 20), "Identity": (_generic("Identity", dtype=_any_dtype), 30),
        "Upsample": (_upsample(), 150), "PixelShuffle": (_pixel(True), 60), "PixelUnshuffle": (_pixel(False), 60),
        "Dropout1d": (_generic("Dropout1d", [1, 2], [3]), 30), "Dropout2d": (_generic("Dropout2d", [3]), 30),
        "Dropout3d": (_generic("Dropout3d", [4]), 30),
        "FeatureAlphaDropout": (_generic("FeatureAlphaDropout", [2, 3, 4]), 30),
        "RNN": (_recurrent("RNN"), 60), "LSTM": (_recurrent("LSTM"), 60), "GRU": (_recurrent("GRU"), 60),
        "MultiheadAttention": (_attention(), 60), "TransformerEncoderLayer": (_encoder(False), 40),
        "TransformerEncoder": (_encoder(True), 40),
    }
    for d in (1, 2, 3):
        table[f"Conv{d}d"] = (_conv(d, False), 200)
        table[f"ConvTranspose{d}d"] = (_conv(d, True), 200)
        for kind in ("Max", "Avg", "AdaptiveAvg", "AdaptiveMax", "LP"):
            table[f"{kind}Pool{d}d"] = (_pool(d, kind), 200)
        table[f"BatchNorm{d}d"] = (_channel_norm(d, "Batch"), 60)
        table[f"InstanceNorm{d}d"] = (_channel_norm(d, "Instance"), 60)
        for kind, mode in (("Zero", "constant"), ("Constant", "constant"), ("Reflection", "reflect"),
                           ("Replication", "replicate"), ("Circular", "circular")):
            table[f"{kind}Pad{d}d"] = (_pad(f"{kind}Pad{d}d", d, mode), 60)
    for name in ("Softmax", "LogSoftmax", "Softmin"):
        table[name] = (_softmax(), 40)
    for name in ("ReLU", "ReLU6", "LeakyReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
                 "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Softsign", "Softshrink", "Hardshrink",
                 "Tanhshrink", "Threshold", "LogSigmoid", "Dropout", "AlphaDropout"):
        table[name] = (_generic(name), 30)
    return table


STRATEGIES = _table()


class _Steps(nn.Module):
    """torch's RNN, LSTM or GRU with batch_first, giving its output sequence or that sequence's last step."""

    def __init__(self, cls, output: str = "sequence", **kwargs):
        super().__init__()
        self.rnn, self.output = cls(batch_first=True, **kwargs), output

    def forward(self, x):
        y = self.rnn(x)[0]
        return y[:, -1] if self.output == "last" else y


class _SelfAttention(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.mha = nn.MultiheadAttention(batch_first=True, **kwargs)

    def forward(self, x):
        return self.mha(x, x, x)[0]


def _encoder_stack(num_layers: int, **kwargs) -> nn.Module:
    layer = nn.TransformerEncoderLayer(batch_first=True, **kwargs)
    return nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)


class _Method(nn.Module):
    """A tensor method with fixed arguments: x.permute(0, 2, 1), x.select(1, 0)."""

    def __init__(self, name: str, *args):
        super().__init__()
        self.name, self.args = name, args

    def forward(self, x):
        return getattr(x, self.name)(*self.args)


class _Part(nn.Module):
    """One part of torch.chunk or torch.split, as a spec's entry with `index` takes it."""

    def __init__(self, how: str, size, dim: int = 1, index: int = 0):
        super().__init__()
        self.how, self.size, self.dim, self.index = how, size, dim, index

    def forward(self, x):
        return getattr(torch, self.how)(x, self.size, self.dim)[self.index]


class _Learned(nn.Module):
    """The learned-tensor layers in torch's own terms, with their tensors' shapes as torchvision gives them."""

    def __init__(self, kind: str, shape, **args):
        super().__init__()
        self.kind, self.args = kind, args
        self.weight = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        if self.kind == "ClassToken":
            return torch.cat([self.weight.expand(x.shape[0], -1, -1), x], dim=1)
        if self.kind == "PositionEmbedding":
            return x + self.weight
        return x * self.weight


# What a spec's sequence layer means in torch's own terms (netspec builds them batch_first, one tensor in
# and out); every other entry is the torch.nn class of its name.
REFERENCE = {
    "RNN": lambda **kw: _Steps(nn.RNN, **kw), "LSTM": lambda **kw: _Steps(nn.LSTM, **kw),
    "GRU": lambda **kw: _Steps(nn.GRU, **kw), "MultiheadAttention": _SelfAttention,
    "TransformerEncoderLayer": lambda **kw: nn.TransformerEncoderLayer(batch_first=True, **kw),
    "TransformerEncoder": _encoder_stack,
    "Chunk": lambda chunks, dim, index: _Part("chunk", chunks, dim, index),
    "Permute": lambda dims: _Method("permute", *dims), "Select": lambda dim, index: _Method("select", dim, index),
    "ClassToken": lambda embed_dim: _Learned("ClassToken", (1, 1, embed_dim)),
    "PositionEmbedding": lambda num_positions, embed_dim: _Learned("PositionEmbedding", (1, num_positions, embed_dim)),
    "StochasticDepth": lambda p, mode: __import__("torchvision").ops.StochasticDepth(p, mode),
    # torchvision's layer scale has the input's trailing ones in its shape: (C, 1, 1) for (N, C, H, W)
    "LayerScale": lambda num_features, dim, init_values, rank: _Learned(
        "LayerScale", (num_features,) + (1,) * (rank - 1 - dim % rank)),
    "Split": lambda split_size_or_sections, dim, index: _Part("split", split_size_or_sections, dim, index),
}
MAC_LAYERS = {"Linear", "LazyLinear"} | {f"{k}{d}d" for k in ("Conv", "ConvTranspose") for d in (1, 2, 3)} | \
    set(REFERENCE)
# Known bugs outside the shape rules, reported: remove an entry when the assertion under it fails.


# The oracle. ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What torch did with a batch of the case's input."""

    shape: tuple[int, ...] = ()
    dtype: str = ""
    params: int = 0
    flops: int = 0
    error: Exception | None = None


def _run(module: nn.Module, case: Case, n_inputs: int = 1, counted: bool = False) -> Outcome:
    """Run module in eval mode on a batch of zeros (token id 0 for integer input).

    counted: with gradients on, without oneDNN and with math attention, so that FlopCounterMode sees every
    matrix multiply (the no-grad paths of RNNs and attention are fused kernels it does not count).
    """
    module.eval()
    if case.dtype == "float64":
        module.double()
    x = torch.zeros((BATCH,) + case.shape, dtype=getattr(torch, case.dtype))
    with ExitStack() as context:
        context.enter_context(torch.enable_grad() if counted else torch.no_grad())
        if counted:
            context.enter_context(torch.backends.mkldnn.flags(enabled=False))
            context.enter_context(sdpa_kernel(SDPBackend.MATH))
        context.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        counter = context.enter_context(FlopCounterMode(display=False))
        y = module(*[x] * n_inputs)
    params = sum(p.numel() for p in module.parameters())
    return Outcome(tuple(y.shape), str(y.dtype).removeprefix("torch."), params, counter.get_total_flops())


def torch_outcome(name: str, case: Case, empty_is_error: bool = True) -> Outcome:
    """torch's verdict: the layer built from the spec's arguments, run with as many inputs as it takes."""
    lt = layers()[name]
    kwargs = {n: v for n, v in lt.defaults().items() if not lt.args[n].inferred} | case.truth | case.given
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build = REFERENCE.get(name) or getattr(nn, name)
            if name == "LayerScale":
                kwargs["rank"] = len(case.shape) + 1
            outcome = _run(build(**kwargs), case, lt.inputs[1], counted=name in REFERENCE)
    except Exception as e:  # any refusal, at construction or in forward, is torch's "invalid"
        return Outcome(error=e)
    if empty_is_error and 0 in outcome.shape:  # netspec refuses these on purpose: see STRICTER
        return Outcome(error=ValueError(f"torch returns an empty output {outcome.shape}"))
    return outcome


def _document(draw, name: str, case: Case) -> dict:
    """The spec: the entry in one of its forms, the input as a list or with its dtype."""
    lt = layers()[name]
    forms = [{name: dict(case.given)}]
    if not case.given:
        forms += [name, {name: None}]
    if lt.main and list(case.given) == [lt.main]:
        forms.append({name: case.given[lt.main]})
    document = spec([draw(st.sampled_from(forms))], case.shape)
    if case.dtype != "float32" or draw(st.booleans()):
        document["model"]["input"] = {"shape": list(case.shape), "dtype": case.dtype}
    return document


def assert_agrees(name: str, case: Case, document: dict) -> None:
    report = netspec.check(document)
    oracle = torch_outcome(name, case)
    verdict = "valid" if report.valid else "; ".join(p.message for p in report.errors)
    note(f"spec: {document}\nchecker: {verdict}\ntorch: {oracle.error!r}")
    assert report.valid == (oracle.error is None), (
        f"{name}{case.given} on {case.shape} {case.dtype}: checker says {verdict!r}, torch says {oracle.error!r}")
    if not report.valid:
        return
    info = report.layers[0]
    assert (BATCH,) + info.output.shape == oracle.shape, "output shape"
    assert info.output.dtype == oracle.dtype, "output dtype"
    assert report.total_params == oracle.params, "parameters"
    if name in MAC_LAYERS:
        assert 2 * info.macs * BATCH == oracle.flops, "MACs"
    model = netspec.build(report)
    assert sum(p.numel() for p in model.parameters()) == report.total_params, "parameters of netspec.build"
    built = _run(model, case)
    assert (built.shape, built.dtype) == (oracle.shape, oracle.dtype), "output of netspec.build"


# Layers of one input; the merges (several inputs, wired with `from`) are checked in tests/test_graph.py,
# torchvision's models (measured by torch itself on the meta device) in tests/test_vision.py.
ONE_INPUT = sorted(name for name, lt in layers().items() if lt.inputs[0] == 1 and not name.startswith("torchvision."))


@pytest.mark.parametrize("name", ONE_INPUT)
def test_checker_agrees_with_torch(name: str):
    assert name in STRATEGIES, f"registry entry {name} has no strategy in tests/test_oracle.py; add one"
    strategy, count = STRATEGIES[name]

    @settings(max_examples=examples(count))
    @given(data=st.data())
    def agrees(data):
        case = data.draw(strategy, label="case")
        assert_agrees(name, case, _document(data.draw, name, case))
    agrees()


def test_every_strategy_names_a_registry_entry():
    assert set(STRATEGIES) == set(ONE_INPUT)


# Where netspec is stricter than torch on purpose: the checker refuses, torch (batch 2) runs it.
# Each is documented in the layer's `stricter` note, or (integer input) by its accepts_int.
STRICTER = [
    # the batch moved, or picked from
    ("Permute", Case({"dims": [1, 0, 2]}, (3, 4))),
    ("Select", Case({"dim": 0, "index": 0}, (3, 4))),
    # torch.chunk makes fewer parts, or a smaller last one, when the size is no multiple of chunks
    ("Chunk", Case({"chunks": 2, "dim": 1, "index": 0}, (5, 3))),
    ("Chunk", Case({"chunks": 4, "dim": -1, "index": 2}, (3, 6))),
    # a sample one dimension short, which torch reads as one unbatched sample (C = the batch)
    ("Conv2d", Case({"in_channels": 2, "out_channels": 3, "kernel_size": 1}, (4, 4))),
    ("ConvTranspose1d", Case({"in_channels": 2, "out_channels": 3, "kernel_size": 2}, (4,))),
    ("MaxPool2d", Case({"kernel_size": 2}, (4, 4))),
    ("AvgPool3d", Case({"kernel_size": 1}, (3, 3, 3))),
    ("LPPool1d", Case({"norm_type": 2, "kernel_size": 2}, (4,))),
    ("AdaptiveMaxPool1d", Case({"output_size": 2}, (4,))),
    ("AdaptiveAvgPool2d", Case({"output_size": 1}, (3, 4, 4, 4))),  # a mean over any leading dimensions
    ("InstanceNorm1d", Case({"num_features": 2}, (5,))),
    ("Softmax2d", Case({}, (3, 4))),
    ("PixelUnshuffle", Case({"downscale_factor": 2}, (4, 6))),
    ("Dropout2d", Case({}, (3, 4))),
    ("Dropout3d", Case({}, (3, 4, 4, 4, 4))),
    ("FeatureAlphaDropout", Case({}, (3,))),
    ("ZeroPad2d", Case({"padding": 1}, (5,))),  # torch pads the batch dimension
    ("ConstantPad3d", Case({"padding": 1, "value": 0.5}, (3, 3))),
    # the batch dimension N merged, split, halved or normalized over
    ("Flatten", Case({"start_dim": 0}, (3, 4))),
    ("Unflatten", Case({"dim": 0, "unflattened_size": [1, -1]}, (3,))),
    ("GLU", Case({"dim": 0}, (4,))),
    ("LayerNorm", Case({"normalized_shape": [2, 3]}, (3,))),
    ("RMSNorm", Case({"normalized_shape": [2, 3]}, (3,))),
    # a given num_features that torch, without weights or running statistics, only warns about
    ("BatchNorm2d", Case({"num_features": 4, "affine": False, "track_running_stats": False}, (3, 2, 2))),
    ("InstanceNorm2d", Case({"num_features": 4}, (3, 2, 2))),
    ("GroupNorm", Case({"num_groups": 1, "num_channels": 5, "affine": False}, (3, 4))),
    # one value per channel: torch fails in training, and in eval mode without running statistics
    ("InstanceNorm2d", Case({"track_running_stats": True}, (3, 1, 1), truth={"num_features": 3})),
    # an empty output, which torch returns
    ("ConvTranspose1d", Case({"out_channels": 1, "kernel_size": 8, "padding": 4}, (1, 1), truth={"in_channels": 1})),
    # a sequence without its batch: torch reads (N, features) as one unbatched sequence of N steps
    ("LSTM", Case({"hidden_size": 3}, (4,), truth={"input_size": 4})),
    ("MultiheadAttention", Case({"num_heads": 2}, (4,), truth={"embed_dim": 4})),
    ("TransformerEncoder", Case({"nhead": 1, "num_layers": 1, "dim_feedforward": 4}, (4,), truth={"d_model": 4})),
    # integer input for a layer made for floats
    ("ReLU", Case({}, (3,), "int64")),
    ("MaxPool1d", Case({"kernel_size": 2}, (3, 4), "int64")),
    ("Dropout", Case({}, (3,), "int32")),
]


@pytest.mark.parametrize("name, case", STRICTER, ids=[f"{n}-{i}" for i, (n, _) in enumerate(STRICTER)])
def test_stricter_than_torch(name: str, case: Case):
    document = spec([{name: case.given}], case.shape)
    document["model"]["input"] = {"shape": list(case.shape), "dtype": case.dtype}
    report = netspec.check(document)
    oracle = torch_outcome(name, case, empty_is_error=False)
    assert oracle.error is None, f"torch refuses this too, so it is no stricter case: {oracle.error!r}"
    assert not report.valid, "netspec should refuse this"
    lt = layers()[name]
    if case.dtype.startswith("int"):
        assert not lt.accepts_int and "floating-point" in report.errors[0].message
    else:
        assert lt.stricter, f"{name} refuses more than torch; say so in its `stricter` note"
    assert report.errors[0].hints, "a refusal torch would not make needs a hint on what to do instead"


SEQUENCE_CASES = [
    ("LSTM", {"hidden_size": 5, "num_layers": 2, "bidirectional": True, "proj_size": 3, "output": "last"}),
    ("LSTM", {"hidden_size": 4}),
    ("GRU", {"hidden_size": 4, "bidirectional": True}),
    ("RNN", {"hidden_size": 4, "nonlinearity": "relu", "output": "last"}),
    ("MultiheadAttention", {"num_heads": 2, "add_bias_kv": True}),
    ("MultiheadAttention", {"num_heads": 3, "bias": False, "add_zero_attn": True}),
    ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 8, "activation": "gelu", "norm_first": True}),
    ("TransformerEncoder", {"nhead": 3, "num_layers": 2, "dim_feedforward": 8, "bias": False}),
]


@pytest.mark.parametrize("name, given", SEQUENCE_CASES, ids=[n for n, _ in SEQUENCE_CASES])
def test_sequence_layers_compute_what_torch_does(name: str, given: dict):
    """netspec's module for a sequence layer holds torch's own state-dict keys and gives torch's output."""
    torch.manual_seed(0)
    report = netspec.check(spec([{name: given}], (7, 6)))
    model = netspec.build(report).eval()
    layer = model.get_submodule(report.layers[0].name)
    truth = {n: v for n, v in report.layers[0].args.items() if n in ("input_size", "embed_dim", "d_model")}
    lt = layers()[name]
    defaults = {n: a.default for n, a in lt.args.items() if not a.inferred and a.default is not REQUIRED}
    reference = REFERENCE[name](**defaults | truth | given).eval()
    own = getattr(reference, "rnn", None) or getattr(reference, "mha", None) or reference
    assert list(layer.state_dict()) == list(own.state_dict())
    own.load_state_dict(layer.state_dict())
    x = torch.randn(BATCH, 7, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
