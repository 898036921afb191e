"""The safecal dashboard: a Streamlit multipage app over one workspace.

Run it with ``safecal dashboard`` (or :func:`dashboards.launch`); by hand:
``streamlit run dashboards/app.py -- --workspace PATH``. The workspace comes from
``--workspace`` after ``--``, else ``$SAFECAL_WORKSPACE``, else ``./safecal-workspace``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "pages"

#: (file, title, icon) in navigation order; the first is the default page
PAGE_LIST = (
    ("annotation.py", "Annotation", ":material/group:"),
    ("review.py", "Review", ":material/gavel:"),
    ("calibration.py", "Judge calibration", ":material/tune:"),
    ("results.py", "Results", ":material/bar_chart:"),
    ("curation.py", "Curation", ":material/filter_alt:"),
)


def _workspace_argument(argv: list[str]) -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--workspace", "-w", default=None)
    known, _ = parser.parse_known_args(argv)
    return known.workspace


def main() -> None:
    st.set_page_config(page_title="safecal", layout="wide")
    if "workspace" not in st.session_state:
        from safecal.annotate.store import resolve_workspace

        chosen = _workspace_argument(sys.argv[1:])
        st.session_state["workspace"] = str(resolve_workspace(chosen).absolute())
    pages = [
        st.Page(PAGES / file, title=title, icon=icon, default=i == 0)
        for i, (file, title, icon) in enumerate(PAGE_LIST)
    ]
    nav = st.navigation(pages)
    st.sidebar.caption("workspace")
    st.sidebar.text(st.session_state["workspace"])
    nav.run()


main()
