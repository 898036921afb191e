"""``safecal ingest inspect | promptfoo``: an evaluation harness's responses and verdicts.

Registered under ``safecal ingest`` by the top-level command line (this module sits in
calibrate because the verdicts become a judge run); the work is :mod:`calibrate.onramps`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from safecal.annotate.cli.common import open_workspace, workspace_parent

LANGUAGE_HELP = "language of the responses when the sample does not say (metadata / vars language)"


def register(commands: argparse._SubParsersAction) -> None:
    parent = workspace_parent()
    p = commands.add_parser(
        "inspect",
        parents=[parent],
        help="an inspect_ai eval log: its responses, and its scorer's verdicts as a judge run",
        description="Read inspect_ai evaluation logs (.eval or .json): each sample's output "
        "becomes a response of the log's model, and the scorer's value on it a verdict of "
        "an imported judge run (named after the scorer, with the scorer's model). The item "
        "id is the sample's metadata item_id, else its id.",
    )
    p.add_argument("logs", nargs="+", metavar="LOG", help="inspect_ai log file(s)")
    p.add_argument(
        "--scorer", help="the scorer whose values are the verdicts (default: the only one)"
    )
    p.add_argument(
        "--id-field",
        default="item_id",
        help="sample metadata key holding the workspace's item id (else the sample id)",
    )
    _common(p)
    p.set_defaults(func=_inspect)

    p = commands.add_parser(
        "promptfoo",
        parents=[parent],
        help="promptfoo results JSON: its responses, and its grading as a judge run",
        description="Read the file `promptfoo eval --output results.json` writes: each "
        "result's output becomes a response of its provider, and its grading (pass / fail, "
        "mapped with --label-map) a verdict of an imported judge run. The item id is the "
        "test's item_id var.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="promptfoo results JSON file(s)")
    p.add_argument("--id-var", default="item_id", help="test variable holding the item id")
    _common(p)
    p.set_defaults(func=_promptfoo)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--label-map",
        action="append",
        metavar="VALUE=LABEL",
        help="what a verdict value means, e.g. C=unsafe, fail=unsafe (repeatable; a value "
        "that is a label already needs none)",
    )
    p.add_argument("--language", default="en", choices=("en", "zh"), help=LANGUAGE_HELP)
    p.add_argument("--name", help="the judge's name in reports (default: the harness and scorer)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="overwrite responses already in the workspace whose text changed",
    )


def _report(result: Any) -> None:
    print(result.responses.summary())
    run = result.run
    print(f"run {run.run_id}: {run.n_cases - run.n_skipped} verdicts, {run.n_invalid} invalid")
    for line in result.skipped[:10]:
        print(f"warning: skipped {line}", file=sys.stderr)
    if len(result.skipped) > 10:
        print(f"warning: and {len(result.skipped) - 10} more skipped", file=sys.stderr)


def _inspect(args: argparse.Namespace) -> int:
    from safecal.calibrate.onramps import ingest_harness_rows, parse_label_map, read_inspect_log

    ws = open_workspace(args)
    label_map = parse_label_map(args.label_map)
    for log in args.logs:
        rows = read_inspect_log(
            log, scorer=args.scorer, id_field=args.id_field, language=args.language
        )
        _report(
            ingest_harness_rows(ws, rows, label_map=label_map, name=args.name, replace=args.replace)
        )
    return 0


def _promptfoo(args: argparse.Namespace) -> int:
    from safecal.calibrate.onramps import ingest_harness_rows, parse_label_map, read_promptfoo

    ws = open_workspace(args)
    label_map = parse_label_map(args.label_map)
    for file in args.files:
        rows = read_promptfoo(file, id_var=args.id_var, language=args.language)
        _report(
            ingest_harness_rows(ws, rows, label_map=label_map, name=args.name, replace=args.replace)
        )
    return 0
