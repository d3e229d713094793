"""The command line: parse arguments, call the library, render, return an exit code."""
from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import threading
from typing import TextIO

from . import __version__, eager, i18n
from .errors import NetspecError, Problem, UsageError, did_you_mean
from .heavy import import_torch
from .i18n import N_, _, tr

# argparse's own words, for the catalogue (argparse looks them up through cli._argparse_in)
_ARGPARSE = (N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
             N_("show program's version number and exit"), N_("the following arguments are required: %s"),
             N_("unrecognized arguments: %s"), N_("invalid choice: %(value)r (choose from %(choices)s)"),
             N_("argument %(argument_name)s: %(message)s"), N_("expected one argument"),
             N_("expected at most one argument"), N_("expected at least one argument"),
             N_("expected %s argument"), N_("expected %s arguments"), N_("invalid %(type)s value: %(value)r"),
             N_("ambiguous option: %(option)s could match %(matches)s"), N_("not allowed with argument %s"),
             N_("ignored explicit argument %r"), N_("one of the arguments %s is required"))
_ERROR, _HINT = _("error"), _("hint")


def _line(who: str, message) -> str:
    """`who: message` and a newline, the message in the user's language."""
    return f"{who}: {tr(message)}\n"


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
        raise _Exit(2, f"{self.format_usage()}{self.prog}: {tr(_ERROR)}: {message}\n")

    def exit(self, status=0, message=None):
        raise _Exit(status, message or "")


class _Prefixed:
    """A stream that starts each line with a prefix (a rank's errors under torchrun)."""

    def __init__(self, stream: TextIO, prefix: str):
        self.stream, self.prefix, self.fresh = stream, prefix, True

    def write(self, text: str) -> None:
        for line in text.splitlines(keepends=True):
            self.stream.write((self.prefix if self.fresh else "") + line)
            self.fresh = line.endswith("\n")

    def flush(self) -> None:
        self.stream.flush()


def _at_least(minimum: int):
    """An argparse type: a whole number no smaller than minimum."""
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(tr(_("`{text}` is not a whole number", text=text))) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(tr(_("it must be {minimum} or more, not {value}",
                                                  minimum=minimum, value=value)))
        return value
    return whole_number


def _parser(out: TextIO) -> _Parser:
    t = tr
    p = _Parser(prog="netspec", description=t(_("Check, build and run neural networks written as YAML specs.")))
    p.add_argument("--version", action="version", version=f"netspec {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    check = sub.add_parser("check", help=t(_("check specs: errors with file:line:col, or a shape table")))
    check.add_argument("specs", nargs="+", metavar="SPEC")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument("--max-params", type=int, metavar="N", dest="max_params",
                       help=t(_("allow models up to N parameters whatever this machine's memory")))
    check.add_argument("--strict", action="store_true",
                       help=t(_("exit with status 1 when there are warnings, as for errors")))
    check.add_argument("--depth", type=_at_least(0), metavar="D",
                       help=t(_("fold the layers of blocks nested deeper than D into one row per block use (0: all)")))
    _sets(check, t)
    train = sub.add_parser("train", help=t(_("train a spec: checkpoints, metrics and TensorBoard logs in its run "
                                           "folder")))
    train.add_argument("spec", nargs="?", metavar="SPEC")
    train.add_argument("--resume", metavar="RUN_DIR", help=t(_("go on with the run in this folder")))
    train.add_argument("--max-params", type=int, metavar="N", dest="max_params",
                       help=t(_("allow models up to N parameters whatever this machine's memory")))
    train.add_argument("--nproc", type=int, metavar="N", default=1,
                       help=t(_("train in N processes on this machine (data-parallel, as torchrun does)")))
    train.add_argument("--progress", choices=["auto", "json"], default="auto",
                       help=t(_("json: one JSON object per line on stdout (start, batch, epoch, end) for a program "
                                "that follows the run, the other lines on stderr; default: auto")))
    _common(train, t)
    prep = sub.add_parser("prepare", help=t(_("decode a spec's folder of pictures into its cache on disk, ahead of "
                                              "training")))
    prep.add_argument("spec", metavar="SPEC")
    _sets(prep, t)
    ev = sub.add_parser("eval", help=t(_("loss, accuracy and confusion matrix of a checkpoint on the test split")))
    ev.add_argument("checkpoint", metavar="CHECKPOINT")
    _common(ev, t)
    ev.add_argument("--format", choices=["text", "json"], default="text")
    ev.add_argument("--plot", metavar="FILE", help=t(_("also draw the confusion matrix, with the class names, "
                                                          "into FILE (.png, .svg or .pdf)")))
    pr = sub.add_parser("predict", help=t(_("the most likely classes of images")))
    pr.add_argument("checkpoint", metavar="CHECKPOINT")
    pr.add_argument("images", nargs="+", metavar="IMAGE")
    pr.add_argument("--top", type=int, default=5, metavar="K")
    _common(pr, t)
    pr.add_argument("--format", choices=["text", "json"], default="text")
    dr = sub.add_parser("draw", help=t(_("draw the network: a box per layer with its output shape, arcs for skip "
                                         "connections, groups for blocks")))
    dr.add_argument("spec", metavar="SPEC")
    dr.add_argument("--output", "-o", metavar="FILE", required=True, help=t(_("the picture: .png, .svg or .pdf")))
    dr.add_argument("--depth", type=_at_least(0), metavar="D",
                    help=t(_("fold the layers of blocks nested deeper than D into one box per block use (0: all)")))
    _sets(dr, t)
    pl = sub.add_parser("plot", help=t(_("draw the curves of one or more runs in one picture, to compare them")))
    pl.add_argument("runs", nargs="+", metavar="RUN_DIR")
    pl.add_argument("--output", "-o", metavar="FILE", required=True, help=t(_("the picture: .png, .svg or .pdf")))
    ex = sub.add_parser("export", help=t(_("write a checkpoint's model (or a spec's) as ONNX, a torch.export "
                                           "program, TorchScript or a Python file, with a JSON sidecar")))
    ex.add_argument("source", metavar="CHECKPOINT_OR_SPEC")
    ex.add_argument("--format", required=True, choices=["onnx", "pt2", "torchscript", "python"])
    ex.add_argument("--output", "-o", metavar="FILE",
                    help=t(_("where to write it (default: beside the source, with the format's suffix)")))
    _sets(ex, t)
    schema = sub.add_parser("schema", help=t(_("print the JSON Schema of a spec")))
    schema.add_argument("--output", "-o", metavar="FILE",
                        help=t(_("write it to FILE (replaced at once, never left half written) instead")))
    im = sub.add_parser("import", help=t(_("write an Ultralytics classification model YAML as a netspec spec")))
    im.add_argument("source", metavar="ULTRALYTICS_YAML")
    im.add_argument("--output", "-o", metavar="FILE",
                    help=t(_("write the spec to FILE (replaced at once, never left half written) instead")))
    layers = sub.add_parser("layers", help=t(_("list the layer types, or one layer's arguments")))
    layers.add_argument("name", nargs="?")
    st = sub.add_parser("studio", help=t(_("edit a spec in a web page on this machine: checked, tabled and drawn as "
                                           "you type")))
    st.add_argument("target", nargs="?", metavar="SPEC_OR_FOLDER")
    st.add_argument("--port", type=_at_least(0), default=0, metavar="N", help=t(_("the port (default: a free one)")))
    st.add_argument("--no-browser", action="store_true", dest="no_browser",
                    help=t(_("print the page's address but do not open a browser")))
    for parser in [p, *sub.choices.values()]:
        parser.stream = out
        parser.add_argument("--lang", choices=i18n.LANGUAGES, default=argparse.SUPPRESS,
                            help=t(_("the language of messages: zh (中文) or en; default: NETSPEC_LANG or the locale")))
    return p


def _sets(p: argparse.ArgumentParser, t) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help=t(_("override a spec value, e.g. --set train.epochs=3 (repeatable)")))
    p.add_argument("--scale", metavar="NAME", help=t(_("which of the spec's scales to use (as --set scale=NAME)")))


def _common(p: argparse.ArgumentParser, t) -> None:
    _sets(p, t)
    p.add_argument("--device", help=t(_("auto, cpu, cuda, cuda:N or mps; overrides train.device")))


def _overrides(args) -> list[str]:
    """--set items, and --scale as the last of them."""
    return list(args.overrides) + ([f"scale={args.scale}"] if getattr(args, "scale", None) else [])


def _lang_option(argv: list[str]) -> str | None:
    """--lang's value, read before the parser is made: its help texts are in that language."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1] or None
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _argparse_in(lang: str) -> None:
    """argparse's own words (usage, errors) from netspec's catalogue; English restores its own."""
    catalog = i18n.catalog(lang)
    argparse._ = catalog.gettext
    argparse.ngettext = lambda singular, plural, n: catalog.gettext(singular if n == 1 else plural)


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    argv = sys.argv[1:] if argv is None else list(argv)
    i18n.use(_lang_option(argv))
    _argparse_in(i18n.current())
    try:
        parser = _parser(out)
        args = parser.parse_args(argv)
        if args.command is None:
            out.write(parser.format_help())
            return 2
        rank = os.environ.get("RANK", "0")
        if args.command == "train" and rank != "0":  # under torchrun, rank 0 speaks for the run; the
            out, err = open(os.devnull, "w"), _Prefixed(err, tr(_("rank {rank}: ", rank=rank)))  # others only of their errors
        commands = {"check": _check, "train": _train, "eval": _eval, "predict": _predict, "export": _export, "plot": _plot, "draw": _draw, "schema": _schema,
                    "layers": _layers, "import": _import, "prepare": _prepare,
                    "studio": _studio}
        return commands[args.command](args, out, err)
    except NetspecError as e:
        from .render import problems_text, stopped_text

        err.write(stopped_text(e.problems) if e.exit_code == 130 else problems_text(e.problems, e.doc))
        return e.exit_code
    except _Exit as e:
        (out if e.code == 0 else err).write(e.message)
        return e.code
    except BrokenPipeError:  # the reader went away (`netspec train ... | head -2`): stop quietly, as Unix
        _quiet(out)  # commands do; finished epochs are saved, and `--resume` goes on
        return 141  # 128 + SIGPIPE, what a shell reports for such a command
    except KeyboardInterrupt:
        err.write(_line("netspec", _("interrupted")))
        return 130
    except Exception as e:  # a bug in netspec: say so in one line, keep the traceback for those who ask
        if os.environ.get("NETSPEC_DEBUG"):
            raise
        what = f"{type(e).__name__}: {e}"
        err.write(_line("netspec", _("internal error: {error}", error=what)))
        err.write(_line(f"  {tr(_HINT)}", _("this is a bug in netspec, not in your spec; run with NETSPEC_DEBUG=1 to "
                                            "see where")))
        return 1
    finally:
        i18n.use(None)
        _argparse_in("en")


def _quiet(out: TextIO) -> None:
    """Point the process's stdout at /dev/null, so that flushing it at exit says nothing more."""
    if out is sys.stdout:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def run() -> None:
    """The `netspec` command: main(), then exit without the interpreter's teardown.

    With torch loaded, tearing the interpreter down (a last garbage collection, then every module's objects
    and torch's C++ registries freed one by one) took 0.5 to 1.3 s of a training process, for nothing: the
    operating system takes the memory back at once. Everything a command wrote is closed and flushed by
    then; the exit handlers (atexit: logging, multiprocessing's children, temporary folders) still run. With
    another thread still alive, the ordinary exit waits for it as before."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader gone, or a stream closed: nothing left to say
        pass
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        os._exit(code)
    gc.freeze()  # the interpreter's last garbage collection would walk torch's objects again
    sys.exit(code)


def _check(args, out: TextIO, err: TextIO) -> int:
    from .compiler import check
    from .render import dumps, errors_text, report_json, table_text, warnings_text

    reports = [check(path, args.max_params, overrides=_overrides(args)) for path in args.specs]
    if args.format == "json":
        objs = [report_json(r) for r in reports]
        out.write(dumps(objs[0] if len(objs) == 1 else objs))
    else:
        for r in reports:
            if r.valid:
                out.write(table_text(r, args.depth))
                err.write(warnings_text(r))
            else:
                err.write(errors_text(r))
    strict = 1 if args.strict and any(r.warnings for r in reports) else 0
    return max(strict, *(r.exit_code for r in reports))


def _schema(args, out: TextIO, err: TextIO) -> int:
    from .editorschema import schema_json

    if args.output is None:
        out.write(schema_json())
        return 0
    from .atomic import atomic_write

    try:
        atomic_write(args.output, lambda f: f.write(schema_json().encode("utf-8")))
    except OSError as e:
        raise UsageError(Problem(_("cannot write {path}: {reason}", path=args.output, reason=e.strerror))) from None
    return 0


def _import(args, out: TextIO, err: TextIO) -> int:
    from .importer import convert

    text = convert(args.source, os.path.splitext(os.path.basename(args.output))[0] if args.output else None)
    if args.output is None:
        out.write(text)
        return 0
    from .atomic import atomic_write

    try:
        atomic_write(args.output, lambda f: f.write(text.encode("utf-8")))
    except OSError as e:
        raise UsageError(Problem(_("cannot write {path}: {reason}", path=args.output, reason=e.strerror))) from None
    out.write(_line("netspec import", _("written to {path}", path=args.output)))
    return 0


def _layers(args, out: TextIO, err: TextIO) -> int:
    from .registry import layers
    from .render import layer_text, layers_text

    table = layers()
    if args.name is None:
        out.write(layers_text(table))
        return 0
    if args.name not in table:
        err.write(_line(f"netspec: {tr(_ERROR)}", _("unknown layer type `{name}`", name=args.name)))
        err.write("".join(_line(f"  {tr(_HINT)}", h) for h in did_you_mean(args.name, table)))
        return 2
    out.write(layer_text(table[args.name]))
    return 0


def _train(args, out: TextIO, err: TextIO) -> int:
    if not _compiles(args):
        eager.without_the_compiler(strict=False)  # a second of start-up saved; exact, see eager.py
    import_torch()
    from .runner import train

    if bool(args.spec) == bool(args.resume):
        raise _Exit(2, _line("netspec train", _("give a SPEC, or --resume RUN_DIR (not both)")))
    if args.nproc < 1:
        raise _Exit(2, _line("netspec train", _("--nproc must be 1 or more")))
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:  # not yet under torchrun: start it
        from .distributed import launch
        from .runner import preflight

        preflight(args.spec, _overrides(args), args.device, args.resume, args.max_params, args.nproc)

        argv = ["train"] + ([args.spec] if args.spec else ["--resume", args.resume])
        argv += [a for item in _overrides(args) for a in ("--set", item)]
        argv += (["--device", args.device] if args.device else []) + \
            (["--max-params", str(args.max_params)] if args.max_params is not None else [])
        argv += ["--lang", i18n.current()]  # the ranks speak the language this command was given
        argv += ["--progress", args.progress] if args.progress != "auto" else []
        return launch(args.nproc, argv, err)
    history = train(args.spec, _overrides(args), args.device, args.resume, stream=out, max_params=args.max_params,
                    errors=err, progress=args.progress)
    (err if args.progress == "json" else out).write(tr(_("run folder: {path}", path=history.run_dir)) + "\n")
    return 0


def _compiles(args) -> bool:
    """Whether the run asks for torch.compile (train.compile), read without torch; where the spec cannot be
    read, False: the run reports why before compiling anything."""
    from .loader import load
    from .overrides import apply

    path = args.spec or (args.resume and os.path.join(args.resume, "spec.yaml"))
    if not path or (args.spec and args.resume):
        return False  # a usage error, said by _train
    try:
        doc = apply(load(path), _overrides(args))
    except NetspecError:
        return False
    train = doc.data.get("train") if isinstance(doc.data, dict) else None
    return isinstance(train, dict) and train.get("compile") not in (None, False)


def _eval(args, out: TextIO, err: TextIO) -> int:
    import_torch()
    from .evaluation import evaluate
    from .render import dumps, eval_text

    result = evaluate(args.checkpoint, args.overrides, args.device)
    if args.plot:
        from .plots import confusion

        confusion(result["confusion"], result["classes"], args.plot)
    out.write(dumps(result) if args.format == "json" else eval_text(result))
    return 0


def _prepare(args, out: TextIO, err: TextIO) -> int:
    import_torch()
    from .prepare import prepare

    done, reason = prepare(args.spec, _overrides(args))
    if reason is not None:
        out.write(_line("netspec prepare", _("nothing to prepare: {reason}", reason=reason)))
    for p in done:
        facts = {"split": p.split, "count": p.pictures, "shape": "x".join(map(str, p.shape)),
                 "size": f"{p.nbytes / (1 << 20):.1f}", "path": p.path}
        what = _("{split}: {count} pictures of {shape}, {size} MiB, written to {path}", **facts) if p.written else \
            _("{split}: {count} pictures of {shape}, {size} MiB, already in {path}", **facts)
        how = _("training reads it into memory") if p.in_memory else \
            _("training reads it from disk, batch by batch (it is over data.memory_budget_mb)")
        out.write(_line("netspec prepare", _("{what}; {how}", what=what, how=how)))
    return 0


def _draw(args, out: TextIO, err: TextIO) -> int:
    from .compiler import check
    from .draw import draw
    from .render import errors_text

    report = check(args.spec, overrides=_overrides(args))
    if not report.valid:
        err.write(errors_text(report))
        return report.exit_code
    draw(report, args.output, args.depth)
    out.write(_line("netspec draw", _("written to {path}", path=args.output)))
    return 0


def _plot(args, out: TextIO, err: TextIO) -> int:
    from .plots import curves, read_metrics

    runs = [(os.path.basename(os.path.normpath(folder)), read_metrics(folder)) for folder in args.runs]
    curves(runs, args.output)
    out.write(_line("netspec plot", _("written to {path}", path=args.output)))
    return 0


def _export(args, out: TextIO, err: TextIO) -> int:
    import_torch()
    from .exporter import export

    meta = export(args.source, args.format, args.output, _overrides(args))
    path = args.output or _default_output(args)
    difference = format(meta["max_abs_difference"], ".1e")
    out.write(_line("netspec export", _("{format} written to {path}, beside it {sidecar}; the largest difference "
                                       "from the model's outputs: {difference}", format=args.format, path=path,
                                       sidecar=path + ".json", difference=difference)))
    return 0


def _default_output(args) -> str:
    from .exporter import SUFFIXES

    return os.path.splitext(args.source)[0] + SUFFIXES[args.format]


def _predict(args, out: TextIO, err: TextIO) -> int:
    import_torch()
    from .evaluation import predict
    from .render import dumps, predict_json, predict_text

    if args.top < 1:
        raise _Exit(2, _line("netspec predict", _("--top must be 1 or more")))
    results = predict(args.checkpoint, args.images, args.top, args.device or "cpu", args.overrides)
    out.write(dumps(predict_json(results)) if args.format == "json" else predict_text(results))
    return 0


def _studio(args, out: TextIO, err: TextIO) -> int:
    from .studio.files import Refused
    from .studio.server import serve, start, url

    try:
        studio, sock = start(args.target, args.port)
    except Refused as e:
        raise UsageError(Problem(e.message)) from None
    except OSError as e:
        raise UsageError(Problem(_("cannot listen on port {port}: {reason}", port=args.port, reason=e.strerror))) \
            from None
    out.write(_line("netspec studio", _("open {url} (Ctrl-C stops the server)", url=url(studio))))
    out.flush()
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url(studio))
    serve(studio, sock)
    return 0
