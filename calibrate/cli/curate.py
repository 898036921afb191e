"""``safecal curate run | export | coverage | show``: find the benchmark's weak queries.

Every subcommand recomputes the curation from the workspace (read-only; it takes
seconds) with the thresholds given as options, so the same options give the
same table. Heavy imports (scikit-learn, scipy) happen inside the handlers.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from safecal.annotate.cli.common import keep_formulas_option, open_workspace, workspace_parent
from safecal.annotate.cli.options import whole
from safecal.annotate.errors import InputError

_HELP = {
    "answer_share": "share of annotators contradicting an item's labels to send it to review",
    "min_contradicting": "annotators who must contradict it, at least",
    "drop_share": "share of annotators to drop it (risk label; image the risk needs)",
    "drop_min_answers": "annotators who must have answered for a drop",
    "human_disagreement": "share of responses with split human labels to review the query",
    "min_labelled_responses": "responses with two or more labels needed for that signal",
    "judge_disagreement": "share of responses where judge and humans differ to review it",
    "min_judged_responses": "compared responses needed for that signal",
    "disagreement_p": "one-sided binomial p-value (vs the overall rate) a disagreement "
    "must reach to count as concentrated on the query",
    "uniform": "uniform outcomes to review: contradicting (every model complies with a "
    "harmful query / refuses a benign one), all, or off",
    "min_models": "models needed before 'every model ...' counts",
    "duplicate_review": "TF-IDF cosine similarity sending a later copy to review",
    "duplicate_drop": "similarity dropping it",
    "duplicate_languages": "all: a copy must be one in English and in Chinese (lowest "
    "similarity); any: in either (highest)",
    "compare_images": "compare images of near-duplicate texts (same text, other image is noted "
    "as a template, not flagged)",
    "image_distance": "difference-hash distance (of 256 bits) up to which images count as the same",
}


def thresholds_parent() -> argparse.ArgumentParser:
    """Options for every field of :class:`CurationThresholds` (defaults shown in --help)."""
    from safecal.calibrate.curation.thresholds import UNIFORM_MODES, CurationThresholds

    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("thresholds")
    defaults = CurationThresholds()
    for f in fields(CurationThresholds):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            group.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=_HELP[f.name] + " (default: %(default)s)",
            )
        elif f.name == "uniform":
            group.add_argument(
                flag,
                choices=UNIFORM_MODES,
                default=default,
                help=_HELP[f.name] + " (default: %(default)s)",
            )
        elif f.name == "duplicate_languages":
            group.add_argument(
                flag,
                choices=("all", "any"),
                default=default,
                help=_HELP[f.name] + " (default: %(default)s)",
            )
        else:
            group.add_argument(
                flag,
                type=type(default),
                default=default,
                metavar="N",
                help=_HELP[f.name] + " (default: %(default)s)",
            )
    group.add_argument(
        "--judge-run",
        default=None,
        metavar="RUN_ID",
        help="judge run whose verdicts stand in where no gold label exists "
        "(default: the latest run)",
    )
    group.add_argument(
        "--aspect",
        choices=("vulnerability", "overrefusal"),
        default=None,
        help="restrict the coverage view to one aspect",
    )
    return parent


def _result(args: argparse.Namespace):  # -> CurationResult
    from safecal.calibrate.curation import CurationThresholds, curate_workspace

    thresholds = CurationThresholds(
        **{f.name: getattr(args, f.name) for f in fields(CurationThresholds)}
    )
    ws = open_workspace(args)
    return curate_workspace(ws, thresholds=thresholds, judge_run=args.judge_run, aspect=args.aspect)


def _run(args: argparse.Namespace) -> int:
    from safecal.calibrate.curation import summary_text, write_outputs

    if args.push and not args.annotators:
        raise InputError("--push needs --annotators a@x.org,b@x.org (who reviews the queries)")
    result = _result(args)
    print(summary_text(result, top=args.top))
    if args.out:
        written = write_outputs(result, args.out, fmt=args.format, keep_formulas=args.keep_formulas)
        for name, path in written.items():
            print(f"wrote {name}: {path}")
    if args.push:
        from safecal.calibrate.curation.push import push_reviews_to_label_studio

        report = push_reviews_to_label_studio(
            open_workspace(args), result, annotators=args.annotators.split(","), images=args.images
        )
        print(
            f"pushed {len(result.reviews())} review queries: {report.created} tasks created, "
            f"{report.already} already there; projects "
            + ", ".join(
                f"{pid} ({annotator})" for (annotator, _), pid in sorted(report.projects.items())
            )
        )
        print("when the answers are in: `safecal annotate pull`, then `safecal curate run`")
    return 0


def _export(args: argparse.Namespace) -> int:
    from safecal.calibrate.curation import export_table

    result = _result(args)
    frame = {
        "table": result.table,
        "signals": result.signals,
        "duplicates": result.pairs,
        "coverage": result.coverage,
    }[args.what]
    if args.decision and args.what == "table":
        frame = frame[frame["decision"].isin(args.decision)]
    path = export_table(frame, args.file, keep_formulas=args.keep_formulas)
    print(f"wrote {len(frame)} rows ({args.what}) to {path}")
    return 0


def _coverage(args: argparse.Namespace) -> int:
    from safecal.calibrate.curation import export_table

    cov = _result(args).coverage
    filled_before = int((cov["before"] > 0).sum())
    filled_after = int((cov["after"] > 0).sum())
    print(
        f"{len(cov)} cells (level-3 category x modality x language): {filled_before} filled "
        f"before curation, {filled_after} after, {int(cov['emptied'].sum())} emptied, "
        f"{int(cov['at_risk'].sum())} at risk (survive only if their reviews pass)"
    )
    shown = cov[cov["emptied"] | cov["at_risk"]] if not args.all else cov[cov["before"] > 0]
    if len(shown):
        from safecal.calibrate.render import print_table

        print_table(list(shown.columns), shown.to_numpy().tolist())
    if args.out:
        print(f"wrote {export_table(cov, args.out, keep_formulas=args.keep_formulas)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from safecal.calibrate.curation import item_evidence
    from safecal.calibrate.render import print_table

    evidence = item_evidence(_result(args), args.item_id)
    print_table(list(evidence.columns), evidence.to_numpy().tolist())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "curate", help="find the benchmark's weak queries: keep / review / drop, coverage"
    )
    commands = parser.add_subparsers(dest="curate_command", metavar="COMMAND", required=True)
    common = [workspace_parent(), thresholds_parent()]

    run = commands.add_parser(
        "run", parents=common, help="curate the workspace's queries and print a summary"
    )
    run.add_argument(
        "--out",
        metavar="DIR",
        help="write curation, signals, duplicates and coverage tables into DIR",
    )
    run.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default="csv",
        help="file format with --out (default: csv)",
    )
    keep_formulas_option(run)
    run.add_argument(
        "--top",
        type=whole(0, "flagged queries to list"),
        default=15,
        help="flagged queries to list (default 15)",
    )
    run.add_argument(
        "--push",
        action="store_true",
        help="send the 'review' queries to Label Studio query-quality projects "
        "(the workspace's server, or $LABEL_STUDIO_URL / _API_KEY)",
    )
    run.add_argument(
        "--annotators", metavar="EMAILS", help="with --push: comma list of the reviewers' emails"
    )
    run.add_argument(
        "--images",
        choices=("local", "inline"),
        default="local",
        help="with --push: how tasks reach the images (default: local)",
    )
    run.set_defaults(func=_run)

    export = commands.add_parser(
        "export", parents=common, help="write one table as CSV or Parquet (by file extension)"
    )
    export.add_argument("file", help="output file: .csv or .parquet")
    export.add_argument(
        "--what",
        choices=("table", "signals", "duplicates", "coverage"),
        default="table",
        help="which table (default: the curation table)",
    )
    export.add_argument(
        "--decision",
        action="append",
        choices=("keep", "review", "drop"),
        help="only rows with this decision (repeatable; table only)",
    )
    keep_formulas_option(export)
    export.set_defaults(func=_export)

    cov = commands.add_parser(
        "coverage",
        parents=common,
        help="items per category x modality x language, before and after",
    )
    cov.add_argument(
        "--all",
        action="store_true",
        help="list every filled cell, not only the emptied and at-risk ones",
    )
    cov.add_argument("--out", metavar="FILE", help="write the full coverage table (.csv/.parquet)")
    keep_formulas_option(cov)
    cov.set_defaults(func=_coverage)

    show = commands.add_parser(
        "show", parents=common, help="the evidence behind one query's decision"
    )
    show.add_argument("item_id", help="the query's item id")
    show.set_defaults(func=_show)
