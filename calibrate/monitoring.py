"""Plain tables for watching a labeling run and a judge: progress, the review queue,
a threshold's confusion, and a metric over a two-way grid of slices.

Used by the dashboard and usable from scripts; nothing here re-implements a statistic
(agreement, judge metrics and thresholds come from their own modules).

* :func:`annotation_progress`: per annotator and task, labels done, assigned, remaining,
  median seconds per task and the labeling rate (tasks per hour of labeling time,
  ``3600 * done / sum(lead_time)``).
* :func:`adjudication_queue`: the units waiting for a reviewer, with their labels.
* :func:`at_threshold`: the row of :func:`calibrate.thresholds.threshold_table` that
  applies to the rule ``positive iff score >= t``.
* :func:`metric_grid`: ``func`` applied to each (row slice, column slice) cell, as a
  long table with the value, its interval and the cell size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from safecal.annotate.labels import SCALES
from safecal.annotate.store import Workspace
from safecal.annotate.store import views as store_views
from safecal.calibrate.slices import slice_values

QUERY_QUALITY_TASK = "query_quality"

PROGRESS_COLUMNS = (
    "annotator",
    "task",
    "project",
    "assigned",
    "done",
    "outside_queue",
    "remaining",
    "share_done",
    "median_seconds",
    "rate_per_hour",
    "last_activity",
)


def _task_of(field: pd.Series) -> pd.Series:
    """Response fields are their own task; every item-level field is ``query_quality``."""
    return field.where(field.isin(list(SCALES)), QUERY_QUALITY_TASK)


def annotation_progress(ws: Workspace) -> pd.DataFrame:
    """Progress per annotator and task (columns :data:`PROGRESS_COLUMNS`).

    ``done``: distinct units (responses, or items for query quality) the annotator
    labeled; ``assigned``: units in the annotator's queue (``ls_assignments``; missing
    when labels were imported without a queue); ``remaining = assigned - done on
    assigned units``; ``outside_queue``: of ``done``, the units outside the queue (labels
    imported from a file beside the queue, e.g. the demo's labels on unsampled responses),
    so ``done`` may exceed ``assigned`` while the queue itself is complete;
    ``median_seconds``: median lead time per label;
    ``rate_per_hour = 3600 * labels with a lead time / their summed lead time``;
    ``project``: the Label Studio project titles of the queue (``imported`` for labels
    that came from a file).
    """
    ann = store_views.annotation_activity(ws)
    ann["task"] = _task_of(ann["field"])
    assign = store_views.assigned_units(ws)
    projects = store_views.annotate_project_titles(ws)
    keys = ["annotator", "task"]
    rows = pd.concat([ann[keys], assign[keys]]).drop_duplicates().sort_values(keys)
    out = rows.reset_index(drop=True)
    units = ann.drop_duplicates(["annotator", "task", "unit"])
    done = units.groupby(keys).size().rename("done")
    lead = ann.groupby(keys)["lead_time"].agg(
        median_seconds="median", lead_sum="sum", lead_n="count"
    )
    last = ann.groupby(keys)["at"].max().rename("last_activity")
    assigned = assign.drop_duplicates().groupby(keys).size().rename("assigned")
    done_assigned = (
        assign.drop_duplicates()
        .merge(units[[*keys, "unit"]], on=[*keys, "unit"])
        .groupby(keys)
        .size()
        .rename("done_assigned")
    )
    for part in (done, lead, last, assigned, done_assigned):
        out = out.merge(part.reset_index(), on=keys, how="left")
    out["done"] = out["done"].fillna(0).astype(int)
    out["assigned"] = out["assigned"].astype("Int64")
    out["remaining"] = out["assigned"] - out["done_assigned"].fillna(0).astype(int)
    out["outside_queue"] = (out["done"] - out["done_assigned"].fillna(0)).astype("Int64")
    out.loc[out["assigned"].isna(), "outside_queue"] = pd.NA
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share_done"] = (out["assigned"] - out["remaining"]) / out["assigned"]
        out["rate_per_hour"] = np.where(
            out["lead_sum"] > 0, 3600 * out["lead_n"] / out["lead_sum"], np.nan
        )
    titles = projects.groupby(keys)["title"].agg(lambda s: ", ".join(sorted(s)))
    out = out.merge(titles.rename("project").reset_index(), on=keys, how="left")
    from_ls = ann.dropna(subset=["project_id"]).groupby(keys).size().rename("from_ls")
    out = out.merge(from_ls.reset_index(), on=keys, how="left")
    out["project"] = out["project"].fillna(
        pd.Series(
            np.where(out["from_ls"].fillna(0) > 0, "(Label Studio)", "imported"), index=out.index
        )
    )
    return out[list(PROGRESS_COLUMNS)]


def adjudication_queue(ws: Workspace) -> pd.DataFrame:
    """Units waiting for a reviewer (``reviews`` rows without a label), oldest first.

    Columns: response_id, field, reason, created_at, item_id, model, language,
    n_annotators, labels (``annotator: label`` pairs).
    """
    queue = store_views.open_reviews(ws)
    labels = store_views.open_review_labels(ws)
    if labels.empty:
        queue["n_annotators"] = 0
        queue["labels"] = ""
        return queue
    labels["pair"] = labels["annotator"] + ": " + labels["label"]
    agg = (
        labels.groupby(["response_id", "field"])
        .agg(n_annotators=("annotator", "size"), labels=("pair", "; ".join))
        .reset_index()
    )
    queue = queue.merge(agg, on=["response_id", "field"], how="left")
    queue["n_annotators"] = queue["n_annotators"].fillna(0).astype(int)
    queue["labels"] = queue["labels"].fillna("")
    return queue


def at_threshold(table: pd.DataFrame, threshold: float) -> dict[str, float]:
    """Confusion counts and metrics of ``positive iff score >= threshold``.

    ``table`` is a :func:`calibrate.thresholds.threshold_table` (one row per distinct
    score, decreasing). The rule at ``t`` calls positive exactly the scores ``>= t``,
    which is the row of the smallest listed threshold ``>= t``. Above every score nothing
    is positive: ``tp = fp = 0``, so ``fn = P``, ``tn = N``, F1 = 0, FPR = 0, FNR = 1 and
    kappa = 0 (``p_o = p_e = N / n``).
    """
    ok = table["threshold"].to_numpy(dtype=float) >= threshold
    if ok.any():
        row = table.iloc[int(np.flatnonzero(ok)[-1])]
        return {k: float(v) for k, v in row.items()} | {"threshold": float(threshold)}
    first = table.iloc[0]
    pos = float(first["tp"] + first["fn"])
    neg = float(first["fp"] + first["tn"])
    return {
        "threshold": float(threshold),
        "tp": 0.0,
        "fp": 0.0,
        "tn": neg,
        "fn": pos,
        "cohen_kappa": 0.0,
        "f1": 0.0,
        "youden_j": 0.0,
        "fpr": 0.0 if neg else math.nan,
        "fnr": 1.0 if pos else math.nan,
        "cost": math.nan,
    }  # the costs are not in the table


def metric_grid(
    table: pd.DataFrame,
    func: Callable[..., Any],
    *,
    rows: str,
    cols: str,
    metric: str,
    min_rows: int = 1,
    **kwargs: Any,
) -> pd.DataFrame:
    """``func(cell rows, **kwargs).<metric>`` for each (``rows`` value, ``cols`` value).

    Returns a long table: rows, cols, value, low, high, n (the table rows in the cell).
    Cells with fewer than ``min_rows`` rows get NaN. ``metric`` is an attribute of the
    result holding a :class:`calibrate.results.Estimate` (e.g. ``cohen_kappa``).
    """
    r = slice_values(table, rows)
    c = slice_values(table, cols)
    out = []
    for rv in sorted(r.unique()):
        for cv in sorted(c.unique()):
            part = table[(r == rv) & (c == cv)]
            value = low = high = math.nan
            if len(part) >= min_rows:
                est = getattr(func(part, **kwargs), metric)
                if est is not None:
                    value, (low, high) = est.value, est.ci
            out.append(
                {rows: rv, cols: cv, "value": value, "low": low, "high": high, "n": len(part)}
            )
    return pd.DataFrame(out)
