"""Reading users' tables: formats, encodings, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from safecal.annotate.errors import InputError
from safecal.calibrate import read_table
from safecal.calibrate.io import blank_as_missing, require_columns


def test_formats_agree(tmp_path: Path) -> None:
    t = pd.DataFrame({"gold": ["unsafe", None, "1"], "judge": ["unsafe", "safe", "1"]})
    t.to_csv(tmp_path / "t.csv", index=False)
    t.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    t.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    t.to_json(tmp_path / "t.json", orient="records")
    t.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.tsv", "t.jsonl", "t.json", "t.parquet"):
        got = read_table(tmp_path / name)
        assert list(got.columns) == ["gold", "judge"], name
        # the one reader: a missing value is "" in every format; calibrate's commands
        # count it as NA (blank_as_missing), the same for every format
        assert got["gold"].tolist() == ["unsafe", "", "1"], name
        assert blank_as_missing(got)["gold"].isna().tolist() == [False, True, False], name
        assert got["judge"].tolist() == ["unsafe", "safe", "1"], name


def test_utf8_bom_and_other_encodings(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffgold,judge\n安全,安全\n".encode())
    assert list(read_table(p).columns) == ["gold", "judge"]
    p = tmp_path / "gbk.csv"
    p.write_bytes("gold,judge\n安全,不安全\n".encode("gbk"))
    with pytest.raises(InputError, match=r"gbk.csv: not valid utf-8 .*--encoding"):
        read_table(p)
    assert read_table(p, encoding="gbk")["judge"].tolist() == ["不安全"]
    with pytest.raises(InputError, match="unknown encoding"):
        read_table(p, encoding="no-such-codec")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.csv", "", "empty"),
        ("t.xlsx", "x", "unknown table format"),
        ("bad.jsonl", '{"a": 1}\n{"a": \n', r"bad.jsonl, line 2: malformed JSON"),
        ("list.jsonl", "[1, 2]\n", "line 1: expected a JSON object"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(InputError, match=message):
        read_table(p)


def test_missing_file_and_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    t = pd.DataFrame({"a": [1], "b": [2]})
    expected = r"no column 'c' \(from --judge\); available columns: a, b"
    with pytest.raises(InputError, match=expected):
        require_columns(t, ["a", "c"], source="x.csv", option="--judge")
