"""Export stage: a checkpoint's (or a spec's, with fresh weights) model out of netspec, as a torch.export
program (pt2), TorchScript, or a standalone Python file (pysource.py), each beside a JSON sidecar that
keeps what a user of the file needs: the input's shape and dtype, the class names and the normalisation.
Each file is checked against the model before it is kept, and written atomically: never a partial file."""
from __future__ import annotations

import json
import os
import tempfile

import torch

from . import __version__
from .atomic import atomic_write
from .errors import NetspecError, Problem, UsageError
from .i18n import _

FORMATS = ("onnx", "pt2", "torchscript", "python")
SUFFIXES = {"onnx": ".onnx", "pt2": ".pt2", "torchscript": ".torchscript.pt", "python": ".py"}  # never a .pt source
TOLERANCE = 1e-5  # the largest difference allowed between the exported model's outputs and torch's
ONNX_TOLERANCE = 1e-4  # onnxruntime's kernels sum in another order than torch's


def _source(path: str, overrides=()):
    """(model in eval mode on the CPU, its checked report, the checkpoint or None) of a checkpoint or a spec
    (with `--set` overrides: a spec's only)."""
    from .compiler import check
    from .evaluation import load_model

    if not os.path.exists(path):
        raise UsageError(Problem(_("no such file: {path}", path=path)))
    if path.endswith((".yaml", ".yml")):
        from .builder import build_network

        report = check(path, batch=0, allocate=True, overrides=overrides)
        if not report.valid:
            raise NetspecError(report.errors)
        torch.manual_seed(0)
        return build_network(report.layers, report.input).eval(), report, None
    if overrides:
        raise UsageError(Problem(_("--set and --scale change a spec; a checkpoint's model is exported as it was "
                                   "trained")))
    model, ckpt, report = load_model(path, "cpu")
    return model, report, ckpt


def sidecar(report, ckpt, fmt: str, source: str) -> dict:
    """What a user of the exported file needs besides it."""
    spec = ckpt["spec"] if ckpt else (report.doc.data if report.doc else {})
    transforms = (spec.get("data") or {}).get("transform", ["ToTensor"])
    normalize = next((t["Normalize"] for t in transforms if isinstance(t, dict) and "Normalize" in t), None)
    return {"format": fmt, "netspec_version": __version__, "source": source, "name": spec.get("name"),
            "input": {"shape": [None, *report.input.shape], "dtype": report.input.dtype},
            "output": {"shape": [None, *report.output.shape]}, "classes": ckpt.get("classes") if ckpt else None,
            "transform": transforms, "normalize": normalize, "epoch": ckpt.get("epoch") if ckpt else None}


def _example(report, batch: int) -> torch.Tensor:
    shape = (batch, *report.input.shape)
    if report.input.dtype.startswith("int"):
        return torch.randint(0, 2, shape, dtype=getattr(torch, report.input.dtype))
    return torch.randn(shape, dtype=getattr(torch, report.input.dtype))


def export(path: str, fmt: str, output: str | None = None, overrides=()) -> dict:
    """Export `path` (a checkpoint, or a spec: fresh weights, seed 0) to `output` in `fmt`; returns the
    sidecar (also written as OUTPUT.json) with the largest difference found against torch."""
    if fmt not in FORMATS:
        raise UsageError(Problem(_("unknown format `{name}`; the formats are {names}", name=fmt,
                                   names=", ".join(FORMATS))))
    model, report, ckpt = _source(path, overrides)
    output = output or os.path.splitext(path)[0] + SUFFIXES[fmt]
    if os.path.abspath(path) == os.path.abspath(output):
        raise UsageError(Problem(_("writing {path} would overwrite the file it is exported from",
                                   path=output),
                                 hints=(_("give another file with --output, e.g. {example}",
                                          example=os.path.splitext(output)[0] + "-export" + SUFFIXES[fmt]),)))
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(Problem(_("cannot write {path}: {reason}", path=output, reason=_("no such folder, or not "
                                                                                         "writable"))))
    with tempfile.TemporaryDirectory(dir=folder, prefix=".netspec-export-") as work:
        staged = os.path.join(work, "model" + SUFFIXES[fmt])
        difference = {"onnx": _onnx, "pt2": _pt2, "torchscript": _torchscript, "python": _python}[fmt](
            model, report, ckpt, staged, path)
        with open(staged, "rb") as f:
            data = f.read()
    meta = sidecar(report, ckpt, fmt, os.path.basename(path)) | {"max_abs_difference": difference}
    atomic_write(output, lambda f: f.write(data))
    atomic_write(output + ".json", lambda f: f.write((json.dumps(meta, indent=2) + "\n").encode("utf-8")))
    return meta


def _compare(model, other, report, tolerance: float = TOLERANCE) -> float:
    """The largest difference between the two models' outputs, at batch sizes 1 and 7."""
    worst = 0.0
    with torch.no_grad():
        for batch in (1, 7):
            x = _example(report, batch)
            worst = max(worst, (model(x) - other(x)).abs().max().item())
    if worst > tolerance:
        difference = format(worst, ".2e")
        raise NetspecError(Problem(_("the exported model's outputs differ from the model's by {difference}; "
                                     "nothing was written", difference=difference)))
    return worst


def _onnx(model, report, ckpt, staged, path) -> float:
    """ONNX through torch's exporter, one file (weights inside), a batch dimension of any size; checked by
    onnx.checker and run in onnxruntime against torch before it is kept."""
    import warnings

    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError as e:
        raise UsageError(Problem(_("ONNX export needs the onnx, onnxscript and onnxruntime packages ({missing} is "
                                   "missing)", missing=e.name),
                                 hints=(_("install them with `{command}`", command="pip install 'netspec[export]'"),))
                         ) from None
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (_example(report, 2),), staged, dynamo=True, external_data=False,
                              dynamic_shapes=({0: batch},), input_names=["input"], output_names=["output"],
                              verbose=False)
        except Exception as e:
            raise NetspecError(Problem(_("the ONNX exporter could not export this model: {reason}",
                                         reason=str(e).strip().splitlines()[0][:300]))) from None
    onnx.checker.check_model(onnx.load(staged))
    session = onnxruntime.InferenceSession(staged, providers=["CPUExecutionProvider"])

    def run(x):
        return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])

    return _compare(model, run, report, ONNX_TOLERANCE)


def _pt2(model, report, ckpt, staged, path) -> float:
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    try:
        program = torch.export.export(model, (_example(report, 2),), dynamic_shapes=({0: batch},))
    except Exception as e:  # torch's own words: what the exporter could not follow
        raise NetspecError(Problem(_("torch.export could not export this model: {reason}",
                                     reason=str(e).strip().splitlines()[0][:300]))) from None
    torch.export.save(program, staged)
    return _compare(model, torch.export.load(staged).module(), report)


def _torchscript(model, report, ckpt, staged, path) -> float:
    import warnings

    with warnings.catch_warnings():  # torch marks TorchScript as deprecated; the format is still asked for
        warnings.simplefilter("ignore", FutureWarning)
        try:
            scripted = torch.jit.trace(model, _example(report, 2), check_trace=False)
        except Exception as e:
            raise NetspecError(Problem(_("TorchScript could not trace this model: {reason}",
                                         reason=str(e).strip().splitlines()[0][:300]))) from None
        torch.jit.save(scripted, staged)
        return _compare(model, torch.jit.load(staged), report)


def _python(model, report, ckpt, staged, path) -> float:
    from .pysource import source

    spec = ckpt["spec"] if ckpt else report.doc.data
    text = source(report, spec.get("name") or os.path.splitext(os.path.basename(path))[0], os.path.basename(path),
                  __version__, checkpoint=os.path.basename(path) if ckpt else None)
    with open(staged, "w", encoding="utf-8") as f:
        f.write(text)
    return 0.0  # the tests import it in a process without netspec and compare (tests/test_export.py)

