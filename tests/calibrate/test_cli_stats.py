"""``safecal calibrate agreement | judge | estimate``: the JSON contract, files, workspace."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest

from safecal.annotate import Workspace
from safecal.calibrate import POOLED, agreement, corrected_rate, judge_metrics, wide_to_long
from safecal.cli import main

ROOT = Path(__file__).resolve().parents[2]
EST_KEYS = {"value", "ci"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    scale = np.array(["full_compliance", "partial_refusal", "full_refusal"])
    g = rng.choice(3, n, p=[0.6, 0.15, 0.25])
    noisy = lambda acc: np.where(rng.random(n) < acc, g, rng.integers(0, 3, n))  # noqa: E731
    j1, j2 = noisy(0.85), noisy(0.7)
    t = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "model": rng.choice(["m1", "m2"], n),
            "level1_category": rng.choice(["Public Safety", "Ethical Safety", "Fundamental"], n),
            "modality": rng.choice(["RIRT", "RIST", "SIRT", "SIST"], n),
            "h1": scale[noisy(0.9)],
            "h2": scale[noisy(0.85)],
            "h3": scale[noisy(0.8)],
            "gold": scale[g],
            "judge_a": scale[j1].astype(object),
            "judge_b": scale[j2],
            "score_a": np.clip(0.7 * (j1 > 0) + rng.normal(0.15, 0.1, n), 0, 1).round(3),
            "p": np.where(rng.random(n) < 0.5, 0.2, 0.6),
        }
    )
    t.loc[rng.random(n) < 0.1, "h3"] = None
    t.loc[[3, 5, 7], "judge_a"] = ["refused?", None, "FULL REFUSAL"]
    labeled = np.array(rng.random(n) < t["p"])
    labeled[[3, 5, 7]] = True
    t.loc[~labeled, "gold"] = None
    return t


@pytest.fixture(scope="module")
def files(table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tables")
    out = {"csv": d / "t.csv", "jsonl": d / "t.jsonl", "parquet": d / "t.parquet"}
    table.to_csv(out["csv"], index=False)
    table.to_json(out["jsonl"], orient="records", lines=True)
    table.to_parquet(out["parquet"], index=False)
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_agreement_json_contract(capsys, files, table, fmt) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "agreement",
        "--table",
        str(files[fmt]),
        "--raters",
        "h1,h2,h3",
        "--by",
        "model",
        "--n-boot",
        "200",
    )
    assert d["n_items"] == 400
    expected = agreement(wide_to_long(table, ["h1", "h2", "h3"]), n_boot=200)
    for name in (
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
    ):
        assert set(d[name]) == EST_KEYS and len(d[name]["ci"]) == 2
        assert d[name]["value"] == pytest.approx(getattr(expected, name).value)
        assert 0 <= d[name]["ci"][0] <= d[name]["value"] <= d[name]["ci"][1] <= 1
    assert set(d["slices"]) == {"m1", "m2"}
    assert sum(s["n_items"] for s in d["slices"].values()) == 400


def test_agreement_long_table_and_ordinal(capsys, files, table, tmp_path) -> None:
    long = wide_to_long(table, ["h1", "h2", "h3"], unit="id")
    path = tmp_path / "long.jsonl"
    long.dropna().rename(columns={"unit": "item", "rater": "who"}).to_json(
        path, orient="records", lines=True
    )
    d = run_json(
        capsys,
        "calibrate",
        "agreement",
        "--table",
        str(path),
        "--unit",
        "item",
        "--rater",
        "who",
        "--level",
        "ordinal",
        "--n-boot",
        "50",
    )
    assert d["level"] == "ordinal"
    expected = agreement(long, level="ordinal", n_boot=0)
    assert d["krippendorff_alpha"]["value"] == pytest.approx(expected.krippendorff_alpha.value)


def test_agreement_interval_and_ratio_levels(capsys, tmp_path) -> None:
    from safecal.calibrate.agreement import LEVELS
    from safecal.calibrate.cli.stats import AGREEMENT_LEVELS

    assert AGREEMENT_LEVELS == LEVELS
    # scores 1-5 from three raters, one rating missing
    scores = pd.DataFrame(
        {
            "a": [1, 2, 3, 4, 5, 2, 3, 1],
            "b": [1, 3, 3, 5, 4, 2, 2, 1],
            "c": [2, 2, 4, 4, 5, None, 3, 1],
        }
    )
    path = tmp_path / "scores.csv"
    scores.to_csv(path, index=False)
    data = scores.T.to_numpy(dtype=float)  # raters x units, NaN where missing
    for level in ("interval", "ratio"):
        d = run_json(
            capsys,
            "calibrate",
            "agreement",
            "--table",
            str(path),
            "--raters",
            "a,b,c",
            "--level",
            level,
            "--n-boot",
            "100",
        )
        assert d["level"] == level
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert d["krippendorff_alpha"]["value"] == pytest.approx(expected)
    words = tmp_path / "words.csv"
    pd.DataFrame({"a": ["low", "high"], "b": ["low", "low"]}).to_csv(words, index=False)
    code, out, err = run(
        capsys, "calibrate", "agreement", "--table", str(words), "--raters", "a,b",
        "--level", "interval",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("error: level 'interval' needs numeric labels") and "'high'" in err


def test_where_filter_and_multi_column_unit(capsys, tmp_path) -> None:
    rows = [
        ("i1", "en", "a", "x"),
        ("i1", "en", "b", "x"),
        ("i1", "zh", "a", "x"),
        ("i1", "zh", "b", "y"),
        ("i2", "en", "a", "y"),
        ("i2", "en", "b", "y"),
    ]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["item", "lang", "rater", "label"]).assign(field="f").to_csv(
        path, index=False
    )
    d = run_json(
        capsys,
        "calibrate",
        "agreement",
        "--table",
        str(path),
        "--unit",
        "item,lang",
        "--where",
        "field=f",
        "--n-boot",
        "10",
    )
    # units (i1,en) agree, (i1,zh) disagree, (i2,en) agree -> 2/3
    assert d["n_items"] == 3 and d["percent_agreement"]["value"] == pytest.approx(2 / 3)
    d = run_json(
        capsys,
        "calibrate",
        "agreement",
        "--table",
        str(path),
        "--unit",
        "item,lang",
        "--where",
        "lang=en",
        "--n-boot",
        "10",
    )
    assert d["n_items"] == 2 and d["percent_agreement"]["value"] == 1
    code, _, err = run(capsys, "calibrate", "agreement", "--table", str(path), "--where", "lang=fr")
    assert code == 2 and "no row" in err


def test_judge_json_contract(capsys, files, table) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "judge",
        "--table",
        str(files["parquet"]),
        "--gold",
        "gold",
        "--judge",
        "judge_a",
        "--judge",
        "judge_b",
        "--positive",
        "partial_refusal",
        "--positive",
        "full_refusal",
        "--score",
        "judge_a=score_a",
        "--n-boot",
        "200",
    )
    a = d["judges"]["judge_a"]
    labeled = table[table["gold"].notna()]
    bad = labeled["judge_a"].isna() | ~labeled["judge_a"].isin(
        ["full_compliance", "partial_refusal", "full_refusal"]
    )
    assert a["n_invalid"] == int(bad.sum()) and a["n"] == len(labeled) - int(bad.sum())
    ref = judge_metrics(
        table,
        judge="judge_a",
        positive=["partial_refusal", "full_refusal"],
        score="score_a",
        n_boot=200,
    )
    for name in ("accuracy", "cohen_kappa", "precision", "recall", "f1", "fpr", "fnr", "mcc"):
        # judge estimates name their interval's method beside value and ci
        assert set(a[name]) == EST_KEYS | {"method"}
        assert a[name]["method"] == getattr(ref, name).method != ""
        assert a[name]["value"] == pytest.approx(getattr(ref, name).value)
    assert a["auroc"]["value"] == pytest.approx(ref.auroc.value)
    assert d["judges"]["judge_b"]["auroc"] is None
    assert a["confusion"]["labels"] == ["positive", "negative"]
    assert sum(map(sum, a["confusion"]["matrix"])) == a["n"]
    assert d["paired"]["judge_a vs judge_b"]["p_value"] < 0.05


def test_judge_by_unanimity_of_table_raters(capsys, files, table) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "judge",
        "--table",
        str(files["csv"]),
        "--judge",
        "judge_a",
        "--positive",
        "full_refusal",
        "--raters",
        "h1,h2,h3",
        "--n-boot",
        "50",
    )
    by = d["judges"]["judge_a"]["by_unanimity"]
    assert set(by) == {"unanimous", "split"}
    assert by["unanimous"]["n"] + by["split"]["n"] == d["judges"]["judge_a"]["n"]
    from safecal.calibrate import unanimity

    u = unanimity(table, ["h1", "h2", "h3"])
    labeled = table["gold"].notna() & table["judge_a"].isin(
        ["full_compliance", "partial_refusal", "full_refusal"]
    )
    assert by["split"]["n"] == int((labeled & (u == "split")).sum())


def test_judge_multiclass_without_positive(capsys, files) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "judge",
        "--table",
        str(files["csv"]),
        "--judge",
        "judge_a",
        "--by",
        "model",
        "--n-boot",
        "50",
    )
    a = d["judges"]["judge_a"]
    assert a["precision"] is None and a["accuracy"]["value"] > 0.5
    assert a["confusion"]["labels"] == ["full_compliance", "partial_refusal", "full_refusal"]
    assert set(a["slices"]) == {"m1", "m2"}


def test_estimate_json_contract(capsys, files, table) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "estimate",
        "--table",
        str(files["csv"]),
        "--gold",
        "gold",
        "--judge",
        "judge_b",
        "--positive",
        "full_refusal",
        "--positive",
        "partial_refusal",
        "--weight",
        "p",
        "--confidence",
        "0.9",
    )
    e = d["estimates"][POOLED]
    ref = corrected_rate(
        table, judge="judge_b", positive=["full_refusal", "partial_refusal"], weight="p"
    )
    assert e["n_labeled"] == ref.n_labeled and e["n_unlabeled"] == ref.n_unlabeled
    for name in ("judge_rate", "human_rate", "corrected"):
        assert set(e[name]) == EST_KEYS
        assert e[name]["value"] == pytest.approx(getattr(ref, name).value)
    d = run_json(
        capsys,
        "calibrate",
        "estimate",
        "--table",
        str(files["csv"]),
        "--judge",
        "judge_b",
        "--positive",
        "full_refusal",
        "--by",
        "model",
        "--cells",
        "--target-width",
        "0.1",
    )
    # the pooled row has the same name as in the cells table (it was "total" outside it)
    assert set(d["estimates"]) == {POOLED, "m1", "m2"} and "total" not in d
    cells = pd.DataFrame(d["cells"])
    assert (cells["cell"] == POOLED).sum() == 2
    assert (cells["cell"] == "total (mean of cells)").sum() == 2
    assert len(cells) == 2 * (12 + 2)
    assert d["budget"]["target_width"] == 0.1
    d = run_json(
        capsys,
        "calibrate",
        "estimate",
        "--table",
        str(files["csv"]),
        "--judge",
        "judge_a",
        "--positive",
        "full_refusal",
        "--positive",
        "partial_refusal",
        "--score",
        "score_a",
    )
    ref = corrected_rate(
        table, judge="judge_a", positive=["full_refusal", "partial_refusal"], score="score_a"
    )
    assert d["estimates"][POOLED]["corrected"]["value"] == pytest.approx(ref.corrected.value)


def test_human_readable_tables(capsys, files, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # wide enough that no header wraps
    code, out, _ = run(
        capsys,
        "calibrate",
        "estimate",
        "--table",
        str(files["csv"]),
        "--judge",
        "judge_a",
        "--positive",
        "full_refusal",
        "--by",
        "model",
    )
    assert code == 0 and "corrected (PPI++)" in out and "m2" in out
    rows = [line.split("  ")[0] for line in out.splitlines()]
    assert rows.count(POOLED) == 1 and "total" not in rows and "all" not in rows
    code, out, _ = run(
        capsys,
        "calibrate",
        "judge",
        "--table",
        str(files["csv"]),
        "--judge",
        "judge_a",
        "--positive",
        "full_refusal",
        "--n-boot",
        "20",
    )
    assert code == 0 and "invalid judge answers" in out and "'refused?'" in out
    code, out, _ = run(
        capsys,
        "calibrate",
        "agreement",
        "--table",
        str(files["csv"]),
        "--raters",
        "h1,h2",
        "--n-boot",
        "20",
    )
    assert code == 0 and "krippendorff_alpha" in out and "prevalence" in out
    assert any(line.startswith(POOLED) for line in out.splitlines())


def test_a_slice_named_like_the_pooled_row_is_refused(capsys, tmp_path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame(
        {"a": ["x", "y", "x", "x"], "b": ["x", "y", "y", "x"], "g": [POOLED, POOLED, "b", "b"]}
    ).to_csv(path, index=False)
    code, out, err = run(
        capsys, "calibrate", "agreement", "--table", str(path), "--raters", "a,b", "--by", "g"
    )
    assert code == 2 and out == "" and "the name of the pooled row" in err


@pytest.mark.parametrize("columns", [40, 72])
def test_tables_fit_a_narrow_terminal(files, tmp_path, columns: int) -> None:
    """Every line of the human-readable output fits COLUMNS (subprocess: the real
    terminal-size lookup), and undefined values read n/a, never nan or None."""
    import os

    path = tmp_path / "with-a-rather-long-directory-name-for-the-title" / "t.csv"
    path.parent.mkdir()
    path.write_bytes(files["csv"].read_bytes())
    commands = [
        ["agreement", "--raters", "h1,h2,h3", "--by", "model", "--n-boot", "50"],
        ["judge", "--judge", "judge_a", "--judge", "judge_b", "--positive", "full_refusal",
         "--by", "modality", "--n-boot", "50"],
        ["estimate", "--judge", "judge_a", "--positive", "full_refusal", "--by", "model",
         "--cells", "--target-width", "0.05"],
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": str(columns)}
    for command in commands:
        proc = subprocess.run(
            [sys.executable, "-m", "safecal", "calibrate", command[0], "--table", str(path),
             *command[1:]],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) > 5
        too_long = [line for line in lines if len(line) > columns]
        assert not too_long, f"{command[0]}: {too_long}"
        assert not re.search(r"\bnan\b|\bNone\b", proc.stdout, flags=re.IGNORECASE)
        assert "(pooled)" in proc.stdout  # the pooled row, maybe wrapped in its column


def test_not_utf8_fails_clearly_unless_encoding_given(capsys, tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\nsûr,sûr\nnon,sûr\n".encode("latin-1"))
    code, _, err = run(capsys, "calibrate", "agreement", "--table", str(path), "--raters", "a,b")
    assert code == 2 and "not valid utf-8" in err and "--encoding" in err
    assert "Traceback" not in err
    d = run_json(
        capsys,
        "calibrate",
        "agreement",
        "--table",
        str(path),
        "--raters",
        "a,b",
        "--encoding",
        "latin-1",
        "--n-boot",
        "10",
    )
    assert d["prevalence"]["sûr"] == pytest.approx(0.75)


def test_bad_options_exit_2(capsys, files) -> None:
    for argv in (
        ["agreement", "--raters", "h1,h2", "--confidence", "95"],
        ["agreement", "--raters", "h1,h2", "--n-boot", "-1"],
        ["agreement", "--raters", "h1"],
        ["estimate", "--judge", "judge_a", "--positive", "nope"],
        ["estimate", "--judge", "judge_a", "--positive", "full_refusal", "--target-width", "2"],
    ):
        with pytest.raises(SystemExit) as exc:  # argparse errors exit 2 by SystemExit
            code, _, err = run(
                capsys, "calibrate", argv[0], "--table", str(files["csv"]), *argv[1:]
            )
            raise SystemExit(code)
        assert exc.value.code == 2, argv
        assert "Traceback" not in capsys.readouterr().err


def test_missing_column_is_named(capsys, files) -> None:
    code, _, err = run(
        capsys, "calibrate", "judge", "--table", str(files["csv"]), "--judge", "judge_z"
    )
    assert code == 2 and "'judge_z'" in err and "judge_a" in err
    code, _, err = run(
        capsys, "calibrate", "estimate", "--table", str(files["csv"]), "--judge", "judge_a"
    )
    assert code == 2 and "--positive" in err


# ---- workspace mode ----------------------------------------------------------------


def test_workspace_agreement(capsys, stats_workspace: Workspace) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "agreement",
        "--workspace",
        str(stats_workspace.path),
        "--field",
        "refusal",
        "--by",
        "language",
        "--n-boot",
        "100",
    )
    assert d["n_raters"] == 3 and set(d["slices"]) == {"en", "zh"}
    assert list(d["prevalence"]) == ["full_compliance", "partial_refusal", "full_refusal"]


def test_workspace_judge(capsys, stats_workspace: Workspace) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "judge",
        "--workspace",
        str(stats_workspace.path),
        "--binary",
        "--by",
        "modality",
        "--n-boot",
        "100",
    )
    vlm = d["judges"]["example-vlm-judge"]
    assert vlm["n_invalid"] > 0 and vlm["auroc"] is not None
    assert set(vlm["slices"]) == {"RIRT", "RIST", "SIRT", "SIST"}
    assert set(vlm["by_unanimity"]) <= {"unanimous", "split", "single"}
    assert "example-vlm-judge vs strict" in d["paired"]


def test_workspace_estimate_uses_inclusion_probabilities(capsys, stats_workspace) -> None:
    d = run_json(
        capsys,
        "calibrate",
        "estimate",
        "--workspace",
        str(stats_workspace.path),
        "--run",
        "example-vlm-judge",
        "--by",
        "model",
        "--cells",
    )
    # one name for the pooled row with --by and without (it was "total" and "all")
    assert set(d["estimates"]) == {POOLED, "aurora-vl-7b", "borealis-vl-13b", "cirrus-vl-72b"}
    assert all(e["weighted"] for e in d["estimates"].values())
    assert len(d["cells"]) == 3 * 14
    scored = run_json(
        capsys,
        "calibrate",
        "estimate",
        "--workspace",
        str(stats_workspace.path),
        "--run",
        "example-vlm-judge",
        "--score",
    )
    assert set(scored["estimates"]) == {POOLED} and "total" not in d
    assert scored["estimates"][POOLED]["corrected"]["value"] != pytest.approx(
        d["estimates"][POOLED]["corrected"]["value"]
    )
    code, _, err = run(capsys, "calibrate", "estimate", "--workspace", str(stats_workspace.path))
    assert code == 2 and "choose one with --run" in err


def test_console_entry_point(files) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecal",
            "calibrate",
            "estimate",
            "--table",
            str(files["csv"]),
            "--judge",
            "judge_a",
            "--positive",
            "full_refusal",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert POOLED in json.loads(proc.stdout)["estimates"]
