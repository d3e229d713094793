"""The one place that turns reports and problems into text or JSON for people and programs."""
from __future__ import annotations

import json
import unicodedata

from .compiler import Report
from .errors import Problem, format_path
from .guard import size
from .i18n import _, tr
from .loader import Document
from .registry import REQUIRED, LayerType, fmt


def _visible(text: str) -> str:
    """Control characters a spec may smuggle into a name, shown as escapes: one problem, one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _source(text: str) -> str:
    """A line of the spec as quoted under a problem: control and format characters (escape sequences,
    bidirectional overrides) shown as escapes, so that a spec never drives the terminal; tabs and every
    kind of space (a full-width one is a common slip) shown as they are."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c)[0] == "C" and c != "\t" else c for c in text)


def width(text: str) -> int:
    """Columns `text` takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _ljust(text: str, columns: int) -> str:
    """str.ljust by terminal columns, so that Chinese text lines up too."""
    return text + " " * (columns - width(text))


def _rjust(text: str, columns: int) -> str:
    return " " * (columns - width(text)) + text


def _labelled(pairs: list[tuple], indent: str = "", gap: int = 2) -> list[str]:
    """`label:  value` lines, the values lined up `gap` columns after the widest label (in the user's language)."""
    labels = [tr(label) for label, _value in pairs]
    column = max(map(width, labels)) + gap
    return [f"{indent}{_ljust(label, column)}{value}" for label, (_label, value) in zip(labels, pairs)]


def _kind(kind: str) -> str:
    return tr({"error": _("error"), "warning": _("warning"), "note": _("note")}[kind])


def problem_text(p: Problem, doc: Document | None, kind: str = "error") -> str:
    """Compiler style: `file:line:col: error: message`, the source line with a caret, then hints."""
    where = p.file or (doc.file if doc else "") or "netspec"
    if p.line is not None:
        where += f":{p.line}:{p.column}"
    label = f"{_kind(kind)}[{p.code}]" if kind == "warning" and p.code else _kind(kind)
    lines = [f"{where}: {label}: {_visible(tr(p.message))}"]
    src = doc.source_line(p.line) if doc and p.line else ""
    if src:
        gutter = str(p.line)
        shown, before = _source(src.rstrip()), _source(src[:(p.column or 1) - 1])
        lines.append(f"  {gutter} | {shown}")  # a spec's escape sequences never reach the terminal
        lines.append(f"  {' ' * len(gutter)} | {' ' * width(before)}^")
    hint = tr(_("hint"))
    lines += [f"  {hint}: {_visible(tr(h))}" for h in p.hints]
    if kind == "warning" and p.code:
        silence = f"silence: [{p.code}]"
        lines.append(f"  {hint}: " + tr(_("if it is meant, add `{line}` to the spec to silence this warning",
                                          line=silence)))
    for note in p.notes:
        lines += problem_text(note, doc, "note").splitlines()
    return "\n".join(lines)


def problems_text(problems: list[Problem], doc: Document | None, file: str = "") -> str:
    """Every problem, then a count; the one format of all errors netspec prints."""
    n = len(problems)
    body = "\n".join(problem_text(p, doc) for p in problems)
    where = file or (doc.file if doc else "") or "netspec"
    count = _("1 error") if n == 1 else _("{n} errors", n=n)
    return f"{body}\n{where}: {tr(count)}\n"


def stopped_text(problems: list[Problem]) -> str:
    """Ctrl-C during training: what was saved and how to go on; not an error of the spec."""
    hint = tr(_("hint"))
    lines = [f"netspec: {_visible(tr(p.message))}\n" + "".join(f"  {hint}: {_visible(tr(h))}\n" for h in p.hints)
             for p in problems]
    return "".join(lines)


def errors_text(report: Report) -> str:
    return problems_text(report.errors, report.doc, report.file)


def warnings_text(report: Report) -> str:
    """A valid spec's warnings, then a count; nothing when it has none."""
    n = len(report.warnings)
    if not n:
        return ""
    body = "\n".join(problem_text(p, report.doc, "warning") for p in report.warnings)
    count = _("1 warning") if n == 1 else _("{n} warnings", n=n)
    return f"{body}\n{report.file}: {tr(count)}\n"


def _count(n: int) -> str:
    for div, unit in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if n >= div:
            return f"{n:,} ({n / div:.2f} {unit})"
    return f"{n:,}"


def _folded(report: Report, depth: int | None) -> list[tuple]:
    """(index, name, type, output, params, MACs) rows; layers deeper than `depth` blocks fold into their block."""
    rows: list[list] = []
    for i, info in enumerate(report.layers):
        parts = info.name.split(".")
        if depth is not None and len(parts) > depth + 1:
            group = ".".join(parts[: depth + 1])
            if rows and rows[-1][1] == group:
                rows[-1][3:] = [info.output.shape, rows[-1][4] + info.params, rows[-1][5] + info.macs]
                continue
            rows.append([str(i), group, tr(_("block {name}", name=info.node.blocks[depth])), info.output.shape,
                         info.params, info.macs])
        else:
            rows.append([str(i), info.name, info.type, info.output.shape, info.params, info.macs])
    return [(r[0], r[1], r[2], fmt(r[3]), f"{r[4]:,}", f"{r[5]:,}") for r in rows]


def table_text(report: Report, depth: int | None = None) -> str:
    """A summary like Keras' and torchinfo's: one row per layer (or folded block), then the totals."""
    heading = ("#", _("name"), _("type"), _("output shape"), _("params"), _("MACs"))
    rows = [tuple(map(tr, heading)), ("", tr(_("input")), "", fmt(report.input.shape), "", "")]
    rows += _folded(report, depth)
    widths = [max(width(r[c]) for r in rows) for c in range(6)]
    right = {0, 4, 5}

    def line(r):
        return "  ".join(_rjust(v, w) if c in right else _ljust(v, w)
                         for c, (v, w) in enumerate(zip(r, widths))).rstrip()
    rule = "-" * width(line(rows[0]))
    name = report.doc.data.get("name") if report.doc else None
    valid = _("{file}: valid ({name})", file=report.file, name=name) if name else \
        _("{file}: valid", file=report.file)
    out = [tr(valid), rule, line(rows[0]), rule]
    out += [line(r) for r in rows[1:]] + [rule]
    out += _labelled([(_("Output shape:"), fmt(report.output.shape)),
                      (_("Total params:"), _count(report.total_params)),
                      (_("Parameter memory:"), f"{size(report.param_bytes)} (float32)"),
                      (_("MACs per sample:"), _count(report.total_macs)),
                      (_("Activation memory per sample:"), size(report.activation_bytes))]
                     + ([(_("Memory to train, batch {batch}:", batch=report.batch),
                          size(report.param_bytes + report.batch * report.activation_bytes))] if report.batch else []))
    return "\n".join(out) + "\n"


def _shape(shape) -> list:
    return [None, *shape]


def report_json(report: Report) -> dict:
    return {
        "file": report.file,
        "valid": report.valid,
        "input_shape": _shape(report.input.shape) if report.valid else None,
        "output_shape": _shape(report.output.shape) if report.valid else None,
        "total_params": report.total_params if report.valid else None,
        "param_bytes": report.param_bytes if report.valid else None,
        "total_macs": report.total_macs if report.valid else None,
        "activation_bytes": report.activation_bytes if report.valid else None,
        "layers": [{"index": i, "name": info.name, "type": info.type, "output_shape": _shape(info.output.shape),
                    "dtype": info.output.dtype, "params": info.params, "macs": info.macs,
                    "line": report.doc.locate(info.node.path)[0] if report.doc else None, "args": info.args}
                   for i, info in enumerate(report.layers)] if report.valid else [],
        "errors": [_problem_json(p) for p in report.errors],
        "warnings": [dict(_problem_json(p), name=p.code) for p in report.warnings],
    }


def _problem_json(p: Problem) -> dict:
    fix = p.fix and {"line": p.fix.line, "column": p.fix.column, "end_line": p.fix.end_line,
                     "end_column": p.fix.end_column, "text": p.fix.text}
    return {"file": p.file, "line": p.line, "column": p.column, "path": format_path(p.path),
            "message": tr(p.message), "hints": [tr(h) for h in p.hints], "fix": fix or None}


def dumps(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"


def layers_text(table: dict[str, LayerType]) -> str:
    w = max(map(len, table))
    more = _("`{command}` shows one layer's arguments.", command="netspec layers NAME")
    return "".join(f"{name.ljust(w)}  {tr(lt.summary)}\n" for name, lt in sorted(table.items())) + \
        f"\n{tr(more)}\n"


def _state(arg) -> str:
    """Whether an argument must be given, and what it is when left out."""
    if arg.inferred:
        return _("inferred from the input when left out")
    if arg.default is REQUIRED:
        return _("required")
    return _("default {value}", value=json.dumps(arg.default))


def torch_class(lt: LayerType) -> str:
    """What the layer is built as: torch.nn.Conv2d, torchvision.models.resnet18, or netspec's own module
    (Add, Concat, the recurrent layers that return one output) and the torch class it is made of."""
    if lt.name.startswith("torchvision."):
        return "torchvision.models." + lt.name.split(".", 1)[1]
    if lt.module:
        base = f"torch.nn.{lt.torch_class or lt.name}"
        own = f"netspec.modules.{lt.module}"
        return f"{own} ({base})" if lt.wraps_torch else own
    return f"torch.nn.{lt.torch_class or lt.name}"


def layer_text(lt: LayerType) -> str:
    out = [f"{lt.name}: {tr(lt.summary)}"]
    facts = [(_("torch class:"), torch_class(lt))]
    if lt.main:
        facts.append((_("short form:"), f"- {lt.name}: <{lt.main}>"))
    out += _labelled(facts, "  ", 1)
    if lt.args:
        out.append("  " + tr(_("arguments:")))
        w = max(map(len, lt.args))
        for name, arg in lt.args.items():
            kind = _("only {value}", value=arg.kind.lower()) if arg.kind in ("False", "True") else arg.kind
            about = _("{kind}; {state}", kind=kind or _("value"), state=_state(arg))
            out.append(f"    {name.ljust(w)}  {tr(about)}")
    else:
        out.append("  " + tr(_("arguments: none")))
    if lt.stricter:
        out.append(f"  {_kind('note')}: {tr(lt.stricter)}")
    return "\n".join(out) + "\n"


def eval_text(result: dict) -> str:
    figures = [(_("test samples:"), f"{result['samples']:,}"), (_("loss:"), f"{result['loss']:.4f}")]
    if result["accuracy"] is not None:
        figures.append((_("accuracy:"), f"{100 * result['accuracy']:.2f}%"))
    out = _labelled(figures, gap=1)
    if result["accuracy"] is None:
        return "\n".join(out) + "\n"
    classes = result["classes"]
    names = max(map(width, classes + ["class"]))  # class names may be Chinese (ImageFolder's folders)
    out += ["", tr(_("per class:"))]
    out += [f"  {_ljust(c, names)}  " + ("-" if a is None else f"{100 * a:6.2f}%")
            for c, a in result["per_class"].items()]
    cell = max(5, max(len(str(v)) for row in result["confusion"] for v in row) + 1)
    out += ["", tr(_("confusion matrix (rows: true class, columns: predicted):")),
            " " * (names + 2) + "".join(str(i).rjust(cell) for i in range(len(classes)))]
    out += [f"  {_ljust(c, names)}" + "".join(str(v).rjust(cell) for v in row)
            for c, row in zip(classes, result["confusion"])]
    return "\n".join(out) + "\n"


def predict_text(results: list[dict]) -> str:
    """Each image: how it was prepared, its top classes, then what makes it unlike the training images."""
    out, warning, hint = [], _kind("warning"), tr(_("hint"))
    for r in results:
        out.append(f"{r['image']}: " + " -> ".join(tr(step) for step in r["prepared"]))
        out += [f"  {100 * t['probability']:6.2f}%  {t['class']}" for t in r["top"]]
        for w in r["warnings"]:
            out += [f"  {warning}: {tr(w['message'])}", f"  {hint}: {tr(w['hint'])}"]
    return "\n".join(out) + "\n"


def predict_json(results: list[dict]) -> list[dict]:
    """The results with their words in the user's language."""
    return [r | {"prepared": [tr(s) for s in r["prepared"]],
                 "warnings": [{"message": tr(w["message"]), "hint": tr(w["hint"])} for w in r["warnings"]]}
            for r in results]
