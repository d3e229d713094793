"""Every layer's MACs against torch's own count: each registry entry in a small spec, built by netspec
and run on a batch under torch.utils.flop_counter.FlopCounterMode.

Conventions, where netspec's count and FlopCounterMode's are said differently:

- netspec counts multiply-accumulates per sample; FlopCounterMode counts flops of the whole batch, a
  multiply-accumulate being two (a multiply and an add): flops == 2 * BATCH * MACs.
- FlopCounterMode counts matrix products and convolutions (mm, addmm, bmm, baddbmm, convolution,
  attention kernels) and nothing else: no element-wise op, bias, pool, norm or copy. A layer netspec
  counts as 0 must be one in which torch counts no op at all.
- torch has no count for aten._trilinear, what Bilinear runs: it is given here as FlopCounterMode counts
  mm, one multiply-accumulate per point of the product's index space ((M, K) x (K, N): M*K*N).
- Fused CPU kernels (the no-grad paths of RNNs and attention, oneDNN) hide their products from the
  counter, so the forward pass runs with gradients, without oneDNN and with math attention.
"""
from __future__ import annotations

import warnings
from math import prod

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.layers import vision, visionprobe
from netspec.registry import layers
from tests.helpers import spec

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")]

BATCH = 3
aten = torch.ops.aten


def _trilinear_flops(i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim=1, out_shape=None) -> int:
    """Each operand with its expanded dimensions put back as 1, so that all three index the same space."""
    spaces = []
    for shape, expand in ((i1, expand1), (i2, expand2), (i3, expand3)):
        shape = list(shape)
        for d in sorted(expand):
            shape.insert(d, 1)
        spaces.append(shape)
    return 2 * prod(max(sizes) for sizes in zip(*spaces))


def torch_count(model: torch.nn.Module, x: torch.Tensor) -> FlopCounterMode:
    counter = FlopCounterMode(display=False, custom_mapping={aten._trilinear: _trilinear_flops})
    with torch.enable_grad(), torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH), \
            warnings.catch_warnings(), counter:
        warnings.simplefilter("ignore")
        model.eval()(x)
    return counter


def _input(shape, dtype: str = "float32") -> torch.Tensor:
    if dtype == "int64":
        return torch.randint(0, 10, (BATCH, *shape))
    return torch.randn(BATCH, *shape)


def _pads():
    for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular"):
        for d, shape in ((1, (2, 5)), (2, (2, 4, 4)), (3, (2, 3, 3, 3))):
            given = {"padding": 1, "value": 0.5} if kind == "Constant" else {"padding": 1}
            yield f"{kind}Pad{d}d", [{f"{kind}Pad{d}d": given}], shape


def _pools():
    for d, shape in ((1, (2, 8)), (2, (2, 6, 6)), (3, (2, 4, 4, 4))):
        yield f"MaxPool{d}d", [{f"MaxPool{d}d": {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1}}], shape
        yield f"AvgPool{d}d", [{f"AvgPool{d}d": {"kernel_size": 2, "padding": 1, "ceil_mode": True}}], shape
        yield f"AdaptiveAvgPool{d}d", [{f"AdaptiveAvgPool{d}d": 3}], shape
        yield f"AdaptiveMaxPool{d}d", [{f"AdaptiveMaxPool{d}d": 2}], shape
        yield f"LPPool{d}d", [{f"LPPool{d}d": {"norm_type": 2, "kernel_size": 2}}], shape


_SAME_SHAPE = ["ReLU", "ReLU6", "LeakyReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
               "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Softsign", "Softshrink", "Hardshrink",
               "Tanhshrink", "LogSigmoid", "Softmax", "LogSoftmax", "Softmin", "Identity", "Dropout", "AlphaDropout"]

# (the entry under test, the spec's layers, one sample's shape[, its dtype]): every other entry in a case
# is one that has a case of its own. A sequence layer's sample is (L, features), L > 1; Linear and
# Bilinear get leading dimensions besides the batch.
CASES = [
    ("Linear", [{"Linear": 6}], (3, 4, 5)),
    ("LazyLinear", [{"LazyLinear": {"out_features": 6, "bias": False}}], (4, 5)),
    ("Bilinear", [{"Bilinear": 7}], (3, 4, 5)),
    ("Bilinear", [{"Split": {"split_size_or_sections": [2, 4], "dim": -1, "index": 0}, "name": "a"},
                  {"Split": {"split_size_or_sections": [2, 4], "dim": -1, "index": 1}, "from": "input", "name": "b"},
                  {"Bilinear": {"out_features": 3, "bias": False}, "from": ["a", "b"]}], (2, 4, 6)),
    ("Embedding", [{"Embedding": {"num_embeddings": 10, "embedding_dim": 4}}], (6,), "int64"),
    ("Conv1d", [{"Conv1d": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "groups": 2}}], (2, 9)),
    ("Conv2d", [{"Conv2d": {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1], "padding": 1, "groups": 3,
                            "bias": False}}], (3, 7, 6)),
    ("Conv2d", [{"Conv2d": {"out_channels": 4, "kernel_size": 3, "dilation": 2, "padding": "same"}}], (2, 6, 6)),
    ("Conv3d", [{"Conv3d": {"out_channels": 2, "kernel_size": 2, "padding": "valid"}}], (2, 3, 4, 5)),
    ("ConvTranspose1d", [{"ConvTranspose1d": {"out_channels": 3, "kernel_size": 3, "stride": 2}}], (2, 5)),
    ("ConvTranspose2d", [{"ConvTranspose2d": {"out_channels": 4, "kernel_size": [2, 3], "stride": 2, "padding": 1,
                                              "output_padding": 1, "groups": 2}}], (2, 4, 5)),
    ("ConvTranspose3d", [{"ConvTranspose3d": {"out_channels": 2, "kernel_size": 2, "dilation": 2}}], (2, 3, 3, 3)),
    *_pools(),
    ("BatchNorm1d", ["BatchNorm1d"], (4, 5)),
    ("BatchNorm2d", ["BatchNorm2d"], (3, 4, 4)),
    ("BatchNorm3d", ["BatchNorm3d"], (2, 3, 3, 3)),
    ("InstanceNorm1d", [{"InstanceNorm1d": {"affine": True}}], (3, 5)),
    ("InstanceNorm2d", ["InstanceNorm2d"], (3, 4, 4)),
    ("InstanceNorm3d", ["InstanceNorm3d"], (2, 3, 3, 3)),
    ("LayerNorm", ["LayerNorm"], (4, 6)),
    ("RMSNorm", [{"RMSNorm": [4, 6]}], (4, 6)),
    ("GroupNorm", [{"GroupNorm": 2}], (4, 3, 3)),
    ("LocalResponseNorm", [{"LocalResponseNorm": 2}], (4, 3, 3)),
    *[(name, [name], (4, 6)) for name in _SAME_SHAPE],
    ("PReLU", [{"PReLU": 4}], (4, 6)),
    ("Threshold", [{"Threshold": {"threshold": 0.1, "value": 0.0}}], (4, 6)),
    ("GLU", ["GLU"], (4, 6)),
    ("Softmax2d", ["Softmax2d"], (3, 4, 4)),
    ("Flatten", ["Flatten"], (2, 3, 4)),
    ("Unflatten", [{"Unflatten": {"dim": 1, "unflattened_size": [2, 3]}}], (6,)),
    ("Upsample", [{"Upsample": {"scale_factor": 2, "mode": "bilinear"}}], (2, 3, 3)),
    ("PixelShuffle", [{"PixelShuffle": 2}], (8, 3, 3)),
    ("PixelUnshuffle", [{"PixelUnshuffle": 2}], (2, 4, 4)),
    ("Dropout1d", ["Dropout1d"], (3, 5)),
    ("Dropout2d", ["Dropout2d"], (3, 4, 4)),
    ("Dropout3d", ["Dropout3d"], (2, 3, 3, 3)),
    ("FeatureAlphaDropout", ["FeatureAlphaDropout"], (3, 5)),
    *_pads(),
    ("Permute", [{"Permute": [0, 2, 1]}], (3, 4)),
    ("Select", [{"Select": {"dim": 1, "index": 0}}], (3, 4)),
    ("ClassToken", ["ClassToken"], (3, 4)),
    ("PositionEmbedding", ["PositionEmbedding"], (3, 4)),
    ("LayerScale", [{"LayerScale": 0.1}], (4, 3, 3)),
    ("StochasticDepth", [{"StochasticDepth": 0.2}], (4,)),
    ("Add", [{"ReLU": None, "name": "a"}, {"Add": None, "from": ["a", "input"]}], (4, 3)),
    ("Mul", [{"ReLU": None, "name": "a"}, {"Mul": None, "from": ["a", "input"]}], (4, 3)),
    ("Concat", [{"ReLU": None, "name": "a"}, {"Concat": 1, "from": ["a", "input"]}], (4, 3)),
    ("Chunk", [{"Chunk": {"chunks": 2, "index": 1}}], (4, 3)),
    ("Split", [{"Split": {"split_size_or_sections": [1, 3], "index": 0}}], (4, 3)),
    ("RNN", [{"RNN": {"hidden_size": 5, "num_layers": 2, "bidirectional": True, "nonlinearity": "relu"}}], (6, 4)),
    ("LSTM", [{"LSTM": {"hidden_size": 5, "num_layers": 2, "proj_size": 3, "output": "last"}}], (6, 4)),
    ("GRU", [{"GRU": {"hidden_size": 4, "bidirectional": True, "bias": False}}], (6, 4)),
    ("MultiheadAttention", [{"MultiheadAttention": {"num_heads": 2, "add_bias_kv": True, "add_zero_attn": True}}],
     (5, 4)),
    ("TransformerEncoderLayer", [{"TransformerEncoderLayer": {"nhead": 2, "dim_feedforward": 8}}], (5, 4)),
    ("TransformerEncoder", [{"TransformerEncoder": {"nhead": 2, "num_layers": 2, "dim_feedforward": 8,
                                                    "norm_first": True}}], (5, 4)),
]

TORCHVISION = [("resnet18", {"num_classes": 7}, (3, 32, 32)),  # the shipped table, between its class counts
               ("mobilenet_v2", {}, (3, 32, 32)),  # the shipped table as it is
               ("resnet18", {"num_classes": 10}, (3, 40, 40))]  # not shipped: measured on the meta device


def _report(layer_list: list, shape: tuple, dtype: str = "float32"):
    document = spec(layer_list, {"shape": list(shape), "dtype": dtype})
    report = netspec.check(document)
    assert report.valid, [p.message for p in report.errors]
    return report


def test_every_layer_type_has_a_case():
    """torchvision's models share one rule, which TORCHVISION samples."""
    cased = {case[0] for case in CASES}
    own = {name for name in layers() if not name.startswith(vision.PREFIX)}
    assert cased == own, f"without a case: {sorted(own - cased)}; unknown: {sorted(cased - own)}"
    shared = vision._rule("any").__code__
    assert all(lt.rule.__code__ is shared for name, lt in layers().items() if name.startswith(vision.PREFIX))


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_macs_are_torchs_count(case):
    name, layer_list, shape, *dtype = case
    report = _report(layer_list, shape, *dtype)
    (under_test,) = [info for info in report.layers if info.type == name]
    assert report.total_macs == under_test.macs, "the other entries of a case count no MACs"
    counter = torch_count(netspec.build(report), _input(shape, *dtype))
    counted = counter.get_flop_counts().get("Global", {})
    assert counter.get_total_flops() == 2 * BATCH * under_test.macs, \
        f"netspec: {under_test.macs} MACs per sample; torch, for a batch of {BATCH}: {counted} flops"
    if under_test.macs == 0:
        assert not counted, "torch counted a product in a layer of 0 MACs"


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A shape cache of the test's own, so a measurement is made here and written nowhere else."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    visionprobe._cache.cache_clear()
    yield
    visionprobe._cache.cache_clear()


@pytest.mark.parametrize("model, given, shape", TORCHVISION, ids=[f"{m}-{s[1]}" for m, _, s in TORCHVISION])
def test_torchvision_macs_are_torchs_count(model, given, shape, own_cache):
    report = _report([{vision.PREFIX + model: given}], shape)
    counter = torch_count(netspec.build(report), _input(shape))
    assert counter.get_total_flops() == 2 * BATCH * report.total_macs
