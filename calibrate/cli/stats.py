"""``safecal calibrate agreement | judge | estimate``: calibration statistics.

Each command reads either a user's table (``--table FILE``: CSV, TSV, JSONL, JSON or
Parquet with named columns, read by :mod:`annotate.readers`; an empty cell is a missing
value) or, without ``--table``, the workspace (``--workspace``).
``--json`` prints one JSON object (the contract scripts rely on; values are fractions
in [0, 1], undefined values are ``null``); otherwise a table for people.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from safecal.annotate.cli.common import encoding_option, open_workspace, workspace_parent
from safecal.annotate.cli.options import DEFAULT_CONFIDENCE, number, whole
from safecal.annotate.cli.options import confidence as confidence_level
from safecal.annotate.errors import InputError

#: ``--level`` choices: :data:`calibrate.agreement.LEVELS` (spelled out here so that the
#: command line starts without importing numpy; a test checks they are the same)
AGREEMENT_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _common(parser: argparse.ArgumentParser, *, confidence: float = DEFAULT_CONFIDENCE) -> None:
    parser.add_argument(
        "--table",
        metavar="FILE",
        help="a CSV / TSV / JSONL / JSON / Parquet table (default: the workspace)",
    )
    encoding_option(parser, of="--table")
    parser.add_argument("--by", metavar="COL", help="also report per value of this column")
    parser.add_argument(
        "--where",
        action="append",
        metavar="COL=VALUE",
        help="keep only rows where COL equals VALUE, in any case (repeatable)",
    )
    parser.add_argument(
        "--confidence",
        type=confidence_level("confidence level, e.g. 0.9 for 90%"),
        default=confidence,
        help=f"interval confidence level (default {confidence})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--field",
        choices=("harmfulness", "refusal"),
        default="harmfulness",
        help="workspace label field (default harmfulness)",
    )


def assume_random_option(parser: argparse.ArgumentParser) -> None:
    """``--assume-random``: gold from no sample counts as a simple random sample
    (:func:`calibrate.rows.sample_design`); without it that gold is set aside, with a note."""
    parser.add_argument(
        "--assume-random",
        action="store_true",
        help="workspace: count gold labels that came from no sample (imported, honeypots) "
        "as a simple random sample of the field's responses (default: set them aside, "
        "with a note saying how many)",
    )


def register(commands: argparse._SubParsersAction) -> None:
    parent = workspace_parent()

    p = commands.add_parser(
        "agreement",
        parents=[parent],
        help="agreement between human raters (kappa, alpha, AC1) with intervals",
        description="Percent agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha and "
        "Gwet's AC1 with bootstrap intervals over items, plus label prevalence.",
    )
    _common(p)
    p.add_argument(
        "--raters",
        metavar="COL,COL[,COL...]",
        help="wide table: one column per rater (else a long table with --unit, "
        "--rater, --label columns)",
    )
    p.add_argument(
        "--unit",
        default=None,
        metavar="COL[,COL...]",
        help="unit (item) column(s); several columns together identify a unit "
        "(long table default: unit; wide table default: the row)",
    )
    p.add_argument("--rater", default="rater", help="rater column of a long table")
    p.add_argument("--label", default="label", help="label column of a long table")
    p.add_argument(
        "--level",
        choices=AGREEMENT_LEVELS,
        default="nominal",
        help="Krippendorff's alpha level of measurement (default nominal); interval and "
        "ratio take numeric labels (ratio: non-negative) or the harmfulness / refusal "
        "scale, scored 0, 1, 2 in scale order",
    )
    p.add_argument(
        "--categories",
        metavar="A,B,C",
        help="the label scale in order (ordinal order; default: inferred)",
    )
    p.add_argument(
        "--n-boot",
        type=whole(0, "bootstrap resamples; 0 for none"),
        default=1000,
        help="bootstrap resamples (default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run_agreement)

    p = commands.add_parser(
        "judge",
        parents=[parent],
        help="validate judges against human gold labels, with intervals",
        description="Confusion matrix, accuracy, kappa and (with --positive) precision, recall, "
        "F1, FPR, FNR, MCC, balanced accuracy; AUROC/AUPRC with --score; a paired "
        "McNemar test between every two judges. Intervals keep their coverage on small "
        "gold sets (exact, score or Bayesian; each names its method).",
    )
    _common(p)
    p.add_argument("--gold", default="gold", help="gold label column (default gold)")
    p.add_argument(
        "--judge",
        action="append",
        metavar="COL",
        help="judge verdict column (repeat for several judges)",
    )
    p.add_argument(
        "--score",
        action="append",
        metavar="[JUDGE=]COL",
        help="score column with the judge's P(positive), for AUROC/AUPRC",
    )
    p.add_argument(
        "--positive",
        action="append",
        metavar="VALUE",
        help="label counted as positive (repeat: several levels fold into one)",
    )
    p.add_argument(
        "--labels",
        metavar="A,B,C",
        help="the label vocabulary; judge answers outside it are invalid",
    )
    p.add_argument(
        "--raters",
        metavar="COL,COL[,COL...]",
        help="table: the human raters' columns; adds results by unanimity",
    )
    p.add_argument(
        "--run",
        action="append",
        metavar="RUN_ID|JUDGE",
        help="workspace judge run(s) (default: newest run of every judge)",
    )
    p.add_argument(
        "--binary",
        action="store_true",
        help="workspace: use the field's positive labels (annotate.labels)",
    )
    p.add_argument(
        "--weight",
        metavar="COL",
        help="table: inclusion probability of each gold row in the human sample; every "
        "metric is then weighted by 1 / probability (the workspace uses its samples' "
        "probabilities)",
    )
    p.add_argument(
        "--n-boot",
        type=whole(0, "posterior draws / bootstrap resamples; 0 for none"),
        default=1000,
        help="posterior draws for the kappa, F1 and MCC intervals (default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    assume_random_option(p)
    p.set_defaults(func=run_judge)

    p = commands.add_parser(
        "estimate",
        parents=[parent],
        help="attack-success / refusal rates corrected for judge errors (PPI++)",
        description="Per slice: the raw judge rate, the human-only rate and the PPI++ "
        "corrected rate, each with its interval. Rows without gold are unlabeled.",
    )
    _common(p)
    p.add_argument("--gold", default="gold", help="gold label column (default gold)")
    p.add_argument("--judge", metavar="COL", help="judge verdict column")
    p.add_argument(
        "--positive",
        action="append",
        metavar="VALUE",
        help="label counted as positive (repeatable; workspace default: the field's)",
    )
    p.add_argument(
        "--weight",
        metavar="COL",
        help="inclusion probability of each labeled row in the human sample",
    )
    p.add_argument(
        "--score",
        metavar="COL",
        nargs="?",
        const="",
        help="the judge's P(positive) column: PPI++ rectifies the score (narrower "
        "intervals when the score is informative); in the workspace give "
        "--score alone to use the run's scores",
    )
    p.add_argument("--run", metavar="RUN_ID|JUDGE", help="workspace judge run")
    p.add_argument(
        "--cells",
        action="store_true",
        help="the benchmark report: per model, 12 cells (level-1 category x "
        "modality) and both totals",
    )
    p.add_argument("--model", default="model", help="model column for --cells (default model)")
    p.add_argument(
        "--target-width",
        type=number("interval width", low_open=True, high=1.0),
        metavar="W",
        help="plan the gold budget: labels needed for an interval this wide",
    )
    assume_random_option(p)
    p.set_defaults(func=run_estimate)

    p = commands.add_parser(
        "table",
        parents=[parent],
        help="the paper's table: attack-success and over-refusal rates per model",
        description="Per target model, the attack-success rate (harmfulness, positive = "
        "unsafe) and the over-refusal rate (refusal on the over-refusal items) side by "
        "side, each as raw judge, human only and corrected (PPI++) with its interval, on "
        "the workspace's rows as `calibrate estimate` reads them. --format writes it for "
        "a paper: markdown, latex (booktabs) or csv.",
    )
    p.add_argument(
        "--run",
        metavar="RUN_ID|JUDGE",
        help="the judge (its newest run per field) or one run (default: the only judge)",
    )
    p.add_argument(
        "--format",
        choices=("text", "markdown", "latex", "csv"),
        default="text",
        help="output format (default text)",
    )
    p.add_argument(
        "--confidence",
        type=confidence_level("confidence level, e.g. 0.9 for 90%"),
        default=DEFAULT_CONFIDENCE,
        help=f"interval confidence level (default {DEFAULT_CONFIDENCE})",
    )
    p.add_argument(
        "--score",
        action="store_true",
        help="rectify the run's scores instead of its verdicts (as estimate --score)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    assume_random_option(p)
    p.set_defaults(func=run_table)


# ---- helpers -----------------------------------------------------------------------


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def _load(args: argparse.Namespace) -> Any:
    from safecal.calibrate.io import blank_as_missing, read_table

    table = blank_as_missing(read_table(args.table, encoding=args.encoding))
    return _filter(table, args, args.table)


def _filter(table: Any, args: argparse.Namespace, source: str) -> Any:
    """Apply ``--where COL=VALUE`` filters (text compared in any case)."""
    from safecal.annotate.labels import fold
    from safecal.calibrate.io import require_columns

    for cond in args.where or []:
        if "=" not in cond:
            raise InputError(f"--where {cond!r}: write COL=VALUE")
        col, value = cond.split("=", 1)
        require_columns(table, [col], source=source, option="--where")
        # any case and surrounding spaces: --where language=EN (annotate.labels.fold)
        folded = table[col].astype("string").map(fold, na_action="ignore")
        table = table[(folded == fold(value)).fillna(False).astype(bool)]
        if table.empty:
            raise InputError(f"--where {cond}: no row of {source} matches")
    return table


def _unit_column(table: Any, unit: str | None) -> tuple[Any, str | None]:
    """``--unit a,b,c``: several columns together identify a unit."""
    cols = _split(unit)
    if not cols or len(cols) == 1:
        return table, (cols[0] if cols else None)
    from safecal.calibrate.io import require_columns

    require_columns(table, cols, source="the table", option="--unit")
    key = table[cols[0]].astype("string")
    for c in cols[1:]:
        key = key + "|" + table[c].astype("string")
    return table.assign(_unit=key), "_unit"


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(_clean(obj), indent=2, ensure_ascii=False, allow_nan=False))


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy scalars
        return _clean(x.item())
    return x


def _print_rows(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    from safecal.calibrate.render import print_table

    print_table(headers, rows, title=title)


def _say(text: str) -> None:
    from safecal.calibrate.render import say

    say(text)


def _with_pooled(whole: Any, slices: dict[str, Any], by: str | None) -> dict[str, Any]:
    """The pooled row (named :data:`calibrate.slices.POOLED`) first, then the slices."""
    from safecal.calibrate.slices import POOLED

    if POOLED in slices:
        raise InputError(
            f"--by {by}: a slice is named {POOLED!r}, the name of the pooled row; rename that value"
        )
    return {POOLED: whole, **slices}


def _sliced(
    func: Callable[..., Any], table: Any, by: str | None, **kw: Any
) -> tuple[Any, dict[str, Any]]:
    from safecal.calibrate.slices import by_slice

    whole = func(table, **kw)
    return whole, (by_slice(func, table, by=by, **kw) if by else {})


# ---- agreement ---------------------------------------------------------------------


def run_agreement(args: argparse.Namespace) -> int:
    from safecal.calibrate.agreement import COEFFICIENTS, agreement, wide_to_long
    from safecal.calibrate.io import require_columns

    kw = dict(
        level=args.level,
        categories=_split(args.categories),
        n_boot=args.n_boot,
        confidence=args.confidence,
        seed=args.seed,
    )
    if args.table:
        table, unit_col = _unit_column(_load(args), args.unit)
        raters = _split(args.raters)
        if raters:
            if len(raters) < 2:
                raise InputError("--raters needs at least two columns, comma-separated")
            require_columns(table, [*raters, unit_col, args.by], source=args.table)
            long = wide_to_long(table, raters, unit=unit_col, keep=[args.by] if args.by else [])
        else:
            unit = unit_col or "unit"
            require_columns(
                table,
                [unit, args.rater, args.label, args.by],
                source=args.table,
                option="--unit/--rater/--label (or give --raters for a wide table)",
            )
            long = table.rename(columns={unit: "unit", args.rater: "rater", args.label: "label"})
        source = args.table
    else:
        from safecal.calibrate.tables import annotations_table

        ws = open_workspace(args)
        long = _filter(annotations_table(ws, field=args.field), args, "the workspace")
        if long.empty:
            raise InputError(
                f"{ws.location}: no human labels of the field {args.field!r} yet; "
                "pull annotations first (or give --table)"
            )
        require_columns(long, [args.by], source="the workspace annotations")
        source = f"{ws.location} (field {args.field})"
    whole, slices = _sliced(agreement, long, args.by, **kw)
    groups = _with_pooled(whole, slices, args.by)
    if args.json:
        out = whole.to_dict()
        if args.by:
            out["slices"] = {k: v.to_dict() for k, v in slices.items()}
        _emit(out)
        return 0
    pct = int(round(args.confidence * 100))
    _say(f"Agreement between raters: {source}")
    _say(
        f"{whole.n_items} items with 2+ ratings ({whole.n_single} with fewer left out), "
        f"{whole.n_raters} raters, {args.n_boot} bootstrap resamples, {pct}% intervals, "
        f"{args.level} alpha\n"
    )
    _print_rows(
        ["slice", "items", *COEFFICIENTS],
        [[k, r.n_items, *[getattr(r, c) for c in COEFFICIENTS]] for k, r in groups.items()],
    )
    _print_rows(["label", "prevalence"], [[k, v] for k, v in whole.prevalence.items()])
    for note in whole.notes:
        _say(f"note: {note}")
    return 0


# ---- judge -------------------------------------------------------------------------


def _score_map(scores: list[str] | None, judges: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for s in scores or []:
        if "=" in s:
            j, col = s.split("=", 1)
            if j not in judges:
                raise InputError(f"--score {s}: {j!r} is not one of the --judge columns {judges}")
            out[j] = col
        elif len(judges) == 1:
            out[judges[0]] = s
        else:
            raise InputError(f"--score {s}: with several judges write --score JUDGE=COL")
    return out


def run_judge(args: argparse.Namespace) -> int:
    import itertools

    from safecal.annotate.labels import POSITIVE
    from safecal.calibrate.io import require_columns
    from safecal.calibrate.judge_metrics import judge_metrics
    from safecal.calibrate.paired import paired_test

    positive = args.positive
    by = [args.by] if args.by else []
    notes: list[str] = []
    weight = args.weight
    if args.table:
        table = _load(args)
        judges = args.judge or []
        if not judges:
            raise InputError("give at least one --judge COL")
        scores = _score_map(args.score, judges)
        raters = _split(args.raters) or []
        require_columns(
            table,
            [args.gold, *judges, *scores.values(), *by, *raters, weight],
            source=args.table,
        )
        notes.extend(_weight_notes(table, args.gold, weight))
        extra_by: list[str] = []
        if raters:
            from safecal.calibrate.slices import unanimity

            table = table.assign(unanimity=unanimity(table, raters))
            extra_by = ["unanimity"]
        rows_for = {j: table for j in judges}
        source = args.table
    else:
        from safecal.calibrate.rows import select_rows

        if weight:
            raise InputError(
                "--weight is for --table; the workspace weights by its samples' inclusion "
                "probabilities (calibrate.rows)"
            )
        ws = open_workspace(args)
        selected = select_rows(
            ws,
            field=args.field,
            runs=args.run or args.judge,
            assume_random=args.assume_random,
        )
        judges, weight = selected.judges, selected.weight
        table = _filter(selected.table, args, "the workspace")
        notes.extend(selected.notes)
        notes.extend(_weight_notes(table, args.gold, weight))
        if positive is None and args.binary:
            positive = sorted(POSITIVE[args.field])
        scores = {j: f"score:{j}" for j in judges if table[f"score:{j}"].notna().any()}
        if positive is None:
            scores = {}
        require_columns(table, by, source="the workspace")
        # calibrate.rows: the responses with gold that the run judged
        rows_for = {j: selected.validation(j, table) for j in judges}
        extra_by = ["unanimity"] if table["unanimity"].notna().any() else []
        source = f"{ws.location} (field {args.field})"
    labels = _split(args.labels)
    if labels is None and not args.table:
        from safecal.annotate.labels import SCALES

        labels = list(SCALES[args.field])
    out: dict[str, Any] = {"judges": {}}
    results = {}
    for j in judges:
        kw = dict(
            gold=args.gold,
            judge=j,
            positive=positive,
            score=scores.get(j),
            labels=labels,
            weight=weight,
            n_boot=args.n_boot,
            confidence=args.confidence,
            seed=args.seed,
        )
        whole, slices = _sliced(judge_metrics, rows_for[j], args.by, **kw)
        entry = whole.to_dict()
        if slices:
            entry["slices"] = {k: v.to_dict() for k, v in slices.items()}
        for col in extra_by:
            entry[f"by_{col}"] = {
                k: v.to_dict() for k, v in _sliced(judge_metrics, rows_for[j], col, **kw)[1].items()
            }
        out["judges"][j] = entry
        results[j] = (whole, slices)
    if len(judges) > 1:
        out["paired"] = {}
        for a, b in itertools.combinations(judges, 2):
            both = rows_for[a][rows_for[a][b].notna()] if not args.table else table
            r = paired_test(
                both,
                gold=args.gold,
                judge_a=a,
                judge_b=b,
                positive=positive,
                n_boot=args.n_boot,
                confidence=args.confidence,
                seed=args.seed,
            )
            out["paired"][f"{a} vs {b}"] = r.to_dict()
        if weight:
            notes.append(
                "the paired tests between judges are unweighted: McNemar's test compares "
                "the two judges on the sample's items, not on the population"
            )
    if notes:
        out["notes"] = notes
    if args.json:
        _emit(out)
        return 0
    _print_judges(out, source, args)
    return 0


def _weight_notes(table: Any, gold: str, weight: str | None) -> list[str]:
    """Say how the gold rows are weighted; call out a gold set drawn with unequal
    probabilities whose metrics are not weighted (they describe the sample, not the
    population: a set that oversampled disagreements understates accuracy)."""
    import pandas as pd

    labeled = table[gold].notna()
    if weight:
        prob = pd.to_numeric(table.loc[labeled, weight], errors="coerce")
        if prob.nunique() > 1:
            return [
                f"gold drawn with unequal inclusion probabilities ({weight} from "
                f"{prob.min():.3g} to {prob.max():.3g}): every metric is weighted by "
                "1 / probability (Horvitz-Thompson), intervals use Kish's effective n"
            ]
        return []
    if "inclusion_prob" in table.columns:
        prob = pd.to_numeric(table.loc[labeled, "inclusion_prob"], errors="coerce")
        if prob.nunique() > 1:
            return [
                "the gold rows carry unequal inclusion probabilities (column inclusion_prob) "
                "but no --weight: the metrics describe the sample, not the population; "
                "give --weight inclusion_prob"
            ]
    return []


def _methods(entry: dict[str, Any], metrics: Sequence[str]) -> str:
    """``method: metric, metric; ...`` for the interval methods of one result."""
    by_method: dict[str, list[str]] = {}
    for m in metrics:
        e = entry.get(m)
        if e and e.get("method"):
            by_method.setdefault(e["method"], []).append(m)
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in by_method.items())


def _print_judges(out: dict[str, Any], source: str, args: argparse.Namespace) -> None:
    from safecal.calibrate.render import format_estimate, format_number

    for entry in out["judges"].values():  # a slice named like the pooled row: say so first
        _with_pooled(entry, entry.get("slices", {}), args.by)
    pct = int(round(args.confidence * 100))
    _say(f"Judges versus human gold: {source} ({pct}% intervals)\n")
    from safecal.calibrate.judge_metrics import METRICS as metrics

    for j, entry in out["judges"].items():
        shown = [m for m in metrics if entry.get(m) is not None]
        groups = {
            **_with_pooled(entry, entry.get("slices", {}), args.by),
            **{f"unanimity={k}": v for k, v in entry.get("by_unanimity", {}).items()},
        }
        rows = []
        for name, e in groups.items():
            rows.append([name, e["n"], e["n_invalid"], *[e[m] for m in shown]])
        _print_rows(["slice", "n", "invalid", *shown], rows, title=f"judge {j}")
        _say(f"intervals: {_methods(entry, shown)}")
        if entry.get("weighted"):
            _say(
                f"weighted by 1 / inclusion probability; effective n "
                f"{format_number(entry['n_effective'], spec='.1f')} of {entry['n']}"
            )
        for conf in (entry["confusion"], entry.get("confusion_full")):
            if conf is None:
                continue
            _print_rows(
                ["gold \\ judge", *conf["labels"]],
                [[lab, *row] for lab, row in zip(conf["labels"], conf["matrix"], strict=True)],
            )
        invalid = sorted(entry["invalid_values"].items(), key=lambda kv: -kv[1])
        if invalid:
            # judge answers are untrusted text: repr() escapes control characters
            answers = ", ".join(f"{k[:80]!r} x{v}" for k, v in invalid[:10])
            more = f" and {len(invalid) - 10} other answers" if len(invalid) > 10 else ""
            _say(f"invalid judge answers (left out): {answers}{more}\n")
    for pair, r in out.get("paired", {}).items():
        _say(
            f"{pair}: {r['method']}, p = {format_number(r['p_value'], spec='.4g')}; accuracy "
            f"difference {format_estimate(r['difference'])} on {r['n']} items"
        )
    for note in out.get("notes", []):
        _say(f"note: {note}")


# ---- estimate ----------------------------------------------------------------------


def run_estimate(args: argparse.Namespace) -> int:
    from safecal.annotate.labels import POSITIVE
    from safecal.calibrate.io import require_columns
    from safecal.calibrate.ppi import corrected_rate, gold_budget
    from safecal.calibrate.slices import benchmark_cells

    positive = args.positive
    weight = args.weight
    notes: list[str] = []
    if args.table:
        table = _load(args)
        if not args.judge:
            raise InputError("give the judge verdict column with --judge COL")
        if not positive:
            raise InputError("give the positive label(s) with --positive VALUE")
        judge = args.judge
        if args.score == "":
            raise InputError("--score needs the score column's name with --table")
        score = args.score
        require_columns(table, [args.gold, judge, weight, args.by, score], source=args.table)
        source = args.table
    else:
        from safecal.calibrate.tables import estimate_table

        if weight:
            raise InputError(
                "--weight is for --table; the workspace weights by its samples' inclusion "
                "probabilities (calibrate.rows)"
            )
        ws = open_workspace(args)
        loaded = estimate_table(
            ws, field=args.field, run=args.run or args.judge, assume_random=args.assume_random
        )
        table = _filter(loaded.table, args, "the workspace")
        judge, weight = loaded.judge, loaded.weight
        notes.extend(loaded.notes)
        score = f"score:{judge}" if args.score is not None else None
        positive = positive or sorted(POSITIVE[args.field])
        require_columns(table, [args.by], source="the workspace")
        source = f"{ws.location} (field {args.field}, judge {judge})"
    kw = dict(
        gold=args.gold,
        judge=judge,
        positive=positive,
        weight=weight,
        confidence=args.confidence,
        score=score,
    )
    whole, slices = _sliced(corrected_rate, table, args.by, **kw)
    out: dict[str, Any] = {
        "estimates": {k: v.to_dict() for k, v in _with_pooled(whole, slices, args.by).items()}
    }
    if args.cells:
        require_columns(table, [args.model, "level1_category", "modality"], source=source)
        cells = benchmark_cells(table, model=args.model, **kw)
        out["cells"] = cells.astype(object).where(cells.notna(), None).to_dict("records")
    if args.target_width is not None:
        out["budget"] = gold_budget(table, width=args.target_width, **kw).to_dict()
    if notes:
        out["notes"] = notes
    if args.json:
        _emit(out)
        return 0
    pct = int(round(args.confidence * 100))
    _say(f"Rates of {', '.join(positive)}: {source} ({pct}% intervals)\n")
    rows = [
        [
            k,
            e["n_labeled"],
            e["n_unlabeled"],
            e["n_invalid"],
            e["judge_rate"],
            e["human_rate"],
            e["corrected"],
        ]
        for k, e in out["estimates"].items()
    ]
    _print_rows(
        [
            "slice",
            "labeled",
            "unlabeled",
            "invalid",
            "judge rate",
            "human only",
            "corrected (PPI++)",
        ],
        rows,
    )
    for k, e in out["estimates"].items():
        if e.get("fallback"):
            _say(f"{k}: {e['fallback_reason']}")
    methods = sorted({e["methods"]["corrected"] for e in out["estimates"].values()} - {""})
    if methods:
        _say(f"corrected intervals: {', '.join(methods)} (README: corrected rates)")
    if "cells" in out:
        _print_rows(
            ["model", "cell", "labeled", "judge rate", "human only", "corrected", "from"],
            [
                [
                    c["model"],
                    c["cell"],
                    c["n_labeled"],
                    _triplet(c, "judge_rate"),
                    _triplet(c, "human_rate"),
                    _triplet(c, "corrected"),
                    _source(c),
                ]
                for c in out["cells"]
            ],
            title="Benchmark cells (level-1 category x modality) and totals",
        )
        _say(
            "from: 'borrowed' = more than half of the cell's judge error comes from the "
            "model's other cells (empirical-Bayes pooling, the between-cell spread in the "
            "interval); 'human only' = the judge did not narrow the interval, so the "
            "human-only rate is reported"
        )
    if "budget" in out:
        from safecal.calibrate.render import format_number

        b = out["budget"]
        if b["n_needed"] is None:
            _say(
                f"gold budget: a {format_number(b['target_width'])}-wide interval is out of "
                f"reach: the judged responses alone leave {format_number(b['floor_width'])}"
            )
        else:
            _say(
                f"gold budget: {b['n_more']} more labels (total {b['n_needed']}) bring the "
                f"interval from {format_number(b['current_width'])} to "
                f"{format_number(b['target_width'])} wide; "
                f"human labels alone would need about {b['human_only_n_needed']}"
            )
    for note in notes:
        _say(f"note: {note}")
    return 0


def _source(row: dict[str, Any]) -> str:
    """Where a cell's corrected rate comes from, in a word or two."""
    if row.get("cell") == "total (mean of cells)":
        return "cells"
    if row.get("fallback"):
        return "human only"
    if row.get("borrowed"):
        return "borrowed"
    return "all labels" if row.get("kind") == "total" else "own labels"


def _triplet(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {"value": row[name], "ci": [row[f"{name}_low"], row[f"{name}_high"]]}


# ---- table -------------------------------------------------------------------------


def run_table(args: argparse.Namespace) -> int:
    """``calibrate table``: :func:`calibrate.paper.paper_table`, rendered."""
    from safecal.calibrate.paper import paper_table, render_paper

    ws = open_workspace(args)
    table = paper_table(
        ws,
        run=args.run,
        confidence=args.confidence,
        assume_random=args.assume_random,
        score=args.score,
    )
    if args.json:
        _emit(table.to_dict())
        return 0
    sys.stdout.write(render_paper(table, fmt=args.format))
    if args.format == "text":
        for f, notes in table.notes.items():
            for note in notes:
                _say(f"note ({f}): {note}")
    else:
        for f, notes in table.notes.items():
            for note in notes:
                print(f"note ({f}): {note}", file=sys.stderr)
    return 0
