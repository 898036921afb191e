"""``safecal calibrate``: one group whose subcommands come from two modules.

* :mod:`calibrate.cli.stats`: ``agreement``, ``judge``, ``estimate`` (statistics)
* :mod:`calibrate.cli.judging`: ``run``, ``tune``, ``report`` (judges)
"""

from __future__ import annotations

import argparse

from safecal.calibrate.cli import judging, stats


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="agreement, judge validation, corrected rates, judges, tuning, report"
    )
    commands = parser.add_subparsers(dest="calibrate_command", metavar="COMMAND", required=True)
    stats.register(commands)
    judging.register(commands)
