"""``safecal calibrate probe``: re-judge transformed gold responses with a run's judge."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from safecal.annotate.cli.common import encoding_option, open_workspace, workspace_parent
from safecal.annotate.cli.options import whole


def register(commands: argparse._SubParsersAction) -> None:
    from safecal.calibrate.cli.judging import _llm_parent
    from safecal.calibrate.probes import PROBES

    probe = commands.add_parser(
        "probe",
        parents=[workspace_parent(), _llm_parent()],
        help="probe a judge: re-judge transformed gold responses (image removed, refusal "
        "prefix, disclaimer, ...) and report verdict flips",
        description="Transform the gold-labelled responses of a judge run (one "
        "deterministic change per probe), judge the copies with the run's own judge "
        "configuration (through the same cache), and report per probe the verdict flip rate "
        "and the change in accuracy against the gold, with intervals and McNemar's exact "
        "test, per modality combination, language and field, beside the direction a sound "
        "judge should show. Give the run's judge options again (an llm run: --base-url, "
        "--prompt, --text-only as used); the model defaults to the run's.",
    )
    probe.add_argument("--run", required=True, help="judge run id or judge name")
    probe.add_argument(
        "--probe",
        action="append",
        required=True,
        choices=list(PROBES),
        metavar="NAME",
        help=f"a probe to run (repeat for several): {', '.join(PROBES)}",
    )
    probe.add_argument(
        "--phrases",
        action="append",
        metavar="FILE",
        help="keyword: the refusal-phrase file(s) the run used (default: the bundled lists)",
    )
    encoding_option(probe, of="--phrases")
    probe.add_argument(
        "--concurrency", type=whole(1, "calls in flight"), default=64, help="llm: calls in flight"
    )
    probe.add_argument("--no-progress", action="store_true", help="no progress bar")
    probe.add_argument("--json", action="store_true", help="print the results as JSON")
    probe.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    from safecal.calibrate.cli.judging import build_judge
    from safecal.calibrate.probes import run_probes
    from safecal.calibrate.report.data import resolve_run

    ws = open_workspace(args)
    info = resolve_run(ws, args.run)
    args.judge = str(info["kind"])
    args.name = str(info["judge"])
    if args.judge == "llm" and not args.model:
        args.model = info["model"]
    judge = None if args.judge == "imported" else build_judge(args)
    report = run_probes(
        ws,
        judge,
        run=str(info["run_id"]),
        probes=list(dict.fromkeys(args.probe)),
        concurrency=args.concurrency,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print(report.run_id, report.results)
    failed = sum(s.n_failed for s in report.summaries.values())
    if failed:
        print(
            f"{failed} calls failed after retries; rerun the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _print(run_id: str, results: dict[str, dict[str, Any]]) -> None:
    from safecal.calibrate.probes import result_rows
    from safecal.calibrate.render import print_table

    for name, res in results.items():
        rows = [
            [
                r["slice"],
                r["n"],
                r["flip_rate"],
                r["accuracy_change"],
                f"{r['p_value']:.3g}",
                r["expected"],
                r["assessment"],
            ]
            for r in result_rows({name: res})
        ]
        print_table(
            ["slice", "n", "flip rate", "accuracy change", "McNemar p", "expected", "shows"],
            rows,
            title=f"probe {name} of run {run_id} ({res['n_invalid']} pairs with an invalid "
            "verdict left out)",
        )
