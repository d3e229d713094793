"""Problems found in a spec, as data. Stages collect them; render.py alone prints them."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Iterable

from .i18n import _, either

Path = tuple  # a spec path: ("model", "layers", 3, "kernel_size")


@dataclass(frozen=True)
class Fix:
    """The edit that mends a problem: `text` put in place of the file's text from (line, column) up to
    (end_line, end_column), all 1-based and the end excluded; an insertion when start and end are one point.

    A stage that knows only the spec path writes `Fix(text, path=..., how=...)`; Document.place turns it
    into lines and columns: `replace` the value at `path`, `rename` the key at `path` to `text`, `insert`
    the line `text` (e.g. "- Flatten") before the list entry at `path` (`after`: after it), `delete` that
    entry's line(s)."""

    text: str
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    path: Path | None = None
    how: str = "replace"

    def apply(self, source: str) -> str:
        """`source` with this edit made (the Fix must be located)."""
        lines = source.splitlines(keepends=True)
        starts = [0]
        for ln in lines:
            starts.append(starts[-1] + len(ln))

        def offset(line: int, column: int) -> int:
            return starts[min(line, len(lines) + 1) - 1] + column - 1 if line <= len(lines) else len(source)

        start, end = offset(self.line, self.column), offset(self.end_line, self.end_column)
        return source[:start] + self.text + source[end:]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located by its spec path (and line/column once known)."""

    message: str
    path: Path = ()
    hints: tuple[str, ...] = ()
    file: str = ""
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    at_key: bool = False  # point at the key of `path` rather than its value
    notes: tuple["Problem", ...] = ()  # further locations, e.g. where a block entry is defined
    fix: Fix | None = None  # the edit that mends it, when there is exactly one
    code: str = ""  # a warning's name, by which a spec can silence it

    def at(self, file: str, line: int | None, column: int | None) -> "Problem":
        return replace(self, file=file, line=line, column=column)


class NetspecError(Exception):
    """Raised by a stage that cannot go on; carries every problem it found."""

    exit_code = 1

    def __init__(self, problems: Iterable[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.doc = None  # the loaded document, when there is one to quote from
        super().__init__("; ".join(p.message for p in self.problems))


class UsageError(NetspecError):
    """The command could not run at all (no such file, bad option): exit status 2."""

    exit_code = 2


def format_path(path: Path) -> str:
    """("model", "layers", 3, "kernel_size") -> "model.layers[3].kernel_size"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> tuple[str, ...]:
    """A 'did you mean X?' hint for a misspelled name, or nothing: the best match, and any as good."""
    choices = list(choices)
    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return (_("did you mean {names}?", names=by_lower[word.lower()]),)
    scored = []
    for c in choices:
        m = SequenceMatcher(None, word.lower(), c.lower())
        if m.real_quick_ratio() >= 0.6 and m.quick_ratio() >= 0.6:
            scored.append((m.ratio(), c))
    scored = sorted((s for s in scored if s[0] >= 0.6), reverse=True)
    if not scored:
        return ()
    best = [c for r, c in scored if r >= scored[0][0] - 0.05][:3]
    return (_("did you mean {names}?", names=either(best)),)


@dataclass
class Problems:
    """A collector that stages append to; raise_if_any() stops the pipeline."""

    items: list[Problem] = field(default_factory=list)

    def add(self, message: str, path: Path = (), hints: Iterable[str] = (), at_key: bool = False) -> None:
        self.items.append(Problem(message, tuple(path), tuple(hints), at_key=at_key))

    def raise_if_any(self) -> None:
        if self.items:
            raise NetspecError(self.items)


def first_line(e: BaseException) -> str:
    """torch's or torchvision's own words for what went wrong, cut to one line (its type, if it has none)."""
    return str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
