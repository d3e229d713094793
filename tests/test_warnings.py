"""Warnings (valid specs that are almost certainly a mistake) and fixes (the edit that mends a problem):
each warning found where it should be and nowhere else, silenced by name, shown after the table, in
JSON with its name and fix, an exit status of 1 only with --strict; every fix netspec offers is an edit
that leads somewhere; check's verdict does not depend on the memory free at the moment."""
import json

import pytest

import netspec
import netspec.guard
from netspec.advice import NAMES
from netspec.errors import Fix
from netspec.loader import loads
from tests.helpers import run_cli

HEAD = "netspec: 1\nmodel:\n  input: [1, 8, 8]\n  layers:\n    - Flatten\n"
TAIL = "data:\n  dataset: digits\n"
GOOD = HEAD + "    - Linear: 32\n    - ReLU\n    - Linear: 10\n" + TAIL


def codes(text: str) -> list[str]:
    report = netspec.check(loads(text, "w.yaml"))
    assert report.valid, [str(p.message) for p in report.errors]
    return [w.code for w in report.warnings]


def test_a_good_spec_has_no_warnings():
    assert codes(GOOD) == []


@pytest.mark.parametrize("layers,train,name", [
    ("    - Linear: 10\n    - Softmax: {dim: 1}\n", "", "softmax-before-loss"),
    ("    - Linear: 10\n    - LogSoftmax: {dim: 1}\n", "", "softmax-before-loss"),
    ("    - Linear: 10\n    - Softmax: {dim: 1}\n", "train: {loss: NLLLoss}\n", "softmax-before-loss"),
    ("    - Linear: 10\n    - ReLU\n", "", "activation-after-output"),
    ("    - Linear: 10\n    - Dropout: 0.5\n", "", "dropout-before-output"),
    ("    - Linear: 32\n    - Linear: 10\n", "", "two-linears"),
    ("    - Linear: 32\n    - Dropout: 0.2\n    - Linear: 10\n", "", "two-linears"),
    ("    - Linear: 10\n", "train: {optimizer: {Adam: {lr: 10}}}\n", "learning-rate"),
    ("    - Linear: 10\n", "train: {optimizer: {SGD: {lr: 0.0000001}}}\n", "learning-rate"),
])
def test_each_warning_is_found_and_silenced_by_its_name(layers, train, name):
    text = HEAD + layers + TAIL + train
    assert codes(text) == [name]
    assert codes(f"silence: [{name}]\n" + text) == []


def test_an_output_that_is_not_one_score_per_class_is_a_warning():
    text = ("netspec: 1\nmodel:\n  input: [1, 8, 8]\n  layers:\n    - Conv2d: {out_channels: 10, kernel_size: 3}\n"
            + TAIL)
    assert codes(text) == ["output-not-classes"]


def test_usual_rates_and_other_losses_are_not_warned_of():
    assert codes(HEAD + "    - Linear: 10\n" + TAIL + "train: {optimizer: {SGD: {lr: 0.1}}}\n") == []
    assert codes(HEAD + "    - Linear: 1\n    - Sigmoid\n" + TAIL.replace("digits", "{FakeData: {num_classes: 1}}")
                 + "train: {loss: BCELoss}\n") == []
    # a model alone (no data, no train section) is not taken for a classifier
    assert codes("netspec: 1\nmodel:\n  input: [8]\n  layers:\n    - Linear: 4\n    - Softmax: {dim: 1}\n") == []


def test_silence_takes_only_known_names():
    report = netspec.check(loads("silence: [softmax]\n" + GOOD, "w.yaml"))
    assert not report.valid and "silence" in report.errors[0].message
    assert set(NAMES) >= {"softmax-before-loss", "two-linears", "learning-rate", "memory"}


def test_warnings_come_after_the_table_exit_0_and_1_with_strict(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text(HEAD + "    - Linear: 10\n    - Softmax: {dim: 1}\n" + TAIL)
    code, out, err = run_cli("check", str(f))
    assert code == 0 and out.startswith(f"{f}: valid")
    lines = err.splitlines()
    assert lines[0] == f"{f}:7:7: warning[softmax-before-loss]: Softmax as the last layer, before CrossEntropyLoss: " \
                       "CrossEntropyLoss applies log-softmax itself: a Softmax before it squeezes the scores, and the " \
                       "model trains slowly to a lower accuracy"
    assert "  hint: if it is meant, add `silence: [softmax-before-loss]` to the spec to silence this warning" in lines
    assert lines[-1] == f"{f}: 1 warning"
    assert run_cli("check", "--strict", str(f))[0] == 1
    f.write_text(GOOD)
    assert run_cli("check", "--strict", str(f)) == (0, run_cli("check", str(f))[1], "")


def test_json_has_warnings_with_their_name_and_fix(tmp_path):
    f = tmp_path / "w.yaml"
    text = HEAD + "    - Linear: 10\n    - Softmax: {dim: 1}\n" + TAIL
    f.write_text(text)
    code, out, err = run_cli("check", "--format", "json", str(f))
    report = json.loads(out)
    assert code == 0 and err == "" and report["valid"] and report["errors"] == []
    (w,) = report["warnings"]
    assert w["name"] == "softmax-before-loss" and w["line"] == 7 and w["fix"] == {
        "line": 7, "column": 1, "end_line": 8, "end_column": 1, "text": ""}
    fixed = Fix(**{k: w["fix"][k] for k in ("text", "line", "column", "end_line", "end_column")}).apply(text)
    assert codes(fixed) == [] and "Softmax" not in fixed


def test_errors_in_json_carry_their_fix(tmp_path):
    f = tmp_path / "e.yaml"
    f.write_text(HEAD + "    - Linear: 32\n    - relu\n    - Linear: 10\n" + TAIL)
    code, out, _ = run_cli("check", "--format", "json", str(f))
    (e,) = json.loads(out)["errors"]
    assert code == 1 and e["fix"] == {"line": 7, "column": 7, "end_line": 7, "end_column": 11, "text": "ReLU"}


def test_check_gives_the_same_verdict_whatever_memory_is_free(monkeypatch):
    spec = loads(GOOD, "w.yaml")
    monkeypatch.setattr(netspec.guard, "available_bytes", lambda: 10**12)
    plenty = netspec.check(spec)
    monkeypatch.setattr(netspec.guard, "available_bytes", lambda: 1000)
    little = netspec.check(spec)
    assert plenty.valid and little.valid and plenty.layers == little.layers
    assert [w.code for w in plenty.warnings] == [] and [w.code for w in little.warnings] == ["memory"]
    assert "of memory is available" in little.warnings[0].message
    assert netspec.check(spec, allocate=True).errors  # build and train refuse it before allocating
    with pytest.raises(netspec.NetspecError, match="of memory is available"):
        netspec.build(spec)
    assert netspec.check(loads("silence: [memory]\n" + GOOD, "w.yaml")).warnings == []


def test_the_table_shows_the_memory_to_train_a_batch(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text(GOOD + "  batch_size: 32\n")
    out = run_cli("check", str(f))[1]
    assert "Memory to train, batch 32:" in out


EDITS = "a: 1\nlist:\n  - x: {k: 5}   # c\n  - y\nb: [1, 2]\n"


@pytest.mark.parametrize("fix,want", [
    (Fix("7", path=("a",)), "a: 7\n"),
    (Fix("z", path=("list", 1)), "  - z\n"),
    (Fix("[3]", path=("b",)), "b: [3]\n"),
    (Fix("c", path=("b",), how="rename"), "c: [1, 2]\n"),
    (Fix("- w", path=("list", 1), how="insert"), "  - w\n  - y\n"),
    (Fix("- w", path=("list", 1), how="after"), "  - y\n  - w\nb:"),
    (Fix("", path=("list", 0), how="delete"), "list:\n  - y\n"),
])
def test_a_fix_made_from_a_spec_path_edits_the_right_text(fix, want):
    doc = loads(EDITS, "e.yaml")
    located = doc.locate_fix(fix)
    assert located is not None and located.line is not None
    assert want in located.apply(EDITS)
    assert located.apply(EDITS).count("\n") == EDITS.count("\n") + {"insert": 1, "after": 1, "delete": -1}.get(
        fix.how, 0)


def test_a_fix_is_offered_only_where_it_leads_further():
    # kernel 9 on 8x8: the 3x3 kernel netspec would offer fits, and the spec is valid with it
    text = HEAD.replace("    - Flatten\n", "    - Conv2d: {out_channels: 4, kernel_size: 9}\n    - Flatten\n") + \
        "    - Linear: 10\n" + TAIL
    (e,) = netspec.check(loads(text, "k.yaml")).errors
    assert e.fix is not None and netspec.check(loads(e.fix.apply(text), "k.yaml")).valid
    # on a 2x2 input no kernel of 3 fits: no fix, the hints say what to consider
    text = text.replace("input: [1, 8, 8]", "input: [1, 2, 2]").replace("digits", "{FakeData: {num_classes: 10}}")
    (e,) = netspec.check(loads(text, "k.yaml")).errors
    assert e.fix is None and e.hints
