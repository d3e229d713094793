"""netspec studio's server, through Starlette's TestClient: who may ask (token, Host), which files it
touches (only specs inside its folder), what it answers to bad requests, and that its check says what
`netspec check` says."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from contextlib import contextmanager

import pytest

from netspec.studio import checking, files, server
from tests.helpers import ROOT, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
PORT = 8765
TOKEN = "test-token-123"


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    shutil.copy(ROOT / "specs" / "digits.yaml", root / "digits.yaml")
    return root


@pytest.fixture
def studio(folder):
    return server.Studio(files.Folder(str(folder)), "digits.yaml", TOKEN, PORT)


@pytest.fixture
def client(studio):
    from starlette.testclient import TestClient

    with TestClient(server.create_app(studio), base_url=f"http://127.0.0.1:{PORT}") as c:
        c.headers["X-Netspec-Token"] = TOKEN
        yield c


def _bare(studio, host=f"127.0.0.1:{PORT}"):
    from starlette.testclient import TestClient

    return TestClient(server.create_app(studio), base_url=f"http://{host}")


@pytest.mark.parametrize("url", ["/", "/static/app.js", "/static/codemirror.js", "/api/session",
                                 "/api/file?path=digits.yaml"])
def test_every_request_needs_the_token(studio, url):
    bare = _bare(studio)
    refused = bare.get(url)
    assert refused.status_code == 403
    assert "token" in (refused.json()["error"] if url.startswith("/api/") else refused.text)
    assert bare.get(url, headers={"X-Netspec-Token": "wrong"}).status_code == 403
    assert bare.get(url + ("&" if "?" in url else "?") + "token=" + TOKEN[:-1]).status_code == 403
    assert bare.get(url + ("&" if "?" in url else "?") + "token=" + TOKEN).status_code == 200
    assert bare.get(url, headers={"X-Netspec-Token": TOKEN}).status_code == 200


def test_a_post_needs_the_token_too(studio, folder):
    before = (folder / "digits.yaml").read_bytes()
    response = _bare(studio).post("/api/save", json={"path": "digits.yaml", "text": "x", "force": True})
    assert response.status_code == 403
    assert (folder / "digits.yaml").read_bytes() == before


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1:9999", "localhost", "127.0.0.2:8765",
                                  "localhost.evil.example:8765"])
def test_another_host_is_refused(studio, host):
    response = _bare(studio, host).get("/?token=" + TOKEN)
    assert response.status_code == 421
    assert response.text == "netspec studio: this server answers only to 127.0.0.1:8765\n"
    response = _bare(studio, host).get("/api/session", headers={"X-Netspec-Token": TOKEN})
    assert response.status_code == 421
    assert response.json()["error"] == "this server answers only to 127.0.0.1:8765"


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765"])
def test_this_host_is_served(studio, host):
    page = _bare(studio, host).get("/?token=" + TOKEN)
    assert page.status_code == 200
    assert f'content="{TOKEN}"' in page.text
    assert "http" not in page.text.replace("http-equiv", ""), "the page fetches nothing from the network"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_static_files_are_only_the_page_s_own(client):
    assert client.get("/static/../server.py").status_code == 404
    assert client.get("/static/server.py").status_code == 404
    js = client.get("/static/codemirror.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert b"//cdn" not in js.content and b"https://unpkg" not in js.content


@pytest.mark.parametrize("name", ["../secret.yaml", "sub/../../secret.yaml", "/etc/passwd", "notes.txt",
                                  "link.yaml", "", "..\\secret.yaml"])
def test_files_outside_the_folder_are_refused(client, folder, name):
    (folder.parent / "secret.yaml").write_text("netspec: 1\n")
    (folder / "notes.txt").write_text("private")
    (folder / "link.yaml").symlink_to(folder.parent / "secret.yaml")
    read = client.get("/api/file", params={"path": name})
    assert read.status_code in (400, 403)
    assert read.json()["error"]
    saved = client.post("/api/save", json={"path": name, "text": "stolen", "force": True})
    assert saved.status_code in (400, 403)
    assert (folder.parent / "secret.yaml").read_text() == "netspec: 1\n"
    assert (folder / "notes.txt").read_text() == "private"


def test_the_list_holds_the_folder_s_specs_only(client, folder):
    (folder / "sub").mkdir()
    (folder / "sub" / "b.yaml").write_text("netspec: 1\n")
    (folder / "notes.txt").write_text("x")
    (folder.parent / "outside.yaml").write_text("netspec: 1\n")
    (folder / "out.yaml").symlink_to(folder.parent / "outside.yaml")
    session = client.get("/api/session").json()
    assert session["specs"] == ["digits.yaml", "sub/b.yaml"]
    assert session["first"] == "digits.yaml"
    assert set(session["layers"]["Conv2d"]["args"][0]) == {"name", "about"}
    assert [a["name"] for a in session["layers"]["Linear"]["args"]][:2] == ["in_features", "out_features"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"text": 3, "path": "digits.yaml"}', b'{"path": ""}',
                                  b"\xff\xfe"])
def test_a_malformed_request_gets_words_and_the_server_goes_on(client, folder, body):
    for url in ("/api/check", "/api/save"):
        response = client.post(url, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json()["error"].startswith("the request")
    text = (folder / "digits.yaml").read_text()
    assert client.post("/api/check", json={"text": text, "path": "digits.yaml"}).json()["valid"] is True


def test_a_huge_paste_gets_the_loader_s_message(client):
    text = "netspec: 1\n" + "#" * (1 << 20)
    report = client.post("/api/check", json={"text": text, "path": "digits.yaml"}).json()
    assert not report["valid"]
    assert "a spec may be at most 1 MiB" in report["errors"][0]["message"]
    response = client.post("/api/check", content=b'{"text": "' + b"x" * (server.MAX_BODY + 10) + b'"}')
    assert response.status_code == 413
    assert "1 MiB" in response.json()["error"]


@contextmanager
def checks_that_hang(monkeypatch):
    """While open, a check of a text that holds "hang" waits (up to 10 s) for it to close."""
    release = threading.Event()
    real = checking.check_text

    def hangs(text, file):
        if "hang" in text:
            release.wait(10)
        return real(text, file)
    monkeypatch.setattr(checking, "check_text", hangs)
    try:
        yield
    finally:
        release.set()


def test_a_check_that_hangs_is_given_up_in_words(client, studio, folder, monkeypatch):
    studio.check_seconds = 0.3
    with checks_that_hang(monkeypatch):
        response = client.post("/api/check", json={"text": "# hang\nnetspec: 1\n", "path": "digits.yaml"})
        assert response.status_code == 503
        assert "took longer than 0.3 seconds" in response.json()["error"]
        text = (folder / "digits.yaml").read_text()
        assert client.post("/api/check", json={"text": text, "path": "digits.yaml"}).json()["valid"] is True


def test_checks_still_hanging_are_capped_and_the_cap_lifts_when_they_end(client, studio, folder, monkeypatch):
    studio.check_seconds = 0.2
    text = (folder / "digits.yaml").read_text()
    with checks_that_hang(monkeypatch):
        for _ in range(server.MAX_RUNNING):
            assert client.post("/api/check", json={"text": "# hang\n", "path": "d.yaml"}).status_code == 503
        busy = client.post("/api/check", json={"text": text, "path": "digits.yaml"})
        assert busy.status_code == 503
        assert busy.json()["error"] == f"{server.MAX_RUNNING} earlier checks are still running; wait for them, " \
            "or start `netspec studio` again"
    for _ in range(100):
        if studio.running == 0:
            break
        threading.Event().wait(0.05)
    assert client.post("/api/check", json={"text": text, "path": "digits.yaml"}).json()["valid"] is True


MISTAKE = ("Linear: 128", "Linear: -128")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_check_says_what_netspec_check_says(client, folder, lang):
    path = folder / "digits.yaml"
    text = path.read_text().replace(*MISTAKE)
    path.write_text(text)
    report = client.post(f"/api/check?lang={lang}", json={"text": text, "path": str(path)}).json()
    code, out, err = run_cli("check", str(path), "--format", "json", "--lang", lang)
    cli = json.loads(out)
    assert code == 1
    assert report["errors"] == cli["errors"]
    assert report["errors"][0]["line"] == 14
    _, _, said = run_cli("check", str(path), "--lang", lang)
    problem = report["errors"][0]
    assert f"{path}:{problem['line']}:{problem['column']}: " in said
    assert problem["message"] in said and all(h in said for h in problem["hints"])


def test_a_warning_says_what_netspec_check_says(client, folder):
    path = folder / "digits.yaml"
    text = path.read_text().replace("    - Linear: 10\n", "    - Linear: 10\n    - ReLU\n")
    path.write_text(text)
    report = client.post("/api/check", json={"text": text, "path": str(path)}).json()
    assert report["valid"] and len(report["warnings"]) == 1
    warning = report["warnings"][0]
    code, _, said = run_cli("check", str(path))
    assert code == 0
    assert f"{path}:{warning['line']}:{warning['column']}: warning[{warning['name']}]: {warning['message']}" in said
    assert warning["hints"][-1].endswith(f"add `silence: [{warning['name']}]` to the spec to silence this warning")
    assert all(f"hint: {h}" in said for h in warning["hints"])


def test_accept_language_chooses_the_words(client, folder):
    text = (folder / "digits.yaml").read_text().replace(*MISTAKE)
    zh = client.post("/api/check", json={"text": text, "path": "d.yaml"},
                     headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).json()
    en = client.post("/api/check", json={"text": text, "path": "d.yaml"},
                     headers={"Accept-Language": "fr-FR,en;q=0.8"}).json()
    assert zh["errors"][0]["message"] != en["errors"][0]["message"]
    assert en["errors"][0]["message"].isascii() and not zh["errors"][0]["message"].isascii()
    assert client.get("/api/session", headers={"Accept-Language": "zh"}).json()["lang"] == "zh"


def test_the_table_is_the_check_s_table(client, folder):
    from netspec.compiler import check
    from netspec.render import table_text

    path = folder / "digits.yaml"
    report = client.post("/api/check", json={"text": path.read_text(), "path": "digits.yaml"}).json()
    text = table_text(check(str(path)))
    table = report["table"]
    for row in table["rows"]:
        assert f"{row['name']}  " in text and row["output"] in text and row["params"] in text
    for label, value in table["totals"]:
        assert any(line.startswith(label) and line.endswith(value) for line in text.splitlines()), label
    lines = path.read_text().splitlines()
    for layer in report["layers"]:  # each row leads to its own line of the file
        assert layer["type"] in lines[layer["line"] - 1]
    boxes = report["diagram"]["boxes"]
    assert [b["layers"] for b in boxes[1:]] == [[i] for i in range(len(report["layers"]))]


def test_the_table_of_a_spec_with_blocks_leads_to_its_lines(client):
    text = (ROOT / "specs" / "resnet_cifar.yaml").read_text()
    report = client.post("/api/check", json={"text": text, "path": "resnet_cifar.yaml"}).json()
    assert report["valid"] and len(report["table"]["rows"]) == len(report["layers"]) > 40
    assert all(1 <= layer["line"] <= len(text.splitlines()) for layer in report["layers"])
    assert any(edge[2] > 0 for edge in report["diagram"]["edges"]), "skip connections drawn as arcs"
    lines = text.splitlines()
    use = lines.index("    - basic: {channels: 16}") + 1
    block = lines.index("  basic:") + 1
    first = [layer for layer in report["layers"] if layer["name"].startswith("basic_1.")]
    assert len(first) == 8 and all(layer["use_line"] == use and layer["line"] > block for layer in first)
    assert report["layers"][0]["use_line"] is None


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_writes_the_file_when_it_is_unchanged_on_disk(client, folder):
    path = folder / "digits.yaml"
    opened = client.get("/api/file", params={"path": "digits.yaml"}).json()
    assert opened["hash"] == _sha(path) and opened["text"] == path.read_text()
    new = opened["text"].replace("epochs: 15", "epochs: 3")
    saved = client.post("/api/save", json={"path": "digits.yaml", "text": new, "hash": opened["hash"]}).json()
    assert saved == {"written": True, "hash": _sha(path)}
    assert path.read_text() == new
    assert [p.name for p in folder.iterdir()] == ["digits.yaml"], "no temporary file left"


def test_save_never_loses_either_text_when_the_file_changed_on_disk(client, folder):
    path = folder / "digits.yaml"
    opened = client.get("/api/file", params={"path": "digits.yaml"}).json()
    theirs = opened["text"].replace("epochs: 15", "epochs: 7")
    path.write_text(theirs)
    mine = opened["text"].replace("epochs: 15", "epochs: 3")
    conflict = client.post("/api/save", json={"path": "digits.yaml", "text": mine, "hash": opened["hash"]})
    assert conflict.status_code == 409
    assert conflict.json()["disk_text"] == theirs and conflict.json()["hash"] == _sha(path)
    assert path.read_text() == theirs
    kept = client.post("/api/save", json={"path": "digits.yaml", "text": mine, "hash": opened["hash"],
                                          "keep": True}).json()
    assert kept["copy"] == "digits.mine.yaml" and kept["text"] == theirs
    assert (folder / "digits.mine.yaml").read_text() == mine
    again = client.post("/api/save", json={"path": "digits.yaml", "text": mine, "keep": True}).json()
    assert again["copy"] == "digits.mine-2.yaml"
    forced = client.post("/api/save", json={"path": "digits.yaml", "text": mine, "hash": "stale", "force": True})
    assert forced.json()["written"] is True
    assert path.read_text() == mine


def test_a_failed_write_leaves_the_file_and_says_why(client, folder, monkeypatch):
    path = folder / "digits.yaml"
    before = path.read_text()

    def fails(target, write):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files, "atomic_write", fails)
    response = client.post("/api/save", json={"path": "digits.yaml", "text": "x", "hash": _sha(path)})
    assert response.status_code == 500
    assert "No space left on device" in response.json()["error"]
    assert path.read_text() == before


def test_the_command_prints_the_address_and_opens_the_browser(folder, monkeypatch):
    served, opened = [], []
    monkeypatch.setattr(server, "serve", lambda studio, sock: (served.append(studio), sock.close()))
    monkeypatch.setattr("webbrowser.open", opened.append)
    code, out, err = run_cli("studio", str(folder / "digits.yaml"))
    assert code == 0, err
    studio = served[0]
    assert studio.folder.root == os.path.realpath(folder) and studio.first == "digits.yaml"
    assert len(studio.token) >= 32
    assert f"http://127.0.0.1:{studio.port}/?token={studio.token}" in out
    assert opened == [f"http://127.0.0.1:{studio.port}/?token={studio.token}"]
    code, out, err = run_cli("studio", str(folder), "--no-browser")
    assert code == 0 and len(opened) == 1
    assert served[1].first is None and served[1].token != studio.token


def test_the_command_refuses_a_missing_spec(folder):
    code, out, err = run_cli("studio", str(folder / "nothing.yaml"), "--no-browser")
    assert code == 2
    assert "no such file: nothing.yaml" in err
