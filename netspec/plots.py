"""Pictures of training: a run's curves (loss, accuracy, learning rate per epoch), several runs overlaid,
and a confusion matrix with class names. matplotlib without a display (its object API on the Agg
canvas, no pyplot state), each picture written atomically."""
from __future__ import annotations

import csv
import io
import os

from .atomic import atomic_write
from .errors import NetspecError, Problem, UsageError
from .i18n import _, tr


_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
              "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in names), None)


def _words(message) -> str:
    """A label in the user's language where a font can draw it; in English otherwise (no boxes for glyphs)."""
    said = tr(message)
    if said.isascii() or _cjk_font():
        return said
    return str(message)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    font = _cjk_font()
    if font:
        import matplotlib

        matplotlib.rcParams["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
    return fig


def _save(fig, path: str) -> None:
    buf = io.BytesIO()
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    if fmt not in ("png", "svg", "pdf"):
        raise UsageError(Problem(_("a picture is written as .png, .svg or .pdf, not {name}", name=path)))
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # an SVG's words stay text, to search and to read
        fig.savefig(buf, format=fmt)
    try:
        atomic_write(path, lambda f: f.write(buf.getvalue()))
    except OSError as e:
        raise UsageError(Problem(_("cannot write {path}: {reason}", path=path, reason=e.strerror))) from None


def read_metrics(folder: str) -> list[dict]:
    """A run folder's metrics.csv, as rows of numbers (None where empty)."""
    path = os.path.join(folder, "metrics.csv")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        raise UsageError(Problem(_("{folder} is not a run folder: it has no metrics.csv", folder=folder))) from None
    return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in rows]


def curves(runs: list[tuple[str, list[dict]]], path: str) -> None:
    """Loss (train solid, test dashed), test accuracy and learning rate per epoch, one colour per run."""
    fig = _figure(11, 3.6)
    loss, accuracy, rate = fig.subplots(1, 3)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    for k, (name, rows) in enumerate(runs):
        colour = colours[k % len(colours)]
        epochs = [r["epoch"] for r in rows]
        label = name if len(runs) > 1 else None

        def series(key):
            return [(e, r[key]) for e, r in zip(epochs, rows) if r.get(key) is not None]

        for key, style, what in (("train_loss", "-", _words(_("train"))), ("test_loss", "--", _words(_("test")))):
            points = series(key)
            if points:
                loss.plot(*zip(*points), style, color=colour, marker=".",
                          label=f"{name}: {what}" if label else what)
        points = series("test_accuracy")
        if points:
            accuracy.plot([e for e, _v in points], [100 * v for _e, v in points], "-", color=colour, marker=".",
                          label=label)
        points = series("lr")
        if points:
            rate.plot(*zip(*points), "-", color=colour, marker=".", label=label)
    from matplotlib.ticker import MaxNLocator

    for ax, title, ylabel in ((loss, _("loss"), _("loss")), (accuracy, _("test accuracy"), "%"),
                              (rate, _("learning rate"), "lr")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1, steps=[1, 2, 5, 10]))  # epochs, never 0.96
        ax.set_title(_words(title))
        ax.set_xlabel(_words(_("epoch")))
        ax.set_ylabel(_words(ylabel))
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    if any(r.get("lr") for _n, rows in runs for r in rows):
        values = [r["lr"] for _n, rows in runs for r in rows if r.get("lr")]
        if max(values) / min(values) > 50:
            rate.set_yscale("log")
        elif max(values) == min(values):  # a constant rate: from 0, not ticks in the sixth decimal around it
            rate.set_ylim(0, 1.5 * max(values))
    _save(fig, path)


def confusion(matrix: list[list[int]], classes: list[str], path: str) -> None:
    """The confusion matrix: rows the true class, columns the predicted one, each cell its count."""
    n = len(classes)
    if not matrix or n == 0:
        raise NetspecError(Problem(_("there is no confusion matrix to draw: the model's output is not one score "
                                     "per class")))
    side = min(14, max(4.5, 0.55 * n + 2))
    fig = _figure(side, side * 0.9)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45 if max(map(len, classes)) > 3 else 0, ha="right"
                  if max(map(len, classes)) > 3 else "center")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel(_words(_("predicted class")))
    ax.set_ylabel(_words(_("true class")))
    top = max(max(row) for row in matrix) or 1
    if n <= 30:
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8 if n > 12 else 10,
                        color="white" if count > top / 2 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8)
    _save(fig, path)
