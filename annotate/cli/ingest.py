"""``safecal ingest items | responses``."""

from __future__ import annotations

import argparse

from annotate.cli.common import placeholder_group


def register(subparsers: argparse._SubParsersAction) -> None:
    placeholder_group(subparsers, "ingest", 2, "load benchmark items and model responses")
