"""Every located error points at the character it is about: the line and column that `netspec check` prints
(1-based, columns counted in characters) are those of the offending text, found here in the file's own text,
and the caret under the quoted line stands under that character."""
import unicodedata
from pathlib import Path

import pytest

from netspec.compiler import check
from tests.helpers import ROOT, run_cli

H = "netspec: 1\nmodel:\n  input: [1, 8, 8]\n  layers:\n"

# (id, file content, the text each error points at (it starts there; found once in the file), words said)
CASES = [
    # the loader: characters YAML refuses
    ("nul", "netspec: 1\nmodel:\n  na\x00me: x\n", "\x00", "a NUL byte"),
    ("escape_after_accents", "netspec: 1\nname: café 中文\x1b[31m\nmodel: {}\n", "\x1b", "U+001B"),
    ("control_at_line_start", "netspec: 1\nname: x\n\x01model: {}\n", "\x01", "U+0001"),
    ("control_at_the_end_without_newline", "netspec: 1\nname: x\x7f", "\x7f", "U+007F"),
    ("control_after_an_emoji", "netspec: 1\nname: \U0001F600\x1b\n", "\x1b", "U+001B"),
    ("control_in_crlf_file", "netspec: 1\r\nname: x\r\nmodel: a\x02\r\n", "\x02", "U+0002"),
    ("control_after_a_bom", b"\xef\xbb\xbfnetspec: 1\nname: x\x1b\n", "\x1b", "U+001B"),
    ("invalid_utf8", b"netspec: 1\nmodel:\n  name: r\xe9seau\n", "\ufffd", "byte 0xe9"),
    pytest.param("invalid_utf8_after_accents", b"netspec: 1\nname: r\xc3\xa9s\xe9au\n", "\ufffd", "byte 0xe9"),
    pytest.param("invalid_utf8_after_a_bom", b"\xef\xbb\xbfnetspec: 1\nname: ab\n\xe9\n", "\ufffd", "byte 0xe9"),
    pytest.param("control_in_cr_file", "netspec: 1\rname: x\rmodel: a\x02\r", "\x02", "U+0002"),
    pytest.param("control_after_a_line_separator", "netspec: 1\u2028name: x\x02\n", "\x02", "U+0002"),
    # the loader: YAML's grammar
    ("tab_indent", "netspec: 1\nmodel:\n\tinput: [1]\n", "\t", "tab character"),
    ("tab_in_a_list", H + "    - ReLU\n\t- Flatten\n", "\t", "tab character"),
    ("bracket_never_closed", H.replace("[1, 8, 8]", "[1, 8, 8") + "    - ReLU\n", "[1, 8, 8", "`[` opened here"),
    ("quote_never_closed", "netspec: 1\nname: 'abc\n", "'abc", "quote opened here"),
    ("bracket_closing_nothing", "netspec: 1\nname: [1]]\n", "]\n", "closes nothing"),
    ("second_key_in_a_value", "netspec: 1\nname: a: b\n", ": b", "a second `key:`"),
    ("indentation_off", "netspec: 1\nmodel:\n  input: [1]\n   layers: [ReLU]\n", "layers", "does not line up"),
    ("duplicate_key", "netspec: 1\nname: a\nnetspec: 2\n", "netspec: 2", "duplicate key `netspec`"),
    ("tag", "netspec: 1\nname: !!python/name:os.system x\n", "!!python", "not allowed"),
    ("alias_to_nothing", "netspec: 1\nname: *nothing\n", "*nothing", "refers to no anchor"),
    ("not_an_int", "netspec: 1\nname: !!int abc\n", "!!int abc", "not a valid int"),
    ("float_too_small", H + "    - CELU: 1e-45\n", "1e-45", "too close to 0"),
    ("not_a_number", H + "    - Dropout: .nan\n", ".nan", "not a number"),
    ("merge_key", "netspec: 1\nbase: &b {x: 1}\nuse:\n  <<: *b\n", "<<", "merge keys"),
    ("second_document", "netspec: 1\nname: a\n---\nname: b\n", "---", "more than one YAML document"),
    # slips: what a person types that YAML reads otherwise
    ("full_width_colon", "netspec: 1\ntrain:\n  epochs：20\n", "：", "full-width colon"),
    ("tuple", H + "    - MaxPool2d: {kernel_size: (2, 2)}\n", "(2, 2)", "square brackets"),
    ("no_space_after_dash", H + "    - Flatten\n    -ReLU\n    - Linear: 10\n", "ReLU", "space after its `-`"),
    ("no_space_after_colon", "netspec: 1\ntrain:\n  epochs:20\n  seed: 1\n", "20", "space after its colon"),
    ("no_dash", H + "    - Flatten\n    ReLU\n    - Linear: 10\n", "ReLU", "does not start with `- `"),
    ("indented_too_far", H + "    - Flatten\n      - Linear: 10\n", "      - Linear", "indented further"),
    # the validator
    ("unknown_top_level_key", H + "    - ReLU\ntrian: {}\n", "trian", "unknown top-level key `trian`"),
    ("unknown_layer", H + "    - Flatten\n    - Dropuot: 0.5\n", "Dropuot", "unknown layer type `Dropuot`"),
    ("value_out_of_range", H + "    - Conv2d: {out_channels: 0, kernel_size: 3}\n", "0,", "at least 1"),
    ("unknown_argument", H + "    - Conv2d:\n        out_channels: 4\n        kernal_size: 3\n", "kernal_size",
     "no argument `kernal_size`"),
    ("not_a_choice", H + "    - Conv2d: {out_channels: 4, kernel_size: 3, padding: samee}\n", "samee",
     "must be one of"),
    ("train_device", H + "    - ReLU\ntrain:\n  device: gpu\n", "gpu", "train.device must be one of"),
    ("batch_size", H + "    - ReLU\ndata:\n  batch_size: 0\n", "0\n", "data.batch_size must be at least 1"),
    ("version", "netspec: 2\nmodel:\n  input: [1]\n  layers: [ReLU]\n", "2", "reads version 1"),
    ("missing_netspec", "model:\n  input: [1]\n  layers: [ReLU]\n", "model", "needs `netspec`"),
    ("name_in_chinese", "netspec: 1\nname: 中文\nmodel:\n  input: [1]\n  layers: [ReLU]\n", "中文",
     "name must be a name"),
    ("after_an_emoji_in_a_flow_mapping",
     H + "    - ReLU\ntrain: {seed: 1, optimizer: \"\U0001F600中\", epochs: ten}\n",
     ("\"\U0001F600", "ten"), ("unknown optimizer", "train.epochs must be a whole number")),
    ("after_a_chinese_key", H + "    - Conv2d: {名: 1, out_channels: 0, kernel_size: 3}\n", ("名", "0,"),
     ("no argument `名`", "at least 1")),
    # shapes
    ("conv_after_flatten", H + "    - Flatten\n    - Conv2d: {out_channels: 4, kernel_size: 3}\n", "Conv2d",
     "expects an input of shape"),
    ("kernel_bigger_than_input", H + "    - Conv2d: {out_channels: 4, kernel_size: 9}\n", "9}", "the kernel is 9x9"),
]


def _text(source: str | bytes) -> str:
    """The file as an editor shows it: a byte that is not UTF-8 as U+FFFD, a byte-order mark invisible."""
    return source.decode("utf-8-sig", "replace") if isinstance(source, bytes) else source


def _where(text: str, needle: str) -> tuple[int, int]:
    """Line and column (1-based, in characters) where `needle`, found once in `text`, starts."""
    assert text.count(needle) == 1, f"{needle!r} must occur once in the case's text"
    before = text[:text.index(needle)].splitlines(keepends=True)
    if not before:
        return 1, 1
    if before[-1].endswith(("\n", "\r")):
        return len(before) + 1, 1
    return len(before), len(before[-1]) + 1


def _width(text: str) -> int:
    """Terminal columns: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.mark.parametrize("name,source,needles,words", CASES,
                         ids=[(c.values if hasattr(c, "values") else c)[0] for c in CASES])
def test_an_error_is_located_on_its_character(tmp_path, name, source, needles, words):
    needles, words = ((needles,), (words,)) if isinstance(needles, str) else (needles, words)
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(source if isinstance(source, bytes) else source.encode("utf-8"))
    text = _text(source)
    lines = text.splitlines()
    expected = [_where(text, n) for n in needles]

    errors = check(str(path)).errors
    assert [(e.line, e.column) for e in errors] == expected, [(e.line, e.column, str(e.message)) for e in errors]
    for e, said in zip(errors, words):
        assert said in str(e.message) and e.file == str(path)
        assert 1 <= e.line <= len(lines) and 1 <= e.column <= len(lines[e.line - 1]) + 1  # inside the file

    code, out, err = run_cli("check", str(path))
    assert code == 1 and out == ""
    shown = err.split("\n")
    for (line, col), said in zip(expected, words):
        at = next(i for i, s in enumerate(shown) if s.startswith(f"{path}:{line}:{col}: error: ") and said in s)
        if all(c.isprintable() or c == "\t" for c in lines[line - 1]):  # how a control character is shown is not pinned
            source_line, caret = shown[at + 1], shown[at + 2]
            assert source_line == f"  {line} | {lines[line - 1].rstrip()}"
            assert caret == f"  {' ' * len(str(line))} | {' ' * _width(lines[line - 1][:col - 1])}^"


def _spec_files() -> list[Path]:
    specs = ROOT / "tests" / "specs"
    return sorted(p for d in ("invalid", "beginner", "fuzz_found", "valid") for p in (specs / d).glob("*.yaml"))


def _all(problems):
    for p in problems:
        yield p
        yield from _all(p.notes)


def test_every_located_problem_of_the_stored_specs_lies_inside_its_file():
    """Errors, warnings and notes: on a line of the file, at most one column past its end; or where a fix
    adds a line after a list entry (after the file's last line, at most), in the column its text starts."""
    checked = 0
    for path in _spec_files():
        report = check(str(path))
        lines = _text(path.read_bytes()).splitlines()
        for p in _all(report.errors + report.warnings):
            if p.file != str(path):
                continue
            assert p.line is not None and p.column is not None, (path.name, p.message)
            fix = p.fix
            if fix is not None and fix.how == "after" and fix.line == p.line:
                assert 1 <= p.line <= len(lines) + 1, (path.name, p.line, p.message)
                assert p.column == len(fix.text) - len(fix.text.lstrip()) + 1, (path.name, p.column, p.message)
            else:
                assert 1 <= p.line <= len(lines), (path.name, p.line, p.message)
                assert 1 <= p.column <= len(lines[p.line - 1]) + 1, (path.name, p.line, p.column, p.message)
            checked += 1
    assert checked > 150
