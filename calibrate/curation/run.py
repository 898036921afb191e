"""One curation pass: signals -> table -> coverage, from a workspace or from frames."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace
from safecal.annotate.taxonomy import Taxonomy, load_taxonomy
from safecal.calibrate.curation import signals as sig
from safecal.calibrate.curation.coverage import coverage
from safecal.calibrate.curation.duplicate_signals import duplicate_pairs, duplicate_signals
from safecal.calibrate.curation.inputs import CurationInputs, load_inputs
from safecal.calibrate.curation.table import decide, export_table
from safecal.calibrate.curation.thresholds import CurationThresholds


@dataclass(frozen=True)
class CurationResult:
    """What a curation pass found.

    ``table`` (one row per query: decision, reasons, evidence), ``signals`` (the
    long signal table), ``pairs`` (near-duplicate pairs), ``coverage`` (cells
    before / after), with the ``thresholds`` and the ``inputs`` they came from.
    """

    table: pd.DataFrame
    signals: pd.DataFrame
    pairs: pd.DataFrame
    coverage: pd.DataFrame
    thresholds: CurationThresholds
    inputs: CurationInputs
    judge_run: str | None

    def counts(self) -> dict[str, int]:
        """Number of queries per decision (keep, review, drop)."""
        counts = self.table["decision"].value_counts()
        return {d: int(counts.get(d, 0)) for d in ("keep", "review", "drop")}

    def reviews(self) -> pd.DataFrame:
        """The rows to send to reviewers."""
        return self.table[self.table["decision"] == "review"].reset_index(drop=True)


def curate(
    inputs: CurationInputs,
    *,
    thresholds: CurationThresholds | None = None,
    judge_run: str | None = None,
    taxonomy: Taxonomy | None = None,
    aspect: str | None = None,
    vectorize: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> CurationResult:
    """Run every signal over ``inputs`` and decide keep / review / drop per query.

    ``judge_run`` picks the verdicts used for uniform outcomes where no gold label
    exists (default: the latest run); ``vectorize`` replaces TF-IDF in the
    duplicate search (e.g. a local embedding model); ``aspect`` restricts the
    coverage view.
    """
    th = thresholds or CurationThresholds()
    taxonomy = taxonomy or load_taxonomy()
    if judge_run is not None and judge_run not in set(inputs.verdicts["run_id"].astype(str)):
        known = ", ".join(sorted(set(inputs.verdicts["run_id"].astype(str)))) or "none"
        raise InputError(f"--judge-run {judge_run}: no such judge run (known: {known})")
    pairs = duplicate_pairs(inputs, th, vectorize=vectorize)
    parts = [
        sig.risk_label_signals(inputs, th),
        sig.image_signals(inputs, th),
        sig.modality_signals(inputs, th),
        sig.category_signals(inputs, th, known_categories=taxonomy.level3),
        sig.human_disagreement_signals(inputs, th),
        sig.judge_disagreement_signals(inputs, th),
        sig.uniform_outcome_signals(inputs, th, judge_run=judge_run),
        duplicate_signals(inputs, th, pairs=pairs),
    ]
    parts = [p for p in parts if len(p)]
    signals = pd.concat(parts, ignore_index=True) if parts else sig.empty_signals()
    signals = signals.sort_values(["item_id", "signal"], kind="stable").reset_index(drop=True)
    table = decide(inputs.items, signals)
    cov = coverage(inputs.items, table, taxonomy=taxonomy, aspect=aspect)
    return CurationResult(
        table=table,
        signals=signals,
        pairs=pairs,
        coverage=cov,
        thresholds=th,
        inputs=inputs,
        judge_run=judge_run,
    )


def curate_workspace(ws: Workspace, **options: object) -> CurationResult:
    """:func:`curate` over a workspace's tables (read-only)."""
    inputs = load_inputs(ws)
    if inputs.items.empty:
        raise InputError(
            f"{ws.location}: the workspace has no items; run `safecal ingest items` first"
        )
    return curate(inputs, **options)  # type: ignore[arg-type]


def item_evidence(result: CurationResult, item_id: str) -> pd.DataFrame:
    """Everything behind one query's decision, as rows ``kind, name, value, detail``.

    Kinds: ``decision``, ``signal`` (each signal's severity and evidence),
    ``answer`` (each annotator's query-quality answers, free-text notes included),
    ``duplicate`` (its near-duplicate pairs).
    """
    table = result.table.set_index("item_id")
    if item_id not in table.index:
        raise InputError(f"item {item_id!r} is not in the curation table; check the item id")
    row = table.loc[item_id]
    rows: list[dict[str, object]] = [
        {
            "kind": "decision",
            "name": "decision",
            "value": row["decision"],
            "detail": row["reasons"],
        },
    ]
    for s in result.signals[result.signals["item_id"] == item_id].itertuples(index=False):
        rows.append(
            {
                "kind": "signal",
                "name": s.signal,
                "value": s.severity,
                "detail": f"{s.evidence} (value {s.value:.3g}, support {s.support})",
            }
        )
    answers = result.inputs.item_answers
    for a in answers[answers["item_id"] == item_id].itertuples(index=False):
        rows.append(
            {
                "kind": "answer",
                "name": a.field,
                "value": a.label,
                "detail": f"annotator {a.annotator}",
            }
        )
    pairs = result.pairs
    mine = pairs[(pairs["item_a"] == item_id) | (pairs["item_b"] == item_id)]
    for p in mine.itertuples(index=False):
        other = p.item_b if p.item_a == item_id else p.item_a
        rows.append(
            {
                "kind": "duplicate",
                "name": other,
                "value": f"{p.similarity:.3f}",
                "detail": f"languages {p.languages}; image distance {p.image_distance}",
            }
        )
    return pd.DataFrame(rows, columns=["kind", "name", "value", "detail"]).astype("string")


def emptied_cells(result: CurationResult) -> pd.DataFrame:
    """Coverage cells that had items before curation and have none after."""
    return result.coverage[result.coverage["emptied"]].reset_index(drop=True)


def write_outputs(
    result: CurationResult, out_dir: str | Path, *, fmt: str = "csv", keep_formulas: bool = False
) -> dict[str, Path]:
    """Write ``curation``, ``signals``, ``duplicates`` and ``coverage`` tables into ``out_dir``
    (CSV text cells that look like formulas neutralised unless ``keep_formulas``, as in
    :func:`export_table`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ext = ".parquet" if fmt == "parquet" else ".csv"
    written = {}
    for name, frame in (
        ("curation", result.table),
        ("signals", result.signals),
        ("duplicates", result.pairs),
        ("coverage", result.coverage),
    ):
        written[name] = export_table(frame, out / f"{name}{ext}", keep_formulas=keep_formulas)
    return written


def curation_pass(
    workspace: Workspace | str | os.PathLike[str],
    *,
    out_dir: str | Path | None = None,
    thresholds: CurationThresholds | None = None,
    keep_formulas: bool = False,
) -> CurationResult:
    """The curation step of ``safecal demo``: curate a workspace, optionally write the tables.

    Returns the :class:`CurationResult`; with ``out_dir`` also writes
    ``curation.csv``, ``signals.csv``, ``duplicates.csv`` and ``coverage.csv``
    there (formula-like text neutralised unless ``keep_formulas``). :func:`summary_text`
    turns the result into the lines the demo prints.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, create=False)
    result = curate_workspace(ws, thresholds=thresholds)
    if out_dir is not None:
        write_outputs(result, out_dir, keep_formulas=keep_formulas)
    return result


def summary_text(result: CurationResult, *, top: int = 10) -> str:
    """A short plain-text report: decisions, signals, emptied cells."""
    counts = result.counts()
    lines = [
        f"curation: {len(result.table)} queries: {counts['keep']} keep, "
        f"{counts['review']} review, {counts['drop']} drop"
    ]
    acting = result.signals[result.signals["severity"] != "note"]
    if len(acting):
        by = acting.groupby(["signal", "severity"]).size().sort_index()
        lines.append("signals (queries): " + ", ".join(f"{s} {v} {n}" for (s, v), n in by.items()))
    flagged = result.table[result.table["decision"] != "keep"]
    order = flagged.assign(r=flagged["decision"].map({"drop": 0, "review": 1}))
    for row in order.sort_values(["r", "item_id"]).head(top).itertuples(index=False):
        lines.append(f"  {row.decision:6} {row.item_id}: {row.reasons}")
    if len(flagged) > top:
        lines.append(f"  ... and {len(flagged) - top} more (export the table for all)")
    cov = result.coverage
    emptied = cov[cov["emptied"]]
    lines.append(
        f"coverage: {int((cov['before'] > 0).sum())} of {len(cov)} cells filled before, "
        f"{int((cov['after'] > 0).sum())} after; {len(emptied)} emptied by curation"
    )
    for row in emptied.head(top).itertuples(index=False):
        lines.append(
            f"  emptied: {row.level3_category} / {row.modality} / {row.language} (had {row.before})"
        )
    return "\n".join(lines)


#: planted problem (the example's planted.csv) -> the signal that should find it
PLANTED_SIGNAL = {
    "risk_label_wrong": "risk_label_wrong",
    "image_irrelevant": "image_irrelevant",
    "modality_wrong": "modality_contradicted",
    "category_wrong": "category_wrong",
    "near_duplicate": "near_duplicate",
}


def check_planted(result: CurationResult, planted: pd.DataFrame | str | Path) -> pd.DataFrame:
    """How curation fared on a list of planted problems (``item_id, problem[, detail]``).

    One row per planted problem: ``signal`` expected, the query's ``decision``,
    ``found`` (the signal is among its review / drop reasons) and ``noted`` (it
    is among its notes only). For the bundled example's ``planted.csv``.
    """
    if not isinstance(planted, pd.DataFrame):
        from safecal.annotate.readers import read_table  # the one reader of users' files

        planted = read_table(planted)
    table = result.table.set_index("item_id")
    rows = []
    for row in planted.itertuples(index=False):
        signal = PLANTED_SIGNAL.get(str(row.problem), str(row.problem))
        item = str(row.item_id)
        if item not in table.index:
            raise InputError(f"planted item {item!r} is not in the workspace")
        reasons = str(table.at[item, "reasons"])
        notes = str(table.at[item, "notes"])
        rows.append(
            {
                "item_id": item,
                "problem": row.problem,
                "signal": signal,
                "decision": table.at[item, "decision"],
                "found": signal in reasons,
                "noted": signal not in reasons and signal in notes,
            }
        )
    return pd.DataFrame(rows)
