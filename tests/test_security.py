"""The hard rules, checked on the package source: no eval/exec, safe YAML only, no pickle, torch.load only
with weights_only=True, no imports named by spec data; and a spec cannot name a folder outside its runs."""
import re

import pytest

import netspec
from tests.helpers import ROOT, spec

SOURCES = sorted((ROOT / "netspec").rglob("*.py"))
FORBIDDEN = {
    "eval or exec": re.compile(r"(^|[^.\w])(eval|exec)\("),
    "yaml.load without a safe loader": re.compile(r"yaml\.(load|unsafe_load|full_load)\("),
    "pickle.load": re.compile(r"pickle\.loads?\("),
    "importlib.import_module or __import__": re.compile(r"import_module\(|__import__\("),
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_source_holds_no_forbidden_call(path):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        code = line.split("#")[0]
        for rule, pattern in FORBIDDEN.items():
            assert not pattern.search(code), f"{path.name}:{number}: {rule}: {line.strip()}"
        if "torch.load(" in code:
            assert "weights_only=True" in code, f"{path.name}:{number}: torch.load without weights_only=True"


def test_the_rules_catch_what_they_are_for():
    bad = ["x = eval(text)", "exec(code)", "yaml.load(f)", "pickle.loads(b)", "importlib.import_module(n)"]
    assert all(any(p.search(line) for p in FORBIDDEN.values()) for line in bad)
    assert not any(p.search("model.eval()") for p in FORBIDDEN.values())


@pytest.mark.parametrize("name", ["../../etc", "/etc/passwd", "a/b", "..", ".hidden", "a\\b"])
def test_a_spec_name_cannot_leave_the_runs_folder(name):
    report = netspec.check(spec(["ReLU"], name=name))
    assert not report.valid and report.errors[0].path == ("name",)


@pytest.mark.parametrize("sequence", ["\x1b[31m", "\x1b]0;owned\x07", "\x9b2J"])
def test_a_specs_escape_sequences_never_reach_the_terminal_in_the_quoted_line(tmp_path, sequence):
    from tests.helpers import run_cli

    f = tmp_path / "s.yaml"
    f.write_text(f"netspec: 1\nmodel:\n  input: [3, 8, 8]\n  layers:\n    - Conv2D{sequence}: 6\n")
    code, out, err = run_cli("check", str(f))
    assert code == 1 and "5 |" in err
    assert "\x1b" not in err and "\x9b" not in err and "\x07" not in err
    quoted = next(line for line in err.splitlines() if "5 |" in line)
    caret = err.splitlines()[err.splitlines().index(quoted) + 1]
    assert quoted.index("\\x") == caret.index("^")  # the caret under the character, shown as its escape
