"""Golden files: every broken spec in tests/specs/invalid/ and the exact text `netspec check` prints for it.

Each NAME.yaml sits beside NAME.out. `pytest --regen-golden` rewrites the .out files from the
current messages; read the diff before committing it, as a person who is not a programmer would.
"""
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

INVALID = ROOT / "tests" / "specs" / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))

# Cases whose message has no `hint:` line although a fix is easy to suggest. Strict: when netspec
# gains the hint, the case passes, the xfail fails, and the name comes off this list.
NO_HINT_YET: set[str] = set()

# What each case must hold byte for byte to test what its name says; an editor that "repairs"
# the file (re-encodes it, turns the tab into spaces) would quietly make the case meaningless.
RAW_BYTES = {"invalid_utf8": b"r\xe9seau", "yaml_tab_character": b"\n\t- MaxPool2d"}


def _check(case: Path) -> tuple[int, str]:
    """Exit code and stderr-then-stdout of `netspec check` on the case, by its path from the root."""
    code, out, err = run_cli("check", case.relative_to(ROOT).as_posix())
    return code, err + out


@pytest.fixture(autouse=True)
def _at_root(monkeypatch, tmp_path):
    from netspec.layers import visionprobe

    monkeypatch.chdir(ROOT)  # so that messages name the file as tests/specs/invalid/NAME.yaml
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # torchvision answers measured now, not remembered
    visionprobe._cache.cache_clear()
    yield
    visionprobe._cache.cache_clear()


def test_enough_cases():
    assert len(CASES) >= 35


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden(case: Path, regen_golden: bool):
    code, text = _check(case)
    golden = case.with_suffix(".out")
    if regen_golden:
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert code == 1, text
    assert golden.exists(), f"{golden.name} is missing; run pytest --regen-golden"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_case_says_what_is_wrong(case: Path):
    first = case.read_bytes().split(b"\n", 1)[0]
    assert first.startswith(b"# wrong: "), "the first line is a comment saying what is wrong"
    if case.stem in RAW_BYTES:
        assert RAW_BYTES[case.stem] in case.read_bytes()


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_error_is_located(case: Path):
    _, text = _check(case)
    rel = re.escape(case.relative_to(ROOT).as_posix())
    assert re.search(rf"^{rel}:\d+:\d+: error: \S", text, re.MULTILINE), text


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="no hint yet")) if c.stem in NO_HINT_YET else c
    for c in CASES], ids=lambda p: p.stem)
def test_error_has_hint(case: Path):
    _, text = _check(case)
    assert re.search(r"^  hint: \S", text, re.MULTILINE), text
