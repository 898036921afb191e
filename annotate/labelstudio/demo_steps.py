"""The Label Studio part of ``safecal demo``, as plain functions (see README, annotation).

:func:`start_demo_server` starts the workspace's Label Studio; :func:`setup_demo_labeling`
samples the example, plans two demo annotators with full overlap and honeypots (a few
known labels from the example's ``truth.csv``, outside the sample), creates the
accounts, pushes the tasks, imports the simulated annotators' labels, builds the gold
set and puts its disputed units into a review project for the reviewer. It returns
where to log in and the one-time passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from safecal.annotate.adjudication import Resolution, build_gold
from safecal.annotate.assign import plan_assignments
from safecal.annotate.human_labels import import_honeypots, import_labels
from safecal.annotate.labelstudio.accounts import Account, ensure_accounts
from safecal.annotate.labelstudio.client import WORKSPACE_SERVER, Connection, connect_to
from safecal.annotate.labelstudio.push import PushReport, push
from safecal.annotate.labelstudio.review import ReviewReport, push_reviews
from safecal.annotate.labelstudio.server import ServerInfo, start_server
from safecal.annotate.sampling import draw_sample
from safecal.annotate.store import Workspace

DEMO_ANNOTATORS = ("annotator1@safecal.local", "annotator2@safecal.local")
DEMO_REVIEWER = "reviewer@safecal.local"


@dataclass(frozen=True)
class DemoLabeling:
    """What the demo prints: the server, the accounts (passwords once), the projects."""

    url: str
    admin_email: str
    admin_password: str | None
    accounts: list[Account]
    push: PushReport
    gold: Resolution
    review: ReviewReport | None


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
    sample_id: str = "demo",
) -> DemoLabeling:
    """Sample, assign, push, import simulated labels, build gold and a review project."""
    conn: Connection = connect_to(server.url, server.token, server_key=WORKSPACE_SERVER)
    draw_sample(ws, n=n, by=("model", "aspect"), seed=seed, sample_id=sample_id)
    import_honeypots(ws, truth, n=max(4, n // 5), exclude_sample=sample_id, seed=seed)
    plan_assignments(
        ws, sample_id, list(DEMO_ANNOTATORS), overlap=1.0, k=2, honeypot_rate=0.1, seed=seed
    )
    accounts = ensure_accounts(ws, conn, list(DEMO_ANNOTATORS))
    accounts += ensure_accounts(ws, conn, [DEMO_REVIEWER], role="reviewer")
    pushed = push(ws, conn, sample_id)
    import_labels(ws, human_labels)
    gold = build_gold(ws)
    review = push_reviews(ws, conn, reviewer=DEMO_REVIEWER) if len(gold.to_review) else None
    return DemoLabeling(
        url=server.url,
        admin_email=server.email,
        admin_password=server.password,
        accounts=accounts,
        push=pushed,
        gold=gold,
        review=review,
    )
