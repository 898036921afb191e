"""The curation page renders the table, the evidence and coverage (Streamlit AppTest)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.calibrate.curation.planted_fixture import build_workspace

PAGE = Path(__file__).resolve().parents[2] / "dashboards" / "app_pages" / "curation.py"


def test_page_shows_decisions_evidence_and_coverage(tmp_path):
    fx = build_workspace(tmp_path / "ws")
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.session_state["workspace"] = str(fx.ws.path)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"keep": "9", "review": "5", "drop": "4"}
    table = at.dataframe[0].value
    assert set(table["decision"]) == {"drop", "review"} and len(table) == 9
    # the evidence of the first flagged query, then coverage with its emptied cells
    assert at.selectbox(key="query").value == "o03_harmful"
    evidence = at.dataframe[1].value
    assert "risk_label_wrong" in set(evidence["name"])
    assert any("2 cells emptied" in w.value for w in at.warning)
    # a threshold changes the result: not comparing images drops the template copy too
    at.checkbox(key="compare_images").uncheck().run()
    assert {m.label: m.value for m in at.metric}["drop"] == "5"


def test_page_reports_a_missing_workspace(tmp_path):
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["workspace"] = str(tmp_path / "absent")
    at.run()
    assert not at.exception
    assert "no safecal workspace" in at.error[0].value
