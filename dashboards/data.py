"""The dashboard's reads of the workspace, cached per workspace and database state.

Every loader takes the workspace path and its :func:`stamp` (modification time and
size of the database and its write-ahead log), so ``st.cache_data`` serves repeated
renders from memory and recomputes as soon as anything writes to the workspace. Each
loader calls the same public function the command line uses (:mod:`calibrate.tables`,
:mod:`calibrate.monitoring`, the statistics); nothing here computes a metric itself.

Set ``SAFECAL_DASHBOARD_CACHE=0`` to turn the cache off (the benchmark's baseline).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import pandas as pd
import streamlit as st

from safecal.annotate.adjudication import honeypot_accuracy, load_inputs
from safecal.annotate.errors import InputError
from safecal.annotate.labels import POSITIVE, SCALES
from safecal.annotate.store import Workspace, resolve_workspace
from safecal.annotate.store import views as store_views
from safecal.dashboards.text import md_literal

F = TypeVar("F", bound=Callable[..., Any])

CACHE = os.environ.get("SAFECAL_DASHBOARD_CACHE", "1") != "0"
#: bootstrap resamples for the intervals shown (the CLI's default is 1000)
N_BOOT = 500
#: the confidence levels the pages offer; the default is the CLI's
#: (:data:`annotate.cli.options.DEFAULT_CONFIDENCE`)
CONFIDENCES = (0.8, 0.9, 0.95, 0.99)

Stamp = tuple[int, int, int, int]


def cached(func: F) -> F:
    """``st.cache_data`` unless the cache is turned off."""
    if not CACHE:
        return func
    return cast(F, st.cache_data(show_spinner=False, max_entries=64)(func))


def workspace_argument(argv: list[str]) -> str | None:
    """``--workspace`` / ``-w`` among the app's arguments (after ``--`` on the
    ``streamlit run`` line), or ``None``."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--workspace", "-w", default=None)
    known, _ = parser.parse_known_args(argv)
    return known.workspace


def workspace_path() -> str:
    """The app's workspace, resolved by whichever script runs first in a session (the app
    or a page opened by a deep link): kept in session state, else the app's
    ``--workspace`` argument, else ``$SAFECAL_WORKSPACE``, else ``./safecal-workspace``."""
    chosen = st.session_state.get("workspace")
    if not chosen:
        chosen = str(resolve_workspace(workspace_argument(sys.argv[1:])).absolute())
        st.session_state["workspace"] = chosen
    return str(chosen)


def stamp(path: str | Path) -> Stamp:
    """What changes with every committed write to the workspace at ``path``: the SQLite
    files' (mtime, size), or PostgreSQL's write-ahead log position
    (:meth:`Workspace.data_stamp`)."""
    s = Workspace.open(path, create=False).data_stamp()
    return s[0], s[1], s[2], s[3]


def open_workspace() -> tuple[Workspace, Stamp] | None:
    """The workspace and its stamp, or ``None`` after showing the error on the page."""
    try:
        ws = Workspace.open(workspace_path(), create=False)
    except InputError as exc:
        st.error(md_literal(exc))
        return None
    s = ws.data_stamp()
    return ws, (s[0], s[1], s[2], s[3])


def field_positive(field: str) -> list[str]:
    return sorted(POSITIVE[field])


def rate_name(field: str) -> str:
    return "attack-success rate" if field == "harmfulness" else "refusal rate"


# ---- loaders: path and stamp first, so the cache key follows the database --------------


@cached
def fields_with_data(path: str, stamp: Stamp) -> list[str]:
    have = set(store_views.fields_with_data(Workspace.at(path)))
    found = [f for f in SCALES if f in have]
    return found or list(SCALES)


@cached
def progress(path: str, stamp: Stamp) -> pd.DataFrame:
    from safecal.calibrate.monitoring import annotation_progress

    return annotation_progress(Workspace.at(path))


@cached
def review_queue(path: str, stamp: Stamp) -> pd.DataFrame:
    from safecal.calibrate.monitoring import adjudication_queue

    return adjudication_queue(Workspace.at(path))


@cached
def honeypots(path: str, stamp: Stamp) -> pd.DataFrame:
    labels, pots, _ = load_inputs(Workspace.at(path))
    return honeypot_accuracy(labels, pots)


@cached
def long_labels(path: str, stamp: Stamp, field: str) -> pd.DataFrame:
    from safecal.calibrate.tables import annotations_table

    return annotations_table(Workspace.at(path), field=field)


@cached
def agreement_by(path: str, stamp: Stamp, field: str, by: str) -> pd.DataFrame:
    """Agreement overall (the row :data:`calibrate.slices.POOLED`) and per value of ``by``:
    one row per slice with each coefficient's value and interval (ordinal Krippendorff
    alpha, the scale's order)."""
    from safecal.calibrate.agreement import COEFFICIENTS, agreement
    from safecal.calibrate.slices import POOLED, by_slice

    table = long_labels(path, stamp, field)
    table = table[table["response_id"].notna()]
    rows = []
    if table.empty:
        return pd.DataFrame()
    kw: dict[str, Any] = dict(
        level="ordinal", categories=list(SCALES[field]), n_boot=N_BOOT, seed=0
    )
    results = {POOLED: agreement(table, **kw)} | by_slice(agreement, table, by=by, **kw)
    for name, r in results.items():
        row: dict[str, Any] = {by: name, "items": r.n_items, "raters": r.n_raters}
        for coef in COEFFICIENTS:
            est = getattr(r, coef)
            row[coef] = est.value
            row[f"{coef}_low"], row[f"{coef}_high"] = est.ci
        rows.append(row)
    return pd.DataFrame(rows)


@cached
def runs(path: str, stamp: Stamp, field: str) -> pd.DataFrame:
    from safecal.calibrate.tables import judge_runs

    found = judge_runs(Workspace.at(path), field=field)
    return found[found["n_verdicts"] > 0].reset_index(drop=True)


@cached
def probes(path: str, stamp: Stamp, run_id: str) -> pd.DataFrame:
    """The stored probe results of one run (:func:`calibrate.probes.result_rows`), the
    estimates formatted as ``value [lo, hi]``; empty when no probe was run."""
    from safecal.calibrate.probes import result_rows, stored_results
    from safecal.calibrate.render import format_estimate

    rows = result_rows(stored_results(Workspace.at(path), run_id))
    for row in rows:
        for key in ("flip_rate", "accuracy_change"):
            row[key] = format_estimate(row[key])
    return pd.DataFrame(rows)


@cached
def runs_by_id(path: str, stamp: Stamp) -> dict[str, str]:
    """``{run_id: judge}`` of every judge run."""
    from safecal.calibrate.tables import judge_runs

    found = judge_runs(Workspace.at(path))
    return dict(zip(found["run_id"].astype(str), found["judge"].astype(str), strict=True))


@cached
def selected(
    path: str, stamp: Stamp, field: str, run_ids: tuple[str, ...], assume_random: bool = False
) -> Any:
    """:func:`calibrate.rows.select_rows` for the chosen runs: the rows, weights and notes
    that ``safecal calibrate judge`` and the judge card use."""
    from safecal.calibrate.rows import select_rows

    return select_rows(
        Workspace.at(path), field=field, runs=list(run_ids), assume_random=assume_random
    )


@cached
def metrics(
    path: str,
    stamp: Stamp,
    field: str,
    run_ids: tuple[str, ...],
    column: str,
    confidence: float,
    assume_random: bool = False,
) -> Any:
    """:func:`calibrate.judge_metrics` of one judge column (with its score when it has
    one) on :meth:`calibrate.rows.Rows.validation`'s rows, weighted as the CLI weights."""
    from safecal.calibrate.judge_metrics import judge_metrics

    rows = selected(path, stamp, field, run_ids, assume_random)
    table = rows.validation(column)
    score = f"score:{column}"
    has_score = score in table and table[score].notna().any()
    return judge_metrics(
        table,
        gold="gold",
        judge=column,
        positive=field_positive(field),
        score=score if has_score else None,
        labels=list(SCALES[field]),
        weight=rows.weight,
        n_boot=N_BOOT,
        confidence=confidence,
        seed=0,
    )


@cached
def thresholds(
    path: str,
    stamp: Stamp,
    field: str,
    run_ids: tuple[str, ...],
    column: str,
    assume_random: bool = False,
) -> pd.DataFrame | None:
    """:func:`calibrate.threshold_table` of a scored judge on the validation rows with a
    score (unweighted: the page says so when the gold is weighted)."""
    from safecal.calibrate.thresholds import threshold_table

    rows = selected(path, stamp, field, run_ids, assume_random)
    score = f"score:{column}"
    if score not in rows.table:
        return None
    valid = rows.validation(column)
    valid = valid[valid[score].notna()]
    if valid.empty:
        return None
    y = valid["gold"].isin(field_positive(field)).to_numpy()
    return threshold_table(y, valid[score].to_numpy(dtype=float))


@cached
def grid(
    path: str,
    stamp: Stamp,
    field: str,
    run_ids: tuple[str, ...],
    column: str,
    metric: str,
    language: str,
    assume_random: bool = False,
) -> pd.DataFrame:
    """A judge metric per level-1 category x modality combination (one language or all),
    on the validation rows, weighted as the CLI weights."""
    from safecal.calibrate.judge_metrics import judge_metrics
    from safecal.calibrate.monitoring import metric_grid

    rows = selected(path, stamp, field, run_ids, assume_random)
    table = rows.validation(column)
    if language != "all":
        table = table[table["language"] == language]
    if table.empty:
        return pd.DataFrame()
    return metric_grid(
        table,
        judge_metrics,
        rows="level1_category",
        cols="modality",
        metric=metric,
        gold="gold",
        judge=column,
        positive=field_positive(field),
        labels=list(SCALES[field]),
        weight=rows.weight,
        n_boot=N_BOOT // 5,
        seed=0,
    )


@cached
def estimate_input(
    path: str, stamp: Stamp, field: str, run_id: str, assume_random: bool = False
) -> Any:
    """:func:`calibrate.tables.estimate_table`: one run's verdicts with gold and sample
    weights, as ``safecal calibrate estimate`` reads the workspace."""
    from safecal.calibrate.tables import estimate_table

    return estimate_table(Workspace.at(path), field=field, run=run_id, assume_random=assume_random)


@cached
def model_rates(
    path: str,
    stamp: Stamp,
    field: str,
    run_id: str,
    confidence: float,
    assume_random: bool = False,
) -> pd.DataFrame:
    """Per target model, :func:`calibrate.corrected_rate` over all its responses (the
    benchmark's pooled total)."""
    from safecal.calibrate.ppi import corrected_rate
    from safecal.calibrate.slices import POOLED, TOTAL

    loaded = estimate_input(path, stamp, field, run_id, assume_random)
    # one groupby instead of one boolean mask per model (by_slice): 4x faster at 50 models
    # (response.model is NOT NULL, so no model is left out)
    rows = []
    for model, part in loaded.table.groupby("model", sort=True):
        r = corrected_rate(
            part,
            gold="gold",
            judge=loaded.judge,
            positive=field_positive(field),
            weight=loaded.weight,
            confidence=confidence,
        )
        row: dict[str, Any] = {
            "model": model,
            "cell": POOLED,
            "kind": TOTAL,
            "level1_category": "all",
            "modality": "all",
            "n_labeled": r.n_labeled,
            "n_unlabeled": r.n_unlabeled,
            "n_invalid": r.n_invalid,
        }
        for name in ("judge_rate", "human_rate", "corrected"):
            est = getattr(r, name)
            row[name] = est.value
            row[f"{name}_low"], row[f"{name}_high"] = est.ci
        row["method"] = r.corrected.method
        row["fallback"] = r.fallback or None
        row["fallback_reason"] = r.reason or None
        rows.append(row)
    return pd.DataFrame(rows)


@cached
def cells(
    path: str,
    stamp: Stamp,
    field: str,
    run_id: str,
    confidence: float,
    model: str,
    assume_random: bool = False,
) -> pd.DataFrame:
    """:func:`calibrate.benchmark_cells` of one target model (12 cells and both totals)."""
    from safecal.calibrate.slices import benchmark_cells

    loaded = estimate_input(path, stamp, field, run_id, assume_random)
    table = loaded.table
    return benchmark_cells(
        table[table["model"] == model],
        gold="gold",
        judge=loaded.judge,
        positive=field_positive(field),
        weight=loaded.weight,
        confidence=confidence,
    )


@cached
def paper(path: str, stamp: Stamp, run: str, confidence: float, assume_random: bool = False) -> Any:
    """:func:`calibrate.paper.paper_table`: both rates per model, as ``safecal calibrate
    table`` prints them."""
    from safecal.calibrate.paper import paper_table

    return paper_table(
        Workspace.at(path), run=run, confidence=confidence, assume_random=assume_random
    )


@cached
def response(path: str, stamp: Stamp, response_id: str) -> dict[str, Any]:
    """One response with its item (text, Chinese text, image path, categories)."""
    ws = Workspace.at(path)
    df = store_views.response_with_item(ws, response_id=response_id)
    if df.empty:
        return {}
    row = df.iloc[0].to_dict()
    row["image_path"] = str(ws.images_dir / row["image"]) if row.get("image") else None
    return row


@cached
def unit_labels(path: str, stamp: Stamp, response_id: str, field: str) -> pd.DataFrame:
    """Every annotator's label of one unit, with lead time and when."""
    return store_views.unit_labels(Workspace.at(path), response_id=response_id, field=field)


@cached
def gold_of(path: str, stamp: Stamp, response_id: str, field: str) -> dict[str, Any]:
    df = store_views.unit_gold(Workspace.at(path), response_id=response_id, field=field)
    return {} if df.empty else df.iloc[0].to_dict()


@cached
def next_plan(
    path: str, stamp: Stamp, n: int, by: tuple[str, ...], goal: str, confidence: float
) -> Any:
    """:func:`annotate.next_round.plan_next`: the next round's design and projection (the
    same plan ``safecal annotate next`` prints; nothing is drawn)."""
    from safecal.annotate.next_round import plan_next

    return plan_next(Workspace.at(path), n=n, by=by, goal=goal, confidence=confidence)


@cached
def rounds(path: str, stamp: Stamp) -> pd.DataFrame:
    """The rounds of ``annotate next``, oldest first, with responses drawn and gold so far."""
    from safecal.annotate.store import rounds as round_rows

    return round_rows.rounds(Workspace.at(path))
