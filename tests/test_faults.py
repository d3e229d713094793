"""Faults while training: SIGKILL at random moments and mid-write, a full disk or read-only folder mid-run,
bit-flipped checkpoints, Ctrl-C. After each, last.pt loads and --resume ends with an uninterrupted run's weights."""
import errno
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from PIL import Image
from torch.optim.optimizer import register_optimizer_step_post_hook

from netspec import atomic, checkpoint, rundir
from netspec.errors import NetspecError
from tests.helpers import ROOT, STEPS, run_cli
from tests.test_runner import RESUME_SPEC, metrics, same_weights, weights

# Dropout (the global RNG) and StepLR (state) must come back on resume; batches of 32 make an epoch long
# enough (some 45 steps) that a kill at a random moment lands inside one, not only between two.
SPEC = RESUME_SPEC.replace("batch_size: 64", "batch_size: 32")
EPOCHS = 6
FIGURES = ["epoch", "train_loss", "test_loss", "test_accuracy", "lr"]  # the columns that do not depend on time
FILES = {"spec.yaml", "best.pt", "last.pt", "metrics.csv", "curves.png"}

# What the faults did, for the record: `pytest -s` prints it at the end of the module.
REPORT: dict = {"sigkill": [], "torn writes": [], "write faults": [], "bit flips": {}, "ctrl-c": []}

# `python -c HARNESS NAME NTH ARGV...`: netspec's command line (as `python -m netspec ARGV`), killed by SIGKILL
# when its NTH write of checkpoint NAME has put half of the file into the temporary file beside it. Python's
# audit hooks log, to the file $FAULTS_LOG, each opening of a run file by its own name for writing ("in place")
# and each rename onto one ("renamed"), whatever code does it.
HARNESS = """\
import io, os, signal, sys, time
from netspec import checkpoint
from netspec.cli import main

log = open(os.environ["FAULTS_LOG"], "a", buffering=1)
RUN_FILES = {"spec.yaml", "metrics.csv", "last.pt", "best.pt", "curves.png"}

def audit(event, args):
    if event == "open" and isinstance(args[0], str) and os.path.basename(args[0]) in RUN_FILES:
        mode, flags = args[1], args[2]
        if set(mode or "") & set("wax+") or mode is None and flags & (os.O_WRONLY | os.O_RDWR):
            log.write(f"in place {os.path.basename(args[0])}\\n")
    elif event == "os.rename" and os.path.basename(str(args[1])) in RUN_FILES:
        log.write(f"renamed {os.path.basename(str(args[1]))}\\n")

sys.addaudithook(audit)
name, nth = sys.argv[1], int(sys.argv[2])
real, writes = checkpoint.atomic_write, []

def faulty(path, write):
    if os.path.basename(path) != name:
        return real(path, write)
    writes.append(path)
    if len(writes) != nth:
        return real(path, write)

    def half_then_kill(f):
        whole = io.BytesIO()
        write(whole)
        f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)
        sys.exit("SIGKILL did not arrive")
    real(path, half_then_kill)

checkpoint.atomic_write = faulty
sys.exit(main(sys.argv[3:]))
"""



def _ctrl_c_as_in_a_terminal():
    # A job started in the background inherits SIGINT ignored, and Python then keeps it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(tmp_path: Path, *argv: str, harness: tuple = (), steps: bool = False) -> subprocess.Popen:
    """`python -m netspec ARGV` (or the HARNESS with its two arguments, logging to tmp_path/NAME.log, or STEPS)
    as a separate process, its stdout a pipe of lines."""
    head = ["-c", HARNESS, *harness] if harness else ["-c", STEPS] if steps else ["-m", "netspec"]
    # Idle OpenMP threads sleep rather than spin: several runs at once on a few cores waste less time, and
    # the threads, and so the arithmetic, stay those of the uninterrupted run.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONPATH": str(ROOT)}
    if harness:
        env["FAULTS_LOG"] = str(tmp_path / f"{harness[0]}.log")
    return subprocess.Popen([sys.executable, *head, *argv], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_in_a_terminal)


def finish(proc: subprocess.Popen) -> str:
    """Kill the process if it still runs; its stderr."""
    if proc.poll() is None:
        proc.kill()
    return proc.communicate(timeout=60)[1]


def temporary_files(folder: Path) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


def error_lines(err: str) -> list[str]:
    """The message lines: errors, and the one line that says what Ctrl-C stopped (not an error)."""
    return [line for line in err.splitlines() if ": error: " in line or line.startswith("netspec: interrupted")]


def assert_clean_failure(code: int, out: str, err: str, expected_code: int = 1) -> str:
    """One clear error, no traceback: the error line."""
    assert code == expected_code, (code, err)
    assert "Traceback" not in out + err and "internal error" not in out + err, err
    lines = error_lines(err)
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("spec") / "faults.yaml"
    path.write_text(SPEC)
    return str(path)


@pytest.fixture(scope="module")
def whole(spec_file, tmp_path_factory) -> dict:
    """The uninterrupted run: its folder, the weights last.pt held after each epoch, and its optimizer steps."""
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    by_epoch, steps = {}, []
    real_save = checkpoint.save

    def keeping(path, payload):
        real_save(path, payload)
        if path.endswith("last.pt"):
            by_epoch[payload["epoch"]] = weights(io.BytesIO(Path(path).read_bytes()))
    counting = register_optimizer_step_post_hook(lambda *args: steps.append(1))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(checkpoint, "save", keeping)
            code, _, err = run_cli("train", spec_file, "--set", f"output.dir={run_dir}")
    finally:
        counting.remove()
    assert (code, err) == (0, "")
    assert len(steps) % EPOCHS == 0 and len(steps) // EPOCHS > 20  # an epoch long enough to land a kill inside
    assert sorted(by_epoch) == list(range(1, EPOCHS + 1))
    assert same_weights(by_epoch[EPOCHS], weights(run_dir / "last.pt"))
    accuracy = [float(r["test_accuracy"]) for r in metrics(run_dir)]
    assert accuracy[0] < accuracy[1] < accuracy[2]  # best.pt is written in epochs 1 to 3 (the faults below rely on it)
    return {"dir": run_dir, "weights": by_epoch, "rows": metrics(run_dir), "steps per epoch": len(steps) // EPOCHS}


def figures(rows: list[dict]) -> list[list[str]]:
    return [[r[k] for k in FIGURES] for r in rows]


def resume_to_the_end(run_dir: Path, whole: dict, done: int, epochs: int = EPOCHS) -> None:
    """--resume finishes the run, removes any temporary file a fault left, and ends with the weights and
    metrics of the uninterrupted run."""
    code, out, err = run_cli("train", "--resume", str(run_dir), "--set", f"train.epochs={epochs}")
    assert (code, err) == (0, ""), err
    if done < epochs:
        assert f"epoch {done + 1}/{epochs}" in out and f"epoch {epochs}/{epochs}" in out
        assert f"epoch {done}/{epochs}" not in out
    assert same_weights(weights(run_dir / "last.pt"), whole["weights"][epochs])
    assert figures(metrics(run_dir)) == figures(whole["rows"][:epochs])
    assert checkpoint.load(str(run_dir / "best.pt"))["epoch"] <= epochs
    assert set(os.listdir(run_dir)) == FILES


# SIGKILL ------------------------------------------------------------------------------------------------------


def kill_at(proc: subprocess.Popen, moment: int | None, sig: int = signal.SIGKILL) -> int | None:
    """Read a STEPS run's stdout and send it `sig` at `moment`: None, as soon as it says where it trains (its
    folder made, no checkpoint written yet); n, just after its n-th optimizer step. The steps it was signalled
    after, or None when it ended first."""
    steps = 0
    for line in proc.stdout:
        steps += line == "step\n"
        if line.startswith("training ") if moment is None else steps == moment:
            proc.send_signal(sig)
            return steps
    return None


def test_sigkill_at_random_moments_leaves_a_loadable_last_pt_and_resume_ends_as_an_uninterrupted_run(
        tmp_path, spec_file, whole):
    """Four runs killed with SIGKILL: one as soon as it says where it trains (before any checkpoint: --resume is
    refused clearly, and training again works), three just after seeded-random optimizer steps of epochs 2
    to 5, one of them an epoch's last (its test pass and checkpoint writes follow). Each was killed before it
    ended; each last.pt loads, holds an epoch of the uninterrupted run exactly, and --resume finishes with the
    uninterrupted run's weights and metrics. The kills follow the runs' own steps, not the clock: a busy
    machine only slows them."""
    rng, per = random.Random(1802), whole["steps per epoch"]
    epochs = sorted(rng.sample(range(1, EPOCHS - 1), 3))  # a kill within epoch e + 1 <= 5: the run is not over
    moments = [None] + [e * per + rng.randint(1, per) for e in epochs[:2]] + [(epochs[2] + 1) * per]
    runs = [tmp_path / f"killed{i}" for i in range(len(moments))]
    procs = [spawn(tmp_path, "train", spec_file, "--set", f"output.dir={run}", steps=True) for run in runs]
    with ThreadPoolExecutor(len(procs)) as pool:
        try:
            killed_after = list(pool.map(kill_at, procs, moments, timeout=300))
        finally:
            errs = [finish(proc) for proc in procs]
    for proc, err, moment, after in zip(procs, errs, moments, killed_after):
        assert proc.returncode == -signal.SIGKILL and after is not None, err  # killed while it trained
        assert after == (moment or 0)

    for run, moment in zip(runs, moments):
        leftovers = temporary_files(run)
        if not (run / "last.pt").exists():
            # Killed before the first checkpoint: nothing to resume, and netspec says so; training again works.
            code, out, err = run_cli("train", "--resume", str(run))
            line = assert_clean_failure(code, out, err, expected_code=2)
            assert line.endswith(f"error: no such checkpoint: {run / 'last.pt'}"), err
            code, out, err = run_cli("train", spec_file, "--set", f"output.dir={run}")
            assert (code, err) == (0, "")
            again = Path(out.splitlines()[-1].removeprefix("run folder: "))
            assert same_weights(weights(again / "last.pt"), whole["weights"][EPOCHS])
            REPORT["sigkill"].append({"moment": moment, "last.pt epoch": None, "leftovers": leftovers,
                                      "outcome": "no checkpoint yet: resume refused, trained again"})
            continue
        ckpt = checkpoint.load(str(run / "last.pt"))  # never torn, never refused
        done = ckpt["epoch"]
        # every epoch that ended before the kill's step is saved; the last epoch is not: the run was cut short
        assert ((moment or 1) - 1) // per <= done < EPOCHS and same_weights(ckpt["state_dict"], whole["weights"][done])
        resume_to_the_end(run, whole, done)
        REPORT["sigkill"].append({"moment": moment, "last.pt epoch": done, "leftovers": leftovers,
                                  "outcome": "resumed to the uninterrupted weights"})
    assert len(REPORT["sigkill"]) == len(moments)


@pytest.fixture(scope="module")
def torn(tmp_path_factory, spec_file) -> dict:
    """Two runs killed by SIGKILL in the middle of epoch 3's write of last.pt, of best.pt (both at once):
    name -> (run folder, exit status, stderr)."""
    tmp = tmp_path_factory.mktemp("torn")
    names = ("last.pt", "best.pt")
    procs = {name: spawn(tmp, "train", spec_file, "--set", f"output.dir={tmp / name}", harness=(name, "3"))
             for name in names}
    try:
        for proc in procs.values():
            proc.wait(timeout=120)
    finally:
        errs = {name: finish(proc) for name, proc in procs.items()}
    return {name: (tmp / name, procs[name].returncode, errs[name]) for name in names}


@pytest.mark.parametrize("name", ["last.pt", "best.pt"])
def test_sigkill_in_the_middle_of_a_checkpoint_write_keeps_the_previous_one(torn, whole, name):
    """A SIGKILL while epoch 3's checkpoint is half written (made repeatable: the process kills itself
    there): the torn bytes are only in a temporary file beside it; last.pt and best.pt load and hold
    epoch 2 (or best.pt epoch 3, written before last.pt); --resume removes the temporary file and ends
    with the uninterrupted run's weights."""
    run, code, err = torn[name]
    assert code == -signal.SIGKILL, err

    leftovers = temporary_files(run)
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{name}.")
    torn_bytes = (run / leftovers[0]).stat().st_size
    assert 0 < torn_bytes < (whole["dir"] / name).stat().st_size
    last = checkpoint.load(str(run / "last.pt"))
    assert last["epoch"] == 2 and same_weights(last["state_dict"], whole["weights"][2])
    assert checkpoint.load(str(run / "best.pt"))["epoch"] == (2 if name == "best.pt" else 3)
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2]

    resume_to_the_end(run, whole, 2)
    assert not temporary_files(run)
    assert same_weights(weights(run / "best.pt"), weights(whole["dir"] / "best.pt"))
    REPORT["torn writes"].append({"file": name, "torn bytes": torn_bytes, "leftover": leftovers[0],
                                  "last.pt epoch after the kill": 2})


def test_run_files_are_never_written_in_place_only_renamed_over_the_old_ones(torn):
    """Why a kill at any moment leaves the old file or the new one: no run file is ever opened for writing by
    its own name (a copy over it, or a write in place, would leave it torn); each is written beside and
    renamed over the old one. Seen from outside netspec's code, by Python's audit hooks, in the runs above."""
    for name, (run, _, _) in torn.items():
        log = (run.parent / f"{name}.log").read_text().splitlines()
        assert not [line for line in log if line.startswith("in place")], log
        renamed = Counter(line.removeprefix("renamed ") for line in log)
        # epochs 1 and 2 whole, and epoch 3 up to the kill: best.pt improves in epochs 1 to 3
        assert renamed["spec.yaml"] == 1 and renamed["metrics.csv"] == 2 and renamed["curves.png"] >= 1, log
        assert (renamed["last.pt"], renamed["best.pt"]) == ((2, 3) if name == "last.pt" else (2, 2)), log


# A full disk, a read-only folder ------------------------------------------------------------------------------


def _enospc_while_writing(real, path, write):
    """The disk fills up in the middle of the file: half of it is written, then ENOSPC."""
    def half_then_full(f):
        whole = io.BytesIO()
        write(whole)
        f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")
    real(path, half_then_full)


def _refused_at_create(error):
    def fault(real, path, write):
        """The folder refuses the temporary file (read-only, or no permission)."""
        def mkstemp(**kwargs):
            raise error
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(atomic, "tempfile", types.SimpleNamespace(mkstemp=mkstemp))
            real(path, write)
    return fault


def break_writes_after_epoch_1(monkeypatch, fault, only: str | None = None) -> list[str]:
    """Once epoch 1's files are written (its metrics.csv), every write of netspec's run files (or of `only`)
    meets `fault`; the paths it failed on are returned (the list fills as the run goes)."""
    real = atomic.atomic_write
    failed: list[str] = []
    broken = [False]

    def write(path, content):
        name = os.path.basename(path)
        if broken[0] and (only is None or name == only):
            failed.append(path)
            return fault(real, path, content)
        real(path, content)
        broken[0] = broken[0] or name == "metrics.csv"
    monkeypatch.setattr(checkpoint, "atomic_write", write)
    monkeypatch.setattr(rundir, "atomic_write", write)
    return failed


@pytest.mark.parametrize("fault, reason", [
    (_enospc_while_writing, "No space left on device"),
    (_refused_at_create(OSError(errno.EROFS, "Read-only file system")), "Read-only file system"),
    (_refused_at_create(PermissionError(errno.EACCES, "Permission denied")), "Permission denied"),
], ids=["full disk", "read-only folder", "no permission"])
def test_a_checkpoint_that_cannot_be_written_mid_run_is_a_clear_error_that_keeps_the_previous_one(
        tmp_path, spec_file, whole, monkeypatch, fault, reason):
    """From epoch 2 on no file can be written: train stops with exit 1 and one error that names the file,
    the reason, that the previous checkpoint is kept and how to go on; no traceback, no temporary file;
    last.pt and best.pt hold epoch 1 exactly; once the fault is gone, --resume ends as an uninterrupted run."""
    run = tmp_path / "faulty"
    failed = break_writes_after_epoch_1(monkeypatch, fault)
    code, out, err = run_cli("train", spec_file, "--set", f"output.dir={run}", "--set", "train.epochs=3")
    line = assert_clean_failure(code, out, err)
    # epoch 2 improves on epoch 1, so best.pt is its first write
    assert failed == [str(run / "best.pt")]
    assert line.endswith(f"error: cannot write the checkpoint {run / 'best.pt'}: {reason}; "
                         "the previous checkpoint is kept"), err
    assert (f"  hint: free some disk space or make the run folder writable, then go on with "
            f"`netspec train --resume {run}`") in err.splitlines()
    assert "epoch 1/3" in out and "epoch 2/3" not in out

    assert set(os.listdir(run)) == FILES  # no temporary file left behind
    for name in ("last.pt", "best.pt"):
        ckpt = checkpoint.load(str(run / name))
        assert ckpt["epoch"] == 1 and same_weights(ckpt["state_dict"], whole["weights"][1])
    assert [int(r["epoch"]) for r in metrics(run)] == [1]

    monkeypatch.undo()
    resume_to_the_end(run, whole, 1, epochs=3)
    REPORT["write faults"].append({"fault": reason, "failed": [os.path.basename(p) for p in failed],
                                   "kept": "epoch 1"})


def test_metrics_csv_that_cannot_be_written_mid_run_is_a_clear_error_that_keeps_the_previous_one(
        tmp_path, spec_file, whole, monkeypatch):
    """The disk fills while epoch 2's metrics.csv is written (its checkpoints were written): exit 1, one error
    that names metrics.csv and says the previous files are kept, no traceback, no temporary file; metrics.csv
    keeps epoch 1's row, last.pt holds epoch 2; --resume rewrites the metrics and ends as an uninterrupted run."""
    run = tmp_path / "faulty"
    failed = break_writes_after_epoch_1(monkeypatch, _enospc_while_writing, only="metrics.csv")
    code, out, err = run_cli("train", spec_file, "--set", f"output.dir={run}", "--set", "train.epochs=3")
    line = assert_clean_failure(code, out, err)
    assert failed == [str(run / "metrics.csv")]
    assert line.endswith(f"error: cannot write {run / 'metrics.csv'}: No space left on device; "
                         "the previous files are kept"), err
    assert "  hint: free some disk space or make the folder writable; a run folder that holds last.pt goes on " \
           "with `netspec train --resume FOLDER`" in err.splitlines()

    assert set(os.listdir(run)) == FILES
    assert [int(r["epoch"]) for r in metrics(run)] == [1]
    ckpt = checkpoint.load(str(run / "last.pt"))
    assert ckpt["epoch"] == 2 and same_weights(ckpt["state_dict"], whole["weights"][2])

    monkeypatch.undo()
    resume_to_the_end(run, whole, 2, epochs=3)
    REPORT["write faults"].append({"fault": "No space left on device (metrics.csv only)",
                                   "failed": ["metrics.csv"], "kept": "metrics of epoch 1; last.pt of epoch 2"})


# Bit flips ----------------------------------------------------------------------------------------------------

REFUSALS = {  # what a damaged file may be refused as, by the message's words
    "checksum": "is damaged: what it holds no longer matches the checksum written with it",
    "unreadable": "is damaged or cut short (an interrupted copy?) and cannot be read",
    "code": "was refused: it holds Python objects or code, which a netspec checkpoint never does",
    "not a checkpoint": "is not a netspec checkpoint",
}


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    """last.pt of a one-epoch Flatten + Linear(10) run on the digits (some 17 KB)."""
    tmp = tmp_path_factory.mktemp("small")
    spec = {"netspec": 1, "name": "small", "model": {"input": [1, 8, 8], "layers": ["Flatten", {"Linear": 10}]},
            "data": {"dataset": "digits", "batch_size": 64},
            "train": {"epochs": 1, "optimizer": {"Adam": {"lr": 0.01}}, "device": "cpu"},
            "output": {"tensorboard": False, "dir": str(tmp / "run")}}
    (tmp / "small.yaml").write_text(yaml.safe_dump(spec))
    code, _, err = run_cli("train", str(tmp / "small.yaml"))
    assert (code, err) == (0, "")
    return tmp / "run" / "last.pt"


def refusal(message: str, path: Path) -> str | None:
    if not message.startswith(f"{path} "):
        return None
    return next((kind for kind, words in REFUSALS.items() if words in message), None)


def test_a_bit_flipped_anywhere_in_a_checkpoint_is_refused_or_harmless(small_checkpoint, tmp_path):
    """Single bits flipped at seeded-random positions (every byte of the file under --long): each flipped
    file is either refused by checkpoint.load with one of the known messages (no other exception escapes),
    or it loads with exactly the original contents (a bit the zip reader never looks at). The command line
    refuses each kind of damaged file with exit 1 and one clear error, never a traceback."""
    original = small_checkpoint.read_bytes()
    good = checkpoint.load(str(small_checkpoint))
    rng = random.Random(17)
    if os.environ.get("NETSPEC_TEST_LONG"):
        positions = [8 * byte + rng.randrange(8) for byte in range(len(original))]
    else:
        positions = sorted(rng.sample(range(8 * len(original)), 300))
    flipped = tmp_path / "flipped.pt"
    outcomes: dict = {"harmless": 0, **{kind: 0 for kind in REFUSALS}}
    first_of_kind: dict = {}
    odd = []
    for bit in positions:
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        flipped.write_bytes(data)
        try:
            ckpt = checkpoint.load(str(flipped))
        except NetspecError as e:
            kind = refusal(e.problems[0].message, flipped) if len(e.problems) == 1 else None
            if kind is None:
                odd.append((bit, f"refused with an unknown message: {e}"))
                continue
            outcomes[kind] += 1
            first_of_kind.setdefault(kind, bit)
        except Exception as e:  # anything but a NetspecError is a failure to refuse cleanly
            odd.append((bit, f"{type(e).__name__}: {e}"))
        else:
            if not (same_weights(ckpt["state_dict"], good["state_dict"]) and ckpt["metrics"] == good["metrics"]
                    and checkpoint.digest(ckpt) == checkpoint.digest(good)):
                odd.append((bit, "loaded with other contents"))
                continue
            outcomes["harmless"] += 1
    assert not odd, odd[:10]
    assert sum(outcomes.values()) == len(positions)
    assert outcomes["checksum"] > 0 and outcomes["unreadable"] > 0  # flips in the tensors and in the zip structure
    REPORT["bit flips"] = {"file bytes": len(original), "flips": len(positions), **outcomes}

    image = tmp_path / "digit.png"
    Image.new("L", (8, 8), 0).save(image)
    for kind, bit in sorted(first_of_kind.items()):
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        path = tmp_path / f"{kind.replace(' ', '-')}.pt"
        path.write_bytes(data)
        for argv in (("eval", str(path)), ("predict", str(path), str(image))):
            code, out, err = run_cli(*argv)
            line = assert_clean_failure(code, out, err)
            assert out == "" and line.startswith(f"netspec: error: {path} ") and REFUSALS[kind] in line, err
            assert "  hint: " in err


def test_the_first_bytes_of_a_checkpoint_flipped_are_refused_as_not_a_checkpoint(small_checkpoint, tmp_path):
    """A flip in the zip signature (the first 4 bytes, which the random sample rarely hits) is refused as not a
    netspec checkpoint."""
    original = small_checkpoint.read_bytes()
    for bit in range(32):
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        path = tmp_path / "magic.pt"
        path.write_bytes(data)
        with pytest.raises(NetspecError) as caught:
            checkpoint.load(str(path))
        assert refusal(str(caught.value), path) == "not a checkpoint"


# Ctrl-C -------------------------------------------------------------------------------------------------------

INTERRUPTED = re.compile(r"netspec: interrupted: (\d+) epochs? finished and saved in (.+)")


def test_ctrl_c_during_an_epoch_stops_with_a_consistent_checkpoint_and_says_how_to_resume(tmp_path, spec_file,
                                                                                           whole):
    """SIGINT while epoch 2 trains (sent just after its middle optimizer step): exit 130, one message with
    the number of epochs saved (that of last.pt) and `netspec train --resume RUN`, no traceback; last.pt
    loads; --resume ends with the uninterrupted run's weights."""
    run, per = tmp_path / "ctrl-c", whole["steps per epoch"]
    proc = spawn(tmp_path, "train", spec_file, "--set", f"output.dir={run}", steps=True)
    try:
        assert kill_at(proc, per + per // 2, signal.SIGINT) == per + per // 2
        proc.wait(timeout=60)
    finally:
        err = finish(proc)
    line = assert_clean_failure(proc.returncode, "", err, expected_code=130)
    said = INTERRUPTED.fullmatch(line)
    assert said and said[2] == str(run), err
    assert f"  hint: go on with `netspec train --resume {run}`" in err.splitlines()
    assert not temporary_files(run)
    ckpt = checkpoint.load(str(run / "last.pt"))
    done = ckpt["epoch"]
    assert int(said[1]) == done and 1 <= done < EPOCHS
    assert same_weights(ckpt["state_dict"], whole["weights"][done])
    resume_to_the_end(run, whole, done)
    REPORT["ctrl-c"].append({"when": "during epoch 2", "saved": done, "said": int(said[1])})


@pytest.fixture
def ctrl_c_in_a_write(tmp_path, spec_file, monkeypatch) -> tuple[Path, int, str, str]:
    """A run that receives a real SIGINT while epoch 2's last.pt is half written: (folder, code, out, err)."""
    run, real, writes = tmp_path / "ctrl-c", atomic.atomic_write, []

    def faulty(path, write):
        if os.path.basename(path) == "last.pt":
            writes.append(path)
        if len(writes) != 2:
            return real(path, write)

        def half_then_ctrl_c(f):
            whole = io.BytesIO()
            write(whole)
            f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(60)  # the KeyboardInterrupt of SIGINT is raised in here
            raise AssertionError("SIGINT did not arrive")
        real(path, half_then_ctrl_c)
    monkeypatch.setattr(checkpoint, "atomic_write", faulty)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a terminal
    try:
        code, out, err = run_cli("train", spec_file, "--set", f"output.dir={run}")
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    assert writes == [str(run / "last.pt")] * 2
    return run, code, out, err


def test_ctrl_c_in_the_middle_of_a_checkpoint_write_keeps_the_previous_one(ctrl_c_in_a_write, whole):
    """SIGINT while epoch 2's last.pt is half written: exit 130 with the resume hint and no traceback; the
    temporary file is removed; last.pt holds epoch 1 exactly; --resume ends as an uninterrupted run."""
    run, code, out, err = ctrl_c_in_a_write
    line = assert_clean_failure(code, out, err, expected_code=130)
    assert "epoch 1/6" in out and "epoch 2/6" not in out
    assert INTERRUPTED.fullmatch(line) and INTERRUPTED.fullmatch(line)[2] == str(run), err
    assert f"  hint: go on with `netspec train --resume {run}`" in err.splitlines()
    assert set(os.listdir(run)) == FILES  # the half-written temporary file is gone
    ckpt = checkpoint.load(str(run / "last.pt"))
    assert ckpt["epoch"] == 1 and same_weights(ckpt["state_dict"], whole["weights"][1])
    assert [int(r["epoch"]) for r in metrics(run)] == [1]
    resume_to_the_end(run, whole, 1)
    REPORT["ctrl-c"].append({"when": "writing epoch 2's last.pt", "saved": 1,
                             "said": int(INTERRUPTED.fullmatch(line)[1])})


def test_ctrl_c_in_the_middle_of_a_checkpoint_write_says_how_many_epochs_are_really_saved(ctrl_c_in_a_write):
    """The interruption message counts the epochs that last.pt holds: 1 when epoch 2's write was cut."""
    run, code, _, err = ctrl_c_in_a_write
    assert code == 130
    assert f"netspec: interrupted: 1 epoch finished and saved in {run}" in err.splitlines(), err
    assert "error:" not in err and "1 error" not in err


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    for key, value in REPORT.items():
        print(f"\n{key}: {value}")


def test_a_disk_that_fills_up_inside_torch_save_is_a_clear_error_not_an_internal_one(tmp_path, spec_file):
    """A real short write (RLIMIT_FSIZE: the file may grow to 8 KiB, a checkpoint is about 20 KiB): torch's
    zip writer would fail with a RuntimeError; netspec serialises first, so the write's OSError is what
    the user sees."""
    run = tmp_path / "run"
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))\n"
            "from netspec.cli import main\n"
            f"sys.exit(main(['train', {spec_file!r}, '--set', 'output.dir={run}', '--set', 'train.epochs=2']))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert f"error: cannot write the checkpoint {run / 'best.pt'}: File too large; it was not written" \
        in done.stderr, done.stderr
    assert sorted(p.name for p in run.iterdir()) == ["spec.yaml"]  # and no torn temporary file
