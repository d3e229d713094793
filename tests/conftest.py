"""Test settings shared by every test file: hypothesis profiles and the golden-file flag.

`pytest` runs the CI profile (derandomized, a few hundred examples per family);
`pytest --long` multiplies every example count by 20 for a deep run.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", help="run the hypothesis tests with 20x more examples")
    parser.addoption("--regen-golden", action="store_true", help="rewrite the golden .out files")


def pytest_configure(config):
    long = config.getoption("--long")
    os.environ["NETSPEC_TEST_LONG"] = "1" if long else ""
    settings.load_profile("long" if long else "ci")


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
