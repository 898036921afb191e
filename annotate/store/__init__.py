"""The store: the workspace database, its schema and every SQL statement safecal runs.

- :mod:`.workspace`: the :class:`Workspace` (a folder with ``safecal.sqlite`` and
  ``images/``, or a PostgreSQL database with a folder for its files), its connections
  and transactions;
- :mod:`.backend`: the :class:`Connection` both databases hide behind, and the
  rewrite of the store's SQLite-dialect statements for PostgreSQL;
- :mod:`.schema`: the tables, one migration script per schema version;
- one module per group of tables with the statements that read and write them:
  :mod:`.catalog` (``items``, ``responses``), :mod:`.samples` (``samples``,
  ``ls_assignments``), :mod:`.labels` (``annotations``, ``gold``, ``honeypots``,
  ``reviews``), :mod:`.labelstudio` (``ls_annotators``, ``ls_projects``, ``ls_tasks``),
  :mod:`.runs` (what a judge run writes: ``judge_runs``, ``verdicts``,
  ``judge_cache``), :mod:`.batches` (``judge_batches``: the batches a run submitted to a
  batch API), :mod:`.judging` (reads of judge runs and verdicts),
  :mod:`.curation` (what curation reads and writes), :mod:`.views` (read-only
  joins that calibrate and the dashboard report on) and :mod:`.demo` (the demo's mark
  on a database workspace, and its rebuild). Callers import a module, not
  its functions, e.g. ``from safecal.annotate.store import labels as label_rows``.

No module outside this package writes SQL (``tests/test_layout.py`` checks it).
"""

from safecal.annotate.store.backend import Connection, database_errors, integrity_errors
from safecal.annotate.store.schema import SCHEMA_VERSION
from safecal.annotate.store.workspace import (
    DB_NAME,
    DEFAULT_WORKSPACE,
    IMAGES_DIR,
    URL_FILE,
    Workspace,
    resolve_workspace,
)

__all__ = [
    "DB_NAME",
    "URL_FILE",
    "Connection",
    "database_errors",
    "integrity_errors",
    "DEFAULT_WORKSPACE",
    "IMAGES_DIR",
    "SCHEMA_VERSION",
    "Workspace",
    "resolve_workspace",
]
