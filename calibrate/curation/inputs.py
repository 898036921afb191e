"""The tables curation reads, as plain DataFrames (from a workspace or built by hand).

Curation sits downstream of annotation (query-quality answers, response labels,
gold labels) and judging (verdicts). :func:`load_inputs` reads them from a
workspace; tests and users with their own files can build
:class:`CurationInputs` directly: every signal is a function of these frames only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from safecal.annotate.store import Workspace
from safecal.annotate.store import catalog as store_catalog
from safecal.annotate.store import curation as store_curation

#: item-level (query-quality) answer fields, as the query-quality labeling task writes them.
QUERY_QUALITY_FIELDS = (
    "risk_label_correct",
    "cross_modal",
    "image_relevant",
    "category_correct",
    "category",
    "note",
)

ITEM_COLUMNS = [
    "item_id",
    "text",
    "text_zh",
    "image",
    "aspect",
    "level1_category",
    "level2_category",
    "level3_category",
    "img_risk",
    "text_risk",
    "modality",
]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


@dataclass(frozen=True)
class CurationInputs:
    """Everything the curation signals look at.

    * ``items``: ``item_id, text, text_zh, image, aspect, level1_category,
      level2_category, level3_category, img_risk, text_risk, modality``
    * ``item_answers``: query-quality answers, ``item_id, annotator, field, label``
    * ``response_labels``: human response labels, ``response_id, item_id, model,
      language, annotator, field, label``
    * ``gold``: ``response_id, item_id, model, language, field, label, method``
    * ``verdicts``: ``run_id, judge, started_at, response_id, item_id, model,
      language, field, label, valid, score``
    * ``images_dir``: where ``items.image`` paths resolve (None: images not compared)
    """

    items: pd.DataFrame
    item_answers: pd.DataFrame = field(
        default_factory=lambda: _empty(["item_id", "annotator", "field", "label"])
    )
    response_labels: pd.DataFrame = field(
        default_factory=lambda: _empty(
            ["response_id", "item_id", "model", "language", "annotator", "field", "label"]
        )
    )
    gold: pd.DataFrame = field(
        default_factory=lambda: _empty(
            ["response_id", "item_id", "model", "language", "field", "label", "method"]
        )
    )
    verdicts: pd.DataFrame = field(
        default_factory=lambda: _empty(
            [
                "run_id",
                "judge",
                "started_at",
                "response_id",
                "item_id",
                "model",
                "language",
                "field",
                "label",
                "valid",
                "score",
            ]
        )
    )
    images_dir: Path | None = None


def load_inputs(ws: Workspace) -> CurationInputs:
    """Read the curation inputs from a workspace (read-only)."""
    items = store_catalog.items(ws, columns=ITEM_COLUMNS)
    item_answers = store_curation.query_quality_answers(ws)
    response_labels = store_curation.response_labels(ws)
    gold = store_curation.gold_labels(ws)
    verdicts = store_curation.verdicts(ws)
    return CurationInputs(
        items=items,
        item_answers=item_answers,
        response_labels=response_labels,
        gold=gold,
        verdicts=verdicts,
        images_dir=ws.images_dir,
    )
