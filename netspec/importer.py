"""`netspec import`: an Ultralytics classification model YAML (backbone and head lists of
[from, repeats, module, args], with `scales`) written as a netspec spec that builds the same network.

Each Ultralytics module becomes a block of the spec, its scaling (channels by `width`, capped by
`max_channels` and made divisible by 8; repeats by `depth`) done by netspec's own expressions, so the
one spec keeps all the scales of the original. Modules the language cannot express are named with
what is missing, never guessed at.
"""
from __future__ import annotations

from .errors import NetspecError, Problem
from .i18n import _
from .loader import Document, load

# The blocks each Ultralytics module needs, as spec text (the indentation of `blocks:`' children).
_CONV = """  conv:  # Ultralytics' Conv: convolution, batch norm, SiLU
    params: {c: null, k: 1, s: 1}
    layers: [{Conv2d: {out_channels: $c, kernel_size: $k, stride: $s, padding: $(k // 2), bias: false}},
             {BatchNorm2d: {eps: 0.001, momentum: 0.03}}, SiLU]
"""
_CONV_BN = """  conv_bn:  # Ultralytics' Conv with act=False: convolution and batch norm
    params: {c: null, k: 1, s: 1}
    layers: [{Conv2d: {out_channels: $c, kernel_size: $k, stride: $s, padding: $(k // 2), bias: false}},
             {BatchNorm2d: {eps: 0.001, momentum: 0.03}}]
"""
_SCALED = """  scaled_conv:  # a Conv of the model's list: its channels scaled by width, at most max_channels
    params: {c: null, k: 1, s: 1}
    layers: [{conv: {c: "$(make_divisible(min(c, max_channels) * width, 8))", k: $k, s: $s}}]
"""
_C2F = """  bottleneck{suffix}:
    params: {{c: null}}
    layers: [{{conv: {{c: $c, k: 3}}}}, {{conv: {{c: $c, k: 3}}}}{add}]
  c2f{suffix}:  # C2f: cut in two, n bottlenecks on the second half, all the parts joined
    params: {{c: null, n: 1, out: "$(make_divisible(min(c, max_channels) * width, 8))"}}
    layers:
      - conv: {{c: $out}}
      - {{Chunk: 2, name: y}}
      - {{bottleneck{suffix}: {{c: $(out // 2)}}, from: y.1, repeat: "$(max(round(n * depth), 1))", name: m}}
      - {{Concat: 1, from: [y.*, m.*]}}
      - conv: {{c: $out}}
"""
_RESNET = """  resnet_block:  # Ultralytics' ResNetBlock: 1x1, 3x3 (strided), 1x1 to e * c, added to a projection or the input
    params: {c: null, s: 1, e: 4}
    layers:
      - {Identity: null, name: x}
      - conv: {c: $c}
      - conv: {c: $c, k: 3, s: $s}
      - {conv_bn: {c: $(e * c)}, name: main}
      - {conv_bn: {c: $(e * c), s: $s}, from: x}
      - {Add: null, from: [main, -1]}
      - ReLU
  resnet_identity_block:  # a ResNetBlock whose input is added unchanged
    params: {c: null, e: 4}
    layers:
      - {Identity: null, name: x}
      - conv: {c: $c}
      - conv: {c: $c, k: 3}
      - conv_bn: {c: $(e * c)}
      - {Add: null, from: [x, -1]}
      - ReLU
"""
_BLOCKS = {"conv": _CONV, "conv_bn": _CONV_BN, "scaled_conv": _SCALED, "c2f": _C2F.format(
    suffix="", add=", {Add: null, from: [input, -1]}"), "c2f_plain": _C2F.format(suffix="_plain", add=""),
    "resnet": _RESNET}
_NEEDS = {"scaled_conv": ["conv"], "c2f": ["conv"], "c2f_plain": ["conv"], "resnet": ["conv", "conv_bn"]}

def _unsupported(module: str) -> list[str]:
    """Hints for an Ultralytics module netspec import does not write: what the language lacks, if anything."""
    attention = _("what netspec lacks: its attention multiplies two computed tensors (q @ k) and reshapes by the "
                  "batch size, and netspec has no layer for a product of two computed tensors")
    known = {"C2PSA": [attention], "PSA": [attention], "A2C2f": [attention],
             "C3k2": [_("C3k2 is C2f with C3k blocks: a spec can write it as blocks (see specs/zoo/yolov8-cls.yaml), "
                        "but netspec import does not map it yet")]}
    return known.get(module, [_("netspec import knows Conv, C2f, ResNetLayer and Classify; write the others by "
                                "hand as blocks (see specs/zoo/yolov8-cls.yaml)")])


def _fail(doc: Document, message: str, path: tuple, hints=()) -> NetspecError:
    return NetspecError(doc.place(Problem(message, path, tuple(hints))))


def convert(path: str, name: str | None = None) -> str:
    """The netspec spec (YAML text) of the Ultralytics classification model YAML at `path`."""
    import os

    doc = load(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("backbone"), list):
        raise _fail(doc, _("this is not an Ultralytics model YAML: it has no `backbone:` list"), ())
    nc = data.get("nc", 1000)
    scales = data.get("scales") or {"n": [1.0, 1.0, 1024]}
    entries = list(data["backbone"]) + list(data.get("head") or [])
    used: list[str] = []
    layers: list[str] = []
    for k, entry in enumerate(entries):
        section, index = ("backbone", k) if k < len(data["backbone"]) else ("head", k - len(data["backbone"]))
        where = (section, index)
        if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[3], list)):
            raise _fail(doc, _("an entry of {section} must be [from, repeats, module, args]", section=section),
                        where)
        source, repeats, module, args = entry
        args = [nc if a == "nc" else a for a in args]
        if source != -1:
            raise _fail(doc, _("netspec import takes models whose entries each take the one before (from -1); "
                               "this one takes {source}", source=source), where + (0,))
        if module == "Conv" and repeats == 1 and 1 <= len(args) <= 3:
            c, k_, s = (list(args) + [1, 1])[:3]
            layers.append(f"    - scaled_conv: {{c: {c}, k: {k_}, s: {s}}}")
            used.append("scaled_conv")
        elif module == "C2f" and 1 <= len(args) <= 2:
            shortcut = bool(args[1]) if len(args) > 1 else False
            block = "c2f" if shortcut else "c2f_plain"
            layers.append(f"    - {block}: {{c: {args[0]}, n: {repeats}}}")
            used.append(block)
        elif module == "Classify" and repeats == 1 and len(args) == 1:
            layers += ["    - conv: {c: 1280}  # Classify: conv, pool, dropout (p=0), linear", "    - AdaptiveAvgPool2d: 1",
                       "    - Flatten", "    - Dropout: 0.0", f"    - Linear: {args[0]}"]
            used.append("conv")
        elif module == "ResNetLayer" and repeats == 1 and len(args) in (4, 5):
            c1, c2, s, first, n = (list(args) + [1])[:5]
            if first:
                layers += [f"    - conv: {{c: {c2}, k: 7, s: 2}}  # ResNetLayer's stem",
                           "    - MaxPool2d: {kernel_size: 3, stride: 2, padding: 1}"]
                used.append("conv")
            else:
                layers.append(f"    - resnet_block: {{c: {c2}, s: {s}}}  # ResNetLayer: {n} blocks")
                if n > 1:
                    layers += [f"    - resnet_identity_block: {{c: {c2}}}", f"      repeat: {n - 1}"]
                used.append("resnet")
        else:
            raise _fail(doc, _("netspec import cannot write Ultralytics' {module} {args} as a spec", module=module,
                               args=args), where + (2,), _unsupported(module))
    blocks: list[str] = []
    for block in used:
        for needed in _NEEDS.get(block, []) + [block]:
            if needed not in blocks:
                blocks.append(needed)
    order = ["conv", "conv_bn", "scaled_conv", "c2f", "c2f_plain", "resnet"]
    title = name or os.path.splitext(os.path.basename(path))[0]
    first = next(iter(scales))
    lines = [f"# Written by `netspec import` from {os.path.basename(path)} (Ultralytics); `--scale S` picks a scale.",
             "netspec: 1", f"name: {title}",
             "params: {depth: %s, width: %s, max_channels: %s}" % tuple(scales[first][:3]), "scales:"]
    lines += ["  %s: {depth: %s, width: %s, max_channels: %s}" % (s, *v[:3]) for s, v in scales.items()]
    lines += ["blocks:"] + [_BLOCKS[b].rstrip("\n") for b in order if b in blocks]
    lines += ["model:", "  input: [3, 224, 224]", "  layers:"] + layers
    return "\n".join(lines) + "\n"
