"""The ``safecal`` command: every stage's command groups, and ``safecal demo``.

Each stage parses its own commands in its ``cli`` package (``annotate/cli``,
``calibrate/cli``, ``dashboards/cli``); this module sits above all three and
assembles them, so the one-way flow annotate -> calibrate -> dashboards holds for
the command line too. A user error (:class:`safecal.annotate.errors.InputError`)
prints its message and exits with status 2, never a traceback. A write the workspace
database refuses (disk full, a lock held too long by another program) exits with
status 1 and says so: every write is one transaction, so what was committed before
stays and a rerun resumes from it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from safecal.annotate.cli.common import Parser
from safecal.annotate.errors import InputError

#: (module with ``register(subparsers)``) in the order ``--help`` lists them.
GROUPS: tuple[str, ...] = (
    "safecal.annotate.cli.ingest",
    "safecal.annotate.cli.annotate",
    "safecal.annotate.cli.labelstudio",
    "safecal.calibrate.cli",
    "safecal.calibrate.cli.curate",
    "safecal.dashboards.cli.dashboard",
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="safecal",
        description="Measure automatic safety judges against human labels.",
    )
    parser.add_argument(
        "--workspace",
        "-w",
        default=None,
        help=(
            "workspace folder, or postgresql://USER@HOST[:PORT]/DB with its files in "
            "$SAFECAL_FILES (default: $SAFECAL_WORKSPACE or ./safecal-workspace)"
        ),
    )
    subparsers = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for name in GROUPS:
        importlib.import_module(name).register(subparsers)
    # the harness on-ramps read responses and verdicts: listed under ingest, built in calibrate
    importlib.import_module("safecal.calibrate.cli.onramps").register(
        _commands_of(subparsers.choices["ingest"])
    )
    register_demo(subparsers)
    return parser


def _commands_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The subcommands action of a command group (to add commands from another stage)."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole loop on the bundled synthetic example",
        description="Build a fresh workspace from the bundled synthetic example and run the "
        "whole loop: ingest, Label Studio, judges, tuning, corrected rates, curation, dashboard.",
    )
    parser.add_argument(
        "--workspace",
        "-w",
        default=argparse.SUPPRESS,
        help="demo workspace folder (default ./safecal-demo; rebuilt each run), or "
        "postgresql://USER@HOST[:PORT]/DB: an empty database (or an earlier demo's), its "
        "files in $SAFECAL_FILES, else ./safecal-files",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the example (default 0)")
    parser.add_argument(
        "--no-labelstudio",
        action="store_true",
        help="build the gold set from the simulated labels without a server",
    )
    parser.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    parser.add_argument(
        "--exit",
        action="store_true",
        help="stop the servers and exit after the last step instead of serving",
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from safecal.demo import DEFAULT_DEMO, run_demo

    run_demo(
        getattr(args, "workspace", None) or DEFAULT_DEMO,
        seed=args.seed,
        labelstudio=not args.no_labelstudio,
        dashboard=not args.no_dashboard,
        wait=not args.exit,
    )
    return 0


def _database_errors(integrity: bool = False) -> tuple[type[BaseException], ...]:
    """SQLite's and PostgreSQL's error classes (imported only when an error is raised:
    ``--help`` stays quick)."""
    from safecal.annotate.store import backend

    return backend.integrity_errors() if integrity else backend.database_errors()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except _database_errors() as exc:
        if isinstance(
            exc, _database_errors(integrity=True)
        ):  # checks before writing should catch it
            advice = (
                "a row broke one of the workspace's rules (a duplicate, a missing reference); "
                "safecal's checks should have named it: please report the command"
            )
        else:
            advice = "fix the cause (disk space, another program holding the database)"
        print(
            f"error: the workspace database refused a change ({type(exc).__name__}: {exc}); "
            f"what was committed before is kept: {advice} and rerun the same command to resume",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
