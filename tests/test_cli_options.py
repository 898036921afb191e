"""Numeric options outside their range end in argparse's message, exit 2, before any
work starts (issue 13): negative, zero where meaningless, nan, inf, text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safecal.annotate.cli.options import confidence, number, share, whole
from safecal.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (whole(0, "x"), ["0", "7"], ["-5", "1.5", "abc", ""]),
        (whole(2, "x"), ["2"], ["1", "0"]),
        (number("x"), ["0", "2.5"], ["-1", "nan", "inf", "-inf", "abc"]),
        (number("x", low_open=True), ["0.1"], ["0", "-0.0"]),
        (share("x"), ["0", "1", "0.5"], ["-1", "1.01", "nan"]),
        (confidence(), ["0.9"], ["0", "1", "90", "nan"]),
    ],
)
def test_ranges(parse, good, bad):
    import argparse

    for text in good:
        parse(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    n = 80
    gold = rng.choice(["unsafe", "safe_with_refusal"], n)
    score = np.clip((gold == "unsafe") * 0.6 + rng.normal(0.2, 0.2, n), 0, 1)
    path = tmp_path_factory.mktemp("t") / "t.csv"
    pd.DataFrame(
        {"item_id": [f"i{k // 2}" for k in range(n)], "gold": gold, "score": score}
    ).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-fnr", "-1"),
        ("--max-fnr", "1.5"),
        ("--cost-fp", "nan"),
        ("--cost-fn", "-2"),
        ("--n-boot", "-5"),
        ("--folds", "1"),
        ("--confidence", "90"),
    ],
)
def test_tune_refuses_out_of_range_options(table, option, value):
    args = ["calibrate", "tune", "--table", str(table), "--positive", "unsafe", option, value]
    if option == "--confidence":
        args = ["calibrate", "estimate", "--table", str(table), "--judge", "gold",
                "--positive", "unsafe", option, value]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "safecal", *args], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 2, done.stderr
    assert f"argument {option}" in done.stderr and "Traceback" not in done.stderr


def test_tune_group_must_name_a_column(table, capsys):
    code = main(["calibrate", "tune", "--table", str(table), "--positive", "unsafe",
                 "--group", "nope"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --group 'nope': no such column"), err
    assert main(["calibrate", "tune", "--table", str(table), "--positive", "unsafe",
                 "--group", "item_id", "--n-boot", "0"]) == 0  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["annotate", "sample", "--n", "0"],
        ["annotate", "sample", "--n", "10", "--confidence", "1.5"],
        ["annotate", "sample", "--n", "10", "--oversample", "0.5"],
        ["annotate", "assign", "s1", "--annotators", "a@b.cd", "--overlap", "-0.1"],
        ["annotate", "assign", "s1", "--annotators", "a@b.cd", "--k", "1"],
        ["annotate", "assign", "s1", "--annotators", "a@b.cd", "--honeypot-rate", "1"],
        ["annotate", "gold", "--min-honeypot-accuracy", "2"],
        ["annotate", "gold", "--review-below", "1.5"],
        ["annotate", "adjudicate", "--reviewer", "r@x.org", "--review-below", "nan"],
        ["labelstudio", "start", "--port", "-1"],
    ],
)
def test_annotate_options(tmp_path, args):
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "-w", str(tmp_path / "ws"), *args],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "error: argument" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "ws").exists()  # refused before opening anything
