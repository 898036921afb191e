"""What every safecal subcommand shares: the ``--workspace`` option and error handling.

Each command group is a module with ``register(subparsers)``; each leaf command
sets ``func(args) -> int``. Heavy imports (Label Studio SDK, Streamlit, the
openai client) stay inside the handlers so that ``safecal --help`` is instant.
"""

from __future__ import annotations

import argparse
from typing import Any

from safecal.annotate.labels import canonical
from safecal.annotate.store import Workspace


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default once: appended as ``(default: X)`` (``none`` for an
    option unset by default) unless the help text already names its default (``default``
    in it), the argument is positional or required, or the option is a flag (off by
    default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text.lower()
            or not action.option_strings
            or action.nargs == 0
            or action.required
            or action.default is argparse.SUPPRESS
        ):
            return action.help
        if action.default is None:
            return text + " (default: none)"
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The CLI's parser class: :class:`HelpFormatter` unless told otherwise. Subcommand
    parsers are made with the class of their parent parser, so every level uses it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        """An option with named choices takes them in any case (``--aspect Vulnerability``,
        ``--languages EN``, ``--field Refusal``): the value is given the choice's own
        spelling (:func:`annotate.labels.canonical`) before argparse checks it, so every
        option, present and future, follows the one convention of names and case.
        (Overrides argparse's hook that converts each argument string; a command name
        is not a choice of this kind and is left to argparse.)"""
        value = super()._get_value(action, arg_string)
        choices = action.choices
        if (
            isinstance(value, str)
            and choices is not None
            and not isinstance(action, argparse._SubParsersAction)
            and all(isinstance(c, str) for c in choices)
        ):
            return canonical(value, choices) or value
        return value


def workspace_parent() -> argparse.ArgumentParser:
    """A parent parser giving a leaf command ``--workspace`` (after the subcommand too)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--workspace",
        "-w",
        default=argparse.SUPPRESS,
        help=(
            "workspace folder, or postgresql://USER@HOST[:PORT]/DB with its files in "
            "$SAFECAL_FILES (default: $SAFECAL_WORKSPACE or ./safecal-workspace)"
        ),
    )
    return parent


def keep_formulas_option(parser: argparse.ArgumentParser) -> None:
    """``--keep-formulas``: write CSV text cells exactly, even those a spreadsheet would run
    as formulas (by default they get a leading ``'``; see :mod:`annotate.spreadsheet`)."""
    parser.add_argument(
        "--keep-formulas",
        action="store_true",
        help="CSV: write text starting with = + - @ as it is (default: a leading ' so "
        "spreadsheets show it as text instead of running it as a formula)",
    )


def open_workspace(args: argparse.Namespace, *, create: bool = False) -> Workspace:
    """The workspace named on the command line (or by the environment)."""
    return Workspace.open(getattr(args, "workspace", None), create=create)


def encoding_option(parser: argparse.ArgumentParser, *, of: str = "the file") -> None:
    """``--encoding``, the same for every command that reads a user's file: the reader's
    messages advise it, so every such command must accept it."""
    parser.add_argument(
        "--encoding",
        default="utf-8",
        help=f"text encoding of {of} (default utf-8; e.g. gb18030, latin-1)",
    )
