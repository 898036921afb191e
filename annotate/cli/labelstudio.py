"""``safecal labelstudio``: start, stop and check a local Label Studio server."""

from __future__ import annotations

import argparse

from annotate.cli.common import placeholder_group


def register(subparsers: argparse._SubParsersAction) -> None:
    placeholder_group(subparsers, "labelstudio", 3, "start/stop/status of a local Label Studio")
