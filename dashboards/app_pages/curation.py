"""Curation page: keep / review / drop per query, the evidence, coverage before and after.

A Streamlit page that only calls :mod:`calibrate.curation`. The workspace is
:func:`dashboards.data.workspace_path`'s (the app's ``--workspace``, else
``$SAFECAL_WORKSPACE``, else ``./safecal-workspace``). Everything is shown with
Streamlit's own widgets (no raw HTML), so query texts are never interpreted as markup.
"""

from __future__ import annotations

import streamlit as st

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace
from safecal.calibrate.curation import (
    CurationThresholds,
    coverage_pivot,
    curate_workspace,
    emptied_cells,
    item_evidence,
)
from safecal.dashboards.data import workspace_path
from safecal.dashboards.text import md_literal
from safecal.dashboards.widgets import csv_download


@st.cache_resource(show_spinner="curating ...")
def _curate(path: str, stamp: tuple[int, ...], thresholds: CurationThresholds):  # noqa: ANN202
    """Cached per workspace, database change time and thresholds."""
    return curate_workspace(Workspace.open(path, create=False), thresholds=thresholds)


def page() -> None:
    st.title("Curation")
    st.caption(
        "Benchmark queries whose labels, images, categories or copies make the numbers "
        "lie: keep / review / drop, with the evidence."
    )
    path = workspace_path()
    with st.sidebar:
        st.subheader("Thresholds")
        answer_share = st.slider("annotator share to review", 0.1, 1.0, 0.5, 0.05)
        min_contradicting = st.number_input("annotators needed", 1, 10, 2)
        duplicate_review = st.slider("duplicate similarity to review", 0.5, 1.0, 0.85, 0.01)
        duplicate_drop = st.slider("duplicate similarity to drop", 0.5, 1.0, 0.95, 0.01)
        compare_images = st.checkbox(
            "compare images of duplicate texts", value=True, key="compare_images"
        )
        uniform = st.selectbox("uniform outcomes to review", ("contradicting", "all", "off"))
    try:
        thresholds = CurationThresholds(
            answer_share=answer_share,
            min_contradicting=int(min_contradicting),
            drop_share=max(1.0, answer_share),
            duplicate_review=duplicate_review,
            duplicate_drop=max(duplicate_drop, duplicate_review),
            compare_images=compare_images,
            uniform=uniform,
        )
        ws = Workspace.open(path, create=False)
        result = _curate(str(ws.path), ws.data_stamp(), thresholds)
    except InputError as exc:
        st.error(md_literal(exc))
        return

    counts = result.counts()
    cols = st.columns(3)
    for col, decision in zip(cols, ("keep", "review", "drop"), strict=True):
        col.metric(decision, counts[decision])

    st.subheader("Curation table")
    shown = st.multiselect("decisions", ["drop", "review", "keep"], default=["drop", "review"])
    table = result.table[result.table["decision"].isin(shown)]
    st.dataframe(table, hide_index=True, width="stretch")
    csv_download(
        "download the curation table (CSV)", result.table, "curation.csv", key="curation_csv"
    )

    st.subheader("Evidence for one query")
    flagged = result.table.loc[result.table["decision"] != "keep", "item_id"].tolist()
    choice = st.selectbox("query", flagged or result.table["item_id"].tolist(), key="query")
    if choice:
        st.dataframe(item_evidence(result, choice), hide_index=True, width="stretch")

    st.subheader("Coverage before and after")
    cov = result.coverage
    st.write(
        f"{int((cov['before'] > 0).sum())} of {len(cov)} cells filled before curation, "
        f"{int((cov['after'] > 0).sum())} after."
    )
    emptied = emptied_cells(result)
    if len(emptied):
        st.warning(f"{len(emptied)} cells emptied by curation")
        st.dataframe(emptied, hide_index=True, width="stretch")
    value = st.radio("count", ("before", "after", "after_keep_only"), horizontal=True, index=1)
    st.dataframe(coverage_pivot(cov, value=value), hide_index=True, width="stretch")


page()
