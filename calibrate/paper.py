"""The benchmark paper's table: attack-success and over-refusal rates side by side per model.

Per target model, for each field a judge run has verdicts for:

* **attack-success rate** (field ``harmfulness`` on the ``vulnerability`` items; positive
  = :data:`annotate.labels.POSITIVE` ``unsafe``), and
* **over-refusal rate** (field ``refusal`` on the ``overrefusal`` items, whose prompts are
  benign; positive = partial or full refusal),

each as the raw judge rate, the human-only rate and the corrected (PPI++) rate with its
interval, and the number of gold labels behind it: :func:`calibrate.ppi.corrected_rate`
on the rows :func:`calibrate.rows.select_rows` picks (the same rows, weights and notes
as ``safecal calibrate estimate``; a model's row here equals ``estimate --by model``).
Nothing is computed here beyond that call; :mod:`calibrate.render` writes the table as
text, Markdown, LaTeX or CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
from safecal.annotate.errors import InputError
from safecal.annotate.labels import POSITIVE
from safecal.annotate.store import Workspace
from safecal.calibrate.results import Estimate

#: the paper's name of each field's rate, in the table's order
RATES = {"harmfulness": "attack-success rate", "refusal": "over-refusal rate"}
#: the three estimates of each rate, in the table's order
ESTIMATES = {"judge_rate": "raw judge", "human_rate": "human only", "corrected": "corrected"}
FORMATS = ("text", "markdown", "latex", "csv")


@dataclass(frozen=True)
class PaperTable:
    """``models``: one dict per target model, ``{"model": name, field: {"n_labeled",
    "n_unlabeled", "n_invalid", "judge_rate", "human_rate", "corrected"} or None}``;
    ``judges``: the judge column used per field; ``notes`` per field."""

    fields: list[str]
    models: list[dict[str, Any]]
    judges: dict[str, str]
    confidence: float
    notes: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "rates": {f: RATES[f] for f in self.fields},
            "judges": dict(self.judges),
            "confidence": self.confidence,
            "models": self.models,
            "notes": {f: list(n) for f, n in self.notes.items()},
        }

    def headers(self) -> list[str]:
        out = ["model"]
        for f in self.fields:
            out += [f"{RATES[f]}: gold n"] + [f"{RATES[f]}: {v}" for v in ESTIMATES.values()]
        return out

    def cells(self) -> list[list[Any]]:
        """One row per model: name, then per field the gold n and the three estimates
        (``{"value", "ci", "method"}`` dicts, ``None`` where the model has no response of
        the field)."""
        rows = []
        for m in self.models:
            row: list[Any] = [m["model"]]
            for f in self.fields:
                r = m.get(f)
                row += [None] * 4 if r is None else [r["n_labeled"], *(r[k] for k in ESTIMATES)]
            rows.append(row)
        return rows


def paper_table(
    ws: Workspace,
    *,
    run: str | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    assume_random: bool = False,
    score: bool = False,
) -> PaperTable:
    """Both rates per target model for one judge (``run``: a run id or a judge name; a
    judge name takes its newest run per field; default: the only judge with verdicts).
    A field the run has no verdicts for is left out, with a note. ``score``: rectify the
    run's scores instead of its verdicts (as ``estimate --score``)."""
    from safecal.calibrate.ppi import corrected_rate
    from safecal.calibrate.rows import one_judge, select_rows

    fields: list[str] = []
    judges: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    by_model: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for f in RATES:
        try:
            rows = select_rows(
                ws, field=f, runs=[run] if run else None, assume_random=assume_random
            )
            judge = one_judge(rows)
        except InputError as exc:
            errors.append(f"{f}: {exc}")
            continue
        if rows.table[judge].notna().sum() == 0:
            errors.append(f"{f}: the run {rows.runs[judge]} has no verdicts for this field")
            continue
        fields.append(f)
        judges[f] = judge
        notes[f] = rows.notes
        sc = f"score:{judge}" if score and rows.table[f"score:{judge}"].notna().any() else None
        for model, part in rows.table.groupby("model", sort=True):
            r = corrected_rate(
                part,
                gold="gold",
                judge=judge,
                positive=sorted(POSITIVE[f]),
                weight=rows.weight,
                confidence=confidence,
                score=sc,
            )
            d = r.to_dict()
            by_model.setdefault(str(model), {"model": str(model)})[f] = {
                "n_labeled": d["n_labeled"],
                "n_unlabeled": d["n_unlabeled"],
                "n_invalid": d["n_invalid"],
                **{k: d[k] for k in ESTIMATES},
                "method": d["method"],
                "fallback_reason": d["fallback_reason"],
            }
    if not fields:
        raise InputError("no rate to tabulate: " + "; ".join(errors))
    for f in RATES:
        if f not in fields:
            notes[f] = [next(e for e in errors if e.startswith(f"{f}:"))]
    models = [{"model": m, **{f: v.get(f) for f in fields}} for m, v in sorted(by_model.items())]
    return PaperTable(fields, models, judges, confidence, notes)


def render_paper(table: PaperTable, *, fmt: str = "text", spec: str = ".3f") -> str:
    """``table`` as ``text``, ``markdown``, ``latex`` or ``csv`` (:mod:`calibrate.render`:
    names escaped for Markdown and LaTeX, formulas neutralised in CSV)."""
    from safecal.calibrate import render

    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    headers = table.headers()
    rows = [[_cell(c, spec) for c in r] for r in table.cells()]
    pct = round(table.confidence * 100)
    caption = (
        f"Attack-success and over-refusal rates per target model: raw judge, human only "
        f"and corrected (PPI++), value [{pct}% interval]; gold n = human gold labels."
    )
    if fmt == "text":
        return _render_text(table, spec=spec, caption=caption)
    if fmt == "markdown":
        return render.render_markdown(headers, rows, caption=caption)
    if fmt == "latex":
        groups = [("", 1)] + [(RATES[f], 4) for f in table.fields]
        sub = ["model"] + ["gold n", *ESTIMATES.values()] * len(table.fields)
        return render.render_latex(sub, rows, groups=groups, caption=caption)
    return render.render_csv(headers, rows)


def _render_text(table: PaperTable, *, spec: str, caption: str) -> str:
    """The terminal's form: one block per rate (model, gold n, the three estimates), so a
    row fits an 80-100 column terminal, each block followed by its corrected intervals'
    method and by the models whose corrected rate fell back to the human labels alone."""
    from safecal.calibrate import render

    blocks = [render.wrap_text(caption)]
    for f in table.fields:
        headers = ["model", "gold n", *ESTIMATES.values()]
        rows, methods, fallbacks = [], [], []
        for m in table.models:
            r = m.get(f)
            if r is None:
                rows.append([m["model"], *[render.UNDEFINED] * 4])
                continue
            rows.append([m["model"], r["n_labeled"], *(_cell(r[k], spec) for k in ESTIMATES)])
            if r.get("method") and r["method"] not in methods:
                methods.append(r["method"])
            if r.get("fallback_reason"):
                fallbacks.append(f"{m['model']}: {r['fallback_reason']}")
        title = f"{RATES[f]} (judge {table.judges[f]})"
        lines = [render.render_table(headers, rows, title=title).rstrip("\n")]
        if methods:
            lines.append(
                f"corrected intervals: {', '.join(sorted(methods))} (README: corrected rates)"
            )
        lines += [f"human only reported for {x}" for x in fallbacks]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _cell(value: Any, spec: str) -> Any:
    from safecal.calibrate.render import UNDEFINED, format_estimate

    if value is None:
        return UNDEFINED
    if isinstance(value, dict):
        return format_estimate(value, spec=spec)
    if isinstance(value, Estimate):
        return format_estimate(value, spec=spec)
    return value
