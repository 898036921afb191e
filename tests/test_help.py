"""Every command's ``--help``: exits 0, every option has a help text and shows its default
once, and every command group lists its commands with a one-line description."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safecal.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(words after ``safecal``, parser) of the top level and every (sub)command."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


ALL = list(commands(build_parser()))
IDS = [" ".join(path) or "safecal" for path, _ in ALL]


def _help_of(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    """The action's help as ``--help`` shows it (defaults filled in), on one line."""
    return " ".join(parser._get_formatter()._expand_help(action).split())


def test_the_walk_reaches_every_command():
    names = set(IDS)
    for expected in (
        "safecal",
        "annotate sample",
        "annotate assign",
        "annotate push",
        "calibrate run",
        "curate run",
        "dashboard",
        "dashboard stop",
        "demo",
        "ingest items",
    ):
        assert expected in names
    assert len(ALL) > 25


@pytest.mark.parametrize(("path", "parser"), ALL, ids=IDS)
def test_help_exits_0(path, parser):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        build_parser().parse_args([*path, "--help"])
    assert done.value.code == 0
    assert out.getvalue().startswith("usage: safecal")


@pytest.mark.parametrize(("path", "parser"), ALL, ids=IDS)
def test_every_option_has_help_and_shows_its_default_once(path, parser):
    problems = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        if not action.help or action.help == argparse.SUPPRESS:
            problems.append(f"{name}: no help text")
            continue
        text = _help_of(action, parser)
        takes_value = action.option_strings and action.nargs != 0 and not action.required
        if takes_value and "default" not in text.lower():
            problems.append(f"{name}: no default shown: {text!r}")
        if len(re.findall(r"\(default\b", text)) > 1:
            problems.append(f"{name}: default shown twice: {text!r}")
    whole = " ".join(parser.format_help().split())
    if re.search(r"\(default:? [^()]*\) \(default", whole):
        problems.append(f"default twice in a row in: {whole}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("path", "parser"), ALL, ids=IDS)
def test_groups_describe_each_command_in_one_line(path, parser):
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        described = {choice.dest: choice.help for choice in action._choices_actions}
        assert set(described) == set(action.choices), "a command without a description"
        for name, text in described.items():
            assert text and "\n" not in text, f"{' '.join(path)} {name}: {text!r}"
            assert name in parser.format_help()


def test_the_formatter_never_repeats_a_stated_default():
    """The trap issue 17 found: a help text naming its default and the formatter adding
    it again (`(default 2) (default: 2)`)."""
    from safecal.annotate.cli.common import Parser

    parser = Parser(prog="x")
    parser.add_argument("--a", type=int, default=2, help="annotators (default 2)")
    parser.add_argument("--b", type=int, default=3, help="rounds")
    parser.add_argument("--c", default=None, help="a file")
    parser.add_argument("--d", action="store_true", help="a flag")
    text = " ".join(parser.format_help().split())
    assert "annotators (default 2) --b" in text
    assert "rounds (default: 3)" in text
    assert "a file (default: none)" in text
    assert "a flag" in text and "(default: False)" not in text


def test_help_through_the_command_line():
    """The installed entry point as a user types it (a subprocess of this checkout)."""
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "annotate", "assign", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "--overlap OVERLAP share labeled by k annotators (default: 0.2)" in text
    assert "--k K annotators per overlapped unit (default: 2)" in text
    assert "--honeypot-rate HONEYPOT_RATE share of each annotator's queue" in text
