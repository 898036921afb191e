"""Annotation page: progress per annotator and queue, honeypot accuracy, agreement per
slice with intervals, and the units waiting for adjudication."""

from __future__ import annotations

import streamlit as st

from safecal.calibrate.render import format_estimate
from safecal.dashboards import data
from safecal.dashboards.widgets import field_picker

SLICES = ("language", "model", "modality", "level1_category", "aspect")


def page() -> None:
    st.title("Annotation")
    st.caption("How far labeling has come, how good it is, and what waits for a reviewer.")
    opened = data.open_workspace()
    if opened is None:
        return
    ws, stamp = opened
    path = str(ws.path)
    field = field_picker(path, stamp)

    progress = data.progress(path, stamp)
    queue = data.review_queue(path, stamp)
    cols = st.columns(4)
    cols[0].metric("labels", int(progress["done"].sum()) if len(progress) else 0)
    cols[1].metric("annotators", progress["annotator"].nunique() if len(progress) else 0)
    remaining = progress["remaining"].dropna()
    cols[2].metric("remaining in queues", int(remaining.sum()) if len(remaining) else "n/a")
    cols[3].metric("awaiting adjudication", len(queue))

    st.subheader("Progress per annotator and task")
    if progress.empty:
        st.info("no labels yet: push a sample to Label Studio and pull, or import labels")
    else:
        st.dataframe(
            progress,
            hide_index=True,
            width="stretch",
            column_config={
                "share_done": st.column_config.ProgressColumn(
                    "share done", min_value=0, max_value=1, format="percent"
                ),
                "done": st.column_config.NumberColumn("done (all units)"),
                "outside_queue": st.column_config.NumberColumn(
                    "of which outside the queue",
                    help="labels on units not in this annotator's queue (imported beside it)",
                ),
                "median_seconds": st.column_config.NumberColumn("median s / task", format="%.1f"),
                "rate_per_hour": st.column_config.NumberColumn("tasks / hour", format="%.0f"),
            },
        )

    st.subheader("Honeypot accuracy")
    pots = data.honeypots(path, stamp)
    if pots.empty:
        st.info("no honeypots answered yet")
    else:
        st.dataframe(
            pots,
            hide_index=True,
            width="stretch",
            column_config={
                "accuracy": st.column_config.ProgressColumn(
                    "accuracy", min_value=0, max_value=1, format="percent"
                )
            },
        )

    st.subheader(f"Agreement on {field}, per slice")
    by = st.selectbox("slice by", SLICES, key="agreement_by")
    table = data.agreement_by(path, stamp, field, by)
    if table.empty:
        st.info(f"no {field} labels yet")
    else:
        shown = table[[by, "items", "raters"]].copy()
        for coef in ("krippendorff_alpha", "fleiss_kappa", "gwet_ac1", "percent_agreement"):
            shown[coef] = [
                format_estimate(v, (lo, hi))
                for v, lo, hi in zip(
                    table[coef], table[f"{coef}_low"], table[f"{coef}_high"], strict=True
                )
            ]
        st.dataframe(shown, hide_index=True, width="stretch")
        st.caption(
            f"{int(100 * 0.95)}% bootstrap intervals over items ({data.N_BOOT} "
            "resamples); Krippendorff's alpha is ordinal on the label scale."
        )

    st.subheader("Awaiting adjudication")
    if queue.empty:
        st.success("nothing waits for a reviewer")
    else:
        st.dataframe(queue, hide_index=True, width="stretch")
        st.caption("Settle them one at a time on the Review page.")

    st.subheader("Rounds of active gold selection")
    rounds = data.rounds(path, stamp)
    if rounds.empty:
        st.info("no rounds yet: `safecal annotate next`, or the Results page's button")
    else:
        st.dataframe(rounds, hide_index=True, width="stretch")
        st.caption(
            "Each round is a sample (annotate next); its inclusion probabilities are kept "
            "and the estimates combine the rounds (annotate.rounds)."
        )


page()
