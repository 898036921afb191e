"""One label per (unit, annotator, field), item-level units included (issue 13, item 4):
in a file, across re-imports, in the database, and in a workspace made before the rule."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from safecal.annotate import InputError, Workspace
from safecal.annotate.human_labels import import_labels
from safecal.annotate.store import integrity_errors
from safecal.annotate.store.schema import MIGRATIONS, split_sql
from tests.annotate.fixtures import populate

REPO = Path(__file__).resolve().parents[2]
HEADER = "item_id,model,language,annotator,field,label\n"


def _count(ws: Workspace) -> int:
    return int(ws.read_sql("SELECT count(*) AS n FROM annotations")["n"].iloc[0])


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        # item-level (query quality): response_id NULL, which UNIQUE used not to compare
        ("item0000,,,x,category,Violence\nitem0001,,,x,category,Violence\n"
         "item0000,,,x,category,Hate Speech\n",
         r"lines 2 and 4: x labels category of item item0000 twice \('Violence', 'Hate Speech'\)"),
        ("item0000,model-a,en,x,harmfulness,unsafe\nitem0000,model-a,en,x,harmfulness,unsafe\n",
         r"lines 2 and 3: x labels harmfulness of item item0000 twice"),
    ],
)  # fmt: skip
def test_a_second_label_in_one_file_is_refused(tmp_path, rows, where):
    ws = populate(tmp_path / "ws", n_items=2, with_images=False)
    f = tmp_path / "labels.csv"
    f.write_text(HEADER + rows, encoding="utf-8")
    before = _count(ws)
    with pytest.raises(InputError, match=where):
        import_labels(ws, f)
    assert _count(ws) == before
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "-w", str(ws.path), "annotate", "import", str(f)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr and "twice" in done.stderr
    assert _count(ws) == before


def test_reimport_replaces_item_level_labels(tmp_path):
    ws = populate(tmp_path / "ws", n_items=2, with_images=False)
    f = tmp_path / "labels.csv"
    f.write_text(HEADER + "item0000,,,x,risk_label_correct,yes\n", encoding="utf-8")
    import_labels(ws, f)
    f.write_text(HEADER + "item0000,,,x,risk_label_correct,no\n", encoding="utf-8")
    import_labels(ws, f)
    got = ws.read_sql("SELECT label FROM annotations WHERE response_id IS NULL")
    assert got["label"].tolist() == ["no"]


def test_the_database_refuses_a_second_item_level_label(tmp_path):
    ws = populate(tmp_path / "ws", n_items=1, with_images=False)
    insert = (
        "INSERT INTO annotations (response_id, item_id, annotator, field, label)"
        " VALUES (NULL, 'item0000', 'x', 'category', ?)"
    )
    with ws.transaction() as con:
        con.execute(insert, ("A1",))
    with pytest.raises(integrity_errors(), match="annotations_unit"):
        with ws.transaction() as con:
            con.execute(insert, ("B2",))


def test_a_version_1_workspace_is_migrated_keeping_the_newest_label(tmp_path):
    path = tmp_path / "old"
    path.mkdir()
    con = sqlite3.connect(path / "safecal.sqlite")
    for statement in split_sql(MIGRATIONS[0]):
        con.execute(statement)
    con.execute("PRAGMA user_version = 1")
    con.executemany(
        "INSERT INTO annotations (response_id, item_id, annotator, field, label)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (None, "i1", "x", "category", "A1"),
            (None, "i1", "x", "category", "B2"),  # the newer of two contradictory labels
            (None, "i1", "y", "category", "A1"),
            ("r1", "i1", "x", "harmfulness", "unsafe"),
        ],
    )
    con.commit()
    con.close()
    ws = Workspace.open(path, create=False)
    assert ws.schema_version() == len(MIGRATIONS) >= 2
    got = ws.read_sql("SELECT annotator, field, label FROM annotations ORDER BY annotator, field")
    assert got.values.tolist() == [
        ["x", "category", "B2"],
        ["x", "harmfulness", "unsafe"],
        ["y", "category", "A1"],
    ]
