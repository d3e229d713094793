"""Mutation testing: does the suite notice when netspec is wrong?

Each mutant below changes one line of netspec/ (a compiler stage, the checkpoint and atomic-write code, the
runner's options) into a plausible bug. For each, the tests named with it run against a copy of the source
tree with that one change; the mutant is *caught* when they fail, and *survives* when they pass. A survivor
is a promise no test checks: write the test that kills it (or, if the change cannot alter behaviour, say
why the mutant is equivalent).

    python bench/mutants.py              # every mutant; prints caught/survived and the score
    python bench/mutants.py -k atomic    # those whose name contains "atomic"
    python bench/mutants.py --list

The checkout itself is never changed: the copy lives in a temporary folder, removed at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the repository
    old: str  # exact text, found exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest arguments: files, node ids, -k expressions


M = Mutant
MUTANTS = [
    # Atomic writes.
    M("atomic-no-fsync", "netspec/atomic.py", "            os.fsync(f.fileno())", "            pass",
      ("tests/test_atomic.py",)),
    M("atomic-copy-not-replace", "netspec/atomic.py", "        os.replace(tmp, path)",
      "        __import__('shutil').copyfile(tmp, path); os.unlink(tmp)", ("tests/test_atomic.py",)),
    M("atomic-leaves-temp", "netspec/atomic.py", "            os.unlink(tmp)\n        raise",
      "            pass\n        raise", ("tests/test_atomic.py",)),
    # Loading: where an error is said to be.
    M("loader-line-of-text", "netspec/loader.py", "    return len(lines), len(lines[-1]) + 1",
      "    return len(lines) + 1, len(lines[-1]) + 1", ("tests/test_locations.py", "tests/test_loader.py")),
    M("loader-column-of-text", "netspec/loader.py", "    return len(lines), len(lines[-1]) + 1",
      "    return len(lines), len(lines[-1])", ("tests/test_locations.py", "tests/test_loader.py")),
    M("loader-lines-end-at-newline-only", "netspec/loader.py",
      '_LINE_BREAK = re.compile("\\r\\n|[\\n\\r\\x85\\u2028\\u2029]")', '_LINE_BREAK = re.compile("\\n")',
      ("tests/test_locations.py",)),
    M("loader-yaml-column", "netspec/loader.py", "    at = (mark.line + 1, mark.column + 1) if mark else (None, None)",
      "    at = (mark.line + 1, mark.column) if mark else (None, None)", ("tests/test_locations.py", "tests/test_loader.py")),
    # Validation.
    M("validate-bool-is-int", "netspec/validate.py",
      "lambda checker, value: isinstance(value, int) and not isinstance(value, bool))",
      "lambda checker, value: isinstance(value, int))", ("tests/test_validate.py", "tests/test_beginner.py")),
    M("validate-skips-layers", "netspec/validate.py", "                        yield base + (i, name), err",
      "                        pass", ("tests/test_validate.py",)),
    # Shape inference and the registry.
    M("infer-no-2^40-rule", "netspec/infer.py",
      "if max(out.shape, default=1) > MAX_INT or math.prod(out.shape) > MAX_VALUES:",
      "if max(out.shape, default=1) > MAX_INT:", ("tests/test_fuzz.py",)),
    M("infer-no-int32-rule", "netspec/infer.py",
      "if max(out.shape, default=1) > MAX_INT or math.prod(out.shape) > MAX_VALUES:",
      "if math.prod(out.shape) > MAX_VALUES:", ("tests/test_fuzz.py",)),
    M("conv-out-off-by-one", "netspec/layers/common.py", "    return span // stride + 1",
      "    return span // stride + 1 + (span % stride > stride // 2)", ("tests/test_oracle.py",)),
    M("conv-ceil-last-window", "netspec/layers/common.py", "        if (out - 1) * stride >= size + padding:",
      "        if (out - 1) * stride > size + padding:", ("tests/test_oracle.py",)),
    M("conv-groups-ignored", "netspec/layers/conv.py", '        per_out = c_in // a["groups"] * prod(k)',
      "        per_out = c_in * prod(k)", ("tests/test_oracle.py",)),
    M("convtranspose-no-output-padding", "netspec/layers/conv.py", "+ op[i] + 1 for i in range(d))",
      "+ 1 for i in range(d))", ("tests/test_oracle.py",)),
    M("linear-macs-per-row", "netspec/layers/linear.py", "prod(x.shape[:-1]) * n_in * n_out)", "n_in * n_out)",
      ("tests/test_macs.py",)),
    M("linear-bias-uncounted", "netspec/layers/linear.py", 'params = n_in * n_out + (n_out if a["bias"] else 0)',
      "params = n_in * n_out", ("tests/test_oracle.py",)),
    M("bilinear-macs-no-batch", "netspec/layers/linear.py", "prod(x1.shape[:-1]) * n1 * n2 * n_out)",
      "n1 * n2 * n_out)", ("tests/test_macs.py",)),
    M("avgpool-count-include-pad", "netspec/layers/pool.py", '"count_include_pad": boolean(True)',
      '"count_include_pad": boolean(False)', ("tests/test_registry_defaults.py",)),
    # Building the module.
    M("builder-merge-reversed", "netspec/builder.py",
      "            outs[i] = layer(*(outs[j] for j in self._inputs[i]))",
      "            outs[i] = layer(*reversed([outs[j] for j in self._inputs[i]]))", ("tests/test_oracle_graph.py",)),
    M("builder-inplace-always", "netspec/builder.py", "                refused.add(i)\n", "                pass\n",
      ("tests/test_oracle_graph.py", "tests/test_build.py")),
    M("builder-negative-slope-in-place", "netspec/builder.py",
      'negative = min(info.args.get(k, 0) or 0 for k in ("negative_slope", "lower", "upper", "alpha")) < 0',
      "negative = False", ("tests/test_oracle_graph.py",)),
    M("builder-no-float64", "netspec/builder.py", "        net = net.double()", "        pass",
      ("tests/test_build.py", "tests/test_oracle.py")),
    M("params-floor-division", "netspec/params.py", 'value // right if op == "//"', 'value / right if op == "//"',
      ("tests/test_graph.py", "tests/test_reach.py")),
    # Checkpoints.
    M("checkpoint-unsafe-load", "netspec/checkpoint.py", 'map_location="cpu", weights_only=True)',
      'map_location="cpu", weights_only=False)', ("tests/test_security.py", "tests/test_checkpoint.py")),
    M("checkpoint-digest-unchecked", "netspec/checkpoint.py", 'if ckpt["format"] == FORMAT and written != digest(ckpt):',
      "if False:", ("tests/test_checkpoint.py",
       "tests/test_faults.py::test_a_bit_flipped_anywhere_in_a_checkpoint_is_refused_or_harmless")),
    M("checkpoint-digest-ignores-bytes", "netspec/checkpoint.py", "        h.update(t.view(torch.uint8).numpy())",
      "        pass", ("tests/test_checkpoint.py",
       "tests/test_faults.py::test_a_bit_flipped_anywhere_in_a_checkpoint_is_refused_or_harmless")),
    M("safepickle-allows-any", "netspec/safepickle.py",
      '            raise UnsafePickle(f"{module}.{name}") from None',
      "            return super().find_class(module, name)", ("tests/test_safepickle.py",)),
    # The runner's options.
    M("runner-precision-ignored", "netspec/runner.py",
      'amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(tr["precision"])', "amp = None",
      ("tests/test_train_options.py",)),
    M("runner-compile-ignored", "netspec/runner.py",
      'self.forward = torch.compile(wrapped) if tr["compile"] else wrapped', "self.forward = wrapped",
      ("tests/test_train_options.py",)),
    M("runner-grad-clip-ignored", "netspec/runner.py", "            loss.backward()\n            if clip:",
      "            loss.backward()\n            if False:", ("tests/test_training_semantics.py",)),
    M("runner-seed-ignored", "netspec/runner.py", '        torch.manual_seed(tr["seed"])', "        pass",
      ("tests/test_runner.py::test_the_same_seed_gives_bit_identical_weights_and_another_seed_does_not",)),
    M("runner-same-order-each-epoch", "netspec/runner.py",
      'self.generator.manual_seed(self.spec["train"]["seed"] * 1_000_003 + epoch)',
      'self.generator.manual_seed(self.spec["train"]["seed"] * 1_000_003)', ("tests/test_training_semantics.py",)),
    M("runner-best-is-last", "netspec/runner.py", "        improved = self.best is None or score > self.best",
      "        improved = True", ("tests/test_training_semantics.py",)),
    # The memory guard.
    M("guard-ignores-activations", "netspec/guard.py",
      "    if weights + activations <= limit:", "    if weights <= limit:",
      ("tests/test_guard.py",)),
    # Data.
    M("data-totensor-scale", "netspec/data.py", ".to(dtype=torch.get_default_dtype()).div(255)",
      ".to(dtype=torch.get_default_dtype()).div(256)", ("tests/test_data.py", "tests/test_fastdata.py")),
]


def _copy(dest: Path) -> None:
    """The parts of the repository the tests read, without the heavy or generated ones."""
    ignore = shutil.ignore_patterns(".git", "runs", "node_modules", "__pycache__", "*.egg-info", "data",
                                    ".hypothesis", ".pytest_cache", "lightning_logs")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def _pytest(tree: Path, tests: tuple[str, ...], timeout: int) -> tuple[bool, str]:
    """Run the tests in the copy; (passed, the summary line)."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    return r.returncode == 0, (lines[-1] if lines else r.stderr.strip()[-200:])


def stale(mutants=MUTANTS) -> list[str]:
    """Mutants whose text is not found exactly once in its file (the code moved on: update the list)."""
    return [m.name for m in mutants if (ROOT / m.file).read_text().count(m.old) != 1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", default="", help="only the mutants whose name contains this")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--timeout", type=int, default=900, help="seconds per mutant's tests")
    args = p.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.name:34} {m.file:28} {' '.join(m.tests)}")
        return 0
    bad = stale(chosen)
    if bad:
        print("stale mutants (text not found once): " + ", ".join(bad))
        return 1
    with tempfile.TemporaryDirectory(prefix="netspec-mutants-") as tmp:
        tree = Path(tmp) / "tree"
        _copy(tree)
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        ok, summary = _pytest(tree, tests, args.timeout * 4)
        print(f"{'unmutated':34} {'passes' if ok else 'FAILS'}   {summary}", flush=True)
        if not ok:
            print("the unmutated tests must pass first")
            return 1
        caught = []
        for m in chosen:
            target = tree / m.file
            original = target.read_text()
            target.write_text(original.replace(m.old, m.new, 1))
            t0 = time.perf_counter()
            try:
                passed, summary = _pytest(tree, m.tests, args.timeout)
            finally:
                target.write_text(original)
            caught.append(not passed)
            print(f"{m.name:34} {'caught  ' if not passed else 'SURVIVED'} {time.perf_counter() - t0:6.1f} s   "
                  f"{summary}", flush=True)
    print(f"\n{sum(caught)} of {len(chosen)} mutants caught"
          + ("" if all(caught) else "; survived: " + ", ".join(m.name for m, c in zip(chosen, caught) if not c)))
    return 0 if all(caught) else 1


if __name__ == "__main__":
    sys.exit(main())
