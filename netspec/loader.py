"""Load stage: a YAML file in, plain data plus the line and column of every node out.

Built on the YAML event stream rather than a constructor, so that nothing but plain
scalars, lists and mappings is ever made, nesting is bounded without recursion,
aliases are expanded under a budget and duplicate keys are caught with both lines.
"""
from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass, field, replace

import yaml

from .errors import NetspecError, Path, Problem, UsageError

MAX_BYTES = 1 << 20  # 1 MiB: far more than any hand-written spec
MAX_DEPTH = 64  # lists and mappings inside each other
MAX_NODES = 50_000  # values in the document, aliases expanded (a 1,000-layer spec has ~6,000)
_SAFE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
# YAML 1.1 reads `1e-3` as a string; people mean a number (YAML 1.2 agrees with them).
FLOAT32_TINY = 1.1754943508222875e-38  # float32's smallest normal number
_EXP_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# what YAML refuses to read (PyYAML's own rule), found here so that the error can be located
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")


@dataclass
class Document:
    """The loaded spec: plain data, and where each part of it stands in the file."""

    data: dict
    file: str = "<spec>"
    text: str = ""
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)  # value start, 1-based
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)  # mapping key start
    overrides: dict[Path, str] = field(default_factory=dict)  # paths set on the command line: "--set k=v"

    def locate(self, path: Path, at_key: bool = False) -> tuple[int | None, int | None]:
        """Line and column of `path`, or of its nearest ancestor that is in the file."""
        path = tuple(path)
        if at_key and path in self.key_positions:
            return self.key_positions[path]
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))

    def place(self, problem: Problem) -> Problem:
        """The problem (and its notes) with this document's file, line and column filled in."""
        if problem.notes:
            problem = replace(problem, notes=tuple(self.place(n) for n in problem.notes))
        if problem.line is not None or problem.file:
            return problem
        for path, where in self.overrides.items():
            n = min(len(path), len(problem.path))
            if n and tuple(problem.path[:n]) == path[:n]:  # at, inside or above what the --set wrote
                return problem.at(where, None, None)
        line, col = self.locate(problem.path, problem.at_key)
        return problem.at(self.file, line, col)

    def source_line(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def load(path: str) -> Document:
    """Read and load a spec file; a missing file is a usage error (exit 2)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise NetspecError(Problem(
                f"the file is {size:,} bytes; a spec may be at most {MAX_BYTES:,} bytes (1 MiB)",
                hints=("is this really a netspec spec? a spec is a short YAML file",)).at(path, None, None))
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(Problem(f"no such file: {path}").at(path, None, None)) from None
    except IsADirectoryError:
        raise UsageError(Problem(f"{path} is a folder, not a spec file").at(path, None, None)) from None
    except OSError as e:
        raise UsageError(Problem(f"cannot read {path}: {e.strerror}").at(path, None, None)) from None
    return loads(raw, path)


def loads(source: bytes | str, file: str = "<spec>") -> Document:
    """Load spec text (bytes or str) into a Document, or raise NetspecError.

    The error carries the Document (`error.doc`) so that its source line can be quoted,
    even when the file could not be read as YAML.
    """
    if isinstance(source, bytes) and len(source) > MAX_BYTES:
        raise _fail(file, f"the file is over {MAX_BYTES:,} bytes; a spec may be at most 1 MiB")
    text = source.decode("utf-8-sig", "replace") if isinstance(source, bytes) else source
    doc = Document({}, file, text)
    try:
        if isinstance(source, bytes):
            _check_utf8(source, file)
        doc.data = _parse(doc)
    except NetspecError as e:
        e.doc = doc
        raise
    return doc


def _fail(file: str, message: str, line=None, col=None, hints=()) -> NetspecError:
    return NetspecError(Problem(message, hints=tuple(hints)).at(file, line, col))


def _check_utf8(source: bytes, file: str) -> None:
    try:
        source.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = source[: e.start].count(b"\n") + 1
        col = e.start - (source.rfind(b"\n", 0, e.start) + 1) + 1
        raise _fail(file, f"the file is not UTF-8 text: byte 0x{source[e.start]:02x} cannot be read", line, col,
                    ["save the file as UTF-8 (plain text) and try again"]) from None


_START = ["a spec starts with `netspec: 1` and has a `model:` section; see specs/cifar.yaml"]


def _parse(doc: Document) -> dict:
    text, file = doc.text, doc.file
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _fail(file, "the file is over 1 MiB; a spec may be at most 1 MiB")
    bad = _NON_PRINTABLE.search(text)
    if bad:  # YAML forbids them; say where, rather than PyYAML's character offset
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        what = "a NUL byte" if bad.group() == "\x00" else f"the control character U+{ord(bad.group()):04X}"
        raise _fail(file, f"the file contains {what}; a spec is plain text", line, col,
                    ["delete it (it is invisible in most editors), or save the file as plain UTF-8 text"])
    if not text.strip():
        raise _fail(file, "the file is empty", 1, 1, _START)
    if all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise _fail(file, "the file has no content, only comments or blank lines", 1, 1, _START)
    try:
        data = _Builder(doc).run(yaml.parse(text, Loader=_Parser))
    except yaml.MarkedYAMLError as e:
        raise _yaml_error(e, doc) from None
    except yaml.YAMLError as e:
        raise _fail(file, f"this is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        line, col = doc.positions.get((), (1, 1))
        raise _fail(file, f"the top level of a spec must be a mapping (`key: value` lines), but this file "
                          f"holds {kind}", line, col, _START)
    return data


def _yaml_error(e: yaml.MarkedYAMLError, doc: Document) -> NetspecError:
    """PyYAML's parser errors, in words a person who does not know YAML's grammar understands."""
    mark, ctx = e.problem_mark or e.context_mark, e.context_mark
    what = e.problem or e.context or "unreadable YAML"
    at = (mark.line + 1, mark.column + 1) if mark else (None, None)
    bad_char = doc.source_line(at[0])[at[1] - 1: at[1]] if at[0] else ""
    if "nesting depth" in what:  # libyaml's own limit, met while it looks ahead
        return _fail(doc.file, f"the spec is nested more than {MAX_DEPTH} levels deep", *at,
                     ["a spec needs only a few levels; check for runaway brackets"])
    if bad_char == "\t":
        return _fail(doc.file, "this line holds a tab character; YAML indents with spaces only", *at,
                     ["replace the tab with spaces"])
    if ctx is not None and "quoted scalar" in (e.context or ""):
        return _fail(doc.file, "the quote opened here is never closed", ctx.line + 1, ctx.column + 1,
                     ["end the text with the same quote character it starts with"])
    if ctx is not None and "flow" in (e.context or ""):
        opener = doc.source_line(ctx.line + 1)[ctx.column: ctx.column + 1] or "bracket"
        closer = {"[": "]", "{": "}"}.get(opener, "closing bracket")
        return _fail(doc.file, f"the `{opener}` opened here is never closed", ctx.line + 1, ctx.column + 1,
                     [f"add the missing `{closer}`, or check for a missing comma before line {at[0]}"])
    if bad_char in ("]", "}"):
        return _fail(doc.file, f"this `{bad_char}` closes nothing: there is one too many", *at,
                     [f"remove the extra `{bad_char}`"])
    if "mapping values are not allowed" in what and ": " in doc.source_line(at[0])[: at[1] - 1]:
        return _fail(doc.file, "a second `key:` starts inside this line's value", *at,
                     ["put each key on its own line, or quote text that contains ': '"])
    line = doc.source_line(at[0]) if at[0] else ""
    at_line_start = at[1] == len(line) - len(line.lstrip()) + 1
    if "mapping values are not allowed" in what or at_line_start and (
            "expected key" in what or "expected <block end>" in what):
        return _fail(doc.file, "this line's indentation does not line up with the lines above it", *at,
                     ["keys of one section must start in the same column; list items start with `- `"])
    return _fail(doc.file, f"this is not valid YAML: {what}", *at,
                 ["check the indentation, and that every '[' or '{' is closed and every quote ends"])


class _Frame:
    __slots__ = ("value", "path", "anchor", "key", "key_mark", "seen")

    def __init__(self, value, path, anchor):
        self.value, self.path, self.anchor = value, path, anchor
        self.key = _NO_KEY
        self.key_mark = None
        self.seen: dict[str, int] = {}


_NO_KEY = object()


class _Builder:
    """Turns YAML events into plain data, iteratively, recording positions."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.anchors: dict[str, tuple[object, Path]] = {}
        self.nodes = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def error(self, message: str, mark, hints=()) -> NetspecError:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return NetspecError(Problem(message, hints=tuple(hints)).at(self.doc.file, line, col))

    def run(self, events):
        stack: list[_Frame] = []
        root = _NO_KEY
        documents = 0
        for ev in events:
            if isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.error("the file holds more than one YAML document (a second `---`)",
                                     ev.start_mark, ["keep one spec per file"])
                continue
            if isinstance(ev, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                frame = stack.pop()
                if frame.anchor:
                    self.anchors[frame.anchor] = (frame.value, frame.path)
                if not stack:
                    root = frame.value
                continue
            parent = stack[-1] if stack else None
            if parent is not None and isinstance(parent.value, dict) and parent.key is _NO_KEY:
                self.take_key(parent, ev)
                continue
            path = self.child_path(parent)
            mark = (ev.start_mark.line + 1, ev.start_mark.column + 1)
            self.count(ev.start_mark)
            if isinstance(ev, yaml.AliasEvent):
                value = self.expand_alias(ev, path)
            elif isinstance(ev, yaml.ScalarEvent):
                self.check_tag(ev)
                value = self.scalar(ev)
                if ev.anchor:
                    self.anchors[ev.anchor] = (value, path)
            else:  # collection start
                self.check_tag(ev)
                if len(stack) >= MAX_DEPTH:
                    raise self.error(f"the spec is nested more than {MAX_DEPTH} levels deep", ev.start_mark,
                                     ["a spec needs only a few levels; check for runaway brackets"])
                value = {} if isinstance(ev, yaml.MappingStartEvent) else []
            self.doc.positions[path] = mark
            if parent is None:
                root = value
            else:
                self.attach(parent, value)
            if isinstance(ev, yaml.CollectionStartEvent):
                stack.append(_Frame(value, path, ev.anchor))
        return None if root is _NO_KEY else root

    def take_key(self, frame: _Frame, ev) -> None:
        if not isinstance(ev, yaml.ScalarEvent):
            raise self.error("a mapping key must be a plain name, not a list, mapping or alias", ev.start_mark)
        self.check_tag(ev)
        key = ev.value
        if key == "<<" and ev.implicit[0]:
            raise self.error("YAML merge keys (`<<`) are not supported in a spec", ev.start_mark,
                             ["write the keys out, or use an anchor (&name) and alias (*name) for a whole value"])
        line = ev.start_mark.line + 1
        if key in frame.seen:
            raise self.error(f"duplicate key `{key}`: it is set on line {frame.seen[key]} and again on line {line}",
                             ev.start_mark, ["remove one of the two; YAML would silently keep only the last"])
        frame.seen[key] = line
        frame.key = key
        self.doc.key_positions[frame.path + (key,)] = (line, ev.start_mark.column + 1)

    @staticmethod
    def child_path(parent: _Frame | None) -> Path:
        if parent is None:
            return ()
        if isinstance(parent.value, dict):
            return parent.path + (parent.key,)
        return parent.path + (len(parent.value),)

    @staticmethod
    def attach(parent: _Frame, value) -> None:
        if isinstance(parent.value, dict):
            parent.value[parent.key] = value
            parent.key = _NO_KEY
        else:
            parent.value.append(value)

    def count(self, mark, n: int = 1) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise self.error(f"the spec holds more than {MAX_NODES:,} values (aliases expanded)", mark,
                             ["this looks like an alias bomb or a generated file; a spec is much smaller"])

    def check_tag(self, ev) -> None:
        tag = ev.tag
        if tag is None or tag == "!":
            return
        if tag not in _SAFE_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise self.error(f"the YAML tag `{shown}` is not allowed in a spec", ev.start_mark,
                             ["remove the tag: a spec holds only plain numbers, text, lists and mappings"])

    def scalar(self, ev):
        plain = bool(ev.implicit[0]) and not ev.tag
        if ev.tag and ev.tag != "!":
            tag = ev.tag
        elif plain:
            tag = self.resolver.resolve(yaml.ScalarNode, ev.value, (True, False))
        else:  # quoted: always text
            return ev.value
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark)
        make = {"int": self.constructor.construct_yaml_int, "float": self.constructor.construct_yaml_float,
                "bool": self.constructor.construct_yaml_bool, "null": lambda n: None}.get(tag.rsplit(":", 1)[-1])
        if make is not None:
            try:
                value = make(node)
            except (ValueError, KeyError, yaml.YAMLError):
                raise self.error(f"`{ev.value}` is not a valid {tag.rsplit(':', 1)[-1]}", ev.start_mark) from None
            return self.number(value, ev) if isinstance(value, float) else value
        if plain and _EXP_FLOAT.match(ev.value):
            return self.number(float(ev.value), ev)
        return ev.value  # strings, and timestamps kept as written

    def number(self, value: float, ev) -> float:
        """A float a layer can use: finite, and 0 or at least float32's smallest normal number in size
        (torch computes in float32, and some layers divide by their argument)."""
        if not math.isfinite(value):
            raise self.error(f"`{ev.value}` (not a number, or infinite) has no place in a spec", ev.start_mark,
                             ["write an ordinary number"])
        if 0 < abs(value) < FLOAT32_TINY:
            raise self.error(f"`{ev.value}` is too close to 0 for float32, in which torch computes", ev.start_mark,
                             ["write 0, or a number of at least 1.2e-38 in size"])
        return value

    def expand_alias(self, ev, path: Path):
        if ev.anchor not in self.anchors:
            raise self.error(f"the alias *{ev.anchor} refers to no anchor &{ev.anchor} above it", ev.start_mark)
        value, origin = self.anchors[ev.anchor]
        size = 0
        stack = [value]
        while stack:  # count before copying, so a bomb is refused without building it
            item = stack.pop()
            size += 1
            if size + self.nodes > MAX_NODES:
                self.count(ev.start_mark, size)
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        self.count(ev.start_mark, size)
        for sub, mark in list(self.doc.positions.items()):
            if sub[: len(origin)] == origin and len(sub) > len(origin):
                self.doc.positions[path + sub[len(origin):]] = mark
        return copy.deepcopy(value)
