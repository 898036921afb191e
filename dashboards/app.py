"""The safecal dashboard: a Streamlit multipage app over one workspace.

Run it with ``safecal dashboard`` (or :func:`dashboards.launch`); by hand:
``streamlit run dashboards/app.py -- --workspace PATH``. The workspace comes from
``--workspace`` after ``--``, else ``$SAFECAL_WORKSPACE``, else ``./safecal-workspace``
(:func:`dashboards.data.workspace_path`).

The pages live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder
beside the main script as its older folder-based navigation and, on a session's first
request for a page URL, runs that page's file alone (file names in the sidebar, this
script skipped). Without that folder, every request runs this script and its
:func:`st.navigation`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "app_pages"

#: (file, title, icon) in navigation order; the first is the default page
PAGE_LIST = (
    ("annotation.py", "Annotation", ":material/group:"),
    ("review.py", "Review", ":material/gavel:"),
    ("calibration.py", "Judge calibration", ":material/tune:"),
    ("results.py", "Results", ":material/bar_chart:"),
    ("curation.py", "Curation", ":material/filter_alt:"),
)


def main() -> None:
    st.set_page_config(page_title="safecal", layout="wide")
    from safecal.annotate.store import Workspace
    from safecal.dashboards.data import workspace_path

    workspace = workspace_path()  # each page resolves it the same way when it runs alone
    pages = [
        st.Page(PAGES / file, title=title, icon=icon, default=i == 0)
        for i, (file, title, icon) in enumerate(PAGE_LIST)
    ]
    nav = st.navigation(pages)
    st.sidebar.caption("workspace")
    st.sidebar.text(Workspace.at(workspace).location)  # a database: its URL, no password
    nav.run()


main()
