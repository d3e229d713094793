"""The training loaders. The in-memory path: a dataset decoded once into one tensor, batches as index
slices of it, and the transforms that have batched tensor equivalents applied to a whole batch at once.

A folder of pictures is decoded once into a cache on disk (diskcache.py) during the first epoch, and read
from it after: into memory when it fits the memory budget, else batch by batch from the file. Other data
that fits the budget never goes through PIL or a DataLoader again after loading; the rest takes the
standard DataLoader path (`loaders` at the end chooses).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Subset

from .data import Data, TensorData
from .diskcache import DiskRows, FolderCache, build, folder_cache
from .distributed import BatchParts, World, cpu_threads
from .i18n import _


class MemorySplit:
    """One split as two tensors: samples (uint8 images or float values) and labels."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    @property
    def nbytes(self) -> int:
        return self.x.numel() * self.x.element_size() + self.y.numel() * self.y.element_size()

    def to(self, device) -> "MemorySplit":
        return MemorySplit(self.x.to(device), self.y.to(device))


def decode(dataset: Dataset, budget: int) -> MemorySplit | None:
    """The split's raw samples in one tensor, or None when they do not fit `budget` bytes or differ in size."""
    if isinstance(dataset, Subset):
        whole = decode(dataset.dataset, budget * max(1, len(dataset.dataset)) // max(1, len(dataset)))
        if whole is None:
            return None
        idx = torch.as_tensor(dataset.indices)
        return MemorySplit(whole.x[idx], whole.y[idx])
    if isinstance(dataset, TensorData):
        return MemorySplit(dataset.x, dataset.y) if dataset.x.numel() * dataset.x.element_size() <= budget else None
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if data is not None and targets is not None:  # torchvision's CIFAR and MNIST families
        x = torch.as_tensor(data)
        x = x.permute(0, 3, 1, 2) if x.dim() == 4 and x.shape[-1] in (1, 3) else x.unsqueeze(1)
        if x.dtype != torch.uint8 or x.numel() > budget:
            return None
        return MemorySplit(x.contiguous(), torch.as_tensor(targets, dtype=torch.long))
    return _decode_images(dataset, budget)


def _decode_images(dataset: Dataset, budget: int) -> MemorySplit | None:
    """Any dataset of PIL images (ImageFolder, FakeData): decoded once, kept when all sizes agree."""
    from torchvision.transforms.functional import pil_to_tensor

    saved, dataset.transform = getattr(dataset, "transform", None), None
    try:
        xs, ys, total = [], [], 0
        for i in range(len(dataset)):
            img, label = dataset[i]
            t = pil_to_tensor(img)
            total += t.numel()
            if total > budget or (xs and t.shape != xs[0].shape):
                return None
            xs.append(t)
            ys.append(int(label))
        return MemorySplit(torch.stack(xs), torch.tensor(ys, dtype=torch.long)) if xs else None
    finally:
        dataset.transform = saved


# Batched transforms. -----------------------------------------------------------------

class _ToTensor:
    def __call__(self, x, g):
        return x.float().div_(255) if x.dtype == torch.uint8 else x


class _Flip:
    def __init__(self, p: float, dim: int):
        self.p, self.dim = p, dim

    def __call__(self, x, g):
        flip = torch.rand(x.shape[0], generator=g).lt(self.p).to(x.device)
        return torch.where(flip.view(-1, *[1] * (x.dim() - 1)), x.flip(self.dim), x)


class _RandomCrop:
    """torchvision's RandomCrop (padding, pad_if_needed) with one random offset per sample."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.h, self.w = (size, size) if isinstance(size, int) else tuple(size)
        pad = padding if padding is not None else 0
        pad = (pad,) * 4 if isinstance(pad, int) else tuple(pad) * 2 if len(pad) == 2 else tuple(pad)
        self.pad = pad  # left, top, right, bottom
        self.pad_if_needed, self.fill = pad_if_needed, fill
        self.mode = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}[padding_mode]

    def _pad(self, x, left, top, right, bottom):
        if not any((left, top, right, bottom)):
            return x
        if self.mode == "constant":
            return torch.nn.functional.pad(x, (left, right, top, bottom), value=self.fill)
        return torch.nn.functional.pad(x.float(), (left, right, top, bottom), mode=self.mode).to(x.dtype)

    def __call__(self, x, g):
        x = self._pad(x, *self.pad)
        if self.pad_if_needed:
            dh, dw = max(0, self.h - x.shape[-2]), max(0, self.w - x.shape[-1])
            x = self._pad(x, dw, dh, dw, dh)
        n, hp, wp = x.shape[0], x.shape[-2], x.shape[-1]
        top = torch.randint(0, hp - self.h + 1, (n,), generator=g).to(x.device)
        left = torch.randint(0, wp - self.w + 1, (n,), generator=g).to(x.device)
        rows = (top[:, None] + torch.arange(self.h, device=x.device))[:, None, :, None]
        cols = (left[:, None] + torch.arange(self.w, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        return x[batch, chans, rows, cols]


class _Whole:
    """A deterministic torchvision transform that works on a batch as it does on one tensor image."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, x, g):
        return self.transform(x)


class BatchTransform:
    """A list of transform entries as batch operations; `of()` gives None if any has no batched form."""

    def __init__(self, steps):
        self.steps = steps
        self.random = any(isinstance(step, (_Flip, _RandomCrop)) for step in steps)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        for step in self.steps:
            x = step(x, g)
        return x.float().div_(255) if x.dtype == torch.uint8 else x  # images to [0, 1]; token ids stay ids

    @classmethod
    def of(cls, entries: list) -> "BatchTransform | None":
        steps = []
        for entry in entries:
            name, value = (entry, None) if isinstance(entry, str) else next(iter(entry.items()))
            if name not in _MAIN:
                return None
            if isinstance(value, dict):
                kwargs = dict(value)
            else:
                kwargs = {} if value is None else {_MAIN[name]: value}
            step = _step(name, kwargs)
            if step is None:
                return None
            steps.append(step)
        return cls(steps)


_MAIN = {"Normalize": "mean", "Resize": "size", "CenterCrop": "size", "RandomCrop": "size", "Pad": "padding",
         "Grayscale": "num_output_channels", "RandomHorizontalFlip": "p", "RandomVerticalFlip": "p",
         "ToTensor": None}


def _step(name: str, kwargs: dict):
    lists = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if name == "ToTensor":
        return _ToTensor()
    if name in ("RandomHorizontalFlip", "RandomVerticalFlip"):
        return _Flip(lists.get("p", 0.5), -1 if name == "RandomHorizontalFlip" else -2)
    if name == "RandomCrop":
        if lists.get("padding_mode", "constant") not in ("constant", "edge", "reflect"):
            return None
        return _RandomCrop(**lists)
    if name in ("Normalize", "Resize", "CenterCrop", "Pad", "Grayscale"):
        if name == "Pad" and lists.get("padding_mode", "constant") == "symmetric":
            return None
        import torchvision.transforms as T  # only here: importing it takes a second or two

        return _Whole(getattr(T, name)(**lists))
    return None


# Loading. -------------------------------------------------------------------------------

class EpochOrder(torch.utils.data.Sampler):
    """The streaming path's order: the same permutation of the same generator as MemoryLoader's."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


class MemoryLoader:
    """Batches of a MemorySplit as index slices, shuffled by a generator, transformed per batch."""

    def __init__(self, split: MemorySplit, batch_size: int, transform: BatchTransform, device,
                 shuffle: bool = False, generator: torch.Generator | None = None, world: World = World()):
        self.split, self.batch_size, self.transform, self.device = split, batch_size, transform, device
        self.shuffle, self.generator, self.world = shuffle, generator or torch.Generator(), world

    def __len__(self) -> int:
        return self.world.batches(len(self.split.y), self.batch_size)

    def __iter__(self):
        n, world = len(self.split.y), self.world
        order = torch.randperm(n, generator=self.generator).to(self.split.x.device) if self.shuffle else None
        # with random augmentation, every rank transforms the whole global batch and keeps its part:
        # the random draws are the ones one process makes
        whole = order is not None and world.distributed and self.transform.random
        ahead = getattr(self.split.x, "will_need", None)  # rows on disk: the next batch's are asked for early
        for k in range(len(self)):
            start = k * self.batch_size
            if order is None:
                x, y = self.split.x[start: start + self.batch_size], self.split.y[start: start + self.batch_size]
            else:
                idx = order[start: start + self.batch_size]
                x, y = _rows(self.split.x, idx if whole else world.part(idx)), self.split.y[world.part(idx)]
            if ahead is not None:
                after = slice(start + self.batch_size, start + 2 * self.batch_size)
                ahead(order[after] if order is not None else range(n)[after])
            x = self.transform(x.to(self.device, non_blocking=True), self.generator)
            yield (world.part(x) if whole else x), y.to(self.device, non_blocking=True)


def _rows(x, idx: torch.Tensor):
    """x[idx] for an index tensor: torch.index_select on a tensor (4 to 5 times faster than x[idx], which
    indexes element by element: 0.05 against 0.22 ms for a batch of 64 CIFAR images), x[idx] on DiskRows."""
    return torch.index_select(x, 0, idx) if isinstance(x, torch.Tensor) else x[idx]


def memory_loaders(data: Data, spec_data: dict, device, generator: torch.Generator, world: World = World()):
    """(train loader, test loader) on the in-memory path, or None when the data must stream. Under
    torchrun: this rank's part of each global batch, and every world.size-th test sample from its rank."""
    budget = int(spec_data.get("memory_budget_mb", 2048)) * (1 << 20)
    train_tf = BatchTransform.of(spec_data.get("augment", []) + spec_data.get("transform", ["ToTensor"]))
    test_tf = BatchTransform.of(spec_data.get("transform", ["ToTensor"]))
    if budget <= 0 or train_tf is None or test_tf is None:
        return None
    train = decode(data.train, budget)
    test = decode(data.test, budget - (train.nbytes if train else 0))
    if train is None or test is None:
        return None
    if device.type == "cuda":  # GPU-resident data: batches never cross the bus
        train, test = train.to(device), test.to(device)
    if world.distributed:
        test = MemorySplit(test.x[world.rank::world.size], test.y[world.rank::world.size])
    return (MemoryLoader(train, spec_data["batch_size"], train_tf, device, True, generator, world),
            MemoryLoader(test, spec_data["test_batch_size"], test_tf, device))


# A folder of pictures, cached on disk. -----------------------------------------------------

@dataclass(frozen=True)
class CachePlan:
    """What a folder of pictures goes through: per split its cache and the batched rest of its transforms;
    `reason` (a message) says why not when it does not."""

    train: tuple[FolderCache, BatchTransform] | None = None
    test: tuple[FolderCache, BatchTransform] | None = None
    reason: object = None


def cache_plan(data: Data, dt: dict) -> CachePlan:
    """The disk caches of a spec's data, or why it has none."""
    if int(dt.get("memory_budget_mb", 2048)) <= 0:
        return CachePlan(reason=_("data.memory_budget_mb is 0: every picture is decoded in every epoch"))
    splits = []
    for role, dataset, entries in (("train", data.train, dt.get("augment", []) + dt.get("transform", ["ToTensor"])),
                                   ("test", data.test, dt.get("transform", ["ToTensor"]))):
        cache, reason = folder_cache(dataset, entries, role)
        if cache is None:
            return CachePlan(reason=reason)
        rest = entries[len(cache.prefix):]
        transform = BatchTransform.of(rest)
        if transform is None:
            name = next(e if isinstance(e, str) else next(iter(e)) for e in rest if BatchTransform.of([e]) is None)
            return CachePlan(reason=_("{name} works on one picture at a time: every picture is decoded in every "
                                      "epoch", name=name))
        splits.append((cache, transform))
    return CachePlan(*splits)


def _workers(dt: dict, cache: FolderCache) -> int:
    """Processes that decode a cache's pictures: data.num_workers, or one per core for 500 pictures or more
    (for fewer, starting them costs more than they save)."""
    return dt["num_workers"] or (cpu_threads(World()) if len(cache) >= 500 else 0)


class CacheLoader:
    """A folder's batches from its disk cache, through a MemoryLoader. While the cache is not there, a first
    pass decodes the pictures in worker processes, writes them into it, and gives the batches the
    MemoryLoader would give from it: the same order and the same random draws."""

    def __init__(self, cache: FolderCache, in_memory: bool, batch_size: int, transform: BatchTransform, device,
                 shuffle: bool = False, generator: torch.Generator | None = None, workers: int = 0,
                 worker_seeds: torch.Generator | None = None):
        self.cache, self.in_memory, self.batch_size, self.transform = cache, in_memory, batch_size, transform
        self.device, self.shuffle, self.generator = device, shuffle, generator or torch.Generator()
        self.workers, self.worker_seeds = workers, worker_seeds or torch.Generator()
        self.loader: MemoryLoader | None = None

    def __len__(self) -> int:
        return -(-len(self.cache) // self.batch_size)

    def __iter__(self):
        if self.loader is None and self.cache.find():
            self.loader = MemoryLoader(_split(self.cache, self.in_memory, self.device), self.batch_size,
                                       self.transform, self.device, self.shuffle, self.generator)
        if self.loader is not None:
            yield from self.loader
            return
        n = len(self.cache)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        batches = [order[k * self.batch_size: (k + 1) * self.batch_size].tolist() for k in range(len(self))]
        # not pinned: a second copy of the batches in flight, for a copy that takes a millisecond
        pictures = torch.utils.data.DataLoader(self.cache, batch_sampler=batches,
                                               num_workers=self.workers, generator=self.worker_seeds)
        with self.cache.writer() as write:  # in place when the pass ends; removed if it stops before
            for rows, x in zip(batches, pictures):
                write(rows, x)
                y = self.cache.labels[rows]
                yield self.transform(x.to(self.device, non_blocking=True), self.generator), \
                    y.to(self.device, non_blocking=True)


def _split(cache: FolderCache, in_memory: bool, device) -> MemorySplit:
    """A whole cache as a MemorySplit: in memory (on the GPU when training there), or rows read from disk."""
    if not in_memory:
        return MemorySplit(cache.rows(), cache.labels)
    where = device if device.type == "cuda" else torch.device("cpu")
    return MemorySplit(cache.load(where), cache.labels.to(where))


def cache_loaders(data: Data, dt: dict, device, generator: torch.Generator,
                  worker_seeds: torch.Generator | None = None, world: World = World()):
    """(train, test) loaders over the disk caches of a folder of pictures, or None when the data is not one or
    its transforms need PIL. A split that fits the memory budget is read into memory once its cache is whole
    (the training split first), the others batch by batch from the file. Under torchrun, rank 0 writes the
    caches before training, and each rank reads its part of every batch."""
    plan = cache_plan(data, dt)
    if plan.train is None:
        return None
    (train, train_tf), (test, test_tf) = plan.train, plan.test
    budget = int(dt.get("memory_budget_mb", 2048)) * (1 << 20)
    train_in_memory = train.nbytes <= budget
    test_in_memory = test.nbytes <= budget - (train.nbytes if train_in_memory else 0)
    if not world.distributed:
        return (CacheLoader(train, train_in_memory, dt["batch_size"], train_tf, device, True, generator,
                            _workers(dt, train), worker_seeds),
                CacheLoader(test, test_in_memory, dt["test_batch_size"], test_tf, device, False, None,
                            _workers(dt, test)))
    for cache in (train, test):
        if world.main and not cache.find():
            build(cache, _workers(dt, cache))
    world.barrier()
    for cache in (train, test):  # another machine, whose data folder is not rank 0's
        if not cache.find() and build(cache, _workers(dt, cache)) is None:
            return None
    train_split, test_split = _split(train, train_in_memory, device), _split(test, test_in_memory, device)
    mine = range(world.rank, len(test), world.size)
    test_split = MemorySplit(test_split.x.select(mine) if isinstance(test_split.x, DiskRows) else
                             test_split.x[world.rank::world.size], test_split.y[world.rank::world.size])
    return (MemoryLoader(train_split, dt["batch_size"], train_tf, device, True, generator, world),
            MemoryLoader(test_split, dt["test_batch_size"], test_tf, device))


def loaders(data, dt: dict, device, generator, worker_seeds, world):
    """(train, test) loaders: this rank's part of each global batch, and its share of the test split."""
    return cache_loaders(data, dt, device, generator, worker_seeds, world) or \
        memory_loaders(data, dt, device, generator, world) or \
        _stream_loaders(data, dt, device, generator, worker_seeds, world)


def _stream_loaders(data, dt: dict, device, generator, worker_seeds, world):
    """The standard path for data too big for memory, or with transforms that need PIL."""
    workers = dt["num_workers"]
    # The workers' seeds come from a generator of the epoch too (not the global RNG, which dropout
    # uses): every epoch is the same whether the run was resumed or not.
    batches = BatchParts(EpochOrder(len(data.train), generator), dt["batch_size"], world)
    train = torch.utils.data.DataLoader(data.train, batch_sampler=batches, generator=worker_seeds,
                                        num_workers=workers, pin_memory=device.type == "cuda")
    test = data.test if not world.distributed else \
        torch.utils.data.Subset(data.test, range(world.rank, len(data.test), world.size))
    test = torch.utils.data.DataLoader(test, dt["test_batch_size"], num_workers=workers,
                                       pin_memory=device.type == "cuda")
    return train, test
