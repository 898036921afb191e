"""``python -m dashboards.cli`` runs the ``safecal`` command (used by the tests)."""

import sys

from dashboards.cli import main

sys.exit(main())
