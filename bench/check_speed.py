#!/usr/bin/env python3
"""How fast `netspec check` answers: wall time of the whole process, median of 5 runs.

usage: python bench/check_speed.py [--runs 5]
Prints the median and all runs for specs/cifar.yaml, a generated 1,000-layer spec, torchvision
specs (an input and class count the shipped table has, a class count it has not, and an input it
has not, checked with an empty shape cache each run), and the import time of netspec.cli (which
must not import torch).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def thousand_layers() -> str:
    lines = ["netspec: 1", "name: thousand-layers", "model:", "  input: [16, 64]", "  layers:"]
    cycle = ["    - Conv1d: {out_channels: 16, kernel_size: 3, padding: 1}", "    - BatchNorm1d",
             "    - ReLU: {inplace: true}", "    - Dropout: 0.1"]
    lines += [cycle[i % 4] for i in range(996)]
    lines += ["    - AdaptiveAvgPool1d: 1", "    - Flatten", "    - Linear: 32", "    - Linear: 10"]
    return "\n".join(lines) + "\n"


def timed(argv: list[str], runs: int, tmp: str) -> list[float]:
    times = []
    for run in range(runs):
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, f"cache-{len(argv)}-{run}"))  # empty each run
        t = time.perf_counter()
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{r.stderr}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    check = [sys.executable, "-m", "netspec", "check"]
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "thousand.yaml"
        big.write_text(thousand_layers())
        vision = {}
        for name, size, classes in (("shipped", 224, 10), ("classes", 224, 7), ("input", 100, 10)):
            vision[name] = Path(tmp) / f"{name}.yaml"
            vision[name].write_text(f"netspec: 1\nmodel:\n  input: [3, {size}, {size}]\n  layers:\n"
                                    f"    - torchvision.resnet50: {classes}\n")
        cases = {"specs/cifar.yaml": check + ["specs/cifar.yaml"], "1,000-layer spec": check + [str(big)],
                 "torchvision.resnet50, 224, 10 classes": check + [str(vision["shipped"])],
                 "torchvision.resnet50, 224, 7 classes": check + [str(vision["classes"])],
                 "torchvision.resnet50, 100x100 (measured)": check + [str(vision["input"])],
                 "python -c pass (interpreter start)": [sys.executable, "-c", "pass"],
                 "import netspec.cli": [sys.executable, "-c", "import netspec.cli"]}
        for name, argv in cases.items():
            t = timed(argv, runs, tmp)
            print(f"{name:42s} median {statistics.median(t):.3f} s   runs: {' '.join(f'{x:.3f}' for x in t)}")


if __name__ == "__main__":
    main()
