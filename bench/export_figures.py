"""Export figures: for each spec in specs/ (fresh weights, seed 0) and each format, the time
`netspec export` takes (export and its check against torch), the file's size and the largest difference
from torch's outputs that the check found (batch sizes 1 and 7).

usage: python bench/export_figures.py [SPEC ...]   (after `pip install '.[export]'`)
"""
from __future__ import annotations

import glob
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import netspec  # noqa: E402

FORMATS = ("onnx", "pt2", "torchscript", "python")


def main() -> None:
    specs = sys.argv[1:] or sorted(glob.glob(str(ROOT / "specs" / "*.yaml")))
    print(f"{'spec':24}{'format':13}{'seconds':>9}{'size':>14}{'max abs diff':>15}")
    with tempfile.TemporaryDirectory() as folder:
        for spec in specs:
            for fmt in FORMATS:
                out = os.path.join(folder, f"model.{fmt}")
                start = time.perf_counter()
                meta = netspec.export(spec, fmt, out)
                took = time.perf_counter() - start
                size = os.path.getsize(out)
                print(f"{Path(spec).name:24}{fmt:13}{took:9.1f}{size:>14,}{meta['max_abs_difference']:15.1e}",
                      flush=True)
                os.unlink(out)


if __name__ == "__main__":
    main()
