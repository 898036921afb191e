"""A reviewer's decision recorded from outside Label Studio becomes gold, and stays."""

from __future__ import annotations

import pytest

from safecal.annotate import InputError, build_gold
from safecal.annotate.review_decisions import record_decision


def _split_unit(ws):
    r = ws.read_sql(
        "SELECT r.response_id, r.item_id FROM responses r JOIN items i "
        "USING (item_id) WHERE i.aspect = 'vulnerability' LIMIT 1"
    ).iloc[0]
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO annotations (item_id, response_id, annotator, field, "
            "label) VALUES (?, ?, ?, 'harmfulness', ?)",
            [
                (r.item_id, r.response_id, "a", "unsafe"),
                (r.item_id, r.response_id, "b", "safe_with_warning"),
            ],
        )
    build_gold(ws)  # a tie: goes to review
    return r.response_id


def test_decision_is_gold_with_who_and_when_and_survives_build_gold(example_workspace):
    ws = example_workspace
    rid = _split_unit(ws)
    assert ws.read_sql("SELECT COUNT(*) AS n FROM gold")["n"][0] == 0
    when = record_decision(ws, rid, "harmfulness", "unsafe", reviewer=" carol ")
    gold = ws.read_sql("SELECT label, method, adjudicator, decided_at FROM gold")
    assert gold.values.tolist() == [["unsafe", "adjudicated", "carol", when]]
    build_gold(ws)
    again = ws.read_sql("SELECT label, method, adjudicator FROM gold")
    assert again.values.tolist() == [["unsafe", "adjudicated", "carol"]]
    assert ws.read_sql("SELECT COUNT(*) AS n FROM reviews WHERE label IS NULL")["n"][0] == 0


@pytest.mark.parametrize(
    ("field", "label", "reviewer", "message"),
    [
        ("harmfulness", "full_refusal", "carol", "is not a harmfulness label"),
        ("risk_label_correct", "yes", "carol", "reviewers decide"),
        ("harmfulness", "unsafe", "  ", "reviewer's name"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(
    example_workspace, field, label, reviewer, message
):
    ws = example_workspace
    rid = _split_unit(ws)
    with pytest.raises(InputError, match=message):
        record_decision(ws, rid, field, label, reviewer=reviewer)
    with pytest.raises(InputError, match="no response"):
        record_decision(ws, "nope", "harmfulness", "unsafe", reviewer="carol")
    assert ws.read_sql("SELECT COUNT(*) AS n FROM gold")["n"][0] == 0
    assert ws.read_sql("SELECT COUNT(*) AS n FROM reviews WHERE label IS NOT NULL")["n"][0] == 0
