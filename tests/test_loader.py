"""Load stage: positions, safe scalars, and every hostile input refused with one clear message."""
import subprocess
import sys

import pytest

from netspec.errors import NetspecError, UsageError
from netspec.loader import MAX_DEPTH, load, loads
from tests.helpers import ROOT


def problem(source) -> str:
    with pytest.raises(NetspecError) as e:
        loads(source, "x.yaml")
    assert len(e.value.problems) == 1
    return e.value.problems[0]


def test_positions_of_values_and_keys():
    doc = loads("netspec: 1\nmodel:\n  input: [3, 32, 32]\n  layers:\n    - Conv2d: {kernel_size: 5}\n")
    assert doc.positions[("model", "layers", 0)] == (5, 7)
    assert doc.positions[("model", "layers", 0, "Conv2d", "kernel_size")] == (5, 29)
    assert doc.key_positions[("model", "layers", 0, "Conv2d", "kernel_size")] == (5, 16)
    assert doc.positions[("model", "input", 2)] == (3, 18)
    assert doc.locate(("model", "layers", 0, "Conv2d", "stride")) == (5, 15)  # nearest ancestor


def test_scalars_are_plain_values():
    data = loads('a: 1e-3\nb: "1"\nc: 1.5\nd: ~\ne: true\nf: 2024-01-01\ng: 0x10\nh: -2E+2\n').data
    assert data == {"a": 0.001, "b": "1", "c": 1.5, "d": None, "e": True, "f": "2024-01-01", "g": 16,
                    "h": -200.0}


def test_aliases_are_expanded_with_positions():
    doc = loads("a: &x {k: [1, 2]}\nb: *x\n")
    assert doc.data == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}
    assert doc.data["a"] is not doc.data["b"]
    assert doc.positions[("b", "k", 1)] == doc.positions[("a", "k", 1)]


def test_duplicate_key_names_both_lines():
    p = problem("netspec: 1\nmodel: {}\nnetspec: 2\n")
    assert "line 1" in p.message and "line 3" in p.message and p.line == 3


@pytest.mark.parametrize("source", [
    "a: !!python/object/apply:os.system ['touch {marker}']",
    "!!python/name:os.system\n",
    "a: !!binary aGVsbG8=",
    "a: !custom 3",
    "a: !!set {x, y}",
])
def test_tags_are_refused_and_never_construct(source, tmp_path):
    marker = tmp_path / "pwned"  # what os.system would make, were the tag constructed
    p = problem(source.replace("{marker}", str(marker)))
    assert "tag" in p.message and "not allowed" in p.message
    assert not marker.exists() and not list(tmp_path.iterdir())


def test_billion_laughs_is_refused():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    p = problem("\n".join(lines))
    assert "more than" in p.message and "values" in p.message


@pytest.mark.parametrize("source", ["[" * 50_000 + "]" * 50_000, "{a: " * 50_000 + "}" * 50_000,
                                    "".join(f"{' ' * i}k:\n" for i in range(200))])
def test_deep_nesting_is_refused(source):
    assert f"more than {MAX_DEPTH} levels" in problem(source).message


@pytest.mark.parametrize("source,words", [
    (b"", "empty"), (b"  \n\n# only a comment\n", "only comments or blank lines"),
    (b"netspec: 1\nname: caf\xe9\n", "not UTF-8"),
    (b"- a\n- b\n", "must be a mapping"), (b"just text\n", "must be a mapping"),
    (b"a: [1, 2\n", "the `[` opened here is never closed"), (b"a: {b: 1\nc: 2\n", "`{` opened here"),
    (b"a: 1\n b: 2\n", "indentation does not line up"), (b"a: 'x\n", "quote opened here is never closed"),
    (b"a:\n\t- b\n", "tab character"), (b"a: b: c\n", "a second `key:`"), (b"a: [1]]\n", "closes nothing"), (b"a: 'x' y\n", "not valid YAML"),
    (b"a: 1\n---\nb: 2\n", "more than one YAML document"),
    (b"base: &b {x: 1}\nuse:\n  <<: *b\n", "merge keys"),
    (b"a: *nothing\n", "refers to no anchor"),
    (b"a\x00: 1\n", "NUL"), (b"a: 1\nb: \x1b[31m\n", "control character U+001B"),
    (b"a: !!int abc\n", "not a valid int"),
    (b"? [1, 2]\n: x\n", "plain name"),
])
def test_bad_files_get_one_clear_error(source, words):
    p = problem(source)
    assert words in p.message
    assert p.file == "x.yaml"


def test_big_file_is_refused(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_bytes(b"a: 1\n" + b"#" * (1 << 20))
    with pytest.raises(NetspecError) as e:
        load(str(f))
    assert "1 MiB" in e.value.problems[0].message


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as e:
        load(str(tmp_path / "nope.yaml"))
    assert e.value.exit_code == 2
    with pytest.raises(UsageError):
        load(str(tmp_path))


HOSTILE = {
    "bomb.yaml": "\n".join(['a: &a ["x","x","x","x","x","x","x","x","x","x"]'] +
                           [f"{chr(97 + i)}{i}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]"
                            for i in range(9)]).encode(),
    "brackets.yaml": ("[" * 50_000 + "]" * 50_000).encode(),
    "mappings.yaml": ("{a: " * 50_000 + "}" * 50_000).encode(),
    "huge.yaml": b"x: [" + b"1, " * 400_000 + b"1]\n",
    "binary.yaml": bytes(range(256)) * 100,
    "tag.yaml": b"netspec: !!python/object/apply:os.system ['touch {marker}']\n",
    "empty.yaml": b"",
    "list.yaml": b"- netspec: 1\n",
    "dup.yaml": b"netspec: 1\nnetspec: 1\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_through_the_cli(tmp_path, name):
    """Each hostile file: exit 1, one located message, no traceback, and quickly (bounded by a timeout)."""
    f, marker = tmp_path / name, tmp_path / "pwned"  # what os.system would make, were the tag constructed
    f.write_bytes(HOSTILE[name].replace(b"{marker}", str(marker).encode()))
    r = subprocess.run([sys.executable, "-m", "netspec", "check", str(f)], cwd=ROOT, capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert f"{f}" in r.stderr and "error:" in r.stderr
    assert r.stderr.count("error:") == 1
    assert not marker.exists()
