"""Issue 13: CSV exports neutralise cells a spreadsheet would run as formulas
(annotate/spreadsheet.py), text only, and the gold export applies it (or not, on request)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from safecal.annotate import build_gold, import_labels
from safecal.annotate.gold_export import export_gold
from safecal.annotate.review_decisions import record_decision
from safecal.annotate.spreadsheet import FORMULA_STARTS, neutralise_formulas, table_to_csv
from safecal.calibrate.monitoring import adjudication_queue
from safecal.cli import main

HOSTILE_MODEL = '=HYPERLINK("http://127.0.0.1:9/","click")'
HOSTILE_ANNOTATOR = "@SUM(1+1)"
HOSTILE_REVIEWER = "-2+3"


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_gets_a_quote(start):
    table = pd.DataFrame({"text": [f"{start}cmd", f"a{start}b", ""]})
    assert neutralise_formulas(table)["text"].tolist() == [f"'{start}cmd", f"a{start}b", ""]


def test_only_text_cells_and_names_change_and_the_input_stays():
    table = pd.DataFrame(
        {
            "score": [-0.5, 1.0, np.nan],  # numbers, even negative ones, are numbers
            "count": [-3, 0, 2],
            "text": ["-0.5", "+1 call me", None],  # "-0.5" here is text from a file
            "string": pd.array(["@x", pd.NA, "ok"], dtype="string"),
            "mixed": ["=1+1", 7, None],
            "category": pd.Categorical(["=c", "d", "=c"]),
            "=name": ["x", "y", "z"],
        }
    )
    before = table.copy()
    out = neutralise_formulas(table)
    pd.testing.assert_frame_equal(table, before)  # not changed in place
    assert list(out.columns) == [*table.columns[:-1], "'=name"]
    pd.testing.assert_series_equal(out["score"], table["score"])
    pd.testing.assert_series_equal(out["count"], table["count"])
    assert out["text"].tolist()[:2] == ["'-0.5", "'+1 call me"] and pd.isna(out["text"].iloc[2])
    assert out["string"].dtype == table["string"].dtype
    assert out["string"].tolist()[::2] == ["'@x", "ok"] and pd.isna(out["string"].iloc[1])
    assert out["mixed"].tolist() == ["'=1+1", 7, None]
    assert out["category"].tolist() == ["'=c", "d", "'=c"]

    back = pd.read_csv(io.StringIO(table_to_csv(table)))
    assert back["score"].iloc[0] == -0.5 and back["count"].tolist() == [-3, 0, 2]
    assert back["text"].iloc[0] == "'-0.5"
    exact = pd.read_csv(io.StringIO(table_to_csv(table, keep_formulas=True)), dtype=str)
    assert exact["mixed"].iloc[0] == "=1+1" and "=name" in exact.columns


@pytest.fixture
def hostile_gold(example_workspace, example):
    """The example's labels with a formula as a model's, an annotator's and a reviewer's
    name; gold built, one unit adjudicated by the reviewer."""
    ws = example_workspace
    import_labels(ws, example.human_labels)
    with ws.transaction() as con:
        con.execute("UPDATE responses SET model = ? WHERE model = 'aurora-vl-7b'", (HOSTILE_MODEL,))
        con.execute(
            "UPDATE annotations SET annotator = ? WHERE annotator = ?",
            (HOSTILE_ANNOTATOR, "ann_a@safecal.local"),
        )
    build_gold(ws)
    unit = adjudication_queue(ws).iloc[0]
    record_decision(ws, unit["response_id"], unit["field"], "unsafe", reviewer=HOSTILE_REVIEWER)
    return ws


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_gold_export_neutralises_csv_unless_told_and_keeps_jsonl_parquet_exact(
    hostile_gold, tmp_path
):
    ws = hostile_gold
    table = export_gold(ws, tmp_path / "gold.csv")
    assert HOSTILE_MODEL in set(table["model"])  # the returned table is the exact data
    csv = _read(tmp_path / "gold.csv")
    assert "'" + HOSTILE_MODEL in set(csv["model"]) and HOSTILE_MODEL not in set(csv["model"])
    assert "'" + HOSTILE_REVIEWER in set(csv["adjudicator"])
    assert f"label:{HOSTILE_ANNOTATOR}" in csv.columns  # not at a cell's start: unchanged
    # numbers stay numbers: inclusion probabilities and counts are not quoted
    assert not csv["n_annotators"].str.startswith("'").any()

    export_gold(ws, tmp_path / "raw.csv", keep_formulas=True)
    raw = _read(tmp_path / "raw.csv")
    assert HOSTILE_MODEL in set(raw["model"]) and HOSTILE_REVIEWER in set(raw["adjudicator"])

    export_gold(ws, tmp_path / "gold.jsonl")
    export_gold(ws, tmp_path / "gold.parquet")
    jsonl = pd.read_json(tmp_path / "gold.jsonl", lines=True)
    for back in (jsonl, pd.read_parquet(tmp_path / "gold.parquet")):
        assert HOSTILE_MODEL in set(back["model"]) and HOSTILE_REVIEWER in set(back["adjudicator"])


def test_gold_export_command_line_flag(hostile_gold, tmp_path):
    ws = str(hostile_gold.path)
    assert main(["annotate", "export", str(tmp_path / "g.csv"), "-w", ws]) == 0
    assert "'" + HOSTILE_MODEL in set(_read(tmp_path / "g.csv")["model"])
    assert main(["annotate", "export", str(tmp_path / "k.csv"), "-w", ws, "--keep-formulas"]) == 0
    assert HOSTILE_MODEL in set(_read(tmp_path / "k.csv")["model"])
