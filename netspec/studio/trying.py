"""The studio's Try, Look and Export of a run: the same library calls as `netspec predict`, `eval` and
`export`, on the run folder's best checkpoint (its last one where there is no best yet).

Try predicts in this process (the model is kept between tries); Look runs `netspec eval` as a child in the
studio's folder, where the spec's relative data paths lead, as they do for training.
"""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import threading

from ..errors import NetspecError
from ..i18n import Msg, _, tr
from .files import Refused
from .runs import _words

MAX_PICTURE = 20 << 20
SEEN_SIDE = 256  # the picture as the model sees it: scaled up to about this many pixels on its long side
LOOK_SECONDS = 600
EXPORTED = {"onnx": "model.onnx", "pt2": "model.pt2", "torchscript": "model.torchscript.pt", "python": "model.py"}
_models: dict[tuple, object] = {}  # (checkpoint, its mtime) -> predictor; the latest few
_lock = threading.Lock()


def checkpoint(runs, run_id: object) -> str:
    """The best.pt of a run the studio knows, else its last.pt; or Refused."""
    run = runs.get(run_id) if isinstance(run_id, str) else None
    if run is None:
        raise Refused(_("no such run: {run}", run=run_id), 404)
    for name in ("best.pt", "last.pt"):
        if run.folder and os.path.isfile(os.path.join(run.folder, name)):
            return os.path.join(run.folder, name)
    raise Refused(_("{run} has no checkpoint yet: it saves one at the end of its first epoch", run=run.id), 409)


def try_picture(path: str, data: bytes, top: int, name: str, lang: str) -> dict:
    """Predict on a picture's bytes: the top classes, the picture as the model sees it, the steps, the warnings."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="netspec-try-") as work:
        file = os.path.join(work, "picture")
        with open(file, "wb") as f:
            f.write(data)
        try:
            result, x = _predictor(path, top)(file)
        except NetspecError as e:
            raise Refused(_problem_words(e, {file: name}, lang)) from None
        except Image.DecompressionBombError:
            raise Refused(_("{path} has too many pixels to be opened safely", path=name)) from None
        except Exception as e:  # a bug in netspec: said in a line, as the command line says it
            raise _internal(e) from None
    return {"top": result["top"], "seen": _seen(x), "prepared": [tr(step, lang) for step in result["prepared"]],
            "warnings": [{"message": tr(w["message"], lang), "hint": tr(w["hint"], lang)}
                         for w in result["warnings"]]}


def look(root: str, path: str, lang: str) -> dict:
    """`netspec eval CHECKPOINT` in the studio's folder: loss, accuracy, confusion matrix and per-class figures."""
    command = [sys.executable, "-m", "netspec", "eval", path, "--format", "json", "--device", "cpu", "--lang", lang]
    try:
        done = subprocess.run(command, cwd=root, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=LOOK_SECONDS,
                              env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    except subprocess.TimeoutExpired:
        raise Refused(_("evaluating took longer than {seconds:g} seconds and was given up",
                        seconds=LOOK_SECONDS), 503) from None
    if done.returncode != 0:
        raise Refused(_words(done.stderr.splitlines()) or
                      _("`netspec eval` ended with exit status {code}", code=done.returncode))
    result = json.loads(done.stdout)
    matrix, classes = result.get("confusion"), result.get("classes") or []
    per_class = [{"class": c, "accuracy": row[i] / sum(row) if sum(row) else None, "count": sum(row)}
                 for i, (c, row) in enumerate(zip(classes, matrix or []))]
    return {"accuracy": result.get("accuracy"), "loss": result.get("loss"), "classes": classes, "matrix": matrix,
            "per_class": per_class}


def export(root: str, path: str, fmt: str, lang: str) -> dict:
    """The run's model in `fmt`, written into its run folder beside a JSON sidecar."""
    from ..exporter import export as write

    output = os.path.join(os.path.dirname(path), EXPORTED[fmt])
    try:
        meta = write(path, fmt, output)
    except NetspecError as e:
        raise Refused(_problem_words(e, {}, lang)) from None
    except Exception as e:
        raise _internal(e) from None
    relative = os.path.relpath(output, root).replace(os.sep, "/")
    return {"path": relative, "sidecar": relative + ".json", "max_difference": meta.get("max_abs_difference")}


def _internal(error: Exception) -> Refused:
    what = f"{type(error).__name__}: {error}"
    return Refused(_("internal error: {error}", error=what), 500)


def _predictor(path: str, top: int):
    from ..evaluation import predictor

    key = (path, os.stat(path).st_mtime_ns, top)
    with _lock:
        if key not in _models:
            while len(_models) >= 4:
                _models.pop(next(iter(_models)))
            _models[key] = predictor(path, top)
        return _models[key]


def _problem_words(error: NetspecError, names: dict[str, str], lang: str) -> str:
    """The first problem of a NetspecError and its hints, in `lang`, with temporary paths given their names."""
    problem = error.problems[0]
    hint = tr(_("hint"), lang)
    lines = [tr(_named(problem.message, names), lang)] + [f"{hint}: {tr(_named(h, names), lang)}"
                                                           for h in problem.hints]
    return "\n".join(lines)


def _named(message, names: dict[str, str]):
    """A Msg whose arguments that are temporary paths say the names the user knows instead."""
    if not isinstance(message, Msg) or not names:
        return message
    args = {k: names.get(v, v) if isinstance(v, str) else v for k, v in message.args.items()}
    return Msg(message.id, **args)


def _seen(x) -> str:
    """A tensor (C, H, W) as a PNG data URL: values 0..1 as they are, others stretched to the picture's range;
    small ones scaled up with nearest neighbours, large ones down, to SEEN_SIDE on the long side."""
    import torch
    from PIL import Image

    x = x.detach().float().cpu()
    low, high = x.min().item(), x.max().item()
    if low < 0 or high > 1:
        x = (x - low) / (high - low) if high > low else torch.zeros_like(x)
    pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    channels, height, width = x.shape
    picture = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, {1: "L", 3: "RGB", 4: "RGBA"}[channels])
    side = max(height, width)
    if side < SEEN_SIDE:
        scale = SEEN_SIDE // side
        picture = picture.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    elif side > SEEN_SIDE:
        picture = picture.resize((max(1, width * SEEN_SIDE // side), max(1, height * SEEN_SIDE // side)),
                                 Image.Resampling.BILINEAR)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
