"""Spec fuzzing: `netspec check` on hostile and half-edited input, and torch on what it accepts.

What is fuzzed (hypothesis; counts are per test, x20 under `pytest --long`):

- random YAML documents: nested mappings, lists and scalars (text, huge and negative numbers,
  NaN and infinities, null, booleans) dumped with `yaml.safe_dump`, free-form or shaped like a
  spec (`netspec: 1`, `model: {input: ..., layers: [...]}`);
- raw text and bytes: any text, YAML punctuation soup, any bytes;
- mutants of every spec in `specs/` and `tests/specs/valid/`: on the data (delete a key or
  item, replace a value with one of another type, swap numbers for text, negative and huge
  numbers, rename keys and layers (case, a letter dropped or doubled, another layer type),
  insert, duplicate and swap layer entries, wrong `from` names and offsets, duplicate and
  reserved `name`s, odd `repeat`s, broken block params and `$(...)` expressions, deep
  nesting, empty lists and mappings, null) and on the text (lines deleted, doubled, swapped,
  re-indented, characters inserted, bytes flipped, the file cut short).

(a) Whatever the input, `netspec check FILE` (text, `--depth 0`, `--format json`) exits 0 or 1,
never prints a traceback or "internal error", and every error it prints is a located
`FILE:LINE:COL: error:` line. Run time is bounded by keeping the inputs small (a `repeat` or
`num_layers` is at most 64): nothing here is timed.
(b) Every spec the checker accepts (gentle mutants, and whatever the other tests produce that it
accepts) builds with `netspec.build`; its parameter count equals `report.total_params`, and a
forward pass (eval mode, no_grad) on a batch of 2 zeros (int64 zeros for integer input) gives the
predicted output shape and dtype. Models over 20 M parameters, 200 MB of activations (input included) for the batch,
200 M MACs per sample or a dimension beyond int32 are built and run on the `meta` device instead
(no run where torch's meta Bilinear would loop over more than 1,000 outputs, no build of more
than 64 stacked recurrent or encoder layers).

What the fuzzer found is kept in tests/specs/fuzz_found/, one minimised spec per file, and run by
`test_fuzz_found` under both properties (with a 5 s alarm, as some of them hang), and by
`test_fuzz_found_verdict` for its own verdict (FOUND_VERDICTS: each error's place and words, the memory
guard out of the way so that the checker's own size rules are what refuses a spec). A file whose
first line starts with `# BUG:` says what still goes wrong and is a strict xfail: a fix turns it
into a failure, and the line then becomes `# fixed: ...` (any other first line: a regression test
that must pass). While such a bug is open, the hypothesis tests let exactly its kind of input
through (KNOWN below): random input meets most of them on every run and would hide the rest.
"""
from __future__ import annotations

import copy
import json
import re
import resource
import signal
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import event as _event
from hypothesis import given, settings
from hypothesis import note as _note
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

import netspec
from netspec.registry import layers
from tests.helpers import ROOT, examples, run_cli

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]

SEEDS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests" / "specs" / "valid").glob("*.yaml"))
FOUND_DIR = ROOT / "tests" / "specs" / "fuzz_found"
FOUND = sorted(FOUND_DIR.glob("*.yaml"))
SEED_TEXT = {p.name: p.read_text() for p in SEEDS}
SEED_DATA = {p.name: yaml.safe_load(t) for p, t in ((p, SEED_TEXT[p.name]) for p in SEEDS)}

BATCH = 2
MAX_PARAMS = 20_000_000  # above: build on the meta device
MAX_ACTIVATION_BYTES = 200_000_000  # for the whole batch; above: meta
MAX_MACS = 200_000_000  # per sample; above: meta (keeps each forward pass, and its im2col buffers, small)
MAX_REPEAT = 64  # the largest `repeat` and `num_layers` drawn: example sizes stay bounded

LAYER_NAMES = sorted(n for n in layers() if not n.startswith("torchvision."))  # no torch imports when checking
META = ("name", "from", "repeat")
TEXT_CHARS = list(":-[]{}#&*!|>'\",?%@` \t\n") + ["\x00", "\ufeff", "\u00e9", "\u2028", "\r", "$", "$(", ")"]

SAFE_DUMP = dict(sort_keys=False, allow_unicode=True)


def note(text: str) -> None:
    if currently_in_test_context():
        _note(text)


def event(text: str) -> None:
    if currently_in_test_context():
        _event(text)


# Known defects. ---------------------------------------------------------------------------------

def _first_line(path: Path) -> str:
    return path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")


OPEN_BUGS = frozenset(p.stem for p in FOUND if _first_line(p).startswith("# BUG:"))
MAX_INT = 2**31 - 1  # torch sizes beyond this overflow somewhere (int32 pooling, int64 byte counts)


# While a `# BUG:` file is open, its kind of input -> (a predicate on the loaded document and the file,
# the bug files' name prefixes). Every kind found so far is fixed, so none is tolerated now.
KNOWN: dict[str, tuple] = {}


def known_defects(content: str | bytes, path: Path) -> list[str]:
    """The kinds of KNOWN input this file holds whose bugs are still open (as netspec itself reads the file)."""
    from netspec.errors import NetspecError
    from netspec.loader import loads

    active = [k for k, (_, files) in KNOWN.items() if any(b.startswith(files) for b in OPEN_BUGS)]
    if not active:
        return []
    try:
        data = loads(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")).data
    except (NetspecError, RecursionError):
        return []
    return [k for k in active if KNOWN[k][0](data, path)]


def tolerating_known(prop, path: Path, content: str | bytes, *args):
    """prop(path, *args), but a failure on an input of an open bug's kind is only counted."""
    try:
        return prop(path, *args)
    except Exception:
        known = known_defects(content, path)
        if not known:
            raise
        event(f"known defect: {', '.join(known)}")
        return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# The properties. -------------------------------------------------------------------------------

def _located(path: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(path)}:\d+:\d+: (error|note): \S")


def assert_check_is_clean(path: Path, *options: str) -> int:
    """(a): exit 0 or 1, no traceback, no internal error, every error a located FILE:LINE:COL line."""
    p = str(path)
    code, out, err = run_cli("check", p, *options)
    note(f"exit {code}\nstdout:\n{out[:3000]}\nstderr:\n{err[:3000]}")
    both = out + err
    assert "Traceback" not in both
    assert "internal error" not in both
    assert code in (0, 1)
    if "json" in options:
        assert err == ""
        report = json.loads(out)
        assert report["valid"] == (code == 0)
        assert report["file"] == p
        if code == 1:
            assert report["errors"]
            for e in report["errors"]:
                assert e["file"] == p and isinstance(e["line"], int) and isinstance(e["column"], int), e
        return code
    if code == 0:
        assert out.startswith(f"{p}: valid")
        if err:  # warnings: each located, then their count
            lines = err.rstrip("\n").split("\n")
            assert re.fullmatch(rf"{re.escape(p)}: \d+ warnings?", lines[-1]), lines[-1]
            said = [ln for ln in lines[:-1] if ln.startswith(p)]
            assert said and all(re.match(rf"^{re.escape(p)}:\d+:\d+: warning\[[a-z-]+\]: \S", ln) for ln in said), said
        return code
    assert out == ""
    lines = err.rstrip("\n").split("\n")  # not splitlines(): \x1e, \x85, \u2028 are not line ends on a terminal
    m = re.fullmatch(rf"{re.escape(p)}: (\d+) errors?", lines[-1])
    assert m, f"last line is not the error count: {lines[-1]!r}"
    located = _located(p)
    errors = 0
    for line in lines[:-1]:
        if line.startswith("  "):  # the source line, the caret, a hint
            continue
        m_line = located.match(line)
        assert m_line, f"not a located error line: {line!r}"
        errors += m_line.group(1) == "error"
    assert errors == int(m.group(1)) >= 1
    return code


def _is_meta_gap(e: Exception) -> bool:
    """torch has no meta kernel for an op: not netspec's business."""
    return isinstance(e, NotImplementedError) or "meta" in str(e).lower() and "overflow" not in str(e).lower()


def _beyond_torch_sizes(report) -> bool:
    """A dimension beyond int32, or a weight beyond 2**60 elements: no CPU run (it could not allocate)."""
    shapes = [report.input.shape] + [info.output.shape for info in report.layers]
    return any(d > MAX_INT for s in shapes for d in s) or any(info.params > 2**60 for info in report.layers)


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


@contextmanager
def _memory_limit(extra: int):
    """At most `extra` more bytes of address space while building and running on the CPU: memory the
    checker does not foresee makes torch fail at once (can't allocate) instead of exhausting the machine."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _vm_size() + extra
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, StopIteration):  # no /proc, or the limit cannot be set: run without
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_accepted_spec_runs(path: Path) -> bool:
    """(b): a spec the checker accepts builds, and torch agrees on parameter count, output shape and dtype.

    Returns whether the checker accepted it."""
    report = netspec.check(str(path))
    if not report.valid:
        return False
    if any(isinstance(info.args.get("num_layers"), int) and info.args["num_layers"] > 64 for info in report.layers):
        event("accepted: not built (more than 64 stacked layers)")
        return True
    dtype = getattr(torch, report.input.dtype)
    activations = report.activation_bytes + report.input.numel() * dtype.itemsize  # the input too
    big = (report.total_params > MAX_PARAMS or BATCH * activations > MAX_ACTIVATION_BYTES
           or report.total_macs > MAX_MACS or _beyond_torch_sizes(report))
    event("accepted: meta" if big else "accepted: forward on the CPU")
    note(f"params {report.total_params:,}, activations {report.activation_bytes:,} B, MACs {report.total_macs:,}")
    device = torch.device("meta" if big else "cpu")
    if big:
        with device:
            model = netspec.build(report)
    else:  # the weights, a few copies of the activations, and 2 GiB for torch's own working memory
        with _memory_limit(2 * 2**30 + 4 * (BATCH * activations + 8 * report.total_params)):
            model = netspec.build(report)
    assert sum(p.numel() for p in model.parameters()) == report.total_params
    if big and any(info.type == "Bilinear" and info.args.get("out_features", 0) > 1000 for info in report.layers):
        event("meta forward skipped (Bilinear loops over its outputs on meta)")
        return True
    model.eval()
    with torch.no_grad(), _memory_limit(2 * 2**30 + 4 * BATCH * activations) if not big else nullcontext():
        try:
            y = model(torch.zeros((BATCH, *report.input.shape), dtype=dtype, device=device))
        except Exception as e:
            if big and _is_meta_gap(e):
                event("meta forward not supported by torch")
                return True
            raise
    assert tuple(y.shape) == (BATCH, *report.output.shape)
    assert str(y.dtype).removeprefix("torch.") == report.output.dtype
    return True


def _write(workdir: Path, content: str | bytes, name: str = "spec.yaml") -> Path:
    path = workdir / name
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


# Random documents. -----------------------------------------------------------------------------

HUGE = [10**12, -(10**12), 1e12, 2**63, -(2**63) - 1, 10**30, 1e300]
# at and just past the limits netspec sets (int32 sizes, float32 numbers), and a float32 subnormal
LIMITS = [2**31 - 1, 2**31, -(2**31 - 1), 2**30, 65536, 10**6, 3.4e38, 3.5e38, -3.4e38, 1e-45, 1e-38]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-10, 100), st.sampled_from(HUGE + [0, -5, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(LAYER_NAMES + ["netspec", "model", "input", "layers", "blocks", "from", "name", "repeat",
                                   "$channels", "$(channels * 2)", "1e-3", "yes", "~", "null", "&a", "*a"]),
)
keys = st.one_of(st.sampled_from(["netspec", "model", "input", "layers", "blocks", "params", "name", "from",
                                  "repeat", "data", "train", "output", "dtype", "shape"] + LAYER_NAMES),
                 st.text(max_size=8), st.integers(-3, 3), st.booleans(), st.none())
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                          st.dictionaries(keys, inner, max_size=5)),
                         max_leaves=40)


@st.composite
def spec_shaped(draw) -> dict:
    """A document that gets past the first checks: netspec: 1 and a model with random input and layers."""
    entry = st.one_of(
        st.sampled_from(LAYER_NAMES),
        st.builds(lambda k, v: {k: v}, st.sampled_from(LAYER_NAMES), documents),
        st.builds(lambda k, v, m, mv: {k: v, m: mv}, st.sampled_from(LAYER_NAMES), documents,
                  st.sampled_from(META), documents),
        documents,
    )
    shape = st.one_of(st.lists(st.integers(1, 12), min_size=1, max_size=4), documents,
                      st.fixed_dictionaries({"shape": st.lists(st.integers(1, 12), min_size=1, max_size=3),
                                             "dtype": st.sampled_from(["float32", "float64", "int64", "int32",
                                                                       "bool", 1])}))
    model = {"input": draw(shape), "layers": draw(st.lists(entry, max_size=6))}
    doc: dict = {"netspec": draw(st.sampled_from([1, 1, 1, 2, "1", None])), "model": model}
    if draw(st.booleans()):
        doc["blocks"] = draw(st.dictionaries(st.sampled_from(["b", "basic", "ReLU", "x"]), documents, max_size=2))
    return doc


@settings(max_examples=examples(80))
@given(doc=st.one_of(documents, spec_shaped()), flow=st.booleans())
def test_random_yaml_documents(workdir, doc, flow):
    text = yaml.safe_dump(doc, default_flow_style=flow, **SAFE_DUMP)
    path = _write(workdir, text)
    if tolerating_known(assert_check_is_clean, path, text) == 0:
        tolerating_known(assert_accepted_spec_runs, path, text)


@settings(max_examples=examples(80))
@given(content=st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(TEXT_CHARS + ["netspec: 1\n", "model:\n", "  layers:\n", "  input: [3, 8, 8]\n",
                                           "    - ReLU\n", "- ", "a", "1", "&x ", "*x", "!!python/object "]),
             max_size=60).map("".join),
    st.binary(max_size=200),
))
def test_random_text_and_bytes(workdir, content):
    tolerating_known(assert_check_is_clean, _write(workdir, content), content)


# Mutants of the specs. --------------------------------------------------------------------------

def _paths(node, path=()):
    """The path of every node of a document (not the root)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,)
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,)
            yield from _paths(v, path + (i,))


def _get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


def _set(doc, path, value):
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _delete(doc, path):
    del _get(doc, path[:-1])[path[-1]]


def _rename(doc, path, new_key):
    """Rename a mapping key in place, keeping the key order (a key that exists already is replaced)."""
    parent = _get(doc, path[:-1])
    items = [(new_key if k == path[-1] else k, v) for k, v in parent.items() if k != new_key or k == path[-1]]
    parent.clear()
    parent.update(items)


def _layer_lists(doc) -> list[tuple]:
    out = []
    if isinstance(doc, dict):
        if isinstance(doc.get("model"), dict) and isinstance(doc["model"].get("layers"), list):
            out.append(("model", "layers"))
        if isinstance(doc.get("blocks"), dict):
            for name, block in doc["blocks"].items():
                if isinstance(block, dict) and isinstance(block.get("layers"), list):
                    out.append(("blocks", name, "layers"))
    return out


def _entries(doc) -> list[tuple]:
    """The path of every layer entry."""
    return [base + (i,) for base in _layer_lists(doc) for i in range(len(_get(doc, base)))]


def _kind(entry):
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return next((k for k in entry if k not in META), None)
    return None


def _names(doc) -> list[str]:
    names = {"input", "x", "stem", "block", "head", "nope", "Stem"}
    for p in _entries(doc):
        e = _get(doc, p)
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            names.add(e["name"])
    return sorted(names)


# Every layer entry of every seed spec, and a few more: for insertions.
POOL = [copy.deepcopy(_get(d, p)) for d in SEED_DATA.values() for p in _entries(d)] + [
    {"Add": None, "from": [-1, -2]}, {"Mul": None, "from": ["input", -1]}, {"Concat": {"dim": 1}, "from": [-1, -1]},
    {"Concat": {"dim": -1}, "from": ["input", -1]}, {"Identity": None, "name": "x"},
    {"Linear": 4, "repeat": 2}, "Flatten", {"Unflatten": {"dim": 1, "unflattened_size": [2, -1]}},
    {"LazyLinear": 3}, {"Bilinear": 3}, {"Embedding": {"num_embeddings": 10, "embedding_dim": 4}},
    {"LSTM": {"hidden_size": 4, "output": "last"}}, {"MultiheadAttention": 1}, {"Upsample": {"scale_factor": 2}},
]


def _spell(draw, word: str) -> str:
    """A misspelling: case changed, a letter dropped or doubled, or another layer's name."""
    word = str(word)
    how = draw(st.sampled_from(["lower", "upper", "swapcase", "capitalize", "drop", "double", "other", "suffix"]))
    if how == "drop" and len(word) > 1:
        i = draw(st.integers(0, len(word) - 1))
        return word[:i] + word[i + 1:]
    if how == "double" and word:
        i = draw(st.integers(0, len(word) - 1))
        return word[:i] + word[i] + word[i:]
    if how == "other":
        return draw(st.sampled_from(LAYER_NAMES + list(META)))
    if how == "suffix":
        return word + draw(st.sampled_from(["d", "_1", ".x", " ", "2d", "3d", "1d"]))
    return getattr(word, how if how in ("lower", "upper", "swapcase", "capitalize") else "lower")()


def _nasty(draw, old):
    """A value of another type, or a number at an edge."""
    pools = [st.sampled_from([None, "", "abc", "ReLU", True, False, 0, -5, -1, 1, 2, 1.5, -0.5, 0.0, 1e-9,
                              float("nan"), float("inf"), -float("inf"), [], {}, [0], [1, 2], [3, 3, 3], {"a": 1},
                              "$channels", "$(channels * 2)", "1e-3", "null", "input", "same"] + HUGE + LIMITS),
             st.integers(-10, 40), st.text(max_size=6)]
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        pools.append(st.sampled_from([str(old), old + 1, old - 1, -old, old * 2, old // 2 if isinstance(old, int)
                                      else old / 2, old * 1000, float(old), [old], [old, old]]))
    if isinstance(old, str):
        pools.append(st.sampled_from([old.upper(), old + "x", old[:-1], 5, [old], {old: None}]))
    return draw(st.one_of(*pools))


def _gentle(draw, old):
    """A plausible value: a nearby small number, a flag, a short list; mostly the same type."""
    if isinstance(old, bool):
        return not old
    if isinstance(old, (int, float)) and draw(st.integers(0, 7)) == 0:
        return draw(st.sampled_from(LIMITS))
    if isinstance(old, int):
        return draw(st.one_of(st.integers(1, max(4, 2 * old)) if old > 0 else st.integers(-3, 3),
                              st.sampled_from([1, 2, 3, 8, 16, None])))
    if isinstance(old, float):
        return draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, 2.0, old * 2, old / 2]))
    if isinstance(old, list) and old and all(isinstance(v, int) for v in old):
        return [draw(st.integers(1, max(4, v + 2))) if isinstance(v, int) and v > 0 else v for v in old]
    return draw(st.sampled_from([None, 1, 2, 3, [2, 2], "same", True, False]))


OPS = ["delete", "replace", "retype", "rename_key", "swap_layer", "insert", "duplicate", "move", "from", "name",
       "repeat", "block", "nest", "empty"]
GENTLE_OPS = ["delete_arg", "tweak", "tweak", "tweak", "swap_layer", "insert", "insert", "duplicate", "from",
              "repeat", "block"]


def _mutate(draw, doc, op: str, gentle: bool):
    """One mutation of doc (returns the new document, as the root may change)."""
    paths = list(_paths(doc))
    model_paths = [p for p in paths if p[0] in ("model", "blocks")]
    entries = _entries(doc)
    lists = _layer_lists(doc)
    if not paths:
        return draw(documents)
    if op in ("swap_layer", "duplicate", "move", "from", "name", "repeat", "delete_arg") and not entries:
        op = "replace"
    if op == "insert" and not lists:
        op = "replace"
    pick = (lambda ps: draw(st.sampled_from(ps or paths)))
    if op == "delete":
        _delete(doc, pick(model_paths if draw(st.integers(0, 4)) else paths))
    elif op == "delete_arg":
        e = _get(doc, draw(st.sampled_from(entries)))
        k = _kind(e)
        if isinstance(e, dict) and isinstance(e.get(k), dict) and e[k]:
            del e[k][draw(st.sampled_from(sorted(e[k], key=str)))]
        elif isinstance(e, dict) and k is not None:
            e[k] = None
    elif op in ("replace", "tweak", "retype"):
        p = pick(model_paths if draw(st.integers(0, 4)) else paths)
        old = _get(doc, p)
        if op == "retype":
            new = {int: str, float: str, str: lambda s: 7, bool: lambda b: str(b).lower(),
                   list: lambda v: v[0] if v else None, dict: lambda v: list(v.values()),
                   type(None): lambda v: 0}[type(old)](old)
        else:
            new = _gentle(draw, old) if op == "tweak" else _nasty(draw, old)
        if p[-1] in ("repeat", "num_layers") and isinstance(new, int) and not isinstance(new, bool) \
                and new > MAX_REPEAT:
            new = MAX_REPEAT  # bounded example sizes; a huge one hung the checker (repeat_huge, lstm_num_layers_huge)
        doc = _set(doc, p, new)
    elif op == "rename_key":
        keyed = [p for p in paths if isinstance(p[-1], str)]
        if keyed:
            in_model = [k for k in keyed if k[0] in ("model", "blocks")]
            p = draw(st.sampled_from(in_model if in_model and draw(st.integers(0, 3)) else keyed))
            _rename(doc, p, _spell(draw, p[-1]))
    elif op == "swap_layer":
        p = draw(st.sampled_from(entries))
        e = _get(doc, p)
        new = draw(st.sampled_from(LAYER_NAMES)) if gentle or draw(st.booleans()) else _spell(draw, _kind(e) or "x")
        if isinstance(e, dict) and _kind(e) is not None:
            keep_args = draw(st.booleans())
            _rename(doc, p + (_kind(e),), new)
            if not keep_args:
                e[new] = None
        else:
            doc = _set(doc, p, new)
    elif op == "insert":
        base = draw(st.sampled_from(lists))
        entries_here = _get(doc, base)
        entries_here.insert(draw(st.integers(0, len(entries_here))), copy.deepcopy(draw(st.sampled_from(POOL))))
    elif op == "duplicate":
        p = draw(st.sampled_from(entries))
        _get(doc, p[:-1]).insert(p[-1], copy.deepcopy(_get(doc, p)))
    elif op == "move":
        p = draw(st.sampled_from(entries))
        items = _get(doc, p[:-1])
        e = items.pop(p[-1])
        items.insert(draw(st.integers(0, len(items))), e)
    elif op == "from":
        p = draw(st.sampled_from(entries))
        e = _get(doc, p)
        ref = st.one_of(st.sampled_from(_names(doc)), st.integers(-4, -1))
        if not gentle:
            ref = st.one_of(ref, st.sampled_from([0, 1, -100, None, "", "a.b", [], [[-1]], {"x": 1}]),
                            st.text(max_size=5))
        value = draw(st.one_of(ref, st.lists(ref, min_size=1 if gentle else 0, max_size=3)))
        e = {e: None} if isinstance(e, str) else e
        if isinstance(e, dict):
            e["from"] = value
            doc = _set(doc, p, e)
    elif op == "name":
        p = draw(st.sampled_from(entries))
        e = _get(doc, p)
        e = {e: None} if isinstance(e, str) else e
        if isinstance(e, dict):
            e["name"] = draw(st.one_of(st.sampled_from(_names(doc) + ["forward", "training", "to", "a.b", "", "1x",
                                                                      "x_1", "conv2d_1", "relu_1", None, 3]),
                                       st.text(max_size=5)))
            doc = _set(doc, p, e)
    elif op == "repeat":
        p = draw(st.sampled_from(entries))
        e = _get(doc, p)
        e = {e: None} if isinstance(e, str) else e
        if isinstance(e, dict):
            e["repeat"] = draw(st.sampled_from([1, 2, 3] if gentle else [0, -1, 1, 2, 3, 1.5, "2", None, [2], MAX_REPEAT]))
            doc = _set(doc, p, e)
    elif op == "block":
        doc = _mutate_blocks(draw, doc, gentle)
    elif op == "nest":
        p = pick(model_paths)
        value = _get(doc, p)
        for _ in range(draw(st.sampled_from([1, 2, 5, 30, 62, 63, 64, 65, 70, 100]))):
            value = [value] if draw(st.booleans()) else {"a": value}
        doc = _set(doc, p, value)
    elif op == "empty":
        p = pick([q for q in paths if isinstance(_get(doc, q), (list, dict))])
        doc = _set(doc, p, draw(st.sampled_from([[], {}, None, ""])))
    return doc


def _mutate_blocks(draw, doc, gentle: bool):
    """Broken block params: a missing or unknown param, a bad default, a bad `$` reference or expression."""
    blocks = doc.get("blocks") if isinstance(doc, dict) else None
    if not isinstance(blocks, dict) or not blocks:
        # make one: a block around an entry of the model
        entries = [p for p in _entries(doc) if p[0] == "model"]
        if not entries or not isinstance(doc.get("model"), dict):
            return doc
        p = draw(st.sampled_from(entries))
        doc.setdefault("blocks", {})
        doc["blocks"] = {"blk": {"params": {"n": 4}, "layers": [copy.deepcopy(_get(doc, p))]}}
        _set(doc, p, {"blk": draw(st.sampled_from([None, {"n": 2}, {"m": 1}, 3]))})
        return doc
    name = draw(st.sampled_from(sorted(blocks, key=str)))
    block = blocks[name]
    if not isinstance(block, dict):
        return doc
    params = block.get("params") if isinstance(block.get("params"), dict) else {}
    param = draw(st.sampled_from(sorted(params, key=str))) if params else "channels"
    how = draw(st.sampled_from(["default", "use", "ref", "self", "drop_param"]))
    if how == "default" and params:
        params[param] = draw(st.sampled_from([None, 0, -3, 2, 1.5, "x", [], True] + ([] if gentle else HUGE)))
    elif how == "drop_param" and params:
        del params[param]
    elif how == "use":
        uses = [p for p in _entries(doc) if _kind(_get(doc, p)) == name]
        if uses:
            p = draw(st.sampled_from(uses))
            value = draw(st.one_of(st.sampled_from([None, 5, "x", [], {}, {param: None}, {param: -2}, {param: 0},
                                                    {param: 1}, {param: 2}, {param: 8}, {param: "$" + str(param)},
                                                    {"nope": 1}, {param: 1.5}]),
                                   st.dictionaries(st.sampled_from([str(param), "nope"]), st.integers(-2, 9))))
            e = _get(doc, p)
            e = {e: None} if isinstance(e, str) else e
            e[name] = value
            _set(doc, p, e)
    elif how in ("ref", "self"):
        layers_ = block.get("layers")
        if isinstance(layers_, list) and layers_:
            i = draw(st.sampled_from(range(len(layers_))))
            if how == "self":
                layers_.insert(i, draw(st.sampled_from([name, {name: None}, {name: {param: 1}}])))
            else:
                refs = [f"${param}", f"$({param} * 2)", f"$({param} // 2)", f"$({param} - {param})", f"$({param} // 0)",
                        f"$(-{param})", "$nope", "$", "$(", "$()", f"$({param} ** 2)", f"$(({param})",
                        f"$({param} * 1000000 * 1000000)", f"$({'(' * 40}{param}{')' * 40})", "$(1 +)", "$(__import__)",
                        f"$ {param}", f"$({param}.real)"]
                entry = layers_[i]
                k = _kind(entry)
                if isinstance(entry, dict) and isinstance(entry.get(k), dict) and entry[k]:
                    arg = draw(st.sampled_from(sorted(entry[k], key=str)))
                    entry[k][arg] = draw(st.sampled_from(refs))
                elif isinstance(entry, dict) and k is not None:
                    entry[k] = draw(st.sampled_from(refs))
    return doc


def _mutate_text(draw, text: str) -> str | bytes:
    """One edit of the file's text (or bytes)."""
    lines = text.split("\n")
    op = draw(st.sampled_from(["delete_line", "dup_line", "swap_lines", "indent", "dedent", "insert", "truncate",
                               "flip_byte"]))
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    if op == "delete_line":
        del lines[i]
    elif op == "dup_line":
        lines.insert(i, lines[i])
    elif op == "swap_lines":
        j = draw(st.integers(0, max(0, len(lines) - 1)))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "indent":
        lines[i] = " " * draw(st.sampled_from([1, 2, 4])) + lines[i]
    elif op == "dedent":
        lines[i] = lines[i][draw(st.sampled_from([1, 2, 4])):] if lines[i].startswith(" ") else lines[i].lstrip()
    elif op == "insert":
        pos = draw(st.integers(0, len(text)))
        return text[:pos] + draw(st.one_of(st.sampled_from(TEXT_CHARS), st.text(max_size=3))) + text[pos:]
    elif op == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    elif op == "flip_byte":
        raw = bytearray(text.encode("utf-8"))
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return bytes(raw)
    return "\n".join(lines)


@st.composite
def mutants(draw, gentle: bool = False) -> tuple[str, str | bytes]:
    """(seed name, mutated file content)."""
    seed = draw(st.sampled_from(sorted(SEED_TEXT)))
    if not gentle and draw(st.integers(0, 4)) == 0:  # edit the original text, comments and all
        content: str | bytes = SEED_TEXT[seed]
        for _ in range(draw(st.integers(1, 3))):
            if isinstance(content, bytes):
                break
            content = _mutate_text(draw, content)
        return seed, content
    doc = copy.deepcopy(SEED_DATA[seed])
    ops = draw(st.lists(st.sampled_from(GENTLE_OPS if gentle else OPS), min_size=1, max_size=2 if gentle else 4))
    for op in ops:
        doc = _mutate(draw, doc, op, gentle)
    content = yaml.safe_dump(doc, default_flow_style=draw(st.sampled_from([False, None])), **SAFE_DUMP)
    if not gentle and draw(st.integers(0, 5)) == 0:
        content = _mutate_text(draw, content)
    return seed, content


@settings(max_examples=examples(200))
@given(mutant=mutants(), options=st.sampled_from([(), (), ("--depth", "0"), ("--format", "json")]))
def test_mutated_specs_check_cleanly(workdir, mutant, options):
    seed, content = mutant
    note(f"seed: {seed}\n--- mutant ---\n{content if isinstance(content, str) else content!r}")
    path = _write(workdir, content)
    code = tolerating_known(assert_check_is_clean, path, content, *options)
    event(f"exit {code}")
    if code == 0:  # (b) on whatever it accepts, too
        tolerating_known(assert_accepted_spec_runs, path, content)


@settings(max_examples=examples(140))
@given(mutant=mutants(gentle=True))
def test_accepted_mutants_build_and_run(workdir, mutant):
    seed, content = mutant
    note(f"seed: {seed}\n--- mutant ---\n{content}")
    path = _write(workdir, content)
    accepted = tolerating_known(assert_accepted_spec_runs, path, content)
    event("accepted" if accepted else "refused" if accepted is False else "known defect")


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seeds_pass_both_properties(workdir, path):
    """The fuzzer's starting points themselves: valid, clean, and torch agrees."""
    assert assert_check_is_clean(path) == 0
    assert assert_accepted_spec_runs(path)


# Crashes the fuzzer found. ----------------------------------------------------------------------

@contextmanager
def _time_limit(seconds: float):
    """A hang is a failure too: an alarm interrupts the check (raising inside it)."""
    def alarm(signum, frame):
        raise TimeoutError(f"netspec check took more than {seconds} s")
    before = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def _found(path: Path):
    line = _first_line(path)
    if line.startswith("# BUG:"):
        return pytest.param(path, id=path.stem, marks=pytest.mark.xfail(strict=True, reason=line[6:].strip()))
    return pytest.param(path, id=path.stem)


@pytest.mark.parametrize("path", [_found(p) for p in FOUND])
def test_fuzz_found(path):
    """Each file is a minimised input that broke (a) or (b): `# BUG:` ones still do (strict xfail),
    the others are regression tests."""
    with _time_limit(60):  # a hang, not a slow machine: a check takes well under a second
        assert_check_is_clean(path)
        assert_accepted_spec_runs(path)


# Each found spec's own verdict with the memory guard out of the way (as on a machine with memory to spare):
# its errors as (line, column, words said), none where it is accepted. The specs that once overflowed torch are
# refused by a size rule of the checker's own, which no machine's memory changes.
_INT32 = 2**31 - 1
FOUND_VERDICTS = {
    "activation_bytes_beyond_int64": [(7, 7, f"Upsample would produce an output (N, 1, {_INT32}, {_INT32}) too large")],
    "adaptive_pool_output_beyond_int64": [(7, 26, "output_size must be at most 2147483647, but it is "
                                                  f"{2**62}")],
    "attention_heads_hint_huge_dim": [(7, 27, "num_heads (7) must divide embed_dim (1000000000001)")],
    "augment_entry_empty_mapping": [(9, 13, "data.augment[0] must name exactly one choice")],
    "celu_alpha_subnormal": [(7, 13, "`1e-45` is too close to 0 for float32")],
    "control_character": [(2, 1, "the control character U+0001")],
    "dropout_p_nan": [(7, 16, "`.nan` (not a number, or infinite) has no place in a spec")],
    "integer_as_float_attention_embed_dim": [(7, 15, "its out_features (a whole number), but it is 3.0")],
    "integer_as_float_concat_dim": [(7, 21, "Concat's dim must be a whole number, but it is 1.0")],
    "integer_as_float_flatten_start_dim": [(7, 28, "Flatten's start_dim must be a whole number, but it is 1.0")],
    "integer_as_float_linear": [(7, 15, "its out_features (a whole number), but it is 10.0")],
    "integer_as_float_lstm_num_layers": [(7, 42, "LSTM's num_layers must be a whole number, but it is 2.0")],
    "leakyrelu_slope_beyond_float32": [(7, 18, "negative_slope must be at most 3.4028234663852886e+38")],
    "localresponsenorm_size_huge": [(7, 26, "LocalResponseNorm's size must be at most 4096, but it is 1000000000")],
    "localresponsenorm_working_memory": [],
    "lstm_num_layers_huge": [(7, 42, "LSTM's num_layers must be at most 1000, but it is 1000000000000")],
    "maxpool_stride_beyond_int64": [(7, 43, f"MaxPool1d's stride must be at most 2147483647, but it is {2**63}")],
    "newline_in_layer_name": [(7, 7, "is not a valid name here"), (7, 7, "unknown layer type")],
    "pool_length_beyond_int32": [(7, 7, f"ConstantPad1d would produce an output (N, 1, {8 + 2 * _INT32}) too large")],
    "repeat_huge": [(7, 7, "the model would have more than 100,000 layers")],
    "softshrink_lambd_inf": [(7, 19, "`.inf` (not a number, or infinite) has no place in a spec")],
    "transform_entry_number": [(9, 15, "data.transform[0] must be text or a mapping")],
    "upsample_scale_factor_huge": [(7, 32, "the output size (2147483648,) is beyond what a tensor can hold")],
    "upsample_scale_factor_nan": [(7, 32, "`.nan` (not a number, or infinite) has no place in a spec")],
}


@pytest.fixture
def no_memory_guard(monkeypatch):
    """This machine as one with memory to spare: the guard passes every model."""
    from netspec import guard

    monkeypatch.setattr(guard, "available_bytes", lambda: 2**62)


def test_every_found_spec_has_its_verdict():
    assert sorted(FOUND_VERDICTS) == [p.stem for p in FOUND]


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.stem)
def test_fuzz_found_verdict(path, no_memory_guard):
    with _time_limit(60):  # a hang, not a slow machine: a check takes well under a second
        report = netspec.check(str(path))
    said = [(e.line, e.column, str(e.message)) for e in report.errors]
    verdict = FOUND_VERDICTS[path.stem]
    assert [s[:2] for s in said] == [v[:2] for v in verdict], said
    assert all(words in s[2] for s, (_, _, words) in zip(said, verdict)), said
    assert report.warnings == [] and report.exit_code == (1 if verdict else 0)


def test_found_localresponsenorm_counts_torchs_padded_copy(no_memory_guard):
    """torch's local_response_norm pads a copy of the squared input by size - 1 along the channels (a 5-d view
    of a 4-d input): that copy is part of the layer's memory per sample."""
    report = netspec.check(str(FOUND_DIR / "localresponsenorm_working_memory.yaml"))
    (info,) = report.layers
    c, h, w = 1, 512, 512
    size = info.args["size"]
    padded = 1 * (c + size // 2 + (size - 1) // 2) * h * w * 4
    assert size == 4096 and info.output.nbytes() + info.inner_bytes >= padded
