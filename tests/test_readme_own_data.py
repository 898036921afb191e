"""The README's "Your own data in five steps" stays true: its commands are read out of the
README and run as written, on the files under tests/data/own_data/, and every line of the
output it quotes must be printed."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from safecal.cli import main
from tests.own_data import OWN

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Your own data in five steps"


def _blocks() -> tuple[list[str], list[str]]:
    """The section's commands (its bash block) and quoted output (its text block)."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    bash = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    out = re.search(r"```text\n(.*?)```", section, flags=re.S)
    assert bash and out
    commands = [line for line in bash.group(1).splitlines() if line.startswith("safecal ")]
    expected = [line for line in out.group(1).splitlines() if line.strip()]
    return commands, expected


def test_the_section_has_five_steps_and_quotes_output():
    commands, expected = _blocks()
    text = README.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    assert [int(n) for n in re.findall(r"^# (\d)\. ", text, flags=re.M)] == [1, 2, 3, 4, 5]
    assert len(commands) >= 5 and len(expected) >= 8


def test_the_readme_commands_run_and_print_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands, expected = _blocks()
    shutil.copytree(OWN, tmp_path / "tests" / "data" / "own_data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SAFECAL_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    printed = []
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "safecal"
        code = main(argv[1:])
        captured = capsys.readouterr()
        assert code == 0, f"{command}: {captured.err}"
        printed.append(captured.out)
    output = "\n".join(printed)
    missing = [line for line in expected if line.strip() not in output]
    assert not missing, f"README output not printed: {missing}\n--- printed:\n{output}"
    # the default workspace, on whichever backend the suite runs (SAFECAL_TEST_BACKEND)
    default = tmp_path / "safecal-workspace"
    assert any((default / name).is_file() for name in ("safecal.sqlite", "safecal.database"))
    assert (tmp_path / "my-judge-card.html").is_file()
