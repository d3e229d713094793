"""Typing slips: what a person types that YAML reads differently from what they meant. A Chinese
keyboard's full-width punctuation (`epochs：20`), Python's tuples and calls (`(5, 5)`,
`- nn.Conv2d(3, 6, 5)`), `-ReLU`, `epochs:20`, `- Linear 84`: each found in the text or the entry,
named with its line and column, and answered with the line to type instead (and a Fix that types it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Fix, Problem
from .i18n import _

# Characters a Chinese input method types where YAML needs ASCII: (what to type, what it is, in words).
LOOKALIKES = {
    "：": (":", _("a full-width colon")), "，": (",", _("a full-width comma")),
    "；": (",", _("a full-width semicolon")), "、": (",", _("a Chinese enumeration comma")),
    "（": ("(", _("a full-width parenthesis")), "）": (")", _("a full-width parenthesis")),
    "［": ("[", _("a full-width bracket")), "］": ("]", _("a full-width bracket")),
    "【": ("[", _("a Chinese bracket")), "】": ("]", _("a Chinese bracket")),
    "｛": ("{", _("a full-width brace")), "｝": ("}", _("a full-width brace")),
    "“": ('"', _("a Chinese quotation mark")), "”": ('"', _("a Chinese quotation mark")),
    "‘": ("'", _("a Chinese quotation mark")), "’": ("'", _("a Chinese quotation mark")),
    "。": (".", _("a Chinese full stop")), "．": (".", _("a full-width full stop")),
    "－": ("-", _("a full-width minus")), "—": ("-", _("a long dash")), "–": ("-", _("a long dash")),
    "＝": ("=", _("a full-width equals sign")), "＃": ("#", _("a full-width number sign")),
    "＿": ("_", _("a full-width underscore")), "＋": ("+", _("a full-width plus")),
    "＊": ("*", _("a full-width asterisk")), "／": ("/", _("a full-width slash")),
    "＄": ("$", _("a full-width dollar sign")), "｜": ("|", _("a full-width vertical bar")),
    "\u3000": (" ", _("a full-width space")), "\u00a0": (" ", _("a no-break space")),
    "\u200b": ("", _("an invisible zero-width space")),
}
LOOKALIKES |= {chr(0xFF10 + d): (str(d), _("a full-width digit")) for d in range(10)}
LOOKALIKES |= {chr(0xFF21 + i): (chr(65 + i), _("a full-width letter")) for i in range(26)}
LOOKALIKES |= {chr(0xFF41 + i): (chr(97 + i), _("a full-width letter")) for i in range(26)}
# Keys whose values are free text (a description, a path): any character is theirs to hold.
FREE_TEXT_KEYS = ("description", "root", "dir")
_FREE = re.compile(r"^\s*(?:-\s+)?(" + "|".join(FREE_TEXT_KEYS) + r")\s*[:：]")
_CALL = re.compile(r"^\s*(?:torch\s*\.\s*)?(?:nn\s*\.\s*)?([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based
    text: str  # the whole line
    code_end: int  # where a comment starts (len(text) if none)
    free: bool  # free text (a description, a path): not checked


def _lines(text: str) -> list[_Line]:
    """The file's lines, each with where its comment starts and whether it holds free text."""
    out, free_indent = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \u3000"))
        if free_indent is not None and (not line.strip() or indent > free_indent):
            out.append(_Line(number, line, len(line), True))  # inside a multi-line description
            continue
        free_indent = None
        m = _FREE.match(line)
        if m and line[m.end():].strip()[:1] in ("|", ">", ""):
            free_indent = indent
        out.append(_Line(number, line, _comment_start(line), bool(m)))
    return out


def _comment_start(line: str) -> int:
    """Where a `#` comment starts: at the line's start or after a space, outside quotes."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "#＃" and (i == 0 or line[i - 1] in " \t\u3000"):
            return i
    return len(line)


def _ascii_line(line: str) -> str:
    """The line with each look-alike replaced by what YAML needs, and a space after a `:` or `,` that
    would otherwise run into the next word (`epochs：20` -> `epochs: 20`)."""
    out, leading = [], True
    for i, c in enumerate(line):
        if c not in LOOKALIKES:
            leading = leading and c == " "
            out.append(c)
            continue
        ascii_ = LOOKALIKES[c][0]
        if c == "\u3000" and leading:
            ascii_ = "  "  # a full-width space is two columns wide: keep the indentation's width
        following = line[i + 1:i + 2]
        if ascii_ in (":", ",") and following and following not in " \t\u3000":
            ascii_ += " "
        leading = leading and ascii_.strip() == ""
        out.append(ascii_)
    return "".join(out)


def lookalikes(text: str) -> list[Problem]:
    """One problem per line that holds characters YAML does not read as the person meant, outside
    comments and free text, with the line to type instead."""
    problems = []
    for ln in _lines(text):
        if ln.free:
            continue
        code = ln.text[:ln.code_end]
        found = [(i, c) for i, c in enumerate(code) if c in LOOKALIKES]
        if not found:
            continue
        col, char = found[0]
        typed = _ascii_line(code).rstrip()
        typed = _layer_call(typed) or typed  # `- MaxPool2d（2）` becomes a call once ASCII: say the YAML form at once
        comment = ln.text[ln.code_end:].rstrip()
        fixed = typed + (code[len(code.rstrip()):] or " " if comment else "") + comment
        shown = "U+3000" if char == "\u3000" else char
        ascii_, what = LOOKALIKES[char]
        message = (_("`{char}` is {what} (typed with Chinese input on); YAML needs `{ascii}` here",
                     char=shown, what=what, ascii=ascii_) if ascii_.strip() else
                   _("`{char}` is {what} (typed with Chinese input on); YAML needs a plain space here",
                     char=shown, what=what) if ascii_ else
                   _("this line holds {what}; YAML reads it as part of a name", what=what))
        if len(found) > 1:
            message = _("{first} (and {more} more such characters on this line)", first=message,
                        more=len(found) - 1)
        problems.append(Problem(message, hints=(_("switch the keyboard to English input and type the line "
                                                  "as: `{line}`", line=typed.strip()),),
                                fix=Fix(fixed, ln.number, 1, ln.number, len(ln.text) + 1)).at("", ln.number, col + 1))
    return problems


def tuples(text: str) -> list[Problem]:
    """Python's `(5, 5)` where YAML writes a list `[5, 5]`: YAML reads the parentheses as text."""
    problems = []
    for ln in _lines(text):
        if ln.free:
            continue
        code = ln.text[:ln.code_end]
        m = re.search(r"(?:^\s*-\s+|[:\[,{]\s*)(\()([^()]*)\)", code)
        if not m or "," not in m.group(2) and not m.group(2).strip().lstrip("-").isdigit():
            continue
        start, end = m.start(1), m.end()
        fixed = code[:start] + "[" + m.group(2) + "]" + ln.text[end:]
        problems.append(Problem(
            _("YAML writes a list with square brackets: `({values})` is read as text, not as numbers",
              values=m.group(2)),
            hints=(_("write `[{values}]` instead of `({values})`", values=m.group(2)),),
            fix=Fix(fixed.rstrip(), ln.number, 1, ln.number, len(ln.text) + 1)).at("", ln.number, start + 1))
    return problems


def after_yaml_error(text: str, error_line: int) -> list[Problem]:
    """The slips that explain a YAML error reported on `error_line`: look-alike characters anywhere,
    tuples, then the layout slips on the lines up to the error (a YAML error is often found a line
    or two after the slip that caused it)."""
    found = lookalikes(text) + tuples(text)
    if found:
        return found
    lines = [ln for ln in _lines(text) if not ln.free and ln.number <= error_line]
    for check in (_no_space_after_dash, _no_space_after_colon, _no_colon_before_arguments, _no_dash,
                  _indented_too_far):
        for i in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            problem = check(lines, i)
            if problem is not None:
                return [problem]
    return []


def _line_fix(ln: _Line, fixed: str) -> Fix:
    return Fix(fixed, ln.number, 1, ln.number, len(ln.text) + 1)


def _no_space_after_dash(lines: list[_Line], i: int) -> Problem | None:
    ln = lines[i]
    m = re.match(r"^(\s*)-([A-Za-z_{\[])", ln.text)
    if not m:
        return None
    fixed = ln.text[:m.end(1) + 1] + " " + ln.text[m.end(1) + 1:]
    return Problem(_("a list item needs a space after its `-`"),
                   hints=(_("type the line as: `{line}`", line=fixed.strip()),),
                   fix=_line_fix(ln, fixed.rstrip())).at("", ln.number, m.end(1) + 2)


def _no_space_after_colon(lines: list[_Line], i: int) -> Problem | None:
    ln = lines[i]
    m = re.match(r"^(\s*(?:-\s+)?[A-Za-z_][\w.]*):([^\s/:])", ln.text[:ln.code_end])
    if not m:
        return None
    fixed = ln.text[:m.end(1) + 1] + " " + ln.text[m.end(1) + 1:]
    return Problem(_("a key needs a space after its colon"),
                   hints=(_("type the line as: `{line}`", line=fixed.strip()),),
                   fix=_line_fix(ln, fixed.rstrip())).at("", ln.number, m.end(1) + 2)


def _no_colon_before_arguments(lines: list[_Line], i: int) -> Problem | None:
    ln = lines[i]
    m = re.match(r"^(\s*-\s+)([A-Za-z_][\w.]*)(\s+)([{\[].*)$", ln.text[:ln.code_end].rstrip())
    if not m:
        return None
    fixed = m.group(1) + m.group(2) + ": " + m.group(4) + ln.text[ln.code_end:]
    return Problem(_("a colon is missing after `{name}`: a layer's arguments follow `{name}:`", name=m.group(2)),
                   hints=(_("type the line as: `{line}`", line=fixed.strip()),),
                   fix=_line_fix(ln, fixed.rstrip())).at("", ln.number, m.end(2) + 1)


def _siblings_dash_at(lines: list[_Line], i: int, indent: int) -> bool:
    """Whether the nearest line above with this indentation is a list item (`- ...`)."""
    for ln in reversed(lines[:i]):
        code = ln.text[:ln.code_end]
        if not code.strip():
            continue
        own = len(code) - len(code.lstrip())
        if own == indent:
            return code.lstrip().startswith("- ")
        if own < indent:
            return False
    return False


def _no_dash(lines: list[_Line], i: int) -> Problem | None:
    ln = lines[i]
    code = ln.text[:ln.code_end]
    m = re.match(r"^(\s*)([A-Za-z_][\w.]*(?::\s.*)?)$", code.rstrip())
    if not m or not _siblings_dash_at(lines, i, len(m.group(1))):
        return None
    fixed = m.group(1) + "- " + code[len(m.group(1)):].rstrip() + ln.text[ln.code_end:]
    return Problem(_("this line is in a list but does not start with `- `"),
                   hints=(_("type the line as: `{line}`", line=fixed.strip()),),
                   fix=_line_fix(ln, fixed.rstrip())).at("", ln.number, len(m.group(1)) + 1)


def _indented_too_far(lines: list[_Line], i: int) -> Problem | None:
    ln = lines[i]
    m = re.match(r"^(\s*)- ", ln.text)
    if not m or i == 0:
        return None
    above = next((p for p in reversed(lines[:i]) if p.text[:p.code_end].strip()), None)
    ma = re.match(r"^(\s*)- [^:]*$|^(\s*)- [\w.]+:\s*\S", above.text[:above.code_end].rstrip()) if above else None
    if not ma:
        return None
    sibling = len(ma.group(1) if ma.group(1) is not None else ma.group(2))
    if len(m.group(1)) <= sibling:
        return None
    fixed = " " * sibling + ln.text.lstrip()
    return Problem(_("this line is indented further than the list item above it"),
                   hints=(_("start it in the same column as the line above: `{line}`", line=fixed.strip()),),
                   fix=_line_fix(ln, fixed.rstrip())).at("", ln.number, 1)


# PyTorch's call syntax. -------------------------------------------------------------------

def _split_top(text: str) -> list[str]:
    """`3, 6, kernel_size=(5, 5)` -> ["3", "6", "kernel_size=(5, 5)"]: commas outside brackets."""
    parts, depth, current = [], 0, ""
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += c
    if current.strip():
        parts.append(current.strip())
    return parts


def _yaml_value(text: str) -> str | None:
    """A Python literal as YAML: numbers as they are, True/False/None, tuples and lists as [..]."""
    text = text.strip()
    if text in ("True", "False", "None"):
        return {"True": "true", "False": "false", "None": "null"}[text]
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        return text
    if re.fullmatch(r"'[^']*'|\"[^\"]*\"", text):
        inner = text[1:-1]
        return inner if re.fullmatch(r"[A-Za-z_]\w*", inner) else text
    if text[:1] in "([" and text[-1:] in ")]":
        items = [_yaml_value(p) for p in _split_top(text[1:-1])]
        return None if None in items else "[" + ", ".join(items) + "]"
    return None


def layer_call(text: str) -> str | None:
    """`nn.Conv2d(3, 6, 5)` -> `Conv2d: {in_channels: 3, out_channels: 6, kernel_size: 5}`, the YAML
    entry for a layer written as PyTorch code (positional arguments in torch's order), or None."""
    from .registry import layers

    m = _CALL.match(text)
    if not m:
        return None
    table = layers()
    by_lower = {name.lower(): name for name in table}
    name = m.group(1) if m.group(1) in table else by_lower.get(m.group(1).lower())
    if name is None:
        return None
    names, args = list(table[name].args), []
    for i, part in enumerate(_split_top(m.group(2))):
        key, eq, value = part.partition("=")
        key, value = (key.strip(), value) if eq else (names[i] if i < len(names) else None, part)
        value = _yaml_value(value)
        if key is None or key not in names or value is None:
            return None
        args.append(f"{key}: {value}")
    return f"{name}: {{{', '.join(args)}}}" if args else name


def _layer_call(line: str) -> str | None:
    """A whole `- nn.Conv2d(3, 6, 5)` line as its YAML entry line, or None."""
    m = re.match(r"^(\s*-\s+)(.*?)(\s*#.*)?$", line)
    entry = layer_call(m.group(2)) if m else None
    return None if entry is None else m.group(1) + entry + (m.group(3) or "")
