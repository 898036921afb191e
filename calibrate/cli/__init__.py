"""``safecal calibrate``: one group whose subcommands come from three modules.

* :mod:`calibrate.cli.stats`: ``agreement``, ``judge``, ``estimate`` (statistics)
* :mod:`calibrate.cli.judging`: ``run``, ``tune``, ``report`` (judges)
* :mod:`calibrate.cli.probes`: ``probe`` (transformed responses re-judged)
"""

from __future__ import annotations

import argparse

from safecal.calibrate.cli import judging, probes, stats


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="agreement, judge validation, corrected rates, judges, tuning, report"
    )
    commands = parser.add_subparsers(dest="calibrate_command", metavar="COMMAND", required=True)
    stats.register(commands)
    judging.register(commands)
    probes.register(commands)
