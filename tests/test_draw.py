"""netspec draw: a box for every entry, in the spec's order, none overlapping; an arrow for every input
an entry takes (skip connections as arcs, each lane free of crossings); block uses as groups or, folded,
one box each; SVG with the words as text, and PNG from the same drawing."""
import glob
from pathlib import Path

import pytest
from PIL import Image

import netspec
from netspec.draw import BOX_H, draw, layout
from tests.helpers import ROOT, run_cli

SPECS = sorted(glob.glob(str(ROOT / "specs" / "*.yaml")) + glob.glob(str(ROOT / "tests" / "specs" / "valid" / "*.yaml")))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: Path(p).name)
def test_every_entry_and_every_input_is_drawn_and_no_boxes_overlap(path, tmp_path):
    report = netspec.check(path)
    assert report.valid
    out = tmp_path / "net.svg"
    lay = draw(report, str(out))
    assert len(lay.boxes) == len(report.layers) + 1  # and the input
    tops = [b.y for b in lay.boxes]
    assert all(b - a >= BOX_H for a, b in zip(tops, tops[1:]))  # each below the one before, not overlapping
    wanted = {(j + 1, i + 1) for i, info in enumerate(report.layers) for j in info.node.inputs}
    assert {(a, b) for a, b, _lane in lay.edges} == wanted
    by_lane: dict[int, list[tuple[int, int]]] = {}
    for a, b, lane in lay.edges:
        assert lane == 0 if b == a + 1 else lane > 0
        if lane:
            assert all(b <= lo or a >= hi for lo, hi in by_lane.get(lane, [])), "two arcs share a lane"
            by_lane.setdefault(lane, []).append((a, b))
    svg = out.read_text()
    for info in report.layers:
        assert f"{info.name}: {info.type}" in svg


def test_depth_0_folds_each_block_use_into_one_box(tmp_path):
    report = netspec.check(str(ROOT / "specs" / "resnet_cifar.yaml"))
    lay = layout(report, depth=0)
    labels = [b.label for b in lay.boxes]
    assert "basic_1  (block basic)" in labels and "down_1  (block down)" in labels
    assert not any(label.startswith("basic_1.") for label in labels)
    assert sum(len(b.members) for b in lay.boxes) == len(report.layers)


def test_the_command_writes_svg_and_png_and_refuses_a_wrong_spec(tmp_path):
    for name in ("net.svg", "net.png"):
        code, said, err = run_cli("draw", str(ROOT / "specs" / "resnet_cifar.yaml"), "-o", str(tmp_path / name))
        assert code == 0 and err == "" and name in said
    with Image.open(tmp_path / "net.png") as img:
        assert img.format == "PNG" and img.height > img.width
    bad = tmp_path / "bad.yaml"
    bad.write_text("netspec: 1\nmodel:\n  input: [3, 8, 8]\n  layers:\n    - Conv2D: 3\n")
    code, _, err = run_cli("draw", str(bad), "-o", str(tmp_path / "bad.svg"))
    assert code == 1 and "unknown layer type `Conv2D`" in err and not (tmp_path / "bad.svg").exists()
