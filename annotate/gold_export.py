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
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import samples as sample_rows

FORMATS = ("csv", "jsonl", "parquet")


def gold_table(ws: Workspace, *, sample_id: str | None = None) -> pd.DataFrame:
    """The gold set as a DataFrame (see the module docstring)."""
    gold = label_rows.gold_rows(ws)
    samples = sample_rows.sampled_responses(ws, sample_id=sample_id)
    how = "inner" if sample_id else "left"
    gold = gold.merge(samples, on="response_id", how=how)
    labels = label_rows.annotator_labels(ws)
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
