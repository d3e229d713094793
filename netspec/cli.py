"""The command line: parse arguments, call the library, render, return an exit code."""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from . import __version__
from .errors import did_you_mean


class _Exit(Exception):
    def __init__(self, code: int, message: str = ""):
        self.code, self.message = code, message


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage to us (exit 2) instead of exiting the process."""

    stream: TextIO | None = None  # where --help and --version go

    def _print_message(self, message, file=None):
        if message:
            (self.stream or sys.stdout).write(message)

    def error(self, message):
        raise _Exit(2, f"{self.format_usage()}{self.prog}: error: {message}\n")

    def exit(self, status=0, message=None):
        raise _Exit(status, message or "")


def _parser(out: TextIO) -> _Parser:
    p = _Parser(prog="netspec", description="Check, build and run neural networks written as YAML specs.")
    p.add_argument("--version", action="version", version=f"netspec {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    check = sub.add_parser("check", help="check specs: errors with file:line:col, or a shape table")
    check.add_argument("specs", nargs="+", metavar="SPEC")
    check.add_argument("--format", choices=["text", "json"], default="text")
    sub.add_parser("schema", help="print the JSON Schema of a spec")
    layers = sub.add_parser("layers", help="list the layer types, or one layer's arguments")
    layers.add_argument("name", nargs="?")
    for parser in [p, *sub.choices.values()]:
        parser.stream = out
    return p


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        parser = _parser(out)
        args = parser.parse_args(argv)
        if args.command is None:
            out.write(parser.format_help())
            return 2
        return {"check": _check, "schema": _schema, "layers": _layers}[args.command](args, out, err)
    except _Exit as e:
        (out if e.code == 0 else err).write(e.message)
        return e.code
    except KeyboardInterrupt:
        err.write("netspec: interrupted\n")
        return 130


def _check(args, out: TextIO, err: TextIO) -> int:
    from .compiler import check
    from .render import dumps, errors_text, report_json, table_text

    reports = [check(path) for path in args.specs]
    if args.format == "json":
        objs = [report_json(r) for r in reports]
        out.write(dumps(objs[0] if len(objs) == 1 else objs))
    else:
        for r in reports:
            if r.valid:
                out.write(table_text(r))
            else:
                err.write(errors_text(r))
    return max(r.exit_code for r in reports)


def _schema(args, out: TextIO, err: TextIO) -> int:
    from .schema import schema_json

    out.write(schema_json())
    return 0


def _layers(args, out: TextIO, err: TextIO) -> int:
    from .registry import layers
    from .render import layer_text, layers_text

    table = layers()
    if args.name is None:
        out.write(layers_text(table))
        return 0
    if args.name not in table:
        hints = " ".join(did_you_mean(args.name, table))
        err.write(f"netspec: error: unknown layer type `{args.name}`. {hints}\n".replace(". \n", "\n"))
        return 2
    out.write(layer_text(table[args.name]))
    return 0
