"""Pull every project's annotations into the workspace's long ``annotations`` table.

One row per (item, response, annotator, field): label, lead time, timestamps and the
Label Studio project / task / annotation ids. Left out, counted and reported:
labels outside the project's configuration (``invalid_label``), a second annotation
of the same unit by the same annotator (``duplicate``; the earliest is kept),
skipped or cancelled tasks (``skipped``), annotations with no result (``empty``) and
tasks whose unit the workspace does not know (``unknown_unit``).

Idempotent: the rows of the pulled projects are replaced in one transaction, so
pulling twice gives the same table, and a label changed in Label Studio is updated.

Incremental: each pull stores, per project, a cursor (``ls_pull_cursors``): the newest
``updated_at`` among the tasks it read, on the server's clock, less
:data:`CURSOR_MARGIN` (1 s). The next pull asks the Data Manager only for the tasks changed
after it (Label Studio stamps a task's ``updated_at`` whenever one of its annotations
is created, changed, skipped or deleted: ``Annotation.save`` / ``delete`` call
``update_task``) and replaces the rows of exactly those tasks, so a pull costs what
changed. The margin re-reads the last seconds, harmless because a task's rows are
replaced whole, and covers a save committed just after a pull read a later one. A
project without a cursor, and every project with ``full=True`` (``--full``), is
exported whole. Not seen by the cursor: deletions by a Data Manager action
("Delete annotations", lead-only on the safecal server), which bypass
``Annotation.delete``: pull with ``--full`` after one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.client import Connection, server_error
from safecal.annotate.labelstudio.configs import allowed_labels
from safecal.annotate.labelstudio.organizations import use_person_organization
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import labelstudio as ls_rows
from safecal.annotate.store import samples as sample_rows

COLUMNS = label_rows.ANNOTATION_COLUMNS
#: how far before the newest change seen the next pull starts reading again
CURSOR_MARGIN = dt.timedelta(seconds=1)
#: Label Studio's Data Manager datetime filter format (data_manager/managers.py)
DM_DATETIME = "%Y-%m-%dT%H:%M:%S.%fZ"
PAGE_SIZE = 1000


@dataclass(frozen=True)
class PullReport:
    """Counts of one pull: rows stored and what was left out (by reason)."""

    projects: int
    tasks: int
    annotations: int
    rows: int
    left_out: dict[str, int] = field(default_factory=dict)
    #: projects read incrementally (only the tasks changed since the last pull)
    incremental: int = 0


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


def changed_tasks(conn: Connection, project_id: int, since: str) -> list[dict[str, Any]]:
    """The project's tasks changed after ``since`` (server time, :data:`DM_DATETIME`),
    with their annotations, through the Data Manager's task list (paged)."""
    query = json.dumps(
        {
            "filters": {
                "conjunction": "and",
                "items": [
                    {
                        "filter": "filter:tasks:updated_at",
                        "operator": "greater",
                        "type": "Datetime",
                        "value": since,
                    }
                ],
            }
        }
    )
    tasks: list[dict[str, Any]] = []
    page = 1
    try:
        with httpx.Client(base_url=conn.url, headers=conn.headers(), timeout=600) as http:
            while True:
                r = http.get(
                    "/api/tasks",
                    params={
                        "project": project_id,
                        "fields": "all",
                        "page": page,
                        "page_size": PAGE_SIZE,
                        "query": query,
                    },
                )
                r.raise_for_status()
                body = r.json()
                got = body.get("tasks") or []
                tasks += got
                if not got or len(tasks) >= int(body.get("total") or 0):
                    break
                page += 1
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    return parse_export(json.dumps(tasks).encode(), project_id=project_id)


def next_cursor(tasks: list[dict[str, Any]], previous: str | None) -> str | None:
    """The cursor after reading ``tasks``: their newest ``updated_at`` less the margin
    (the previous cursor if none is newer; ``None`` if there is neither)."""
    stamps = [
        dt.datetime.fromisoformat(str(t["updated_at"]).replace("Z", "+00:00"))
        for t in tasks
        if t.get("updated_at")
    ]
    if not stamps:
        return previous
    newest = max(s if s.tzinfo else s.replace(tzinfo=dt.UTC) for s in stamps)
    cursor = (newest.astimezone(dt.UTC) - CURSOR_MARGIN).strftime(DM_DATETIME)
    return max(cursor, previous) if previous else cursor


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


def pull(
    ws: Workspace, conn: Connection, *, sample_id: str | None = None, full: bool = False
) -> PullReport:
    """Read every annotation project of this server (optionally one sample's): the
    tasks changed since the last pull, or all of them (``full``, or no cursor yet);
    store the long table (see the module docstring)."""
    projects = ls_rows.annotation_projects(ws, server_url=conn.server_key, sample_id=sample_id)
    if projects.empty:
        raise InputError(
            f"no annotation projects on {conn.url} in this workspace; "
            "run `safecal annotate push` first"
        )
    assign = sample_rows.assignment_unit_keys(ws)
    try:
        users = user_emails(ws, conn)
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    cursors = {} if full else ls_rows.pull_cursors(ws, server_url=conn.server_key)
    new_cursors: dict[int, str | None] = {}
    changed: dict[int, list[int]] = {}  # project read incrementally -> its changed tasks
    counts: Counter[str] = Counter()
    rows: list[dict] = []
    n_tasks = n_ann = 0
    for p in projects.itertuples():
        mine = assign[assign["sample_id"] == p.sample_id]
        units = {
            u: (i, None if pd.isna(r) else r)
            for u, i, r in zip(mine["unit_id"], mine["item_id"], mine["response_id"], strict=True)
        }
        use_person_organization(ws, conn, p.annotator)
        pid = int(p.project_id)
        since = cursors.get(pid)
        if since is None:
            tasks = export_project(conn, pid)
        else:
            tasks = changed_tasks(conn, pid, since)
            changed[pid] = [int(t["id"]) for t in tasks]
        new_cursors[pid] = next_cursor(tasks, since)
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
    store(
        ws,
        table,
        project_ids=[int(x) for x in projects["project_id"] if int(x) not in changed],
        changed_tasks=changed,
        cursors=new_cursors,
        server_url=conn.server_key,
    )
    return PullReport(
        projects=len(projects),
        tasks=n_tasks,
        annotations=n_ann,
        rows=len(table),
        left_out={k: v for k, v in counts.items() if v},
        incremental=len(changed),
    )


def user_emails(ws: Workspace, conn: Connection) -> dict[int, str]:
    """user id -> email: the accounts the workspace made on this server (each in its
    own organization) and the members of the lead's active organization."""
    out = {int(u.id): str(u.email).lower() for u in conn.client.users.list()}
    known = ls_rows.server_user_ids(ws, server_url=conn.server_key)
    out.update(zip(known["user_id"].astype(int), known["email"], strict=True))
    return out


def _py(v: Any) -> Any:
    """A plain Python value for sqlite3 (numpy scalars become int / float, NA None)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def store(
    ws: Workspace,
    table: pd.DataFrame,
    *,
    project_ids: list[int],
    changed_tasks: dict[int, list[int]] | None = None,
    cursors: dict[int, str | None] | None = None,
    server_url: str = "",
) -> None:
    """In one transaction: replace the rows of ``project_ids`` and of the
    ``changed_tasks`` of the projects read incrementally by ``table``, and store the
    projects' new ``cursors``."""
    records = [tuple(_py(v) for v in row) for row in table[list(COLUMNS)].itertuples(index=False)]
    with ws.transaction() as con:
        label_rows.delete_project_annotations(con, project_ids=project_ids)
        for project_id, task_ids in (changed_tasks or {}).items():
            label_rows.delete_task_annotations(con, project_id=project_id, task_ids=task_ids)
        if cursors:
            ls_rows.set_pull_cursors(
                con,
                server_url=server_url,
                cursors=cursors,
                pulled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
        # item-level rows have response_id NULL, which UNIQUE does not compare: clear by hand
        label_rows.delete_annotations(con, keys=[(r[0], r[1], r[2], r[3]) for r in records])
        label_rows.insert_annotations(con, rows=records)
