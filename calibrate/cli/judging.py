"""``safecal calibrate run | tune | report`` (judges, threshold tuning, the judge card)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from safecal.annotate.cli.common import encoding_option, open_workspace, workspace_parent
from safecal.annotate.cli.options import DEFAULT_CONFIDENCE, number, share, whole
from safecal.annotate.cli.options import confidence as confidence_level
from safecal.annotate.errors import InputError
from safecal.calibrate.cli.stats import assume_random_option

FOLDS_HELP = "cross-validation folds for the out-of-fold figures"
SEED_HELP = "random seed of the folds and the bootstrap"
BOOT_HELP = "bootstrap resamples for the intervals (0: none)"


def _llm_parent() -> argparse.ArgumentParser:
    """The LLM judge's options, shared by ``run`` and ``tune-prompt``."""
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--model", help="llm: the model name the server knows")
    run.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL"),
        help="llm: OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
        "(default: $OPENAI_BASE_URL, else api.openai.com)",
    )
    run.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="NAME",
        help="llm: environment variable holding the API key (default OPENAI_API_KEY)",
    )
    run.add_argument(
        "--prompt",
        action="append",
        metavar="FIELD=TEMPLATE",
        default=[],
        help="llm: template per field, a built-in name or a file "
        "(default harmfulness=harmfulness-v1, refusal=refusal-v1)",
    )
    run.add_argument("--text-only", action="store_true", help="llm: do not send images")
    run.add_argument(
        "--temperature",
        type=number("sampling temperature"),
        default=0.0,
        help="llm: sampling temperature",
    )
    run.add_argument(
        "--max-tokens",
        type=whole(1, "tokens the judge may answer"),
        default=200,
        help="llm: most tokens the judge may answer",
    )
    run.add_argument(
        "--no-logprobs",
        action="store_true",
        help="llm: do not ask for log-probabilities (no score)",
    )
    run.add_argument(
        "--timeout",
        type=number("seconds per attempt", low_open=True),
        default=60.0,
        help="llm: seconds per attempt",
    )
    run.add_argument(
        "--max-attempts",
        type=whole(1, "attempts per call"),
        default=6,
        help="llm: attempts per call",
    )
    return run


def register(commands: argparse._SubParsersAction) -> None:
    ws = workspace_parent()

    llm = _llm_parent()
    run = commands.add_parser(
        "run",
        parents=[ws, llm],
        help="run a judge over the workspace's responses (cached, resumable)",
        description="Run a judge over every response in the workspace. Finished calls are "
        "cached: a rerun costs nothing and a killed run resumes where it stopped.",
    )
    run.add_argument(
        "--judge",
        required=True,
        choices=["keyword", "llm", "imported"],
        help="the keyword baseline, an LLM behind an OpenAI-compatible API, or verdicts "
        "from --file",
    )
    run.add_argument(
        "--name",
        help="the judge's name in reports (default: keyword / the model / the file's judge column)",
    )
    run.add_argument(
        "--phrases",
        action="append",
        metavar="FILE",
        help="keyword: refusal-phrase file(s), one phrase a line (default: the "
        "bundled English and Chinese lists)",
    )
    run.add_argument(
        "--concurrency",
        type=whole(1, "calls in flight"),
        default=64,
        help="llm: calls in flight",
    )
    run.add_argument(
        "--price-in",
        type=number("USD per million input tokens"),
        help="USD per million input tokens",
    )
    run.add_argument(
        "--price-out",
        type=number("USD per million output tokens"),
        help="USD per million output tokens",
    )
    run.add_argument("--file", help="imported: the file holding the verdicts")
    encoding_option(run, of="--file and --phrases")
    run.add_argument("--label-column", default="label", help="imported: label column")
    run.add_argument("--score-column", help="imported: score column (P(positive))")
    run.add_argument("--models", nargs="+", help="only responses of these target models")
    run.add_argument(
        "--languages",
        nargs="+",
        choices=["en", "zh"],
        help="judge only responses in these languages (default: all)",
    )
    batch = run.add_mutually_exclusive_group()
    batch.add_argument(
        "--batch",
        action="store_true",
        help="llm: send the uncached requests through the endpoint's batch API (/v1/files, "
        "/v1/batches), poll, and import the answers; a rerun polls the batches already "
        "submitted and resubmits only failed requests",
    )
    batch.add_argument(
        "--batch-export",
        metavar="FILE",
        help="llm: write the uncached requests as OpenAI batch-input JSONL (also vLLM's "
        "run-batch input) and stop",
    )
    batch.add_argument(
        "--batch-import",
        metavar="FILE",
        action="append",
        help="llm: read batch-output JSONL (matched by custom_id) into the run (repeatable)",
    )
    run.add_argument(
        "--batch-poll",
        type=number("seconds between polls", low_open=True),
        default=30.0,
        help="--batch: seconds between polls of the batch status (default 30)",
    )
    run.add_argument(
        "--batch-size",
        type=whole(1, "requests per batch"),
        default=50_000,
        help="--batch: most requests per batch (default 50000, OpenAI's limit)",
    )
    run.add_argument(
        "--batch-rounds",
        type=whole(1, "submissions per invocation"),
        default=3,
        help="--batch: submissions per invocation: the first, then resubmissions of "
        "failed requests (default 3)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.set_defaults(func=cmd_run)

    tune = commands.add_parser(
        "tune",
        parents=[ws],
        help="choose a score threshold by cross-validation",
        description="Choose the threshold on a judge's score that maximises the objective, "
        "exactly over all distinct scores; report cross-validated (out-of-fold) figures.",
    )
    tune.add_argument(
        "--table", help="a CSV / TSV / JSONL / JSON / Parquet file with gold and score columns"
    )
    encoding_option(tune, of="--table")
    tune.add_argument(
        "--run",
        help="instead of --table: a judge run id (or judge name) in the "
        "workspace, joined with the workspace's gold labels",
    )
    tune.add_argument(
        "--field",
        choices=["harmfulness", "refusal"],
        help="with --run: the field to tune (needed when the run judged both)",
    )
    tune.add_argument("--gold", default="gold", help="gold label column (default gold)")
    tune.add_argument("--score", default="score", help="score column (default score)")
    tune.add_argument(
        "--positive",
        action="append",
        help="the gold value(s) counted as positive (repeatable); default from "
        "annotate.labels for workspace runs",
    )
    tune.add_argument(
        "--objective",
        default="kappa",
        choices=["kappa", "f1", "youden", "cost", "fpr_at_fnr"],
        help="what the threshold maximises: Cohen's kappa, F1, Youden's J, minus the cost, "
        "or (fpr_at_fnr) the lowest false-positive rate under --max-fnr",
    )
    tune.add_argument(
        "--cost-fp",
        type=number("cost of a false positive"),
        default=1.0,
        help="cost objective: cost of a FP",
    )
    tune.add_argument(
        "--cost-fn",
        type=number("cost of a false negative"),
        default=1.0,
        help="cost objective: cost of a FN",
    )
    tune.add_argument(
        "--max-fnr",
        type=share("false-negative-rate cap"),
        default=0.1,
        help="fpr_at_fnr objective: the false-negative-rate cap",
    )
    tune.add_argument(
        "--folds", type=whole(2, "cross-validation folds"), default=5, help=FOLDS_HELP
    )
    tune.add_argument(
        "--group",
        help="column grouping rows for the folds (default item_id "
        "when present): rows of one group never straddle train and test",
    )
    tune.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    tune.add_argument(
        "--n-boot", type=whole(0, "bootstrap resamples; 0 for none"), default=1000, help=BOOT_HELP
    )
    tune.add_argument("--json", action="store_true", help="print the result as JSON")
    assume_random_option(tune)
    tune.set_defaults(func=cmd_tune)

    prompt = commands.add_parser(
        "tune-prompt",
        parents=[ws, llm],
        help="choose an LLM judge's prompt and few-shot count on held-out gold items",
        description="Split the gold set by item into train / dev / test; draw few-shot "
        "examples from train, compare the candidates on dev, and report the chosen prompt "
        "and the current one on test (never used for the choice), with McNemar's test.",
    )
    prompt.add_argument(
        "--field",
        required=True,
        choices=["harmfulness", "refusal"],
        help="the field the candidate prompts judge",
    )
    prompt.add_argument(
        "--candidates",
        nargs="+",
        required=True,
        metavar="TEMPLATE",
        help="built-in prompt names or template files",
    )
    prompt.add_argument(
        "--shots",
        nargs="+",
        type=whole(0, "few-shot examples"),
        default=[0, 3],
        help="few-shot counts to try (default 0 3)",
    )
    prompt.add_argument(
        "--concurrency", type=whole(1, "calls in flight"), default=16, help="calls in flight"
    )
    prompt.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    prompt.add_argument(
        "--n-boot", type=whole(0, "bootstrap resamples; 0 for none"), default=1000, help=BOOT_HELP
    )
    prompt.add_argument(
        "--out", help="write the result as JSON here (for `report --prompt-tuning`)"
    )
    prompt.set_defaults(func=cmd_tune_prompt)

    report = commands.add_parser(
        "report",
        parents=[ws],
        help="write the judge card (HTML + JSON)",
        description="Write a self-contained HTML judge card and its JSON for a judge run "
        "against the workspace's gold labels; with several --run, the runs side by side and "
        "compared pairwise.",
    )
    report.add_argument(
        "--run",
        required=True,
        action="append",
        help="judge run id or judge name; repeat for several runs side by side in one card, "
        "with a paired comparison (McNemar, accuracy difference) of every two",
    )
    report.add_argument(
        "--out", default="judge-card", help="output path without suffix (writes .html and .json)"
    )
    report.add_argument(
        "--prompt-tuning",
        action="append",
        metavar="FILE",
        help="JSON written by `tune-prompt --out` (one per field)",
    )
    report.add_argument(
        "--objective",
        default="kappa",
        choices=["kappa", "f1", "youden", "cost", "fpr_at_fnr"],
        help="what the threshold maximises: Cohen's kappa, F1, Youden's J, minus the cost, "
        "or (fpr_at_fnr) the lowest false-positive rate under --max-fnr",
    )
    report.add_argument(
        "--folds", type=whole(2, "cross-validation folds"), default=5, help=FOLDS_HELP
    )
    report.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    report.add_argument(
        "--n-boot", type=whole(0, "bootstrap resamples; 0 for none"), default=1000, help=BOOT_HELP
    )
    report.add_argument(
        "--confidence",
        type=confidence_level("confidence level, e.g. 0.9 for 90%"),
        default=DEFAULT_CONFIDENCE,
        help=f"interval confidence level (default {DEFAULT_CONFIDENCE})",
    )
    assume_random_option(report)
    report.set_defaults(func=cmd_report)


# -- handlers ----------------------------------------------------------------------
def build_judge(args: argparse.Namespace) -> Any:
    """The judge the ``run`` arguments describe."""
    if args.judge == "keyword":
        from safecal.calibrate.judges.keyword import KeywordJudge, read_phrases

        kw: dict[str, Any] = {"name": args.name or "keyword"}
        if args.phrases:
            try:
                kw["phrases"] = read_phrases(args.phrases, encoding=args.encoding)
            except OSError as exc:
                raise InputError(f"--phrases: cannot read {exc.filename}") from None
        return KeywordJudge(**kw)
    if args.judge == "imported":
        from safecal.calibrate.judges.imported import ImportedJudge

        if not args.file:
            raise InputError("--judge imported needs --file FILE (and --label-column)")
        return ImportedJudge.from_file(
            args.file,
            label=args.label_column,
            score=args.score_column,
            name=args.name,
            encoding=args.encoding,
        )
    from safecal.calibrate.judges.llm import LLMJudge
    from safecal.calibrate.judges.prompt import load_prompt

    if not args.model:
        raise InputError("--judge llm needs --model NAME")
    prompts = {}
    for spec in args.prompt:
        field, sep, template = spec.partition("=")
        if not sep:
            raise InputError(
                f"--prompt {spec!r}: write FIELD=TEMPLATE, e.g. harmfulness=harmfulness-v1"
            )
        prompts[field] = load_prompt(template)
    return LLMJudge(
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        prompts=prompts,
        name=getattr(args, "name", None),
        vision=not args.text_only,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        logprobs=not args.no_logprobs,
        timeout=args.timeout,
        max_attempts=args.max_attempts,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from safecal.calibrate.runner import load_cases, run_judge

    ws = open_workspace(args)
    judge = build_judge(args)
    prices = None
    if args.price_in is not None or args.price_out is not None:
        prices = (args.price_in or 0.0, args.price_out or 0.0)
    batch = args.batch or args.batch_export or args.batch_import
    if batch and args.judge != "llm":
        raise InputError("--batch, --batch-export and --batch-import are for --judge llm")
    if args.batch_export:
        return _batch_export(args, ws, judge)
    cases = load_cases(ws, models=args.models, languages=args.languages)
    if not cases:
        raise InputError(
            f"{ws.location}: no responses to judge; run `safecal ingest responses` first"
        )
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    if args.batch_import or args.batch:
        from pathlib import Path

        from safecal.calibrate.batch.route import BatchOptions, import_batch, run_batch

        if args.batch_import:
            summary = import_batch(
                ws,
                judge,
                cases=cases,
                paths=[Path(p) for p in args.batch_import],
                prices=prices,
                encoding=args.encoding,
            )
        else:
            options = BatchOptions(
                poll=args.batch_poll, max_requests=args.batch_size, rounds=args.batch_rounds
            )
            summary = run_batch(ws, judge, cases=cases, options=options, prices=prices, say=say)
    else:
        summary = run_judge(
            ws,
            judge,
            cases=cases,
            concurrency=args.concurrency,
            prices=prices,
            progress=not args.no_progress and sys.stderr.isatty(),
            waiting=say,
        )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        cost = f", cost ${summary.cost:.4f}" if summary.cost is not None else ""
        print(
            f"run {summary.run_id}: {summary.n_cases} responses, {summary.n_cached} from "
            f"cache, {summary.n_called} calls, {summary.n_local} judged locally, "
            f"{summary.n_invalid} invalid, {summary.n_failed} failed, "
            f"{summary.n_skipped} not in the file; tokens {summary.tokens_in} in / "
            f"{summary.tokens_out} out{cost}; {summary.seconds:.1f} s"
        )
    if summary.n_failed:
        first = f" (first: {summary.failures[0]})" if summary.failures else ""
        again = "export again" if args.batch_import else "rerun the same command"
        print(
            f"{summary.n_failed} calls failed after retries{first}; {again} to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _batch_export(args: argparse.Namespace, ws: Any, judge: Any) -> int:
    """``--batch-export``: the cases streamed, not loaded (a million fit in the 1 GB target)."""
    from pathlib import Path

    from safecal.calibrate.batch.route import export_batch
    from safecal.calibrate.runner import iter_cases

    cases = iter_cases(ws, models=args.models, languages=args.languages)
    out = export_batch(ws, judge, cases=cases, path=Path(args.batch_export))
    if args.json:
        print(json.dumps(out.to_dict(), indent=2))
    else:
        print(
            f"run {out.run_id}: {out.n_cases} responses, {out.n_cached} from cache; "
            f"{out.n_requests} requests ({out.bytes:,} bytes) written to {out.path} in "
            f"{out.seconds:.1f} s; read the answers back with --batch-import FILE"
        )
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from safecal.calibrate.tuning import tune_table

    objective_kw = {"cost_fp": args.cost_fp, "cost_fn": args.cost_fn, "max_fnr": args.max_fnr}
    if bool(args.table) == bool(args.run):
        raise InputError("give exactly one of --table FILE or --run RUN")
    if args.table:
        from safecal.calibrate.io import blank_as_missing, read_table

        if not args.positive:
            raise InputError("--table needs --positive VALUE (the gold label counted positive)")
        table = blank_as_missing(read_table(args.table, encoding=args.encoding))
        gold, score, positive = args.gold, args.score, args.positive
    else:
        from safecal.calibrate.report.data import run_table

        ws = open_workspace(args)
        table, info = run_table(ws, args.run, field=args.field, assume_random=args.assume_random)
        for note in info["notes"]:
            print(f"note: {note}", file=sys.stderr)
        if info["weight"]:
            print(
                "note: the threshold is tuned and cross-validated unweighted, on the gold "
                "sample's items (not weighted to the population)",
                file=sys.stderr,
            )
        gold, score = "gold", "score"
        positive = args.positive or info["positive"]
    result = tune_table(
        table,
        gold=gold,
        score=score,
        positive=positive,
        objective=args.objective,
        folds=args.folds,
        group=args.group,
        seed=args.seed,
        n_boot=args.n_boot,
        **objective_kw,
    )
    out = result.to_dict()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        from safecal.calibrate.render import format_number, print_table, say

        cv = out["cross_validated"]
        say(
            f"threshold {format_number(out['threshold'], spec='.6g')} (maximises "
            f"{args.objective} on all {out['n']} rows; {out['n_without_score']} without a score)"
        )
        print_table(
            ["metric", "value"],
            [[name, est] for name, est in cv.items() if est["value"] is not None],
            title=f"cross-validated ({args.folds} folds, out-of-fold labels):",
        )
    return 0


def cmd_tune_prompt(args: argparse.Namespace) -> int:
    from safecal.calibrate.judges.prompt import load_prompt
    from safecal.calibrate.tuning import tune_prompt

    ws = open_workspace(args)
    args.judge = "llm"
    judge = build_judge(args)
    templates = [load_prompt(t) for t in args.candidates]
    result = tune_prompt(
        ws,
        judge,
        field_name=args.field,
        templates=templates,
        shots=args.shots,
        seed=args.seed,
        concurrency=args.concurrency,
        n_boot=args.n_boot,
    )
    out = result.to_dict()
    text = json.dumps(out, indent=2, default=str)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from safecal.calibrate.report.card import judge_card, write_card

    ws = open_workspace(args)
    tunings = {}
    for path in args.prompt_tuning or []:
        try:
            data = json.loads(open(path, encoding="utf-8").read())
            tunings[data["field"]] = data
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"--prompt-tuning {path}: not a tune-prompt result ({exc})") from None
    if len(args.run) > 1:
        from safecal.calibrate.report.card import compare_runs

        if tunings:
            raise InputError("--prompt-tuning goes with one --run (it describes one prompt)")
        card = compare_runs(
            ws,
            args.run,
            objective=args.objective,
            folds=args.folds,
            seed=args.seed,
            n_boot=args.n_boot,
            confidence=args.confidence,
            assume_random=args.assume_random,
        )
    else:
        card = judge_card(
            ws,
            args.run[0],
            objective=args.objective,
            folds=args.folds,
            seed=args.seed,
            n_boot=args.n_boot,
            confidence=args.confidence,
            prompt_tuning=tunings,
            assume_random=args.assume_random,
        )
    html_path, json_path = write_card(card, args.out)
    print(f"wrote {html_path} and {json_path}")
    return 0
