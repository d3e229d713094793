#!/usr/bin/env python3
"""Seconds per epoch of `netspec train` in 1 process and in N processes (torch.distributed, gloo).

The model is specs/cifar.yaml's (the seed tutorial's LeNet) on FakeData images of CIFAR's shape,
global batch 64, on the CPU. Each run trains --epochs epochs; the figure is the median of the
epochs after the first (metrics.csv's `seconds`: the training pass and the test pass), with the
training images per second beside it.

usage: python bench/ddp_speed.py [--nproc 2] [--epochs 3] [--size 20000]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def run(spec: Path, out: Path, nproc: int) -> tuple[float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "netspec", "train", str(spec), "--nproc", str(nproc),
                    "--set", f"output.dir={out}"], check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))[1:]
    return (statistics.median(float(r["seconds"]) for r in rows),
            statistics.median(float(r["images_per_s"]) for r in rows), wall)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--size", type=int, default=20000, help="training images (the test split is a fifth)")
    args = p.parse_args()
    spec = yaml.safe_load((ROOT / "specs" / "cifar.yaml").read_text())
    spec["data"] = {"dataset": {"FakeData": {"size": args.size, "test_size": args.size // 5}}, "batch_size": 64,
                    "test_batch_size": 128}
    spec["train"].update(epochs=args.epochs, device="cpu")
    spec["output"] = {"tensorboard": False}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cifar_fake.yaml"
        path.write_text(yaml.safe_dump(spec))
        print(f"cpu cores: {len(os.sched_getaffinity(0))}, {args.size:,} training images of 3x32x32, global batch 64")
        base = None
        for n in (1, args.nproc):
            seconds, rate, wall = run(path, Path(tmp) / f"run{n}", n)
            base = base or seconds
            print(f"{n} process{'es' if n > 1 else ''}: {seconds:.2f} s per epoch, {rate:,.0f} training img/s, "
                  f"whole run {wall:.1f} s; speed-up {base / seconds:.2f}x")


if __name__ == "__main__":
    main()
