"""The curation page in a real headless browser (Debian chromium via playwright)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.calibrate.curation.planted_fixture import build_workspace

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "dashboards" / "app_pages" / "curation.py"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_curation_page_in_chromium(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    fx = build_workspace(tmp_path / "ws")
    port = _free_port()
    env = {**os.environ, "SAFECAL_WORKSPACE": str(fx.ws.path), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(PAGE),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start within 90 s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("Curation table").wait_for(timeout=90_000)
            page.get_by_text("2 cells emptied by curation").wait_for(timeout=90_000)
            values = page.locator('[data-testid="stMetricValue"]')
            expect(values).to_have_text(["9", "5", "4"], timeout=90_000)  # waits for the render
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
