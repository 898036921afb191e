"""Small display helpers shared by the pages. Untrusted text (queries, responses,
labels) only ever goes through ``st.text`` / ``st.dataframe`` / ``st.code``, which do not
interpret HTML or Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from safecal.dashboards import data


def field_picker(path: str, stamp: data.Stamp, *, key: str = "field") -> str:
    fields = data.fields_with_data(path, stamp)
    return str(
        st.sidebar.selectbox(
            "field",
            fields,
            key=key,
            help="harmfulness: vulnerability items; refusal: over-refusal items",
        )
    )


def judge_runs_picker(path: str, stamp: data.Stamp) -> tuple[str, Any] | None:
    """The chosen field and the judge runs that have verdicts on it; ``None`` (after a hint
    on the page) when there is none yet."""
    field = field_picker(path, stamp)
    runs = data.runs(path, stamp, field)
    if runs.empty:
        st.info(f"no judge run has {field} verdicts yet: run `safecal calibrate run`")
        return None
    return field, runs


def show_unit(row: dict[str, Any]) -> None:
    """The image, the query in English and Chinese, and the response, side by side."""
    left, right = st.columns([2, 3])
    with left:
        image = row.get("image_path")
        if image and Path(image).exists():
            st.image(image, caption=f"item {row['item_id']}", width="stretch")
        else:
            st.info("no image for this item")
        st.text(
            f"{row.get('level1_category')} / {row.get('level2_category')} / "
            f"{row.get('level3_category')} · {row.get('modality')}"
        )
    with right:
        st.markdown("**Query (English)**")
        st.text(str(row.get("text") or ""))
        st.markdown("**Query (Chinese)**")
        st.text(str(row.get("text_zh") or "(none)"))
        st.markdown("**Response**")
        st.text(f"model {row.get('model')}, language {row.get('language')}")
        st.text(str(row.get("response") or ""))
