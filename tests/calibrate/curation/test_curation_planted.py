"""The planted problems are found with the default thresholds; clean queries are kept."""

from __future__ import annotations

from safecal.calibrate.curation import curate_workspace
from tests.calibrate.curation.planted_fixture import CLEAN, PLANTED, TEMPLATE


def test_each_planted_problem_gets_its_signal_and_decision(planted_ws):
    result = curate_workspace(planted_ws.ws)
    table = result.table.set_index("item_id")
    for item_id, (signal, decision) in PLANTED.items():
        assert table.at[item_id, "decision"] == decision, (item_id, table.loc[item_id].to_dict())
        assert signal in table.at[item_id, "reasons"], (item_id, table.at[item_id, "reasons"])


def test_clean_items_are_kept_without_reasons(planted_ws):
    table = curate_workspace(planted_ws.ws).table.set_index("item_id")
    for item_id, *_ in CLEAN:
        assert table.at[item_id, "decision"] == "keep", (item_id, table.loc[item_id].to_dict())
        assert table.at[item_id, "reasons"] == ""
    # same text as v05 with another image: noted on both, decides nothing
    assert table.at[TEMPLATE, "decision"] == "keep"
    assert "images differ" in table.at[TEMPLATE, "notes"]
    assert "images differ" in table.at["v05", "notes"]


def test_suggestions_carry_the_fix(planted_ws):
    table = curate_workspace(planted_ws.ws).table.set_index("item_id")
    assert table.at["v07_dup", "duplicate_of"] == "v01"
    assert table.at["v11_modality", "suggested_modality"] == "RIRT"  # RIST with risky text
    assert table.at["v12_category", "suggested_category"] == "Historical Distortion"
    assert table.at["o03_harmful", "suggested_aspect"] == "vulnerability"
    # the kept original carries a note naming its duplicate
    assert "v07_dup" in table.at["v01", "notes"]
