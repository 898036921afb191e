"""Push a sample's assignments to Label Studio: batched, idempotent, resumable.

One project per (annotator, task type), made in the annotator's own organization
(blind labeling, see :mod:`annotate.labelstudio.organizations`). Every task carries
``safecal_unit`` (the response id, or the item id for query quality) in its data,
and ``ls_tasks`` maps (server, project, unit) to the task id once a batch is in.

Resuming: before importing, the project's task count on the server is compared with
the mapping; if the server holds tasks the workspace does not know (the previous run
died after the server took a batch and before the mapping was written), the
project's tasks are listed and their ``safecal_unit`` recovered. So running push
twice, or again after the server died half-way, creates no duplicate and loses none.
A project made before a crash is found again by the marker in its description.

Images: ``local`` serves them from the workspace's ``images/`` through a Local Files
storage (a path escaping ``images/`` is refused), ``inline`` embeds them as data URIs
(for small sets, or a server that cannot see the workspace's files).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.client import Connection, server_error
from safecal.annotate.labelstudio.configs import label_config
from safecal.annotate.labelstudio.organizations import use_person_organization
from safecal.annotate.labelstudio.server import SERVED_IMAGES, prepare_document_root, served_images
from safecal.annotate.store import Workspace
from safecal.annotate.store import labelstudio as ls_rows
from safecal.annotate.store import samples as sample_rows

MARKER = "safecal-project:"
INLINE_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class PushReport:
    """What one push did: projects made, tasks created, tasks already there."""

    sample_id: str
    projects: dict[tuple[str, str], int]
    created: int
    already: int
    recovered: int


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def image_url(images_dir: Path, rel: str | None, *, mode: str) -> str:
    """The task's image value: a Local Files URL or an inline data URI ('' if none).

    Refuses (``InputError``) a path that escapes ``images_dir``.
    """
    if not isinstance(rel, str) or not rel:
        return ""
    root = images_dir.resolve()
    full = (root / rel).resolve()
    if not full.is_relative_to(root):
        raise InputError(
            f"image path {rel!r} escapes the workspace images folder {root}; "
            "fix the item's image column"
        )
    if mode == "inline":
        if not full.exists():
            return ""
        data = full.read_bytes()
        if len(data) > INLINE_MAX_BYTES:
            raise InputError(
                f"{full}: {len(data)} bytes is too large to inline; use --images local"
            )
        mime = mimetypes.guess_type(full.name)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(data).decode()}"
    relative = f"{SERVED_IMAGES}/{full.relative_to(root).as_posix()}"
    return f"/data/local-files/?d={quote(relative)}"


def _units(ws: Workspace, sample_id: str) -> pd.DataFrame:
    return sample_rows.assignment_tasks(ws, sample_id=sample_id)


def task_data(row: Any, image: str) -> dict[str, str]:
    """The task's data. Label Studio's Text tag shows text as text (not HTML)."""
    text_zh = getattr(row, "text_zh", None)
    if row.task_type == "query_quality":
        query = row.text if not text_zh else f"{row.text}\n\n{text_zh}"
        meta = (
            f"{row.level1_category} > {row.level2_category} > {row.level3_category} | "
            f"image risk: {'yes' if row.img_risk else 'no'}, "
            f"text risk: {'yes' if row.text_risk else 'no'} ({row.modality})"
        )
        return {"image": image, "query": query, "meta": meta, "safecal_unit": row.unit_id}
    query = text_zh if row.language == "zh" and text_zh else row.text
    return {
        "image": image,
        "query": query,
        "response": row.response or "",
        "safecal_unit": row.unit_id,
    }


def project_title(*, annotator: str, task_type: str, kind: str, sample_id: str) -> str:
    """What people read on Label Studio's home page, e.g. ``Harmfulness · sample s1 ·
    queue of ann1`` or ``Review: refusal · reviewer``: the task, the sample and whose
    queue it is (the name before the email's @). At most 50 characters, which Label
    Studio allows: a long sample id is cut (with ``…``), never the person's name."""
    what = task_type.replace("_", " ").capitalize()
    who = annotator.split("@")[0]
    if kind == "review":
        return _fit(f"Review: {what.lower()} · ", who)
    head, tail = f"{what} · sample ", f" · queue of {who}"
    room = TITLE_MAX - len(head) - len(tail)
    sample = sample_id if len(sample_id) <= room else sample_id[: max(room - 1, 0)] + "…"
    return _fit(head + sample, tail)


#: the longest project title Label Studio takes
TITLE_MAX = 50


def _fit(text: str, tail: str) -> str:
    """``text + tail`` in :data:`TITLE_MAX` characters, cutting ``text`` first."""
    if len(text) + len(tail) <= TITLE_MAX:
        return text + tail
    return (text[: max(TITLE_MAX - len(tail) - 1, 0)] + "…" + tail)[:TITLE_MAX]


def ensure_project(
    ws: Workspace,
    conn: Connection,
    *,
    sample_id: str,
    annotator: str,
    task_type: str,
    kind: str = "annotate",
    config: str | None = None,
    instruction: str = "",
) -> int:
    """The project for (sample, annotator, task type, kind), made once."""
    return _ensure_project(
        ws,
        conn,
        sample_id=sample_id,
        annotator=annotator,
        task_type=task_type,
        kind=kind,
        config=config,
        instruction=instruction,
    )[0]


def _ensure_project(
    ws: Workspace,
    conn: Connection,
    *,
    sample_id: str,
    annotator: str,
    task_type: str,
    kind: str = "annotate",
    config: str | None = None,
    instruction: str = "",
) -> tuple[int, bool]:
    """(project id, whether it was created just now), in the annotator's organization
    (which stays the active one for the calls that follow)."""
    use_person_organization(ws, conn, annotator)
    found = ls_rows.find_project(
        ws,
        server_url=conn.server_key,
        sample_id=sample_id,
        annotator=annotator,
        task_type=task_type,
        kind=kind,
    )
    if len(found):
        return int(found["project_id"].iloc[0]), False
    marker = f"{MARKER}{json.dumps([sample_id, annotator, task_type, kind])}"
    title = project_title(annotator=annotator, task_type=task_type, kind=kind, sample_id=sample_id)
    project_id, created = None, False
    # a project made by a run that died before recording it: same title and marker
    for p in conn.client.projects.list(title=title, include="id,title,description", page_size=100):
        if (p.description or "") == marker:
            project_id = int(p.id)
            break
    if project_id is None:
        project = conn.client.projects.create(
            title=title,
            description=marker,
            label_config=config or label_config(task_type),
            expert_instruction=f"<p>{html.escape(instruction)}</p>" if instruction else "",
            show_instruction=bool(instruction),
            show_skip_button=True,
            maximum_annotations=1,
            show_collab_predictions=False,
            show_annotation_history=False,
            sampling="Sequential sampling",
        )
        project_id, created = int(project.id), True
    with ws.transaction() as con:
        ls_rows.insert_project(
            con,
            server_url=conn.server_key,
            project_id=project_id,
            sample_id=sample_id,
            annotator=annotator,
            task_type=task_type,
            kind=kind,
            title=title,
            created_at=_now(),
        )
    return project_id, created


def ensure_local_storage(conn: Connection, project_id: int, ws: Workspace) -> None:
    """A Local Files storage on ``<workspace>/served/images`` (the link to the images
    under Label Studio's document root, see :mod:`annotate.labelstudio.server`) so
    Label Studio may serve the images; the path is kept unresolved, as Label Studio
    compares it with the document root lexically."""
    prepare_document_root(ws.path, ws.images_dir)
    path = str(served_images(ws.path))
    for storage in conn.client.import_storage.local.list(project=project_id):
        if storage.path == path:
            return
    conn.client.import_storage.local.create(
        project=project_id, path=path, title="safecal images", use_blob_urls=False
    )


def project_units(conn: Connection, project_id: int) -> dict[str, int]:
    """safecal_unit -> task id for every task in the project (one export call)."""
    raw = b"".join(
        conn.client.projects.exports.download_sync(
            project_id, export_type="JSON_MIN", download_all_tasks=True
        )
    )
    tasks = json.loads(raw) if raw.strip() else []
    out: dict[str, int] = {}
    for t in tasks:
        unit = t.get("safecal_unit") or (t.get("data") or {}).get("safecal_unit")
        if unit is not None:
            out.setdefault(str(unit), int(t["id"]))
    return out


def _record(ws: Workspace, url: str, project_id: int, pairs: list[tuple[str, int]]) -> None:
    now = _now()
    with ws.transaction() as con:
        ls_rows.insert_tasks(con, rows=[(url, project_id, u, t, now) for u, t in pairs])


def import_batches(
    ws: Workspace,
    conn: Connection,
    project_id: int,
    todo: pd.DataFrame,
    *,
    make: Callable[[Any], dict],
    batch_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Import ``todo`` (one row per unit, column ``unit_id``) in batches, recording the
    task ids of each batch as soon as the server has it; returns the tasks created."""
    created = 0
    for start in range(0, len(todo), batch_size):
        batch = todo.iloc[start : start + batch_size]
        data = [make(r) for r in batch.itertuples()]
        result = conn.client.projects.import_tasks(project_id, request=data, return_task_ids=True)
        ids = list(result.task_ids or [])
        if len(ids) != len(data):
            raise InputError(
                f"Label Studio created {len(ids)} tasks for a batch of {len(data)} in "
                f"project {project_id}; rerun the command to reconcile"
            )
        _record(ws, conn.server_key, project_id, list(zip(batch["unit_id"], ids, strict=True)))
        created += len(ids)
        if progress:
            progress(len(ids))
    return created


def reconcile(
    ws: Workspace, conn: Connection, project_id: int, units: pd.DataFrame, *, new: bool = False
) -> tuple[pd.DataFrame, int, int]:
    """The units not yet on the server, after recovering tasks the mapping lacks
    (``new``: the project was just created, so it holds nothing to recover).

    Returns (todo, already there, recovered)."""
    known = set(
        ls_rows.project_tasks(ws, server_url=conn.server_key, project_id=project_id)["unit_id"]
    )
    todo = units[~units["unit_id"].isin(known)]
    already, recovered = len(units) - len(todo), 0
    if len(todo) and not new:
        on_server = int(conn.client.projects.get(project_id).task_number or 0)
        if on_server > len(known):
            found = project_units(conn, project_id)
            pairs = [(u, t) for u, t in found.items() if u not in known]
            _record(ws, conn.server_key, project_id, pairs)
            recovered = len(pairs)
            todo = todo[~todo["unit_id"].isin(found)]
    return todo, already, recovered


def _make_task(
    row: Any, *, images_dir: Path, images: str, made: Callable[[str], list[dict]] | None
) -> dict[str, Any]:
    """The task to import for ``row``: its data, with the annotations ``made`` before
    the queue when there are any."""
    data = task_data(row, image_url(images_dir, row.image, mode=images))
    annotations = made(row.unit_id) if made else []
    return {"data": data, "annotations": annotations} if annotations else data


def push(
    ws: Workspace,
    conn: Connection,
    sample_id: str,
    *,
    batch_size: int = 10_000,
    images: str = "local",
    progress: Callable[[int], None] | None = None,
    labeled: Callable[[str, str, str], list[dict]] | None = None,
) -> PushReport:
    """Push every assignment of ``sample_id`` (see the module docstring).

    ``labeled(annotator, task_type, unit_id)``: annotations made before the queue
    (Label Studio's annotation dicts: ``result``, ``completed_by`` the annotator's user
    id, ``lead_time``, ``ground_truth`` False, which an import otherwise sets),
    imported with their task as Label Studio imports existing labels, so the queue
    shows them done; the demo's simulated annotators use it."""
    if images not in ("local", "inline"):
        raise InputError(f"--images {images}: expected local or inline")
    units = _units(ws, sample_id).astype(object)
    images_dir = ws.images_dir
    if units.empty:
        raise InputError(f"sample {sample_id!r} has no assignments; run `safecal annotate assign`")
    projects: dict[tuple[str, str], int] = {}
    created = already = recovered = 0
    try:
        for (annotator, task_type), group in units.groupby(["annotator", "task_type"], sort=True):
            pid, new = _ensure_project(
                ws, conn, sample_id=sample_id, annotator=annotator, task_type=task_type
            )
            projects[(annotator, task_type)] = pid
            if images == "local":
                ensure_local_storage(conn, pid, ws)
            todo, n_already, n_recovered = reconcile(ws, conn, pid, group, new=new)
            already += n_already
            recovered += n_recovered
            created += import_batches(
                ws,
                conn,
                pid,
                todo,
                batch_size=batch_size,
                progress=progress,
                make=functools.partial(
                    _make_task,
                    images_dir=images_dir,
                    images=images,
                    made=functools.partial(labeled, str(annotator), str(task_type))
                    if labeled
                    else None,
                ),
            )
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    return PushReport(
        sample_id=sample_id,
        projects=projects,
        created=created,
        already=already,
        recovered=recovered,
    )
