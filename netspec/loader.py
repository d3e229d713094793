"""Load stage: a YAML file in, plain data plus the line and column of every node out.

Built on the YAML event stream rather than a constructor, so that nothing but plain
scalars, lists and mappings is ever made, nesting is bounded without recursion,
aliases are expanded under a budget and duplicate keys are caught with both lines.
"""
from __future__ import annotations

import codecs
import copy
import math
import os
import re
from dataclasses import dataclass, field, replace

import yaml

from .errors import Fix, NetspecError, Path, Problem, UsageError
from . import slips
from .i18n import _

MAX_BYTES = 1 << 20  # 1 MiB: far more than any hand-written spec
MAX_DEPTH = 64  # lists and mappings inside each other
MAX_NODES = 50_000  # values in the document, aliases expanded (a 1,000-layer spec has ~6,000)
_SAFE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
# YAML 1.1 reads `1e-3` as a string; people mean a number (YAML 1.2 agrees with them).
FLOAT32_TINY = 1.1754943508222875e-38  # float32's smallest normal number
_EXP_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
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
    ends: dict[Path, tuple[int, int]] = field(default_factory=dict)  # after each scalar and [..]/{..}

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
        if problem.fix is not None and problem.fix.line is None:
            problem = replace(problem, fix=self.locate_fix(problem.fix))
            if problem.fix is not None and problem.fix.how == "after":  # shown where the line is to go
                line, col = problem.fix.line, len(problem.fix.text) - len(problem.fix.text.lstrip()) + 1
        return problem.at(self.file, line, col)

    def locate_fix(self, fix: Fix) -> Fix | None:
        """A Fix made from a spec path, as lines and columns of this file; None where the file does not
        hold that part of the spec in the form the edit needs (a flow list, an alias, a --set value)."""
        path = tuple(fix.path or ())
        if fix.how == "rename":
            if path not in self.key_positions:  # `- BatchNorm1d`, a name without arguments: replace it
                return self.locate_fix(replace(fix, path=path[:-1], how="replace")) if path[:-1] in self.ends else None
            line, col = self.key_positions[path]
            if self.source_line(line)[col - 1:col - 1 + len(str(path[-1]))] != str(path[-1]):
                return None
            return replace(fix, line=line, column=col, end_line=line, end_column=col + len(str(path[-1])))
        if path not in self.positions:
            return None
        line, col = self.positions[path]
        if fix.how == "replace":
            if path not in self.ends:  # a list or mapping written as indented lines
                return None
            end_line, end_col = self.ends[path]
            return replace(fix, line=line, column=col, end_line=end_line, end_column=end_col)
        dash = re.match(r"^( *)-\s+$", self.source_line(line)[:col - 1])
        if dash is None:  # not a block list's `- ` entry
            return None
        if fix.how == "insert":
            text = dash.group(1) + fix.text + "\n"
            return replace(fix, text=text, line=line, column=1, end_line=line, end_column=1)
        last = max(end[0] if end[1] > 1 else end[0] - 1 for p, end in self.ends.items() if p[:len(path)] == path)
        after = max(last, line) + 1
        if fix.how == "after":
            text = ("" if self.text.endswith("\n") or after <= len(self.text.splitlines()) else "\n") + \
                dash.group(1) + fix.text + "\n"
            return replace(fix, text=text, line=after, column=1, end_line=after, end_column=1)
        return replace(fix, text="", line=line, column=1, end_line=after, end_column=1)

    def source_line(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def load(path: str) -> Document:
    """Read and load a spec file; a missing file is a usage error (exit 2)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise NetspecError(Problem(
                _("the file is {size:,} bytes; a spec may be at most {limit:,} bytes (1 MiB)", size=size,
                  limit=MAX_BYTES),
                hints=(_("is this really a netspec spec? a spec is a short YAML file"),)).at(path, None, None))
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(Problem(_("no such file: {path}", path=path)).at(path, None, None)) from None
    except IsADirectoryError:
        raise UsageError(Problem(_("{path} is a folder, not a spec file", path=path)).at(path, None, None)) from None
    except OSError as e:  # the reason in the system's own words
        raise UsageError(Problem(_("cannot read {path}: {reason}", path=path, reason=e.strerror))
                         .at(path, None, None)) from None
    return loads(raw, path)


def loads(source: bytes | str, file: str = "<spec>") -> Document:
    """Load spec text (bytes or str) into a Document, or raise NetspecError.

    The error carries the Document (`error.doc`) so that its source line can be quoted,
    even when the file could not be read as YAML.
    """
    if isinstance(source, bytes) and len(source) > MAX_BYTES:
        raise _fail(file, _("the file is over {limit:,} bytes; a spec may be at most 1 MiB", limit=MAX_BYTES))
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
    body = source.removeprefix(codecs.BOM_UTF8)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(body[: e.start].decode("utf-8"))
        byte = f"0x{body[e.start]:02x}"
        raise _fail(file, _("the file is not UTF-8 text: byte {byte} cannot be read", byte=byte), line, col,
                    [_("save the file as UTF-8 (plain text) and try again")]) from None


def _line_col(before: str) -> tuple[int, int]:
    """Line and column (1-based, in characters) of what follows `before`; lines end where YAML ends them."""
    lines = _LINE_BREAK.split(before)
    return len(lines), len(lines[-1]) + 1


_START = [_("a spec starts with `netspec: 1` and has a `model:` section; see {example}", example="specs/cifar.yaml")]


def _parse(doc: Document) -> dict:
    text, file = doc.text, doc.file
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _fail(file, _("the file is over 1 MiB; a spec may be at most 1 MiB"))
    bad = _NON_PRINTABLE.search(text)
    if bad:  # YAML forbids them; say where, rather than PyYAML's character offset
        line, col = _line_col(text[: bad.start()])
        code = f"U+{ord(bad.group()):04X}"
        what = _("a NUL byte") if bad.group() == "\x00" else _("the control character {code}", code=code)
        raise _fail(file, _("the file contains {what}; a spec is plain text", what=what), line, col,
                    [_("delete it (it is invisible in most editors), or save the file as plain UTF-8 text")])
    if not text.strip():
        raise _fail(file, _("the file is empty"), 1, 1, _START)
    if all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise _fail(file, _("the file has no content, only comments or blank lines"), 1, 1, _START)
    try:
        data = _Builder(doc).run(yaml.parse(text, Loader=_Parser))
    except yaml.MarkedYAMLError as e:
        error = _yaml_error(e, doc)
        where = error.problems[0].line
        found = [] if where is None or doc.source_line(where)[:1] == "\t" else slips.after_yaml_error(text, where)
        raise (_slipped(found, file) if found else error) from None
    except yaml.YAMLError as e:  # PyYAML's own words, as a field
        raise _fail(file, _("this is not valid YAML: {what}", what=str(e))) from None
    found = slips.lookalikes(text) + slips.tuples(text)  # read, but not as the person meant
    if found:
        raise _slipped(found, file)
    if not isinstance(data, dict):
        kind = _("a list") if isinstance(data, list) else _("a single value")
        line, col = doc.positions.get((), (1, 1))
        raise _fail(file, _("the top level of a spec must be a mapping (`key: value` lines), but this file "
                            "holds {kind}", kind=kind), line, col, _START)
    return data


def _slipped(found: list[Problem], file: str) -> NetspecError:
    return NetspecError([p.at(file, p.line, p.column) for p in found])


def _untabbed(doc: Document, line: int) -> Fix | None:
    """The line indented with spaces: as far as the nearest line above that starts the same way (`- ` or
    a key), where the tabs stand at the line's start."""
    text = doc.source_line(line)
    body = text.lstrip(" \t")
    if "\t" in body.split("#")[0] or not body:
        return None
    dash = body.startswith("- ")
    for above in range(line - 1, 0, -1):
        other = doc.source_line(above)
        if other.strip() and not other.lstrip().startswith("#") and "\t" not in other:
            if other.lstrip().startswith("- ") == dash:
                indent = len(other) - len(other.lstrip())
                return Fix(" " * indent + body, line, 1, line, len(text) + 1)
            return None
    return None


def _yaml_error(e: yaml.MarkedYAMLError, doc: Document) -> NetspecError:
    """PyYAML's parser errors, in words a person who does not know YAML's grammar understands."""
    mark, ctx = e.problem_mark or e.context_mark, e.context_mark
    what = e.problem or e.context or _("unreadable YAML")
    at = (mark.line + 1, mark.column + 1) if mark else (None, None)
    bad_char = doc.source_line(at[0])[at[1] - 1: at[1]] if at[0] else ""
    if "nesting depth" in what:  # libyaml's own limit, met while it looks ahead
        return _fail(doc.file, _("the spec is nested more than {depth} levels deep", depth=MAX_DEPTH), *at,
                     [_("a spec needs only a few levels; check for runaway brackets")])
    if bad_char == "\t":
        error = _fail(doc.file, _("this line holds a tab character; YAML indents with spaces only"), *at,
                      [_("replace the tab with spaces")])
        error.problems[0] = replace(error.problems[0], fix=_untabbed(doc, at[0]))
        return error
    if ctx is not None and "quoted scalar" in (e.context or ""):
        return _fail(doc.file, _("the quote opened here is never closed"), ctx.line + 1, ctx.column + 1,
                     [_("end the text with the same quote character it starts with")])
    if ctx is not None and "flow" in (e.context or ""):
        opener = doc.source_line(ctx.line + 1)[ctx.column: ctx.column + 1] or _("bracket")
        closer = {"[": "]", "{": "}"}.get(opener, _("closing bracket"))
        return _fail(doc.file, _("the `{bracket}` opened here is never closed", bracket=opener),
                     ctx.line + 1, ctx.column + 1,
                     [_("add the missing `{bracket}`, or check for a missing comma before line {line}",
                        bracket=closer, line=at[0])])
    if bad_char in ("]", "}"):
        return _fail(doc.file, _("this `{bracket}` closes nothing: there is one too many", bracket=bad_char), *at,
                     [_("remove the extra `{bracket}`", bracket=bad_char)])
    if "mapping values are not allowed" in what and ": " in doc.source_line(at[0])[: at[1] - 1]:
        return _fail(doc.file, _("a second `key:` starts inside this line's value"), *at,
                     [_("put each key on its own line, or quote text that contains ': '")])
    line = doc.source_line(at[0]) if at[0] else ""
    at_line_start = at[1] == len(line) - len(line.lstrip()) + 1
    if "mapping values are not allowed" in what or at_line_start and (
            "expected key" in what or "expected <block end>" in what):
        return _fail(doc.file, _("this line's indentation does not line up with the lines above it"), *at,
                     [_("keys of one section must start in the same column; list items start with `- `")])
    return _fail(doc.file, _("this is not valid YAML: {what}", what=what), *at,
                 [_("check the indentation, and that every '[' or '{' is closed and every quote ends")])


class _Frame:
    __slots__ = ("value", "path", "anchor", "key", "key_mark", "seen", "flow")

    def __init__(self, value, path, anchor, flow=False):
        self.value, self.path, self.anchor, self.flow = value, path, anchor, flow
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
                    raise self.error(_("the file holds more than one YAML document (a second `---`)"),
                                     ev.start_mark, [_("keep one spec per file")])
                continue
            if isinstance(ev, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                frame = stack.pop()
                if frame.flow:  # a block collection's end mark is where the next thing starts
                    self.doc.ends[frame.path] = (ev.end_mark.line + 1, ev.end_mark.column + 1)
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
                    raise self.error(_("the spec is nested more than {depth} levels deep", depth=MAX_DEPTH),
                                     ev.start_mark, [_("a spec needs only a few levels; check for runaway brackets")])
                value = {} if isinstance(ev, yaml.MappingStartEvent) else []
            self.doc.positions[path] = mark
            if not isinstance(ev, yaml.CollectionStartEvent):
                self.doc.ends[path] = (ev.end_mark.line + 1, ev.end_mark.column + 1)
            if parent is None:
                root = value
            else:
                self.attach(parent, value)
            if isinstance(ev, yaml.CollectionStartEvent):
                stack.append(_Frame(value, path, ev.anchor, bool(ev.flow_style)))
        return None if root is _NO_KEY else root

    def take_key(self, frame: _Frame, ev) -> None:
        if not isinstance(ev, yaml.ScalarEvent):
            raise self.error(_("a mapping key must be a plain name, not a list, mapping or alias"), ev.start_mark)
        self.check_tag(ev)
        key = ev.value
        if key == "<<" and ev.implicit[0]:
            raise self.error(_("YAML merge keys (`<<`) are not supported in a spec"), ev.start_mark,
                             [_("write the keys out, or use an anchor (&name) and alias (*name) for a whole value")])
        line = ev.start_mark.line + 1
        if key in frame.seen:
            raise self.error(_("duplicate key `{key}`: it is set on line {first} and again on line {line}", key=key,
                               first=frame.seen[key], line=line),
                             ev.start_mark, [_("remove one of the two; YAML would silently keep only the last")])
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
            raise self.error(_("the spec holds more than {limit:,} values (aliases expanded)", limit=MAX_NODES), mark,
                             [_("this looks like an alias bomb or a generated file; a spec is much smaller")])

    def check_tag(self, ev) -> None:
        tag = ev.tag
        if tag is None or tag == "!":
            return
        if tag not in _SAFE_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise self.error(_("the YAML tag `{tag}` is not allowed in a spec", tag=shown), ev.start_mark,
                             [_("remove the tag: a spec holds only plain numbers, text, lists and mappings")])

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
                kind = tag.rsplit(":", 1)[-1]  # YAML's type name: int, float, bool, null
                raise self.error(_("`{text}` is not a valid {type}", text=ev.value, type=kind), ev.start_mark) from None
            return self.number(value, ev) if isinstance(value, float) else value
        if plain and _EXP_FLOAT.match(ev.value):
            return self.number(float(ev.value), ev)
        return ev.value  # strings, and timestamps kept as written

    def number(self, value: float, ev) -> float:
        """A float a layer can use: finite, and 0 or at least float32's smallest normal number in size
        (torch computes in float32, and some layers divide by their argument)."""
        if not math.isfinite(value):
            raise self.error(_("`{text}` (not a number, or infinite) has no place in a spec", text=ev.value),
                             ev.start_mark, [_("write an ordinary number")])
        if 0 < abs(value) < FLOAT32_TINY:
            raise self.error(_("`{text}` is too close to 0 for float32, in which torch computes", text=ev.value),
                             ev.start_mark, [_("write 0, or a number of at least {tiny} in size", tiny="1.2e-38")])
        return value

    def expand_alias(self, ev, path: Path):
        if ev.anchor not in self.anchors:
            raise self.error(_("the alias *{name} refers to no anchor &{name} above it", name=ev.anchor), ev.start_mark)
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
