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
