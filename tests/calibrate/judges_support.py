"""Shared fixtures for the judge tests: a real workspace filled through SQL, and a server."""

from __future__ import annotations

import sys
from pathlib import Path

from safecal.annotate.store import Workspace
from tests.calibrate.fake_openai import FakeOpenAI


def make_workspace(
    path: Path, replies: list[tuple[str, str]], *, image: bool = False, language: str = "en"
) -> Workspace:
    """A workspace with one item and one response per (aspect, reply text).

    Response ids are ``r0000``, ``r0001``, ...; item ids ``i0000``, ...
    """
    ws = Workspace.open(path, create=True)
    if image:
        from PIL import Image

        Image.new("RGB", (4, 4), (200, 10, 10)).save(ws.images_dir / "red.png")
    with ws.transaction() as con:
        for n, (aspect, reply) in enumerate(replies):
            con.execute(
                "INSERT INTO items (item_id, text, text_zh, image, aspect, level1_category, "
                "img_risk, text_risk, modality, source, content_hash, ingested_at) "
                "VALUES (?, ?, ?, ?, ?, 'Public Safety', 1, 0, 'RIST', 'test', 'h', 'now')",
                (f"i{n:04d}", f"query {n}", f"问题 {n}", "red.png" if image else None, aspect),
            )
            con.execute(
                "INSERT INTO responses (response_id, item_id, model, language, response, source, "
                "content_hash, ingested_at) VALUES (?, ?, 'm1', ?, ?, 'test', 'h', 'now')",
                (f"r{n:04d}", f"i{n:04d}", language, reply),
            )
    return ws


def judge_command(ws: Path, server: FakeOpenAI, *extra: str) -> list[str]:
    """`safecal calibrate run --judge llm` against ``server`` in a child process (the
    key read from SAFECAL_TEST_JUDGE_KEY)."""
    return [
        sys.executable,
        "-m",
        "safecal",
        "calibrate",
        "run",
        "--workspace",
        str(ws),
        "--judge",
        "llm",
        "--model",
        "fake-judge",
        "--base-url",
        server.base_url,
        "--api-key-env",
        "SAFECAL_TEST_JUDGE_KEY",
        "--no-progress",
        *extra,
    ]
