"""The Results page's "label these next" section and the Annotation page's rounds, under
Streamlit's AppTest on the filled example workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
from safecal.annotate.next_round import plan_next

DASH = Path(__file__).resolve().parents[2] / "dashboards"


def _page(name: str, ws) -> AppTest:
    at = AppTest.from_file(str(DASH / "app_pages" / f"{name}.py"), default_timeout=120)
    at.session_state["workspace"] = str(ws.path)
    return at.run()


def test_results_page_projects_and_records_the_next_round(filled_workspace):
    ws = filled_workspace
    at = _page("results", ws)
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "width after (next round)" in d.value.columns)
    plan = plan_next(ws, n=100, confidence=DEFAULT_CONFIDENCE)  # the page's default
    assert shown["stratum"].tolist() == plan.strata["stratum"].tolist()
    assert shown["width after (next round)"].to_numpy() == pytest.approx(
        plan.strata["width_proposed"].to_numpy()
    )
    at.text_input(key="next_sample_id").set_value("from-dashboard")
    at.button(key="next_draw").click().run()
    assert not at.exception
    assert "from-dashboard" in at.success[0].value
    drawn = ws.read_sql("SELECT COUNT(*) AS n FROM samples WHERE sample_id = 'from-dashboard'")
    assert abs(drawn["n"].iloc[0] - 100) <= 1  # systematic: 100 up to rounding
    annotation = _page("annotation", ws)
    assert not annotation.exception
    rounds = annotation.dataframe[-1].value
    assert rounds["sample_id"].tolist() == ["from-dashboard"]
    assert rounds["n_drawn"].iloc[0] == drawn["n"].iloc[0]
