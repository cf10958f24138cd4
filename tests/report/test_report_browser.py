"""End to end: a report opened in headless Chromium renders, every image loads, no console error.

Chromium is driven through the DevTools protocol (``--remote-debugging-port``): the test
listens for console messages, uncaught exceptions and log entries (failed loads, blocked
resources) while the page loads, asks the page for the state of each ``<img>``, and takes a
screenshot. Debian's ``chromium`` package is installed with apt-get when it is missing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datacanary.report import write_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,1000",
]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a Chromium binary; Debian's package is installed with apt-get when missing."""
    found = _find_chromium()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("Chromium is not installed and apt-get is unavailable to install it")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        pytest.skip("Chromium is not installed and installing it with apt-get needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:  # package lists missing or stale on a fresh machine
        subprocess.run([apt, "update"], env=env, capture_output=True, timeout=600, check=True)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"apt-get install chromium failed: {proc.stderr[-2000:]}"
    found = _find_chromium()
    assert found, "apt-get installed chromium but no chromium binary is on PATH"
    return found


class _DevTools:
    """A minimal DevTools-protocol session with one page, over a WebSocket."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        call_id = self._next_id
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                assert "error" not in message, f"{method} failed: {message['error']}"
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30.0) -> dict[str, Any]:
        for seen in self.events:
            if seen["method"] == event:
                return seen
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    return message


def _problems(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and error log entries (failed or blocked loads)."""
    found = []
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in (
            "error",
            "assert",
        ):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            found.append(f"console.{params['type']}: {text}")
        elif event["method"] == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append(f"exception: {details.get('text')} {details.get('exception', {})}")
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            found.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
    return found


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[str]:
    """A headless Chromium listening for DevTools on 127.0.0.1; yields its HTTP endpoint."""
    pytest.importorskip(
        "websockets.sync.client", reason="the DevTools client needs websockets (dev extra)"
    )
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    proc = subprocess.Popen(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, f"chromium exited with {proc.returncode} at start-up"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port in 60 s"
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def open_page(endpoint: str, page: Path, screenshot: Path) -> dict[str, Any]:
    """Load ``page`` and return its images' state, the problems seen and the page size."""
    with urllib.request.urlopen(f"{endpoint}/json/list", timeout=10) as response:
        targets = json.load(response)
    target = next(t for t in targets if t["type"] == "page")
    from websockets.sync.client import connect

    with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=20) as ws:
        tools = _DevTools(ws)
        for domain in ("Runtime", "Log", "Page"):
            tools.send(f"{domain}.enable")
        tools.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )
        tools.send("Page.navigate", url=page.resolve().as_uri())
        tools.wait_for("Page.loadEventFired", timeout=60)
        result = tools.send(
            "Runtime.evaluate",
            expression=(
                "JSON.stringify(Array.from(document.images).map(i => ({alt: i.alt, "
                "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})))"
            ),
            returnByValue=True,
        )
        images = json.loads(result["result"]["value"])
        height = tools.send(
            "Runtime.evaluate",
            expression="document.documentElement.scrollHeight",
            returnByValue=True,
        )["result"]["value"]
        shot = tools.send("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.2)  # let late console messages arrive
        tools.send("Runtime.evaluate", expression="1", returnByValue=True)
        return {"images": images, "problems": _problems(tools.events), "height": height}


def _mixed_table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 1500
    created = pd.Timestamp("2024-03-01") + pd.to_timedelta(np.sort(rng.uniform(0, 30, n)), "D")
    amount = np.round(np.exp(rng.normal(3, 0.5, n)), 2)
    amount[:12] *= 60
    country = rng.choice(["DE", "FR", "NL", "<b>ES</b>"], n).astype(object)
    country[rng.random(n) < 0.05] = None
    frame = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "created_at": created,
            "amount": amount,
            "quantity": rng.integers(1, 6, n),
            "country": country,
            "label": np.r_[np.ones(12, dtype=int), np.zeros(n - 12, dtype=int)],
        }
    )
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_report_renders_in_chromium_with_every_image_loaded(browser: str, tmp_path: Path) -> None:
    page = write_report(_mixed_table(tmp_path), tmp_path / "report.html", label_column="label")
    seen = open_page(browser, page, tmp_path / "report.png")

    assert seen["problems"] == []
    assert len(seen["images"]) >= 8  # columns, correlations, trends, detection, curves
    broken = [i["alt"] for i in seen["images"] if not (i["complete"] and i["width"] > 50)]
    assert broken == []
    assert seen["height"] > 3000  # the whole report laid out, not an error page
    from PIL import Image

    with Image.open(tmp_path / "report.png") as shot:
        assert shot.size == (1280, 1000)
        colours = shot.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50  # not a blank page
    keep = os.environ.get("DATACANARY_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(tmp_path / "report.png", keep)


def test_browser_check_catches_a_broken_image_and_a_console_error(
    browser: str, tmp_path: Path
) -> None:
    # the same checks on a page that is broken on purpose: they must fail it
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img alt="broken" src="data:image/png;base64,AAAA">'
        '<script>console.error("boom")</script></body></html>',
        encoding="utf-8",
    )
    seen = open_page(browser, page, tmp_path / "broken.png")
    assert [i["width"] for i in seen["images"]] == [0]
    assert any("boom" in p for p in seen["problems"])
