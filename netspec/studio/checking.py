"""A spec's text checked for the page: its problems, shape table and diagram layout, as JSON.

The same compiler call and the same words as `netspec check`: the problems and layers come from
render.report_json, the table's headings and totals from render's own messages, the diagram's boxes
from draw.layout. The page draws the boxes itself: matplotlib takes seconds on a large network, the
page must answer within a pause in typing.
"""
from __future__ import annotations

import threading
from dataclasses import replace

from .. import i18n
from ..compiler import Report, _verified, check
from ..draw import layout
from ..errors import NetspecError
from ..guard import size
from ..i18n import _, tr
from ..loader import loads
from ..registry import fmt
from ..render import _count, report_json

_RENDER = threading.Lock()  # i18n's language is one per process: render one report at a time
HEADINGS = (_("name"), _("type"), _("output shape"), _("params"), _("MACs"))


def check_text(text: str, file: str) -> Report:
    """Check spec text as `netspec check` checks a file (a text over 1 MiB gets the loader's error)."""
    try:
        doc = loads(text.encode("utf-8"), file)
    except NetspecError as e:
        report = Report(file, e.doc, exit_code=e.exit_code)
        report.errors = [e.doc.place(p) if e.doc else p for p in e.problems]
        if e.doc is not None:
            report.errors = [_verified(p, e.doc) if i < 5 else replace(p, fix=None)
                             for i, p in enumerate(report.errors)]
        return report
    return check(doc)


def report_page(report: Report, lang: str) -> dict:
    """What the page shows of a report, its words in `lang`."""
    with _RENDER:
        i18n.use(lang)
        try:
            out = report_json(report)
            for w, p in zip(out["warnings"], report.warnings):
                silence = f"silence: [{p.code}]"
                w["hints"].append(tr(_("if it is meant, add `{line}` to the spec to silence this warning",
                                       line=silence)))
            for layer, info in zip(out["layers"], report.layers):  # a block's entry: also where the block is used
                origin = info.node.origin
                layer["use_line"] = report.doc.locate(origin)[0] if origin is not None and report.doc else None
            if report.valid:
                out["table"] = _table(report)
                out["diagram"] = _diagram(report)
            return out
        finally:
            i18n.use(None)


def _table(report: Report) -> dict:
    rows = [{"index": i, "name": info.name, "type": info.type, "output": fmt(info.output.shape),
             "params": f"{info.params:,}", "macs": f"{info.macs:,}"}
            for i, info in enumerate(report.layers)]
    totals = [(_("Output shape:"), fmt(report.output.shape)),
              (_("Total params:"), _count(report.total_params)),
              (_("Parameter memory:"), f"{size(report.param_bytes)} (float32)"),
              (_("MACs per sample:"), _count(report.total_macs)),
              (_("Activation memory per sample:"), size(report.activation_bytes))]
    if report.batch:
        totals.append((_("Memory to train, batch {batch}:", batch=report.batch),
                       size(report.param_bytes + report.batch * report.activation_bytes)))
    return {"headings": ["#", *map(tr, HEADINGS)], "input": [tr(_("input")), fmt(report.input.shape)],
            "rows": rows, "totals": [[tr(label), value] for label, value in totals]}


def _diagram(report: Report) -> dict:
    lay = layout(report)
    return {"width": lay.width, "height": lay.height,
            "boxes": [{"label": b.label, "detail": b.detail, "y": b.y, "group": b.group, "layers": b.members}
                      for b in lay.boxes],
            "edges": lay.edges, "groups": lay.groups}
