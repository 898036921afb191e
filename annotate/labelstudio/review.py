"""The review project: disputed units with every annotator's label side by side.

:func:`push_reviews` puts the pending rows of ``reviews`` (written by
:func:`annotate.adjudication.build_gold`) into one project per field for the
reviewer; :func:`pull_reviews` reads the reviewer's choices back into ``reviews``
(label, reviewer email, when), and the next ``build_gold`` makes them gold
(method ``adjudicated``). Both are idempotent, like push and pull.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES
from safecal.annotate.labelstudio.client import Connection, server_error
from safecal.annotate.labelstudio.configs import label_config
from safecal.annotate.labelstudio.organizations import use_person_organization
from safecal.annotate.labelstudio.pull import export_project, user_emails
from safecal.annotate.labelstudio.push import (
    ensure_local_storage,
    ensure_project,
    image_url,
    import_batches,
    reconcile,
)
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import labelstudio as ls_rows

REVIEW_SAMPLE = "review"


@dataclass(frozen=True)
class ReviewReport:
    projects: dict[str, int]
    pushed: int
    decided: int
    pending: int


def _pending(ws: Workspace) -> pd.DataFrame:
    return label_rows.pending_reviews(ws)


def push_reviews(
    ws: Workspace, conn: Connection, *, reviewer: str, images: str = "local"
) -> ReviewReport:
    """Create (or complete) the reviewer's projects with the pending reviews."""
    pending = _pending(ws)
    labels = label_rows.annotator_labels(ws, by_annotator=True)
    projects: dict[str, int] = {}
    pushed = 0
    try:
        for fld, group in pending.groupby("field"):
            fld = str(fld)
            pid = ensure_project(
                ws,
                conn,
                sample_id=REVIEW_SAMPLE,
                annotator=reviewer,
                task_type=fld,
                kind="review",
                config=label_config(fld, review=True),
            )
            projects[fld] = pid
            if images == "local":
                ensure_local_storage(conn, pid, ws)
            mine = labels[labels["field"] == fld]
            side = mine.groupby("response_id").apply(
                lambda g: "\n".join(
                    f"{a}: {b}" for a, b in zip(g["annotator"], g["label"], strict=True)
                ),
                include_groups=False,
            )
            group = group.assign(unit_id=group["response_id"])
            todo, _, _ = reconcile(ws, conn, pid, group)

            def make(r: Any, side: pd.Series = side) -> dict:
                query = r.text_zh if r.language == "zh" and r.text_zh else r.text
                return {
                    "image": image_url(ws.images_dir, r.image, mode=images),
                    "query": query,
                    "response": r.response,
                    "labels": side.get(r.response_id, ""),
                    "safecal_unit": r.response_id,
                }

            pushed += import_batches(ws, conn, pid, todo, make=make)
            tasks = ls_rows.project_tasks(ws, server_url=conn.server_key, project_id=pid)
            with ws.transaction() as con:
                label_rows.attach_review_tasks(
                    con,
                    rows=[
                        (conn.server_key, pid, int(t), u, fld)
                        for u, t in zip(tasks["unit_id"], tasks["task_id"], strict=True)
                    ],
                )
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    return ReviewReport(projects=projects, pushed=pushed, decided=0, pending=len(pending))


def pull_reviews(ws: Workspace, conn: Connection) -> ReviewReport:
    """Read reviewers' choices into ``reviews`` (the first valid one per task counts)."""
    projects = ls_rows.review_projects(ws, server_url=conn.server_key)
    if projects.empty:
        raise InputError("no review project yet; run `safecal annotate adjudicate` first")
    try:
        users = user_emails(ws, conn)
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    decisions = []
    for p in projects.itertuples():
        scale = SCALES[p.task_type]
        use_person_organization(ws, conn, p.annotator)
        for task in export_project(conn, int(p.project_id)):
            unit = task["data"].get("safecal_unit")
            annotations = task.get("annotations") or []
            for ann in sorted(annotations, key=lambda a: str(a.get("created_at"))):
                if ann.get("was_cancelled"):
                    continue
                chosen = [
                    v
                    for r in ann.get("result") or []
                    if r.get("from_name") == p.task_type
                    for v in (r.get("value") or {}).get("choices") or []
                ]
                if len(chosen) == 1 and chosen[0] in scale:
                    who = users.get(int(ann.get("completed_by") or 0), "unknown")
                    decisions.append(
                        (
                            chosen[0],
                            who,
                            ann.get("created_at") or dt.datetime.now(dt.UTC).isoformat(),
                            unit,
                            p.task_type,
                        )
                    )
                    break
    with ws.transaction() as con:
        label_rows.set_review_labels(con, rows=decisions)
        pending = label_rows.count_pending_reviews(con)
    return ReviewReport(
        projects=dict(zip(projects["task_type"], projects["project_id"], strict=True)),
        pushed=0,
        decided=len(decisions),
        pending=int(pending),
    )
