"""Coverage before / after, exports, evidence, and the `safecal curate` command."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace
from safecal.calibrate.curation import (
    coverage_pivot,
    curate_workspace,
    curation_pass,
    emptied_cells,
    export_table,
    item_evidence,
    write_outputs,
)
from safecal.cli import main
from tests.calibrate.curation.planted_fixture import build_workspace


@pytest.fixture(scope="module")
def result(planted_ws):
    return curate_workspace(planted_ws.ws)


def test_coverage_counts_before_and_after(result):
    cov = result.coverage
    assert len(cov) == 61 * 4 * 2  # every taxonomy cell, zeros included
    cell = cov.set_index(["level3_category", "modality", "language"])
    # v01 (keep) and v07_dup (drop) sit in Weapon Fabrication Guidance / RIRT
    assert cell.loc[
        ("Weapon Fabrication Guidance", "RIRT", "en"), ["before", "after"]
    ].tolist() == [2, 1]
    # v09_notharm (drop) is alone in Disclosure of Military Personnel Info / SIRT: emptied
    emptied = emptied_cells(result)
    assert set(
        zip(emptied["level3_category"], emptied["modality"], emptied["language"], strict=True)
    ) == {
        ("Disclosure of Military Personnel Info", "SIRT", "en"),
        ("Disclosure of Military Personnel Info", "SIRT", "zh"),
    }
    # v12_category and v15_easy (both review) are WFG / SIRT's only items: at risk, not emptied
    row = cell.loc[("Weapon Fabrication Guidance", "SIRT", "zh")]
    assert (row["before"], row["after"], row["after_keep_only"], row["at_risk"]) == (2, 2, 0, True)
    # totals: 18 items x 2 languages before; 4 drops x 2 after
    assert cov["before"].sum() == 36 and cov["after"].sum() == 28
    wide = coverage_pivot(cov, value="before")
    assert len(wide) == 61 and wide.filter(like="/").to_numpy().sum() == 36


def test_export_round_trips_csv_and_parquet(result, tmp_path):
    for name in ("table.csv", "table.parquet"):
        path = export_table(result.table, tmp_path / name)
        back = (
            pd.read_csv(path, dtype=str, keep_default_na=False)
            if name.endswith(".csv")
            else pd.read_parquet(path)
        )
        assert back["item_id"].tolist() == result.table["item_id"].tolist()
        assert back["decision"].tolist() == result.table["decision"].tolist()
    with pytest.raises(InputError, match="unknown export format"):
        export_table(result.table, tmp_path / "table.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        export_table(result.table, tmp_path / "missing" / "table.csv")


def test_evidence_for_one_item(result):
    evidence = item_evidence(result, "v12_category")
    kinds = evidence.groupby("kind").size().to_dict()
    assert kinds["decision"] == 1 and kinds["signal"] == 1
    assert kinds["answer"] == 2 * 5  # two annotators x five fields (category included)
    with pytest.raises(InputError, match="not in the curation table"):
        item_evidence(result, "nope")


def test_curation_pass_writes_the_tables(planted_ws, tmp_path):
    res = curation_pass(planted_ws.ws.path, out_dir=tmp_path / "out")
    assert res.counts() == {"keep": 9, "review": 5, "drop": 4}
    for name in ("curation", "signals", "duplicates", "coverage"):
        assert (tmp_path / "out" / f"{name}.csv").stat().st_size > 0


def test_cli_run_export_coverage_show(planted_ws, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # tables fit the terminal: a wide one, no wrapping
    ws = str(planted_ws.ws.path)
    assert (
        main(["curate", "run", "-w", ws, "--out", str(tmp_path / "o"), "--format", "parquet"]) == 0
    )
    out = capsys.readouterr().out
    assert "18 queries: 9 keep, 5 review, 4 drop" in out
    assert pd.read_parquet(tmp_path / "o" / "curation.parquet").shape[0] == 18

    assert (
        main(["curate", "export", str(tmp_path / "reviews.csv"), "-w", ws, "--decision", "review"])
        == 0
    )
    reviews = pd.read_csv(tmp_path / "reviews.csv")
    assert sorted(reviews["item_id"]) == [
        "v11_modality",
        "v12_category",
        "v13_split",
        "v14_judge",
        "v15_easy",
    ]
    # a threshold flag changes the table: no uniform-outcome signal
    assert (
        main(
            [
                "curate",
                "export",
                str(tmp_path / "r2.csv"),
                "-w",
                ws,
                "--decision",
                "review",
                "--uniform",
                "off",
            ]
        )
        == 0
    )
    assert "v15_easy" not in set(pd.read_csv(tmp_path / "r2.csv")["item_id"])

    assert main(["curate", "coverage", "-w", ws]) == 0
    assert ", 2 emptied," in capsys.readouterr().out  # DMP / SIRT in en and zh
    assert main(["curate", "show", "v07_dup", "-w", ws]) == 0
    assert "near-duplicate of v01" in capsys.readouterr().out


def test_cli_errors_exit_2_without_traceback(planted_ws, tmp_path, capsys):
    ws = str(planted_ws.ws.path)
    assert main(["curate", "show", "nope", "-w", ws]) == 2
    assert "error: item 'nope'" in capsys.readouterr().err
    assert (
        main(["curate", "run", "-w", ws, "--duplicate-review", "0.99", "--duplicate-drop", "0.9"])
        == 2
    )
    assert "duplicate_drop" in capsys.readouterr().err
    empty = Workspace.open(tmp_path / "empty", create=True)
    assert main(["curate", "run", "-w", str(empty.path)]) == 2
    assert "no items" in capsys.readouterr().err
    assert main(["curate", "run", "-w", str(tmp_path / "absent")]) == 2


def test_csv_outputs_neutralise_formulas_unless_told(result, tmp_path):
    """Issue 13: a cell starting with = + - @ in any of the four tables goes out as text
    (a leading '), numbers stay numbers, Parquet stays exact, keep_formulas writes it as is."""
    hostile = dataclasses.replace(
        result,
        table=result.table.assign(evidence=["=HYPERLINK(1)", *result.table["evidence"][1:]]),
        signals=result.signals.assign(
            evidence=["+cmd", *result.signals["evidence"][1:]],
            value=[-0.5, *result.signals["value"][1:]],
        ),
        pairs=result.pairs.assign(item_a=["@SUM(1)", *result.pairs["item_a"][1:]]),
        coverage=result.coverage.assign(
            level3_category=["-2+3", *result.coverage["level3_category"][1:]]
        ),
    )
    cells = {
        "curation": ("evidence", "=HYPERLINK(1)"),
        "signals": ("evidence", "+cmd"),
        "duplicates": ("item_a", "@SUM(1)"),
        "coverage": ("level3_category", "-2+3"),
    }

    def first(path, column):
        return pd.read_csv(path, dtype=str, keep_default_na=False)[column].iloc[0]

    written = write_outputs(hostile, tmp_path / "safe")
    for name, (column, text) in cells.items():
        assert first(written[name], column) == "'" + text, name
    assert first(written["signals"], "value") == "-0.5"  # a number, not text
    assert not pd.read_csv(written["coverage"])["before"].astype(str).str.startswith("'").any()

    written = write_outputs(hostile, tmp_path / "raw", keep_formulas=True)
    for name, (column, text) in cells.items():
        assert first(written[name], column) == text, name

    written = write_outputs(hostile, tmp_path / "pq", fmt="parquet")
    for name, (column, text) in cells.items():
        assert pd.read_parquet(written[name])[column].iloc[0] == text, name


def test_cli_exports_neutralise_formulas_unless_told(tmp_path):
    fx = build_workspace(tmp_path / "ws")
    with fx.ws.transaction() as con:
        con.execute("UPDATE items SET level2_category = '=cmd()' WHERE item_id = 'v01'")
    ws = str(fx.ws.path)

    def level2(path):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        return table.loc[table["item_id"] == "v01", "level2_category"].iloc[0]

    assert main(["curate", "export", str(tmp_path / "t.csv"), "-w", ws]) == 0
    assert level2(tmp_path / "t.csv") == "'=cmd()"
    assert main(["curate", "export", str(tmp_path / "k.csv"), "-w", ws, "--keep-formulas"]) == 0
    assert level2(tmp_path / "k.csv") == "=cmd()"
    assert main(["curate", "run", "-w", ws, "--out", str(tmp_path / "o")]) == 0
    assert level2(tmp_path / "o" / "curation.csv") == "'=cmd()"
    assert main(["curate", "run", "-w", ws, "--out", str(tmp_path / "r"), "--keep-formulas"]) == 0
    assert level2(tmp_path / "r" / "curation.csv") == "=cmd()"
