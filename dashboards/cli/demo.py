"""``safecal demo``: the main job on the bundled example."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole loop on the bundled synthetic example",
        description="Build a fresh workspace from the bundled synthetic example and run the "
        "whole loop: ingest, Label Studio, judges, tuning, corrected rates, curation, dashboard.",
    )
    parser.add_argument("--workspace", "-w", default=argparse.SUPPRESS,
                        help="demo workspace folder (default ./safecal-demo; rebuilt each run)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the example (default 0)")
    parser.add_argument("--no-labelstudio", action="store_true",
                        help="build the gold set from the simulated labels without a server")
    parser.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    parser.add_argument("--exit", action="store_true",
                        help="stop the servers and exit after the last step instead of serving")
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from dashboards.demo import DEFAULT_DEMO, run_demo

    run_demo(getattr(args, "workspace", None) or DEFAULT_DEMO, seed=args.seed,
             labelstudio=not args.no_labelstudio, dashboard=not args.no_dashboard,
             wait=not args.exit)
    return 0
