"""On the bundled example: the planted problems (planted.csv) are found.

The example's planted near-duplicates repeat an earlier item's text with a
small edit but are drawn with a new image (another category's), so with images
compared they read as one text template over two images, which USB-style
benchmarks do on purpose; text-only mode (``compare_images=False``) finds them.
The example also repeats its over-refusal probes with the same text and the same
typographic image: those are real duplicates that curation reports.
"""

from __future__ import annotations

import pandas as pd
import pytest

from calibrate.curation import CurationThresholds, curate_workspace
from tests.calibrate.curation.example_labels import load_example_labels

SIGNAL_FOR_PROBLEM = {"risk_label_wrong": "risk_label_wrong",
                      "image_irrelevant": "image_irrelevant",
                      "modality_wrong": "modality_contradicted",
                      "category_wrong": "category_wrong",
                      "near_duplicate": "near_duplicate"}
ANSWER_SIGNALS = ("risk_label_wrong", "image_irrelevant", "modality_contradicted",
                  "category_wrong")


@pytest.fixture
def labelled(example_workspace, example):
    load_example_labels(example_workspace, example)
    return example_workspace


def test_planted_problems_are_found(labelled, example):
    planted = pd.read_csv(example.planted, dtype=str)
    table = curate_workspace(labelled).table.set_index("item_id")
    text_only = curate_workspace(
        labelled, thresholds=CurationThresholds(compare_images=False)).table.set_index("item_id")
    for row in planted.itertuples(index=False):
        signal = SIGNAL_FOR_PROBLEM[row.problem]
        found = text_only if row.problem == "near_duplicate" else table
        assert found.at[row.item_id, "decision"] != "keep", row
        assert signal in found.at[row.item_id, "reasons"], (row, found.loc[row.item_id].to_dict())
    # the copies point at the item they repeat
    for row in planted[planted["problem"] == "near_duplicate"].itertuples(index=False):
        original = row.detail.split()[-1]
        assert original in text_only.at[row.item_id, "evidence"]


def test_clean_items_are_not_flagged_by_annotator_answers(labelled, example):
    planted = set(pd.read_csv(example.planted, dtype=str)["item_id"])
    result = curate_workspace(labelled)
    acting = result.signals[result.signals["severity"] != "note"]
    clean = acting[~acting["item_id"].isin(planted)]
    # one annotator's occasional slip (3% per answer) flags nothing by default
    assert not clean["signal"].isin(ANSWER_SIGNALS).any(), clean
    # every other drop is a same text with the same image (difference hash within 8 bits)
    drops = clean[clean["severity"] == "drop"]
    assert set(drops["signal"]) <= {"near_duplicate"}
    items = result.inputs.items.set_index("item_id")
    pairs = result.pairs[result.pairs["same_image"]]
    for item_id in drops["item_id"]:
        mine = pairs[(pairs["item_a"] == item_id) | (pairs["item_b"] == item_id)]
        assert len(mine)
        for a, b, dist in mine[["item_a", "item_b", "image_distance"]].itertuples(index=False):
            assert items.at[a, "text"] == items.at[b, "text"] and dist <= 8
