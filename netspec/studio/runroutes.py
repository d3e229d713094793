"""The studio's routes for runs: train, resume and stop a `netspec train` child, list the runs, and try,
look at and export a run's checkpoint. Behind server.py's Guard, like the editor's routes; a refusal is
raised as `Refused` (server.py answers it in words with its status), and heavy work runs in worker threads
or child processes.
"""
from __future__ import annotations

import os

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..i18n import _, tr
from .files import Refused
from .server import HEADERS, Studio, _body, _lang
from .trying import EXPORTED, MAX_PICTURE, checkpoint, export, look, try_picture


def run_routes() -> list[tuple[str, object, list[str]]]:
    """(path, handler, methods) of each route."""
    return [("/api/train", _train, ["POST"]), ("/api/resume", _resume, ["POST"]), ("/api/stop", _stop, ["POST"]),
            ("/api/runs", _runs, ["GET"]), ("/api/try", _try, ["POST"]), ("/api/look", _look, ["GET"]),
            ("/api/export", _export, ["POST"])]


async def _on_checkpoint(studio: Studio, run_id, work) -> Response:
    """`work(path)` in a worker thread on the run's checkpoint (best.pt, else last.pt), as JSON."""
    path = await anyio.to_thread.run_sync(checkpoint, studio.runs, run_id)
    return JSONResponse(await anyio.to_thread.run_sync(work, path), headers=HEADERS)


def _epochs(body: dict) -> None:
    """Refused (400) when the body's optional `epochs` is not a whole number of 1 or more."""
    _optional(body, "epochs", int)
    if body.get("epochs") is not None and body["epochs"] < 1:
        raise Refused(_("the number of epochs must be 1 or more, not {value}", value=body["epochs"]))


def _optional(body: dict, name: str, kind: type) -> None:
    """Refused (400) when the body's optional `name` is there, not null, and not of `kind` (a bool is no number)."""
    value = body.get(name)
    if value is not None and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        raise Refused(_("the request's `{name}` is missing or of the wrong type", name=name))


async def _train(request: Request, studio: Studio) -> Response:
    """Train a spec as saved on disk, in a child process: `netspec train PATH [--set ...] [--device D]`."""
    lang = _lang(request)
    body = await _body(request, {"path": str})
    _epochs(body)
    _optional(body, "device", str)
    _optional(body, "sets", list)
    sets = body.get("sets") or []
    if not all(isinstance(item, str) for item in sets):
        raise Refused(_("the request's `{name}` is missing or of the wrong type", name="sets"))
    if not os.path.isfile(studio.folder.path(body["path"])):
        raise Refused(_("no such file: {path}", path=body["path"]), 404)
    run = studio.runs.train(body["path"], body.get("epochs"), body.get("device") or None, sets, lang)
    return JSONResponse({"run": run}, headers=HEADERS)


async def _resume(request: Request, studio: Studio) -> Response:
    body = await _body(request, {"run": str})
    _epochs(body)
    run = await anyio.to_thread.run_sync(studio.runs.resume, body["run"], body.get("epochs"), _lang(request))
    return JSONResponse({"run": run}, headers=HEADERS)


async def _stop(request: Request, studio: Studio) -> Response:
    body = await _body(request, {"run": str})
    studio.runs.stop(body["run"])
    return JSONResponse({"stopping": True}, headers=HEADERS)


async def _runs(request: Request, studio: Studio) -> Response:
    """Every run, newest first; or, with ?id=, the one run (its pending-N id leads to it once it has a folder)."""
    lang = _lang(request)
    wanted = request.query_params.get("id")
    if wanted is None:
        return JSONResponse({"runs": await anyio.to_thread.run_sync(studio.runs.listing, lang)}, headers=HEADERS)
    run = await anyio.to_thread.run_sync(studio.runs.get, wanted)
    if run is None:
        raise Refused(_("no such run: {run}", run=wanted), 404)
    return JSONResponse(await anyio.to_thread.run_sync(studio.runs.describe, run, lang), headers=HEADERS)


async def _try(request: Request, studio: Studio) -> Response:
    """The top classes of a picture (the request's body) from the run's checkpoint, and how the model sees it."""
    lang = _lang(request)
    too_big = Refused(_("the picture is over {limit} MiB", limit=MAX_PICTURE >> 20), 413)
    try:
        top = int(request.query_params.get("top", "5"))
    except ValueError:
        top = 0
    if top < 1:
        raise Refused(_("top must be a whole number, 1 or more"))
    if int(request.headers.get("content-length") or 0) > MAX_PICTURE:
        raise too_big
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_PICTURE:
            raise too_big
    name = os.path.basename(request.query_params.get("name", ""))[:200] or tr(_("the picture"), lang)
    return await _on_checkpoint(studio, request.query_params.get("run"),
                                lambda path: try_picture(path, bytes(data), top, name, lang))


async def _look(request: Request, studio: Studio) -> Response:
    """The run's confusion matrix and accuracy per class on its test split (`netspec eval`)."""
    lang = _lang(request)
    return await _on_checkpoint(studio, request.query_params.get("run"),
                                lambda path: look(studio.folder.root, path, lang))


async def _export(request: Request, studio: Studio) -> Response:
    """The run's model in a format of `netspec export`, written into its run folder."""
    lang = _lang(request)
    body = await _body(request, {"run": str, "format": str})
    if body["format"] not in EXPORTED:
        raise Refused(_("unknown format `{name}`; the formats are {names}", name=body["format"],
                        names=", ".join(EXPORTED)))
    return await _on_checkpoint(studio, body["run"],
                                lambda path: export(studio.folder.root, path, body["format"], lang))
