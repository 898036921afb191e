"""calibrate.render: the one ``value [lo, hi]`` renderer and the terminal-width table."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from safecal.calibrate.render import (
    MAX_CELL_LINES,
    display_width,
    estimate_parts,
    format_cell,
    format_estimate,
    format_number,
    render_table,
    wrap,
    wrap_text,
)
from safecal.calibrate.results import NAN_ESTIMATE, Estimate

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("est", "ci", "expected"),
    [
        (Estimate(0.5, (0.25, 0.75)), None, "0.500 [0.250, 0.750]"),
        ({"value": 0.5, "ci": [0.25, 0.75]}, None, "0.500 [0.250, 0.750]"),
        (0.5, (0.25, 0.75), "0.500 [0.250, 0.750]"),
        (0.5, None, "0.500"),
        (Estimate(0.5, (NAN, NAN)), None, "0.500"),
        ({"value": 0.5, "ci": [None, None]}, None, "0.500"),
        ({"value": 0.5, "ci": [None, 0.75]}, None, "0.500 [n/a, 0.750]"),
        (NAN_ESTIMATE, None, "n/a"),
        ({"value": None, "ci": [None, None]}, None, "n/a"),
        ({"value": NAN, "ci": [0.1, 0.2]}, None, "n/a"),
        (None, None, "n/a"),
        (pd.NA, None, "n/a"),
        (np.float64("nan"), (np.float64(0.1), np.float64(0.2)), "n/a"),
        (INF, None, "inf"),
        (Estimate(1.0, (0.5, INF)), None, "1.000 [0.500, inf]"),
        (Estimate(-INF, (-INF, 0.0)), None, "-inf [-inf, 0.000]"),
        (np.float32(0.125), (0, 1), "0.125 [0, 1]"),
    ],
)
def test_format_estimate(est: object, ci: object, expected: str) -> None:
    assert format_estimate(est, ci) == expected


def test_never_nan_or_none_and_the_spec() -> None:
    for value in (None, NAN, np.nan, pd.NA, float("nan")):
        text = format_estimate({"value": value, "ci": [value, value]})
        assert text == "n/a" and "nan" not in text.lower() and "None" not in text
    assert format_estimate(Estimate(0.1234, (0.1, 0.15)), spec=".1%") == "12.3% [10.0%, 15.0%]"
    assert estimate_parts(Estimate(0.5, (0.4, 0.6))) == ("0.500", "[0.400, 0.600]")
    assert estimate_parts(None) == ("n/a", "")
    # an Estimate formats through the same function
    assert f"{Estimate(0.5, (0.25, 0.75))}" == "0.500 [0.250, 0.750]"
    assert f"{Estimate(0.5, (0.25, 0.75)):.2f}" == "0.50 [0.25, 0.75]"
    assert f"{NAN_ESTIMATE}" == "n/a"


def test_format_cell() -> None:
    assert format_cell(3) == "3" and format_cell(np.int64(3)) == "3"
    assert format_cell(True) == "True"
    assert format_cell(0.5) == "0.500" and format_cell(np.float64(NAN)) == "n/a"
    assert format_cell(None) == "n/a" and format_cell("None") == "None"  # text stays text
    assert format_cell(-INF) == "-inf"
    assert format_number(2.5e-7, spec=".3g") == "2.5e-07"
    assert format_cell(Estimate(0.5, (NAN, NAN))) == "0.500"


def test_display_width_and_wrap() -> None:
    assert display_width("abc") == 3 and display_width("中文") == 4
    assert wrap("0.812 [0.790, 0.833]", 14) == ["0.812", "[0.790, 0.833]"]
    # long words break after _ when they can, else anywhere
    assert wrap("krippendorff_alpha", 14) == ["krippendorff_", "alpha"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert all(display_width(line) <= 5 for line in wrap("中文标签很长很长", 5))
    assert "".join(wrap("中文标签很长很长", 5)) == "中文标签很长很长"
    text = wrap_text("note: " + "word " * 40, width=30, indent="  ")
    lines = text.splitlines()
    assert len(lines) > 1 and all(len(line) <= 30 for line in lines)
    assert all(line.startswith("  ") for line in lines[1:])


HEADERS = ["slice", "items", "percent_agreement", "cohen_kappa", "krippendorff_alpha", "note"]
ROWS = [
    ["total (pooled)", 400, Estimate(0.812, (0.79, 0.833)), NAN_ESTIMATE, 0.25, "ok"],
    ["中文", 12, Estimate(0.5, (NAN, NAN)), {"value": None, "ci": [None, None]}, INF, "x" * 500],
]


def test_a_wide_terminal_gets_the_natural_table() -> None:
    out = render_table(HEADERS[:5], [r[:5] for r in ROWS], width=300)
    lines = out.splitlines()
    assert len(lines) == 4  # header, rule, two rows: nothing wrapped
    assert re.match(
        r"slice\s+items\s+percent_agreement\s+cohen_kappa\s+krippendorff_alpha$", lines[0]
    )
    assert lines[2].split("  ")[0] == "total (pooled)"
    assert "0.812 [0.790, 0.833]" in lines[2] and "n/a" in lines[2] and "0.250" in lines[2]
    assert "0.500" in lines[3] and "inf" in lines[3]
    assert "nan" not in out.lower() and "None" not in out


@pytest.mark.parametrize("width", [12, 20, 30, 45, 60, 80, 100, 140])
def test_no_line_wider_than_the_terminal(width: int) -> None:
    out = render_table(HEADERS, ROWS, title="Agreement between raters: " + "/dir" * 30, width=width)
    assert max(display_width(line) for line in out.splitlines()) <= width
    assert "nan" not in out.lower() and "None" not in out
    # the 500-character cell is cut, with an ellipsis, never printed in full
    assert "…" in out and "x" * 500 not in out.replace("\n", "")
    # short numbers are never split
    for number in ("0.812", "0.790", "0.833", "0.250", "0.500"):
        assert number in out


def test_cells_wrap_then_truncate() -> None:
    out = render_table(["a", "b"], [["word " * 50, "y"]], width=30)
    lines = out.splitlines()
    assert len(lines) == 2 + MAX_CELL_LINES
    assert lines[-1].rstrip().endswith("…")


def test_too_narrow_for_columns_prints_records() -> None:
    out = render_table(HEADERS, ROWS, width=40)
    assert "slice: total (pooled)" in out and "percent_agreement: 0.812 [0.790, 0.833]" in out
    assert max(display_width(line) for line in out.splitlines()) <= 40


def test_rows_must_match_headers() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 headers"):
        render_table(["a", "b", "c"], [[1, 2]], width=80)
