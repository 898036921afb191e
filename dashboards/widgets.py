"""Small display helpers shared by the pages. Untrusted text (queries, responses,
labels, names) goes through ``st.text`` / ``st.dataframe`` / ``st.code``, which do not
interpret HTML or Markdown, or through :func:`dashboards.text.md_literal` where it is
interpolated into Markdown (captions, alerts, labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from safecal.annotate.spreadsheet import table_to_csv
from safecal.dashboards import data
from safecal.dashboards.text import md_literal


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
            st.image(image, caption=f"item {md_literal(row['item_id'])}", width="stretch")
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


def csv_download(label: str, table: pd.DataFrame, file_name: str, *, key: str) -> None:
    """A download button for ``table`` as CSV. Its text comes from models, people and files,
    so cells a spreadsheet would run as formulas get a leading ``'``
    (:mod:`annotate.spreadsheet`) unless the reader ticks the box beside it."""
    keep = st.checkbox(
        "keep formulas",
        key=f"{key}_keep_formulas",
        help="download text starting with = + - @ exactly as it is",
    )
    st.download_button(
        label,
        table_to_csv(table, keep_formulas=keep),
        file_name=file_name,
        mime="text/csv",
        key=key,
        help="Text cells starting with = + - @ get a leading ' so that a spreadsheet shows "
        "them as text instead of running them as formulas (unless 'keep formulas' is ticked).",
    )
