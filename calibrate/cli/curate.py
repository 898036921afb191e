"""``safecal curate``: flag benchmark queries whose labels, images or categories are wrong."""

from __future__ import annotations

import argparse

from annotate.cli.common import placeholder_group


def register(subparsers: argparse._SubParsersAction) -> None:
    placeholder_group(subparsers, "curate", 7, "find the benchmark's weak queries")
