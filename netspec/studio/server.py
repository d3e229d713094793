"""The studio's web server: a thin layer over the library calls the CLI makes, for one local user.

Starlette on uvicorn, bound to 127.0.0.1. Every request must carry the token made at start (in the URL
of the page and its files, in a header of the API's calls), and name this server in its Host header
(127.0.0.1:PORT or localhost:PORT, so that no other web page reaches it by DNS rebinding). Checking
runs in worker threads under a time limit, so that the page is answered whatever a spec does.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from functools import partial
from importlib import resources

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import i18n
from ..i18n import _, tr
from ..loader import MAX_BYTES
from .files import Folder, Refused
from .runs import Runs
from .words import words

CHECK_SECONDS = 10.0  # a check that takes longer is given up, and the page says so
MAX_RUNNING = 4  # checks at once in worker threads
MAX_BODY = 8 * MAX_BYTES  # a request body: a 1 MiB spec as JSON, escapes and all, fits
STATIC = {"app.js": "text/javascript", "runs.js": "text/javascript", "style.css": "text/css",
          "codemirror.js": "text/javascript"}
HEADERS = {"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                      "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                      "form-action 'none'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Frame-Options": "DENY"}


@dataclass
class Studio:
    """What one server serves: the folder, the spec to open first, the token, and its port."""

    folder: Folder
    first: str | None
    token: str
    port: int
    check_seconds: float = CHECK_SECONDS
    running: int = 0  # checks running in worker threads, given-up ones included
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: Runs = field(init=False)

    def __post_init__(self):
        self.runs = Runs(self.folder.root)


def _lang(request: Request) -> str:
    """zh or en: ?lang=, else the browser's Accept-Language (its first language netspec speaks)."""
    chosen = request.query_params.get("lang")
    if chosen:
        return i18n.language(chosen)
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith(("zh", "en")):
            return tag[:2]
    return "en"


def _error(message, status: int, lang: str) -> JSONResponse:
    return JSONResponse({"error": tr(message, lang)}, status, headers=HEADERS)


async def _answer_refusal(request: Request, refusal: Refused) -> Response:
    """Every route's refusal (`Refused`, raised anywhere below a handler, worker threads included), in words
    in the request's language with its status: the one place that turns one into an answer."""
    return _error(refusal.message, refusal.status, _lang(request))


def _refused(request: Request, message, status: int, lang: str) -> Response:
    """A refusal: JSON to the page's calls, a line of text to a person who opened the address."""
    if request.url.path.startswith("/api/"):
        return _error(message, status, lang)
    return PlainTextResponse(f"netspec studio: {tr(message, lang)}\n", status, headers=HEADERS)


class Guard:
    """ASGI middleware: the Host header and the token, before anything else is looked at."""

    def __init__(self, app, studio: Studio):
        self.app, self.studio = app, studio

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        lang = _lang(request)
        hosts = {f"127.0.0.1:{self.studio.port}", f"localhost:{self.studio.port}"}
        if request.headers.get("host", "").lower() not in hosts:
            response = _refused(request, _("this server answers only to 127.0.0.1:{port}", port=self.studio.port),
                                421, lang)
        elif not secrets.compare_digest(_token(request).encode(), self.studio.token.encode()):
            response = _refused(request, _("this page needs the link `netspec studio` printed, with its token"), 403,
                                lang)
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)


def _token(request: Request) -> str:
    return request.headers.get("x-netspec-token") or request.query_params.get("token") or ""


def create_app(studio: Studio) -> Guard:
    """The studio's ASGI application: the editor's routes here, the runs' in runroutes.py."""
    from .runroutes import run_routes

    routes = [Route("/", partial(_page, studio=studio)),
              Route("/static/{name}", _static),
              Route("/api/session", partial(_session, studio=studio)),
              Route("/api/file", partial(_file, studio=studio)),
              Route("/api/check", partial(_check, studio=studio), methods=["POST"]),
              Route("/api/save", partial(_save, studio=studio), methods=["POST"])]
    routes += [Route(path, partial(handler, studio=studio), methods=methods) for path, handler, methods in run_routes()]
    return Guard(Starlette(routes=routes, exception_handlers={Refused: _answer_refusal}), studio)


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


async def _page(request: Request, studio: Studio) -> Response:
    lang = _lang(request)
    html = _asset("index.html").decode("utf-8")
    for key, value in {"TOKEN": studio.token, "LANG": lang, "TITLE": tr(words(lang)["title"])}.items():
        html = html.replace("{{" + key + "}}", value)
    return Response(html, media_type="text/html; charset=utf-8", headers=HEADERS)


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return _error(_("no such file: {path}", path=name), 404, _lang(request))
    return Response(_asset(name), media_type=STATIC[name] + "; charset=utf-8", headers=HEADERS)


async def _session(request: Request, studio: Studio) -> Response:
    """What the page needs first: its words, the specs it can open, the one to open, and the layers."""
    from .completion import layer_table

    lang = _lang(request)
    specs = await anyio.to_thread.run_sync(studio.folder.specs)
    return JSONResponse({"lang": lang, "words": words(lang), "folder": studio.folder.root, "specs": specs,
                         "first": studio.first, "layers": await anyio.to_thread.run_sync(layer_table, lang)},
                        headers=HEADERS)


async def _file(request: Request, studio: Studio) -> Response:
    text, digest = await anyio.to_thread.run_sync(studio.folder.read, request.query_params.get("path"))
    return JSONResponse({"path": request.query_params["path"], "text": text, "hash": digest}, headers=HEADERS)


async def _body(request: Request, fields: dict[str, type]) -> dict:
    """The request's JSON object with these fields of these types; else Refused (400, 413) saying what is wrong."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Refused(_("the file is over {limit:,} bytes; a spec may be at most 1 MiB", limit=MAX_BYTES), 413)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(_("the request is not JSON")) from None
    if not isinstance(body, dict):
        raise Refused(_("the request is not a JSON object"))
    for name, kind in fields.items():
        if not isinstance(body.get(name), kind):
            raise Refused(_("the request's `{name}` is missing or of the wrong type", name=name))
    return body


async def _check(request: Request, studio: Studio) -> Response:
    from .checking import check_text, report_page

    lang = _lang(request)
    body = await _body(request, {"text": str, "path": str})
    if studio.running >= MAX_RUNNING:  # threads cannot be stopped: given-up checks still running are capped
        return _error(_("{n} earlier checks are still running; wait for them, or start `netspec studio` again",
                        n=studio.running), 503, lang)

    def work() -> dict:
        with studio.lock:
            studio.running += 1
        try:
            return report_page(check_text(body["text"], body["path"] or "<spec>"), lang)
        finally:
            with studio.lock:
                studio.running -= 1
    try:
        with anyio.fail_after(studio.check_seconds):
            result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except TimeoutError:
        return _error(_("checking took longer than {seconds:g} seconds and was given up; the text is kept, "
                        "the table and diagram are from the last check", seconds=studio.check_seconds), 503, lang)
    return JSONResponse(result, headers=HEADERS)


async def _save(request: Request, studio: Studio) -> Response:
    """Save the page's text; 409 with the file's text when it changed on disk since the page read it."""
    body = await _body(request, {"text": str, "path": str})
    base, force, keep = body.get("hash"), body.get("force") is True, body.get("keep") is True
    if keep:  # the user takes the file from disk: the page's text is kept beside it first
        copy = await anyio.to_thread.run_sync(studio.folder.keep_copy, body["path"], body["text"])
        text, digest = await anyio.to_thread.run_sync(studio.folder.read, body["path"])
        return JSONResponse({"written": False, "copy": copy, "text": text, "hash": digest}, headers=HEADERS)
    saved = await anyio.to_thread.run_sync(studio.folder.save, body["path"], body["text"], base, force)
    if not saved.written:
        return JSONResponse({"written": False, "conflict": True, "hash": saved.hash, "disk_text": saved.disk_text},
                            409, headers=HEADERS)
    return JSONResponse({"written": True, "hash": saved.hash}, headers=HEADERS)


def start(target: str | None, port: int = 0) -> tuple[Studio, "socket.socket"]:
    """The studio for a spec, a folder or the current folder, on a socket bound to 127.0.0.1:port."""
    import socket

    target = os.path.abspath(target or ".")
    if os.path.isdir(target):
        root, first = target, None
    else:
        root, first = os.path.dirname(target), os.path.basename(target)
    folder = Folder(root)
    if first is not None:
        folder.read(first)  # a missing or refused spec is said before the server starts
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return Studio(folder, first, secrets.token_urlsafe(24), sock.getsockname()[1]), sock


def url(studio: Studio) -> str:
    return f"http://127.0.0.1:{studio.port}/?token={studio.token}"


def make_server(studio: Studio):
    """The uvicorn server of a studio (its `run(sockets=[sock])` serves until `should_exit` is set)."""
    import uvicorn

    config = uvicorn.Config(create_app(studio), log_level="warning", lifespan="off", server_header=False)
    return uvicorn.Server(config)


def serve(studio: Studio, sock) -> None:
    """Serve until interrupted (Ctrl-C), then end the trainings it started."""
    try:
        make_server(studio).run(sockets=[sock])
    finally:
        studio.runs.close()
