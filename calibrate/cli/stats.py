"""``safecal calibrate agreement | judge | estimate``."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Filled by the calibration-statistics issue (4)."""
