"""The ``safecal`` command.

The most downstream package assembles every stage's command groups, so the
one-way flow annotate -> calibrate -> dashboards holds for the command line too.
A user error (:class:`annotate.errors.InputError`) prints its message and exits
with status 2, never a traceback. A write the workspace database refuses (disk full,
a lock held too long by another program) exits with status 1 and says so: every write
is one transaction, so what was committed before stays and a rerun resumes from it.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from collections.abc import Sequence

from annotate.errors import InputError

#: (module with ``register(subparsers)``) in the order ``--help`` lists them.
GROUPS: tuple[str, ...] = (
    "annotate.cli.ingest",
    "annotate.cli.annotate",
    "annotate.cli.labelstudio",
    "calibrate.cli",
    "calibrate.cli.curate",
    "dashboards.cli.dashboard",
    "dashboards.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safecal",
        description="Measure automatic safety judges against human labels.",
    )
    parser.add_argument(
        "--workspace",
        "-w",
        default=None,
        help="workspace folder (default: $SAFECAL_WORKSPACE or ./safecal-workspace)",
    )
    subparsers = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for name in GROUPS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.Error as exc:
        print(f"error: the workspace database refused a change ({type(exc).__name__}: {exc}); "
              "what was committed before is kept: fix the cause (disk space, another program "
              "holding the database) and rerun the same command to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
