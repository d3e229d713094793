"""netspec studio in a real browser: Debian's Chromium, headless, driven by Playwright against the real
server on a free port. A person's first minutes: a mistake typed and seen underlined at its line with
netspec check's words, fixed, the table and diagram updated, a row and a box clicked, the file saved,
a conflict with the file on disk resolved without losing either text; and strangers refused.

Screenshots of each step go to the folder named by NETSPEC_SCREENSHOTS (else the test's tmp_path), for
a person to look at; nothing compares them."""
from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from netspec.studio import server
from netspec.studio.words import words
from tests.helpers import ROOT
from tests.test_studio import checks_that_hang

TIMEOUT = 15_000  # ms: a check on a busy 2-core machine


@pytest.fixture(scope="module")
def chromium():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the studio's browser tests need Debian's Chromium: run `apt-get install -y chromium`")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options()
    with sync_playwright() as p:
        # evil.test resolves to this machine, as a DNS-rebinding attacker's name would
        browser = p.chromium.launch(executable_path=executable,
                                    args=["--no-sandbox", "--host-resolver-rules=MAP evil.test 127.0.0.1"])
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path):
    """The real server for a copy of specs/digits.yaml, in a thread; its Studio."""
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy(ROOT / "specs" / "digits.yaml", folder / "digits.yaml")
    yield from _serve(str(folder / "digits.yaml"))


@pytest.fixture
def live_folder(tmp_path):
    """The real server for a folder of two specs."""
    folder = tmp_path / "specs"
    (folder / "more").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / "digits.yaml", folder / "digits.yaml")
    shutil.copy(ROOT / "specs" / "resnet_cifar.yaml", folder / "more" / "resnet_cifar.yaml")
    yield from _serve(str(folder))


def _serve(target: str):
    studio, sock = server.start(target)
    uv = server.make_server(studio)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "the server did not start"
    yield studio
    studio.runs.close()  # a training a failed test left running
    uv.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("NETSPEC_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


PAGE_ERRORS: list[str] = []  # uncaught errors of the page's scripts, in the test running now


@pytest.fixture(autouse=True)
def no_script_errors():
    """Every test fails on an uncaught error in the page's scripts, whatever it was checking."""
    PAGE_ERRORS.clear()
    yield
    assert PAGE_ERRORS == []


def _page(chromium, locale="en-US"):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
    page = context.new_page()
    page.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
    return page


def _cursor_line(page) -> int:
    return page.evaluate("() => { const v = netspecStudio.view; "
                         "return v.state.doc.lineAt(v.state.selection.main.head).number; }")


def _edit_line(page, number: int, old: str, new: str) -> None:
    """Put the cursor at the end of line `number` and replace its ending `old` with `new`, as typed keys."""
    line = page.locator(".cm-content .cm-line").nth(number - 1)
    assert line.inner_text().endswith(old)
    line.click()
    page.keyboard.press("End")
    for _ in old:
        page.keyboard.press("Backspace")
    page.keyboard.type(new, delay=30)


def test_a_person_fixes_a_mistake_sees_the_table_and_saves(chromium, live, shots):
    import torch
    from playwright.sync_api import expect

    from netspec.compiler import check
    from netspec.loader import loads

    path = Path(live.folder.root) / "digits.yaml"
    page = _page(chromium)
    page.goto(server.url(live))
    expect(page.locator("#table tbody tr")).to_have_count(8)  # the input and 7 layers
    expect(page.locator("#status")).to_have_text("valid")
    page.screenshot(path=shots / "studio-1-opened.png")

    _edit_line(page, 14, "Linear: 128", "Linear: -128")
    underline = page.locator(".cm-lintRange-error")
    expect(underline).to_have_count(1)
    lines = page.locator(".cm-content .cm-line")
    expect(lines.nth(13).locator(".cm-lintRange-error")).to_have_text("-128")
    said = check(loads(path.read_text().replace("Linear: 128", "Linear: -128"), "digits.yaml")).errors[0]
    assert said.line == 14
    problem = page.locator("#problems li.error")
    expect(problem).to_have_count(1)
    expect(problem.locator(".message")).to_have_text(str(said.message))
    expect(problem.locator(".where")).to_have_text(f"14:{said.column}")
    expect(page.locator("#stale")).to_be_visible()
    page.locator(".cm-lintRange-error").hover()
    expect(page.locator(".cm-tooltip-lint")).to_contain_text(str(said.message))
    page.screenshot(path=shots / "studio-2-mistake.png")

    _edit_line(page, 14, "Linear: -128", "Linear: 64")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    linear = torch.nn.Linear(32 * 4 * 4, 64)
    params = sum(p.numel() for p in linear.parameters())
    row = page.locator("#table tbody tr").nth(5)
    expect(row).to_contain_text(f"{params:,}")
    expect(row).to_contain_text("(N, 64)")
    expect(page.locator("#diagram svg g.box").nth(5)).to_contain_text("(N, 64)")
    expect(page.locator("#stale")).to_be_hidden()
    page.screenshot(path=shots / "studio-3-fixed.png")

    page.locator("#table tbody tr").nth(1).click()  # conv2d_1, on line 10
    assert _cursor_line(page) == 10
    expect(page.locator("#table tbody tr").nth(1)).to_have_class(re.compile("current"))
    page.locator("#diagram svg g.box").nth(7).click()  # the last Linear, on line 16
    assert _cursor_line(page) == 16
    page.screenshot(path=shots / "studio-4-clicked.png")

    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_have_text("Saved digits.yaml")
    assert "    - Linear: 64\n" in path.read_text()
    assert "Linear: 128" not in path.read_text()
    page.screenshot(path=shots / "studio-5-saved.png")

    theirs = path.read_text().replace("epochs: 15", "epochs: 9")
    path.write_text(theirs)
    _edit_line(page, 16, "Linear: 10", "Linear: 11")
    page.locator("#save").click()
    dialog = page.locator("#conflict")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("digits.yaml changed on disk")
    page.screenshot(path=shots / "studio-6-conflict.png")
    page.locator("#theirs").click()
    expect(page.locator("#banner")).to_contain_text("digits.mine.yaml")
    assert page.evaluate("() => netspecStudio.view.state.doc.toString()") == theirs
    assert "Linear: 11" in (path.parent / "digits.mine.yaml").read_text()
    assert path.read_text() == theirs
    expect(page.locator("#status")).to_have_text("valid")
    page.screenshot(path=shots / "studio-7-theirs.png")
    page.context.close()


def test_the_page_speaks_chinese_when_asked(chromium, live, shots):
    from playwright.sync_api import expect

    page = _page(chromium, locale="zh-CN")
    page.goto(server.url(live))
    expect(page.locator("#table tbody tr")).to_have_count(8)
    _edit_line(page, 14, "Linear: 128", "Linear: -128")
    message = page.locator("#problems li.error .message")
    expect(message).to_contain_text("Linear 的 out_features")
    expect(page.locator("#table thead")).to_contain_text("输出形状")
    page.screenshot(path=shots / "studio-8-chinese.png")

    # Train, Try and Look speak it too, and so does a training started from the page: the mistake, trained,
    # fails in check's Chinese words
    zh = words("zh")
    assert zh["start_train"] != words("en")["start_train"]  # translated: the test cannot pass in English
    page.locator("#tab-train").click()
    for element, key in (("#tab-train", "train"), ("#epochs-label", "epochs"), ("#start-train", "start_train")):
        expect(page.locator(element)).to_have_text(zh[key])
    page.locator("#start-train").click()
    expect(page.locator("#run-state")).to_have_text(zh["failed"], timeout=60_000)
    expect(page.locator("#run-message")).to_contain_text("Linear 的 out_features")
    page.screenshot(path=shots / "studio-8b-chinese-train.png")
    page.locator("#tab-try").click()
    expect(page.locator("#drop-text")).to_have_text(zh["drop"])
    page.locator("#tab-look").click()
    expect(page.locator("#matrix-title")).to_have_text(zh["matrix"])
    page.context.close()


def test_completion_and_a_check_that_hangs(chromium, live, shots, monkeypatch):
    from playwright.sync_api import expect

    from netspec.registry import layers

    page = _page(chromium)
    page.goto(server.url(live))
    expect(page.locator("#table tbody tr")).to_have_count(8)
    _edit_line(page, 16, "Linear: 10", "Linear: 11")  # digits has 10 classes: netspec knows the one fix
    page.locator(".cm-lintRange-error").hover()
    fix = page.locator(".cm-tooltip-lint .cm-diagnosticAction")
    expect(fix).to_have_text("Fix it")
    fix.click()
    assert page.evaluate("() => netspecStudio.view.state.doc.line(16).text") == "    - Linear: 10"
    expect(page.locator("#status")).to_have_text("valid")

    page.locator(".cm-content .cm-line").nth(14).click()  # `    - ReLU`, line 15
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("- Conv", delay=30)
    options = page.locator(".cm-tooltip-autocomplete li")
    expect(options.first).to_be_visible()
    labels = page.locator(".cm-tooltip-autocomplete .cm-completionLabel")
    assert {"Conv1d", "Conv2d", "ConvTranspose2d"} <= set(labels.all_inner_texts())
    page.keyboard.press("Escape")
    page.keyboard.type("2d: {", delay=30)
    page.keyboard.press("Control+Space")
    expect(options.first).to_be_visible()
    assert set(labels.all_inner_texts()) == set(layers()["Conv2d"].args)
    page.screenshot(path=shots / "studio-9-completion.png")
    page.keyboard.press("Escape")

    live.check_seconds = 0.5
    with checks_that_hang(monkeypatch):
        page.keyboard.type(" # hang", delay=10)
        expect(page.locator("#banner")).to_contain_text("took longer than 0.5 seconds")
        page.screenshot(path=shots / "studio-10-hangs.png")
        assert "# hang" in page.evaluate("() => netspecStudio.view.state.doc.toString()")
    page.context.close()


def test_a_folder_lists_its_specs_to_open(chromium, live_folder, shots):
    from playwright.sync_api import expect

    page = _page(chromium)
    page.goto(server.url(live_folder))
    files = page.locator("#files")
    expect(files.locator("option")).to_have_text(["Choose a spec to open:", "digits.yaml", "more/resnet_cifar.yaml"])
    expect(page.locator("#save")).to_be_disabled()
    files.select_option("more/resnet_cifar.yaml")
    expect(page.locator("#status")).to_have_text("valid")
    expect(page.locator("#table tbody tr")).to_have_count(1 + 82)
    expect(page.locator("#diagram svg g.group")).to_have_count(9)  # the block uses: 3 + 1 + 2 + 1 + 2
    expect(files.locator("option")).to_have_text(["digits.yaml", "more/resnet_cifar.yaml"])
    page.screenshot(path=shots / "studio-11-folder.png")
    page.context.close()


def test_strangers_are_refused(chromium, live, shots):
    page = _page(chromium)
    bare = f"http://127.0.0.1:{live.port}/"
    response = page.goto(bare)
    assert response.status == 403
    assert "token" in page.inner_text("body")
    response = page.goto(f"http://evil.test:{live.port}/?token={live.token}")
    assert response.status == 421
    assert f"127.0.0.1:{live.port}" in page.inner_text("body")
    page.screenshot(path=shots / "studio-12-refused.png")
    page.context.close()


def _train_on_page(page, epochs: int | None = None, sets: str = "") -> None:
    page.locator("#tab-train").click()
    page.locator("#epochs").fill("" if epochs is None else str(epochs))
    page.locator("#sets").fill(sets)
    page.locator("#start-train").click()


def _run_row(page):
    return page.locator("#runs tbody tr.selected")


def test_a_run_is_stopped_and_resumed(chromium, live, shots):
    from playwright.sync_api import expect

    folder = Path(live.folder.root)
    page = _page(chromium)
    page.goto(server.url(live))
    expect(page.locator("#table tbody tr")).to_have_count(8)
    _train_on_page(page, epochs=60)
    row = _run_row(page)
    expect(row.locator("td.name b")).to_have_text("runs/digits", timeout=60_000)
    expect(row.locator("td.state")).to_have_text("running")
    expect(page.locator("#chart-loss circle").first).to_be_visible(timeout=60_000)  # an epoch is done
    page.locator("#stop").click()
    expect(page.locator("#run-state")).to_have_text("stopped, resumable", timeout=60_000)
    done = len((folder / "runs" / "digits" / "metrics.csv").read_text().splitlines()) - 1
    assert 1 <= done < 60
    expect(row.locator("td.num").first).to_have_text(f"{done}/60")
    message = page.locator("#run-message")
    expect(message).to_contain_text("runs/digits")
    expect(message).to_contain_text(f"{done} epoch")
    expect(message).not_to_have_class(re.compile("bad"))
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#chart-loss circle")).to_have_count(2 * done)  # train and test loss, one dot an epoch
    page.screenshot(path=shots / "studio-13-stopped.png")

    page.locator("#epochs").fill(str(done + 1))
    page.locator("#resume").click()
    expect(page.locator("#run-state")).to_have_text("finished", timeout=60_000)
    expect(row.locator("td.num").first).to_have_text(f"{done + 1}/{done + 1}")
    rows = (folder / "runs" / "digits" / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(1, done + 2))
    expect(page.locator("#chart-loss circle")).to_have_count(2 * (done + 1))
    expect(page.locator("#resume")).to_be_disabled()
    page.screenshot(path=shots / "studio-14-resumed.png")
    page.context.close()


def _answers(page, pattern: str) -> list:
    """The JSON the server answers to the page's requests whose URL matches `pattern`, as they come."""
    said = []

    def handle(route):
        response = route.fetch()
        said.append(response.json())
        route.fulfill(response=response)
    page.route(pattern, handle)
    return said


def _picture(path: Path, size: tuple[int, int], strokes: list) -> Path:
    """A hand-drawn digit, white strokes on black, bigger than the 8x8 the model takes."""
    from PIL import Image, ImageDraw

    image = Image.new("L", size, 0)
    for stroke in strokes:
        ImageDraw.Draw(image).line(stroke, fill=255, width=7)
    image.save(path)
    return path


def _drop(page, path: Path) -> None:
    """A file dropped on Try's zone, as from a file manager."""
    page.evaluate("""async ([name, bytes]) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
        const zone = document.getElementById("drop");
        for (const type of ["dragenter", "dragover", "drop"]) {
          zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
        }
    }""", [path.name, list(path.read_bytes())])


def test_from_a_planted_mistake_to_a_trained_model_that_classifies_an_image(chromium, live, shots, tmp_path):
    """The issue's "Done when": a person opens the digits spec with a mistake in it, trains (it fails, in
    words), fixes it, trains for 2 epochs, tries images and looks at the confusion matrix, never leaving
    the page."""
    from playwright.sync_api import expect

    from netspec.compiler import check
    from netspec.loader import loads

    folder = Path(live.folder.root)
    path = folder / "digits.yaml"
    planted = path.read_text().replace("    - Linear: 10", "    - Linear: 12")
    path.write_text(planted)
    said = check(loads(planted, "digits.yaml")).errors[0]
    page = _page(chromium)
    page.goto(server.url(live))
    lines = page.locator(".cm-content .cm-line")
    expect(lines.nth(said.line - 1).locator(".cm-lintRange-error")).to_have_text("12")
    expect(page.locator("#status")).to_have_text("1 error")
    page.screenshot(path=shots / "flow-1-mistake.png")

    _train_on_page(page, epochs=2)  # before fixing it: netspec says why it cannot train
    message = page.locator("#run-message")
    expect(page.locator("#run-state")).to_have_text("failed", timeout=60_000)
    expect(message).to_contain_text(str(said.message))
    expect(message).to_have_class(re.compile("bad"))
    assert message.evaluate("e => getComputedStyle(e).color") == "rgb(192, 57, 43)"  # red
    assert page.evaluate("() => netspecStudio.view.state.doc.toString()") == planted == path.read_text()
    page.screenshot(path=shots / "flow-2-failed.png")

    page.locator("#tab-edit").click()
    page.locator(".cm-lintRange-error").hover()
    page.locator(".cm-tooltip-lint .cm-diagnosticAction").click()
    expect(page.locator("#status")).to_have_text("valid")
    page.screenshot(path=shots / "flow-3-fixed.png")

    best = _trains_two_epochs(page, folder, shots)
    assert "    - Linear: 10\n" in path.read_text()  # trained as saved
    _tries_pictures(page, tmp_path, shots)
    _looks_and_exports(page, folder, best, shots)
    page.context.close()


def _trains_two_epochs(page, folder: Path, shots: Path) -> float:
    """Train with the page's fields and watch the curves grow; the best test accuracy metrics.csv holds."""
    import yaml
    from playwright.sync_api import expect

    # 4 times the steps: the curve grows between polls; a rate that changes every batch, drawn within the epochs
    _train_on_page(page, epochs=2, sets="data.batch_size=8\ntrain.scheduler={OneCycleLR: {max_lr: 0.01}}")
    row = _run_row(page)
    expect(row.locator("td.name b")).to_have_text("runs/digits", timeout=60_000)
    steps = page.locator("#chart-steps path.line")
    expect(steps).to_have_count(1, timeout=60_000)
    seen = int(steps.get_attribute("data-points"))
    page.wait_for_function("n => { const p = document.querySelector('#chart-steps path.line'); "
                           "return p && Number(p.dataset.points) > n; }", arg=seen,
                           timeout=60_000)  # the within-epoch curve grows as the run goes
    page.screenshot(path=shots / "flow-4-training.png")
    expect(page.locator("#run-state")).to_have_text("finished", timeout=60_000)
    trained = yaml.safe_load((folder / "runs" / "digits" / "spec.yaml").read_text())
    assert trained["data"]["batch_size"] == 8 and trained["train"]["epochs"] == 2  # the fields reached it
    rows = [r.split(",") for r in (folder / "runs" / "digits" / "metrics.csv").read_text().splitlines()[1:]]
    best = max(float(r[3]) for r in rows)
    assert len(rows) == 2
    expect(page.locator("#chart-loss circle")).to_have_count(4)  # train and test loss of 2 epochs
    expect(page.locator("#chart-accuracy circle")).to_have_count(2)
    assert trained["train"]["scheduler"] == {"OneCycleLR": {"max_lr": 0.01}}
    within = page.locator('#chart-lr g.series[data-kind="within"] path')  # one line, up then down
    heights = [float(p.split(",")[1]) for p in within.get_attribute("d")[1:].split(" L")]
    top = heights.index(min(heights))  # SVG's y grows downwards: the highest rate is the smallest y
    assert len(heights) > 4 and 0 < top < len(heights) - 1 and heights[0] > heights[top] < heights[-1]
    expect(row.locator("td.num").first).to_have_text("2/2")
    expect(row.locator("td.num").last).to_have_text(f"{100 * best:.2f}%")
    page.screenshot(path=shots / "flow-5-trained.png")
    return best


def _tries_pictures(page, tmp_path: Path, shots: Path) -> None:
    """A chosen picture, a dropped one and a file that is no picture, each answered as the server said."""
    from playwright.sync_api import expect

    page.locator("#tab-try").click()
    expect(page.locator("#try-run")).to_have_value("runs/digits")
    tries = _answers(page, "**/api/try?*")
    page.locator("#image").set_input_files(_picture(tmp_path / "seven.png", (64, 64), [[(14, 12), (50, 12),
                                                                                         (28, 56)]]))
    top = page.locator("#top li")
    expect(top).to_have_count(5)
    said = tries[0]
    assert top.locator(".class").all_inner_texts() == [t["class"] for t in said["top"]]
    assert top.locator(".num").all_inner_texts() == [f"{100 * t['probability']:.2f}%" for t in said["top"]]
    probabilities = [t["probability"] for t in said["top"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
    expect(page.locator("#seen")).to_be_visible()
    assert page.locator("#seen").evaluate("e => [e.naturalWidth, e.naturalHeight]") == [256, 256]  # 8x8, scaled up
    expect(page.locator("#prepared li")).to_have_count(len(said["prepared"]))
    page.screenshot(path=shots / "flow-6-tried.png")

    yours = page.locator("#yours").get_attribute("src")
    _drop(page, _picture(tmp_path / "one.png", (40, 64), [[(20, 6), (20, 58)]]))
    expect(page.locator("#yours")).not_to_have_attribute("src", yours)
    page.wait_for_function("() => !document.querySelector('#try-status').textContent")
    assert len(tries) == 2
    expect(top.locator(".class")).to_have_text([t["class"] for t in tries[1]["top"]])

    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    page.locator("#image").set_input_files(notes)
    status = page.locator("#try-status")
    expect(status).to_have_class(re.compile("bad"))
    assert len(tries) == 3 and "notes.png" in tries[2]["error"]
    expect(status).to_have_text(tries[2]["error"])
    expect(page.locator("#seen")).to_be_hidden()
    page.screenshot(path=shots / "flow-6b-not-a-picture.png")


def _looks_and_exports(page, folder: Path, best: float, shots: Path) -> None:
    """The confusion matrix of best.pt (its diagonal gives the best accuracy training wrote) and a Python export."""
    from playwright.sync_api import expect

    looks = _answers(page, "**/api/look?*")
    page.locator("#tab-look").click()
    cells = page.locator("#matrix td")
    expect(cells).to_have_count(10 * 10)
    counts = [int(c) for c in cells.all_inner_texts()]
    assert counts == [n for row in looks[0]["matrix"] for n in row]
    assert sum(counts[i * 11] for i in range(10)) / sum(counts) == pytest.approx(best)
    expect(page.locator("#overall")).to_contain_text(f"{100 * best:.2f}% on {sum(counts)} test images")
    expect(page.locator("#per-class tbody tr")).to_have_count(10)
    page.locator("#exports button[data-format=python]").click()
    result = page.locator("#export-result code")
    expect(result).to_have_text(re.compile(r"^runs/digits/.+\.py$"), timeout=30_000)
    assert (folder / result.inner_text()).is_file()
    page.screenshot(path=shots / "flow-7-look.png")


def _run_folder(folder: Path, epochs: int, rows: list[tuple], when: float) -> None:
    """A run folder as netspec train leaves it (metrics.csv and its spec), without training."""
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(f"netspec: 1\nname: digits\ntrain:\n  epochs: {epochs}\n")
    lines = ["epoch,train_loss,test_loss,test_accuracy,lr,seconds,images_per_s"]
    lines += [",".join(str(v) for v in (k + 1, *row, 0.5, 1000)) for k, row in enumerate(rows)]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    for name in ("spec.yaml", "metrics.csv"):
        os.utime(folder / name, (when, when))


def test_runs_on_disk_are_listed_and_their_curves_overlaid(chromium, live, shots):
    from playwright.sync_api import expect

    root = Path(live.folder.root)
    older = [(2.0, 2.2, 0.5, 0.002), (1.0, 1.3, 0.75, 0.002), (0.5, 0.9, 0.9125, 0.001)]
    newer = [(1.5, 1.4, 0.6, 0.01), (0.8, 0.7, 0.8, 0.01)]
    _run_folder(root / "runs" / "old", 3, older, time.time() - 100)
    _run_folder(root / "runs" / "new", 4, newer, time.time() - 50)
    page = _page(chromium)
    page.goto(server.url(live))
    expect(page.locator("#table tbody tr")).to_have_count(8)
    page.locator("#tab-train").click()
    runs = page.locator("#runs tbody tr")
    expect(runs.locator("td.name b")).to_have_text(["runs/new", "runs/old"])  # newest first
    expect(runs.nth(0)).to_have_class(re.compile("selected"))
    expect(runs.nth(0).locator("td.state")).to_have_text("stopped")  # 2 of 4 epochs, no checkpoint to go on from
    expect(runs.nth(1).locator("td.state")).to_have_text("finished")
    expect(runs.locator("td.num")).to_have_text(["2/4", "80.00%", "3/3", "91.25%"])
    expect(page.locator("#resume")).to_be_disabled()
    loss = page.locator("#chart-loss")
    expect(loss.locator("circle")).to_have_count(2 * 2)

    runs.nth(1).locator("input[type=checkbox]").check()
    expect(loss.locator("circle")).to_have_count(2 * 2 + 2 * 3)
    expect(page.locator("#legend .item")).to_have_count(2 + 2)  # two runs, then the train/test key
    old = page.locator('#chart-loss g.series[data-run="runs/old"][data-kind="train"] circle')
    xs = [float(x) for x in old.evaluate_all("cs => cs.map(c => c.getAttribute('cx'))")]
    ys = [float(y) for y in old.evaluate_all("cs => cs.map(c => c.getAttribute('cy'))")]
    assert xs == sorted(xs) and len(set(xs)) == 3  # epochs left to right
    assert ys == sorted(ys) and len(set(ys)) == 3  # a falling loss drawn lower each epoch (SVG's y grows down)
    swatch = runs.nth(1).locator(".swatch").evaluate("e => getComputedStyle(e).backgroundColor")
    stroke = page.locator('#chart-loss g.series[data-run="runs/old"] path').first.evaluate(
        "e => getComputedStyle(e).stroke")
    assert swatch == stroke  # the legend's colour is the curve's
    titles = page.locator('#chart-accuracy g.series[data-run="runs/old"] circle title').all_text_contents()
    assert [t.rsplit(": ", 1)[1] for t in titles] == ["50.00%", "75.00%", "91.25%"]
    page.screenshot(path=shots / "studio-16-overlaid.png")
    runs.nth(1).locator("input[type=checkbox]").uncheck()
    expect(loss.locator("circle")).to_have_count(2 * 2)
    runs.nth(1).click()
    expect(runs.nth(1)).to_have_class(re.compile("selected"))
    expect(loss.locator("circle")).to_have_count(2 * 3)
    expect(page.locator("#run-name")).to_have_text("digits · runs/old")

    page.locator("#tab-try").click()  # neither run has a checkpoint to try
    expect(page.locator("#try-run")).to_be_disabled()
    expect(page.locator("#try-run option")).to_have_text(["Train a run first; its best checkpoint is tried here."])

    path = root / "digits.yaml"
    theirs = path.read_text().replace("epochs: 15", "epochs: 9")
    path.write_text(theirs)  # changed on disk: Save and train asks first, and Cancel trains nothing
    page.locator("#tab-train").click()
    page.locator("#start-train").click()
    expect(page.locator("#conflict")).to_be_visible()
    page.locator("#cancel").click()
    expect(page.locator("#conflict")).to_be_hidden()
    page.locator("#tab-edit").click()
    page.locator("#tab-train").click()
    expect(runs).to_have_count(2)
    assert path.read_text() == theirs
    assert not live.runs.runs  # no training was started
    page.context.close()
