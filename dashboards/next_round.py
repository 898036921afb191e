"""The "label these next" section of the Results page: the projected interval width per
cell after N more labels (proportional versus ``annotate next``'s design) and a button that
draws and records the round, as ``safecal annotate next`` does.

A module of its own (not a page) so the Results page only calls :func:`section`."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from safecal.annotate.errors import InputError
from safecal.annotate.next_round import DEFAULT_BY, GOALS, draw_next
from safecal.annotate.rounds import STRATUM_COLUMNS
from safecal.annotate.store import Workspace
from safecal.dashboards import data
from safecal.dashboards.text import md_literal

SHOWN = {
    "stratum": "stratum",
    "gold": "gold now",
    "proportional": "labels (proportional)",
    "proposed": "labels (next round)",
    "width_now": "width now",
    "width_proportional": "width after (proportional)",
    "width_proposed": "width after (next round)",
}


def _chart(strata: pd.DataFrame) -> alt.Chart:
    long = strata.melt(
        id_vars="stratum",
        value_vars=["width_proportional", "width_proposed"],
        var_name="design",
        value_name="width",
    )
    long["design"] = long["design"].map(
        {"width_proportional": "proportional", "width_proposed": "next round"}
    )
    return (
        alt.Chart(long)
        .mark_point(filled=True)
        .encode(
            y=alt.Y("stratum:N", title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X("width:Q", title="projected interval width", scale=alt.Scale(domain=[0, 1])),
            color="design:N",
        )
    )


def section(ws: Workspace, stamp: data.Stamp, confidence: float) -> None:
    """Projection table and chart, then the button that records the round."""
    st.subheader("Where to label next")
    path = str(ws.path)
    cols = st.columns(3)
    n = int(cols[0].number_input("labels", min_value=1, value=100, step=10, key="next_n"))
    by = cols[1].multiselect(
        "strata", list(STRATUM_COLUMNS), default=list(DEFAULT_BY), key="next_by"
    )
    goal = cols[2].radio("goal", GOALS, horizontal=True, key="next_goal")
    try:
        plan = data.next_plan(path, stamp, n, tuple(by), str(goal), confidence)
    except InputError as exc:
        st.info(md_literal(exc))
        return
    strata = plan.strata
    st.dataframe(
        strata[list(SHOWN)].rename(columns=SHOWN),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(c, format="%.3f") for c in list(SHOWN.values())[1:]
        },
    )
    st.altair_chart(_chart(strata), width="stretch")
    worst_prop = float(strata["width_proportional"].max())
    worst_next = float(strata["width_proposed"].max())
    st.caption(
        f"Projected {int(confidence * 100)}% interval widths (normal approximation) after "
        f"{n} more labels; widest stratum {worst_prop:.3f} spread proportionally, "
        f"{worst_next:.3f} with the next round (annotate.next_round)."
    )
    sample_id = st.text_input(
        "sample id", placeholder="default: next-SEED-UTCTIME", key="next_sample_id"
    )
    seed = int(st.number_input("seed", min_value=0, value=0, step=1, key="next_seed"))
    if st.button("label these next", key="next_draw", type="primary"):
        try:
            res = draw_next(
                ws,
                n=n,
                by=tuple(by),
                goal=str(goal),
                confidence=confidence,
                seed=seed,
                sample_id=sample_id.strip() or None,
            )
        except InputError as exc:
            st.error(md_literal(exc))
            return
        st.success(
            f"round {res.round}: sample {md_literal(res.sample_id)} with "
            f"{len(res.sample)} responses; assign it with "
            f"`safecal annotate assign {md_literal(res.sample_id)} --annotators ...`"
        )
