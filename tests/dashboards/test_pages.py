"""Every dashboard page under Streamlit's AppTest, on the bundled example filled through the
annotate / calibrate functions (tests/dashboards/conftest.py). The numbers shown are
checked against independent computations (scikit-learn, SQL counts)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score
from streamlit.testing.v1 import AppTest

from safecal.annotate import Workspace
from safecal.calibrate import agreement, benchmark_cells, corrected_rate
from safecal.calibrate.monitoring import adjudication_queue
from safecal.calibrate.slices import MEAN_OF_CELLS, POOLED
from safecal.calibrate.tables import annotations_table, judge_table
from safecal.dashboards.text import md_literal

DASH = Path(__file__).resolve().parents[2] / "dashboards"
PAGES = ("annotation", "review", "calibration", "results", "curation")
TITLES = ("Annotation", "Review", "Judge calibration", "Results", "Curation")
JUDGE = "example-vlm-judge"
#: the example's first simulated annotator
ANN_A = "ann_a@safecal.local"


def page(name: str, ws: Workspace, *, assume_random: bool = False) -> AppTest:
    """The page on ``ws``; ``assume_random``: the sidebar's "count gold from no sample as
    a random sample" box ticked (the filled workspace's gold comes from no sample)."""
    at = AppTest.from_file(str(DASH / "app_pages" / f"{name}.py"), default_timeout=120)
    at.session_state["workspace"] = str(ws.path)
    at.session_state["assume_random"] = assume_random
    return at.run()


def count(ws: Workspace, sql: str) -> int:
    return int(ws.read_sql(sql).iloc[0, 0])


def test_app_navigates_every_page(filled_workspace):
    at = AppTest.from_file(str(DASH / "app.py"), default_timeout=120)
    at.session_state["workspace"] = str(filled_workspace.path)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Annotation"  # the default page
    for name, title in zip(PAGES[1:], TITLES[1:], strict=True):
        at.switch_page(f"app_pages/{name}.py").run()
        assert not at.exception, (name, at.exception)
        assert at.title[0].value == title


def test_annotation_page_progress_agreement_queue(filled_workspace):
    ws = filled_workspace
    at = page("annotation", ws)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["labels"] == str(count(ws, "SELECT COUNT(*) FROM annotations"))
    assert metrics["annotators"] == str(
        count(ws, "SELECT COUNT(DISTINCT annotator) FROM annotations")
    )
    pending = count(ws, "SELECT COUNT(*) FROM reviews WHERE label IS NULL")
    assert pending > 0 and metrics["awaiting adjudication"] == str(pending)
    progress, honeypots, agree, queue = (d.value for d in at.dataframe)
    # done per annotator and task = distinct labeled units (SQL), lead times from the file
    done = ws.read_sql(
        "SELECT annotator, field AS task, COUNT(DISTINCT response_id) AS n "
        "FROM annotations GROUP BY annotator, field"
    )
    merged = progress.merge(done, on=["annotator", "task"])
    assert len(merged) == len(done) and (merged["done"] == merged["n"]).all()
    med = ws.read_sql(
        "SELECT lead_time FROM annotations WHERE annotator = ? AND field = 'harmfulness'", (ANN_A,)
    )["lead_time"].median()
    row = progress[(progress["annotator"] == ANN_A) & (progress["task"] == "harmfulness")]
    assert row["median_seconds"].iloc[0] == pytest.approx(med)
    assert set(honeypots["annotator"]) <= set(progress["annotator"]) and len(honeypots)
    # the overall agreement row shows calibrate.agreement's value and interval
    r = agreement(annotations_table(ws, field="harmfulness"), level="ordinal", n_boot=500, seed=0)
    a = r.krippendorff_alpha
    assert agree.iloc[0]["krippendorff_alpha"] == f"{a.value:.3f} [{a.ci[0]:.3f}, {a.ci[1]:.3f}]"
    # the pooled row is named like every other pooled row (it was "all")
    assert set(agree["language"]) == {POOLED, "en", "zh"}
    assert len(queue) == pending
    # another slice column changes the table
    at.selectbox(key="agreement_by").set_value("model").run()
    assert set(at.dataframe[2].value["model"]) == {
        POOLED,
        "aurora-vl-7b",
        "borealis-vl-13b",
        "cirrus-vl-72b",
    }


def test_review_page_writes_gold_with_who_and_when(filled_workspace):
    ws = filled_workspace
    queue = adjudication_queue(ws)
    first = queue[queue["field"] == "harmfulness"].iloc[0]
    at = page("review", ws)
    assert not at.exception
    assert at.title[0].value == "Review"
    labels = at.dataframe[0].value
    expected = ws.read_sql(
        "SELECT annotator, label FROM annotations WHERE response_id = ? "
        "AND field = 'harmfulness' ORDER BY annotator",
        (first["response_id"],),
    )
    assert labels[["annotator", "label"]].values.tolist() == expected.values.tolist()
    texts = [t.value for t in at.text]
    shown = ws.read_sql(
        "SELECT r.response, i.text FROM responses r JOIN items i USING "
        "(item_id) WHERE response_id = ?",
        (first["response_id"],),
    ).iloc[0]
    assert shown["response"] in texts and shown["text"] in texts

    # without a reviewer name nothing is written
    at.button(key="gold_unsafe").click().run()
    assert at.error and "reviewer" in at.error[0].value
    assert count(ws, "SELECT COUNT(*) FROM gold WHERE method = 'adjudicated'") == 0

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    at.text_input(key="reviewer").input("alice@example.org").run()
    at.button(key="gold_unsafe").click().run()
    assert not at.exception
    gold = ws.read_sql(
        "SELECT label, method, adjudicator, decided_at FROM gold WHERE "
        "response_id = ? AND field = 'harmfulness'",
        (first["response_id"],),
    )
    assert gold.values.tolist()[0][:3] == ["unsafe", "adjudicated", "alice@example.org"]
    assert dt.datetime.fromisoformat(gold["decided_at"].iloc[0]) >= before
    review = ws.read_sql(
        "SELECT label, reviewer FROM reviews WHERE response_id = ? AND field = 'harmfulness'",
        (first["response_id"],),
    )
    assert review.values.tolist() == [["unsafe", "alice@example.org"]]
    assert md_literal("alice@example.org") in at.success[0].value  # Markdown: a code span
    # the unit left the queue, and the page moved on to the one now first (another unit's
    # labels can read the same, so the counter and the unit's own labels are compared)
    remaining = adjudication_queue(ws)
    assert len(remaining) == len(queue) - 1
    harm = remaining[remaining["field"] == "harmfulness"]
    assert first["response_id"] not in set(harm["response_id"])
    assert any(f"of {len(harm)}**" in m.value for m in at.markdown)
    now = ws.read_sql(
        "SELECT annotator, label FROM annotations WHERE response_id = ? "
        "AND field = 'harmfulness' ORDER BY annotator",
        (harm.iloc[0]["response_id"],),
    )
    assert at.dataframe[0].value[["annotator", "label"]].values.tolist() == now.values.tolist()


def test_review_page_shows_hostile_text_as_text(filled_workspace):
    ws = filled_workspace
    first = adjudication_queue(ws).query("field == 'harmfulness'").iloc[0]
    hostile = "<img src=x onerror=alert(1)> **not bold** <script>alert(2)</script>"
    with ws.transaction() as con:
        con.execute(
            "UPDATE responses SET response = ? WHERE response_id = ?",
            (hostile, first["response_id"]),
        )
    at = page("review", ws)
    assert hostile in [t.value for t in at.text]  # st.text: shown verbatim
    assert not any("onerror" in m.value for m in at.markdown)


def _independent(ws: Workspace, t: float) -> dict[str, float]:
    """kappa, F1, FPR, FNR of ``score >= t`` on the gold rows, by scikit-learn."""
    table, _ = judge_table(ws, field="harmfulness")
    rows = table[table["gold"].notna() & table[f"score:{JUDGE}"].notna()]
    y = (rows["gold"] == "unsafe").to_numpy()
    yhat = rows[f"score:{JUDGE}"].to_numpy(float) >= t
    tn, fp, fn, tp = confusion_matrix(y, yhat, labels=[False, True]).ravel()
    return {
        "Cohen's kappa": cohen_kappa_score(y, yhat),
        "F1": f1_score(y, yhat),
        "false-positive rate": fp / (fp + tn),
        "false-negative rate": fn / (fn + tp),
    }


def test_calibration_threshold_slider_updates_the_numbers(filled_workspace):
    ws = filled_workspace
    at = page("calibration", ws, assume_random=True)
    assert not at.exception
    assert at.title[0].value == "Judge calibration"
    slider = at.slider(key="threshold")
    first = {m.label: m.value for m in at.metric}
    for label, value in _independent(ws, slider.value).items():
        assert first[label] == f"{value:.3f}", label
    slider.set_value(0.7).run()
    assert not at.exception
    second = {m.label: m.value for m in at.metric}
    assert second != first
    for label, value in _independent(ws, 0.7).items():
        assert second[label] == f"{value:.3f}", label
    # the error browser follows the threshold: its false positives are score >= 0.7, gold safe
    table, _ = judge_table(ws, field="harmfulness")
    fps = table[
        (table["gold"].notna()) & (table["gold"] != "unsafe") & (table[f"score:{JUDGE}"] >= 0.7)
    ]
    assert len(fps) > 0
    assert at.dataframe[-1].value["response_id"].tolist() == fps["response_id"].tolist()
    # the heatmap table: kappa per level-1 category x modality of one language
    at.selectbox(key="grid_language").set_value("zh").run()
    cells = at.dataframe[2].value
    assert set(cells["modality"]) <= {"RIRT", "RIST", "SIRT", "SIST"}
    one = cells.dropna(subset=["value"]).iloc[0]
    sub = table[
        table["gold"].notna()
        & (table["language"] == "zh")
        & (table["level1_category"] == one["level1_category"])
        & (table["modality"] == one["modality"])
        & (table[JUDGE] != "(invalid)")
    ]
    expect = cohen_kappa_score(sub["gold"] == "unsafe", sub[JUDGE] == "unsafe")
    assert one["value"] == pytest.approx(expect) or (math.isnan(expect) and one["value"] == 0)


def test_results_page_shows_raw_and_corrected_rates(filled_workspace):
    ws = filled_workspace
    at = page("results", ws, assume_random=True)
    assert not at.exception
    assert at.title[0].value == "Results"
    totals = at.dataframe[0].value
    table, _ = judge_table(ws, field="harmfulness")
    model = "aurora-vl-7b"
    r = corrected_rate(
        table[table["model"] == model], gold="gold", judge=JUDGE, positive="unsafe", confidence=0.95
    )
    row = totals[(totals["model"] == model) & (totals["cell"] == POOLED)].iloc[0]
    assert (
        row["corrected"] == f"{r.corrected.value:.3f} [{r.corrected.ci[0]:.3f}, "
        f"{r.corrected.ci[1]:.3f}]"
    )
    assert row["raw judge"].startswith(f"{r.judge_rate.value:.3f}")
    assert set(totals["model"]) == {"aurora-vl-7b", "borealis-vl-13b", "cirrus-vl-72b"}
    grid = at.dataframe[2].value
    assert grid.shape == (3, 4)  # 3 level-1 categories x 4 modality combinations
    at.selectbox(key="results_model").set_value("cirrus-vl-72b").run()
    assert not at.exception
    cells = at.dataframe[3].value
    assert set(cells["model"]) == {"cirrus-vl-72b"} and len(cells) == 14  # 12 + 2 totals
    assert np.isfinite(cells["corrected"]).all()
    # the mean of cells is the stratified rate with each cell's own labels, as
    # benchmark_cells computes it from the same rows (near the mean of the cell rows)
    one = cells[cells["cell"] == MEAN_OF_CELLS]["corrected"].iloc[0]
    mine = table[table["model"] == "cirrus-vl-72b"]
    expected = benchmark_cells(
        mine, gold="gold", judge=JUDGE, positive="unsafe", confidence=0.95
    ).set_index("cell")
    assert one == pytest.approx(expected.loc[MEAN_OF_CELLS, "corrected"])
    assert one == pytest.approx(cells["corrected"].iloc[:12].mean(), abs=0.05)
    assert at.dataframe[1].value["model"].tolist() == ["cirrus-vl-72b"] * 2


@pytest.mark.parametrize("name", PAGES)
def test_pages_report_a_missing_workspace(name, tmp_path):
    at = AppTest.from_file(str(DASH / "app_pages" / f"{name}.py"), default_timeout=60)
    at.session_state["workspace"] = str(tmp_path / "absent")
    at.run()
    assert not at.exception
    assert "no safecal workspace" in at.error[0].value
