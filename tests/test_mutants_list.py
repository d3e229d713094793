"""bench/mutants.py stays runnable: every mutant's line is still in the code, once, and its tests exist."""
import importlib.util
import sys

from tests.helpers import ROOT


def _mutants():
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "bench" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutants"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_mutant_still_applies_and_names_tests_that_exist():
    m = _mutants()
    assert len(m.MUTANTS) >= 30 and len({x.name for x in m.MUTANTS}) == len(m.MUTANTS)
    assert m.stale() == [], "the code moved on: update these mutants in bench/mutants.py"
    for mutant in m.MUTANTS:
        assert mutant.old != mutant.new
        for test in mutant.tests:
            assert (ROOT / test.split("::")[0]).is_file(), (mutant.name, test)
