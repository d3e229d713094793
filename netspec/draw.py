"""A picture of the network: each layer (or folded block use) a box with its name, type, the arguments the
spec gives and its output shape, top to bottom in the spec's order; an arrow from each entry to the next
it feeds, skip connections and merges as arcs beside the boxes (each arc in a lane of its own, so arcs
never cross a box), block uses as groups. Laid out here and drawn with matplotlib, as SVG, PNG or PDF:
no Graphviz or other program needed. No torch here."""
from __future__ import annotations

from dataclasses import dataclass, field

from .registry import fmt

BOX_W, BOX_H, GAP = 5.0, 0.62, 0.38  # inches
LANE = 0.28  # the distance between arcs


@dataclass
class Box:
    label: str  # the first line: name and type
    detail: str  # the second line: arguments and output shape
    y: float  # its top, in inches from the picture's top
    group: str | None = None  # the block use it belongs to
    members: list[int] = field(default_factory=list)  # the layers it stands for


@dataclass
class Layout:
    boxes: list[Box]
    edges: list[tuple[int, int, int]]  # (from box, to box, lane: 0 is straight down, k > 0 an arc)
    groups: dict[str, tuple[int, int]]  # block use -> (first box, last box)
    width: float
    height: float


def _args(info) -> str:
    given = {k: v for k, v in info.node.given.items() if v is not None}
    text = ", ".join(f"{k}={v}" for k, v in given.items())
    return text if len(text) <= 40 else text[:39] + "…"


def layout(report, depth: int | None = None) -> Layout:
    """Where every box and arrow goes. `depth`: fold the layers of blocks nested deeper (0: a box per use)."""
    layers = report.layers
    boxes = [Box("input", fmt(report.input.shape), 0.0)]
    row_of: dict[int, int] = {-1: 0}
    for i, info in enumerate(layers):
        parts = info.name.split(".", len(info.node.blocks))  # a Chunk's `y.0` is one name
        if depth is not None and len(parts) > depth + 1:
            key = ".".join(parts[:depth + 1])
            if boxes[-1].label.startswith(key + " ") and boxes[-1].members:
                boxes[-1].members.append(i)
                boxes[-1].detail = fmt(info.output.shape)
                row_of[i] = len(boxes) - 1
                continue
            boxes.append(Box(f"{key}  (block {info.node.blocks[depth]})", fmt(info.output.shape), 0.0, None, [i]))
        else:
            group = ".".join(parts[:-1]) or None
            args = _args(info)
            detail = f"{args}  →  {fmt(info.output.shape)}" if args else f"→  {fmt(info.output.shape)}"
            boxes.append(Box(f"{info.name}: {info.type}", detail, 0.0, group, [i]))
        row_of[i] = len(boxes) - 1
    for k, box in enumerate(boxes):
        box.y = 0.3 + k * (BOX_H + GAP)
    edges: list[tuple[int, int, int]] = []
    lanes: list[list[tuple[int, int]]] = []  # per lane: the row intervals its arcs take
    for i, info in enumerate(layers):
        for j in info.node.inputs:
            a, b = row_of[j], row_of[i]
            if a == b or (a, b) in {(e[0], e[1]) for e in edges}:
                continue
            if b == a + 1:
                edges.append((a, b, 0))
                continue
            lane = next((k for k, taken in enumerate(lanes) if all(b <= lo or a >= hi for lo, hi in taken)), None)
            if lane is None:
                lanes.append([])
                lane = len(lanes) - 1
            lanes[lane].append((a, b))
            edges.append((a, b, lane + 1))
    groups: dict[str, tuple[int, int]] = {}
    for k, box in enumerate(boxes):
        if box.group:
            top = box.group.split(".")[0]
            first, _last = groups.get(top, (k, k))
            groups[top] = (first, k)
    width = BOX_W + 1.4 + LANE * (len(lanes) + 1)
    height = boxes[-1].y + BOX_H + 0.4
    return Layout(boxes, edges, groups, width, height)


def draw(report, path: str, depth: int | None = None) -> Layout:
    """Draw the network of a valid spec (a compiler Report) into `path` (.svg, .png or .pdf)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
    from matplotlib.path import Path

    from .plots import _figure, _save

    lay = layout(report, depth)
    fig = _figure(lay.width, lay.height)
    fig.set_layout_engine("none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.axis("off")
    left = 0.6
    for name, (first, last) in lay.groups.items():
        top, bottom = lay.boxes[first].y - 0.14, lay.boxes[last].y + BOX_H + 0.14
        ax.add_patch(Rectangle((left - 0.2, top), BOX_W + 0.4, bottom - top, facecolor="#f4f6fb", edgecolor="#9aa7c7",
                               linestyle="--", linewidth=1, zorder=0))
        ax.text(left - 0.15, top + 0.02, f"block use `{name}`", fontsize=7, color="#5b6a91", va="top", zorder=1)
    for k, box in enumerate(lay.boxes):
        folded = len(box.members) > 1
        colour = "#e8eefc" if k == 0 else "#fdf3e1" if folded else "#ffffff"
        ax.add_patch(FancyBboxPatch((left, box.y), BOX_W, BOX_H, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=colour, edgecolor="#33415c", linewidth=1.1, zorder=2))
        ax.text(left + 0.12, box.y + 0.2, box.label, fontsize=9, fontweight="bold", va="center", zorder=3,
                color="#1b2436")
        ax.text(left + 0.12, box.y + 0.45, box.detail, fontsize=7.5, va="center", zorder=3, color="#3d4a66",
                family="monospace")
    right = left + BOX_W
    for a, b, lane in lay.edges:
        src, dst = lay.boxes[a], lay.boxes[b]
        if lane == 0:
            points = [(left + BOX_W / 2, src.y + BOX_H), (left + BOX_W / 2, dst.y)]
        else:  # out of the source's right side, down its own lane, into the target's right side
            x = right + 0.25 + LANE * lane
            ys, yd = src.y + BOX_H / 2 + 0.08, dst.y + BOX_H / 2 - 0.08
            points = [(right, ys), (x, ys), (x, yd), (right, yd)]
        line = Path(points, [Path.MOVETO] + [Path.LINETO] * (len(points) - 1))
        ax.add_patch(FancyArrowPatch(path=line, arrowstyle="-|>", mutation_scale=10, linewidth=1.0,
                                     color="#33415c" if lane == 0 else "#c0392b", zorder=1))
    _save(fig, path)
    return lay
