"""The curation table: one row per query, keep / review / drop, with reasons and evidence.

Rule: ``drop`` if any signal is at drop severity, else ``review`` if any is at
review severity, else ``keep``; ``note`` signals are listed but decide nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.spreadsheet import table_to_csv

DECISIONS = ("keep", "review", "drop")
TABLE_COLUMNS = [
    "item_id",
    "decision",
    "reasons",
    "evidence",
    "notes",
    "suggested_aspect",
    "suggested_category",
    "suggested_modality",
    "duplicate_of",
    "aspect",
    "level1_category",
    "level2_category",
    "level3_category",
    "modality",
]

_SUGGESTION_COLUMN = {
    "risk_label_wrong": "suggested_aspect",
    "category_wrong": "suggested_category",
    "modality_contradicted": "suggested_modality",
    "near_duplicate": "duplicate_of",
}
_RANK = {"note": 0, "review": 1, "drop": 2}


def decide(items: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """The curation table from the items and the long signal table.

    ``reasons`` lists the review / drop signals as ``signal:severity`` joined by
    ``; ``; ``evidence`` their evidence in the same order (`` | ``-joined);
    ``notes`` the note-level evidence. ``suggested_*`` and ``duplicate_of`` carry
    the signals' suggestions.
    """
    base = items[
        ["item_id", "aspect", "level1_category", "level2_category", "level3_category", "modality"]
    ].copy()
    base["item_id"] = base["item_id"].astype("string")
    ordered = signals.assign(rank=signals["severity"].map(_RANK)).sort_values(
        ["item_id", "rank", "signal"], ascending=[True, False, True], kind="stable"
    )
    records: dict[str, dict[str, Any]] = {}
    for s in ordered.itertuples(index=False):  # plain Python: pandas per group is slow at 10^4
        record = records.setdefault(
            str(s.item_id),
            {
                "rank": 0,
                "reasons": [],
                "evidence": [],
                "notes": [],
                **{column: pd.NA for column in _SUGGESTION_COLUMN.values()},
            },
        )
        record["rank"] = max(int(record["rank"]), int(s.rank))
        if s.severity == "note":
            record["notes"].append(f"{s.signal}: {s.evidence}")
            continue
        record["reasons"].append(f"{s.signal}:{s.severity}")
        record["evidence"].append(str(s.evidence))
        column = _SUGGESTION_COLUMN.get(str(s.signal))
        if column and record[column] is pd.NA and not pd.isna(s.suggestion):
            record[column] = s.suggestion
    for record in records.values():
        record["decision"] = DECISIONS[int(record.pop("rank"))]
        record["reasons"] = "; ".join(record["reasons"])
        record["evidence"] = " | ".join(record["evidence"])
        record["notes"] = " | ".join(record["notes"])
    decided = pd.DataFrame.from_dict(records, orient="index")
    table = (
        base.merge(decided, left_on="item_id", right_index=True, how="left")
        if len(decided)
        else base.assign(**{c: pd.NA for c in TABLE_COLUMNS if c not in base})
    )
    table["decision"] = table["decision"].fillna("keep")
    for column in ("reasons", "evidence", "notes"):
        table[column] = table[column].fillna("")
    for column in TABLE_COLUMNS:
        if column not in table:
            table[column] = pd.NA
    return table[TABLE_COLUMNS].astype("string").sort_values("item_id").reset_index(drop=True)


def export_table(table: pd.DataFrame, path: str | Path, *, keep_formulas: bool = False) -> Path:
    """Write a table as CSV (``.csv``) or Parquet (``.parquet`` / ``.pq``), by extension.

    Query texts, evidence, categories and annotator names come from files and people: in a CSV,
    text cells a spreadsheet would run as formulas get a leading ``'`` unless ``keep_formulas``
    (:mod:`annotate.spreadsheet`); Parquet keeps the exact text."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(
            f"{path}: unknown export format {suffix or '(none)'!r}; name the file .csv or .parquet"
        )
    if path.parent and not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist; create it first")
    tmp = path.with_name(path.name + ".tmp")
    if suffix == ".csv":
        table_to_csv(table, tmp, keep_formulas=keep_formulas)
    else:
        table.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path
