"""Review page: one disagreement at a time (image, query in English and Chinese,
response, every annotator's label side by side); the reviewer sets the gold label,
stored in the workspace with who and when.

Keyboard: ``1`` / ``2`` / ``3`` choose a label (and save it), ``N`` / ``P`` move to the
next / previous unit.
"""

from __future__ import annotations

import os

import streamlit as st

from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES
from safecal.annotate.review_decisions import record_decision
from safecal.dashboards import data
from safecal.dashboards.text import md_literal
from safecal.dashboards.widgets import show_unit


def _move(step: int, n: int) -> None:
    st.session_state["review_pos"] = (st.session_state.get("review_pos", 0) + step) % max(n, 1)


def page() -> None:
    st.title("Review")
    st.caption("Settle disagreements: one unit at a time; the label you choose becomes gold.")
    opened = data.open_workspace()
    if opened is None:
        return
    ws, stamp = opened
    path = str(ws.path)
    reviewer = st.sidebar.text_input(
        "reviewer",
        key="reviewer",
        value=os.environ.get("SAFECAL_REVIEWER", ""),
        help="your name or email: stored with each gold label",
    )
    last = st.session_state.get("review_saved")
    if last:
        st.success(last)

    queue = data.review_queue(path, stamp)
    fields = sorted(queue["field"].unique()) if len(queue) else []
    if not fields:
        st.info("no unit waits for adjudication")
        return
    field = st.sidebar.selectbox("field", fields, key="review_field")
    queue = queue[queue["field"] == field].reset_index(drop=True)
    n = len(queue)
    pos = min(st.session_state.get("review_pos", 0), n - 1)
    st.session_state["review_pos"] = pos

    nav = st.columns([1, 1, 4])
    nav[0].button("Previous (P)", key="prev", shortcut="P", on_click=_move, args=(-1, n))
    nav[1].button("Next (N)", key="next", shortcut="N", on_click=_move, args=(1, n))
    unit = queue.iloc[pos]
    nav[2].markdown(f"unit **{pos + 1} of {n}** · reason: {md_literal(unit['reason'])}")

    row = data.response(path, stamp, str(unit["response_id"]))
    show_unit(row)

    st.subheader("Annotators' labels")
    st.dataframe(
        data.unit_labels(path, stamp, str(unit["response_id"]), field),
        hide_index=True,
        width="stretch",
    )

    st.subheader("Gold label")
    scale = SCALES[field]
    buttons = st.columns(len(scale))
    for i, (col, label) in enumerate(zip(buttons, scale, strict=True)):
        if col.button(
            f"{i + 1}: {label}", key=f"gold_{label}", shortcut=str(i + 1), width="stretch"
        ):
            if not reviewer.strip():
                st.error(
                    "enter your name as reviewer (sidebar) first: gold labels record "
                    "who decided them"
                )
                return
            try:
                when = record_decision(
                    ws, str(unit["response_id"]), field, label, reviewer=reviewer
                )
            except InputError as exc:
                st.error(md_literal(exc))
                return
            st.session_state["review_saved"] = (  # Markdown: the names as code spans
                f"gold {field} of {md_literal(unit['response_id'])} set to {label} by "
                f"{md_literal(reviewer.strip())} at {md_literal(when)}"
            )
            st.session_state["review_pos"] = min(pos, max(n - 2, 0))
            st.rerun()


page()
