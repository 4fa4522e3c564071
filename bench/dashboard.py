"""The dashboard in real headless Chromium: file save -> visible on the session's card, and
the page's memory after many pushes.

Starts ``scribe-ls dashboard`` in a temp git repository with a session, opens the page in
Debian's Chromium (selenium), and:

- saves a file N times (>= 100, a few tenths of a second apart) and times each save from
  the write to the moment the page's DOM shows the file's name on the card (a
  MutationObserver in the page stamps it with the page's clock, which is this machine's);
- sends P notes (default 10,000) over a second WebSocket client, each one a
  ``scribe/entryAdded`` push to the page, then reads the page's JS heap after a garbage
  collection (Chromium's DevTools protocol) and its DOM size: the timeline is bounded.

Targets: save -> DOM p50 <= 100 ms, p99 <= 250 ms; JS heap after the pushes < 100 MB.
Prints a table, then one JSON line.

    python bench/dashboard.py [--saves 120] [--pushes 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cli_command, make_repo, summary

TOKEN = "bench-dashboard-token"
OBSERVER = """
window.__seen = {};
const stamp = () => {
  const now = performance.timeOrigin + performance.now();
  for (const node of document.querySelectorAll('.card-saved')) {
    for (const name of node.textContent.split(', ')) {
      const file = name.split('/').pop();
      if (!(file in window.__seen)) window.__seen[file] = now;
    }
  }
};
const watched = {childList: true, subtree: true, characterData: true};
new MutationObserver(stamp).observe(document.getElementById('cards'), watched);
"""


def start_dashboard(root: Path) -> tuple[subprocess.Popen[str], str, int]:
    process = subprocess.Popen(
        [*cli_command(), "dashboard", "--token", TOKEN],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if found := re.search(r"at (http://127\.0\.0\.1:(\d+)/#token=\S+)", line):
            # Keep reading its log so the pipe never fills.
            subprocess.Popen(["cat"], stdin=process.stderr, stdout=subprocess.DEVNULL)
            return process, found[1], int(found[2])
        if not line and process.poll() is not None:
            break
    raise SystemExit("the dashboard did not start")


def open_browser(url: str, profile: Path):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1200", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options
    )
    driver.get(url)
    deadline = time.monotonic() + 20
    while driver.execute_script("return document.getElementById('connection').textContent") != "live":
        if time.monotonic() > deadline:
            raise SystemExit("the page did not connect")
        time.sleep(0.05)
    return driver


def measure_saves(driver, root: Path, saves: int) -> list[float]:  # type: ignore[no-untyped-def]
    driver.execute_script(OBSERVER)
    folder = root / "saves"
    folder.mkdir()
    latencies: list[float] = []
    for n in range(saves):
        name = f"save{n}.txt"
        started = time.time() * 1000
        (folder / name).write_text(f"{n}\n")
        deadline = time.monotonic() + 5
        seen = None
        while seen is None and time.monotonic() < deadline:
            seen = driver.execute_script("return window.__seen[arguments[0]] ?? null", name)
            if seen is None:
                time.sleep(0.002)
        if seen is None:
            raise SystemExit(f"{name} never showed on the card")
        latencies.append(seen - started)
        time.sleep(random.uniform(0.2, 0.4))  # a person saving, quickly
    return latencies


def push_notes(port: int, pushes: int) -> float:
    """``pushes`` notes through a second client of the same dashboard; seconds taken."""
    from websockets.sync.client import connect

    started = time.perf_counter()
    with connect(f"ws://127.0.0.1:{port}/rpc", max_size=None, open_timeout=10) as ws:
        init = {"capabilities": {}, "initializationOptions": {"token": TOKEN}}
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}))
        while "id" not in (answer := json.loads(ws.recv(timeout=30))) or answer["id"] != 0:
            pass
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        batch = 50
        for first in range(0, pushes, batch):
            ids = range(first + 1, min(pushes, first + batch) + 1)
            for i in ids:
                params = {"text": f"bench note {i}: {'x' * 40}"}
                ws.send(
                    json.dumps({"jsonrpc": "2.0", "id": i, "method": "scribe/appendEntry", "params": params})
                )
            waiting = set(ids)
            while waiting:
                message = json.loads(ws.recv(timeout=60))
                if message.get("id") in waiting:
                    if "error" in message:
                        raise SystemExit(f"appendEntry failed: {message['error']}")
                    waiting.discard(message["id"])
    return time.perf_counter() - started


def heap_mb(driver) -> float:  # type: ignore[no-untyped-def]
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    return driver.execute_cdp_cmd("Runtime.getHeapUsage", {})["usedSize"] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=120)
    parser.add_argument("--pushes", type=int, default=10_000)
    args = parser.parse_args()
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        raise SystemExit("needs Debian's chromium and chromium-driver (sh scripts/install-browser.sh)")
    with tempfile.TemporaryDirectory(prefix="scribe-dashboard-") as tmp:
        root = make_repo(Path(tmp) / "repo")
        subprocess.run([*cli_command(), "start"], cwd=root, check=True, capture_output=True)
        process, url, port = start_dashboard(root)
        driver = None
        try:
            driver = open_browser(url, Path(tmp) / "profile")
            latencies = measure_saves(driver, root, args.saves)
            heap_before = heap_mb(driver)
            seconds = push_notes(port, args.pushes)
            deadline = time.monotonic() + 120
            # Every note's push handled by the page (its counter), then measured.
            while driver.execute_script("return window.scribeDashboard.pushes") < args.pushes + args.saves:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            handled = driver.execute_script("return window.scribeDashboard.pushes")
            heap_after = heap_mb(driver)
            dom_nodes = driver.execute_script("return document.getElementsByTagName('*').length")
            timeline = driver.execute_script("return document.querySelectorAll('#timeline li').length")
        finally:
            if driver is not None:
                driver.quit()
            process.send_signal(signal.SIGTERM)
            process.wait(20)
    saves = summary(latencies, 1)
    rows = [
        ("file save -> on the card, p50", f"{saves['p50_ms']:.1f} ms", "<= 100 ms"),
        ("file save -> on the card, p99", f"{saves['p99_ms']:.1f} ms", "<= 250 ms"),
        ("file save -> on the card, max", f"{saves['max_ms']:.1f} ms", ""),
        (
            f"JS heap before / after {args.pushes:,} note pushes",
            f"{heap_before:.1f} / {heap_after:.1f} MB",
            "< 100 MB",
        ),
        ("pushes handled by the page", f"{handled:,}", ""),
        ("timeline items / DOM elements after", f"{timeline} / {dom_nodes}", "bounded"),
        ("notes appended through the second client", f"{args.pushes / seconds:,.0f} /s", ""),
    ]
    print(f"dashboard in headless Chromium: {args.saves} saves, {args.pushes:,} pushes")
    for name, value, target in rows:
        print(f"  {name:<48} {value:>18}  {target}")
    targets = {
        "save_p50<=100ms": saves["p50_ms"] <= 100,
        "save_p99<=250ms": saves["p99_ms"] <= 250,
        "heap<100MB": heap_after < 100,
    }
    print(
        json.dumps(
            {
                "bench": "dashboard",
                "saves": saves,
                "pushes": args.pushes,
                "pushes_handled": handled,
                "heap_before_mb": round(heap_before, 2),
                "heap_after_mb": round(heap_after, 2),
                "dom_elements": dom_nodes,
                "timeline_items": timeline,
                "appends_per_s": round(args.pushes / seconds, 1),
                "targets": targets,
                "targets_met": all(targets.values()),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
