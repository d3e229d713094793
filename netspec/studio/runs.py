"""The studio's training runs: `netspec train` in child processes, followed through their JSON progress
lines (`--progress json`), and the run folders found under the studio's folder.

A child has its own process group, so that Stop is Ctrl-C to it alone (SIGINT: the runner saves what it
finished and says so) and the server's own Ctrl-C does not reach it; the server ends its children when it
stops. Threads read the children's output, so the page is never blocked by a run.
"""
from __future__ import annotations

import atexit
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import yaml

from ..i18n import LANGUAGES, _, tr
from ..plots import read_metrics
from .files import Refused

LIVE = ("starting", "running", "stopping")
MAX_LIVE = 4  # trainings at once: each takes every core it is given
MAX_STEPS = 5000  # within-epoch points kept per run; past that, every other one is dropped
FIND_DEPTH = 4
FIND_FOLDERS = 2000  # folders looked into at most, so that a huge tree does not hang the page
FIND_RUNS = 200
FIND_EVERY = 3.0  # seconds a walk of the folder is reused
STOP_WAIT = 5.0  # seconds the children have to save and stop when the server stops
SKIP = {"node_modules", "__pycache__", "venv", ".venv", "site-packages"}
_ERROR_LINE = re.compile(r"^\S.*: (%s)(\[[\w-]+\])?: " % "|".join(re.escape(tr(_("error"), lang))
                                                                  for lang in LANGUAGES))


@dataclass
class Run:
    """One run: a child this server started, or a run folder found on disk."""

    id: str
    folder: str | None  # the real path of its run folder, once known
    name: str
    spec: str | None
    state: str
    epochs: int | None = None
    steps: list[dict] = field(default_factory=list)
    message: str | None = None  # a Msg, or the words the child printed
    started: float = field(default_factory=time.time)
    process: subprocess.Popen | None = None
    stop_asked: bool = False
    lang: str = "en"
    errors: deque = field(default_factory=lambda: deque(maxlen=200))


class Runs:
    """The runs of one studio folder."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.runs: dict[str, Run] = {}
        self.alias: dict[str, str] = {}  # pending-N -> the run folder's id, once the child said it
        self.lock = threading.Lock()
        self.count = 0
        self._found: tuple[float, list[str]] = (-math.inf, [])
        self._facts: dict[str, tuple] = {}
        self._closed = False
        self._atexit = False

    def train(self, spec: str, epochs: int | None, device: str | None, sets: list[str], lang: str) -> str:
        """Start `netspec train SPEC` (spec: a name inside the folder, checked by the caller); the run's id."""
        argv = [f"--set={item}" for item in sets]
        argv += [f"--set=train.epochs={epochs}"] if epochs is not None else []
        argv += [f"--device={device}"] if device else []
        argv.append(spec if not spec.startswith("-") else os.path.join(".", spec))
        with self.lock:
            self._room()
            self.count += 1
            run = Run(f"pending-{self.count}", None, os.path.splitext(os.path.basename(spec))[0], spec, "starting",
                      epochs, lang=lang)
            self.runs[run.id] = run
            self._spawn(run, argv)
        return run.id

    def resume(self, run_id: str, epochs: int | None, lang: str) -> str:
        """Go on with a run folder's training (`netspec train --resume FOLDER`)."""
        with self.lock:
            run = self._get(run_id)
            if run is None:
                raise Refused(_("no such run: {run}", run=run_id), 404)
            if run.state in LIVE:
                raise Refused(_("{run} is still training; stop it first", run=run.id), 409)
            if run.folder is None or not os.path.isfile(os.path.join(run.folder, "last.pt")):
                raise Refused(_("{run} has no finished epoch to go on from; train it again", run=run.id), 409)
            facts = self._folder_facts(run.folder)
            if epochs is None and facts["epochs"] is not None and len(facts["metrics"]) >= facts["epochs"]:
                raise Refused(_("{run} has trained all its {epochs} epochs; give more epochs to train it longer",
                                run=run.id, epochs=facts["epochs"]), 409)
            self._room()
            self.runs[run.id] = run
            run.state, run.message, run.stop_asked, run.lang, run.started = "starting", None, False, lang, time.time()
            run.epochs = epochs or run.epochs
            run.errors.clear()
            folder = os.path.relpath(run.folder, self.root) if _inside(run.folder, self.root) else run.folder
            self._spawn(run, ["--resume", folder] + ([f"--set=train.epochs={epochs}"] if epochs is not None else []))
        return run.id

    def stop(self, run_id: str) -> None:
        """Ctrl-C to the run's process group (a second Stop while it stops: SIGKILL; its saved epochs stay)."""
        with self.lock:
            run = self._get(run_id)
            if run is None:
                raise Refused(_("no such run: {run}", run=run_id), 404)
            if run.state not in LIVE:
                raise Refused(_("{run} is not training", run=run.id), 409)
            again, run.stop_asked, run.state = run.state == "stopping", True, "stopping"
            _signal(run.process, signal.SIGKILL if again else signal.SIGINT)

    def get(self, run_id: str) -> Run | None:
        with self.lock:
            return self._get(run_id)

    def describe(self, run: Run, lang: str) -> dict:
        """A run as the page gets it (see studio_api.md)."""
        with self.lock:  # one moment of a run that its child's thread changes
            run_id, folder, state, steps, message = run.id, run.folder, run.state, list(run.steps), run.message
        facts = self._folder_facts(folder) if folder else {}
        metrics = facts.get("metrics", [])
        epochs = run.epochs if state in LIVE and run.epochs else facts.get("epochs") or run.epochs
        last = bool(folder) and os.path.isfile(os.path.join(folder, "last.pt"))
        resumable = last and state not in LIVE and (state == "stopped" or epochs is None or len(metrics) < epochs)
        return {"id": run_id, "folder": self._relative(folder) if folder else None,
                "name": facts.get("name") or run.name, "spec": run.spec, "state": state, "epochs": epochs,
                "metrics": metrics, "steps": steps, "message": None if message is None else tr(message, lang),
                "best": bool(folder) and os.path.isfile(os.path.join(folder, "best.pt")), "resumable": resumable}

    def listing(self, lang: str) -> list[dict]:
        """Every run: this server's, and the run folders under the studio's folder; newest first."""
        with self.lock:
            own = list(self.runs.values())
        known = {r.folder for r in own if r.folder}
        found = [self._found_run(folder) for folder in self.find() if folder not in known]
        runs = sorted(own + [r for r in found if r is not None], key=lambda r: r.started, reverse=True)
        return [self.describe(r, lang) for r in runs]

    def find(self) -> list[str]:
        """The run folders under the studio's folder (real paths): a few levels deep, at most FIND_RUNS,
        after looking into at most FIND_FOLDERS folders; a walk is reused for FIND_EVERY seconds."""
        when, found = self._found
        if time.monotonic() - when < FIND_EVERY:
            return found
        found, looked = [], 0
        for top, dirs, files in os.walk(self.root):
            looked += 1
            depth = 0 if top == self.root else os.path.relpath(top, self.root).count(os.sep) + 1
            if _is_run(top, files):
                found.append(top)
                dirs[:] = []
            else:
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP and depth < FIND_DEPTH)
            if len(found) >= FIND_RUNS or looked >= FIND_FOLDERS:
                break
        self._found = (time.monotonic(), found)
        return found

    def close(self) -> None:
        """End every child: Ctrl-C, then SIGKILL to those still running after STOP_WAIT seconds."""
        with self.lock:
            self._closed = True
            live = [r.process for r in self.runs.values() if r.process is not None and r.process.poll() is None]
        for process in live:
            _signal(process, signal.SIGINT)
        deadline = time.monotonic() + STOP_WAIT
        for process in live:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait()

    def _room(self) -> None:
        if self._closed:
            raise Refused(_("the studio's server is stopping"), 503)
        live = sum(r.state in LIVE for r in self.runs.values())
        if live >= MAX_LIVE:
            raise Refused(_("{n} trainings are running; stop one before starting another", n=live), 409)

    def _get(self, run_id: str) -> Run | None:
        run_id = self.alias.get(run_id, run_id)
        if run_id in self.runs:
            return self.runs[run_id]
        if not isinstance(run_id, str) or not run_id or run_id.startswith("pending-") or "\0" in run_id:
            return None
        if os.path.isabs(run_id) or ".." in run_id.replace("\\", "/").split("/"):
            return None
        folder = os.path.realpath(os.path.join(self.root, run_id))
        try:
            if not _inside(folder, self.root) or not _is_run(folder, os.listdir(folder)):
                return None
        except OSError:  # no such folder, or not one
            return None
        return self._found_run(folder)

    def _found_run(self, folder: str) -> Run | None:
        """A run folder on disk that this server did not start: finished, or stopped with epochs to go."""
        facts = self._folder_facts(folder)
        try:
            started = max(os.path.getmtime(os.path.join(folder, f)) for f in ("metrics.csv", "last.pt", "spec.yaml")
                          if os.path.exists(os.path.join(folder, f)))
        except (OSError, ValueError):
            return None
        done = facts["epochs"] is not None and len(facts["metrics"]) >= facts["epochs"]
        return Run(self._relative(folder), folder, facts["name"] or os.path.basename(folder), None,
                   "finished" if done else "stopped", facts["epochs"], started=started)

    def _relative(self, folder: str) -> str:
        return os.path.relpath(folder, self.root).replace(os.sep, "/")

    def _folder_facts(self, folder: str) -> dict:
        """The name and epochs of a run folder's spec.yaml and its metrics.csv rows, read again only when
        the files change."""
        stamp = tuple(_stamp(os.path.join(folder, f)) for f in ("spec.yaml", "metrics.csv"))
        cached = self._facts.get(folder)
        if cached and cached[0] == stamp:
            return cached[1]
        facts = {"name": None, "epochs": None, "metrics": _metrics(folder)}
        try:
            with open(os.path.join(folder, "spec.yaml"), encoding="utf-8") as f:
                spec = yaml.safe_load(f)
            facts["name"] = spec.get("name")
            facts["epochs"] = int(spec["train"]["epochs"])
        except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError):
            pass
        self._facts[folder] = (stamp, facts)
        return facts

    def _spawn(self, run: Run, argv: list[str]) -> None:
        command = [sys.executable, "-m", "netspec", "train", *argv, "--progress", "json", "--lang", run.lang]
        env = dict(os.environ, PYTHONIOENCODING="utf-8")
        try:
            run.process = subprocess.Popen(command, cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                           start_new_session=True, env=env)
        except OSError as e:
            run.state, run.message = "failed", _("cannot start the training: {reason}", reason=e.strerror)
            return
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True
        threading.Thread(target=self._follow, args=(run, run.process), daemon=True,
                         name=f"netspec-run-{run.id}").start()

    def _follow(self, run: Run, process: subprocess.Popen) -> None:
        """Read the child's events until it ends, then its state from its exit status and its words."""
        errors = threading.Thread(target=lambda: run.errors.extend(line.rstrip("\n") for line in process.stderr),
                                  daemon=True)
        errors.start()
        for line in process.stdout:
            event = _event(line)
            if event is not None:
                with self.lock:
                    self._on(run, event)
        code = process.wait()
        errors.join(10)
        with self.lock:
            run.state, run.message = _ending(code, run.stop_asked, list(run.errors))

    def _on(self, run: Run, event: dict) -> None:
        kind = event.get("event")
        if kind == "start" and isinstance(event.get("folder"), str):
            run.folder = os.path.realpath(os.path.join(self.root, event["folder"]))
            new = self._relative(run.folder)
            if new != run.id:
                old = self.runs.get(new)
                if old is not None and old is not run and old.state in LIVE:
                    return  # cannot happen: netspec never trains into a folder that holds a run
                self.runs.pop(run.id, None)
                self.alias.update({run.id: new} if run.id.startswith("pending-") else {})
                run.id = new
                self.runs[new] = run
            run.epochs = event.get("epochs") if isinstance(event.get("epochs"), int) else run.epochs
            run.state = "stopping" if run.stop_asked else "running"
        elif kind == "batch":
            run.steps.append({k: _number(event.get(k)) for k in ("epoch", "done", "total", "loss", "lr")})
            if len(run.steps) > MAX_STEPS:
                del run.steps[::2]


def _event(line: str) -> dict | None:
    """One line of the child's standard output as an event; None for anything else it printed."""
    import json

    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _ending(code: int, stop_asked: bool, lines: list[str]):
    """(state, message) of a child that ended with exit status `code` and these lines on its stderr."""
    if code == 0:
        return "finished", None
    if code == 130 or stop_asked and code in (-signal.SIGINT, -signal.SIGKILL):
        said = next((line[len("netspec: "):] for line in lines if line.startswith("netspec: ")), None)
        return "stopped", said or _("stopped; the epochs it finished are saved")
    if code < 0:  # killed: what it printed before is not why it ended
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return "failed", _("the training process was killed ({signal}); the epochs it finished are saved",
                           signal=name)
    return "failed", _words(lines) or _("the training process ended with exit status {code}", code=code)


def _words(lines: list[str]) -> str | None:
    """The error netspec printed: from its first `error:` line (or `netspec: ...` line) on, without a
    Python traceback; else the last few lines."""
    start = next((i for i, line in enumerate(lines) if _ERROR_LINE.match(line)), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if line.startswith("netspec: ")), None)
    if start is None:
        kept = [line for line in lines if line.strip()][-5:]
        return "\n".join(kept) or None
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("Traceback")), len(lines))
    return "\n".join(lines[start:end]).rstrip() or None


def _metrics(folder: str) -> list[dict]:
    """metrics.csv's rows as numbers (epoch a whole number, None where empty or not finite)."""
    from ..errors import NetspecError

    try:
        rows = read_metrics(folder)
    except (NetspecError, ValueError, KeyError):
        return []
    out = []
    for row in rows:
        clean = {k: _number(row.get(k)) for k in ("epoch", "train_loss", "test_loss", "test_accuracy", "lr",
                                                   "seconds", "images_per_s")}
        clean["epoch"] = int(clean["epoch"]) if clean["epoch"] is not None else None
        out.append(clean)
    return out


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _is_run(folder: str, files) -> bool:
    names = set(files)
    return "metrics.csv" in names or {"last.pt", "spec.yaml"} <= names


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _stamp(path: str):
    try:
        s = os.stat(path)
        return s.st_mtime_ns, s.st_size
    except OSError:
        return None


def _signal(process: subprocess.Popen | None, sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
