"""Blind overlap and honeypots: who labels which unit.

Each annotator gets a queue (later a Label Studio project of their own, because in
the Community edition annotators in one project see each other's labels). A share
``overlap`` of the sampled units (default 20 %) goes to ``k >= 2`` annotators, so
agreement can be measured; every other unit goes to one annotator, always to the
least loaded one (ties broken at random), so queues stay balanced. Honeypots
(responses with a known label, table ``honeypots``) are mixed into every queue at
``honeypot_rate`` (the share of the queue that is honeypots): ``round(r/(1-r) * n_a)``
of them for a queue of ``n_a`` response units, split over its task types in
proportion. Task data carry no role, and each queue is
shuffled, so a honeypot looks like any other task.

The plan is written to ``ls_assignments`` (one row per annotator, task type and
unit, with its queue position) and overlap / honeypot roles to ``samples``; planning
the same sample again with the same arguments gives the same plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import FIELD_FOR_ASPECT
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import labelstudio as ls_rows
from safecal.annotate.store import samples as sample_rows


@dataclass(frozen=True)
class AssignmentPlan:
    """The plan: one row per (annotator, task_type, unit) and a summary."""

    sample_id: str
    assignments: pd.DataFrame
    n_units: int
    n_overlap: int
    n_honeypots: int


def _sample_units(ws: Workspace, sample_id: str) -> pd.DataFrame:
    df = sample_rows.sample_units(ws, sample_id=sample_id)
    if df.empty:
        raise InputError(f"sample {sample_id!r} is empty or unknown; run `safecal annotate sample`")
    return df


def plan_assignments(
    ws: Workspace,
    sample_id: str,
    annotators: list[str],
    *,
    overlap: float = 0.2,
    k: int = 2,
    honeypot_rate: float = 0.1,
    query_quality: bool = False,
    seed: int = 0,
) -> AssignmentPlan:
    """Assign the sample's units to ``annotators`` (see the module docstring)."""
    annotators = list(dict.fromkeys(annotators))
    if not annotators:
        raise InputError("no annotators given; pass --annotators a@x.org,b@x.org")
    if not 0 <= overlap <= 1:
        raise InputError(f"--overlap {overlap}: must be a share between 0 and 1")
    if not 0 <= honeypot_rate < 1:
        raise InputError(f"--honeypot-rate {honeypot_rate}: must be in [0, 1)")
    if overlap > 0 and not 2 <= k <= len(annotators):
        raise InputError(
            f"--k {k}: overlap needs 2 <= k <= number of annotators ({len(annotators)})"
        )
    rng = np.random.default_rng(seed)
    units = _sample_units(ws, sample_id)
    units["task_type"] = units["aspect"].map(FIELD_FOR_ASPECT)
    order = rng.permutation(len(units))
    units = units.iloc[order].reset_index(drop=True)
    n_overlap = int(round(overlap * len(units))) if len(annotators) >= 2 else 0
    load = np.zeros(len(annotators))
    rows: list[dict] = []
    overlap_ids: list[str] = []
    for idx, unit in units.iterrows():
        n_raters = k if idx < n_overlap else 1
        ties = rng.random(len(annotators))
        chosen = np.lexsort((ties, load))[:n_raters]
        role = "overlap" if n_raters > 1 else "regular"
        if role == "overlap":
            overlap_ids.append(unit.response_id)
        for a in chosen:
            load[a] += 1
            rows.append(
                {
                    "annotator": annotators[a],
                    "task_type": unit.task_type,
                    "unit_id": unit.response_id,
                    "item_id": unit.item_id,
                    "response_id": unit.response_id,
                    "role": role,
                }
            )
        if query_quality:
            for a in chosen:
                rows.append(
                    {
                        "annotator": annotators[a],
                        "task_type": "query_quality",
                        "unit_id": unit.item_id,
                        "item_id": unit.item_id,
                        "response_id": None,
                        "role": role,
                    }
                )
    plan = pd.DataFrame(rows).drop_duplicates(["annotator", "task_type", "unit_id"])
    sampled = set(units["response_id"])
    n_honey = 0
    if honeypot_rate > 0:
        pool = label_rows.honeypot_pool(ws)
        pool = pool[~pool["response_id"].isin(sampled)]
        extra = []
        for name in annotators:
            mine = plan[(plan["annotator"] == name) & (plan["task_type"] != "query_quality")]
            sizes = mine.groupby("task_type").size()
            total = int(round(honeypot_rate / (1 - honeypot_rate) * len(mine)))
            wants = _split(total, sizes.to_numpy())
            for task_type, want in zip(sizes.index, wants, strict=True):
                cand = pool[pool["task_type"] == task_type]
                take = cand.iloc[rng.permutation(len(cand))[: min(want, len(cand))]]
                for hp in take.itertuples():
                    extra.append(
                        {
                            "annotator": name,
                            "task_type": task_type,
                            "unit_id": hp.response_id,
                            "item_id": hp.item_id,
                            "response_id": hp.response_id,
                            "role": "honeypot",
                        }
                    )
        if extra:
            plan = pd.concat([plan, pd.DataFrame(extra)], ignore_index=True)
            n_honey = len({e["unit_id"] for e in extra})
    # shuffle each queue so honeypots and overlap units sit anywhere
    plan["position"] = 0
    for _name, idx in plan.groupby("annotator").groups.items():
        plan.loc[idx, "position"] = rng.permutation(len(idx))
    plan = plan.sort_values(["annotator", "position"]).reset_index(drop=True)
    _store(ws, sample_id, plan, overlap_ids, seed)
    return AssignmentPlan(
        sample_id=sample_id,
        assignments=plan,
        n_units=len(units),
        n_overlap=len(overlap_ids),
        n_honeypots=n_honey,
    )


def assign_as_labeled(
    ws: Workspace, sample_id: str, labeled: pd.DataFrame, *, seed: int = 0
) -> AssignmentPlan:
    """Queues that give each annotator the units they labeled: one assignment per
    (annotator, response_id, field) row of ``labeled``, for labels that exist before
    their queues do (the demo's simulated annotators, whose labels then go into Label
    Studio as their own annotations, see :mod:`annotate.labelstudio.demo_steps`).

    Every row must be a unit of the sample or a honeypot outside it. Roles: honeypot
    outside the sample, ``overlap`` for a unit labeled by two or more annotators,
    ``regular`` otherwise; each queue is shuffled (seeded), as in
    :func:`plan_assignments`."""
    units = _sample_units(ws, sample_id)
    pool = label_rows.honeypot_pool(ws)
    honey = pool[~pool["response_id"].isin(units["response_id"])]
    item_of = dict(zip(units["response_id"], units["item_id"], strict=True))
    item_of.update(zip(honey["response_id"], honey["item_id"], strict=True))
    rows = labeled.drop_duplicates(["annotator", "response_id", "field"])
    outside = rows[~rows["response_id"].isin(item_of)]
    if len(outside):
        raise InputError(
            f"{len(outside)} labels are on responses neither in sample {sample_id!r} nor "
            f"honeypots (first: {outside['response_id'].iloc[0]})"
        )
    raters = rows.groupby("response_id")["annotator"].nunique()
    honey_ids = set(honey["response_id"])
    plan = pd.DataFrame(
        {
            "annotator": rows["annotator"].to_numpy(),
            "task_type": rows["field"].to_numpy(),
            "unit_id": rows["response_id"].to_numpy(),
            "item_id": [item_of[r] for r in rows["response_id"]],
            "response_id": rows["response_id"].to_numpy(),
            "role": [
                "honeypot" if r in honey_ids else "overlap" if raters[r] >= 2 else "regular"
                for r in rows["response_id"]
            ],
        }
    ).sort_values(["annotator", "task_type", "unit_id"], ignore_index=True)
    rng = np.random.default_rng(seed)
    plan["position"] = 0
    for _name, idx in plan.groupby("annotator").groups.items():
        plan.loc[idx, "position"] = rng.permutation(len(idx))
    plan = plan.sort_values(["annotator", "position"]).reset_index(drop=True)
    overlap_ids = sorted(set(plan.loc[plan["role"] == "overlap", "response_id"]))
    _store(ws, sample_id, plan, overlap_ids, seed)
    return AssignmentPlan(
        sample_id=sample_id,
        assignments=plan,
        n_units=int(plan.loc[plan["role"] != "honeypot", "unit_id"].nunique()),
        n_overlap=len(overlap_ids),
        n_honeypots=int(plan.loc[plan["role"] == "honeypot", "unit_id"].nunique()),
    )


def _split(total: int, weights: np.ndarray) -> list[int]:
    """``total`` split in proportion to ``weights``, largest remainders first."""
    if total <= 0 or weights.sum() == 0:
        return [0] * len(weights)
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return [int(x) for x in out]


def _store(
    ws: Workspace, sample_id: str, plan: pd.DataFrame, overlap_ids: list[str], seed: int
) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        if ls_rows.count_sample_projects(con, sample_id=sample_id):
            raise InputError(
                f"sample {sample_id!r} was already pushed to Label Studio; its assignments are "
                "fixed (draw a new sample to plan again)"
            )
        sample_rows.reset_plan(con, sample_id=sample_id)
        sample_rows.mark_overlap(con, sample_id=sample_id, response_ids=overlap_ids)
        honey = plan.loc[plan["role"] == "honeypot", "response_id"].dropna().unique()
        sample_rows.add_honeypots(
            con, sample_id=sample_id, response_ids=honey, seed=seed, created_at=now
        )
        sample_rows.insert_assignments(
            con,
            rows=[
                (
                    sample_id,
                    r.annotator,
                    r.task_type,
                    r.unit_id,
                    r.item_id,
                    None if pd.isna(r.response_id) else r.response_id,
                    r.role,
                    int(r.position),
                )
                for r in plan.itertuples()
            ],
        )
