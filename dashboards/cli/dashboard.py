"""``safecal dashboard``: the Streamlit app over the workspace."""

from __future__ import annotations

import argparse

from annotate.cli.common import placeholder_group


def register(subparsers: argparse._SubParsersAction) -> None:
    placeholder_group(subparsers, "dashboard", 6, "Streamlit pages over the workspace")
