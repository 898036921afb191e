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
    return {
        "run": run_info,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "objective": objective,
        "folds": folds,
        "confidence": confidence,
        "seed": seed,
        "fields": fields,
        "paper": paper,
    }


# -- output -------------------------------------------------------------------------------
def card_json(card: dict[str, Any]) -> dict[str, Any]:
    """The card without its SVG plots (plain JSON)."""
    return {
        **card,
        "fields": {
            f: {k: v for k, v in c.items() if k != "_plots"} for f, c in card["fields"].items()
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
    parts.append(f"<p>Prompt version: <code>{escape(str(c['prompt']['version']))}</code></p>")
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
    lat = c.get("latency_seconds")
    parts.append(
        "<h3>Cost and latency</h3><p>"
        f"tokens in {c['tokens']['in']}, out {c['tokens']['out']}; latency "
        + (
            f"mean {lat['mean']:.3f} s, median {lat['p50']:.3f} s, 95th percentile "
            f"{lat['p95']:.3f} s"
            if lat
            else "n/a"
        )
        + "</p>"
    )
    ex = c["examples"]
    if ex["disagreements"]:
        parts.append(
            "<h3>Examples of disagreement</h3>"
            + _table(
                ["response", "gold", "judge", "judge's answer"],
                [
                    [
                        escape(r["response_id"]),
                        escape(str(r["gold"])),
                        escape(str(r["judge"])),
                        f"<pre>{escape(r['raw'])}</pre>",
                    ]
                    for r in ex["disagreements"]
                ],
            )
        )
    if ex["invalid_answers"]:
        parts.append(
            "<h3>Examples of invalid answers</h3>"
            + _table(
                ["response", "raw answer"],
                [
                    [escape(r["response_id"]), f"<pre>{escape(r['raw'])}</pre>"]
                    for r in ex["invalid_answers"]
                ],
            )
        )
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
.warn{color:#a00}small{color:#666;font-weight:normal}
"""


def render_html(card: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (inline CSS and SVG, nothing external)."""
    run = card["run"]
    cost = run.get("cost")
    header = _table(
        [
            "run",
            "judge",
            "kind",
            "model",
            "prompt version",
            "calls",
            "tokens in",
            "tokens out",
            "cost (USD)",
            "finished",
        ],
        [
            [
                escape(str(run.get(k)))
                for k in (
                    "run_id",
                    "judge",
                    "kind",
                    "model",
                    "prompt_version",
                    "n_calls",
                    "tokens_in",
                    "tokens_out",
                )
            ]
            + [
                escape(f"{cost:.4f}" if cost is not None else "n/a"),
                escape(str(run.get("finished_at"))),
            ]
        ],
    )
    body = _paper_html(card.get("paper")) + "\n".join(
        _field_html(c) for c in card["fields"].values()
    )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>Judge card: {escape(str(run.get('judge')))}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Judge card: {escape(str(run.get('judge')))}</h1>"
        f"<p>Generated {escape(card['generated_at'])} by safecal; intervals are "
        f"{100 * card['confidence']:.0f}% intervals made for small gold sets, each named "
        "beside it: clopper-pearson (exact), mover-clopper-pearson, bayes-dirichlet(1/4..1/2) "
        "(Dirichlet posterior), newcombe-score, clopper-pearson-positives (AUPRC) "
        f"(seed {card['seed']}).</p>{header}{body}</body></html>"
    )
