"""``safecal annotate``: sample, push to Label Studio, pull, adjudicate, gold, export."""

from __future__ import annotations

import argparse

from annotate.cli.common import placeholder_group


def register(subparsers: argparse._SubParsersAction) -> None:
    placeholder_group(subparsers, "annotate", 3, "sample, push, pull, adjudicate, export gold")
