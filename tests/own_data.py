"""The small "your own data" example (tests/data/own_data/): a benchmark CSV with images,
model responses, an external judge's verdicts and two people's labels, names in mixed case.
The README's five commands run on it (tests/test_readme_own_data.py)."""

from __future__ import annotations

from pathlib import Path

from safecal.cli import main

OWN = Path(__file__).parent / "data" / "own_data"


def run(*argv: str) -> None:
    """One safecal command in this process; it must succeed."""
    assert main(list(argv)) == 0, argv


def build_workspace(folder: Path, ws: Path) -> None:
    """Items, responses, the imported judge run ``my-judge``, the labels and the gold."""
    w = ["-w", str(ws)]
    run("ingest", "items", str(folder / "items.csv"), *w)
    run("ingest", "responses", str(folder / "responses.csv"), *w)
    run(
        "calibrate", "run", "--judge", "Imported", "--file", str(folder / "verdicts.csv"),
        "--name", "my-judge", "--score-column", "score", "--no-progress", *w,
    )  # fmt: skip
    run("annotate", "import", str(folder / "labels.csv"), *w)
    run("annotate", "gold", "--offline", *w)
