"""A deep link as the very first request (a browser restoring ``/results``) works: each
page, opened first on a fresh server, resolves the workspace itself, shows its title and
the app's navigation (page titles, not file names), and no Deploy button."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from safecal.annotate import Workspace
from safecal.dashboards.launch import launch
from tests.dashboards.test_browser import (
    ARGS,
    PAGES,
    declare_random,
    ensure_chromium,
    wait_for_page,
)
from tests.workspaces import copy_workspace

REPO = Path(__file__).resolve().parents[2]
SCRIPT_NAMES = {"app"} | {p.stem for p in (REPO / "dashboards").glob("*pages/*.py")}


@pytest.fixture(scope="module")
def workspace(_filled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    target = tmp_path_factory.mktemp("first-request") / "ws"
    return copy_workspace(_filled_template, target)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=ensure_chromium(), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _served_safecal(pid: int) -> Path:
    """The folder the server imports ``safecal`` from (first PYTHONPATH entry holding it)."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    env = dict(e.decode().split("=", 1) for e in environ if b"=" in e)
    for entry in env.get("PYTHONPATH", "").split(os.pathsep):
        if entry and (Path(entry) / "safecal").exists():
            return (Path(entry) / "safecal").resolve()
    import safecal  # no PYTHONPATH entry: the installed package, as this process sees it

    return Path(safecal.__file__).resolve().parent


def test_the_server_runs_this_checkout(workspace):
    running = launch(workspace.path, timeout=90)
    try:
        assert _served_safecal(running.process.pid) == REPO
    finally:
        running.stop()


@pytest.mark.parametrize(("path", "title", "section"), PAGES, ids=[t for _, t, _ in PAGES])
def test_page_as_first_request(workspace, browser, path, title, section):
    running = launch(workspace.path, timeout=90)  # fresh: no page has run on it yet
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        try:
            page = context.new_page()
            page.goto(running.url + path)
            declare_random(page, path, title)
            wait_for_page(page, title, section)
            body = page.locator("body").inner_text()
            assert "no safecal workspace" not in body
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator("h1", has_text=title).count() >= 1
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            for _, nav_title, _ in PAGES:
                assert nav_title in nav, nav
            # script names (app, annotation, ...) would mean Streamlit's folder navigation
            shown = {line.strip() for line in nav.splitlines()}
            assert not shown & SCRIPT_NAMES, nav
            assert workspace.location in body  # the sidebar names the served workspace
            assert page.get_by_text("Deploy", exact=True).count() == 0
        finally:
            context.close()
    finally:
        running.stop()
