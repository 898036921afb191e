"""Workspace loaders: the plain tables the statistics take, with the slice columns joined.

Every loader returns a pandas DataFrame carrying the slice columns
:data:`SLICE_COLUMNS` (target model, level-1/2/3 category, modality, language, aspect),
so the command line and the dashboard slice the same way. Nothing here computes a
statistic.

* :func:`annotations_table`: the long ``(unit, rater, label)`` table of one field.
* :func:`responses_table`: all responses whose item's aspect matches the field, with the
  gold label (``gold``, missing where none), how it was decided (``gold_method``), how
  unanimous the humans were (``unanimity``) and the sample's inclusion probability
  (``inclusion_prob``).
* :func:`judge_table`: :func:`responses_table` plus one column per judge run with its
  verdict (``(invalid)`` when the run's answer was unparseable, missing when the run did
  not judge that response) and ``score:<judge>`` with its P(positive).
* :func:`estimate_table`: what ``safecal calibrate estimate`` uses: one run's verdicts on
  every response of the field with gold and weights, as :func:`calibrate.rows.select_rows`
  (the one selection of rows) decides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import FIELD_FOR_ASPECT, SCALES
from safecal.annotate.rounds import inclusion_probabilities
from safecal.annotate.store import Workspace
from safecal.annotate.store import judging as store_judging
from safecal.annotate.store import views as store_views

SLICE_COLUMNS = (
    "model",
    "level1_category",
    "level2_category",
    "level3_category",
    "modality",
    "language",
    "aspect",
)
INVALID = "(invalid)"


def check_field(field: str) -> str:
    if field not in SCALES:
        raise InputError(f"unknown field {field!r}; choose one of {sorted(SCALES)}")
    return field


def aspect_of(field: str) -> str:
    return {f: a for a, f in FIELD_FOR_ASPECT.items()}[check_field(field)]


def annotations_table(ws: Workspace, *, field: str) -> pd.DataFrame:
    """Human labels of ``field``: columns unit, rater, label, response_id, item_id + slices."""
    check_field(field)
    df = store_views.annotations_with_slices(ws, field=field)
    df["response_id"] = df.pop("ann_response_id")
    df["item_id"] = df.pop("ann_item_id")
    return df


def _unanimity(ws: Workspace, field: str) -> pd.DataFrame:
    ann = store_views.response_annotations(ws, field=field)
    if ann.empty:
        return pd.DataFrame(
            {
                "response_id": pd.Series(dtype="string"),
                "unanimity": pd.Series(dtype="string"),
                "n_annotators": pd.Series(dtype="Int64"),
            }
        )
    g = ann.groupby("response_id")["label"].agg(["nunique", "size"]).reset_index()
    g["unanimity"] = np.where(
        g["size"] < 2, "single", np.where(g["nunique"] == 1, "unanimous", "split")
    )
    return g.rename(columns={"size": "n_annotators"})[["response_id", "unanimity", "n_annotators"]]


def _inclusion(ws: Workspace) -> pd.DataFrame:
    """response_id, inclusion_prob of every sampled response: independent samples combine
    as ``1 - prod(1 - pi)``; adaptive rounds of ``annotate next`` as the sequence of
    conditionally independent samples of :mod:`annotate.rounds` (the union formula would
    be wrong for them)."""
    return inclusion_probabilities(ws)


def responses_table(ws: Workspace, *, field: str) -> pd.DataFrame:
    """All responses of ``field``'s aspect with gold, unanimity and inclusion probability."""
    return _with_design(
        ws, field, store_views.responses_with_gold(ws, field=field, aspect=aspect_of(field))
    )


def _with_design(ws: Workspace, field: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (one row per response) with the humans' unanimity and the samples' inclusion
    probability joined on response_id."""
    df = _left_join(df, _unanimity(ws, field))
    return _left_join(df, _inclusion(ws))


def _left_join(df: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """``df`` left-joined with ``right`` on response_id (unique in ``right``); an empty
    ``right`` (no annotations, no samples: the common case of a large judged workspace)
    only adds its columns, all missing, without a merge over every row."""
    if right.empty:
        empty = right.drop(columns="response_id").reindex(range(len(df)))
        return pd.concat([df, empty.set_axis(df.index)], axis=1)
    return df.merge(right, on="response_id", how="left")


def judge_runs(ws: Workspace, *, field: str | None = None) -> pd.DataFrame:
    """The judge runs (with how many verdicts of ``field`` each has), newest first."""
    return store_judging.runs_with_verdict_counts(ws, field=field)


def resolve_runs(ws: Workspace, runs: Sequence[str] | None, *, field: str) -> dict[str, str]:
    """``{column name: run_id}`` for ``runs`` (run ids or judge names; a judge name picks
    its newest run). Default: the newest run of every judge with verdicts of ``field``."""
    known = judge_runs(ws, field=field)
    if known.empty:
        raise InputError("the workspace has no judge runs; run `safecal calibrate run` first")
    chosen: list[tuple[str, str]] = []
    if not runs:
        with_verdicts = known[known["n_verdicts"] > 0]
        for judge, grp in with_verdicts.groupby("judge", sort=True):
            chosen.append((str(judge), str(grp.iloc[0]["run_id"])))
        if not chosen:
            raise InputError(f"no judge run has verdicts for the field {field!r}")
    else:
        for token in runs:
            hit = known[known["run_id"] == token]
            if hit.empty:
                hit = known[known["judge"] == token]
            if hit.empty:
                raise InputError(
                    f"no judge run or judge named {token!r}; known runs: "
                    + ", ".join(f"{r.run_id} ({r.judge})" for r in known.itertuples())
                )
            chosen.append((str(hit.iloc[0]["judge"]), str(hit.iloc[0]["run_id"])))
    names = [j for j, _ in chosen]
    return {(j if names.count(j) == 1 else r): r for j, r in chosen}


def judge_table(
    ws: Workspace, *, field: str, runs: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`responses_table` with a verdict column (and ``score:<name>``) per run.

    Returns the table and the verdict column names.
    """
    return runs_table(ws, field=field, columns=resolve_runs(ws, runs, field=field))


def runs_table(
    ws: Workspace, *, field: str, columns: dict[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`judge_table` for runs already resolved (``{column name: run_id}``,
    :func:`resolve_runs`): one read of responses, gold and every run's verdicts
    (:func:`annotate.store.views.responses_with_verdicts`)."""
    df = store_views.responses_with_verdicts(
        ws, field=field, aspect=aspect_of(field), run_ids=list(columns.values())
    )
    for k, name in enumerate(columns):
        valid = df.pop(f"valid_{k}")
        label = df.pop(f"verdict_{k}").to_numpy(dtype=object, na_value=None)
        verdict = np.where(
            valid.isna().to_numpy(), np.array(None), np.where(valid == 1, label, INVALID)
        )
        df[name] = pd.Series(verdict, index=df.index, dtype="str")
        df[f"score:{name}"] = df.pop(f"score_{k}")
    extra = [c for name in columns for c in (name, f"score:{name}")]
    base = _with_design(ws, field, df.drop(columns=extra))
    return pd.concat([base, df[extra]], axis=1), list(columns)


@dataclass(frozen=True)
class EstimateTable:
    """Input of the corrected rates: ``table`` (one row per response), the verdict column
    ``judge``, the ``weight`` column (``None``: treat the gold as a simple random sample)
    and ``notes`` saying what was set aside and why."""

    table: pd.DataFrame
    judge: str
    weight: str | None
    notes: list[str] = dataclass_field(default_factory=list)


def estimate_table(
    ws: Workspace, *, field: str, run: str | None = None, assume_random: bool = False
) -> EstimateTable:
    """One judge run's verdicts on every response of ``field``, with gold and weights:
    :func:`calibrate.rows.select_rows` (the one row selection; it says which gold counts
    and how it is weighted) for a single run."""
    from safecal.calibrate.rows import one_judge, select_rows

    rows = select_rows(ws, field=field, runs=[run] if run else None, assume_random=assume_random)
    return EstimateTable(rows.table, one_judge(rows), rows.weight, rows.notes)
