"""On the bundled example: the planted problems (planted.csv) are found.

The example's planted near-duplicates repeat an earlier item's text with a
one-character edit and carry the original's very image, as a query merged twice
from two sources does; the default settings (images compared) find them. Its
generic RIST / SIST texts recur over different images on purpose (a template, as in
USB-style benchmarks): those are noted, never flagged.
"""

from __future__ import annotations

import pandas as pd
import pytest

from safecal.annotate import build_gold, import_labels
from safecal.calibrate.curation import CurationThresholds, check_planted, curate_workspace
from safecal.calibrate.judging import import_verdicts

SIGNAL_FOR_PROBLEM = {
    "risk_label_wrong": "risk_label_wrong",
    "image_irrelevant": "image_irrelevant",
    "modality_wrong": "modality_contradicted",
    "category_wrong": "category_wrong",
    "near_duplicate": "near_duplicate",
}
ANSWER_SIGNALS = ("risk_label_wrong", "image_irrelevant", "modality_contradicted", "category_wrong")


@pytest.fixture
def labelled(example_workspace, example):
    """The example with its human labels, query-quality answers, judge verdicts and gold
    (majority), loaded through the annotation and judging stages' own importers."""
    import_labels(example_workspace, example.human_labels)
    import_labels(example_workspace, example.query_quality_labels)
    import_verdicts(example_workspace, example.judge_verdicts)
    build_gold(example_workspace)
    return example_workspace


def test_planted_problems_are_found(labelled, example):
    planted = pd.read_csv(example.planted, dtype=str)
    table = curate_workspace(labelled).table.set_index("item_id")
    for row in planted.itertuples(index=False):
        signal = SIGNAL_FOR_PROBLEM[row.problem]
        assert table.at[row.item_id, "decision"] != "keep", row
        assert signal in table.at[row.item_id, "reasons"], (row, table.loc[row.item_id].to_dict())
    # the copies point at the item they repeat
    for row in planted[planted["problem"] == "near_duplicate"].itertuples(index=False):
        original = row.detail.split()[-1]
        assert original in table.at[row.item_id, "evidence"]


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


def test_check_planted_reports_found_and_noted(labelled, example):
    check = check_planted(curate_workspace(labelled), example.planted).set_index("item_id")
    planted = pd.read_csv(example.planted, dtype=str)
    dups = planted.loc[planted["problem"] == "near_duplicate", "item_id"]
    others = planted.loc[planted["problem"] != "near_duplicate", "item_id"]
    assert check.loc[others, "found"].all() and check.loc[dups, "found"].all()
    # comparing texts alone also finds them (and more: the templates over other images)
    text_only = curate_workspace(labelled, thresholds=CurationThresholds(compare_images=False))
    assert check_planted(text_only, example.planted)["found"].all()
    assert (text_only.table["decision"] != "keep").sum() > (
        curate_workspace(labelled).table["decision"] != "keep"
    ).sum()
