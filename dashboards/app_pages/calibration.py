"""Judge calibration page: choose judge runs; confusion matrix; metrics with intervals;
a threshold slider updating kappa, F1, FPR and FNR; ROC and PR curves; a per-slice
heatmap (level-1 category x modality combination, per language); the false positives
and false negatives with their images; the probes stored for the inspected run."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
from safecal.calibrate.judge_metrics import METRICS, JudgeResult
from safecal.calibrate.monitoring import at_threshold
from safecal.calibrate.render import format_estimate
from safecal.calibrate.thresholds import tune_threshold
from safecal.calibrate.vocab import normalize_labels
from safecal.dashboards import data
from safecal.dashboards.text import md_literal
from safecal.dashboards.widgets import judge_runs_picker, show_unit

GRID_METRICS = ("cohen_kappa", "f1", "fpr", "fnr", "accuracy")


def _metrics_table(results: dict[str, JudgeResult]) -> pd.DataFrame:
    """One row per metric: each judge's ``value [low, high]`` and the interval's method
    (:class:`calibrate.results.Estimate` ``.method``)."""
    rows = []
    for name in METRICS:
        row = {"metric": name}
        for judge, r in results.items():
            est = getattr(r, name)
            row[judge] = format_estimate(est)
            row[f"{judge}: interval"] = (est.method or "") if est is not None else ""
        rows.append(row)
    counts = {"metric": "n (valid / invalid)"}
    for judge, r in results.items():
        counts[judge] = f"{r.n} / {r.n_invalid}"
        counts[f"{judge}: interval"] = (
            f"weighted, effective n {r.n_effective:.1f}" if r.weighted else "unweighted"
        )
    return pd.DataFrame([counts, *rows])


def _probes(path: str, stamp: data.Stamp, run_id: str, name: str) -> None:
    """The stored probes of the inspected run (``safecal calibrate probe``)."""
    found = data.probes(path, stamp, run_id)
    st.subheader(f"Probes: {md_literal(name)}")
    if found.empty:
        st.info(
            "no probes for this run yet: `safecal calibrate probe --run RUN --probe NAME` "
            "re-judges transformed gold responses (image removed, refusal prefix, ...)"
        )
        return
    st.dataframe(found, hide_index=True, width="stretch")
    st.caption(
        "flip rate: share of verdicts that changed (exact interval); accuracy change: "
        "accuracy on the transformed copies minus on the originals (Newcombe's paired "
        "interval); McNemar's exact p; 'expected' is what a sound judge should show."
    )


def page() -> None:
    st.title("Judge calibration")
    st.caption("How far each judge is from the human gold labels, and where it fails.")
    opened = data.open_workspace()
    if opened is None:
        return
    ws, stamp = opened
    path = str(ws.path)
    picked = judge_runs_picker(path, stamp)
    if picked is None:
        return
    field, runs = picked
    # multiselect options are plain text (no escape): judge names show as they are
    labels = {
        r.run_id: f"{r.judge} ({r.run_id}, {r.n_verdicts} verdicts)" for r in runs.itertuples()
    }
    newest = runs.drop_duplicates("judge")["run_id"].tolist()
    chosen = st.sidebar.multiselect(
        "judge runs", list(labels), default=newest, format_func=labels.__getitem__, key="runs"
    )
    if not chosen:
        st.info("choose at least one judge run in the sidebar")
        return
    run_ids = tuple(chosen)
    assume_random = st.sidebar.checkbox(
        "count gold from no sample as a random sample",
        key="assume_random",
        help="gold labels no sample drew (imported, honeypots): --assume-random",
    )
    rows = data.selected(path, stamp, field, run_ids, assume_random)
    table, columns = rows.table, rows.judges
    for note in rows.notes:
        st.info(md_literal(note))
    if table["gold"].notna().sum() == 0:
        st.warning(f"no {field} gold labels yet: metrics need gold (`safecal annotate gold`)")
        return
    confidence = st.sidebar.select_slider(
        "confidence", data.CONFIDENCES, value=DEFAULT_CONFIDENCE, key="confidence"
    )
    results = {
        c: data.metrics(path, stamp, field, run_ids, c, confidence, assume_random) for c in columns
    }

    st.subheader("Metrics")
    st.dataframe(_metrics_table(results), hide_index=True, width="stretch")
    st.caption(
        f"positive = {', '.join(data.field_positive(field))}; "
        f"{int(confidence * 100)}% intervals, each with its method beside it "
        "(clopper-pearson: exact binomial; mover-: MOVER on the two class rates; "
        "bayes-dirichlet: Dirichlet posterior; newcombe-score: AUROC score interval). "
        "n counts the gold-labeled responses the run judged (calibrate.rows, as "
        "`safecal calibrate judge`); invalid verdicts are counted and left out"
        + ("; weighted by 1 / inclusion probability of the gold sample." if rows.weight else ".")
    )

    focus = (
        st.selectbox("judge to inspect", columns, key="focus") if len(columns) > 1 else columns[0]
    )
    result = results[focus]
    st.subheader(f"Confusion matrix: {md_literal(focus)}")
    conf = result.confusion_full or result.confusion
    st.dataframe(
        pd.DataFrame(
            conf.matrix,
            index=[f"gold {x}" for x in conf.labels],
            columns=[f"judge {x}" for x in conf.labels],
        ),
        width="stretch",
    )

    grid = data.thresholds(path, stamp, field, run_ids, focus, assume_random)
    score_col = f"score:{focus}"
    threshold = None
    if grid is None:
        st.info(f"{md_literal(focus)} gives no scores: no threshold to tune, no ROC / PR curves")
    else:
        st.subheader("Threshold")
        if rows.weight:
            st.caption(
                "the threshold figures are unweighted: they describe the gold sample's "
                "items, not the population the weighted metrics above estimate"
            )
        best = tune_threshold(
            *_y_score(rows.validation(focus), field, score_col), objective="kappa"
        )
        threshold = st.slider(
            "positive when score >= threshold",
            0.0,
            1.0,
            value=round(best.threshold, 2),
            step=0.01,
            key="threshold",
        )
        row = at_threshold(grid, threshold)
        cols = st.columns(4)
        cols[0].metric("Cohen's kappa", _num(row["cohen_kappa"]))
        cols[1].metric("F1", _num(row["f1"]))
        cols[2].metric("false-positive rate", _num(row["fpr"]))
        cols[3].metric("false-negative rate", _num(row["fnr"]))
        st.caption(
            f"tp {row['tp']:.0f}, fp {row['fp']:.0f}, fn {row['fn']:.0f}, "
            f"tn {row['tn']:.0f} on the gold-labeled responses; kappa is highest at "
            f"threshold {best.threshold:.3f} (kappa {best.value:.3f})."
        )
        curves = grid.assign(tpr=1 - grid["fnr"], precision=grid["tp"] / (grid["tp"] + grid["fp"]))
        left, right = st.columns(2)
        with left:
            st.markdown("**ROC curve**")
            st.altair_chart(
                _curve(
                    curves,
                    "fpr",
                    "tpr",
                    "false-positive rate",
                    "true-positive rate",
                    row["fpr"],
                    1 - row["fnr"],
                ),
                width="stretch",
            )
        with right:
            st.markdown("**Precision-recall curve**")
            st.altair_chart(
                _curve(
                    curves,
                    "tpr",
                    "precision",
                    "recall",
                    "precision",
                    1 - row["fnr"],
                    _precision(row),
                ),
                width="stretch",
            )

    st.subheader("Per slice: level-1 category x modality")
    c1, c2 = st.columns(2)
    metric = c1.selectbox("metric", GRID_METRICS, key="grid_metric")
    language = c2.selectbox("language", ("all", "en", "zh"), key="grid_language")
    cells = data.grid(path, stamp, field, run_ids, focus, metric, language, assume_random)
    if cells.empty:
        st.info("no gold labels in this language")
    else:
        heat = (
            alt.Chart(cells)
            .mark_rect()
            .encode(
                x=alt.X("modality:N", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("level1_category:N", title=None, axis=alt.Axis(labelLimit=200)),
                color=alt.Color("value:Q", title=metric, scale=alt.Scale(scheme="viridis")),
                tooltip=[
                    "level1_category",
                    "modality",
                    alt.Tooltip("value:Q", format=".3f"),
                    alt.Tooltip("low:Q", format=".3f"),
                    alt.Tooltip("high:Q", format=".3f"),
                    "n",
                ],
            )
        )
        text = heat.mark_text(baseline="middle").encode(
            text=alt.Text("value:Q", format=".2f"), color=alt.value("white")
        )
        height = 60 * cells["level1_category"].nunique()
        st.altair_chart(
            (heat + text).properties(height=height), width="stretch", height=height + 60
        )
        st.dataframe(cells, hide_index=True, width="stretch")

    _probes(path, stamp, dict(zip(columns, run_ids, strict=True))[focus], focus)

    st.subheader("Errors")
    _errors(rows.validation(focus), field, focus, score_col, threshold, path, stamp)


def _y_score(table: pd.DataFrame, field: str, score: str) -> tuple[pd.Series, pd.Series]:
    rows = table[table["gold"].notna() & table[score].notna()]
    return rows["gold"].isin(data.field_positive(field)), rows[score].astype(float)


def _precision(row: dict[str, float]) -> float:
    called = row["tp"] + row["fp"]
    return row["tp"] / called if called else math.nan


def _num(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.3f}"


def _curve(
    df: pd.DataFrame, x: str, y: str, xt: str, yt: str, px: float, py: float
) -> alt.LayerChart:
    line = (
        alt.Chart(df)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X(f"{x}:Q", title=xt, scale=alt.Scale(domain=[0, 1])),
            y=alt.Y(f"{y}:Q", title=yt, scale=alt.Scale(domain=[0, 1])),
            order="threshold:Q" if x == "fpr" else alt.Order("threshold:Q", sort="descending"),
        )
    )
    point = (
        alt.Chart(pd.DataFrame({x: [px], y: [py]}))
        .mark_point(size=120, color="red", filled=True)
        .encode(x=f"{x}:Q", y=f"{y}:Q")
    )
    return line + point


def _errors(
    table: pd.DataFrame,
    field: str,
    judge: str,
    score: str,
    threshold: float | None,
    path: str,
    stamp: data.Stamp,
) -> None:
    """False positives / negatives of ``judge`` (at the slider's threshold when scored)."""
    positive = data.field_positive(field)
    gold = table[table["gold"].notna()].copy()
    gold["gold_positive"] = gold["gold"].isin(positive)
    if threshold is not None:
        gold = gold[gold[score].notna()]
        gold["judge_positive"] = gold[score].astype(float) >= threshold
    else:
        verdict = normalize_labels(gold[judge])
        gold = gold[verdict.notna() & (gold[judge] != "(invalid)")]
        gold["judge_positive"] = gold[judge].isin(positive)
    kind = st.radio(
        "show", ("false positives", "false negatives"), horizontal=True, key="error_kind"
    )
    want = (
        (~gold["gold_positive"] & gold["judge_positive"])
        if kind == "false positives"
        else (gold["gold_positive"] & ~gold["judge_positive"])
    )
    errors = gold[want]
    shown = [
        "response_id",
        "item_id",
        "model",
        "language",
        "level1_category",
        "modality",
        "gold",
        judge,
    ] + ([score] if score in errors else [])
    st.caption(
        f"{len(errors)} {kind}"
        + (f" at threshold {threshold:.2f}" if threshold is not None else "")
    )
    if errors.empty:
        return
    st.dataframe(errors[shown], hide_index=True, width="stretch")
    pick = st.selectbox("look at", errors["response_id"].tolist(), key="error_pick")
    if pick:
        show_unit(data.response(path, stamp, str(pick)))


page()
