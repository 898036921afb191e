"""The calibration page shows the probes stored for the inspected run."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from safecal.annotate import Workspace
from safecal.calibrate.judges.keyword import KeywordJudge
from safecal.calibrate.probes import run_probes, stored_results
from safecal.calibrate.runner import run_judge

DASH = Path(__file__).resolve().parents[2] / "dashboards"


def test_calibration_page_shows_the_probes_of_the_inspected_run(
    filled_workspace: Workspace,
) -> None:
    ws = filled_workspace
    judge = KeywordJudge()
    run_judge(ws, judge)
    run_id = judge.config.run_id()
    run_probes(ws, judge, run=run_id, probes=["refusal_prefix", "disclaimer"])
    at = AppTest.from_file(str(DASH / "app_pages" / "calibration.py"), default_timeout=120)
    at.session_state["workspace"] = str(ws.path)
    at.session_state["assume_random"] = True  # the fixture's gold was drawn by no sample
    at.run()
    assert not at.exception
    at.multiselect(key="runs").set_value([run_id]).run()
    assert not at.exception
    shown = [d.value for d in at.dataframe if "probe" in d.value.columns]
    assert len(shown) == 1
    table = shown[0]
    stored = stored_results(ws, run_id)
    assert set(table["probe"]) == {"refusal_prefix", "disclaimer"}
    overall = table[table["slice"] == "all"].set_index("probe")
    for name, res in stored.items():
        assert overall.loc[name, "n"] == res["n"] > 0
        assert overall.loc[name, "flip_rate"].startswith(f"{res['flip_rate']['value']:.3f}")
    # probe runs stay out of the run picker
    assert all("~" not in o for o in at.multiselect(key="runs").options)
