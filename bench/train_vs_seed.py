#!/usr/bin/env python3
"""netspec train against the seed tutorial's hand-written CIFAR-10 loop, and against the raw limit.

One run, one process tree: (1) the seed's loop (../shared/bench/seed_cifar_loop.py) on a
CIFAR-format folder, (2) `netspec train` on the same pixels with the same model, optimizer,
batch size and epochs, (3) the raw limit: forward, backward and Adam over tensors already in
memory. Prints each one's training-epoch time, images/s, whole-process time and peak memory,
then the ratios; and the test accuracy of netspec's in-memory and per-sample paths on digits.

usage: python bench/train_vs_seed.py [--data DIR] [--epochs 1] [--device cpu]
Without --data, a CIFAR-format folder of random pixels is made in a temporary folder.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"

RAW = r"""
import sys, time, json, torch, netspec
epochs, device = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
model = netspec.build(sys.argv[3]).to(device)
opt = torch.optim.Adam(model.parameters(), lr=0.001)
loss_fn = torch.nn.CrossEntropyLoss()
x = torch.rand(50000, 3, 32, 32, device=device)
y = torch.randint(0, 10, (50000,), device=device)
for epoch in range(epochs):
    t = time.perf_counter()
    for i in range(0, 50000, 64):
        loss = loss_fn(model(x[i:i + 64]), y[i:i + 64])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    s = time.perf_counter() - t
    print(json.dumps({"epoch": epoch, "train_s": s, "train_img_per_s": 50000 / s}), flush=True)
"""


def peak_mib(argv: list[str], env=None) -> tuple[float, float, str]:
    """Run a child and read its peak memory from wait4's resource usage."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, text=True, cwd=ROOT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if status != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{err.read()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def spec_for(data: str, epochs: int, device: str, out: str) -> tuple[str, list[str]]:
    text = (ROOT / "specs" / "cifar.yaml").read_text()
    path = Path(out) / "bench.yaml"
    path.write_text(text)
    return str(path), ["--set", f"data.root={data}", "--set", "data.download=false", "--set", f"train.epochs={epochs}",
                       "--set", f"train.device={device}", "--set", f"output.dir={out}/run",
                       "--set", "output.tensorboard=false"]


def digits_accuracy(epochs: int, tmp: str) -> dict:
    """Test accuracy of the same digits run on the in-memory and the per-sample path."""
    result = {}
    for label, budget in (("in-memory", 2048), ("per-sample", 0)):
        argv = [sys.executable, "-m", "netspec", "train", "specs/digits.yaml", "--set", f"train.epochs={epochs}",
                "--set", f"data.memory_budget_mb={budget}", "--set", f"output.dir={tmp}/digits-{label}",
                "--set", "output.tensorboard=false"]
        peak_mib(argv)
        with open(f"{tmp}/digits-{label}/metrics.csv") as f:
            rows = list(csv.DictReader(f))
        result[label] = float(rows[-1]["test_accuracy"])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="folder holding cifar-10-batches-py (made if absent)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--digits-epochs", type=int, default=15)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data or os.path.join(tmp, "cifar")
        if not os.path.isdir(os.path.join(data, "cifar-10-batches-py")):
            subprocess.run([sys.executable, str(SHARED / "make_cifar_format.py"), data], check=True,
                           capture_output=True)
        print(f"data: {data}  epochs: {a.epochs}  device: {a.device}", flush=True)

        wall, peak, out = peak_mib([sys.executable, str(SHARED / "seed_cifar_loop.py"), data, "--epochs",
                                    str(a.epochs), "--device", a.device])
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        seed = {"train_s": rows[-1]["train_s"], "img_s": rows[-1]["train_img_per_s"], "wall": wall, "peak": peak}

        spec, sets = spec_for(data, a.epochs, a.device, tmp)
        wall, peak, out = peak_mib([sys.executable, "-m", "netspec", "train", spec, *sets])
        with open(f"{tmp}/run/metrics.csv") as f:
            last = list(csv.DictReader(f))[-1]
        img_s = float(last["images_per_s"])
        ours = {"train_s": 50000 / img_s, "img_s": img_s, "wall": wall, "peak": peak}

        wall, peak, out = peak_mib([sys.executable, "-c", RAW, str(a.epochs), a.device, "specs/cifar.yaml"])
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        raw = {"train_s": rows[-1]["train_s"], "img_s": rows[-1]["train_img_per_s"], "wall": wall, "peak": peak}

        print(f"{'':18s}{'train epoch s':>14s}{'images/s':>11s}{'process s':>11s}{'peak MiB':>10s}")
        for name, r in (("seed loop", seed), ("netspec train", ours), ("raw limit", raw)):
            print(f"{name:18s}{r['train_s']:14.2f}{r['img_s']:11,.0f}{r['wall']:11.2f}{r['peak']:10.0f}")
        print(f"netspec epoch vs seed epoch:     {seed['train_s'] / ours['train_s']:.2f}x faster (goal >= 8x)")
        print(f"netspec epoch vs raw limit:      {ours['train_s'] / raw['train_s']:.2f}x the raw time (goal <= 1.25x)")
        print(f"netspec process vs seed process: {seed['wall'] / ours['wall']:.2f}x faster (goal >= 5x)")
        print(f"peak memory: netspec {ours['peak']:.0f} MiB, seed {seed['peak']:.0f} MiB + uint8 data 176 MiB = "
              f"{seed['peak'] + 176:.0f} MiB (goal: netspec <= that)")
        if a.digits_epochs:
            acc = digits_accuracy(a.digits_epochs, tmp)
            print(f"digits test accuracy after {a.digits_epochs} epochs, seed 0: "
                  + ", ".join(f"{k} {100 * v:.2f}%" for k, v in acc.items()))


if __name__ == "__main__":
    main()
