"""Write the gold set: one row per (response, field), the annotators' labels beside it.

Columns: response_id, item_id, model, language, aspect, field, gold label, method,
adjudicator, decided_at, soft (JSON), the sample's stratum and inclusion probability
and role (when the response was sampled), n_annotators, then one ``label:<annotator>``
column per annotator (empty where that annotator did not label the response).
Format by ``fmt`` or the file's extension: ``.csv``, ``.jsonl``, ``.parquet``. Model and
annotator names and labels are text from people and files, so a CSV's text cells that a
spreadsheet would run as formulas get a leading ``'`` (:mod:`annotate.spreadsheet`) unless
``keep_formulas``; JSONL and Parquet always hold the exact text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.spreadsheet import table_to_csv
from safecal.annotate.store import Workspace

FORMATS = ("csv", "jsonl", "parquet")


def gold_table(ws: Workspace, *, sample_id: str | None = None) -> pd.DataFrame:
    """The gold set as a DataFrame (see the module docstring)."""
    gold = ws.read_sql(
        """SELECT g.response_id, r.item_id, r.model, r.language, i.aspect, g.field,
                  g.label AS gold, g.method, g.adjudicator, g.decided_at, g.soft
           FROM gold g JOIN responses r USING (response_id) JOIN items i USING (item_id)
           ORDER BY g.field, g.response_id"""
    )
    samples = ws.read_sql(
        "SELECT response_id, stratum, inclusion_prob, role FROM samples"
        + (" WHERE sample_id = ?" if sample_id else "")
        + " GROUP BY response_id",
        (sample_id,) if sample_id else (),
    )
    how = "inner" if sample_id else "left"
    gold = gold.merge(samples, on="response_id", how=how)
    labels = ws.read_sql(
        "SELECT response_id, field, annotator, label FROM annotations WHERE response_id IS NOT NULL"
    )
    if len(labels):
        wide = labels.pivot_table(
            index=["response_id", "field"], columns="annotator", values="label", aggfunc="first"
        )
        wide.columns = [f"label:{c}" for c in wide.columns]
        counts = labels.groupby(["response_id", "field"]).size().rename("n_annotators")
        gold = gold.merge(counts.reset_index(), on=["response_id", "field"], how="left")
        gold = gold.merge(wide.reset_index(), on=["response_id", "field"], how="left")
    else:
        gold["n_annotators"] = 0
    gold["n_annotators"] = gold["n_annotators"].fillna(0).astype(int)
    return gold


def export_gold(
    ws: Workspace,
    path: str | Path,
    *,
    fmt: str | None = None,
    sample_id: str | None = None,
    keep_formulas: bool = False,
) -> pd.DataFrame:
    """Write :func:`gold_table` to ``path``; returns the table (exact, as in the workspace).

    A CSV's formula-like text cells are neutralised unless ``keep_formulas`` (see
    :func:`annotate.spreadsheet.neutralise_formulas`)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InputError(
            f"{path}: unknown export format {fmt!r}; use --format "
            f"{' / '.join(FORMATS)} or a .csv / .jsonl / .parquet name"
        )
    table = gold_table(ws, sample_id=sample_id)
    if table.empty:
        raise InputError("the gold set is empty; run `safecal annotate gold` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        table_to_csv(table, path, keep_formulas=keep_formulas)
    elif fmt == "jsonl":
        table.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        table.to_parquet(path, index=False)
    return table
