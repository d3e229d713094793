"""A run's folder: choosing one that never overwrites an earlier run, and the files in it."""
from __future__ import annotations

import csv
import io
import os

import yaml

from .atomic import atomic_write
from .errors import NetspecError, Problem
from .i18n import _

METRICS = ["epoch", "train_loss", "test_loss", "test_accuracy", "lr", "seconds", "images_per_s"]


def holds_run(folder: str) -> bool:
    return any(os.path.exists(os.path.join(folder, f)) for f in ("last.pt", "best.pt"))


def choose(folder: str) -> str:
    """`folder` if it holds no run yet, else the next free `folder-2`, `folder-3`, ..."""
    if not holds_run(folder):
        return folder
    k = 2
    while holds_run(f"{folder}-{k}"):
        k += 1
    return f"{folder}-{k}"


def prepare(folder: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, ".netspec-write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.unlink(probe)
    except OSError as e:
        raise NetspecError(Problem(_("cannot write the run folder {folder}: {reason}", folder=folder,
                                     reason=str(e.strerror)), ("output", "dir"),
                                   (_("set output.dir to a folder you can write, e.g. {option}",
                                      option="--set output.dir=runs/mine"),))) from None


def write_text(path: str, text: str) -> None:
    try:
        atomic_write(path, lambda f: f.write(text.encode()))
    except OSError as e:
        raise NetspecError(Problem(_("cannot write {path}: {reason}; the previous files are kept", path=path,
                                     reason=str(e.strerror)), ("output", "dir"),
                                   (_("free some disk space or make the folder writable; a run folder that holds "
                                      "last.pt goes on with `netspec train --resume FOLDER`"),))) from None


def write_spec(folder: str, data: dict) -> None:
    write_text(os.path.join(folder, "spec.yaml"),
               "# The resolved spec of this run: `netspec train --resume` reads it.\n" +
               yaml.safe_dump(data, sort_keys=False, default_flow_style=None))


def write_metrics(folder: str, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, METRICS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row.get(k) for k in METRICS})
    write_text(os.path.join(folder, "metrics.csv"), buf.getvalue())
