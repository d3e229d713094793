"""Run stage: train a checked spec on its data and device, with checkpoints, metrics and resume."""
from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import TextIO

import torch

from . import __version__, checkpoint, distributed, imagestats, rundir
from . import overrides as ov
from .atomic import remove_leftovers
from .catalog import DATA_DEFAULTS, PER_BATCH_SCHEDULERS, resolved
from .compiler import check
from .errors import NetspecError, Problem, UsageError, first_line
from .evaluation import run_eval, targets
from .fastdata import loaders
from .guard import gpu_problem
from .i18n import _
from .loader import Document, load
from .objectives import make_loss, make_optimizer, make_scheduler, sums
from .render import problem_text


@dataclass
class History:
    """What a training run did: its folder and one row of figures per epoch."""

    run_dir: str
    epochs: list[dict] = field(default_factory=list)
    best: float | None = None
    stopped_early: bool = False


class Trainer:
    """One training run: the objects it needs, built once, and the loop over epochs.

    Under torchrun (WORLD_SIZE > 1) it is one rank of a data-parallel run: see distributed.py."""

    def __init__(self, doc: Document, device: str | None, resume: str | None, stream: TextIO | None,
                 max_params: int | None = None, errors: TextIO | None = None, progress: str = "auto"):
        from .data import check_fits, load_data
        from .progress import JsonProgress, Progress

        report = check(doc, max_params, device, allocate=True)
        if not report.valid:
            raise (UsageError if report.exit_code == 2 else NetspecError)(report.errors)
        stem = os.path.splitext(os.path.basename(doc.file))[0]
        self.spec = resolved(doc.data, stem if stem and not stem.startswith("<") else "run")
        tr, dt = self.spec["train"], self.spec["data"]
        self.world = distributed.from_env()
        if self.world.main:  # the guard is off on this machine: said by train as by check
            for w in (w for w in report.warnings if w.code == "memory"):
                (errors or sys.stderr).write(problem_text(w, doc, "warning") + "\n")
        self.device = self._device(report, device, max_params)
        torch.manual_seed(tr["seed"])
        if not self.world.main:
            self.world.barrier()  # rank 0 loads first: a `download: true` happens once
        self.data = load_data(dt, report.input.shape, report.input.dtype)
        if self.world.main:
            self.world.barrier()
        check_fits(report, self.data, tr["loss"])
        self.data_stats = imagestats.of_dataset(self.data.test, report.input.shape)  # for predict's warnings
        self._build(report)
        # reseeded every epoch: the data order and batched augmentation, and the loader workers' seeds
        self.generator, self.worker_seeds = torch.Generator(), torch.Generator()
        self.loader, self.test_loader = loaders(self.data, dt, self.device, self.generator, self.worker_seeds,
                                                 self.world)
        self.sched_name, self.scheduler = make_scheduler(tr.get("scheduler"), self.optimizer, len(self.loader),
                                                          tr["epochs"])
        amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(tr["precision"])
        self.autocast = partial(torch.autocast, self.device.type, dtype=amp) if amp else nullcontext
        self.scaler = torch.amp.GradScaler(self.device.type) if tr["precision"] == "fp16" else None
        self.rows: list[dict] = []
        self.start = self.saved = 0  # the epoch training starts after; the one last.pt holds
        self.watched, self.waited = None, 0  # early_stop's best figure, and the epochs since it improved
        self.best = None
        self._open_run_dir(resume)
        shown = stream if self.world.main else None
        self.progress = JsonProgress(shown, tr["epochs"], errors or sys.stderr) if progress == "json" else \
            Progress(shown, tr["epochs"])
        self.writer = self._tensorboard() if self.world.main else None

    def _device(self, report, device: str | None, max_params: int | None) -> torch.device:
        """The device this process trains on, its threads, its memory guard and, under torchrun, its
        process group."""
        from .device import resolve_device

        tr, dt = self.spec["train"], self.spec["data"]
        dev = resolve_device(device or tr["device"], f"--device {device}" if device else ("train", "device"))
        if dt["batch_size"] % self.world.size:
            raise NetspecError(_indivisible(dt["batch_size"], self.world.size))
        if dev.type == "cuda" and self.world.distributed and self.world.local_size > torch.cuda.device_count():
            gpus = torch.cuda.device_count()
            raise NetspecError(Problem(
                _("{processes} processes on this machine train on CUDA, one GPU each, but it has {gpus}",
                  processes=self.world.local_size, gpus=gpus), ("train", "device"),
                (_("start at most {processes} per machine ({options})", processes=_processes(gpus),
                   options="--nproc / --nproc-per-node"),)))
        if not os.environ.get("OMP_NUM_THREADS"):  # a user's own thread setting wins
            torch.set_num_threads(distributed.cpu_threads(self.world))
        dev = distributed.start(self.world, dev)  # cuda:LOCAL_RANK under torchrun
        too_big = gpu_problem(report, dev, dt["batch_size"] // self.world.size, max_params)
        if too_big:
            raise NetspecError(too_big)
        return dev

    def _build(self, report) -> None:
        """The model (wrapped in DistributedDataParallel on several ranks), its loss and optimizer."""
        from .builder import build_network

        tr = self.spec["train"]
        self.model = build_network(report.layers, report.input).to(self.device)
        if tr["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        wrapped = self.model
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            wrapped = DistributedDataParallel(self.model, device_ids=[self.device] if self.device.type == "cuda"
                                              else None)
        self.forward = torch.compile(wrapped) if tr["compile"] else wrapped
        self.evaluate = self.model if self.world.distributed else self.forward  # the same on every rank
        self.loss_name, self.loss_fn = make_loss(tr["loss"])
        self.loss_fn = self.loss_fn.to(self.device)
        self.optimizer = make_optimizer(tr["optimizer"], self.model.parameters())

    def _open_run_dir(self, resume: str | None) -> None:
        """The run folder: rank 0 chooses and writes it, the other ranks learn its name."""
        if resume:
            self.run_dir = self.spec["output"]["dir"] = resume
            if self.world.main:
                remove_leftovers(resume, ("last.pt", "best.pt", "metrics.csv", "spec.yaml"))
            # rank 0 reads it and hands it to the others: every rank goes on from the same epoch and weights
            self._restore(self.world.from_main(checkpoint.load(os.path.join(resume, "last.pt"))
                                               if self.world.main else None))
            return
        if self.world.main:
            self.run_dir = rundir.choose(self.spec["output"]["dir"])
            self.spec["output"]["dir"] = self.run_dir
            rundir.prepare(self.run_dir)
            rundir.write_spec(self.run_dir, self.spec)
        self.run_dir = self.spec["output"]["dir"] = self.world.from_main(self.run_dir if self.world.main else None)

    def _restore(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler"):
            planned = getattr(self.scheduler, "total_steps", None)
            self.scheduler.load_state_dict(ckpt["scheduler"])
            if planned is not None and self.scheduler.total_steps != planned:  # OneCycleLR: a fixed plan
                raise NetspecError(Problem(
                    _("{scheduler}'s schedule was planned for {steps} steps and cannot go on to the {planned} of "
                      "train.epochs {epochs}", scheduler=self.sched_name, steps=self.scheduler.total_steps,
                      planned=planned, epochs=self.spec["train"]["epochs"]), ("train", "epochs"),
                    (_("train a new run with the epochs you want"),)))
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and ckpt["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        self.rows, self.start, self.best = list(ckpt["metrics"]), ckpt["epoch"], ckpt.get("best")
        self.watched, self.waited = ckpt.get("watched"), ckpt.get("waited", 0)
        self.saved = self.start
        if self.world.main:
            rundir.write_metrics(self.run_dir, self.rows)  # drops the rows of an epoch cut short

    def _tensorboard(self):
        if not self.spec["output"]["tensorboard"]:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(self.run_dir, purge_step=self.start + 1 if self.start else None)

    def run(self) -> History:
        tr = self.spec["train"]
        history = History(self.run_dir, self.rows, self.best)
        stop = tr.get("early_stop")
        for epoch in range(self.start + 1, tr["epochs"] + 1):
            row = self._epoch(epoch)
            self._save(epoch, row)
            self.progress.epoch(row)
            if stop and self.waited >= stop["patience"]:
                self.progress.say(_("stopping early: no improvement for {epochs}", epochs=_epochs(self.waited)))
                history.stopped_early = True
                break
        history.best = self.best
        if self.world.main:
            self._curves(force=True)
        self._summary()
        self.progress.end()
        if self.writer:
            self.writer.close()
        self.world.barrier()  # every rank ends together
        return history

    def _curves(self, force: bool) -> None:
        """curves.png in the run folder: after the last epoch, and after others when drawing has taken at
        most 2% of the time since the last picture (curves_due); never twice for the same epochs."""
        import time

        if not self.rows or not force and not curves_due(time.monotonic() - getattr(self, "_drawn", -1e9),
                                                         getattr(self, "_draw_s", 0.0)):
            return
        if getattr(self, "_drawn_rows", None) == len(self.rows):  # the picture already shows every epoch
            return
        from .plots import curves

        took = time.perf_counter()
        curves([(self.spec["name"], self.rows)], os.path.join(self.run_dir, "curves.png"))
        self._draw_s = time.perf_counter() - took
        self._drawn, self._drawn_rows = time.monotonic(), len(self.rows)

    def _summary(self) -> None:
        """One line at the end: the best epoch's figure and where its checkpoint is."""
        if not self.rows:
            return
        row = max(self.rows, key=lambda r: _score(r, "test_accuracy"))
        path = os.path.join(self.run_dir, "best.pt")
        self.progress.say(_("best test accuracy {accuracy:.2f}% at epoch {epoch}; its checkpoint: {path}",
                            accuracy=100 * row["test_accuracy"], epoch=row["epoch"], path=path)
                          if row["test_accuracy"] is not None else
                          _("best test loss {loss:.4f} at epoch {epoch}; its checkpoint: {path}",
                            loss=row["test_loss"], epoch=row["epoch"], path=path))

    def _epoch(self, epoch: int) -> dict:
        t0 = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch trains at
        self.generator.manual_seed(self.spec["train"]["seed"] * 1_000_003 + epoch)  # the order of each epoch
        rank = self.world.rank  # each rank its own loader workers' seeds and dropout masks, the same on resume
        self.worker_seeds.manual_seed(self.spec["train"]["seed"] * 1_000_003 + epoch + 500_000 + 7_919 * rank)
        if self.world.distributed:
            torch.manual_seed(self.spec["train"]["seed"] * 1_000_003 + epoch + 1_000_000 * (rank + 1))
        train_loss, n = self._train_pass(epoch)
        train_s = time.perf_counter() - t0
        self.world.broadcast(*self.model.buffers())  # BatchNorm statistics: rank 0's, which the checkpoint holds
        result = run_eval(self.evaluate, self.test_loader, self.loss_fn, self.loss_name, len(self.data.classes),
                          self.device, self.autocast, self.world.all_sum)
        if self.scheduler is not None and self.sched_name not in PER_BATCH_SCHEDULERS:
            if self.sched_name == "ReduceLROnPlateau":
                self.scheduler.step(result["loss"])
            else:
                self.scheduler.step()
        return {"epoch": epoch, "train_loss": train_loss, "test_loss": result["loss"],
                "test_accuracy": result["accuracy"], "lr": lr,
                "seconds": round(time.perf_counter() - t0, 3), "images_per_s": round(n / max(train_s, 1e-9), 1)}

    def _train_pass(self, epoch: int) -> tuple[float, int]:
        self.model.train()
        clip = self.spec["train"].get("grad_clip")
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        bad = torch.full((), -1, device=self.device, dtype=torch.long)
        n, total, batch, world = 0, len(self.data.train), self.spec["data"]["batch_size"], self.world
        summed = sums(self.loss_fn)  # else a mean over the batch
        for i, (x, y) in enumerate(self.loader):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            if self.spec["train"]["channels_last"] and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                out = self.forward(x)
                loss = self.loss_fn(out, targets(y, out, self.loss_name))
            m = min(batch, total - i * batch)  # this step's global batch, and this rank's part of it
            share = world.share(m)
            self.optimizer.zero_grad(set_to_none=True)
            # DDP averages the ranks' gradients: weighted so, they are the whole batch's gradient
            self._step(loss * (world.size if summed else world.size * share / m) if world.distributed else loss,
                       clip)
            loss = loss.detach()
            loss_sum += loss.double() if summed else loss.double() * share  # the per-sample losses' sum
            bad = torch.where((bad < 0) & ~torch.isfinite(loss), i, bad)
            n += share
            if self.progress.due():
                self.progress.batch(epoch, i + 1, len(self.loader), (loss_sum / max(n, 1)).item(),
                                    self.optimizer.param_groups[0]["lr"])
            if i % 100 == 99 or i == len(self.loader) - 1:
                _stop_if_not_finite(bad, epoch, world)
        counted = torch.tensor(float(n), device=self.device, dtype=torch.float64)
        world.all_sum(loss_sum, counted)
        return (loss_sum / counted.clamp(min=1)).item(), int(counted.item())

    def _step(self, loss, clip) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if clip:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.optimizer.step()
        if self.scheduler is not None and self.sched_name in PER_BATCH_SCHEDULERS:
            self.scheduler.step()

    def _save(self, epoch: int, row: dict) -> bool:
        """last.pt every epoch, best.pt when the test accuracy (or, without one, the loss) improves."""
        self.rows.append(row)
        score = _score(row, "test_accuracy")
        improved = self.best is None or score > self.best
        self.best = score if improved else self.best
        watched = _score(row, (self.spec["train"].get("early_stop") or {}).get("monitor", "test_accuracy"))
        better = self.watched is None or watched > self.watched
        self.watched, self.waited = (watched, 0) if better else (self.watched, self.waited + 1)
        payload = {"format": checkpoint.FORMAT, "netspec_version": __version__,
                   "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                   "spec": self.spec, "classes": self.data.classes, "epoch": epoch,
                   "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                   "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                   "rng": {"torch": torch.get_rng_state(),
                           "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
                   "metrics": self.rows, "best": self.best, "watched": self.watched, "waited": self.waited,
                   "data_stats": self.data_stats}
        if self.world.main:
            self._write(epoch, row, payload, improved)
        self.world.barrier()  # the other ranks wait until the epoch is saved
        return improved

    def _write(self, epoch: int, row: dict, payload: dict, improved: bool) -> None:
        if improved:  # best.pt first: a kill between the two writes redoes this epoch and both files
            checkpoint.save(os.path.join(self.run_dir, "best.pt"), payload)
        checkpoint.save(os.path.join(self.run_dir, "last.pt"), payload)
        self.saved = epoch
        rundir.write_metrics(self.run_dir, self.rows)
        self._curves(force=False)
        if epoch == self.start + 1 and self.start:  # a resumed run keeps its --set (e.g. more epochs)
            rundir.write_spec(self.run_dir, self.spec)
        if self.writer:
            for key, tag in (("train_loss", "loss/train"), ("test_loss", "loss/test"),
                             ("test_accuracy", "accuracy/test"), ("lr", "lr")):
                if row[key] is not None:
                    self.writer.add_scalar(tag, row[key], epoch)
            self.writer.flush()


def curves_due(since: float, draw_s: float) -> bool:
    """Whether an epoch's end redraws curves.png, `since` seconds after the last picture, which took
    `draw_s` to draw. Drawing takes about half a second on a 2-core machine (the first, importing
    matplotlib, more than a second): a run of short epochs redraws every 5 s at most and keeps drawing
    within 2% of its time."""
    return since >= max(5.0, 50 * draw_s)


def _stop_if_not_finite(bad: torch.Tensor, epoch: int, world) -> None:
    if world.distributed:  # every rank stops together, at the first bad batch of any
        import torch.distributed as dist

        first = torch.where(bad < 0, torch.iinfo(torch.long).max, bad)
        dist.all_reduce(first, op=dist.ReduceOp.MIN)
        bad = torch.where(first == torch.iinfo(torch.long).max, -1, first)
    batch = int(bad.item())
    if batch >= 0:
        raise NetspecError(Problem(
            _("the loss became NaN or infinite in epoch {epoch}, batch {batch}; training stopped", epoch=epoch,
              batch=batch + 1),
            ("train", "optimizer"), (_("lower the learning rate in train.optimizer, or set train.grad_clip "
                                       "(e.g. 1.0)"),
                                     _("the checkpoints of the epochs before are kept"))))


def train(spec: str | dict | None = None, overrides: list[str] | tuple = (), device: str | None = None,
          resume: str | None = None, stream: TextIO | None = None, max_params: int | None = None,
          errors: TextIO | None = None, progress: str = "auto") -> History:
    """Train a spec (path or dict), or resume the run in folder `resume`; returns the History. `progress`
    "json" writes JSON lines to `stream` instead of lines for a person (see progress.JsonProgress)."""
    doc = _document(spec, overrides, resume)
    try:
        return _train(doc, device, resume, stream, max_params, errors, progress)
    except Interrupted:
        raise
    except NetspecError as e:  # located in the spec where the problem has a place there (not a full disk)
        e.problems, e.doc = [doc.place(p) if p.path else p for p in e.problems], e.doc or doc
        raise
    except (torch.OutOfMemoryError, MemoryError) as e:  # the guard's estimate is a lower bound: it can still happen
        raise _out_of_memory(e, doc) from None
    except Exception as e:  # under torchrun: another rank died, so a collective failed here
        if not _peer_failure(e):
            raise
        raise NetspecError(Problem(_("another process of this run stopped, so this one stops too"))) from None
    finally:
        distributed.stop(distributed.from_env())


def _document(spec, overrides, resume: str | None) -> Document:
    """The spec to train, with its --set overrides: a file, a dict, or a run folder's spec.yaml."""
    if resume:
        if not os.path.isfile(os.path.join(resume, "spec.yaml")):
            raise NetspecError(Problem(_("{folder} is not a run folder: it has no spec.yaml", folder=resume),
                                       hints=(_("--resume takes the folder that `netspec train` printed"),)))
        doc = load(os.path.join(resume, "spec.yaml"))
    elif spec is None:
        raise NetspecError(Problem(_("train needs a spec or --resume RUN_DIR")))
    else:
        doc = load(spec) if isinstance(spec, str) else Document(spec, "<dict>")
    return ov.apply(doc, list(overrides))


def preflight(spec, overrides, device: str | None, resume: str | None, max_params: int | None, nproc: int) -> None:
    """What `--nproc N` checks once, before it starts N processes that would each say it: the spec, and
    that N divides the global batch."""
    doc = _document(spec, overrides, resume)
    report = check(doc, max_params, device, allocate=True)
    batch = resolved(doc.data, "run")["data"]["batch_size"] if report.valid and "data" in doc.data else 0
    problems = report.errors or ([doc.place(_indivisible(batch, nproc))] if batch % nproc else [])
    if problems:
        error = NetspecError(problems)
        error.doc = doc
        raise error


def _indivisible(batch: int, size: int) -> Problem:
    return Problem(_("data.batch_size {batch} is the global batch, split across the {processes} processes, and "
                     "{processes} does not divide it", batch=batch, processes=size), ("data", "batch_size"),
                   (_("use a multiple of {processes}, e.g. {batch}", processes=size,
                      batch=batch // size * size or size),))


def _peer_failure(e: Exception) -> bool:
    import torch.distributed as dist

    return distributed.from_env().distributed and (isinstance(e, dist.DistError) or
                                                   any(w in str(e).lower() for w in ("gloo", "nccl")))


def _train(doc: Document, device, resume, stream, max_params, errors, progress) -> History:
    trainer = Trainer(doc, device, resume, stream, max_params, errors, progress)
    trainer.progress.start(trainer.run_dir, trainer.start + 1)
    if trainer.start >= trainer.spec["train"]["epochs"]:
        trainer.progress.say(_("{folder} has already trained {done} of {epochs} epochs; to train more, add {option}",
                               folder=trainer.run_dir, done=trainer.start, epochs=trainer.spec["train"]["epochs"],
                               option="--set train.epochs=N"))
        trainer.progress.end()
        return History(trainer.run_dir, trainer.rows, trainer.best)
    world = trainer.world
    if world.distributed:
        trainer.progress.say(_("training {name} on {processes} processes ({device}) into {folder}",
                               name=trainer.spec["name"], processes=world.size, device=trainer.device.type,
                               folder=trainer.run_dir))
    elif trainer.start:
        trainer.progress.say(_("resuming {name} after epoch {epoch} of {epochs}, on {device}, in {folder}",
                               name=trainer.spec["name"], epoch=trainer.start, epochs=trainer.spec["train"]["epochs"],
                               device=str(trainer.device), folder=trainer.run_dir))
    else:
        trainer.progress.say(_("training {name} on {device} into {folder}", name=trainer.spec["name"],
                               device=str(trainer.device), folder=trainer.run_dir))
    try:
        return trainer.run()
    except (torch.OutOfMemoryError, MemoryError) as e:
        raise _out_of_memory(e, doc, trainer.saved, trainer.run_dir) from None
    except KeyboardInterrupt:
        done = trainer.saved
        raise Interrupted(Problem(_("interrupted: {epochs} finished and saved in {folder}", epochs=_epochs(done),
                                    folder=trainer.run_dir),
                                  hints=(_("go on with `netspec train --resume {folder}`", folder=trainer.run_dir),))
                          ) from None


def _out_of_memory(e: BaseException, doc: Document, saved: int = 0, folder: str | None = None) -> NetspecError:
    """Running out of memory, said at data.batch_size with half of it to try (a multiple of the processes
    under torchrun, which must divide it); with how to go on where epochs were saved."""
    batch = (DATA_DEFAULTS | doc.data["data"])["batch_size"] if isinstance(doc.data.get("data"), dict) else 0
    size = distributed.from_env().size
    half = max(size, batch // 2 // size * size)
    if batch > half:
        hints = [_("lower data.batch_size from {batch} to {half}, say, or make the model's largest layer outputs "
                   "smaller", batch=batch, half=half)]
    else:
        hints = [_("data.batch_size ({batch}) cannot be made smaller: make the model's largest layer outputs "
                   "smaller, or train on a device with more memory", batch=batch)]
    if saved and batch > half:
        hints.append(_("{epochs} saved in {folder}: `netspec train --resume {folder} --set data.batch_size={half}` "
                       "goes on with a smaller batch", epochs=_epochs(saved), folder=folder, half=half))
    error = NetspecError(doc.place(Problem(_("training ran out of memory: {torch}", torch=first_line(e)),
                                           ("data", "batch_size"), tuple(hints))))
    error.doc = doc
    return error


def _score(row: dict, monitor: str) -> float:
    """Higher is better: the test accuracy (when asked for and there is one), else minus the test loss."""
    return row["test_accuracy"] if monitor == "test_accuracy" and row["test_accuracy"] is not None \
        else -row["test_loss"]


def _epochs(n: int):
    return _("1 epoch") if n == 1 else _("{n} epochs", n=n)


def _processes(n: int):
    return _("1 process") if n == 1 else _("{n} processes", n=n)


class Interrupted(NetspecError):
    """Ctrl-C: the checkpoints of finished epochs are consistent; exit status 130."""

    exit_code = 130
