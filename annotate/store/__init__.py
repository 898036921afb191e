"""The store: the workspace database, its schema and every SQL statement safecal runs.

- :mod:`.workspace`: the :class:`Workspace` (a folder with ``safecal.sqlite`` and
  ``images/``), its connections and transactions;
- :mod:`.schema`: the tables, one migration script per schema version;
- one module per group of tables with the statements that read and write them:
  :mod:`.catalog` (items and responses, reads), :mod:`.judging` (judge runs and
  verdicts), :mod:`.curation` (what curation reads and writes) and :mod:`.views`
  (read-only joins that calibrate and the dashboard report on). Import them as
  modules, e.g. ``from safecal.annotate.store import views as store_views``.

No module outside this package writes SQL (``tests/test_layout.py`` checks it).
"""

from safecal.annotate.store.schema import SCHEMA_VERSION
from safecal.annotate.store.workspace import (
    DB_NAME,
    DEFAULT_WORKSPACE,
    IMAGES_DIR,
    Workspace,
    resolve_workspace,
)

__all__ = [
    "DB_NAME",
    "DEFAULT_WORKSPACE",
    "IMAGES_DIR",
    "SCHEMA_VERSION",
    "Workspace",
    "resolve_workspace",
]
