"""Results page: each target model's attack-success (or refusal) rate, raw judge versus
corrected (PPI++), with intervals, as the benchmark's 12-cell table and as charts."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
from safecal.annotate.errors import InputError
from safecal.calibrate.render import format_cell, format_estimate
from safecal.calibrate.slices import MEAN_OF_CELLS, POOLED
from safecal.dashboards import data
from safecal.dashboards.next_round import section as next_round_section
from safecal.dashboards.text import md_literal, safe_file_name
from safecal.dashboards.widgets import csv_download, judge_runs_picker

ESTIMATES = {"judge_rate": "raw judge", "human_rate": "human only", "corrected": "corrected"}


def _long(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, cell, estimate) for the charts."""
    parts = []
    for name, label in ESTIMATES.items():
        part = cells[["model", "cell", "level1_category", "modality"]].copy()
        part["estimate"] = label
        part["rate"] = cells[name]
        part["low"] = cells[f"{name}_low"]
        part["high"] = cells[f"{name}_high"]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _bars(df: pd.DataFrame, *, column: str, title: str) -> alt.LayerChart:
    base = alt.Chart(df).encode(
        x=alt.X("estimate:N", title=None, sort=list(ESTIMATES.values())),
        color=alt.Color("estimate:N", sort=list(ESTIMATES.values())),
    )
    bars = base.mark_bar().encode(y=alt.Y("rate:Q", title=title, scale=alt.Scale(domain=[0, 1])))
    rule = base.mark_rule(color="black").encode(y="low:Q", y2="high:Q")
    return (bars + rule).facet(column=alt.Column(f"{column}:N", title=None))


def _shown(rows: pd.DataFrame) -> pd.DataFrame:
    """Counts, then each estimate as ``value [low, high]``."""
    shown = rows[["model", "cell", "n_labeled", "n_unlabeled", "n_invalid"]].copy()
    for name, label in ESTIMATES.items():
        shown[label] = [
            format_estimate(v, (lo, hi))
            for v, lo, hi in zip(rows[name], rows[f"{name}_low"], rows[f"{name}_high"], strict=True)
        ]
    if "fallback" in rows.columns:
        borrowed = rows["borrowed"] if "borrowed" in rows.columns else [False] * len(rows)
        shown["from"] = [
            "human only" if fb else "borrowed" if b else "own labels"
            for fb, b in zip(rows["fallback"].notna(), borrowed, strict=True)
        ]
    return shown


def _paper(
    path: str, stamp: data.Stamp, run_id: str, confidence: float, assume_random: bool
) -> None:
    """The paper's table (``safecal calibrate table``): both rates per model, side by
    side, with its Markdown / LaTeX / CSV exports."""
    from safecal.calibrate.paper import render_paper

    # the run's judge: its newest run per field, as `calibrate table --run JUDGE`
    judge = data.runs_by_id(path, stamp).get(run_id, run_id)
    try:
        table = data.paper(path, stamp, judge, confidence, assume_random)
    except InputError as exc:
        st.info(md_literal(exc))
        return
    st.subheader("Attack-success and over-refusal rates (the paper's table)")
    shown = pd.DataFrame(
        [[format_cell(c) for c in r] for r in table.cells()], columns=table.headers()
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    cols = st.columns(3)
    for col, (fmt, ext, mime) in zip(
        cols,
        (
            ("markdown", "md", "text/markdown"),
            ("latex", "tex", "text/x-tex"),
            ("csv", "csv", "text/csv"),
        ),
        strict=True,
    ):
        col.download_button(
            f"download ({fmt})",
            render_paper(table, fmt=fmt),
            file_name=f"rates-{safe_file_name(judge)}.{ext}",
            mime=mime,
            key=f"paper_{fmt}",
        )


def page() -> None:
    st.title("Results")
    st.caption(
        "Each target model's rate, as the judge says and corrected by the human gold "
        "labels, with intervals."
    )
    opened = data.open_workspace()
    if opened is None:
        return
    ws, stamp = opened
    path = str(ws.path)
    picked = judge_runs_picker(path, stamp)
    if picked is None:
        return
    field, runs = picked
    labels = {r.run_id: f"{r.judge} ({r.run_id})" for r in runs.itertuples()}
    run_id = st.sidebar.selectbox(
        "judge run", list(labels), format_func=labels.__getitem__, key="results_run"
    )
    if run_id is None:
        return
    confidence = st.sidebar.select_slider(
        "confidence", data.CONFIDENCES, value=DEFAULT_CONFIDENCE, key="confidence"
    )
    assume_random = st.sidebar.checkbox(
        "count gold from no sample as a random sample",
        key="assume_random",
        help="gold labels no sample drew (imported, honeypots): --assume-random",
    )
    try:
        notes = data.estimate_input(path, stamp, field, run_id, assume_random).notes
        totals = data.model_rates(path, stamp, field, run_id, confidence, assume_random)
    except InputError as exc:
        st.error(md_literal(exc))
        return
    for note in notes:
        st.info(md_literal(note))
    rate = data.rate_name(field)

    st.subheader(f"{rate.capitalize()} per target model")
    st.dataframe(_shown(totals), hide_index=True, width="stretch")
    st.altair_chart(_bars(_long(totals), column="model", title=rate), width="content")

    st.subheader("The benchmark's 12 cells (level-1 category x modality combination)")
    model = st.selectbox("target model", sorted(totals["model"]), key="results_model")
    cells = data.cells(path, stamp, field, run_id, confidence, model, assume_random)
    st.dataframe(
        _shown(cells[cells["cell"].isin([POOLED, MEAN_OF_CELLS])]), hide_index=True, width="stretch"
    )
    mine = cells[~cells["cell"].isin([POOLED, MEAN_OF_CELLS])]
    which = st.radio(
        "estimate", list(ESTIMATES.values()), index=2, horizontal=True, key="results_estimate"
    )
    name = {v: k for k, v in ESTIMATES.items()}[which]
    grid = mine.pivot(index="level1_category", columns="modality", values=name)
    st.dataframe(grid.style.format("{:.3f}", na_rep="n/a"), width="stretch")
    chart = _long(mine)
    st.altair_chart(
        alt.Chart(chart)
        .mark_point(filled=True)
        .encode(
            y=alt.Y("cell:N", title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X("rate:Q", title=rate, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("estimate:N", sort=list(ESTIMATES.values())),
            yOffset="estimate:N",
        )
        + alt.Chart(chart)
        .mark_rule()
        .encode(
            y="cell:N",
            x="low:Q",
            x2="high:Q",
            color=alt.Color("estimate:N", sort=list(ESTIMATES.values())),
            yOffset="estimate:N",
        ),
        width="stretch",
    )
    with st.expander(f"{md_literal(model)}: every cell, every estimate"):
        st.dataframe(cells, hide_index=True, width="stretch")
    csv_download(
        "download the cells (CSV)",
        cells,
        f"cells-{safe_file_name(field)}-{safe_file_name(model)}.csv",
        key="cells_csv",
    )
    st.caption(
        f"{int(confidence * 100)}% intervals: Wilson for the raw judge and human-only "
        "rates; the corrected rate is PPI++ written by the judge's verdict with Beta "
        "posteriors (calibrate.ppi), and in each cell the judge's error is pooled across "
        "the model's cells (empirical Bayes, the between-cell spread in the interval), so "
        "a cell with few or no gold labels still gets an honest interval. `from`: "
        "`borrowed` = more than half of the cell's judge error comes from the other "
        "cells; `human only` = the judge did not narrow the interval, so the human-only "
        "rate is shown. `total (pooled)`: one rate over all responses; "
        "`total (mean of cells)`: the unweighted mean of the cells, each with its own "
        "judge error (stratified), the pool only where a cell has no label on a verdict."
    )
    next_round_section(ws, stamp, confidence)
    _paper(path, stamp, run_id, confidence, assume_random)


page()
