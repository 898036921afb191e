"""``safecal demo``: the main job on the bundled example."""

from __future__ import annotations

import argparse

from annotate.cli.common import placeholder_group


def register(subparsers: argparse._SubParsersAction) -> None:
    placeholder_group(subparsers, "demo", 2, "run the whole loop on the bundled example")
