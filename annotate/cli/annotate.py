"""``safecal annotate``: sample, next, assign, push, pull, import, honeypots, adjudicate, gold,
export."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from safecal.annotate.cli.common import (
    encoding_option,
    keep_formulas_option,
    open_workspace,
    workspace_parent,
)
from safecal.annotate.cli.options import DEFAULT_CONFIDENCE, confidence, number, share, whole

REVIEW_BELOW = 0.8  # = safecal.annotate.adjudication.REVIEW_BELOW (checked by a test)

if TYPE_CHECKING:
    from safecal.annotate.adjudication import Resolution
    from safecal.annotate.labelstudio.accounts import Account
    from safecal.annotate.labelstudio.client import Connection
    from safecal.annotate.store import Workspace


def _conn(args: argparse.Namespace, ws: Workspace) -> Connection:
    from safecal.annotate.labelstudio.client import connect

    return connect(ws.path)


def _print_accounts(accounts: list[Account]) -> None:
    new = [a for a in accounts if a.created]
    if new:
        print("new Label Studio accounts (passwords are shown only now; note them):")
        for a in new:
            print(f"  {a.role:9s} {a.email}  password: {a.password}")


def _sample(args: argparse.Namespace) -> int:
    from safecal.annotate.sampling import draw_sample

    ws = open_workspace(args)
    by = tuple(b for b in args.by.split(",") if b) if args.by else ()
    res = draw_sample(
        ws,
        n=args.n,
        by=by,
        allocation=args.allocation,
        width=args.width,
        confidence=args.confidence,
        oversample=args.oversample,
        threshold=args.threshold,
        margin=args.margin,
        aspect=args.aspect,
        seed=args.seed,
        sample_id=args.sample_id,
    )
    print(res.allocation.to_string(index=False))
    print(
        f"sample {res.sample_id}: {len(res.sample)} responses in "
        f"{len(res.allocation)} strata (seed {args.seed})"
    )
    return 0


def _next(args: argparse.Namespace) -> int:
    import json

    from safecal.annotate.next_round import draw_next

    ws = open_workspace(args)
    by = tuple(b for b in args.by.split(",") if b) if args.by else ()
    res = draw_next(
        ws,
        n=args.n,
        by=by,
        goal=args.goal,
        aspect=args.aspect,
        confidence=args.confidence,
        floor=args.floor,
        seed=args.seed,
        sample_id=args.sample_id,
        out=args.out,
    )
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
        return 0
    shown = res.plan.strata.rename(
        columns={
            "proportional": "n_prop",
            "proposed": "n_next",
            "width_now": "w_now",
            "width_proportional": "w_prop",
            "width_proposed": "w_next",
        }
    )
    print(
        f"projected {int(args.confidence * 100)}% interval width per stratum after "
        f"{args.n} labels: proportional (w_prop) vs this round (w_next)"
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if res.sample_id is None:
        print(
            f"wrote {len(res.sample)} responses to {args.out} (not recorded as a sample: run "
            "again without --out, same --seed, to label them)"
        )
    else:
        print(
            f"round {res.round}: sample {res.sample_id}, {len(res.sample)} responses drawn "
            f"(expected {res.plan.units['inclusion_prob'].sum():.1f}); next: "
            f"`safecal annotate assign {res.sample_id} --annotators ...`"
        )
    return 0


def _assign(args: argparse.Namespace) -> int:
    from safecal.annotate.assign import plan_assignments

    ws = open_workspace(args)
    plan = plan_assignments(
        ws,
        args.sample_id,
        args.annotators.split(","),
        overlap=args.overlap,
        k=args.k,
        honeypot_rate=args.honeypot_rate,
        query_quality=args.query_quality,
        seed=args.seed,
    )
    counts = plan.assignments.groupby(["annotator", "task_type", "role"]).size()
    print(counts.to_string())
    print(
        f"{plan.n_units} units, {plan.n_overlap} to several annotators, "
        f"{plan.n_honeypots} honeypots"
    )
    return 0


def _push(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from safecal.annotate.labelstudio.accounts import ensure_accounts
    from safecal.annotate.labelstudio.push import push
    from safecal.annotate.store import samples as sample_rows

    ws = open_workspace(args)
    conn = _conn(args, ws)
    names = sample_rows.assignment_annotators(ws, sample_id=args.sample_id)["annotator"].tolist()
    _print_accounts(ensure_accounts(ws, conn, names))
    total = int(sample_rows.count_assignments(ws, sample_id=args.sample_id)["n"].iloc[0])
    with tqdm(total=total, unit="task", disable=args.quiet) as bar:
        rep = push(
            ws,
            conn,
            args.sample_id,
            batch_size=args.batch_size,
            images=args.images,
            progress=bar.update,
        )
    print(
        f"pushed to {conn.url}: {rep.created} tasks created, {rep.already} already there, "
        f"{rep.recovered} recovered; {len(rep.projects)} projects"
    )
    for (annotator, task_type), pid in sorted(rep.projects.items()):
        print(f"  project {pid}: {task_type} for {annotator}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from safecal.annotate.labelstudio.pull import pull

    ws = open_workspace(args)
    rep = pull(ws, _conn(args, ws), sample_id=args.sample_id, full=args.full)
    print(
        f"pulled {rep.projects} projects, {rep.tasks} tasks, {rep.annotations} annotations "
        f"-> {rep.rows} label rows"
        + (
            f" ({rep.incremental} projects: only what changed since the last pull)"
            if rep.incremental
            else ""
        )
    )
    if rep.left_out:
        print("left out: " + ", ".join(f"{k} {v}" for k, v in sorted(rep.left_out.items())))
    return 0


def _import(args: argparse.Namespace) -> int:
    from safecal.annotate.human_labels import import_labels

    ws = open_workspace(args)
    n = import_labels(ws, args.file, encoding=args.encoding)
    print(f"imported {n} human labels from {args.file}")
    return 0


def _honeypots(args: argparse.Namespace) -> int:
    from safecal.annotate.human_labels import import_honeypots

    ws = open_workspace(args)
    n = import_honeypots(
        ws,
        args.file,
        n=args.n,
        exclude_sample=args.exclude_sample,
        seed=args.seed,
        encoding=args.encoding,
    )
    print(f"loaded {n} honeypot labels from {args.file}")
    return 0


def _report(res: Resolution) -> None:
    gold = res.gold
    print(
        f"gold labels: {len(gold)} ("
        + ", ".join(f"{k} {v}" for k, v in gold["method"].value_counts().items())
        + ")"
    )
    reasons = res.to_review["reason"].value_counts()
    print(
        f"to review: {len(res.to_review)}"
        + (" (" + ", ".join(f"{k} {v}" for k, v in reasons.items()) + ")" if len(reasons) else "")
    )
    if len(res.reliability):
        print("annotators (regular units labeled, of those in gold, Dawid-Skene accuracy):")
        print(res.reliability.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    acc = res.honeypot_accuracy
    if len(acc):
        print("honeypot accuracy per annotator (low, high: 95% Wilson interval):")
        print(acc.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _adjudicate(args: argparse.Namespace) -> int:
    from safecal.annotate.adjudication import build_gold
    from safecal.annotate.labelstudio.accounts import ensure_accounts
    from safecal.annotate.labelstudio.review import push_reviews

    ws = open_workspace(args)
    res = build_gold(
        ws,
        method=args.method,
        policy=args.policy,
        review_below=args.review_below,
        min_honeypot_accuracy=args.min_honeypot_accuracy,
    )
    _report(res)
    if len(res.to_review):
        conn = _conn(args, ws)
        _print_accounts(ensure_accounts(ws, conn, [args.reviewer], role="reviewer"))
        rep = push_reviews(ws, conn, reviewer=args.reviewer.lower(), images=args.images)
        print(f"review projects {rep.projects}: {rep.pushed} new tasks for {args.reviewer}")
    return 0


def _gold(args: argparse.Namespace) -> int:
    from safecal.annotate.adjudication import build_gold
    from safecal.annotate.labelstudio.review import pull_reviews
    from safecal.annotate.store import labelstudio as ls_rows

    ws = open_workspace(args)
    has_reviews = len(ls_rows.any_review_project(ws))
    if has_reviews and not args.offline:
        rep = pull_reviews(ws, _conn(args, ws))
        print(f"reviews: {rep.decided} decided, {rep.pending} pending")
    res = build_gold(
        ws,
        method=args.method,
        policy=args.policy,
        review_below=args.review_below,
        min_honeypot_accuracy=args.min_honeypot_accuracy,
    )
    _report(res)
    if args.method == "dawid_skene":
        for field, mats in res.confusion.items():
            for annotator, m in mats.items():
                print(f"confusion ({field}, {annotator}): rows true, columns reported")
                print(m.round(3).to_string())
    return 0


def _export(args: argparse.Namespace) -> int:
    from safecal.annotate.gold_export import export_gold

    ws = open_workspace(args)
    table = export_gold(
        ws, args.file, fmt=args.format, sample_id=args.sample_id, keep_formulas=args.keep_formulas
    )
    print(f"wrote {len(table)} gold rows to {args.file}")
    return 0


def _resolution_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        choices=("dawid_skene", "majority"),
        default="dawid_skene",
        help="how labels become gold: Dawid-Skene with the honeypots as known labels, each "
        "annotator weighted by their measured reliability (default), or a majority vote",
    )
    p.add_argument(
        "--review-below",
        type=share("posterior threshold"),
        default=REVIEW_BELOW,
        metavar="P",
        help="units whose gold label has posterior (majority: vote share) below P go to "
        f"review (default {REVIEW_BELOW}; 0: none)",
    )
    p.add_argument(
        "--policy",
        choices=("majority", "disagreement"),
        default="majority",
        help="review uncertain units and ties only (majority) or also every disagreement",
    )
    p.add_argument(
        "--min-honeypot-accuracy",
        type=share("honeypot accuracy"),
        default=0.0,
        help="also review every unit of an annotator whose honeypot accuracy on the field is "
        "below this (default 0: never; a missed honeypot already lowers the annotator's "
        "weight under dawid_skene)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate", help="sample, push to Label Studio, pull, adjudicate, export gold"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = workspace_parent()

    p = sub.add_parser("sample", parents=[parent], help="draw a stratified sample of responses")
    p.add_argument(
        "--n",
        type=whole(1, "sample size"),
        default=None,
        help="total sample size (needed unless --allocation width)",
    )
    p.add_argument(
        "--by",
        default="model",
        help="strata: comma list of model, level1, level2, level3, modality, "
        "language, aspect (default: model; '' for none)",
    )
    p.add_argument(
        "--allocation",
        choices=("proportional", "equal", "width"),
        default="proportional",
        help="split --n across strata by their size, equally, or size each stratum for --width",
    )
    p.add_argument(
        "--width",
        type=number("interval width", low_open=True, high=1.0),
        default=None,
        help="target interval width per stratum (needed by --allocation width; default: none)",
    )
    p.add_argument(
        "--confidence",
        type=confidence(),
        default=DEFAULT_CONFIDENCE,
        help=f"confidence level of the --width intervals (default {DEFAULT_CONFIDENCE})",
    )
    p.add_argument(
        "--oversample",
        type=number("oversampling factor", low=1.0),
        default=1.0,
        help="factor for responses where judges disagree or sit near the threshold",
    )
    p.add_argument(
        "--threshold",
        type=share("score threshold"),
        default=0.5,
        help="with --oversample: judge score threshold a response may sit near",
    )
    p.add_argument(
        "--margin",
        type=share("score margin"),
        default=0.1,
        help="with --oversample: how near the threshold counts as near",
    )
    p.add_argument(
        "--aspect",
        choices=("vulnerability", "overrefusal"),
        default=None,
        help="sample only responses of this aspect (default: both)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the draw")
    p.add_argument(
        "--sample-id",
        default=None,
        help="name of the sample (default: sample-SEED-UTCTIME)",
    )
    p.set_defaults(func=_sample)

    p = sub.add_parser(
        "next",
        parents=[parent],
        help="pick the next responses to label where they narrow the intervals most",
    )
    p.add_argument("--n", type=whole(1, "responses to pick"), required=True, help="how many")
    p.add_argument(
        "--by",
        default="model,level1,modality",
        help="strata: comma list of model, level1, level2, level3, modality, language, "
        "aspect (default: model,level1,modality, the benchmark's cells)",
    )
    p.add_argument(
        "--goal",
        choices=("corrected", "validation"),
        default="corrected",
        help="narrow the corrected rates per stratum (default), or the judge's validation "
        "(its error per predicted class)",
    )
    p.add_argument(
        "--aspect",
        choices=("vulnerability", "overrefusal"),
        default=None,
        help="pick only responses of this aspect (default: both)",
    )
    p.add_argument(
        "--floor",
        type=number("floor share of the uniform probability", low_open=True, high=1.0),
        default=0.2,
        help="every unlabeled response keeps at least this share of the uniform probability",
    )
    p.add_argument(
        "--confidence",
        type=confidence(),
        default=DEFAULT_CONFIDENCE,
        help=f"confidence level of the projected interval widths (default {DEFAULT_CONFIDENCE})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the draw")
    p.add_argument(
        "--sample-id", default=None, help="name of the sample (default: next-SEED-UTCTIME)"
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="write the picked responses to this CSV instead of recording a sample",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=_next)

    p = sub.add_parser(
        "assign", parents=[parent], help="plan who labels what: blind overlap and honeypots"
    )
    p.add_argument("sample_id", help="the sample to assign (from `annotate sample`)")
    p.add_argument("--annotators", required=True, help="comma list of annotator emails")
    p.add_argument(
        "--overlap",
        type=share("share of units overlapped"),
        default=0.2,
        help="share labeled by k annotators",
    )
    p.add_argument(
        "--k",
        type=whole(2, "annotators per overlapped unit"),
        default=2,
        help="annotators per overlapped unit",
    )
    p.add_argument(
        "--honeypot-rate",
        type=number("honeypot share of a queue", high=1.0, high_open=True),
        default=0.1,
        help="share of each annotator's queue that is honeypots",
    )
    p.add_argument(
        "--query-quality",
        action="store_true",
        help="also ask for query-quality labels on the sampled items",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the assignment")
    p.set_defaults(func=_assign)

    p = sub.add_parser("push", parents=[parent], help="push a sample to Label Studio")
    p.add_argument("sample_id", help="the assigned sample to push")
    p.add_argument(
        "--batch-size",
        type=whole(1, "tasks per import request"),
        default=10_000,
        help="tasks per import request",
    )
    p.add_argument(
        "--images",
        choices=("local", "inline"),
        default="local",
        help="serve images from the workspace (local) or embed them in the tasks (inline)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_push)

    p = sub.add_parser("pull", parents=[parent], help="pull annotations into the workspace")
    p.add_argument(
        "--sample-id", default=None, help="pull only this sample's projects (default: all)"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="re-read every task (default: only the tasks changed since the last pull)",
    )
    p.set_defaults(func=_pull)

    p = sub.add_parser("import", parents=[parent], help="load a long table of human labels")
    p.add_argument("file", help="CSV, TSV, JSONL, JSON or Parquet: one row per label")
    encoding_option(p)
    p.set_defaults(func=_import)

    p = sub.add_parser("honeypots", parents=[parent], help="load known labels for honeypots")
    p.add_argument("file", help="CSV, TSV, JSONL, JSON or Parquet: units with their known label")
    encoding_option(p)
    p.add_argument(
        "--n",
        type=whole(1, "honeypots kept"),
        default=None,
        help="keep only N rows, drawn at random (default: all)",
    )
    p.add_argument(
        "--exclude-sample",
        default=None,
        help="skip responses of this sample (default: none; assign a sample after loading)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the --n draw")
    p.set_defaults(func=_honeypots)

    p = sub.add_parser(
        "adjudicate",
        parents=[parent],
        help="send units whose gold is uncertain (or that --policy names) to a review project",
    )
    p.add_argument("--reviewer", required=True, help="the reviewer's email")
    p.add_argument(
        "--images",
        choices=("local", "inline"),
        default="local",
        help="serve images from the workspace (local) or embed them in the tasks (inline)",
    )
    _resolution_options(p)
    p.set_defaults(func=_adjudicate)

    p = sub.add_parser("gold", parents=[parent], help="pull reviews and write the gold labels")
    p.add_argument("--offline", action="store_true", help="do not contact Label Studio")
    _resolution_options(p)
    p.set_defaults(func=_gold)

    p = sub.add_parser("export", parents=[parent], help="write the gold set (csv/jsonl/parquet)")
    p.add_argument("file", help="output file")
    p.add_argument(
        "--format",
        choices=("csv", "jsonl", "parquet"),
        default=None,
        help="file format (default: from the file's extension)",
    )
    p.add_argument(
        "--sample-id", default=None, help="only this sample's gold labels (default: all)"
    )
    keep_formulas_option(p)
    p.set_defaults(func=_export)
