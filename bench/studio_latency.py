"""netspec studio: keystroke-to-updated-table latency on specs/resnet_cifar.yaml (median of 20, measured in
the browser) and the server's memory at rest (VmRSS of the `netspec studio` process once the page has loaded).

    python bench/studio_latency.py [--screenshot FILE]

Needs Chromium (Debian's `chromium` package) and Playwright (`pip install '.[test]'`). Each keystroke edits
the last Linear layer's width (64 <-> 256); the time runs from the keydown to the table row showing the new
shape, so it includes the page's pause of 150 ms before it checks.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WATCH = """() => {
  window.t0 = 0; window.lat = null; window.want = '';
  document.addEventListener('keydown', () => { window.t0 = performance.now(); }, true);
  new MutationObserver(() => {
    const rows = document.querySelectorAll('#table tbody tr');
    if (window.want && rows.length && rows[rows.length - 2].textContent.includes(window.want) && window.lat === null)
      window.lat = performance.now() - window.t0;
  }).observe(document.querySelector('#table tbody'), {childList: true, subtree: true, characterData: true});
}"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--screenshot")
    ap.add_argument("--n", type=int, default=20)
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    spec = os.path.join(work, "resnet_cifar.yaml")
    shutil.copy(os.path.join(ROOT, "specs", "resnet_cifar.yaml"), spec)
    text = open(spec, encoding="utf-8").read().splitlines()
    line = max(i for i, s in enumerate(text, 1) if s.strip().startswith("- Linear:"))
    text[line - 1] = re.sub(r"Linear: *\d+", "Linear: 64", text[line - 1])
    text.insert(line, "    - Linear: 10")  # the width edited is then the second-last row's shape
    open(spec, "w", encoding="utf-8").write("\n".join(text) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "netspec", "studio", spec, "--no-browser"],
                            stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+", proc.stdout.readline()).group(0)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("#table tbody tr >> nth=40", timeout=30000)
            time.sleep(1)
            with open(f"/proc/{proc.pid}/status") as f:
                rss = [s.strip() for s in f if s.startswith(("VmRSS", "VmHWM"))]
            page.evaluate(WATCH)
            page.evaluate(f"() => netspecStudio.goTo({line})")
            page.keyboard.press("End")
            lat = []
            for i in range(a.n):
                width = "256" if i % 2 == 0 else "64"
                page.evaluate(f"() => {{ window.lat = null; window.want = '(N, {width})'; }}")
                for _ in range(len("64") if i % 2 == 0 else len("256")):
                    page.keyboard.press("Backspace")
                page.keyboard.type(width)  # the keydown of its last character starts the clock
                page.wait_for_function("() => window.lat !== null", timeout=10000)
                lat.append(page.evaluate("() => window.lat"))
                time.sleep(0.3)
            print(f"keystroke to updated table, ms: median {statistics.median(lat):.0f}, min {min(lat):.0f}, "
                  f"max {max(lat):.0f} (of {len(lat)}; includes the page's 150 ms pause)")
            print("server memory at rest:", ", ".join(rss))
            if a.screenshot:
                page.screenshot(path=a.screenshot)
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
