"""The documentation is tested: every YAML snippet in docs/**/*.md is checked, the `netspec check` and
`netspec layers` output the docs show is what netspec prints now, and every relative link leads to a file.

Conventions for writers (docs/README.md says the same, for people):

- A ```yaml block is a test case. A whole spec (it has a `netspec:` key) must pass `netspec.check`.
  Anything else is a fragment, put into a minimal spec made here, then checked the same way:
    - a list: the layer list of a model whose input is [3, 32, 32];
    - a mapping of top-level sections (`model:`, `blocks:`, `data:`, `train:`, `output:`, `name:`,
      `description:`): those sections, with `netspec: 1` added, a model input of [3, 32, 32] where the
      fragment gives none, and a layer list where it gives none (one use of each of its blocks, or
      `[Identity]`).
- HTML comments on the lines just above a block (one per line, no blank line between) say more:
    - `<!-- error: START OF THE MESSAGE -->`: the snippet is a mistake on purpose: checking it must fail,
      and one of its errors must start with that text (in English, or in the document's language);
    - `<!-- input: [1, 8, 8] -->`: the model input a fragment is put behind (any YAML value model.input takes);
    - `<!-- file: NAME.yaml -->`: the block is the whole file NAME.yaml, as the reader saves it; the commands
      of later output blocks of the same document run in a folder that holds it (the latest version of
      each NAME) and a copy of the repository's specs/;
    - `<!-- output -->` or `<!-- output: exit N -->` above a ```text block: its first line is a command,
      `$ netspec check ...` or `$ netspec layers ...` (environment settings such as `NETSPEC_LANG=zh` may
      come before `netspec`), and the lines after it must be what that command prints now, its standard
      output and error together, as a terminal shows them (trailing spaces aside); with `exit N`, its exit
      status must be N. Commands run in English, in docs/zh/ in Chinese, unless the command says otherwise.
      Every ```text block that starts with `$ netspec check` or `$ netspec layers` must be marked so.
- `pytest tests/test_docs.py --regen-golden` rewrites the marked output blocks from what netspec prints
  now: read the diff before committing it.
- The memory guard is off for the snippets (`max_params` very large): its verdict depends on the machine.

The Chinese docs live in docs/zh/ with the same files as docs/; the same tests cover them.
"""
from __future__ import annotations

import io
import re
import shlex
import shutil
import textwrap
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT

DOCS = ROOT / "docs"
ZH = DOCS / "zh"
DEFAULT_INPUT = [3, 32, 32]
SECTIONS = {"name", "description", "model", "blocks", "data", "train", "output", "params", "scales", "scale"}
DIRECTIVES = ("file", "error", "input", "output")
NO_GUARD = 10**15  # max_params: the memory guard off
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)[^`]*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<name>" + "|".join(DIRECTIVES) + r")\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")
_COMMANDS = ("check", "layers")


@dataclass
class Block:
    """One fenced block of a document: where it starts, its language, its text and the comments above it."""

    doc: Path
    line: int  # the fence's line, 1-based
    end: int  # the closing fence's line, 1-based
    lang: str
    text: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(DOCS).as_posix()}:{self.line}"

    @property
    def language(self) -> str:
        """The language of the document's messages: zh under docs/zh/, else en."""
        return "zh" if ZH in self.doc.parents else "en"


def documents() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(doc: Path) -> list[Block]:
    """Every fenced block of a document, with the directives on the lines just above it."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and set(lines[j].strip()) == {fence[0]}
                                      and len(lines[j].strip()) >= len(fence)):
            j += 1
        body = [ln[indent:] if not ln[:indent].strip() else ln.lstrip() for ln in lines[i + 1:j]]
        directives, k = {}, i - 1
        while k >= 0 and _DIRECTIVE.match(lines[k]):
            d = _DIRECTIVE.match(lines[k])
            directives.setdefault(d["name"], d["value"] or "")
            k -= 1
        found.append(Block(doc, i + 1, j + 1, m["lang"].lower(), "\n".join(body) + "\n", directives))
        i = j + 1
    return found


def all_blocks() -> list[Block]:
    return [b for doc in documents() for b in blocks(doc)]


def yaml_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.lang in ("yaml", "yml")]


def output_blocks() -> list[tuple[Path, int]]:
    """(document, index among its marked output blocks): found again at run time, as --regen-golden
    may have moved them."""
    return [(doc, k) for doc in documents() for k, _ in enumerate(_outputs(doc))]


def _outputs(doc: Path) -> list[Block]:
    return [b for b in blocks(doc) if "output" in b.directives]


# YAML snippets. -------------------------------------------------------------------------

def _fragment_spec(data, directives: dict) -> dict:
    """A minimal whole spec around a fragment: a layer list, or some top-level sections."""
    shape = yaml.safe_load(directives["input"]) if "input" in directives else DEFAULT_INPUT
    if isinstance(data, list):
        return {"netspec": 1, "model": {"input": shape, "layers": data}}
    if isinstance(data, dict) and data and set(data) <= SECTIONS:
        spec = {"netspec": 1, **data}
        model = dict(spec["model"]) if isinstance(spec.get("model"), dict) else {}
        model.setdefault("input", shape)
        if "layers" not in model:
            uses = [{name: None} for name in (data.get("blocks") or {})]
            model["layers"] = uses or ["Identity"]
        spec["model"] = model
        return spec
    raise AssertionError("a ```yaml block must be a whole spec (with `netspec:`), a layer list, or top-level "
                         f"sections ({', '.join(sorted(SECTIONS))}); this one is neither")


def check_snippet(block: Block):
    """The Report of checking a snippet: the whole spec, or the minimal spec around a fragment."""
    from netspec.compiler import Report, check
    from netspec.errors import NetspecError
    from netspec.loader import Document, loads

    name = block.directives.get("file") or f"{block.doc.name}:{block.line}"
    try:
        a_list = isinstance(yaml.safe_load(block.text), list)
    except yaml.YAMLError:
        a_list = block.text.lstrip().startswith("-")
    try:  # netspec's own reader (it reads 1e-3 as a number); a spec's top level is a mapping
        if a_list:
            data = loads("fragment:\n" + textwrap.indent(block.text, "  "), name).data["fragment"]
        else:
            doc = loads(block.text, name)
            data = doc.data
    except NetspecError as e:  # not even YAML: the report of a file that cannot be read
        return Report(name, e.doc, [e.doc.place(p) if e.doc else p for p in e.problems], exit_code=1)
    if a_list or "netspec" not in data:
        doc = Document(_fragment_spec(data, block.directives), name)
    return check(doc, max_params=NO_GUARD)


def _messages(report, lang: str) -> list[str]:
    """Each error's message, in English and in the document's language."""
    from netspec import i18n

    said = [str(p.message) for p in report.errors]
    i18n.use(lang)
    try:
        said += [i18n.tr(p.message) for p in report.errors]
    finally:
        i18n.use(None)
    return said


@pytest.mark.parametrize("block", yaml_blocks(), ids=lambda b: b.id)
def test_yaml_snippet(block: Block):
    report = check_snippet(block)
    expected = block.directives.get("error")
    if expected is None:
        assert report.valid, _shown(report)
        return
    assert not report.valid, f"{block.id} is marked as a mistake (error: {expected}) but it checks as valid"
    said = _messages(report, block.language)
    assert any(m.startswith(expected) for m in said), \
        f"no error starts with {expected!r}; the errors are:\n" + "\n".join(said)


def _shown(report) -> str:
    from netspec.render import errors_text

    return errors_text(report)


# Output blocks. -------------------------------------------------------------------------

def _files_before(doc: Path, line: int) -> dict[str, str]:
    """The files the document declares above `line` (`<!-- file: NAME -->`), each at its latest version."""
    files = {}
    for b in blocks(doc):
        if b.line < line and "file" in b.directives:
            files[b.directives["file"]] = b.text
    return files


def _command(block: Block) -> tuple[dict[str, str], list[str], str]:
    """(environment settings, netspec's arguments, the output shown) of a marked output block."""
    first, _, shown = block.text.partition("\n")
    assert first.startswith("$ "), f"{block.id}: an output block starts with `$ ` and the command"
    words = shlex.split(first[2:])
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words and words[0] == "netspec", f"{block.id}: the command must be netspec's"
    verb = next((w for w in words[1:] if not w.startswith("-") and w not in ("en", "zh")), None)
    assert verb in _COMMANDS, f"{block.id}: only {', '.join(_COMMANDS)} can be reproduced here, not {verb}"
    return env, words[1:], shown


def run_command(block: Block, folder: Path, monkeypatch) -> tuple[int, str]:
    """Run the block's command in `folder` (its document's files and specs/ there): (exit status, output)."""
    from netspec.cli import main
    from netspec.layers import visionprobe

    env, argv, _ = _command(block)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "specs", folder / "specs")
    for name, text in _files_before(block.doc, block.line).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    with monkeypatch.context() as m:
        m.chdir(folder)
        m.setenv("XDG_CACHE_HOME", str(folder / ".cache"))
        m.setenv("NETSPEC_LANG", block.language)
        for key, value in env.items():
            m.setenv(key, value)
        visionprobe._cache.cache_clear()
        buffer = io.StringIO()
        code = main(argv, buffer, buffer)
        visionprobe._cache.cache_clear()
    return code, buffer.getvalue()


def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.rstrip("\n").splitlines()]


def _regenerate(doc: Path, folder: Path, monkeypatch) -> None:
    """Rewrite the document's marked output blocks with what netspec prints now (bottom up)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    for block in reversed(_outputs(doc)):
        _, printed = run_command(block, folder, monkeypatch)
        first = block.text.partition("\n")[0]
        indent = lines[block.line - 1][: len(lines[block.line - 1]) - len(lines[block.line - 1].lstrip())]
        lines[block.line: block.end - 1] = [(indent + ln).rstrip() for ln in [first] + _lines(printed)]
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def regenerated(request, tmp_path_factory):
    if request.config.getoption("--regen-golden"):
        monkeypatch = pytest.MonkeyPatch()
        try:
            for doc in documents():
                if _outputs(doc):
                    _regenerate(doc, tmp_path_factory.mktemp("regen"), monkeypatch)
        finally:
            monkeypatch.undo()
    return True


@pytest.mark.parametrize("doc, k", output_blocks(),
                         ids=lambda v: v.relative_to(DOCS).as_posix() if isinstance(v, Path) else str(v))
def test_output_is_what_netspec_prints(doc: Path, k: int, regenerated, tmp_path, monkeypatch):
    block = _outputs(doc)[k]
    code, printed = run_command(block, tmp_path / "run", monkeypatch)
    _, _, shown = _command(block)
    assert _lines(shown) == _lines(printed), f"{block.id}: netspec prints now:\n{printed}"
    status = block.directives["output"]
    if status:
        m = re.fullmatch(r"exit (\d+)", status)
        assert m, f"{block.id}: write `<!-- output -->` or `<!-- output: exit N -->`"
        assert code == int(m[1]), f"{block.id}: the exit status is {code}, not {m[1]}"


def test_every_shown_check_output_is_marked():
    unmarked = [b.id for b in all_blocks() if b.lang == "text" and "output" not in b.directives
                and re.match(r"^\$ (\S+=\S+ )*netspec (--lang \w+ )?(check|layers)\b", b.text)]
    assert not unmarked, "these ```text blocks show netspec check/layers output without <!-- output -->: " + \
        ", ".join(unmarked)


def test_every_directive_stands_above_a_block():
    stray = []
    for doc in documents():
        lines = doc.read_text(encoding="utf-8").splitlines()
        starts = {b.line for b in blocks(doc)}
        fenced = {n for b in blocks(doc) for n in range(b.line, b.end + 1)}
        for i, line in enumerate(lines, 1):
            if i not in fenced and _DIRECTIVE.match(line):
                j = i + 1
                while j <= len(lines) and _DIRECTIVE.match(lines[j - 1]):
                    j += 1
                if j not in starts:
                    stray.append(f"{doc.relative_to(DOCS)}:{i}")
    assert not stray, "directives not directly above a fenced block: " + ", ".join(stray)


def test_directives_fit_their_blocks():
    wrong = []
    for b in all_blocks():
        if "output" in b.directives and b.lang != "text":
            wrong.append(f"{b.id}: output marks a ```text block")
        if set(b.directives) & {"file", "error", "input"} and b.lang not in ("yaml", "yml"):
            wrong.append(f"{b.id}: file, error and input mark a ```yaml block")
    assert not wrong, "\n".join(wrong)


def test_the_docs_hold_snippets():
    english = [b for b in yaml_blocks() if b.language == "en"]
    assert len(english) >= 60, "the parser found too few ```yaml blocks: is it still reading the fences?"
    assert len([d for d in output_blocks() if ZH not in d[0].parents]) >= 10


# Links. ---------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(?P<target>\S+?)>?(?:\s+.*)?$")


def _prose(doc: Path) -> list[tuple[int, str, str]]:
    """(line number, the line, the line with inline code blanked out) of the lines outside fenced blocks."""
    fenced = set()
    for b in blocks(doc):
        fenced.update(range(b.line, b.end + 1))
    lines = doc.read_text(encoding="utf-8").splitlines()
    return [(i, line, re.sub(r"`+[^`]*`+", lambda m: " " * len(m.group()), line))
            for i, line in enumerate(lines, 1) if i not in fenced]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation removed, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    """The anchors of a document's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    found, seen = set(), {}
    for _, line, _blanked in _prose(doc):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m[1])
            n = seen.get(s, 0)
            seen[s] = n + 1
            found.add(s if n == 0 else f"{s}-{n}")
    return found


def links(doc: Path) -> list[tuple[int, str]]:
    out = []
    for i, _, line in _prose(doc):
        out += [(i, m["target"]) for m in _LINK.finditer(line)]
        m = _REF.match(line)
        if m:
            out.append((i, m["target"]))
    return out


@pytest.mark.parametrize("doc", documents(), ids=lambda d: d.relative_to(DOCS).as_posix())
def test_relative_links_lead_to_files(doc: Path):
    broken = []
    for line, target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path, _, anchor = target.partition("#")
        where = (doc.parent / path).resolve() if path else doc
        if not where.exists():
            broken.append(f"line {line}: {target} (no such file)")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"line {line}: {target} (no heading #{anchor} in {where.name})")
    assert not broken, f"{doc.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_chinese_docs_have_the_same_files():
    if not ZH.is_dir():
        pytest.skip("no docs/zh/ yet")
    english = {p.relative_to(DOCS) for p in DOCS.rglob("*.md") if ZH not in p.parents}
    chinese = {p.relative_to(ZH) for p in ZH.rglob("*.md")}
    assert chinese == english, f"only in docs/: {sorted(map(str, english - chinese))}; " \
                               f"only in docs/zh/: {sorted(map(str, chinese - english))}"
