"""Coverage: items per cell of category x modality combination x language, before and after.

USB-SafeBench's unit of coverage is the 61 level-3 categories x 4 modality
combinations (244 cells); with English and Chinese that is 488 cells. An item
counts in a language when it has a text in it (``text`` / ``text_zh``).
"""

from __future__ import annotations

import pandas as pd

from safecal.annotate.labels import LANGUAGES, MODALITIES
from safecal.annotate.taxonomy import Taxonomy, load_taxonomy

COVERAGE_COLUMNS = [
    "level1_category",
    "level2_category",
    "level3_category",
    "modality",
    "language",
    "before",
    "after",
    "after_keep_only",
    "emptied",
    "at_risk",
]


def coverage(
    items: pd.DataFrame,
    table: pd.DataFrame,
    *,
    taxonomy: Taxonomy | None = None,
    aspect: str | None = None,
) -> pd.DataFrame:
    """Items per (level-3 category, modality, language) cell before and after curation.

    * ``before``: every item; ``after``: items not dropped; ``after_keep_only``:
      items kept outright (as if every review ended in a drop).
    * ``emptied``: ``before > 0`` and ``after == 0``; ``at_risk``: ``after > 0``
      but ``after_keep_only == 0`` (the cell survives only if its reviews pass).

    Every cell of the taxonomy is listed (zeros included); categories found in
    the items but not in the taxonomy are added at the end. ``aspect`` restricts
    to ``vulnerability`` or ``overrefusal`` items.
    """
    taxonomy = taxonomy or load_taxonomy()
    decision = table.set_index("item_id")["decision"]
    data = items if aspect is None else items[items["aspect"] == aspect]
    long = []
    for language, column in zip(LANGUAGES, ("text", "text_zh"), strict=True):
        has = data[column].fillna("").astype(str).str.strip() != ""
        part = data.loc[
            has, ["item_id", "level1_category", "level2_category", "level3_category", "modality"]
        ].copy()
        part["language"] = language
        long.append(part)
    counted = pd.concat(long, ignore_index=True)
    counted["decision"] = counted["item_id"].astype(str).map(decision).fillna("keep")
    counted["after"] = (counted["decision"] != "drop").astype(int)
    counted["after_keep_only"] = (counted["decision"] == "keep").astype(int)
    counted["before"] = 1
    keys = ["level3_category", "modality", "language"]
    sums = counted.groupby(keys)[["before", "after", "after_keep_only"]].sum()

    cats = taxonomy.table[["level1_category", "level2_category", "level3_category"]]
    extra = counted[["level1_category", "level2_category", "level3_category"]].drop_duplicates(
        "level3_category"
    )
    extra = extra[~extra["level3_category"].isin(cats["level3_category"])]
    cats = pd.concat([cats, extra], ignore_index=True).fillna("")
    grid = cats.merge(pd.DataFrame({"modality": list(MODALITIES)}), how="cross").merge(
        pd.DataFrame({"language": list(LANGUAGES)}), how="cross"
    )
    out = grid.merge(sums, left_on=keys, right_index=True, how="left")
    for column in ("before", "after", "after_keep_only"):
        out[column] = out[column].fillna(0).astype("int64")
    out["emptied"] = (out["before"] > 0) & (out["after"] == 0)
    out["at_risk"] = (out["after"] > 0) & (out["after_keep_only"] == 0)
    return out[COVERAGE_COLUMNS].reset_index(drop=True)


def coverage_pivot(cov: pd.DataFrame, *, value: str = "after") -> pd.DataFrame:
    """Wide view: one row per level-3 category, one column per ``modality/language``."""
    wide = cov.pivot_table(
        index=["level1_category", "level3_category"],
        columns=["modality", "language"],
        values=value,
        aggfunc="sum",
        fill_value=0,
        sort=False,
    )
    wide.columns = [f"{m}/{lang}" for m, lang in wide.columns]
    return wide.reset_index()
