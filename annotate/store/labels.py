"""Human labels and their outcome: the statements on tables ``annotations``, ``gold``,
``honeypots`` and ``reviews``.

Some reads join ``responses`` and ``items`` for the columns their callers show.

Callers import the module: ``from safecal.annotate.store import labels as label_rows``.
"""

from __future__ import annotations

import pandas as pd

from safecal.annotate.store.workspace import Workspace


def honeypot_pool(ws: Workspace) -> pd.DataFrame:
    """Reads honeypots joined with responses: response_id, item_id, task_type (the
    field) of every honeypot, by response id and field."""
    return ws.read_sql(
        """SELECT h.response_id, r.item_id, h.field AS task_type
           FROM honeypots h JOIN responses r USING (response_id)
           ORDER BY h.response_id, h.field"""
    )
