"""How fast the editor answers: yaml-language-server (as VS Code runs it, pinned in editor/) with netspec's
schema, on specs/cifar.yaml and on a generated 1,000-layer spec. Prints the median of several runs, in
milliseconds, of: diagnostics after an edit (the server waits 200 ms before it validates: that is
included), completion of a layer name while typing (`- Con`), completion of an argument, and a hover on
a layer name near the end of the file.

usage: python bench/editor_speed.py [--runs N]   (after `pip install '.[test]'`; it runs npm ci itself)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lsp import YamlLanguageServer, install_editor_packages  # noqa: E402

SCHEMA = ROOT / "schemas" / "netspec.schema.json"
CYCLE = ["- Linear: 64", "- ReLU", "- Linear: {out_features: 64, bias: true}", "- Dropout: 0.1",
         "- LayerNorm: 64", "- GELU"]


def big_spec(n: int = 1000) -> str:
    lines = ["netspec: 1", "name: big", "model:", "  input: [64]", "  layers:"]
    lines += ["    " + CYCLE[i % len(CYCLE)] for i in range(n - 1)] + ["    - Linear: 10"]
    return "\n".join(lines + ["data:", "  dataset: {FakeData: {num_classes: 10}}", ""])


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(server: YamlLanguageServer, folder: Path, name: str, text: str, runs: int) -> dict:
    path = folder / f"{name}.netspec.yaml"
    uri = server.open(path, text)
    server.diagnostics(uri, timeout=60)  # the cold open: the schema is loaded once
    lines = text.splitlines()
    last = max(i for i, line in enumerate(lines) if line.strip().startswith("- "))
    layer_line = next(i for i in range(last, 0, -1) if lines[i].strip().startswith("- Linear"))
    typing = text.replace(lines[last], "    - Con", 1)
    arg_text = text.replace(lines[last], "    - Linear:\n        out_features: 10\n        ", 1)
    results = {}

    def edit():
        server.change(uri, text + "# edit\n")
        server.diagnostics(uri, timeout=60)

    results["diagnostics after an edit"] = timed(edit, runs)
    server.change(uri, typing)
    server.diagnostics(uri, timeout=60)
    results["completion of `- Con`"] = timed(lambda: server.complete(uri, last, len("    - Con")), runs)
    server.change(uri, arg_text)
    server.diagnostics(uri, timeout=60)
    results["completion of an argument"] = timed(lambda: server.complete(uri, last + 2, 8), runs)
    server.change(uri, text)
    server.diagnostics(uri, timeout=60)
    results["hover on a layer name"] = timed(lambda: server.hover(uri, layer_line, lines[layer_line].index("Linear") + 2),
                                             runs)
    server.close_document(uri)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    install_editor_packages()
    server = YamlLanguageServer({SCHEMA: "*.netspec.yaml"})
    try:
        with tempfile.TemporaryDirectory() as folder:
            cifar = (ROOT / "specs" / "cifar.yaml").read_text(encoding="utf-8")
            cases = {"specs/cifar.yaml": cifar, "1,000 layers": big_spec()}
            table = {name: measure(server, Path(folder), f"case{i}", text, args.runs)
                     for i, (name, text) in enumerate(cases.items())}
    finally:
        server.close()
    print(f"yaml-language-server {server.version}, schema {SCHEMA.stat().st_size:,} bytes, "
          f"median of {args.runs} runs, ms")
    what = list(next(iter(table.values())))
    print(f"{'':28}" + "".join(f"{name:>18}" for name in table))
    for w in what:
        print(f"{w:28}" + "".join(f"{table[name][w]:18.0f}" for name in table))


if __name__ == "__main__":
    main()
