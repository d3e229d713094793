"""Block parameters: `$name` and `$(expr)` substitution, with netspec's own small evaluator.

An expression holds numbers, parameter names, + - * / // %, parentheses and a few functions (min, max,
round, ceil, floor, make_divisible), nothing else; it is parsed here and never handed to Python's eval.
"""
from __future__ import annotations

import math
import re

from .errors import Path
from .i18n import _

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/%(),]))")
_MAX_DEPTH = 32


class ParamError(Exception):
    def __init__(self, message: str, path: Path, hints=()):
        super().__init__(message)
        self.message, self.path, self.hints = message, path, tuple(hints)


def substitute(value, params: dict, path: Path):
    """A copy of `value` with every `$name` and `$(expr)` string replaced by its value."""
    if isinstance(value, dict):
        return {k: substitute(v, params, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith("$"):
        if value.startswith("$(") and value.endswith(")") and value.count("(") == value.count(")"):
            return evaluate(value[2:-1], params, path)
        if value.startswith("$(") or value.count("(") != value.count(")"):
            raise ParamError(_("`{value}` is cut short: its parentheses are not closed", value=value), path,
                             (_("inside {{...}} or [...], YAML ends a value at a comma: put the expression in "
                                "quotes, e.g. {example}, or write the mapping one key per line",
                                example='"$(min(c, 1024) // 4)"'),))
        name = value[1:]
        if name not in params:
            from .errors import did_you_mean

            raise ParamError(_("the block has no param `{name}`", name=name), path,
                             did_you_mean(name, params) or (_("its params: {params}",
                                                              params=", ".join(params) or _("none")),))
        return params[name]
    return value


def _shown(text: str) -> str:
    """The expression as a message shows it (as written, never translated): `$(...)`, cut short when long."""
    return f"`$({text if len(text) <= 40 else text[:37] + '...'})`"


def _whole(value):
    """A result that is a whole number becomes an int (so `$(c * 0.5)` can be a channel count)."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 10**12:
        return int(value)
    return value


def _make_divisible(x, divisor):
    """The smallest multiple of `divisor` that is at least x (Ultralytics' make_divisible)."""
    return math.ceil(x / divisor) * divisor


def _round(x):
    return round(x)  # Python's: halves to the even neighbour, as the models written in Python round


# name -> (fewest arguments, most arguments, function)
FUNCTIONS = {"min": (2, 16, min), "max": (2, 16, max), "round": (1, 1, _round), "ceil": (1, 1, math.ceil),
             "floor": (1, 1, math.floor), "make_divisible": (2, 2, _make_divisible)}


def evaluate(text: str, params: dict, path: Path) -> int | float:
    """Arithmetic over params: + - * / // %, parentheses and FUNCTIONS; whole results are ints."""
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ParamError(_("{expr} cannot hold `{char}`", expr=_shown(text), char=text[pos:].strip()[:1]), path,
                             (_holds(),))
        tokens.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    parser = _Parser(tokens, params, path, text)
    result = parser.expr(0)
    if parser.i != len(tokens):
        raise ParamError(_("{expr} is not a complete expression", expr=_shown(text)), path,
                         (_("check the parentheses"),))
    return _whole(result)


def _holds() -> str:
    return _("an expression holds numbers, param names, + - * / // %, parentheses and min, max, round, ceil, "
             "floor, make_divisible")


class _Parser:
    def __init__(self, tokens, params, path, text):
        self.tokens, self.params, self.path, self.text, self.i = tokens, params, path, text, 0

    def _fail(self, why: str):
        raise ParamError(_("{expr}: {reason}", expr=_shown(self.text), reason=why), self.path, (_holds(),))

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _check(self, value):
        if abs(value) > 10**12:
            self._fail(_("the result is too large"))
        return value

    def expr(self, depth: int):
        value = self.term(depth)
        while self._peek() in ("+", "-"):
            op = self.tokens[self.i]
            self.i += 1
            right = self.term(depth)
            value = self._check(value + right if op == "+" else value - right)
        return value

    def term(self, depth: int):
        value = self.factor(depth)
        while self._peek() in ("*", "//", "/", "%"):
            op = self.tokens[self.i]
            self.i += 1
            right = self.factor(depth)
            if op != "*" and right == 0:
                shown = "{" + ", ".join(f"{k}: {v}" for k, v in self.params.items()) + "}"
                raise ParamError(_("{expr} divides by 0, with this use's params {params}", expr=_shown(self.text),
                                   params=shown), self.path,
                                 (_("give the params values that do not make the divisor 0 where the block is used"),))
            value = self._check(value * right if op == "*" else value // right if op == "//"
                                else value / right if op == "/" else value % right)
        return value

    def factor(self, depth: int):
        if depth > _MAX_DEPTH:
            self._fail(_("parentheses nested too deeply"))
        tok = self._peek()
        self.i += 1
        if tok is None:
            self._fail(_("it ends too early"))
        if tok == "-":
            return -self.factor(depth + 1)
        if tok == "(":
            value = self.expr(depth + 1)
            if self._peek() != ")":
                self._fail(_("a `(` is not closed"))
            self.i += 1
            return value
        if tok[0].isdigit() or tok[0] == ".":
            if len(tok.split(".")[0].lstrip("0")) > 12 or len(tok) > 40:
                self._fail(_("a number in it is too large"))
            value = float(tok) if any(c in tok for c in ".eE") else int(tok)
            return self._check(value) if math.isfinite(value) else self._fail(_("a number in it is too large"))
        if tok[0].isalpha() or tok[0] == "_":
            if self._peek() == "(" and tok in FUNCTIONS:
                return self.call(tok, depth)
            if tok not in self.params:
                from .errors import did_you_mean

                if self._peek() == "(":
                    raise ParamError(_("{expr} calls `{name}`, which is not a function netspec knows",
                                       expr=_shown(self.text), name=tok), self.path,
                                     did_you_mean(tok, FUNCTIONS) or (_holds(),))
                raise ParamError(_("{expr} uses `{name}`, which is not a param of the block", expr=_shown(self.text),
                                   name=tok), self.path,
                                 did_you_mean(tok, self.params) or (_("its params: {params}",
                                                                      params=", ".join(self.params)),))
            value = self.params[tok]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self._fail(_("`{name}` is {value}, not a number", name=tok, value=repr(value)))
            return value
        self._fail(_("`{token}` cannot stand here", token=tok))

    def call(self, name: str, depth: int):
        low, high, function = FUNCTIONS[name]
        self.i += 1  # the "("
        args = [self.expr(depth + 1)]
        while self._peek() == ",":
            self.i += 1
            args.append(self.expr(depth + 1))
        if self._peek() != ")":
            self._fail(_("a `(` is not closed"))
        self.i += 1
        if not low <= len(args) <= high:
            count = str(low) if low == high else str(low) + "-" + str(high)
            self._fail(_("{function}() takes {count} arguments, not {given}", function=name, count=count,
                         given=len(args)))
        return self._check(function(*args))
