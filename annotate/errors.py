"""The one error type a user sees: what was wrong, where, and what to do.

Every command catches :class:`InputError` at the top and prints its message
without a traceback, exiting with status 2. Anything else is a bug in safecal
and keeps its traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a file, a column, a label, a server address.

    The message must name the file (and line, row or field where known) and
    say what to do about it.
    """

    exit_code = 2
