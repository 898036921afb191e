"""Property: a broken file gives a clean error (exit 2, no traceback) and an unchanged workspace."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecal.annotate import Workspace, ingest_items, ingest_responses
from safecal.annotate.store import URL_FILE
from safecal.cli import main
from tests import workspaces

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def base(example, tmp_path_factory):
    """A workspace with the items and one model's responses, and a valid responses frame."""
    root = tmp_path_factory.mktemp("prop")
    ws = Workspace.open(root / "ws")
    ingest_items(ws, example.items, images=example.images)
    ingest_responses(ws, example.responses[0])
    valid = pd.read_csv(example.responses[0], dtype=str, keep_default_na=False).head(12)
    valid["model"] = "fresh-model"
    return ws.path, valid


def copy_db(template: Path, folder: Path) -> Path:
    """A copy of the template's database alone (responses need no images): fast per example
    (on PostgreSQL, a database made from the template's)."""
    (folder / "ws").mkdir()
    if (template / URL_FILE).is_file():
        assert workspaces.server is not None
        name = workspaces.database_name((template / URL_FILE).read_text().strip())
        url = workspaces.server.create_database(template=name)
        (folder / "ws" / URL_FILE).write_text(url + "\n")
    else:
        shutil.copyfile(template / "safecal.sqlite", folder / "ws" / "safecal.sqlite")
    return folder / "ws"


def state(path: Path) -> tuple:
    ws = Workspace.open(path, create=False)
    return (
        ws.read_sql("SELECT * FROM items ORDER BY item_id").to_csv(),
        ws.read_sql("SELECT * FROM responses ORDER BY response_id").to_csv(),
    )


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


BREAKAGES = st.sampled_from(
    [
        "bad_language",
        "unknown_item",
        "duplicate",
        "drop_column",
        "bad_utf8",
        "header_only",
        "empty",
        "bad_settings",
        "empty_model",
        "truncated_quote",
    ]
)


def broken_file(valid: pd.DataFrame, breakage: str, row: int, noise: str, folder: Path) -> Path:
    frame = valid.copy()
    row = row % len(frame)
    path = folder / "r.csv"
    if breakage == "bad_language":
        frame.loc[row, "language"] = noise if noise.strip().lower() not in ("en", "zh") else "xx"
    elif breakage == "unknown_item":
        frame.loc[row, "item_id"] = "no-such-item-" + noise
    elif breakage == "duplicate":
        frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
    elif breakage == "drop_column":
        frame = frame.drop(columns=[["item_id", "model", "language", "response"][row % 4]])
    elif breakage == "bad_settings":
        frame.loc[row, "settings"] = "{not json" + noise
    elif breakage == "empty_model":
        frame.loc[row, "model"] = ""
    frame.to_csv(path, index=False)
    if breakage == "bad_utf8":
        lines = path.read_bytes().split(b"\n")
        lines[1 + row] = lines[1 + row] + b"\xff\xfe" + noise.encode()
        path.write_bytes(b"\n".join(lines))
    elif breakage == "header_only":
        path.write_text(path.read_text().splitlines()[0] + "\n")
    elif breakage == "empty":
        path.write_bytes(b"")
    elif breakage == "truncated_quote":
        path.write_text(path.read_text() + '1,fresh-model,en,"an unterminated quote\n')
    return path


@SETTINGS
@given(breakage=BREAKAGES, row=st.integers(0, 100), noise=st.text(max_size=8))
def test_broken_response_files_fail_cleanly(base, capsys, breakage, row, noise):
    template, valid = base
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = copy_db(template, folder)
        before = state(ws)
        path = broken_file(valid, breakage, row, noise, folder)
        code, err = run_cli(capsys, "--workspace", str(ws), "ingest", "responses", str(path))
        assert code == 2, (breakage, err)
        assert err.startswith("error: ") and "Traceback" not in err
        assert str(path) in err or "--encoding" in err
        assert state(ws) == before


@SETTINGS
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]),
    kind=st.sampled_from(["items", "responses"]),
)
def test_arbitrary_bytes_never_crash(base, capsys, data, suffix, kind):
    """Any bytes at all: either a clean ingest or a clean error, never a traceback."""
    template, _ = base
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = copy_db(template, folder)
        before = state(ws)
        path = folder / f"r{suffix}"
        path.write_bytes(data)
        extra = ["--images", str(folder)] if kind == "items" else []
        code, err = run_cli(capsys, "--workspace", str(ws), "ingest", kind, str(path), *extra)
        assert code in (0, 2) and "Traceback" not in err
        if code == 2:
            assert err.startswith("error: ")
            assert state(ws) == before
