"""A reviewer's decision on a disputed unit, recorded from outside Label Studio.

:func:`record_decision` stores the chosen label in ``reviews`` (label, reviewer, when)
and makes it the gold label at once (method ``adjudicated``, with the adjudicator and
the time), the same outcome :func:`annotate.adjudication.build_gold` gives a decision
pulled from Label Studio, so a later ``build_gold`` keeps it.
"""

from __future__ import annotations

import datetime as dt

from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES, canonical
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows


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
    field = canonical(field, SCALES) or field  # any case (annotate.labels.canonical)
    if field not in SCALES:
        raise InputError(f"field {field!r}: reviewers decide {', '.join(SCALES)} labels only")
    label = canonical(label, SCALES[field]) or label
    if label not in SCALES[field]:
        raise InputError(
            f"label {label!r} is not a {field} label; choose one of {', '.join(SCALES[field])}"
        )
    reviewer = reviewer.strip()
    if not reviewer:
        raise InputError("give the reviewer's name: the gold label records who decided it")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        if not label_rows.response_exists(con, response_id=response_id):
            raise InputError(f"no response {response_id!r} in the workspace")
        label_rows.record_review(
            con,
            response_id=response_id,
            field=field,
            reason=reason,
            label=label,
            reviewer=reviewer,
            decided_at=now,
        )
        label_rows.set_adjudicated_gold(
            con,
            response_id=response_id,
            field=field,
            label=label,
            adjudicator=reviewer,
            decided_at=now,
        )
    return now
