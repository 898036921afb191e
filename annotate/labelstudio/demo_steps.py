"""The Label Studio part of ``safecal demo``, as plain functions (see README, annotation).

:func:`start_demo_server` starts the workspace's Label Studio; :func:`setup_demo_labeling`
labels the example with the same people and the same labels as the demo without Label
Studio (:func:`annotate.example.labeling.label_demo_sample`), but through Label Studio:

1. the sample and the honeypots (from the example's ``truth.csv``, outside the sample);
2. one account per simulated annotator of the example (their emails are the names on
   their labels) and one for the reviewer, each in an organization of its own (blind);
3. each annotator's queue holds the units they labeled in the simulation
   (:func:`annotate.assign.assign_as_labeled`), pushed as their own projects;
4. each annotator's simulated labels go into Label Studio as that annotator's
   annotations (``completed_by`` them, lead time included) on their own tasks, imported
   with the tasks the way Label Studio imports existing labels (one request per
   project; saving 638 of them one by one through the API, as each annotator, took
   140 s here against a few for the import), so their queues show as done; the labels
   on responses outside the sample are imported into the workspace as labels made
   earlier;
5. ``pull`` brings the annotations back, and the gold set is built from what was pulled;
6. the units it leaves uncertain go to the reviewer's review project, where the
   reviewer's decisions (the example's truth, standing in for a person) are saved by
   the reviewer, logged in with their own token as a person would, read back by
   ``pull_reviews`` and made gold.

It returns where to log in and the one-time passwords.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pandas as pd

from safecal.annotate.adjudication import Resolution, build_gold
from safecal.annotate.assign import assign_as_labeled
from safecal.annotate.example.labeling import (
    DEMO_REVIEWER,
    DEMO_SAMPLE_ID,
    DemoGold,
    prepare_demo_sample,
    split_labels,
    truth_decisions,
)
from safecal.annotate.human_labels import import_label_table
from safecal.annotate.labelstudio.accounts import Account, ensure_accounts, user_token
from safecal.annotate.labelstudio.client import WORKSPACE_SERVER, Connection, connect_to
from safecal.annotate.labelstudio.pull import PullReport, pull
from safecal.annotate.labelstudio.push import PushReport, push
from safecal.annotate.labelstudio.review import ReviewReport, pull_reviews, push_reviews
from safecal.annotate.labelstudio.server import ServerInfo, start_server
from safecal.annotate.store import Workspace
from safecal.annotate.store import labelstudio as ls_rows


@dataclass(frozen=True)
class DemoLabeling:
    """What the demo prints: the server, the accounts (passwords once), the projects,
    what the annotators and the reviewer did there, and the labeling shared with the
    demo without Label Studio (``labeled``)."""

    url: str
    admin_email: str
    admin_password: str | None
    accounts: list[Account]
    push: PushReport
    annotated: int
    pulled: PullReport
    gold: Resolution
    review: ReviewReport | None
    labeled: DemoGold


def start_demo_server(ws: Workspace, *, template: Path | None = None) -> ServerInfo:
    """Start (or find) the workspace's Label Studio; stop it with ``stop_server(ws.path)``."""
    return start_server(ws.path, images_dir=ws.images_dir, template=template)


def _choice(field: str, label: str) -> list[dict]:
    value = {"choices": [label]}
    return [{"from_name": field, "to_name": "response", "type": "choices", "value": value}]


def annotate_as(
    url: str,
    account: Account,
    tasks: list[tuple[int, str, str, float | None]],
) -> int:
    """Save ``tasks`` (task id, field, label, lead time in seconds) as ``account``'s
    annotations, logged in with the account's own token (its one-time password), as
    the person would through the labeling page; returns the annotations saved."""
    if not account.password:
        raise ValueError(f"{account.email}: no password (not created in this run)")
    token = user_token(url, account.email, account.password)
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60
    ) as http:
        for task_id, fld, label, lead_time in tasks:
            r = http.post(
                f"/api/tasks/{task_id}/annotations/",
                json={"result": _choice(fld, label), "lead_time": lead_time},
            )
            r.raise_for_status()
    return len(tasks)


def _task_ids(ws: Workspace, conn: Connection, project_id: int) -> dict[str, int]:
    t = ls_rows.project_tasks(ws, server_url=conn.server_key, project_id=project_id)
    return dict(zip(t["unit_id"], t["task_id"].astype(int), strict=True))


def _lead_time(value: object) -> float | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def setup_demo_labeling(
    ws: Workspace,
    server: ServerInfo,
    *,
    truth: Path,
    human_labels: Path,
    n: int = 40,
    seed: int = 0,
    sample_id: str = DEMO_SAMPLE_ID,
) -> DemoLabeling:
    """Label the sample through Label Studio (see the module docstring)."""
    conn: Connection = connect_to(server.url, server.token, server_key=WORKSPACE_SERVER)
    n_sampled, n_honeypots = prepare_demo_sample(
        ws, truth=truth, n=n, seed=seed, sample_id=sample_id
    )
    queued, earlier = split_labels(ws, human_labels, sample_id=sample_id)
    assign_as_labeled(ws, sample_id, queued, seed=seed)
    annotators = sorted(set(queued["annotator"]))
    accounts = ensure_accounts(ws, conn, annotators)
    reviewer = ensure_accounts(ws, conn, [DEMO_REVIEWER], role="reviewer")
    user_ids = {a.email: a.user_id for a in accounts}
    simulated = {
        (r.annotator.lower(), r.field, r.response_id): [
            {
                "result": _choice(r.field, r.label),
                "completed_by": user_ids[r.annotator.lower()],
                "lead_time": _lead_time(getattr(r, "lead_time", None)),
                # Label Studio marks imported annotations ground truth unless told not to
                "ground_truth": False,
            }
        ]
        for r in queued.itertuples()
    }
    pushed = push(ws, conn, sample_id, labeled=lambda *key: simulated[key])
    annotated = len(simulated)
    n_earlier = import_label_table(ws, earlier, source=human_labels) if len(earlier) else 0
    pulled = pull(ws, conn, sample_id=sample_id)
    gold = build_gold(ws, sample_id=sample_id)
    labeled = DemoGold(
        sample_id=sample_id,
        n_sampled=n_sampled,
        n_honeypots=n_honeypots,
        n_labels=pulled.rows + n_earlier,
        gold=gold,
    )
    review = None
    if len(gold.to_review):
        review = push_reviews(ws, conn, reviewer=DEMO_REVIEWER)
        decided = _review_as(ws, conn, reviewer[0], review, truth=truth, pending=gold.to_review)
        review = pull_reviews(ws, conn)
        labeled = replace(labeled, gold=build_gold(ws, sample_id=sample_id), n_reviewed=decided)
    return DemoLabeling(
        url=server.url,
        admin_email=server.email,
        admin_password=server.password,
        accounts=accounts + reviewer,
        push=pushed,
        annotated=annotated,
        pulled=pulled,
        gold=gold,
        review=review,
        labeled=labeled,
    )


def _review_as(
    ws: Workspace,
    conn: Connection,
    reviewer: Account,
    review: ReviewReport,
    *,
    truth: Path,
    pending: pd.DataFrame,
) -> int:
    """The simulated reviewer decides the pending units in their review projects."""
    tasks: list[tuple[int, str, str, float | None]] = []
    for rid, fld, label, _reason in truth_decisions(truth, pending):
        ids = _task_ids(ws, conn, review.projects[fld])
        tasks.append((ids[rid], fld, label, None))
    return annotate_as(conn.url, reviewer, tasks)
