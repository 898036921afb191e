"""Issue 13 in Debian's chromium: a judge, a target model and an annotator named with Markdown,
HTML and a spreadsheet formula (tests/dashboards/hostile.py). The pages show the names as
text: no <img> or <a> pointing at the URL in the names, no request to it, no script run; the
Results page's CSV download carries the formula neutralised."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from safecal.annotate import Workspace
from safecal.dashboards.launch import Dashboard, launch
from tests.dashboards.hostile import JUDGE, MODEL, TRAP, make_hostile
from tests.dashboards.test_browser import (
    ARGS,
    ARTIFACTS,
    declare_random,
    ensure_chromium,
    wait_for_page,
)
from tests.workspaces import copy_workspace

TRAP_HOST = TRAP.removeprefix("http://")


@pytest.fixture(scope="module")
def hostile_ws(_filled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    target = tmp_path_factory.mktemp("hostile-browser") / "ws"
    ws = copy_workspace(_filled_template, target)
    make_hostile(ws)
    return ws


@pytest.fixture(scope="module")
def dashboard(hostile_ws: Workspace) -> Iterator[Dashboard]:
    running = launch(hostile_ws.path, timeout=90)
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Seen:
    """What the browser page did: every request URL, every dialog (alert) message."""

    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser_page(dashboard: Dashboard) -> Iterator[tuple[Any, Seen]]:
    """One chromium page recording its requests and dialogs."""
    from playwright.sync_api import sync_playwright

    seen = Seen()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), headless=True, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
            tab.on("request", lambda r: seen.requests.append(r.url))
            tab.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
            # the app's entry first: a fresh server whose first visit is a page's own URL
            # runs that page without app.py (no workspace chosen)
            tab.goto(dashboard.url)
            wait_for_page(tab, "Annotation", "Honeypot accuracy")
            yield tab, seen
        finally:
            browser.close()


def assert_nothing_interpreted(page: Any, seen: Seen) -> None:
    """No element or request points at the names' URL; no <img src=x>; no bold; no alert."""
    assert page.locator(f'img[src*="{TRAP_HOST}"]').count() == 0
    links = page.locator(f'a[href*="{TRAP_HOST}"]')
    assert links.count() == 0, links.first.evaluate("a => a.parentElement.outerHTML")
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("strong", has_text="bold").count() == 0
    assert page.locator("strong", has_text="aurora").count() == 0
    assert [u for u in seen.requests if TRAP_HOST in u or u.endswith("/x")] == []
    assert seen.requests, "the request recorder saw nothing"
    assert seen.dialogs == []


def test_judge_calibration_page_shows_markdown_names_as_text(dashboard, browser_page):
    page, seen = browser_page
    page.goto(dashboard.url + "calibration")
    declare_random(page, "calibration", "Judge calibration")
    wait_for_page(page, "Judge calibration", "Threshold")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hostile-calibration.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    heading = page.locator("h3", has_text="Confusion matrix:").first
    assert heading.inner_text().strip() == f"Confusion matrix: {JUDGE}"
    # the judge-run picker in the sidebar shows the name as plain text, no backslashes
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]')
    assert f"{JUDGE} (" in picker.inner_text()
    assert_nothing_interpreted(page, seen)


def test_results_page_shows_the_model_as_text_and_downloads_csv_without_formulas(
    dashboard, browser_page, tmp_path
):
    page, seen = browser_page
    page.goto(dashboard.url + "results")
    declare_random(page, "results", "Results")
    wait_for_page(page, "Results", "The benchmark's 12 cells")
    assert page.locator('[data-testid="stException"]').count() == 0
    label = page.locator('[data-testid="stExpander"] summary [data-testid="stMarkdownContainer"]')
    assert label.first.inner_text().strip() == f"{MODEL}: every cell, every estimate"
    with page.expect_download() as info:
        page.get_by_role("button", name="download the cells (CSV)").click()
    file = tmp_path / "cells.csv"
    info.value.save_as(file)
    assert info.value.suggested_filename.startswith("cells-harmfulness-")
    assert "/" not in info.value.suggested_filename
    cells = pd.read_csv(file, dtype=str, keep_default_na=False)
    assert set(cells["model"]) == {"'" + MODEL}
    assert_nothing_interpreted(page, seen)


def test_annotation_page_with_a_markdown_annotator(dashboard, browser_page):
    page, seen = browser_page
    page.goto(dashboard.url)
    wait_for_page(page, "Annotation", "Honeypot accuracy")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert_nothing_interpreted(page, seen)
