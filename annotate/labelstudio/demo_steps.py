"""The Label Studio part of ``safecal demo``, as plain functions (see README, annotation).

:func:`start_demo_server` starts the workspace's Label Studio; :func:`setup_demo_labeling`
labels the example as the demo without Label Studio does
(:func:`annotate.example.labeling.label_demo_sample`: the sample, honeypots from the
example's ``truth.csv`` outside it, the simulated annotators' labels and the gold set
built from them), then plans two demo annotators with full overlap and the honeypots,
creates the accounts, pushes the tasks and puts the units whose gold is uncertain into
a review project for the reviewer. It returns where to log in and the one-time
passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from safecal.annotate.adjudication import Resolution
from safecal.annotate.assign import plan_assignments
from safecal.annotate.example.labeling import DEMO_SAMPLE_ID, DemoGold, label_demo_sample
from safecal.annotate.labelstudio.accounts import Account, ensure_accounts
from safecal.annotate.labelstudio.client import WORKSPACE_SERVER, Connection, connect_to
from safecal.annotate.labelstudio.push import PushReport, push
from safecal.annotate.labelstudio.review import ReviewReport, push_reviews
from safecal.annotate.labelstudio.server import ServerInfo, start_server
from safecal.annotate.store import Workspace

DEMO_ANNOTATORS = ("annotator1@safecal.local", "annotator2@safecal.local")
DEMO_REVIEWER = "reviewer@safecal.local"


@dataclass(frozen=True)
class DemoLabeling:
    """What the demo prints: the server, the accounts (passwords once), the projects,
    and the labeling shared with the demo without Label Studio (``labeled``)."""

    url: str
    admin_email: str
    admin_password: str | None
    accounts: list[Account]
    push: PushReport
    gold: Resolution
    review: ReviewReport | None
    labeled: DemoGold


def start_demo_server(ws: Workspace, *, template: Path | None = None) -> ServerInfo:
    """Start (or find) the workspace's Label Studio; stop it with ``stop_server(ws.path)``."""
    return start_server(ws.path, images_dir=ws.images_dir, template=template)


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
    """Label the sample (gold from the simulated labels), assign, push, review project."""
    conn: Connection = connect_to(server.url, server.token, server_key=WORKSPACE_SERVER)
    labeled = label_demo_sample(
        ws, truth=truth, human_labels=human_labels, n=n, seed=seed, sample_id=sample_id
    )
    gold = labeled.gold
    plan_assignments(
        ws, sample_id, list(DEMO_ANNOTATORS), overlap=1.0, k=2, honeypot_rate=0.1, seed=seed
    )
    accounts = ensure_accounts(ws, conn, list(DEMO_ANNOTATORS))
    accounts += ensure_accounts(ws, conn, [DEMO_REVIEWER], role="reviewer")
    pushed = push(ws, conn, sample_id)
    review = push_reviews(ws, conn, reviewer=DEMO_REVIEWER) if len(gold.to_review) else None
    return DemoLabeling(
        url=server.url,
        admin_email=server.email,
        admin_password=server.password,
        accounts=accounts,
        push=pushed,
        gold=gold,
        review=review,
        labeled=labeled,
    )
