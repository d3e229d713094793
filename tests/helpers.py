"""Small helpers for the tests."""
import io
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def examples(n: int) -> int:
    """n hypothesis examples in CI, 20x that under `pytest --long`."""
    return n * 20 if os.environ.get("NETSPEC_TEST_LONG") else n


def run_cli(*argv: str) -> tuple[int, str, str]:
    """netspec.cli.main(argv) with captured streams: (exit code, stdout, stderr)."""
    from netspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def spec(layers: list, input_shape=(3, 8, 8), **extra) -> dict:
    """A minimal spec dict around a list of layer entries."""
    shape = input_shape if isinstance(input_shape, dict) else list(input_shape)
    return {"netspec": 1, "model": {"input": shape, "layers": layers}, **extra}


# `python -c STEPS ARGV...`: netspec's command line, printing `step` after each optimizer step (torch's own
# hook on every optimizer), so that a test can kill it at a step of its choosing, whatever the machine's load.
STEPS = """\
import sys
from torch.optim.optimizer import register_optimizer_step_post_hook
from netspec.cli import main

register_optimizer_step_post_hook(lambda *args: print("step", flush=True))
sys.exit(main(sys.argv[1:]))
"""
