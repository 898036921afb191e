"""``safecal calibrate run | tune | report``."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Filled by the judges-and-tuning issue (5)."""
