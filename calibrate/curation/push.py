"""Send the queries curation put up for review to Label Studio query-quality projects.

This uses the annotation stage's own Label Studio round trip (no second client):
one ``query_quality`` assignment per (annotator, review query) is written under
the sample id :data:`REVIEW_SAMPLE` in ``ls_assignments`` (the plan table that
:func:`annotate.labelstudio.push.push` reads), then that ``push`` creates one
query-quality project per annotator and imports the tasks. Running it again adds
only queries not yet assigned; ``push`` itself skips tasks already on the server.
The answers come back with ``safecal annotate pull`` as item-level rows of
``annotations``, which the next ``safecal curate run`` reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace
from safecal.annotate.store import curation as store_curation
from safecal.calibrate.curation.run import CurationResult

if TYPE_CHECKING:
    from safecal.annotate.labelstudio.client import Connection
    from safecal.annotate.labelstudio.push import PushReport

REVIEW_SAMPLE = "curation-review"


def assign_reviews(
    ws: Workspace, item_ids: list[str], annotators: list[str], *, sample_id: str = REVIEW_SAMPLE
) -> int:
    """Add a query-quality assignment per (annotator, item) not assigned yet; returns how many."""
    annotators = [a.strip().lower() for a in dict.fromkeys(annotators) if a.strip()]
    if not annotators:
        raise InputError("no annotators given for the review; pass --annotators a@x.org,b@x.org")
    existing = store_curation.review_assignments(ws, sample_id=sample_id)
    have = set(zip(existing["annotator"], existing["unit_id"], strict=True))
    next_position = {
        a: int(existing.loc[existing["annotator"] == a, "position"].max()) + 1
        if (existing["annotator"] == a).any()
        else 0
        for a in annotators
    }
    rows = []
    for annotator in annotators:
        for item_id in item_ids:
            if (annotator, item_id) in have:
                continue
            rows.append((sample_id, annotator, item_id, item_id, next_position[annotator]))
            next_position[annotator] += 1
    with ws.transaction() as con:
        store_curation.add_review_assignments(con, rows=rows)
    return len(rows)


def push_reviews_to_label_studio(
    ws: Workspace,
    result: CurationResult,
    *,
    annotators: list[str],
    conn: Connection | None = None,
    images: str = "local",
) -> PushReport:
    """Assign the result's ``review`` queries to ``annotators`` and push them (module docstring).

    ``conn`` defaults to the workspace's own Label Studio server, else
    ``$LABEL_STUDIO_URL`` / ``$LABEL_STUDIO_API_KEY`` (see :func:`annotate.connect`).
    """
    from safecal.annotate.labelstudio.accounts import ensure_accounts
    from safecal.annotate.labelstudio.client import connect
    from safecal.annotate.labelstudio.push import push

    reviews = result.reviews()["item_id"].astype(str).tolist()
    if not reviews:
        raise InputError("curation put no query up for review; nothing to push")
    conn = conn or connect(ws.path)
    ensure_accounts(ws, conn, annotators)
    assign_reviews(ws, reviews, annotators)
    return push(ws, conn, REVIEW_SAMPLE, images=images)
