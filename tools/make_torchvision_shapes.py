#!/usr/bin/env python3
"""Write netspec/layers/torchvision_shapes.json: the shapes, parameters and MACs of every torchvision
model netspec offers, for the common inputs and class counts, and each model's weights names with
their class counts, so that `netspec check` of a spec that uses one of them answers without
importing torch. It stops if a figure is not a + b * num_classes, the rule netspec uses for class
counts the table lacks. Run it again after upgrading torchvision.

usage: python tools/make_torchvision_shapes.py
"""
import json
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netspec.layers import visionprobe  # noqa: E402
from netspec.layers.vision import MODELS  # noqa: E402
from netspec.layers.visionprobe import _measure, cache_key  # noqa: E402

SHAPES = ([3, 224, 224], [3, 32, 32], [3, 64, 64], [3, 96, 96], [3, 128, 128], [3, 299, 299])
CLASSES = (None, 2, 10, 100)  # None: the default, 1000; visionprobe.SAMPLED_CLASSES


def takes(model: str, size: int) -> bool:
    return "error" not in _measure(model, {}, (3, size, size))


def input_sizes(model: str, table: dict) -> dict:
    """{"smallest": S}: the model takes every square input from SxS up (of the table's sizes, and S-1 it
    refuses), or {"exactly": E}: of the table's sizes it takes E alone (ViT, MaxViT); for the hints."""
    taken = [s[1] for s in SHAPES if "error" not in table[cache_key(model, {}, tuple(s))]]
    if any(s[1] not in taken and s[1] > min(taken) for s in SHAPES):
        (only,) = taken
        return {"exactly": only}
    low, high = 1, min(taken)  # high is taken; find the smallest size taken, the sizes below refused
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if takes(model, middle) else (middle + 1, high)
    assert low == 1 or not takes(model, low - 1)
    return {"smallest": low}


def weights_that_change(model: str, table: dict) -> list[str]:
    """The weights for which torchvision builds the model otherwise (GoogLeNet without its auxiliary
    heads, a ViT for the weights' image size): those are measured with their weights named."""
    changed = []
    for name in visionprobe.weights_of(model):
        for shape in ([3, 224, 224], [3, 299, 299], [3, 64, 64]):
            if _measure(model, {"weights": name}, tuple(shape)) != table[cache_key(model, {}, tuple(shape))]:
                changed.append(name)
                break
    return sorted(changed)


def main() -> None:
    table = {}
    for model in MODELS:
        for shape in SHAPES:
            for classes in CLASSES:
                kwargs = {} if classes is None else {"num_classes": classes}
                table[cache_key(model, kwargs, tuple(shape))] = _measure(model, kwargs, tuple(shape))
        print(model, flush=True)
    visionprobe._shipped = lambda: table  # the table as it will be shipped, for the rule's own check
    for model in MODELS:
        for shape in SHAPES:
            for classes in (1, 7):
                if visionprobe._any_classes(model, {"num_classes": classes}, tuple(shape)) is None:
                    sys.exit(f"{model} on {shape}: the figures are not a + b * num_classes")
    weights = {model: visionprobe.weights_of(model) for model in MODELS}
    sizes = {model: input_sizes(model, table) for model in MODELS}
    change = {model: weights_that_change(model, table) for model in MODELS}
    out = ROOT / "netspec" / "layers" / "torchvision_shapes.json"
    out.write_text(json.dumps({"torchvision": version("torchvision"), "shapes": table, "weights": weights,
                               "sizes": sizes, "weights_change": change}, sort_keys=True) + "\n")
    print(f"{len(table)} entries in {out}")


if __name__ == "__main__":
    main()
