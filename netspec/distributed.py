"""Data-parallel training on torch.distributed: DistributedDataParallel in processes that torchrun starts.

A run is one process per rank (gloo on the CPU, nccl with one GPU per process). `data.batch_size` is
the global batch: every rank draws the same shuffled order, takes its own part of each global batch,
and scales its loss so that DDP's average of the ranks' gradients is exactly the gradient of the whole
batch, as one process computes it. Rank 0 alone writes the run folder; the others wait at a barrier.
A single process is a World of size 1, for which everything here does nothing.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta

import torch

from .i18n import _, tr

TIMEOUT = timedelta(minutes=10)  # a collective that waits longer than this stops the job


@dataclass(frozen=True)
class World:
    """This process's place in a run: its rank among `size`, and among the `local_size` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def span(self, m: int) -> tuple[int, int]:
        """Where this rank's part of a global batch of `m` lies in it (as torch.tensor_split splits)."""
        q, r = divmod(m, self.size)
        start = self.rank * q + min(self.rank, r)
        return start, start + q + (1 if self.rank < r else 0)

    def share(self, m: int) -> int:
        """How many samples of a global batch of `m` this rank trains on."""
        start, end = self.span(m)
        return end - start

    def part(self, batch):
        """This rank's part of a global batch (indices or samples): all of it in one process."""
        if not self.distributed:
            return batch
        start, end = self.span(len(batch))
        return batch[start:end]

    def batches(self, n: int, batch_size: int) -> int:
        """Global batches in an epoch of `n` samples. With several ranks, a last batch of fewer than 2
        samples per rank is left out: BatchNorm cannot train on a part of one sample."""
        count = -(-n // batch_size)
        return count - 1 if self.distributed and 0 < n % batch_size < 2 * self.size else count

    def all_sum(self, *tensors: torch.Tensor) -> None:
        """Sum each tensor over the ranks, in place."""
        if self.distributed:
            import torch.distributed as dist

            for t in tensors:
                dist.all_reduce(t)

    def broadcast(self, *tensors: torch.Tensor) -> None:
        """Rank 0's values of each tensor, in place on every rank."""
        if self.distributed:
            import torch.distributed as dist

            for t in tensors:
                dist.broadcast(t, src=0)

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def from_main(self, value):
        """Rank 0's `value` (any picklable), on every rank."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def from_env() -> World:
    """The World that torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK, ...)."""
    env = os.environ
    values = {}
    for name, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0), ("LOCAL_WORLD_SIZE", 1)):
        text = env.get(name, str(default)).strip()
        if not text.isdigit():  # a typo here would otherwise train alone, silently
            from .errors import Problem, UsageError
            from .i18n import _

            raise UsageError(Problem(_("the environment variable {name} is `{value}`, not a whole number 0 or more",
                                       name=name, value=text[:40]),
                                     hints=(_("torchrun sets it; unset it to train in one process "
                                              "(`unset {name}`)", name=name),)))
        values[name] = int(text)
    world = World(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], values["LOCAL_WORLD_SIZE"])
    if world.size < 1 or world.rank >= world.size:
        from .errors import Problem, UsageError
        from .i18n import _

        raise UsageError(Problem(_("the environment says this is process RANK={rank} of WORLD_SIZE={size}, which "
                                   "cannot be", rank=world.rank, size=world.size),
                                 hints=(_("RANK must be below WORLD_SIZE; unset both to train in one process"),)))
    return world


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (nccl for CUDA, gloo otherwise); the device this rank trains on."""
    if not world.distributed:
        return device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT,
                                device_id=device if device.type == "cuda" else None)
    return device


def stop(world: World) -> None:
    if world.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            # DDP's reducer holds the process group: free it first (it may sit in a reference cycle), or
            # gloo's threads outlive the interpreter and abort the process at exit
            gc.collect()
            dist.destroy_process_group()


def cpu_threads(world: World) -> int:
    """Threads for one process: this machine's cores shared by the ranks on it."""
    return max(1, _cores() // world.local_size)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class BatchParts(torch.utils.data.Sampler):
    """The streaming path's batches for one rank: its part of each global batch of an epoch's order."""

    def __init__(self, order, batch_size: int, world: World):
        self.order, self.batch_size, self.world = order, batch_size, world

    def __len__(self) -> int:
        return self.world.batches(len(self.order), self.batch_size)

    def __iter__(self):
        idx = torch.tensor(list(self.order), dtype=torch.long)
        for k in range(len(self)):
            yield self.world.part(idx[k * self.batch_size: (k + 1) * self.batch_size]).tolist()


# Launching: `netspec train SPEC --nproc N`. -----------------------------------------------------------

def launch(nproc: int, argv: list[str], err) -> int:
    """Run `python -m netspec <argv>` in `nproc` processes on this machine, as `torchrun --standalone`
    does (a rendezvous on a free port, so two jobs never collide); the exit status of the job."""
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in list(logging.root.manager.loggerDict):  # torch logs each step of a failure; we say what failed
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _cores() // nproc)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
    try:
        elastic_launch(config, sys.executable)("-m", "netspec", *argv)
    except ChildFailedError as e:
        failures = e.failures
        first = min(failures, key=lambda r: failures[r].timestamp)
        if failures.get(0) and failures[0].exitcode > 0 and failures[first].exitcode > 0:
            return failures[0].exitcode  # rank 0 has said what went wrong
        failure = failures[first]
        said = _("rank {rank} (process {pid}) was killed by {signal}; every rank of the job was stopped",
                 rank=first, pid=failure.pid, signal=failure.signal_name()) if failure.exitcode < 0 else \
            _("rank {rank} (process {pid}) stopped with exit status {status}; every rank of the job was stopped",
              rank=first, pid=failure.pid, status=failure.exitcode)
        error = _("error")
        err.write(f"netspec: {tr(error)}: {tr(said)}\n")
        return 130 if failure.exitcode == 130 else 1
    except SignalException as e:
        said = _("interrupted ({signal}); every rank was stopped", signal=signal.Signals(e.sigval).name)
        err.write(f"netspec: {tr(said)}\n")
        return 130
    return 0
