"""One selection of rows (calibrate.rows): the command line, the judge card and the dashboard
report the same n, invalid count and figures; samples compose; gold from no sample is
declared, never dropped silently; the default confidence level is one constant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from safecal.annotate import Workspace
from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
from safecal.calibrate.ppi import corrected_rate
from safecal.calibrate.render import format_estimate
from safecal.calibrate.rows import sample_design, select_rows
from tests.workspaces import copy_workspace

ROOT = Path(__file__).resolve().parents[2]
DASH = ROOT / "dashboards"
JUDGE = "example-vlm-judge"


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m safecal ...``: the real command line."""
    return subprocess.run(
        [sys.executable, "-m", "safecal", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def cli_json(*argv: str) -> dict:
    proc = cli(*argv, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def stats_copy(stats_workspace: Workspace, tmp_path: Path) -> Workspace:
    return copy_workspace(stats_workspace.path, tmp_path / "ws")


# ---- item 7: one selection, three consumers ------------------------------------------


@pytest.mark.slow  # several `python -m safecal` runs
def test_cli_card_and_dashboard_show_the_same_rows_and_figures(stats_workspace: Workspace) -> None:
    """One workspace whose gold sample has unequal inclusion probabilities and whose judge
    gave invalid answers: ``calibrate judge --json``, the judge card's data and the Judge
    calibration page give the same n, invalid count, effective n and intervals; the
    corrected rates of ``calibrate estimate``, ``calibrate table``, the card and the
    Results page agree too."""
    from safecal.calibrate.report.card import judge_card

    ws = stats_workspace
    w = str(ws.path)
    # independent count: gold rows the run judged, and those with an invalid verdict
    sql = ws.read_sql(
        "SELECT v.valid FROM gold g JOIN verdicts v USING (response_id, field) "
        "WHERE v.run_id = 'run-vlm' AND g.field = 'harmfulness'"
    )
    n_judged_gold, n_invalid = len(sql), int((sql["valid"] == 0).sum())
    assert n_invalid > 0

    out = cli_json("calibrate", "judge", "-w", w, "--run", JUDGE, "--binary", "--n-boot", "500")
    c = out["judges"][JUDGE]
    assert (c["n"] + c["n_invalid"], c["n_invalid"]) == (n_judged_gold, n_invalid)
    assert c["weighted"] and c["n_effective"] < 0.95 * c["n"]

    card = judge_card(ws, JUDGE, n_boot=500)
    k = card["fields"]["harmfulness"]["metrics"]
    assert card["confidence"] == DEFAULT_CONFIDENCE == c["confidence"]

    at = AppTest.from_file(str(DASH / "app_pages" / "calibration.py"), default_timeout=120)
    at.session_state["workspace"] = w
    at.run()
    assert not at.exception
    shown = at.dataframe[0].value.set_index("metric")
    assert shown.loc["n (valid / invalid)", JUDGE] == f"{c['n']} / {c['n_invalid']}"
    for name in ("accuracy", "recall", "fpr", "balanced_accuracy", "cohen_kappa", "f1", "auroc"):
        assert c[name] == k[name], name  # CLI == card, value, interval and method
        assert shown.loc[name, JUDGE] == format_estimate(c[name]), name  # == dashboard
        assert shown.loc[name, f"{JUDGE}: interval"] == c[name]["method"], name
    assert k["n"] == c["n"] and k["n_invalid"] == c["n_invalid"]
    assert k["n_effective"] == pytest.approx(c["n_effective"])
    assert f"{c['n_effective']:.1f}" in shown.loc["n (valid / invalid)", f"{JUDGE}: interval"]

    # corrected rates per model: estimate --by model == table == card == Results page
    est = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE, "--by", "model")
    table = cli_json("calibrate", "table", "-w", w, "--run", JUDGE)
    res = AppTest.from_file(str(DASH / "app_pages" / "results.py"), default_timeout=120)
    res.session_state["workspace"] = w
    res.session_state["results_run"] = "run-vlm"
    res.run()
    assert not res.exception
    totals = res.dataframe[0].value.set_index("model")
    for row in table["models"]:
        e = est["estimates"][row["model"]]
        t = row["harmfulness"]
        assert t["n_labeled"] == e["n_labeled"] and t["corrected"] == e["corrected"]
        assert (
            card["paper"]["models"][table["models"].index(row)]["harmfulness"]["corrected"]
            == e["corrected"]
        )
        assert totals.loc[row["model"], "corrected"] == format_estimate(e["corrected"])
        assert totals.loc[row["model"], "n_labeled"] == e["n_labeled"]


# ---- item 6: samples compose; gold from no sample is declared ----------------------------


@pytest.mark.slow  # several `python -m safecal` runs
def test_gold_from_no_sample_is_set_aside_or_declared_random(stats_copy: Workspace) -> None:
    w = str(stats_copy.path)
    before = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE)
    n0 = before["estimates"]["total (pooled)"]["n_labeled"]
    table = select_rows(stats_copy, field="harmfulness", runs=[JUDGE]).table
    free = table["inclusion_prob"].isna() & table[JUDGE].notna() & (table[JUDGE] != "(invalid)")
    unsampled = table.loc[free, "response_id"].iloc[:3].tolist()
    with stats_copy.transaction() as con:
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at)"
            " VALUES (?, 'harmfulness', 'unsafe', 'imported', 'now')",
            [(r,) for r in unsampled],
        )
    aside = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE)
    assert aside["estimates"]["total (pooled)"]["n_labeled"] == n0
    assert any("3 gold labels come from no sample" in n for n in aside["notes"])
    assert any("--assume-random" in n for n in aside["notes"])
    declared = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE, "--assume-random")
    assert declared["estimates"]["total (pooled)"]["n_labeled"] == n0 + 3
    assert any("simple random sample" in n for n in declared["notes"])
    # the judge command says the same
    judged = cli_json("calibrate", "judge", "-w", w, "--run", JUDGE, "--binary", "--n-boot", "0")
    assert any("3 gold labels come from no sample" in n for n in judged["notes"])
    # the weight of a declared label: q = 3 / N, combined with the samples' probability
    rows = select_rows(stats_copy, field="harmfulness", runs=[JUDGE], assume_random=True)
    q = 3 / len(rows.table)
    got = rows.table.set_index("response_id")["inclusion_prob"]
    assert got.loc[unsampled].tolist() == pytest.approx([q] * 3)
    plain = select_rows(stats_copy, field="harmfulness", runs=[JUDGE]).table
    drawn = plain["inclusion_prob"].notna()
    expect = 1 - (1 - q) * (1 - plain.loc[drawn, "inclusion_prob"])
    assert got.loc[plain.loc[drawn, "response_id"]].to_numpy() == pytest.approx(expect.to_numpy())


def _labels_for_sample(ws: Workspace, example, sample_id: str, out: Path) -> Path:
    """The example's human labels of one sample's units, as a file for `annotate import`."""
    units = ws.read_sql(
        "SELECT r.item_id, r.model, r.language FROM samples s JOIN responses r "
        "USING (response_id) WHERE s.sample_id = ?",
        (sample_id,),
    )
    humans = pd.read_csv(example.human_labels, dtype=str)
    humans.merge(units.astype(str), on=["item_id", "model", "language"]).to_csv(out, index=False)
    return out


@pytest.mark.slow  # several `python -m safecal` runs
def test_a_second_sample_keeps_earlier_gold(
    example_workspace: Workspace, example, tmp_path: Path
) -> None:
    """sample s1 (oversampling responses the judge scored near its threshold), label it,
    estimate: judge validation is weighted and says so; sample s2: the gold of s1 still
    counts (n_labeled unchanged), now weighted by the union's inclusion probability. And
    gold that came from no sample, declared random, stays labeled when a sample is drawn
    later (it used to be set aside as soon as one gold response fell in a sample: 12
    labeled became 2)."""
    w = str(example_workspace.path)
    run = cli("calibrate", "run", "-w", w, "--judge", "imported", "--name", JUDGE,
              "--file", str(example.judge_verdicts), "--score-column", "score",
              "--no-progress")  # fmt: skip
    assert run.returncode == 0, run.stderr
    s1 = cli("annotate", "sample", "-w", w, "--n", "60", "--by", "model", "--seed", "1",
             "--aspect", "vulnerability", "--sample-id", "s1", "--oversample", "4")  # fmt: skip
    assert s1.returncode == 0, s1.stderr
    labels = _labels_for_sample(example_workspace, example, "s1", tmp_path / "l.csv")
    assert cli("annotate", "import", "-w", w, str(labels)).returncode == 0
    gold = cli("annotate", "gold", "-w", w, "--offline", "--method", "majority",
               "--review-below", "0")  # fmt: skip
    assert gold.returncode == 0, gold.stderr
    first = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE)["estimates"]
    n1 = first["total (pooled)"]["n_labeled"]
    assert n1 > 20
    # the oversampled gold set is weighted in judge validation, and the output says so
    judged = cli_json("calibrate", "judge", "-w", w, "--run", JUDGE, "--binary", "--n-boot", "0")
    v = judged["judges"][JUDGE]
    assert v["weighted"] and v["n_effective"] < 0.95 * v["n"]
    assert any("unequal inclusion probabilities" in n for n in judged["notes"])
    s2 = cli("annotate", "sample", "-w", w, "--n", "60", "--by", "model", "--seed", "2",
             "--aspect", "vulnerability", "--sample-id", "s2")  # fmt: skip
    assert s2.returncode == 0, s2.stderr
    second = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE)
    assert second["estimates"]["total (pooled)"]["n_labeled"] == n1
    assert not any("no sample" in n for n in second.get("notes", []))

    # gold from no sample: drop the samples, declare the gold random, then sample again
    with example_workspace.transaction() as con:
        con.execute("DELETE FROM samples")
    declared = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE, "--assume-random")
    assert declared["estimates"]["total (pooled)"]["n_labeled"] == n1
    s3 = cli("annotate", "sample", "-w", w, "--n", "60", "--seed", "3",
             "--aspect", "vulnerability", "--sample-id", "s3")  # fmt: skip
    assert s3.returncode == 0, s3.stderr
    after = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE, "--assume-random")
    assert after["estimates"]["total (pooled)"]["n_labeled"] == n1
    # without the declaration the unsampled gold is set aside, and the note counts it
    plain = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE)
    kept = plain["estimates"]["total (pooled)"]["n_labeled"]
    assert any(f"{n1 - kept} gold labels come from no sample" in n for n in plain["notes"])


def test_two_independent_samples_union_design_is_unbiased_and_covers() -> None:
    """Seeded simulation of the design: two independent stratified samples (one oversamples
    a stratum), gold on their union, weights ``1 - (1 - pi1)(1 - pi2)``. The weighted
    human-only rate is unbiased for the population rate and the corrected rate's interval
    covers it at the nominal level; the unweighted rate (the oversampled stratum counted as
    drawn) is biased."""
    rng = np.random.default_rng(11)
    n_pop = 1500
    stratum = rng.random(n_pop) < 0.2  # a small stratum, oversampled by sample 1
    y = rng.random(n_pop) < np.where(stratum, 0.5, 0.1)
    judge = np.where(rng.random(n_pop) < 0.85, y, ~y)
    truth = y.mean()
    pi1 = np.where(stratum, 40 / stratum.sum(), 40 / (~stratum).sum())
    pi2 = np.full(n_pop, 50 / n_pop)
    base = pd.DataFrame(
        {"response_id": np.arange(n_pop).astype(str), "judge": np.where(judge, "1", "0")}
    )
    human, unweighted, covered = [], [], 0
    reps = 300
    for _ in range(reps):
        in1 = np.zeros(n_pop, bool)
        for s in (stratum, ~stratum):
            idx = np.flatnonzero(s)
            in1[rng.choice(idx, size=40, replace=False)] = True
        in2 = np.zeros(n_pop, bool)
        in2[rng.choice(n_pop, size=50, replace=False)] = True
        prob = 1 - (1 - np.where(in1, pi1, 0)) * (1 - np.where(in2, pi2, 0))
        labeled = in1 | in2
        t = base.assign(
            gold=np.where(labeled, np.where(y, "1", "0"), None),
            inclusion_prob=np.where(labeled, prob, np.nan),
        )
        t, design = sample_design(t)
        assert design.weight == "inclusion_prob" and design.n_set_aside == 0
        r = corrected_rate(t, positive="1", weight=design.weight, confidence=0.95)
        human.append(r.human_rate.value)
        lo, hi = r.corrected.ci
        covered += lo <= truth <= hi
        unweighted.append(corrected_rate(t, positive="1").human_rate.value)
    se = np.std(human) / np.sqrt(reps)
    assert abs(np.mean(human) - truth) < 3 * se
    assert abs(covered / reps - 0.95) <= 0.03
    assert np.mean(unweighted) - truth > 10 * np.std(unweighted) / np.sqrt(reps)


# ---- item 8: the paper's table ------------------------------------------------------------


@pytest.mark.slow  # several `python -m safecal` runs
def test_paper_table_formats_escape_untrusted_names(stats_copy: Workspace) -> None:
    hostile = '=HYPERLINK("x")|50% $a_{b} & #1 ~^\\ <b>'
    with stats_copy.transaction() as con:
        con.execute("UPDATE responses SET model = ? WHERE model = 'aurora-vl-7b'", (hostile,))
    w = str(stats_copy.path)
    data = cli_json("calibrate", "table", "-w", w, "--run", JUDGE)
    assert data["fields"] == ["harmfulness", "refusal"]
    assert data["rates"] == {
        "harmfulness": "attack-success rate",
        "refusal": "over-refusal rate",
    }
    # each cell equals `calibrate estimate --by model` of its field
    for field in data["fields"]:
        est = cli_json("calibrate", "estimate", "-w", w, "--run", JUDGE, "--by", "model",
                       "--field", field)["estimates"]  # fmt: skip
        for m in data["models"]:
            for k in ("n_labeled", "judge_rate", "human_rate", "corrected", "method"):
                assert m[field][k] == est[m["model"]][k]
            assert m[field]["fallback_reason"] == est[m["model"]]["fallback_reason"]
    latex = cli("calibrate", "table", "-w", w, "--run", JUDGE, "--format", "latex")
    assert latex.returncode == 0, latex.stderr
    line = next(x for x in latex.stdout.splitlines() if "HYPERLINK" in x)
    assert line.startswith(
        '=HYPERLINK("x")|50\\% \\$a\\_\\{b\\} \\& \\#1 '
        "\\textasciitilde{}\\textasciicircum{}\\textbackslash{} <b> & "
    )
    assert (
        "\\toprule" in latex.stdout and "\\multicolumn{4}{c}{attack-success rate}" in latex.stdout
    )
    md = cli("calibrate", "table", "-w", w, "--run", JUDGE, "--format", "markdown").stdout
    row = next(x for x in md.splitlines() if "HYPERLINK" in x)
    assert row.count(" | ") == 8  # 9 cells: the name's | is escaped
    assert r"\|50% $a\_{b} & \#1 \~^\\ \<b\>" in row
    csv = cli("calibrate", "table", "-w", w, "--run", JUDGE, "--format", "csv").stdout
    back = pd.read_csv(pd.io.common.StringIO(csv), dtype=str)
    assert hostile not in set(back["model"]) and "'" + hostile in set(back["model"])
    text = cli("calibrate", "table", "-w", w, "--run", JUDGE)
    assert text.returncode == 0, text.stderr
    # the terminal's form: a block per rate, each naming its judge and its intervals' method
    blocks = [b for b in text.stdout.split("\n\n") if "(judge " in b]
    assert [b.splitlines()[0] for b in blocks] == [
        f"attack-success rate (judge {data['judges']['harmfulness']})",
        f"over-refusal rate (judge {data['judges']['refusal']})",
    ]
    for block, field in zip(blocks, data["fields"], strict=True):
        methods = {m[field]["method"] for m in data["models"]}
        assert f"corrected intervals: {', '.join(sorted(methods))}" in block
        assert "gold n" in block and "corrected" in block


# ---- one default confidence ---------------------------------------------------------------


def test_one_default_confidence_everywhere() -> None:
    import argparse
    import inspect

    from safecal.calibrate.paper import paper_table
    from safecal.calibrate.report.card import field_card, judge_card
    from safecal.cli import build_parser

    found = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))
            elif "--confidence" in action.option_strings:
                found[" ".join(path)] = action.default

    walk(build_parser(), ())
    for cmd in ("calibrate agreement", "calibrate judge", "calibrate estimate",
                "calibrate table", "calibrate report", "annotate sample"):  # fmt: skip
        assert found[cmd] == DEFAULT_CONFIDENCE, cmd
    assert set(found.values()) == {DEFAULT_CONFIDENCE}
    for func in (judge_card, field_card, paper_table):
        assert inspect.signature(func).parameters["confidence"].default == DEFAULT_CONFIDENCE
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"default confidence level is {DEFAULT_CONFIDENCE}" in readme
