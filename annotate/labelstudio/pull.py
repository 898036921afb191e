"""Pull every project's annotations into the workspace's long ``annotations`` table.

One row per (item, response, annotator, field): label, lead time, timestamps and the
Label Studio project / task / annotation ids. Left out, counted and reported:
labels outside the project's configuration (``invalid_label``), a second annotation
of the same unit by the same annotator (``duplicate``; the earliest is kept),
skipped or cancelled tasks (``skipped``), annotations with no result (``empty``) and
tasks whose unit the workspace does not know (``unknown_unit``).

Idempotent: the rows of the pulled projects are replaced in one transaction, so
pulling twice gives the same table, and a label changed in Label Studio is updated.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.client import Connection, server_error
from safecal.annotate.labelstudio.configs import allowed_labels
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import labelstudio as ls_rows
from safecal.annotate.store import samples as sample_rows

COLUMNS = label_rows.ANNOTATION_COLUMNS


@dataclass(frozen=True)
class PullReport:
    """Counts of one pull: rows stored and what was left out (by reason)."""

    projects: int
    tasks: int
    annotations: int
    rows: int
    left_out: dict[str, int] = field(default_factory=dict)


def export_project(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's tasks with their annotations (Label Studio's JSON export)."""
    try:
        raw = b"".join(
            conn.client.projects.exports.download_sync(
                project_id, export_type="JSON", download_all_tasks=True
            )
        )
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    return parse_export(raw, project_id=project_id)


def parse_export(raw: bytes, *, project_id: int) -> list[dict[str, Any]]:
    """Parse and check an export; a malformed one is an ``InputError`` naming the project."""
    try:
        tasks = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"Label Studio project {project_id}: the export is not valid JSON "
            f"({exc}); check the server log and pull again"
        ) from None
    if not isinstance(tasks, list):
        raise InputError(
            f"Label Studio project {project_id}: the export is not a list of "
            "tasks; check the server version (1.23 expected) and pull again"
        )
    for i, t in enumerate(tasks):
        if not (
            isinstance(t, dict)
            and isinstance(t.get("id"), int)
            and isinstance(t.get("data"), dict)
            and isinstance(t.get("annotations", []), list)
        ):
            raise InputError(
                f"Label Studio project {project_id}: export task #{i} lacks "
                "id / data / annotations; pull again or check the server"
            )
    return tasks


def _labels(result: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for r in result or []:
        value = r.get("value") or {}
        for key in ("choices", "text"):
            for v in value.get(key) or []:
                out.append((str(r.get("from_name")), str(v)))
    return out


def normalize(
    tasks: list[dict[str, Any]],
    *,
    project_id: int,
    task_type: str,
    units: dict[str, tuple[str, str | None]],
    users: dict[int, str],
    counts: Counter[str],
    categories: list[str] | None = None,
) -> list[dict]:
    """Long rows for one project's export; what is left out is added to ``counts``."""
    allowed = allowed_labels(task_type, categories=categories)
    rows: list[dict] = []
    for task in tasks:
        unit = str(task["data"].get("safecal_unit", ""))
        if unit not in units:
            counts["unknown_unit"] += 1
            continue
        item_id, response_id = units[unit]
        seen: set[str] = set()
        annotations = sorted(
            task.get("annotations") or [], key=lambda a: (str(a.get("created_at")), a.get("id", 0))
        )
        for ann in annotations:
            if ann.get("was_cancelled"):
                counts["skipped"] += 1
                continue
            who = ann.get("completed_by")
            if isinstance(who, dict):
                who = who.get("id")
            annotator = users.get(int(who)) if who is not None else None
            if annotator is None:
                counts["unknown_annotator"] += 1
                continue
            if annotator in seen:
                counts["duplicate"] += 1
                continue
            seen.add(annotator)
            labels = _labels(ann.get("result") or [])
            if not labels:
                counts["empty"] += 1
                continue
            for fld, label in labels:
                choices = allowed.get(fld, frozenset())
                if fld not in allowed or (choices is not None and label not in choices):
                    counts["invalid_label"] += 1
                    continue
                rows.append(
                    {
                        "item_id": item_id,
                        "response_id": response_id,
                        "annotator": annotator,
                        "field": fld,
                        "label": label,
                        "lead_time": ann.get("lead_time"),
                        "created_at": ann.get("created_at"),
                        "updated_at": ann.get("updated_at"),
                        "project_id": project_id,
                        "task_id": int(task["id"]),
                        "annotation_id": ann.get("id"),
                    }
                )
    return rows


def pull(ws: Workspace, conn: Connection, *, sample_id: str | None = None) -> PullReport:
    """Export every annotation project of this server (optionally one sample's) and
    store the long table (see the module docstring)."""
    projects = ls_rows.annotation_projects(ws, server_url=conn.server_key, sample_id=sample_id)
    if projects.empty:
        raise InputError(
            f"no annotation projects on {conn.url} in this workspace; "
            "run `safecal annotate push` first"
        )
    assign = sample_rows.assignment_unit_keys(ws)
    try:
        users = {v: k for k, v in _user_ids(conn).items()}
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    counts: Counter[str] = Counter()
    rows: list[dict] = []
    n_tasks = n_ann = 0
    for p in projects.itertuples():
        mine = assign[assign["sample_id"] == p.sample_id]
        units = {
            u: (i, None if pd.isna(r) else r)
            for u, i, r in zip(mine["unit_id"], mine["item_id"], mine["response_id"], strict=True)
        }
        tasks = export_project(conn, int(p.project_id))
        n_tasks += len(tasks)
        n_ann += sum(len(t.get("annotations") or []) for t in tasks)
        rows += normalize(
            tasks,
            project_id=int(p.project_id),
            task_type=p.task_type,
            units=units,
            users=users,
            counts=counts,
        )
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    # the same annotator on the same unit in two projects: keep the earliest
    before = len(table)
    table = table.sort_values(["created_at", "annotation_id"]).drop_duplicates(
        ["item_id", "response_id", "annotator", "field"], keep="first"
    )
    counts["duplicate"] += before - len(table)
    store(ws, table, project_ids=[int(x) for x in projects["project_id"]])
    return PullReport(
        projects=len(projects),
        tasks=n_tasks,
        annotations=n_ann,
        rows=len(table),
        left_out={k: v for k, v in counts.items() if v},
    )


def _user_ids(conn: Connection) -> dict[str, int]:
    return {str(u.email).lower(): int(u.id) for u in conn.client.users.list()}


def _py(v: Any) -> Any:
    """A plain Python value for sqlite3 (numpy scalars become int / float, NA None)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def store(ws: Workspace, table: pd.DataFrame, *, project_ids: list[int]) -> None:
    """Replace the rows of ``project_ids`` by ``table`` in one transaction."""
    records = [tuple(_py(v) for v in row) for row in table[list(COLUMNS)].itertuples(index=False)]
    with ws.transaction() as con:
        label_rows.delete_project_annotations(con, project_ids=project_ids)
        # item-level rows have response_id NULL, which UNIQUE does not compare: clear by hand
        label_rows.delete_annotations(con, keys=[(r[0], r[1], r[2], r[3]) for r in records])
        label_rows.insert_annotations(con, rows=records)
