"""The judge card: one judge run against the human gold labels, as plain data, HTML and JSON.

:func:`judge_card` gathers, for each field the run judged (harmfulness, refusal):

* agreement with gold (:func:`calibrate.judge_metrics`, binary view with
  :data:`annotate.labels.POSITIVE` and the three-level view), with small-sample intervals
  (each names its method), on the rows and weights :func:`calibrate.rows.select_rows`
  picks (the samples' inclusion probabilities, as the command line and dashboard), and
  the confusion matrices;
* the invalid-answer rate (Wilson interval, :func:`calibrate.wilson`) and examples;
* for a scored judge, the threshold tuned by cross-validation and its out-of-fold
  figures (:func:`calibrate.tuning.tune_threshold_cv`);
* the prompt version, and (when given) the prompt-selection result with its held-out
  test figures and paired test (:func:`calibrate.tuning.tune_prompt`);
* per-slice figures (target model, categories, modality, language; worst first by
  accuracy) and accuracy by human unanimity, all via :func:`calibrate.by_slice`;
* cost, tokens and latency;
* plots: reliability diagram, ROC and precision-recall curves, a level-1 category x
  modality heatmap of accuracy (inline SVG).

No metric is computed here: every figure comes from the statistics module. Every text
from a model or a person is escaped in the HTML (:func:`html.escape`).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace
from safecal.calibrate.judge_metrics import METRICS
from safecal.calibrate.render import estimate_parts

SLICES = ("model", "level1_category", "level2_category", "modality", "language")
INVALID = "(invalid)"


def _est(e: Any) -> dict[str, Any] | None:
    return None if e is None else e.to_dict()


def _slice_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for value, r in results.items():
        rows.append(
            {
                "value": value,
                "n": r.n,
                "n_invalid": r.n_invalid,
                "accuracy": _est(r.accuracy),
                "cohen_kappa": _est(r.cohen_kappa),
                "fpr": _est(r.fpr),
                "fnr": _est(r.fnr),
            }
        )

    def key(row: dict[str, Any]) -> tuple[float, str]:
        acc = (row["accuracy"] or {}).get("value")
        return (math.inf if acc is None else acc, row["value"])

    return sorted(rows, key=key)


def field_card(
    table: pd.DataFrame,
    info: dict[str, Any],
    *,
    objective: str = "kappa",
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = DEFAULT_CONFIDENCE,
    prompt_tuning: Any = None,
) -> dict[str, Any]:
    """The card's figures for one field, from :func:`calibrate.report.data.run_table`."""
    from safecal.calibrate import by_slice, judge_metrics, wilson
    from safecal.calibrate.rows import validation_rows
    from safecal.calibrate.tuning import tune_table

    field, positive = info["field"], info["positive"]
    judged = table[table["judge"].notna()]
    n_invalid_all = int((judged["judge"] == INVALID).sum())
    # calibrate.rows decided which gold counts and its weights (report.data.run_table)
    weight: str | None = info.get("weight")
    weight_notes: list[str] = list(info.get("notes", []))
    gold = validation_rows(table, "judge").copy()
    has_score = bool(pd.to_numeric(gold["score"], errors="coerce").notna().any())
    kw: dict[str, Any] = {
        "gold": "gold",
        "judge": "judge",
        "weight": weight,
        "n_boot": n_boot,
        "confidence": confidence,
        "seed": seed,
    }
    out: dict[str, Any] = {
        "field": field,
        "positive": positive,
        "n_responses": int(len(table)),
        "n_judged": int(len(judged)),
        "n_gold": int(table["gold"].notna().sum()),
        "n_judged_gold": int(len(gold)),
        "invalid": {
            "n": n_invalid_all,
            "of": int(len(judged)),
            "rate": _est(wilson(n_invalid_all, len(judged), confidence)) if len(judged) else None,
        },
        "weighted": weight is not None,
        "weight_notes": weight_notes,
    }
    if gold.empty:
        out["note"] = "no gold labels for the judged responses: adjudicate a sample first"
        return out
    gold["score"] = pd.to_numeric(gold["score"], errors="coerce")
    binary = judge_metrics(gold, positive=positive, score="score" if has_score else None, **kw)
    out["metrics"] = binary.to_dict()
    out["three_level"] = judge_metrics(gold, **kw).to_dict()

    if has_score:
        try:
            tuned = tune_table(
                gold,
                gold="gold",
                score="score",
                positive=positive,
                objective=objective,
                folds=folds,
                seed=seed,
                n_boot=n_boot,
            )
            out["threshold"] = tuned.to_dict()
            if weight is not None:
                out["threshold"]["note"] = (
                    "the threshold is tuned and cross-validated unweighted, on the gold "
                    "sample's items (not weighted to the population)"
                )
        except InputError as exc:
            out["threshold"] = {"note": str(exc)}
    if prompt_tuning is not None and not isinstance(prompt_tuning, dict):
        prompt_tuning = prompt_tuning.to_dict()
    out["prompt"] = {"version": info.get("prompt_version"), "tuning": prompt_tuning}

    slices = {}
    for col in SLICES:
        if col in gold.columns and gold[col].notna().any():
            slices[col] = _slice_rows(
                by_slice(judge_metrics, gold, by=col, positive=positive, **kw)
            )
    out["slices"] = slices
    if "unanimity" in gold.columns and gold["unanimity"].notna().any():
        out["by_unanimity"] = _slice_rows(
            by_slice(judge_metrics, gold, by="unanimity", positive=positive, **kw)
        )
    lat = pd.to_numeric(judged["latency"], errors="coerce").dropna().to_numpy(float)
    out["latency_seconds"] = (
        {
            "mean": float(lat.mean()),
            "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)),
        }
        if len(lat)
        else None
    )
    out["tokens"] = {
        "in": int(pd.to_numeric(judged["tokens_in"]).fillna(0).sum()),
        "out": int(pd.to_numeric(judged["tokens_out"]).fillna(0).sum()),
    }
    out["not_applicable"] = field_not_applicable(info)
    for key in ("latency_seconds", "tokens"):  # recorded as zeros: not a measurement
        if key in out["not_applicable"]:
            out[key] = None
    out["examples"] = _examples(gold, judged, positive)
    out["_plots"] = _plots(gold, positive, has_score, kw)
    return out


def _examples(
    gold: pd.DataFrame, judged: pd.DataFrame, positive: list[str], k: int = 5
) -> dict[str, list[dict[str, Any]]]:
    invalid = judged[judged["judge"] == INVALID].head(k)
    valid = gold[gold["judge"] != INVALID]
    wrong = valid[valid["gold"].isin(positive) != valid["judge"].isin(positive)].head(k)
    return {
        "invalid_answers": [
            {"response_id": r.response_id, "raw": str(r.raw or "")[:500]}
            for r in invalid.itertuples()
        ],
        "disagreements": [
            {
                "response_id": r.response_id,
                "gold": r.gold,
                "judge": r.judge,
                "raw": str(r.raw or "")[:300],
            }
            for r in wrong.itertuples()
        ],
    }


def _plots(
    gold: pd.DataFrame, positive: list[str], has_score: bool, kw: dict[str, Any]
) -> dict[str, str]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    from safecal.calibrate import by_slice, judge_metrics
    from safecal.calibrate.report import svg

    plots: dict[str, str] = {}
    scored = gold[gold["score"].notna() & (gold["judge"] != INVALID)]
    y = scored["gold"].isin(positive).to_numpy(int)
    if has_score and len(scored) and 0 < y.sum() < len(y):
        s = scored["score"].to_numpy(float)
        plots["reliability"] = svg.reliability_diagram(y, s)
        fpr, tpr, _ = roc_curve(y, s)
        plots["roc"] = svg.line_chart(
            [("judge", fpr, tpr)],
            title="ROC",
            diagonal=True,
            xlabel="false-positive rate",
            ylabel="true-positive rate",
        )
        precision, recall, _ = precision_recall_curve(y, s)
        plots["pr"] = svg.line_chart(
            [("judge", recall, precision)],
            title="Precision-recall",
            xlabel="recall",
            ylabel="precision",
        )
    if {"level1_category", "modality"} <= set(gold.columns):
        cell = gold["level1_category"].fillna("(missing)") + " | " + gold["modality"].fillna("?")
        res = by_slice(
            judge_metrics,
            gold.assign(_cell=cell),
            by="_cell",
            positive=positive,
            **{**kw, "n_boot": 0},
        )
        rows = sorted(gold["level1_category"].fillna("(missing)").unique())
        cols = sorted(gold["modality"].fillna("?").unique())
        values = np.full((len(rows), len(cols)), np.nan)
        counts = np.zeros((len(rows), len(cols)), dtype=int)
        for key, r in res.items():
            a, b = key.split(" | ", 1)
            values[rows.index(a), cols.index(b)] = r.accuracy.value
            counts[rows.index(a), cols.index(b)] = r.n
        plots["cells"] = svg.heatmap(
            rows, cols, values, counts, title="Accuracy by level-1 category x modality"
        )
    return plots


def judge_card(
    ws: Workspace,
    run: str,
    *,
    objective: str = "kappa",
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = DEFAULT_CONFIDENCE,
    prompt_tuning: dict[str, Any] | None = None,
    assume_random: bool = False,
) -> dict[str, Any]:
    """The whole card for one run (every field it judged). ``prompt_tuning`` maps a field
    to its :class:`calibrate.tuning.PromptTuning`; ``assume_random``: count gold from no
    sample as a simple random sample (:func:`calibrate.rows.select_rows`)."""
    from safecal.calibrate.probes import stored_results
    from safecal.calibrate.report.data import resolve_run, run_fields, run_table

    info = resolve_run(ws, run)
    fields = {}
    for field in run_fields(ws, info["run_id"]):
        table, finfo = run_table(ws, info["run_id"], field=field, assume_random=assume_random)
        fields[field] = field_card(
            table,
            finfo,
            objective=objective,
            folds=folds,
            seed=seed,
            n_boot=n_boot,
            confidence=confidence,
            prompt_tuning=(prompt_tuning or {}).get(field),
        )
    if not fields:
        raise InputError(f"run {info['run_id']} has no verdicts")
    from safecal.calibrate.paper import paper_table

    paper = paper_table(
        ws, run=info["run_id"], confidence=confidence, assume_random=assume_random
    ).to_dict()
    run_info = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in info.items()}
    for c in fields.values():
        add_example_context(ws, c)
    return {
        "run": run_info,
        "not_applicable": run_not_applicable(run_info),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "objective": objective,
        "folds": folds,
        "confidence": confidence,
        "seed": seed,
        "fields": fields,
        # what `safecal calibrate probe` stored for this run (calibrate.probes)
        "probes": stored_results(ws, str(info["run_id"])),
        "paper": paper,
    }


# -- output -------------------------------------------------------------------------------
def card_json(card: dict[str, Any]) -> dict[str, Any]:
    """The card without its SVG plots and image thumbnails (plain JSON); a comparison of
    several runs (:func:`compare_runs`) with each of its cards so."""
    if "cards" in card:
        return {**card, "cards": [card_json(c) for c in card["cards"]]}
    return {
        **card,
        "fields": {
            f: {k: v for k, v in c.items() if not k.startswith("_")}
            for f, c in card["fields"].items()
        },
    }


def write_card(card: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``<out>.html`` and ``<out>.json``; returns both paths."""
    out = Path(out)
    if out.suffix in (".html", ".json"):
        out = out.with_suffix("")
    out.parent.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out.with_suffix(".html"), out.with_suffix(".json")
    html_path.write_text(render_html(card), encoding="utf-8")
    json_path.write_text(
        json.dumps(card_json(card), indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return html_path, json_path


def _fmt(e: dict[str, Any] | None, pct: bool = False) -> str:
    """An estimate as HTML: :func:`calibrate.render.estimate_parts`, the interval in a span."""
    value, interval = estimate_parts(e, spec=".1%" if pct else ".3f")
    if not interval:
        return escape(value)
    return f"{escape(value)} <span class=ci>{escape(interval)}</span>"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _confusion(conf: dict[str, Any] | None, title: str) -> str:
    if not conf:
        return ""
    labels = [escape(str(x)) for x in conf["labels"]]
    rows = [[f"<b>{labels[i]}</b>"] + [str(v) for v in row] for i, row in enumerate(conf["matrix"])]
    return f"<h4>{escape(title)}</h4>" + _table(["gold \\ judge", *conf["labels"]], rows)


def _slice_table(rows: list[dict[str, Any]]) -> str:
    return _table(
        ["slice", "n", "invalid", "accuracy", "Cohen's kappa", "FPR", "FNR"],
        [
            [
                escape(str(r["value"])),
                str(r["n"]),
                str(r["n_invalid"]),
                _fmt(r["accuracy"]),
                _fmt(r["cohen_kappa"]),
                _fmt(r["fpr"]),
                _fmt(r["fnr"]),
            ]
            for r in rows
        ],
    )


def _field_html(c: dict[str, Any]) -> str:
    parts = [
        f"<h2>{escape(c['field'])} <small>(positive: "
        f"{escape(', '.join(c['positive']))})</small></h2>",
        f"<p>{c['n_judged']} of {c['n_responses']} responses judged; "
        f"{c['n_judged_gold']} of them have a gold label. Invalid answers: "
        f"{c['invalid']['n']} of {c['invalid']['of']} "
        f"({_fmt(c['invalid']['rate'], pct=True)}).</p>",
    ]
    if "metrics" not in c:
        parts.append(f"<p class=warn>{escape(c.get('note', ''))}</p>")
        return "\n".join(parts)
    m = c["metrics"]
    parts.append("<h3>Agreement with the human gold labels</h3>")
    if c.get("weighted"):
        parts.append(
            "<p>Weighted by 1 / inclusion probability of the gold sample (effective n "
            f"{m.get('n_effective') or 0:.1f} of {m['n']}).</p>"
        )
    parts.extend(f"<p class=warn>{escape(note)}</p>" for note in c.get("weight_notes", []))

    def method(e: dict[str, Any] | None) -> str:
        return escape((e or {}).get("method", ""))

    three = c["three_level"]
    parts.append(
        _table(
            ["metric", "value [interval]", "interval"],
            [[escape(k), _fmt(m.get(k)), method(m.get(k))] for k in METRICS if m.get(k)]
            + [
                [
                    "three-level Cohen's kappa",
                    _fmt(three["cohen_kappa"]),
                    method(three["cohen_kappa"]),
                ],
                ["three-level accuracy", _fmt(three["accuracy"]), method(three["accuracy"])],
            ],
        )
    )
    parts.append(_confusion(m.get("confusion"), "Confusion (binary)"))
    parts.append(_confusion(c["three_level"].get("confusion"), "Confusion (three levels)"))
    parts.append("<h3>Prompt and threshold</h3>")
    na = c.get("not_applicable", {})
    parts.append(f"<p>Prompt version: {_value(c['prompt']['version'], na.get('prompt'))}</p>")
    tuning = c["prompt"].get("tuning")
    if tuning:
        parts.append(
            f"<p>Prompt chosen on the dev split: <code>{escape(tuning['chosen'])}</code> "
            f"(<code>{escape(tuning['chosen_version'])}</code>); current prompt "
            f"<code>{escape(tuning['baseline_version'])}</code>. Held-out test split "
            f"(never used for the choice): kappa {_fmt(tuning['test']['chosen']['cohen_kappa'])}"
            f" vs {_fmt(tuning['test']['baseline']['cohen_kappa'])}; McNemar p = "
            f"{tuning['paired_test']['p_value']:.3g}.</p>"
        )
        parts.append(
            _table(
                ["candidate", "shots", f"dev {tuning['objective']}"],
                [
                    [
                        escape(r["candidate"]),
                        str(r["shots"]),
                        f"{r['dev_' + tuning['objective']]:.3f}",
                    ]
                    for r in tuning["candidates"]
                ],
            )
        )
    t = c.get("threshold")
    if t and "threshold" in t:
        parts.append(
            f"<p>Score threshold <b>{t['threshold']:.4g}</b> (positive when score &ge; "
            f"threshold), chosen to maximise {escape(t['objective'])}. Cross-validated "
            f"figures ({len(t['fold_thresholds'])} folds; each fold labelled with a threshold "
            "tuned on the other folds):</p>"
        )
        folds = ", ".join(f"{x:.4g}" for x in t["fold_thresholds"])
        parts.append(
            f"<p>Thresholds chosen within the folds: {escape(folds)} (their spread "
            "shows how stable the choice is).</p>"
        )
        parts.append(
            _table(
                ["metric", "out-of-fold value [interval]"],
                [[escape(k), _fmt(v)] for k, v in t["cross_validated"].items()],
            )
        )
        if t.get("note"):
            parts.append(f"<p class=warn>{escape(t['note'])}</p>")
    elif t:
        parts.append(f"<p>{escape(t.get('note', ''))}</p>")
    else:
        parts.append("<p>The judge gives no score; no threshold to tune.</p>")
    plots = c.get("_plots", {})
    if plots:
        parts.append("<h3>Plots</h3><div class=plots>" + "".join(plots.values()) + "</div>")
    parts.append("<h3>Slices (worst accuracy first)</h3>")
    for col, rows in c.get("slices", {}).items():
        parts.append(f"<h4>{escape(col)}</h4>" + _slice_table(rows))
    if c.get("by_unanimity"):
        parts.append("<h3>Accuracy by human unanimity</h3>" + _slice_table(c["by_unanimity"]))
    parts.append(_cost_html(c))
    parts.append(_examples_html(c))
    return "\n".join(parts)


def _paper_html(paper: dict[str, Any] | None) -> str:
    """The paper's table (:mod:`calibrate.paper`): both rates per target model."""
    if not paper:
        return ""
    from safecal.calibrate.paper import ESTIMATES

    fields = paper["fields"]
    headers = ["model"] + [
        f"{paper['rates'][f]}: {h}" for f in fields for h in ("gold n", *ESTIMATES.values())
    ]
    rows = []
    for m in paper["models"]:
        row = [escape(str(m["model"]))]
        for f in fields:
            r = m.get(f)
            row += (
                ["n/a"] * 4
                if r is None
                else [str(r["n_labeled"]), *(_fmt(r[k]) for k in ESTIMATES)]
            )
        rows.append(row)
    notes = "".join(
        f"<p class=warn>{escape(f)}: {escape(n)}</p>"
        for f, ns in paper.get("notes", {}).items()
        for n in ns
    )
    return (
        "<h2>Rates per target model</h2><p>Raw judge, human only and corrected (PPI++), "
        "as <code>safecal calibrate table</code> prints them.</p>" + _table(headers, rows) + notes
    )


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.ci{color:#666;font-size:90%}
pre{white-space:pre-wrap;max-width:600px;margin:0}.plots svg{margin:4px;border:1px solid #eee}
.warn{color:#a00}small{color:#666;font-weight:normal}.na{color:#888;border-bottom:1px dotted #888}
img.thumb{max-width:160px;max-height:160px}
"""


def _probes_html(probes: dict[str, Any]) -> str:
    """The probes section: one row per probe and per slice, beside the expected direction
    (:mod:`calibrate.probes`); empty when no probe was run."""
    if not probes:
        return ""
    rows = []
    for name, res in probes.items():
        for key, fig in [("all", res), *res.get("slices", {}).items()]:
            expected = fig.get("expected") or (res["expected_overall"] if key == "all" else "-")
            rows.append(
                [
                    f"<b>{escape(name)}</b>" if key == "all" else "",
                    escape(key),
                    str(fig["n"]),
                    _fmt(fig["flip_rate"], pct=True),
                    _fmt(fig["accuracy_change"], pct=True),
                    escape(f"{fig['paired_test']['p_value']:.3g}"),
                    escape(str(expected)),
                    escape(fig["assessment"]),
                ]
            )
    described = "".join(
        f"<li><b>{escape(name)}</b>: {escape(res.get('description', ''))}</li>"
        for name, res in probes.items()
    )
    return (
        "<h2>Probes</h2><p>Gold-labelled responses transformed and judged again with this "
        "run's configuration (<code>safecal calibrate probe</code>): the share of verdicts "
        "that flip (exact interval), the change in accuracy against the gold (Newcombe's "
        "paired interval) and McNemar's exact p-value, beside the direction a sound judge "
        f"should show.</p><ul>{described}</ul>"
        + _table(
            [
                "probe",
                "slice",
                "n",
                "flip rate",
                "accuracy change",
                "McNemar p",
                "expected",
                "shows",
            ],
            rows,
        )
    )


def render_html(card: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (inline CSS and SVG, nothing external)."""
    if "cards" in card:
        return render_comparison_html(card)
    run = card["run"]
    header = _run_header([card])
    body = _paper_html(card.get("paper")) + "\n".join(
        _field_html(c) for c in card["fields"].values()
    )
    body += _probes_html(card.get("probes") or {})
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>Judge card: {escape(str(run.get('judge')))}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Judge card: {escape(str(run.get('judge')))}</h1>"
        f"{_intervals_note(card)}{header}{body}</body></html>"
    )


def _intervals_note(card: dict[str, Any]) -> str:
    return (
        f"<p>Generated {escape(card['generated_at'])} by safecal; intervals are "
        f"{100 * card['confidence']:.0f}% intervals made for small gold sets, each named "
        "beside it: clopper-pearson (exact), mover-clopper-pearson, bayes-dirichlet(1/4..1/2) "
        "(Dirichlet posterior), newcombe-score, clopper-pearson-positives (AUPRC) "
        f"(seed {card['seed']}).</p>"
    )


# -- fields that do not apply ---------------------------------------------------------------
#: run fields that a kind of judge has no value for, and why (shown as "n/a" with the reason)
_NO_CALLS = "imported verdicts: the judge ran outside safecal, which made no calls"
NOT_APPLICABLE: dict[str, dict[str, str]] = {
    "imported": {
        "model": "imported verdicts: the file does not say which model judged",
        "prompt_version": "imported verdicts: the prompt is not known to safecal",
        "n_calls": _NO_CALLS,
        "tokens_in": _NO_CALLS,
        "tokens_out": _NO_CALLS,
        "cost": _NO_CALLS,
    },
    "keyword": {
        "model": "keyword judge: no model",
        "prompt_version": "keyword judge: no prompt",
        "n_calls": "keyword judge: runs locally, no model calls",
        "tokens_in": "keyword judge: no model, no tokens",
        "tokens_out": "keyword judge: no model, no tokens",
        "cost": "keyword judge: runs locally, nothing to pay",
    },
}
#: the card's run header: (key in the run row, column title)
RUN_COLUMNS = (
    ("run_id", "run"),
    ("judge", "judge"),
    ("kind", "kind"),
    ("model", "model"),
    ("prompt_version", "prompt version"),
    ("n_calls", "calls"),
    ("tokens_in", "tokens in"),
    ("tokens_out", "tokens out"),
    ("cost", "cost (USD)"),
    ("finished_at", "finished"),
)


def run_not_applicable(run: dict[str, Any]) -> dict[str, str]:
    """``{run field: reason}`` for the fields of ``run`` that have no meaningful value:
    those its kind of judge never has (:data:`NOT_APPLICABLE`), and any other left empty
    (an LLM run without ``--price-in`` / ``--price-out`` has no cost)."""
    reasons = {  # a model or prompt the source did name (an inspect_ai grader) is shown
        k: why
        for k, why in NOT_APPLICABLE.get(str(run.get("kind")), {}).items()
        if k not in ("model", "prompt_version") or run.get(k) is None
    }
    for key, _ in RUN_COLUMNS:
        if key not in reasons and run.get(key) is None:
            reasons[key] = (
                "no prices given (--price-in, --price-out)" if key == "cost" else "not recorded"
            )
    return reasons


def field_not_applicable(info: dict[str, Any]) -> dict[str, str]:
    """``{card key: reason}`` for a field's figures that do not apply to the run's kind:
    an imported run has no latency, tokens or prompt of safecal's."""
    if info.get("kind") == "imported":
        return {
            "latency_seconds": "imported verdicts: no calls were timed",
            "tokens": _NO_CALLS,
            "prompt": "imported verdicts: the prompt is not known to safecal",
        }
    if info.get("kind") == "keyword":
        return {
            "tokens": "keyword judge: no model, no tokens",
            "prompt": "keyword judge: no prompt",
        }
    return {}


def _value(value: Any, reason: str | None = None) -> str:
    """A value as HTML, or ``n/a`` with the reason on hover and beside it."""
    if reason is not None or value is None:
        why = reason or "not recorded"
        return f"<span class=na title='{escape(why, quote=True)}'>n/a</span>"
    if isinstance(value, float):
        return escape(f"{value:.4f}")
    return f"<code>{escape(str(value))}</code>"


def _run_header(cards: list[dict[str, Any]]) -> str:
    """One row per run (several runs side by side), n/a cells with their reasons."""
    rows, reasons = [], {}
    for card in cards:
        run, na = card["run"], card.get("not_applicable", {})
        rows.append([_value(run.get(k), na.get(k)) for k, _ in RUN_COLUMNS])
        whose = f" ({run.get('judge')})" if len(cards) > 1 else ""  # each run's own reasons
        reasons.update({title + whose: na[k] for k, title in RUN_COLUMNS if k in na})
    note = "".join(
        f"<li><b>{escape(title)}</b>: n/a, {escape(why)}</li>" for title, why in reasons.items()
    )
    return _table([t for _, t in RUN_COLUMNS], rows) + (
        f"<ul class=na-reasons>{note}</ul>" if note else ""
    )


def _cost_html(c: dict[str, Any]) -> str:
    na = c.get("not_applicable", {})
    tokens = c.get("tokens")
    lat = c.get("latency_seconds")
    tok = (
        f"tokens in {tokens['in']}, out {tokens['out']}"
        if tokens and "tokens" not in na
        else f"tokens {_value(None, na.get('tokens'))}"
    )
    latency = (
        f"mean {lat['mean']:.3f} s, median {lat['p50']:.3f} s, 95th percentile {lat['p95']:.3f} s"
        if lat
        else _value(None, na.get("latency_seconds", "no latencies recorded"))
    )
    why = "".join(f"<br><small>n/a: {escape(r)}</small>" for r in dict.fromkeys(na.values()))
    return f"<h3>Cost and latency</h3><p>{tok}; latency {latency}{why}</p>"


# -- examples with their query, image and response -------------------------------------------
#: thumbnails: longest side in pixels, and the most bytes one may add to the page
THUMB_PIXELS = 160
THUMB_MAX_BYTES = 24_000
#: characters of a query or a response shown in an example
EXAMPLE_CHARS = 600


def thumbnail_data_uri(path: Path, *, root: Path) -> str | None:
    """A small JPEG of the image at ``path`` as a ``data:`` URI (the card stays one file),
    at most :data:`THUMB_PIXELS` on its longest side and :data:`THUMB_MAX_BYTES` bytes
    (quality lowered until it fits); ``None`` for a path outside ``root``, a missing or
    unreadable image, or one that does not fit. Base64 text only, so it cannot break out
    of the ``src`` attribute."""
    import base64
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        target = path.resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            return None
        with Image.open(target) as img:
            img.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
            small = img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    for quality in (80, 60, 40, 25):
        buffer = BytesIO()
        small.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= THUMB_MAX_BYTES:
            return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return None


def add_example_context(ws: Workspace, c: dict[str, Any]) -> None:
    """Give each example of a field's card its query, response and image (the image's
    thumbnail kept aside in ``c["_thumbnails"]``, out of the JSON)."""
    from safecal.annotate.store import views

    thumbs: dict[str, str | None] = {}
    for kind in ("disagreements", "invalid_answers"):
        for example in c.get("examples", {}).get(kind, []):
            rid = example["response_id"]
            row = views.response_with_item(ws, response_id=rid)
            if row.empty:
                continue
            r = row.iloc[0]
            query = r["text_zh"] if r["language"] == "zh" and r["text_zh"] else r["text"]
            example.update(
                item_id=r["item_id"],
                model=r["model"],
                language=r["language"],
                query=str(query or "")[:EXAMPLE_CHARS],
                response=str(r["response"] or "")[:EXAMPLE_CHARS],
                image=r["image"] or None,
            )
            if r["image"] and rid not in thumbs:
                thumbs[rid] = thumbnail_data_uri(ws.images_dir / r["image"], root=ws.images_dir)
    c["_thumbnails"] = thumbs


def _example_cells(c: dict[str, Any], r: dict[str, Any]) -> list[str]:
    uri = c.get("_thumbnails", {}).get(r["response_id"])
    image = (
        f"<img class=thumb alt='item image' src='{uri}'>"
        if uri
        else ("<span class=na>no image</span>" if not r.get("image") else "image not shown")
    )
    who = " / ".join(escape(str(r.get(k, ""))) for k in ("item_id", "model", "language"))
    return [
        f"<code>{escape(r['response_id'])}</code><br><small>{who}</small>",
        image,
        f"<pre>{escape(str(r.get('query', '')))}</pre>",
        f"<pre>{escape(str(r.get('response', '')))}</pre>",
    ]


def _examples_html(c: dict[str, Any]) -> str:
    """Disagreements and invalid answers, each with its query, image and response; every
    text escaped (a response is untrusted: markup, Markdown images and formulas show as
    the text they are)."""
    ex = c.get("examples", {})
    parts = []
    if ex.get("disagreements"):
        parts.append(
            "<h3>Examples of disagreement</h3>"
            + _table(
                ["response", "image", "query", "response text", "gold", "judge", "judge's answer"],
                [
                    [
                        *_example_cells(c, r),
                        escape(str(r["gold"])),
                        escape(str(r["judge"])),
                        f"<pre>{escape(r['raw'])}</pre>",
                    ]
                    for r in ex["disagreements"]
                ],
            )
        )
    if ex.get("invalid_answers"):
        parts.append(
            "<h3>Examples of invalid answers</h3>"
            + _table(
                ["response", "image", "query", "response text", "raw answer"],
                [
                    [*_example_cells(c, r), f"<pre>{escape(r['raw'])}</pre>"]
                    for r in ex["invalid_answers"]
                ],
            )
        )
    return "\n".join(parts)


# -- several runs side by side ---------------------------------------------------------------
def compare_runs(
    ws: Workspace,
    runs: list[str],
    *,
    objective: str = "kappa",
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    assume_random: bool = False,
) -> dict[str, Any]:
    """Several runs in one card: each run's card (:func:`judge_card`), and per field every
    two runs compared on the responses both judged that have gold
    (:func:`calibrate.paired.paired_test`: McNemar's test and the accuracy difference with
    a paired bootstrap interval, binary view of :data:`annotate.labels.POSITIVE`)."""
    import itertools

    from safecal.annotate.labels import POSITIVE
    from safecal.calibrate.paired import paired_test
    from safecal.calibrate.tables import judge_table

    cards = [
        judge_card(
            ws,
            r,
            objective=objective,
            folds=folds,
            seed=seed,
            n_boot=n_boot,
            confidence=confidence,
            assume_random=assume_random,
        )
        for r in runs
    ]
    ids = [c["run"]["run_id"] for c in cards]
    if len(set(ids)) != len(ids):
        raise InputError(f"--run names the same run twice ({', '.join(runs)}); name each once")
    comparison: dict[str, Any] = {}
    fields = [f for f in cards[0]["fields"] if all(f in c["fields"] for c in cards)]
    for field in fields:
        table, names = judge_table(ws, field=field, runs=ids)
        pairs = []
        for (a, run_a), (b, run_b) in itertools.combinations(zip(names, ids, strict=True), 2):
            both = table[table[a].notna() & table[b].notna() & table["gold"].notna()]
            result = paired_test(
                both,
                gold="gold",
                judge_a=a,
                judge_b=b,
                positive=sorted(POSITIVE[field]),
                n_boot=n_boot,
                confidence=confidence,
                seed=seed,
            )
            pairs.append({"a": run_a, "b": run_b, "a_name": a, "b_name": b, **result.to_dict()})
        comparison[field] = pairs
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "confidence": confidence,
        "seed": seed,
        "runs": ids,
        "cards": cards,
        "comparison": comparison,
    }


def _side_by_side(cards: list[dict[str, Any]], field: str) -> str:
    """One row per metric, one column per run."""
    heads = [escape(str(c["run"]["judge"])) for c in cards]
    fields = [c["fields"][field] for c in cards]
    rows = [
        [
            "responses judged (with gold)",
            *[f"{f['n_judged']} ({f['n_judged_gold']})" for f in fields],
        ],
        ["invalid answers", *[_fmt(f["invalid"]["rate"], pct=True) for f in fields]],
    ]
    for m in METRICS:
        values = [(f.get("metrics") or {}).get(m) for f in fields]
        if any(values):
            rows.append([escape(m), *[_fmt(v) if v else _value(None, "no score") for v in values]])
    head = "".join(f"<th>{h}</th>" for h in ["metric", *heads])
    body = "".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs_html(pairs: list[dict[str, Any]], names: dict[str, str]) -> str:
    rows = []
    for p in pairs:
        rows.append(
            [
                f"{escape(names[p['a']])} vs {escape(names[p['b']])}",
                str(p["n"]),
                f"{p['a_only']} / {p['b_only']}",
                _fmt(p["difference"]),
                escape(p["method"]),
                escape(f"{p['p_value']:.4g}"),
            ]
        )
    return _table(
        [
            "pair (A vs B)",
            "items both judged, with gold",
            "only A right / only B right",
            "accuracy A - B [interval]",
            "test",
            "p",
        ],
        rows,
    )


def render_comparison_html(comp: dict[str, Any]) -> str:
    """Several runs in one page: the runs' headers side by side, per field the metrics side
    by side and the paired comparisons, then each run's full card."""
    cards = comp["cards"]
    names = {c["run"]["run_id"]: str(c["run"]["judge"]) for c in cards}
    title = " vs ".join(escape(n) for n in names.values())
    parts = [f"<h1>Judge cards: {title}</h1>", _intervals_note(comp), _run_header(cards)]
    for field, pairs in comp["comparison"].items():
        positive = ", ".join(cards[0]["fields"][field]["positive"])
        parts.append(f"<h2>{escape(field)} <small>(positive: {escape(positive)})</small></h2>")
        parts.append(_side_by_side(cards, field))
        parts.append(
            "<p>Paired comparison on the responses both runs judged validly that have gold "
            "(binary view): McNemar's test on the items only one run got right, and the "
            "accuracy difference with a paired bootstrap interval.</p>"
        )
        parts.append(_pairs_html(pairs, names))
    for c in cards:
        parts.append(
            f"<hr><h1>{escape(str(c['run']['judge']))} <small>run "
            f"{escape(str(c['run']['run_id']))}</small></h1>"
        )
        parts.extend(_field_html(f) for f in c["fields"].values())
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>Judge cards: {title}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
