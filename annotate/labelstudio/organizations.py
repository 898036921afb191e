"""Blind labeling on Label Studio Community: one organization per annotator and reviewer.

Community has no roles and no per-task visibility: every member of an organization
sees all of its projects, tasks and labels. So each annotator and each reviewer gets an
organization of their own, holding only their projects; the lead (the workspace's
admin account) is a member of every one of them and works in one at a time by making
it its active organization (``PATCH /api/users/<lead>``: Label Studio's API serves the
requesting user's active organization only). The wall that Community lacks between
organizations is :mod:`annotate.labelstudio.ls_guard`, loaded by the safecal-managed
server; the organizations are made by :mod:`annotate.labelstudio.ls_provision`
inside the server's Django, since Community's API cannot create one.

The organization ids are kept in ``ls_annotators.organization_id``; a server the
workspace did not start (``LABEL_STUDIO_URL``) has none, and works as before, in the
lead's organization (not blind: see README).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.client import Connection, server_error
from safecal.annotate.labelstudio.server import (
    load_credentials,
    ls_dir,
    prepare_document_root,
    server_env,
)
from safecal.annotate.store import Workspace
from safecal.annotate.store import labelstudio as ls_rows


def provision_people(
    workspace_path: Path, people: list[dict[str, Any]], *, images_dir: Path
) -> list[dict[str, Any]]:
    """Run :mod:`ls_provision` on the workspace server's database (see its docstring).

    ``people``: ``{"email", "role", "password"}`` each; passwords travel on standard
    input only."""
    creds = load_credentials(workspace_path)
    if not creds:
        raise InputError("the workspace has no Label Studio yet; run `safecal labelstudio start`")
    root = ls_dir(workspace_path)
    env = server_env(
        data_dir=root / "data",
        document_root=prepare_document_root(workspace_path, images_dir),
        creds=creds,
    )
    request = json.dumps({"lead": creds["email"], "people": people})
    proc = subprocess.run(
        [sys.executable, "-m", "safecal.annotate.labelstudio.ls_provision"],
        input=request,
        env=env,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("SAFECAL-RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InputError(
            "could not create the Label Studio organizations for "
            f"{', '.join(p['email'] for p in people)}: {' | '.join(tail)}"
        )
    return list(json.loads(lines[-1].removeprefix("SAFECAL-RESULT ")))


def use_organization(conn: Connection, organization_id: int) -> None:
    """Make ``organization_id`` the lead's active organization (once per change)."""
    if conn.organization_id == organization_id:
        return
    try:
        r = httpx.patch(
            f"{conn.url}/api/users/{conn.user_id}",
            json={"active_organization": organization_id},
            headers=conn.headers(),
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    if r.status_code != 200:
        raise InputError(
            f"Label Studio at {conn.url} refused to switch {conn.user_email} to "
            f"organization {organization_id} (HTTP {r.status_code}); is it a member?"
        )
    conn.organization_id = organization_id


def use_person_organization(ws: Workspace, conn: Connection, email: str) -> None:
    """Work in ``email``'s organization, if the workspace made one on this server."""
    org = ls_rows.annotator_organization(ws, server_url=conn.server_key, email=email)
    if org is not None:
        use_organization(conn, org)
