"""A reviewer's decision on a disputed unit, recorded from outside Label Studio.

:func:`record_decision` stores the chosen label in ``reviews`` (label, reviewer, when)
and makes it the gold label at once (method ``adjudicated``, with the adjudicator and
the time), the same outcome :func:`annotate.adjudication.build_gold` gives a decision
pulled from Label Studio, so a later ``build_gold`` keeps it.
"""

from __future__ import annotations

import datetime as dt

from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES
from safecal.annotate.store import Workspace


def record_decision(
    ws: Workspace,
    response_id: str,
    field: str,
    label: str,
    *,
    reviewer: str,
    reason: str = "disagreement",
) -> str:
    """Store ``label`` as the gold ``field`` label of ``response_id``; returns the time.

    The unit need not be in the review queue (a reviewer may overrule any gold label);
    when it is not, a ``reviews`` row is made with ``reason``.
    """
    if field not in SCALES:
        raise InputError(f"field {field!r}: reviewers decide {', '.join(SCALES)} labels only")
    if label not in SCALES[field]:
        raise InputError(
            f"label {label!r} is not a {field} label; choose one of {', '.join(SCALES[field])}"
        )
    reviewer = reviewer.strip()
    if not reviewer:
        raise InputError("give the reviewer's name: the gold label records who decided it")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        if (
            con.execute("SELECT 1 FROM responses WHERE response_id = ?", (response_id,)).fetchone()
            is None
        ):
            raise InputError(f"no response {response_id!r} in the workspace")
        con.execute(
            "INSERT INTO reviews (response_id, field, reason, label, reviewer, decided_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (response_id, field) DO UPDATE"
            " SET label = excluded.label, reviewer = excluded.reviewer,"
            " decided_at = excluded.decided_at",
            (response_id, field, reason, label, reviewer, now, now),
        )
        con.execute(
            "INSERT INTO gold (response_id, field, label, method, soft, adjudicator, decided_at)"
            " VALUES (?, ?, ?, 'adjudicated', NULL, ?, ?) ON CONFLICT (response_id, field)"
            " DO UPDATE SET label = excluded.label, method = excluded.method, soft = NULL,"
            " adjudicator = excluded.adjudicator, decided_at = excluded.decided_at",
            (response_id, field, label, reviewer, now),
        )
    return now
