"""``python -m safecal`` runs the ``safecal`` command (the tests use it)."""

import sys

from safecal.cli import main

sys.exit(main())
