"""The beginner corpus: tests/specs/beginner/ holds realistic mistakes on copies of the shipped specs, each
with what `netspec check` prints for it in English (NAME.out) and Chinese (NAME.zh.out).

Each case's header says what is wrong, which spec it was copied from, the line the person must change,
and what netspec's fix does: `same` (applied, it gives the copied spec's model, data and training back),
`valid` (a valid spec without warnings, though not the original: the mistake needs a choice only the
person can make, and netspec's fix makes a correct one), or `none` (the message says what to do; there is
no edit to apply). `pytest --regen-golden` rewrites the .out files: read the diff as a beginner would.
"""
import re
from pathlib import Path

import pytest

import netspec
from netspec.loader import loads
from tests.helpers import ROOT, run_cli

CORPUS = ROOT / "tests" / "specs" / "beginner"
CASES = sorted(CORPUS.glob("*.yaml"))
HEADER = re.compile(r"# wrong: (?P<wrong>.+)\n# from: (?P<ref>\S+)\n# line: (?P<line>\d+)\n# fix: (?P<fix>same|valid|none)\n")
# Python's own words, which a person who does not program cannot act on.
INTERNALS = ("__init__", "Traceback", "not supported between instances", "unexpected keyword argument",
             "object has no attribute", "<class ", "NoneType", "takes from", "positional argument",
             "torch.nn.modules", "Error:", "KeyError", "TypeError", "ValueError")


def header(case: Path) -> dict:
    m = HEADER.match(case.read_text(encoding="utf-8"))
    assert m, f"{case.name}: the header is # wrong / # from / # line / # fix"
    return m.groupdict()


def first(report):
    """The diagnostic a person reads first: the first error, else the first warning."""
    return (report.errors or report.warnings or [None])[0]


def test_enough_cases():
    assert len(CASES) >= 60


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # so that messages name the file as tests/specs/beginner/NAME.yaml


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden(case: Path, lang: str, regen_golden: bool):
    code, out, err = run_cli("check", "--lang", lang, case.relative_to(ROOT).as_posix())
    text = err + out
    golden = case.with_suffix(".out" if lang == "en" else ".zh.out")
    if regen_golden:
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert golden.exists(), f"{golden.name} is missing; run pytest --regen-golden"
    assert text == golden.read_text(encoding="utf-8")
    assert not any(word in text for word in INTERNALS), text


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_the_first_message_is_at_the_line_to_change(case: Path):
    want = header(case)
    report = netspec.check(str(case))
    problem = first(report)
    assert problem is not None, f"{case.name}: netspec says nothing about: {want['wrong']}"
    assert problem.line == int(want["line"]), (problem.line, problem.message)
    assert problem.hints, "every message says what to do"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_the_fix_leads_to_a_correct_spec(case: Path):
    want = header(case)
    problem = first(netspec.check(str(case)))
    if want["fix"] == "none":
        assert problem.fix is None, "netspec has a fix now: say `valid` or `same` in the header"
        return
    assert problem.fix is not None and problem.fix.line is not None, problem.message
    fixed_text = problem.fix.apply(case.read_text(encoding="utf-8"))
    fixed = netspec.check(loads(fixed_text, case.name))
    assert fixed.valid and not fixed.warnings, (fixed_text, [str(p) for p in fixed.errors + fixed.warnings])
    if want["fix"] == "same":
        original = netspec.check(str(ROOT / want["ref"]))
        assert _model(fixed) == _model(original)
        assert {k: fixed.doc.data.get(k) for k in ("data", "train")} == \
            {k: original.doc.data.get(k) for k in ("data", "train")}


def _model(report) -> list[tuple]:
    return [(i.type, i.args, i.output, i.params) for i in report.layers]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_chinese_output_is_chinese(case: Path):
    """Every error, warning and hint line of the Chinese output has Chinese words in it."""
    text = case.with_suffix(".zh.out").read_text(encoding="utf-8")
    for line in text.splitlines():
        said = re.match(r"^(?:\S+: )?(错误|警告\S*|附注): (.*)$|^  提示: (.*)$", line)
        if said:
            words = re.sub(r"`[^`]*`", "", said.group(2) or said.group(3))
            assert re.search(r"[\u4e00-\u9fff]", words), line
    assert "error:" not in text and "hint:" not in text
