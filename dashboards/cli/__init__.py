"""The dashboard's command group (``safecal dashboard``); the ``safecal`` command is
assembled in :mod:`safecal.cli`."""
