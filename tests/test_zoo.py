"""The model zoo written as specs (specs/zoo/), each equal to its original: parameter counts for every
scale, and identical outputs after copying the original's weights where the model is small enough here."""
import time

import pytest
import torch

import netspec
from tests.helpers import ROOT, run_cli

ZOO = ROOT / "specs" / "zoo"


def test_every_zoo_spec_checks_in_under_half_a_second():
    netspec.check(str(ROOT / "specs" / "cifar.yaml"))  # the registry and schema, made once per process
    for path in sorted(ZOO.glob("*.yaml")):
        start = time.perf_counter()
        report = netspec.check(str(path))
        took = time.perf_counter() - start
        assert report.valid and not report.warnings, (path.name, report.errors, report.warnings)
        assert took < 0.5, (path.name, took)


@pytest.mark.parametrize("scale", ["n", "s", "m", "l", "x"])
def test_yolov8_cls_has_ultralytics_parameter_count_at_every_scale(scale):
    from ultralytics.nn.tasks import ClassificationModel

    cfg = ROOT / "specs" / "zoo" / "yolov8-cls.yaml"
    report = netspec.check(str(cfg), overrides=[f"scale={scale}"])
    assert report.valid
    import ultralytics

    original = ClassificationModel(f"{ultralytics.__path__[0]}/cfg/models/v8/yolov8{scale}-cls.yaml", nc=1000,
                                   verbose=False)
    assert report.total_params == sum(p.numel() for p in original.parameters())
    if scale == "n":  # and the built module agrees, tensor by tensor in shape
        model = netspec.build(report)
        assert sum(p.numel() for p in model.parameters()) == report.total_params
        assert sorted(p.shape for p in model.parameters()) == sorted(p.shape for p in original.parameters())


def test_yolov8_cls_is_at_most_40_lines_and_the_cli_picks_a_scale():
    assert len((ZOO / "yolov8-cls.yaml").read_text().splitlines()) <= 40
    code, out, err = run_cli("check", str(ZOO / "yolov8-cls.yaml"), "--scale", "s")
    assert code == 0 and "6,361,736" in out


def copy_in_order(model: torch.nn.Module, original: torch.nn.Module, key_map=None) -> None:
    """Copy the original's state tensor by tensor in order (or by key_map: our key -> theirs), checking
    that each pair has the same shape (ConvNeXt's layer scale: (C,) here, (C, 1, 1) in torchvision)."""
    ours, theirs = model.state_dict(), original.state_dict()
    assert len(ours) == len(theirs)
    pairs = [(k, key_map[k]) for k in ours] if key_map else zip(ours, theirs)
    with torch.no_grad():
        for a, b in pairs:
            same = ours[a].shape == theirs[b].shape
            assert same or (b.endswith("layer_scale") and ours[a].shape == theirs[b].shape[:1]), (a, b)
            ours[a].copy_(theirs[b].reshape(ours[a].shape))


def _same_outputs(name: str, size: int, key_map=None, **kwargs) -> None:
    import torchvision

    torch.manual_seed(0)
    original = getattr(torchvision.models, name)(**kwargs).eval()
    report = netspec.check(str(ZOO / f"{name}.yaml"), overrides=[f"model.input=[3, {size}, {size}]"])
    assert report.valid, report.errors
    assert report.total_params == sum(p.numel() for p in original.parameters())
    model = netspec.build(report).eval()
    copy_in_order(model, original, key_map(model, original) if key_map else None)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.equal(model(x), original(x))


def test_resnet50_equals_torchvision():
    _same_outputs("resnet50", 224)


def test_mobilenet_v2_equals_torchvision():
    _same_outputs("mobilenet_v2", 224)


def _moved(theirs: list[str], key: str, after: str) -> list[str]:
    """Their keys with `key` moved to just after `after`."""
    keys = [k for k in theirs if k != key]
    keys.insert(keys.index(after) + 1, key)
    return keys


def _vit_key_map(model, original) -> dict:
    """torchvision registers the class token before the patch convolution; the spec has it after."""
    theirs = _moved(list(original.state_dict()), "class_token", "conv_proj.bias")
    return dict(zip(model.state_dict(), theirs))


def test_vit_b_16_equals_torchvision():
    _same_outputs("vit_b_16", 224, _vit_key_map)


def test_efficientnet_b0_equals_torchvision():
    _same_outputs("efficientnet_b0", 224)


def _convnext_key_map(model, original) -> dict:
    """torchvision registers each block's layer scale before the block's layers; the spec has it after."""
    theirs = list(original.state_dict())
    for key in [k for k in theirs if k.endswith(".layer_scale")]:
        theirs = _moved(theirs, key, key.replace("layer_scale", "block.5.bias"))
    return dict(zip(model.state_dict(), theirs))


def test_convnext_tiny_equals_torchvision():
    _same_outputs("convnext_tiny", 224, _convnext_key_map)


def test_stochastic_depth_drops_as_torchvision_does():
    from torchvision.ops import StochasticDepth

    report = netspec.check({"netspec": 1, "model": {"input": [4, 3, 3], "layers": [{"StochasticDepth": 0.5}]}})
    model = netspec.build(report).train()
    x = torch.randn(64, 4, 3, 3)
    torch.manual_seed(1)
    ours = model(x)
    torch.manual_seed(1)
    assert torch.equal(ours, StochasticDepth(0.5, "row").train()(x))
    assert torch.equal(model.eval()(x), x)


@pytest.mark.parametrize("name,size", [("yolov8-cls", 64), ("vit_b_16", 32), ("convnext_tiny", 64),
                                       ("efficientnet_b0", 64)])
def test_zoo_specs_export_as_python_that_computes_the_same(name, size, tmp_path):
    """The Python export of the new layers (Chunk's parts, Permute, ClassToken, LayerScale, ...) is code
    that runs and agrees with the built model, its state_dict keys the same."""
    out = tmp_path / "model.py"
    overrides = ["--set", f"model.input=[3, {size}, {size}]"]
    if name == "vit_b_16":  # 2x2 patches of 16: four positions and the class token
        overrides += ["--set", "model.layers[0].Conv2d.kernel_size=16"]
    code, _out, err = run_cli("export", str(ZOO / f"{name}.yaml"), "--format", "python", "-o", str(out), *overrides)
    assert code == 0, err
    namespace: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    report = netspec.check(str(ZOO / f"{name}.yaml"), overrides=[o for o in overrides if o != "--set"])
    model = netspec.build(report).eval()
    from netspec.pysource import class_name

    cls = namespace[class_name(report.doc.data["name"])]
    exported = cls().eval()
    assert list(exported.state_dict()) == list(model.state_dict())
    exported.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.equal(exported(x), model(x))


SMALL = """netspec: 1
name: every-new-layer
model:
  input: [3, 16, 16]
  layers:
    - Conv2d: {out_channels: 8, kernel_size: 4, stride: 4}
    - LayerScale: 0.5
    - StochasticDepth: 0.2
    - Chunk: 2
      name: y
    - Mul:
      from: [y.0, y.1]
    - Flatten: 2
    - Permute: [0, 2, 1]
    - ClassToken
    - PositionEmbedding
    - Split: {split_size_or_sections: [1, 16], dim: 1, index: 0}
    - Select: {dim: 1, index: 0}
    - Linear: 3
"""


@pytest.mark.parametrize("fmt", ["onnx", "pt2", "torchscript"])
def test_the_new_layers_export(fmt, tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    code, out, err = run_cli("export", str(spec), "--format", fmt, "-o", str(tmp_path / f"m.{fmt}"))
    assert code == 0 and "the largest difference" in out, err


def _ultralytics_cfg(name: str) -> str:
    import ultralytics

    return f"{ultralytics.__path__[0]}/cfg/models/{name}"


@pytest.mark.parametrize("cfg,scales", [("v8/yolov8-cls.yaml", "nsmlx"), ("v8/yolov8-cls-resnet50.yaml", "n"),
                                        ("v8/yolov8-cls-resnet101.yaml", "n")])
def test_netspec_import_writes_ultralytics_models_with_their_parameter_counts(cfg, scales, tmp_path):
    from ultralytics.nn.tasks import ClassificationModel

    out = tmp_path / "imported.yaml"
    code, said, err = run_cli("import", _ultralytics_cfg(cfg), "-o", str(out))
    assert code == 0 and said.strip().endswith(f"written to {out}"), err
    for scale in scales:
        report = netspec.check(str(out), overrides=[f"scale={scale}"])
        assert report.valid and not report.warnings, report.errors
        original = ClassificationModel(_ultralytics_cfg(cfg).replace("yolov8-", f"yolov8{scale}-"), nc=1000,
                                       verbose=False)
        assert report.total_params == sum(p.numel() for p in original.parameters()), (cfg, scale)
    assert len(out.read_text().splitlines()) < 80


@pytest.mark.parametrize("cfg,words", [
    ("11/yolo11-cls.yaml", "cannot write Ultralytics' C3k2 [256, False, 0.25] as a spec"),
])
def test_netspec_import_names_what_it_cannot_write(cfg, words, tmp_path):
    code, _out, err = run_cli("import", _ultralytics_cfg(cfg), "-o", str(tmp_path / "x.yaml"))
    assert code == 1 and words in err and "hint: C3k2 is C2f with C3k blocks" in err
    assert not (tmp_path / "x.yaml").exists()
    code, _out, err = run_cli("import", str(ROOT / "specs" / "cifar.yaml"))
    assert code == 1 and "this is not an Ultralytics model YAML" in err


def test_an_attention_module_is_named_with_what_the_language_lacks(tmp_path):
    f = tmp_path / "psa.yaml"
    f.write_text("nc: 10\nbackbone:\n  - [-1, 1, Conv, [64, 3, 2]]\n  - [-1, 1, C2PSA, [64]]\n"
                 "head:\n  - [-1, 1, Classify, [nc]]\n")
    code, _out, err = run_cli("import", str(f))
    assert code == 1 and f"{f}:4:13: error: netspec import cannot write Ultralytics' C2PSA [64]" in err
    assert "netspec has no layer for a product of two computed tensors" in err
