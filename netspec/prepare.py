"""netspec prepare: write the disk caches that training a spec will read (diskcache.py), ahead of training."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import NetspecError, Problem
from .i18n import _


@dataclass(frozen=True)
class Prepared:
    """One split's cache: where it is, what it holds, whether this call wrote it, how training reads it."""

    split: str
    path: str
    pictures: int
    shape: tuple[int, ...]  # (C, H, W)
    nbytes: int
    written: bool
    in_memory: bool


def prepare(spec, overrides=()) -> tuple[list[Prepared], object]:
    """Write the caches of a spec's data that are not there yet: ([one record per split], None), or
    ([], a message that says why the data has none)."""
    from . import overrides as ov
    from .catalog import resolved
    from .compiler import check
    from .data import load_data
    from .diskcache import build
    from .fastdata import _workers, cache_plan
    from .loader import Document, load

    doc = ov.apply(load(spec) if isinstance(spec, str) else Document(spec, "<dict>"), list(overrides))
    try:
        report = check(doc)
        if not report.valid:
            raise NetspecError(report.errors)
        dt = resolved(doc.data, "run")["data"]
        plan = cache_plan(load_data(dt, report.input.shape, report.input.dtype), dt)
    except NetspecError as e:  # located in the spec where the problem has a place there
        e.problems, e.doc = [doc.place(p) if p.path else p for p in e.problems], e.doc or doc
        raise
    if plan.train is None:
        return [], plan.reason
    budget, done = int(dt.get("memory_budget_mb", 2048)) * (1 << 20), []
    for split, (cache, _transform) in (("train", plan.train), ("test", plan.test)):
        found = cache.find()
        path = found[0] if found else build(cache, _workers(dt, cache))
        if path is None:
            raise NetspecError(Problem(_("the {split} cache could not be written in {folders}", split=split,
                                         folders=", ".join(cache.folders))))
        in_memory = cache.nbytes <= budget
        budget -= cache.nbytes if in_memory else 0
        done.append(Prepared(split, path, len(cache), tuple(cache.shape), cache.nbytes, not found, in_memory))
    return done, None
