"""netspec studio's Train, Try and Look, through Starlette's TestClient: trainings in child processes
followed to their end (finished, stopped and resumed, failed, killed), the run folders found on disk, a
picture tried on a checkpoint and the confusion matrix of its test split (both recomputed here with
torch from the checkpoint's weights), and exports."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import time

import pytest

from netspec.i18n import _, tr
from netspec.studio import files, server
from tests.helpers import ROOT

pytestmark = [pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
              pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")]
PORT = 8766
TOKEN = "runs-token-456"
QUICK = ["output.tensorboard=false", "data.batch_size=256"]  # no TensorBoard import, 6 steps an epoch


def _studio(root) -> server.Studio:
    return server.Studio(files.Folder(str(root)), "digits.yaml", TOKEN, PORT)


class _Client:
    """A TestClient with the token, and the studio's children ended when it closes."""

    def __init__(self, studio):
        from starlette.testclient import TestClient

        self.studio = studio
        self.client = TestClient(server.create_app(studio), base_url=f"http://127.0.0.1:{PORT}")
        self.client.headers["X-Netspec-Token"] = TOKEN

    def __enter__(self):
        return self.client.__enter__()

    def __exit__(self, *exc):
        self.studio.runs.close()
        return self.client.__exit__(*exc)


def _folder(path):
    path.mkdir(exist_ok=True)
    shutil.copy(ROOT / "specs" / "digits.yaml", path / "digits.yaml")
    return path


def _watch(client, run: str, until, seconds: float = 90) -> tuple[dict, list[str]]:
    """Poll the run (as the page does, faster) until `until(run)`; the last answer and the states seen."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while True:
        answer = client.get("/api/runs", params={"id": run})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        if not seen or seen[-1] != got["state"]:
            seen.append(got["state"])
        if until(got):
            return got, seen
        assert time.monotonic() < deadline, f"run {run} still {got['state']}: {got}"
        time.sleep(0.1)


def _ended(run: dict) -> bool:
    return run["state"] in ("finished", "stopped", "failed")


def _csv_rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (float(v) if v else None) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A studio whose server trained digits for 50 epochs, was stopped after the first epoch and resumed to the
    end of the next: (client, folder, the run when stopped, the run when finished, the states seen)."""
    root = _folder(tmp_path_factory.mktemp("studio"))
    with _Client(_studio(root)) as client:
        started = client.post("/api/train", json={"path": "digits.yaml", "epochs": 50, "device": "cpu",
                                                  "sets": QUICK})
        assert started.status_code == 200, started.text
        pending = started.json()["run"]
        assert pending.startswith("pending-")
        running, seen = _watch(client, pending, lambda r: len(r["metrics"]) >= 1 or _ended(r))
        assert client.post("/api/stop", json={"run": pending}).json() == {"stopping": True}
        stopped, more = _watch(client, pending, _ended)
        refused = client.post("/api/stop", json={"run": stopped["id"]})
        assert refused.status_code == 409 and refused.json()["error"] == f"{stopped['id']} is not training"
        done = len(stopped["metrics"])
        resumed = client.post("/api/resume", json={"run": stopped["id"], "epochs": done + 1})
        assert resumed.json() == {"run": stopped["id"]}
        again = client.post("/api/resume", json={"run": stopped["id"]})
        assert again.status_code == 409 and again.json()["error"] == f"{stopped['id']} is still training; stop " \
            "it first"
        finished, last = _watch(client, stopped["id"], _ended)
        yield client, root, stopped, finished, seen + more + last


def test_a_run_stops_resumably_and_resumes_to_its_end(trained):
    import torch

    client, root, stopped, finished, seen = trained
    assert seen[0] in ("starting", "running") and "running" in seen and "stopped" in seen
    assert seen[-1] == "finished", finished["message"]
    assert stopped["id"] == stopped["folder"] == "runs/digits" == finished["id"]
    assert stopped["spec"] == "digits.yaml" and stopped["name"] == "digits" and stopped["epochs"] == 50
    done = len(stopped["metrics"])
    assert 1 <= done < 50 and stopped["resumable"] is True and stopped["state"] == "stopped"
    assert stopped["message"] == f"interrupted: {'1 epoch' if done == 1 else f'{done} epochs'} finished and saved " \
        "in runs/digits"
    assert finished["epochs"] == done + 1 and finished["message"] is None and finished["best"] is True
    assert finished["resumable"] is False
    checkpoint = torch.load(root / "runs" / "digits" / "last.pt", weights_only=False)
    assert [r["epoch"] for r in finished["metrics"]] == list(range(1, done + 2)) == \
        [r["epoch"] for r in checkpoint["metrics"]]
    written = _csv_rows(root / "runs" / "digits" / "metrics.csv")
    for got, saved, row in zip(finished["metrics"], checkpoint["metrics"], written, strict=True):
        assert got == pytest.approx(row) and got == pytest.approx(saved)
    assert {s["epoch"] for s in finished["steps"]} >= {1, done + 1}  # points within the epochs, both processes'
    for step in finished["steps"]:
        assert 1 <= step["done"] <= step["total"] == 6  # 1438 pictures, batch 256
        assert step["loss"] > 0 and step["lr"] == 0.002
    assert client.get("/api/runs", params={"id": "pending-1"}).json() == finished  # its first id leads to it
    assert client.get("/api/runs").json()["runs"] == [finished]
    refused = client.post("/api/resume", json={"run": finished["id"]})
    assert refused.status_code == 409 and refused.json()["error"] == f"runs/digits has trained all its {done + 1} " \
        "epochs; give more epochs to train it longer"


def test_a_training_that_fails_says_netspec_s_words(tmp_path):
    root = _folder(tmp_path / "work")
    with _Client(_studio(root)) as client:
        run = client.post("/api/train", json={"path": "digits.yaml", "sets": ["train.epochs=abc"]}).json()["run"]
        failed, _states = _watch(client, run, _ended)
        assert failed["state"] == "failed" and failed["id"] == run and failed["folder"] is None
        assert failed["message"].startswith("--set train.epochs=abc: error: train.epochs must be a whole number")
        assert "hint: write a number without quotes" in failed["message"] and "Traceback" not in failed["message"]
        assert client.get("/api/session").status_code == 200


def test_a_killed_training_fails_in_words_and_the_server_goes_on(tmp_path):
    root = _folder(tmp_path / "work")
    studio = _studio(root)
    with _Client(studio) as client:
        run = client.post("/api/train", json={"path": "digits.yaml", "epochs": 50, "sets": QUICK}).json()["run"]
        running, _states = _watch(client, run, lambda r: r["state"] != "starting")
        os.kill(studio.runs.get(run).process.pid, signal.SIGKILL)
        failed, _states = _watch(client, run, _ended)
        assert failed["state"] == "failed"
        assert failed["message"] == "the training process was killed (SIGKILL); the epochs it finished are saved"
        assert client.get("/api/session").status_code == 200


@pytest.mark.parametrize("body, status, words", [
    ({"path": "../digits.yaml"}, 403, "only files inside"),
    ({"path": "missing.yaml"}, 404, "no such file: missing.yaml"),
    ({"path": "digits.yaml", "epochs": 0}, 400, "1 or more"),
    ({"path": "digits.yaml", "epochs": True}, 400, "`epochs`"),
    ({"path": "digits.yaml", "sets": ["a=1", 2]}, 400, "`sets`"),
    ({"epochs": 2}, 400, "`path`")])
def test_a_bad_train_request_is_refused_at_once(tmp_path, body, status, words):
    studio = _studio(_folder(tmp_path / "work"))
    with _Client(studio) as client:
        answer = client.post("/api/train", json=body)
        assert answer.status_code == status and words in answer.json()["error"]
        assert client.get("/api/runs").json() == {"runs": []} and studio.runs.runs == {}
        for route, body in (("/api/stop", {"run": "pending-1"}), ("/api/resume", {"run": "runs/nothing"})):
            answer = client.post(route, json=body)
            assert answer.status_code == 404 and answer.json()["error"].startswith("no such run")


def test_trainings_at_once_are_capped(tmp_path, monkeypatch):
    from netspec.studio import runs

    monkeypatch.setattr(runs, "MAX_LIVE", 0)
    studio = _studio(_folder(tmp_path / "work"))
    with _Client(studio) as client:
        answer = client.post("/api/train", json={"path": "digits.yaml"})
        assert answer.status_code == 409
        assert answer.json()["error"] == "0 trainings are running; stop one before starting another"
        assert studio.runs.runs == {}


def test_the_list_holds_earlier_run_folders(trained, tmp_path):
    client, root, stopped, run, seen = trained
    work = _folder(tmp_path / "work")
    shutil.copytree(root / "runs" / "digits", work / "old" / "runs" / "digits")
    for name in os.listdir(work / "old" / "runs" / "digits"):
        os.utime(work / "old" / "runs" / "digits" / name, (1, 1))  # long ago
    shutil.copytree(root / "runs" / "digits", work / "runs" / "digits-stopped")
    rows = (work / "runs" / "digits-stopped" / "metrics.csv").read_text().splitlines()
    (work / "runs" / "digits-stopped" / "metrics.csv").write_text("\n".join(rows[:2]) + "\n")
    (work / "a" / "b" / "c" / "d" / "e").mkdir(parents=True)
    shutil.copytree(root / "runs" / "digits", work / "a" / "b" / "c" / "d" / "e" / "deep")
    (work / "runs" / "cut-short").mkdir()
    (work / "runs" / "cut-short" / "metrics.csv").write_text(rows[0] + "\n")
    with _Client(_studio(work)) as other:
        runs = other.get("/api/runs").json()["runs"]
        assert sorted((r["id"], r["state"], len(r["metrics"]), r["resumable"], r["best"]) for r in runs) == [
            ("old/runs/digits", "finished", len(run["metrics"]), False, True),
            ("runs/cut-short", "stopped", 0, False, False), ("runs/digits-stopped", "stopped", 1, True, True)]
        assert runs[-1]["id"] == "old/runs/digits"  # newest first
        assert runs[-1]["metrics"] == run["metrics"] and runs[-1]["name"] == "digits" and runs[-1]["spec"] is None
        for route in ("/api/try", "/api/look", "/api/export"):
            answer = other.request("GET" if route == "/api/look" else "POST", route, params={"run": "runs/cut-short"},
                                   json={"run": "runs/cut-short", "format": "python"})
            assert answer.status_code == 409 and answer.json()["error"] == "runs/cut-short has no checkpoint yet: it " \
                "saves one at the end of its first epoch"
        refused = other.post("/api/resume", json={"run": "runs/cut-short"})
        assert refused.status_code == 409 and "no finished epoch" in refused.json()["error"]
        deep = other.get("/api/runs", params={"id": "a/b/c/d/e/deep"}).json()  # too deep to look for, not to open
        assert deep["state"] == "finished"
        for wrong in ("../work", "/etc", "digits.yaml", "pending-7"):
            assert other.get("/api/runs", params={"id": wrong}).status_code == 404


def _digits_model(checkpoint):
    """The digits spec's network written out in torch, with the checkpoint's weights."""
    import torch
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))
    names = {"conv2d_1": "0", "linear_1": "4", "linear_2": "6"}
    model.load_state_dict({names[k.split(".")[0]] + "." + k.split(".")[1]: v
                           for k, v in checkpoint["state_dict"].items()})
    return model.eval().requires_grad_(False).to(torch.float32)


def _png(picture) -> bytes:
    import io

    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def test_try_gives_the_checkpoint_s_top_classes_and_the_picture_as_the_model_sees_it(trained):
    import base64
    import io

    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    client, root, stopped, run, seen = trained
    picture = Image.new("RGB", (30, 24), "black")
    ImageDraw.Draw(picture).line([(15, 3), (15, 20)], fill="white", width=4)  # a 1, in colour
    answer = client.post("/api/try", params={"run": run["id"], "top": 3}, content=_png(picture),
                         headers={"Content-Type": "image/png"})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    checkpoint = torch.load(root / "runs" / "digits" / "best.pt", weights_only=False)
    x = torch.from_numpy(np.asarray(picture.convert("L").resize((8, 8)), dtype=np.float32) / 255)[None]
    probabilities = torch.softmax(_digits_model(checkpoint)(x[None]), 1)[0]
    want, index = probabilities.topk(3)
    assert [t["class"] for t in got["top"]] == [checkpoint["classes"][i] for i in index]
    assert [t["probability"] for t in got["top"]] == pytest.approx(want.tolist(), abs=1e-6)
    assert sum(t["probability"] for t in got["top"]) <= 1 + 1e-6
    header, data = got["seen"].split(",", 1)
    assert header == "data:image/png;base64"
    shown = Image.open(io.BytesIO(base64.b64decode(data)))
    assert shown.size == (256, 256) and shown.mode == "L"  # 8x8, 32 times
    assert np.array_equal(np.asarray(shown)[::32, ::32], (x[0] * 255).round().numpy().astype(np.uint8))
    assert np.array_equal(np.asarray(shown)[31::32, 31::32], np.asarray(shown)[::32, ::32])
    assert got["prepared"][:3] == ["a 30x24 colour picture", "made grey", "resized to 8x8, squeezed out of shape"]
    assert all(set(w) == {"message", "hint"} for w in got["warnings"])


def test_try_refuses_what_is_no_picture_in_words(trained):
    client, root, stopped, run, seen = trained
    answer = client.post("/api/try", params={"run": run["id"]}, content=b"netspec: 1\n")
    assert answer.status_code == 400
    assert answer.json()["error"] == "the picture cannot be read as an image\nhint: use a PNG, JPEG, BMP, GIF or " \
        "another common image format"
    answer = client.post("/api/try", params={"run": run["id"], "name": "notes.txt"}, content=b"\x89PNG\r\n")
    assert answer.json()["error"].startswith("notes.txt cannot be read as an image")
    answer = client.post("/api/try", params={"run": run["id"], "lang": "zh"}, content=b"GIF89a")
    picture = tr(_("the picture"), "zh")  # 这张图片, once the lead has merged this work's translations
    assert answer.status_code == 400 and answer.json()["error"].startswith(f"{picture} 无法作为图片读取\n提示: ")
    answer = client.post("/api/try", params={"run": run["id"]}, content=b"\0" * (21 << 20))
    assert answer.status_code == 413 and answer.json()["error"] == "the picture is over 20 MiB"
    answer = client.post("/api/try", params={"run": "runs/none"}, content=b"x")
    assert answer.status_code == 404 and answer.json()["error"] == "no such run: runs/none"
    assert client.post("/api/try", params={"run": run["id"], "top": "0"}, content=b"x").status_code == 400


def test_look_gives_the_confusion_matrix_of_the_test_split(trained):
    import gzip

    import numpy as np
    import torch

    client, root, stopped, run, seen = trained
    answer = client.get("/api/look", params={"run": run["id"]})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    checkpoint = torch.load(root / "runs" / "digits" / "best.pt", weights_only=False)
    table = np.loadtxt(gzip.decompress((ROOT / "netspec" / "datasets" / "digits.csv.gz").read_bytes()).decode()
                       .splitlines(), delimiter=",", dtype=np.float32)  # the digits' 80/20 split, as data.py makes it
    test = torch.randperm(len(table), generator=torch.Generator().manual_seed(0))[:round(len(table) * 0.2)]
    x = torch.from_numpy(table[:, :64]).reshape(-1, 1, 8, 8)[test] / 16
    y = torch.from_numpy(table[:, 64]).long()[test]
    out = _digits_model(checkpoint)(x)
    matrix = torch.bincount(y * 10 + out.argmax(1), minlength=100).view(10, 10)
    assert got["matrix"] == matrix.tolist() and sum(map(sum, got["matrix"])) == len(test) == 359
    assert got["classes"] == checkpoint["classes"]
    assert got["accuracy"] == pytest.approx(matrix.diag().sum().item() / len(test))
    assert got["loss"] == pytest.approx(torch.nn.functional.cross_entropy(out, y).item(), rel=1e-4)
    for i, row in enumerate(got["per_class"]):
        count = matrix[i].sum().item()
        assert row == {"class": str(i), "count": count, "accuracy": pytest.approx(matrix[i, i].item() / count)}


def test_export_writes_the_run_s_model_into_its_folder(trained):
    import importlib.util
    import json

    import torch

    client, root, stopped, run, seen = trained
    checkpoint = torch.load(root / "runs" / "digits" / "best.pt", weights_only=False)
    x = torch.randn(5, 1, 8, 8)
    want = _digits_model(checkpoint)(x)
    answer = client.post("/api/export", json={"run": run["id"], "format": "torchscript"})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["path"] == "runs/digits/model.torchscript.pt" and got["sidecar"] == got["path"] + ".json"
    assert 0 <= got["max_difference"] <= 1e-5
    assert torch.allclose(torch.jit.load(root / got["path"])(x), want, atol=1e-5)
    sidecar = json.loads((root / got["sidecar"]).read_text())
    assert sidecar["classes"] == checkpoint["classes"] and sidecar["epoch"] == checkpoint["epoch"]

    got = client.post("/api/export", json={"run": run["id"], "format": "python"}).json()
    assert got["path"] == "runs/digits/model.py" and (root / got["sidecar"]).is_file()
    spec = importlib.util.spec_from_file_location("exported_digits", root / got["path"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Digits().eval()
    model.load_state_dict(checkpoint["state_dict"])
    with torch.no_grad():
        assert torch.allclose(model(x), want, atol=1e-6)

    onnx = client.post("/api/export", json={"run": run["id"], "format": "onnx"})
    try:
        import onnx as _  # noqa: F401
    except ImportError:  # this venv has no onnx: netspec's words for it
        assert onnx.status_code == 400
        assert onnx.json()["error"].startswith("ONNX export needs the onnx, onnxscript and onnxruntime packages")
    else:
        assert onnx.status_code == 200 and onnx.json()["path"] == "runs/digits/model.onnx"
    wrong = client.post("/api/export", json={"run": run["id"], "format": "tflite"})
    assert wrong.status_code == 400 and wrong.json()["error"].startswith("unknown format `tflite`")


def test_runs_need_the_token(trained):
    client, root, stopped, run, seen = trained
    from starlette.testclient import TestClient

    bare = TestClient(client.app, base_url=f"http://127.0.0.1:{PORT}")
    for method, url, body in (("get", "/api/runs", None), ("post", "/api/train", {"path": "digits.yaml"}),
                              ("post", "/api/stop", {"run": run["id"]}),
                              ("post", "/api/resume", {"run": run["id"]}),
                              ("get", f"/api/look?run={run['id']}", None),
                              ("post", "/api/export", {"run": run["id"], "format": "python"})):
        answer = getattr(bare, method)(url, **({"json": body} if body else {}))
        assert answer.status_code == 403 and "token" in answer.json()["error"]
    for token in ("", "wrong"):
        answer = bare.post(f"/api/try?run={run['id']}&token={token}", content=_png_of_zeros())
        assert answer.status_code == 403 and "token" in answer.json()["error"]
    assert not (root / "runs" / "digits-2").exists()


def _png_of_zeros() -> bytes:
    from PIL import Image

    return _png(Image.new("L", (8, 8)))
