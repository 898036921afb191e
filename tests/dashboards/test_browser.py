"""The running dashboard in a real headless browser (Debian's chromium via playwright):
every page opens without an error box and shows its title; screenshots are kept under
tests/artifacts/dashboard/ (git-ignored). The review page's keyboard shortcut saves a gold
label through the browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from safecal.annotate import Workspace
from safecal.dashboards.launch import Dashboard, launch
from tests.workspaces import copy_workspace

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
#: the sidebar checkbox of the calibration and results pages (--assume-random)
ASSUME_RANDOM = "count gold from no sample as a random sample"
#: (url path, title) of every page in navigation order
# (path, title, a section heading that only appears once the page's data has rendered)
PAGES = (
    ("", "Annotation", "Honeypot accuracy"),
    ("review", "Review", "Gold label"),
    ("calibration", "Judge calibration", "Threshold"),
    ("results", "Results", "The benchmark's 12 cells"),
    ("curation", "Curation", "Curation table"),
)


def ensure_chromium() -> str:
    """Debian's chromium: install it when missing and we may (root), else fail clearly."""
    if (
        not Path(CHROMIUM).exists()
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("apt-get")
    ):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], check=False, env=env, capture_output=True
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard is tested in Debian's chromium; "
            "install it with `apt-get install -y chromium` (as root) and rerun"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture(scope="module")
def workspace(_filled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One copy of the filled example for this module's server."""
    target = tmp_path_factory.mktemp("browser") / "ws"
    return copy_workspace(_filled_template, target)


@pytest.fixture(scope="module")
def dashboard(workspace: Workspace) -> Iterator[Dashboard]:
    running = launch(workspace.path, timeout=90)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_for_page(page: object, title: str, section: str | None = None) -> None:
    """Until the title (and a section rendered from data) is shown and Streamlit has
    finished running the script."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    if section:
        page.get_by_role("heading", name=section).first.wait_for(timeout=90_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(500)


def declare_random(page: object, path: str, title: str) -> None:
    """On the calibration and results pages, tick the sidebar's --assume-random box: the
    filled example's gold was drawn by no sample, so a user of it declares it random."""
    if path not in ("calibration", "results"):
        return
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    box = page.get_by_role("checkbox", name=ASSUME_RANDOM)
    box.wait_for(state="attached", timeout=60_000)
    if not box.is_checked():
        page.get_by_text(ASSUME_RANDOM).click()


def test_every_page_renders_in_chromium(dashboard, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    for path, title, section in PAGES:
        start = time.monotonic()
        page.goto(dashboard.url + path)
        declare_random(page, path, title)
        wait_for_page(page, title, section)
        print(f"{title}: {time.monotonic() - start:.1f} s")
        page.screenshot(path=str(ARTIFACTS / f"{path or 'annotation'}.png"), full_page=True)
        errors = page.locator('[data-testid="stException"]')
        assert errors.count() == 0, f"{title}: {errors.first.inner_text()}"
        assert page.locator("h1", has_text=title).count() >= 1
    # the navigation lists every page
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    for _, title, _ in PAGES:
        assert title in nav


def test_review_keyboard_shortcut_saves_gold(dashboard, browser, workspace):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(dashboard.url + "review")
    wait_for_page(page, "Review")
    box = page.locator('input[aria-label="reviewer"]')
    box.fill("bob")
    box.press("Enter")
    wait_for_page(page, "Review")
    page.locator("h1", has_text="Review").first.click()  # focus off the text box
    page.keyboard.press("1")  # 1: the first label of the scale, saved at once
    page.get_by_text("set to unsafe by bob").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "review-saved.png"), full_page=True)
    gold = workspace.read_sql("SELECT label, adjudicator FROM gold WHERE method = 'adjudicated'")
    assert gold.values.tolist() == [["unsafe", "bob"]]
