"""The disk cache of a folder of pictures: it holds the pixels torchvision's ImageFolder and transforms give,
its first pass gives the batches later passes read, training on it equals the per-sample path, a changed
picture makes a new one, a pass cut short or killed leaves none that is read, and a folder that cannot be
written keeps its cache in the user's cache folder."""
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image
from torchvision.datasets import ImageFolder

from netspec.data import load_data
from netspec.diskcache import DiskRows, build, folder_cache
from netspec.distributed import World
from netspec.fastdata import BatchTransform, CacheLoader, MemoryLoader, MemorySplit, cache_loaders, cache_plan
from tests.helpers import ROOT, run_cli

CLASSES = ("ant", "bee", "cat")


def pictures(root, split: str, n: int, sizes, seed: int, kinds=("png",)) -> None:
    """n pictures per class of random pixels under root/split/<class>/, the sizes and kinds taken in turn."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(CLASSES):
        (root / split / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            w, h = sizes[i % len(sizes)]
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            pixels[:, :, c] |= 0xC0  # each class leans to one colour: something to learn
            write_picture(root / split / name / f"{i}", Image.fromarray(pixels), kinds[i % len(kinds)])


def write_picture(stem, img: Image.Image, kind: str) -> None:
    if kind == "palette":
        img.convert("P").save(f"{stem}.png")
    elif kind == "grey":
        img.convert("L").save(f"{stem}.png")
    elif kind == "png16":  # 16-bit grey: PIL decodes it, not torchvision
        Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257).save(f"{stem}.png")
    else:
        img.save(f"{stem}.{kind}", **({"quality": 90} if kind == "jpg" else {}))


def data_spec(root, transform, augment=(), **more) -> dict:
    return {"dataset": "ImageFolder", "root": str(root), "transform": list(transform), "augment": list(augment),
            "batch_size": 8, "test_batch_size": 8, "num_workers": 0, **more}


def oracle(folder, mode: str, transform) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's ImageFolder with the same transforms, one picture at a time, stacked."""
    def loader(path):
        with open(path, "rb") as f:
            return Image.open(f).convert(mode)
    ds = ImageFolder(str(folder), transform=T.Compose([*transform, T.PILToTensor()]), loader=loader)
    return torch.stack([ds[i][0] for i in range(len(ds))]), torch.tensor(ds.targets)


def batches(loader, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    loader.generator.manual_seed(seed)
    return list(loader)


def same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))


@pytest.mark.parametrize("channels,mode", [(3, "RGB"), (1, "L")])
def test_the_cache_holds_the_pixels_torchvision_gives(tmp_path, channels, mode):
    """JPEG and 8-bit PNG (colour, palette, grey) go through torchvision's decoders, the others through PIL:
    every row equals torchvision's ImageFolder + Resize + CenterCrop + PILToTensor, exactly."""
    pictures(tmp_path, "train", 6, [(13, 9), (8, 11), (20, 20)], 0, ("png", "jpg", "palette", "grey", "png16", "bmp"))
    pictures(tmp_path, "test", 1, [(9, 9)], 1)
    data = load_data(data_spec(tmp_path, [{"Resize": 10}, {"CenterCrop": [8, 6]}, "ToTensor"]), (channels, 8, 6))
    cache, reason = folder_cache(data.train, [{"Resize": 10}, {"CenterCrop": [8, 6]}, "ToTensor"], "train")
    assert reason is None and cache.prefix == [{"Resize": 10}, {"CenterCrop": [8, 6]}]
    assert build(cache, workers=0) == str(tmp_path / ".netspec-cache" / cache.name)
    x, y = oracle(tmp_path / "train", mode, [T.Resize(10), T.CenterCrop([8, 6])])
    assert x.shape == (18, channels, 8, 6) and torch.equal(cache.load(), x) and torch.equal(cache.labels, y)


def test_without_sizing_transforms_pictures_of_one_size_are_cached_as_they_are(tmp_path):
    pictures(tmp_path, "train", 2, [(7, 5)], 0, ("png", "jpg"))
    pictures(tmp_path, "test", 1, [(7, 5)], 1)
    data = load_data(data_spec(tmp_path, ["ToTensor"]), (3, 5, 7))
    cache, _ = folder_cache(data.train, ["ToTensor"], "train")
    build(cache, workers=0)
    assert cache.prefix == [] and torch.equal(cache.load(), oracle(tmp_path / "train", "RGB", [])[0])

    pictures(tmp_path, "train", 1, [(6, 5)], 2)  # one of another size: nothing to cache it as
    cache, reason = folder_cache(load_data(data_spec(tmp_path, ["ToTensor"]), (3, 5, 7)).train, ["ToTensor"], "train")
    assert cache is None and "differ in size" in reason


def test_the_first_pass_gives_the_batches_later_passes_read(tmp_path):
    """Epoch 1 decodes in worker processes and writes the cache; epochs after read it, into memory or batch by
    batch from the file: the same batches with the same seed, and those of a MemoryLoader over torchvision's
    pixels, with the same random crops and flips."""
    pictures(tmp_path, "train", 10, [(12, 12)], 0, ("png", "jpg"))
    pictures(tmp_path, "test", 2, [(12, 12)], 1)
    augment = [{"RandomCrop": {"size": 10, "padding": 2}}, "RandomHorizontalFlip"]
    transform = ["ToTensor", {"Normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.4]}}]
    dt = data_spec(tmp_path, transform, augment)
    cache, tf = cache_plan(load_data(dt, (3, 10, 10)), dt).train
    first = CacheLoader(cache, True, 8, tf, torch.device("cpu"), True, torch.Generator(), workers=2)
    epoch1 = batches(first, 7)
    assert cache.find() is not None and [len(y) for _, y in epoch1] == [8, 8, 8, 6]
    assert same(batches(first, 7), epoch1) and isinstance(first.loader.split.x, torch.Tensor)
    on_disk = CacheLoader(cache, False, 8, tf, torch.device("cpu"), True, torch.Generator())
    assert same(batches(on_disk, 7), epoch1) and isinstance(on_disk.loader.split.x, DiskRows)
    x, y = oracle(tmp_path / "train", "RGB", [])
    memory = MemoryLoader(MemorySplit(x, y), 8, BatchTransform.of(augment + transform), torch.device("cpu"), True,
                          torch.Generator())
    assert same(batches(memory, 7), epoch1) and not same(batches(memory, 8), epoch1)


def test_disk_rows_read_what_the_tensor_holds(tmp_path, monkeypatch):
    from netspec import diskcache

    pictures(tmp_path, "train", 4, [(5, 4)], 0)
    pictures(tmp_path, "test", 1, [(5, 4)], 1)
    cache, _ = folder_cache(load_data(data_spec(tmp_path, ["ToTensor"]), (3, 4, 5)).train, ["ToTensor"], "train")
    build(cache, workers=0)
    x, rows = oracle(tmp_path / "train", "RGB", [])[0], cache.rows()
    monkeypatch.setattr(diskcache, "CHUNK", 5 * 60)  # loaded 5 rows at a time
    assert torch.equal(cache.load(), x)
    index = torch.tensor([7, 0, 11, 3, 3])
    assert torch.equal(rows[index], x[index]) and torch.equal(rows[2:9], x[2:9]) and torch.equal(rows[:], x)
    assert torch.equal(rows.select(range(1, 12, 2))[1:4], x[1::2][1:4])


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """96 training pictures of 3x64x64 (1.1 MiB decoded: over a memory_budget_mb of 1) and 15 test ones."""
    root = tmp_path_factory.mktemp("big")
    pictures(root, "train", 32, [(64, 64), (70, 64)], 0)
    pictures(root, "test", 5, [(64, 64)], 1)
    return root


MODEL = {"input": [3, 64, 64], "layers": [{"Conv2d": {"out_channels": 4, "kernel_size": 8, "stride": 8}}, "ReLU",
                                          "Flatten", {"Linear": 3}]}
TRANSFORM = [{"Resize": [64, 64]}, "ToTensor", {"Normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.3, 0.3, 0.3]}}]


def test_training_on_the_cache_equals_the_per_sample_path(big, tmp_path, monkeypatch):
    """The same losses and accuracies, epoch by epoch, as torchvision's per-picture transforms in a DataLoader
    (memory_budget_mb 0), with the training split in memory and with it read from disk (over 1 MiB)."""
    from netspec import plots
    from netspec.loader import Document
    from netspec.runner import Trainer

    monkeypatch.setattr(plots, "curves", lambda runs, path: None)  # a second or two each, and not in question

    rows = {}
    for budget in (0, 1, 2048):
        spec = {"netspec": 1, "model": MODEL, "data": data_spec(big, TRANSFORM, memory_budget_mb=budget),
                "train": {"epochs": 2, "device": "cpu", "optimizer": {"SGD": {"lr": 0.1}}},
                "output": {"dir": str(tmp_path / f"run{budget}"), "tensorboard": False}}
        trainer = Trainer(Document(spec, "<dict>"), None, None, None)
        rows[budget] = [(r["train_loss"], r["test_loss"], r["test_accuracy"]) for r in trainer.run().epochs]
        if budget:
            assert isinstance(trainer.loader.loader.split.x, DiskRows if budget == 1 else torch.Tensor)
            assert isinstance(trainer.test_loader.loader.split.x, torch.Tensor)
    assert rows[1] == rows[0] and rows[2048] == rows[0]
    assert rows[0][1][0] < rows[0][0][0]  # it learnt something


def test_netspec_prepare_writes_the_caches_and_says_so(big, tmp_path):
    import yaml

    spec = tmp_path / "big.yaml"
    spec.write_text(yaml.safe_dump({"netspec": 1, "model": MODEL, "data": data_spec(big, TRANSFORM),
                                    "train": {"epochs": 1, "device": "cpu"}}))
    code, out, err = run_cli("prepare", str(spec), "--set", "data.memory_budget_mb=1")
    line = r"netspec prepare: {split}: {n} pictures of 3x64x64, {mib} MiB, {done} (\S+); training reads it {how}"
    lines = out.splitlines()
    assert (code, err, len(lines)) == (0, "", 2), err
    for text, split, n, mib, how in ((lines[0], "train", 96, "1.1", "from disk, batch by batch \\(it is over "
                                      "data.memory_budget_mb\\)"), (lines[1], "test", 15, "0.2", "into memory")):
        match = re.fullmatch(line.format(split=split, n=n, mib=mib, done="(written to|already in)", how=how), text)
        assert match, text
        assert os.path.dirname(match[2]) == str(big / ".netspec-cache") and os.path.isfile(match[2])
    code, again, _ = run_cli("prepare", str(spec), "--set", "data.memory_budget_mb=1")
    assert code == 0 and again == out.replace("written to", "already in")
    code, out, _ = run_cli("prepare", str(spec), "--set", "data.memory_budget_mb=0")
    assert (code, out) == (0, "netspec prepare: nothing to prepare: data.memory_budget_mb is 0: every picture is "
                              "decoded in every epoch\n")
    code, out, _ = run_cli("prepare", str(ROOT / "specs" / "digits.yaml"))
    assert code == 0 and out.startswith("netspec prepare: nothing to prepare: only ImageFolder data")


def test_a_changed_or_added_picture_makes_a_new_cache(tmp_path):
    pictures(tmp_path, "train", 3, [(6, 6)], 0, ("bmp",))
    pictures(tmp_path, "test", 1, [(6, 6)], 1)
    dt = data_spec(tmp_path, ["ToTensor"])
    old, _ = folder_cache(load_data(dt, (3, 6, 6)).train, ["ToTensor"], "train")
    old_path = build(old, workers=0)

    changed = tmp_path / "train" / "bee" / "1.bmp"  # a BMP: new pixels, the same file size
    Image.fromarray(np.full((6, 6, 3), 9, np.uint8)).save(changed)
    os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 10**9))
    new, _ = folder_cache(load_data(dt, (3, 6, 6)).train, ["ToTensor"], "train")
    assert new.name != old.name and new.find() is None
    build(new, workers=0)
    assert torch.equal(new.load(), oracle(tmp_path / "train", "RGB", [])[0]) and (new.load() == 9).all(1).any()
    assert not os.path.exists(old_path)  # replaced, not kept beside

    pictures(tmp_path, "train", 4, [(6, 6)], 0, ("bmp",))  # one more per class
    added, _ = folder_cache(load_data(dt, (3, 6, 6)).train, ["ToTensor"], "train")
    assert added.name != new.name and len(added) == 12 and added.find() is None
    resized, _ = folder_cache(load_data(dt, (3, 6, 6)).train, [{"Resize": [4, 4]}, "ToTensor"], "train")
    assert resized.name != added.name and resized.shape == (3, 4, 4)


KILLED = """
import os, signal, sys, torch
from netspec.data import load_data
from netspec.fastdata import CacheLoader, cache_plan
dt = {"dataset": "ImageFolder", "root": sys.argv[1], "transform": ["ToTensor"], "batch_size": 4, "num_workers": 0}
cache, tf = cache_plan(load_data(dt, (3, 6, 6)), dt).train
for k, batch in enumerate(CacheLoader(cache, True, 4, tf, torch.device("cpu"), True, torch.Generator())):
    if k == 1:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_first_pass_cut_short_or_killed_leaves_no_cache_that_is_read(tmp_path):
    pictures(tmp_path, "train", 4, [(6, 6)], 0)
    pictures(tmp_path, "test", 1, [(6, 6)], 1)
    dt = data_spec(tmp_path, ["ToTensor"])
    cache, tf = cache_plan(load_data(dt, (3, 6, 6)), dt).train
    folder = tmp_path / ".netspec-cache"
    passing = iter(CacheLoader(cache, True, 4, tf, torch.device("cpu"), True, torch.Generator()))
    next(passing)
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # being written
    passing.close()  # the training stopped (an error, Ctrl-C) during the first epoch
    assert list(folder.iterdir()) == [] and cache.find() is None

    child = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    leftovers = [p.name for p in folder.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp") and cache.find() is None
    with open(folder / cache.name, "wb") as f:  # a cache's header, and half its rows
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (12, 3, 6, 6)})
        f.write(bytes(6 * 3 * 6 * 6))
    assert cache.find() is None

    list(CacheLoader(cache, True, 4, tf, torch.device("cpu"), True, torch.Generator()))
    assert sorted(p.name for p in folder.iterdir()) == [cache.name]  # the dead writer's file removed
    assert torch.equal(cache.load(), oracle(tmp_path / "train", "RGB", [])[0])


def test_a_data_folder_that_cannot_be_written_keeps_its_cache_in_the_user_cache_folder(tmp_path, monkeypatch):
    """Where ROOT/.netspec-cache cannot be made (a file holds its name here, as root ignores permissions; the
    folder is also made read-only for everyone else), the cache goes to $XDG_CACHE_HOME/netspec/."""
    root = tmp_path / "data"
    pictures(root, "train", 2, [(6, 6)], 0)
    pictures(root, "test", 1, [(6, 6)], 1)
    (root / ".netspec-cache").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    root.chmod(0o555)
    try:
        dt = data_spec(root, ["ToTensor"])
        train, test = cache_loaders(load_data(dt, (3, 6, 6)), dt, torch.device("cpu"), torch.Generator())
        assert sum(len(y) for _, y in train) == 6 and sum(len(y) for _, y in test) == 3
        path = train.cache.find()[0]
        assert path.startswith(str(tmp_path / "home-cache" / "netspec")) and os.path.isfile(path)
        assert torch.equal(train.cache.load(), oracle(root / "train", "RGB", [])[0])
    finally:
        root.chmod(0o755)


class Rank(World):
    def barrier(self) -> None:  # one process plays rank 1 of 2: nobody to wait for
        pass


def test_under_torchrun_each_rank_reads_its_part_of_the_caches(tmp_path):
    pictures(tmp_path, "train", 4, [(6, 6)], 0)
    pictures(tmp_path, "test", 3, [(6, 6)], 1)
    dt = data_spec(tmp_path, ["ToTensor"], batch_size=4)
    x, y = oracle(tmp_path / "test", "RGB", [])
    world = Rank(rank=1, size=2)
    train, test = cache_loaders(load_data(dt, (3, 6, 6)), dt, torch.device("cpu"), torch.Generator(), None, world)
    assert [len(b) for b, _ in train] == [2, 2, 2]  # the second half of each global batch of 4
    xs, ys = zip(*test)
    assert torch.equal(torch.cat(xs), x[1::2].float() / 255) and torch.equal(torch.cat(ys), y[1::2])
