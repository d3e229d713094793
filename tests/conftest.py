"""Test settings shared by every test file: the machine the tests see, hypothesis profiles and passes, and
the golden-file flag.

`pytest` runs the CI profile (derandomized: the same few hundred examples per family every run), then,
for each test that drew them, a tenth as many new examples from a seed printed in the header; a failure
there replays with `pytest --hypothesis-seed=SEED` (or NETSPEC_HYPOTHESIS_SEED=SEED). `pytest --long`
multiplies every example count by 20 and draws them all from that seed.

Every test sees the same machine, whatever it runs on: 64 GiB of free memory for the memory guard
(NETSPEC_MEMORY_BYTES) and no GPU (CUDA_VISIBLE_DEVICES=""), so that `device: auto` trains on the CPU.
Both are environment variables, so the processes the tests start see that machine too.
"""
import inspect
import os
import random

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings

MEMORY = 64 * 2**30
EXPLORE_SHARE = 10  # the second pass draws 1/10 of a test's fixed examples (at least 2)

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("explore", settings.get_profile("long"), database=None)  # the seed alone replays it


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", help="run the hypothesis tests with 20x more examples")
    parser.addoption("--regen-golden", action="store_true", help="rewrite the golden .out files")


@pytest.hookimpl(tryfirst=True)  # before hypothesis' own, which hands --hypothesis-seed to every random draw
def pytest_configure(config):
    long = config.getoption("--long")
    os.environ["NETSPEC_TEST_LONG"] = "1" if long else ""
    os.environ["NETSPEC_MEMORY_BYTES"] = str(MEMORY)
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    settings.load_profile("long" if long else "ci")
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = os.environ.get("NETSPEC_HYPOTHESIS_SEED") or str(random.randrange(10**6))


def _drawn(config) -> str:
    seed = config.option.hypothesis_seed
    drawn = "every example" if config.getoption("--long") else "new examples after the fixed ones"
    return f"hypothesis: {drawn} drawn with seed {seed} (replay: pytest --hypothesis-seed={seed})"


def pytest_report_header(config):
    return f"netspec: the memory guard sees {MEMORY // 2**30} GiB free, and no GPU; {_drawn(config)}"


def pytest_terminal_summary(terminalreporter, config):
    """The seed again at the end, where `pytest -q` (CI) shows it too."""
    terminalreporter.write_line(_drawn(config))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """The fixed pass; then, where it drew hypothesis examples and passed, the pass with new ones."""
    module, counted = pyfuncitem.module, []
    real = getattr(module, "examples", None)  # tests.helpers.examples, where the test file counts with it
    real = real if callable(real) else None
    if real:  # a test that makes its @given inside itself counts its examples when it runs
        module.examples = lambda n: counted.append(n) or real(n)
    try:
        result = yield
    finally:
        if real:
            module.examples = real
    if (counted or is_hypothesis_test(pyfuncitem.obj)) and not pyfuncitem.config.getoption("--long"):
        _explore(pyfuncitem, real)
    return result


def _explore(item, real) -> None:
    test, seed = item.obj, item.config.option.hypothesis_seed
    before = getattr(test, "_hypothesis_internal_use_settings", None)  # where @settings keeps a test's own
    if before is not None:
        test._hypothesis_internal_use_settings = settings(
            before, derandomize=False, database=None, max_examples=max(2, before.max_examples // EXPLORE_SHARE))
    if real:
        item.module.examples = lambda n: max(2, real(n) // EXPLORE_SHARE)
    settings.load_profile("explore")
    try:
        test(**{name: item.funcargs[name] for name in inspect.signature(test).parameters})
    except BaseException as e:
        e.add_note(f"(new hypothesis examples, seed {seed}: the fixed ones passed; "
                   f"replay with pytest --hypothesis-seed={seed} or NETSPEC_HYPOTHESIS_SEED={seed})")
        raise
    finally:
        settings.load_profile("ci")
        if before is not None:
            test._hypothesis_internal_use_settings = before
        if real:
            item.module.examples = real


@pytest.fixture
def regen_golden(request) -> bool:
    return request.config.getoption("--regen-golden")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors run faster on one thread: for the modules that ask (the others keep their setting)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
