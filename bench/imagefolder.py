#!/usr/bin/env python3
"""netspec on a folder of JPEGs (its disk cache, diskcache.py) against torchvision's ImageFolder + DataLoader.

Makes an ImageFolder of --n training JPEGs (and n/10 test ones) in 10 classes at --side x --side, then, one
process at a time:
  netspec      `netspec train` from no cache: epoch 1 decodes into the cache, later epochs read it
  per-sample   `netspec train` with data.memory_budget_mb 0: every picture decoded in every epoch (the
               DataLoader path, num_workers = cores), for the accuracy it reaches with the same seed
  torchvision  ImageFolder + transforms + DataLoader(num_workers=cores, pin_memory on CUDA, shuffle)
  floor        a process that imports torch and netspec and trains the model on one batch (what any
               training process holds before its data)
with the same small model (data loading is what is measured), Adam 1e-3, batch 64. Prints each one's first
epoch and later epochs (training and test pass), peak memory of its largest process (wait4's ru_maxrss),
last test accuracy, and the ratios the issue asks for.

usage: pip install '.[bench]'; python bench/imagefolder.py [--n 20000] [--side 64] [--epochs 3] [--device cuda]
       python bench/imagefolder.py --large [--n 20000] [--budget 1024] ...   # 224x224, over the budget
The folder is made in a temporary folder, or in --data DIR, where it is kept and reused.
"""
import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_vs_seed import peak_mib  # noqa: E402  (a child's wall time and peak memory from wait4)

ROOT = Path(__file__).resolve().parent.parent
CLASSES = 10
MEAN_STD = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}

TORCHVISION = r"""
import json, os, sys, time, torch, netspec
import torchvision.transforms as T
from torchvision.datasets import ImageFolder
spec, root, epochs, device, augment = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
workers, cuda = len(os.sched_getaffinity(0)), device.startswith("cuda")
tail = [T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)]
train = ImageFolder(os.path.join(root, "train"), T.Compose(([T.RandomHorizontalFlip()] if augment else []) + tail))
test = ImageFolder(os.path.join(root, "test"), T.Compose(tail))
train = torch.utils.data.DataLoader(train, 64, shuffle=True, num_workers=workers, pin_memory=cuda)
test = torch.utils.data.DataLoader(test, 64, num_workers=workers, pin_memory=cuda)
torch.manual_seed(0)
model = netspec.build(spec).to(device)
opt = torch.optim.Adam(model.parameters(), lr=0.001)
loss_fn = torch.nn.CrossEntropyLoss()
for epoch in range(1, epochs + 1):
    t = time.perf_counter()
    model.train()
    for x, y in train:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    right = n = 0
    with torch.no_grad():
        for x, y in test:
            right += (model(x.to(device, non_blocking=True)).argmax(1).cpu() == y).sum().item()
            n += len(y)
    if cuda:
        torch.cuda.synchronize()
    print(json.dumps({"epoch": epoch, "seconds": time.perf_counter() - t, "test_accuracy": right / n}), flush=True)
"""

RAW = r"""
import json, sys, time, torch, netspec
spec, n, side, epochs, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.manual_seed(0)
x = torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, device=device)
y = torch.randint(0, 10, (n,), device=device)
test = torch.randint(0, 256, (max(10, n // 10), 3, side, side), dtype=torch.uint8, device=device)
model = netspec.build(spec).to(device)
opt = torch.optim.Adam(model.parameters(), lr=0.001)
loss_fn = torch.nn.CrossEntropyLoss()
for epoch in range(1, epochs + 1):
    t = time.perf_counter()
    model.train()
    for idx in torch.randperm(n, device=device).split(64):
        loss = loss_fn(model((x[idx].float() / 255 - 0.5) / 0.25), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for part in test.split(256):
            model((part.float() / 255 - 0.5) / 0.25)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    print(json.dumps({"epoch": epoch, "seconds": time.perf_counter() - t, "test_accuracy": 0.0}), flush=True)
"""

FLOOR = r"""
import sys, torch, netspec
model = netspec.build(sys.argv[1]).to(sys.argv[2])
side = int(sys.argv[3])
loss = model(torch.rand(64, 3, side, side, device=sys.argv[2])).sum()
loss.backward()
"""


def picture(job) -> None:
    """One JPEG: a class's 8x8 colour pattern, scaled up, with noise (learnable, and JPEG-sized)."""
    import numpy as np
    from PIL import Image

    path, label, side, seed = job
    rng = np.random.default_rng(seed)
    pattern = np.random.default_rng(label).integers(0, 256, (8, 8, 3))
    low = np.clip(pattern + rng.integers(-60, 60, (8, 8, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(low).resize((side, side), Image.BILINEAR)
    noisy = np.clip(np.asarray(img, np.int16) + rng.integers(-20, 20, (side, side, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(path, quality=90)


def make_folder(root: Path, n: int, side: int) -> None:
    marker = root / "made.json"
    if marker.exists() and json.loads(marker.read_text()) == {"n": n, "side": side}:
        return
    shutil.rmtree(root, ignore_errors=True)
    jobs = []
    for split, count in (("train", n), ("test", max(CLASSES, n // 10))):
        for k in range(CLASSES):
            (root / split / f"c{k}").mkdir(parents=True, exist_ok=True)
        jobs += [(str(root / split / f"c{i % CLASSES}" / f"{i}.jpg"), i % CLASSES, side, 2 * i + (split == "test"))
                 for i in range(count)]
    with Pool(os.cpu_count()) as pool:
        pool.map(picture, jobs, chunksize=256)
    marker.write_text(json.dumps({"n": n, "side": side}))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def write_spec(path: Path, root: Path, side: int, epochs: int, device: str, augment: bool) -> None:
    layers = [{"Conv2d": {"out_channels": 32, "kernel_size": 4, "stride": 4}}, "ReLU",
              {"Conv2d": {"out_channels": 64, "kernel_size": 3, "padding": 1}}, "ReLU", {"MaxPool2d": 2},
              {"AdaptiveAvgPool2d": 1}, "Flatten", {"Linear": CLASSES}]
    path.write_text(yaml.safe_dump({
        "netspec": 1, "name": "imagefolder", "model": {"input": [3, side, side], "layers": layers},
        "data": {"dataset": "ImageFolder", "root": str(root), "batch_size": 64,
                 "augment": ["RandomHorizontalFlip"] if augment else [],
                 "transform": ["ToTensor", {"Normalize": MEAN_STD}]},
        "train": {"epochs": epochs, "device": device, "seed": 0, "optimizer": {"Adam": {"lr": 0.001}}},
        "output": {"tensorboard": False}}, sort_keys=False))


def netspec_run(spec: Path, out: Path, *sets: str) -> dict:
    wall, peak, _ = peak_mib([sys.executable, "-m", "netspec", "train", str(spec), "--set", f"output.dir={out}",
                              *[a for s in sets for a in ("--set", s)]])
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return summary([float(r["seconds"]) for r in rows], float(rows[-1]["test_accuracy"]), wall, peak)


def summary(seconds: list[float], accuracy: float, wall: float, peak: float) -> dict:
    later = seconds[1:] or [float("nan")]
    return {"first": seconds[0], "later": sum(later) / len(later), "accuracy": accuracy, "wall": wall, "peak": peak}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000, help="training pictures (the test split has n/10)")
    ap.add_argument("--side", type=int, help="picture width and height (default 64; 224 with --large)")
    ap.add_argument("--large", action="store_true", help="224x224 pictures and a memory budget they exceed")
    ap.add_argument("--budget", type=int, help="data.memory_budget_mb (default 2048; 1024 with --large)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="cuda" if _has_cuda() else "cpu")
    ap.add_argument("--augment", action="store_true", help="a RandomHorizontalFlip in training (then the random "
                                                           "draws differ between the paths)")
    ap.add_argument("--data", help="where to make (and keep) the folder; default: a temporary one")
    a = ap.parse_args()
    side = a.side or (224 if a.large else 64)
    budget = a.budget or (1024 if a.large else 2048)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.data or os.path.join(tmp, "pictures"))
        make_folder(root, a.n, side)
        decoded = (a.n + max(CLASSES, a.n // 10)) * 3 * side * side / 2**20
        print(f"{a.n} training JPEGs of {side}x{side} in {root} ({decoded:.0f} MiB decoded); budget {budget} MiB; "
              f"epochs {a.epochs}; device {a.device}; cores {len(os.sched_getaffinity(0))}", flush=True)
        spec = Path(tmp) / "imagefolder.yaml"
        write_spec(spec, root, side, a.epochs, a.device, a.augment)
        shutil.rmtree(root / ".netspec-cache", ignore_errors=True)  # epoch 1 writes it
        results = {"netspec": netspec_run(spec, Path(tmp) / "cached", f"data.memory_budget_mb={budget}")}
        cache = sum(f.stat().st_size for f in (root / ".netspec-cache").glob("*.npy")) / 2**20
        results["per-sample"] = netspec_run(spec, Path(tmp) / "per-sample", "data.memory_budget_mb=0",
                                            f"data.num_workers={len(os.sched_getaffinity(0))}")
        wall, peak, out = peak_mib([sys.executable, "-c", TORCHVISION, str(spec), str(root), str(a.epochs),
                                    a.device, "1" if a.augment else "0"])
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        results["torchvision"] = summary([r["seconds"] for r in rows], rows[-1]["test_accuracy"], wall, peak)
        wall, peak, out = peak_mib([sys.executable, "-c", RAW, str(spec), str(a.n), str(side), str(a.epochs), a.device])
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        raw = summary([r["seconds"] for r in rows], 0.0, wall, peak)
        _wall, floor, _ = peak_mib([sys.executable, "-c", FLOOR, str(spec), a.device, str(side)])

        print(f"{'':14s}{'epoch 1 s':>11s}{'later s':>10s}{'process s':>11s}{'peak MiB':>10s}{'accuracy':>10s}")
        for name, r in results.items():
            print(f"{name:14s}{r['first']:11.2f}{r['later']:10.2f}{r['wall']:11.2f}{r['peak']:10.0f}"
                  f"{100 * r['accuracy']:9.2f}%")
        print(f"{'floor':14s}{'':11s}{'':10s}{'':11s}{floor:10.0f}")
        ours, theirs = results["netspec"], results["torchvision"]
        print(f"{'raw compute':14s}{raw['first']:11.2f}{raw['later']:10.2f}{raw['wall']:11.2f}{raw['peak']:10.0f}"
              f"{'':>10s}  (random uint8 tensors in memory: no data path at all)")
        print(f"later epochs vs torchvision:  {theirs['later'] / ours['later']:.2f}x faster (goal >= 3x); "
              f"the most any data path could gain here: {theirs['later'] / raw['later']:.2f}x (raw compute)")
        print(f"first epoch vs torchvision:   {theirs['first'] / ours['first']:.2f}x (goal >= 1: no slower)")
        print(f"peak memory: netspec {ours['peak']:.0f} MiB; budget + 500 = {budget + 500} MiB "
              f"({'the data is over the budget' if decoded > budget else 'the data fits the budget'}); "
              f"cache on disk {cache:.0f} MiB")
        print(f"test accuracy after {a.epochs} epochs, seed 0: cached {100 * ours['accuracy']:.2f}%, per-sample "
              f"{100 * results['per-sample']['accuracy']:.2f}% (goal: the same"
              f"{'; random flips drawn differently' if a.augment else ''})")


if __name__ == "__main__":
    main()
