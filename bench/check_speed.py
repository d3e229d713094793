#!/usr/bin/env python3
"""How fast `netspec check` answers: wall time of the whole process, median of 5 runs.

usage: python bench/check_speed.py [--runs 5]
Prints the median and all runs for specs/cifar.yaml, a generated 1,000-layer spec and a
torchvision.resnet50 spec, and the import time of netspec.cli (which must not import torch).
"""
import argparse
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


def timed(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
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
        vision = Path(tmp) / "vision.yaml"
        vision.write_text("netspec: 1\nmodel:\n  input: [3, 224, 224]\n  layers:\n    - torchvision.resnet50: 10\n")
        cases = {"specs/cifar.yaml": check + ["specs/cifar.yaml"], "1,000-layer spec": check + [str(big)],
                 "torchvision.resnet50 (shipped shapes)": check + [str(vision)],
                 "python -c pass (interpreter start)": [sys.executable, "-c", "pass"],
                 "import netspec.cli": [sys.executable, "-c", "import netspec.cli"]}
        for name, argv in cases.items():
            t = timed(argv, runs)
            print(f"{name:38s} median {statistics.median(t):.3f} s   runs: {' '.join(f'{x:.3f}' for x in t)}")


if __name__ == "__main__":
    main()
