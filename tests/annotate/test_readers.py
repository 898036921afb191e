"""The one table reader (annotate/readers.py): every behaviour its docstring promises."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from safecal.annotate.errors import InputError
from safecal.annotate.readers import Limits, iter_table, read_table
from safecal.calibrate.io import blank_as_missing

# a comma, a quote, a line break, CJK, a leading zero, spaces kept, an empty value
TABLE = {
    "id": ["007", "2", "3"],
    "text": ["a, b", 'say "hi"\nthere', "  安全  "],
    "gold": ["unsafe", "", "1"],
}


def write_all(folder: Path, table: dict[str, list[str]] = TABLE) -> dict[str, Path]:
    """The same table as CSV, TSV, JSONL, JSON array and Parquet (missing as null in the
    typed formats, as an empty cell in CSV)."""
    frame = pd.DataFrame(table).replace("", None)
    records = [{k: v for k, v in r.items() if v is not None} for r in frame.to_dict("records")]
    paths = {fmt: folder / f"t.{fmt}" for fmt in ("csv", "tsv", "jsonl", "json", "parquet")}
    frame.to_csv(paths["csv"], index=False)
    frame.to_csv(paths["tsv"], index=False, sep="\t")
    paths["jsonl"].write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    objects = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    paths["json"].write_text(f"[\n{objects}\n]\n", encoding="utf-8")
    frame.to_parquet(paths["parquet"])
    return paths


def test_every_format_gives_the_same_frame(tmp_path: Path) -> None:
    paths = write_all(tmp_path)
    expected = pd.DataFrame(TABLE, dtype=object)
    for fmt, path in paths.items():
        got = read_table(path)
        assert got.index.name == "line", fmt
        assert got.dtypes.eq(object).all(), fmt
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, obj=fmt)
    # line numbers: the CSV header is line 1 and the quoted line break makes row 3 line 5;
    # JSON lines start at 1; the array's objects sit on lines 2-4; Parquet row N is line N+1
    assert read_table(paths["csv"]).index.tolist() == [2, 3, 5]
    assert read_table(paths["tsv"]).index.tolist() == [2, 3, 5]
    assert read_table(paths["jsonl"]).index.tolist() == [1, 2, 3]
    assert read_table(paths["json"]).index.tolist() == [2, 3, 4]
    assert read_table(paths["parquet"]).index.tolist() == [2, 3, 4]


def test_missing_is_empty_text_and_calibrate_counts_it_as_na(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text('{"a": "x", "b": null}\n{"a": "y"}\n{"b": "z", "a": ""}\n')
    got = read_table(tmp_path / "m.jsonl")
    assert got.to_dict("list") == {"a": ["x", "y", ""], "b": ["", "", "z"]}
    assert blank_as_missing(got)["a"].isna().tolist() == [False, False, True]
    pq.write_table(pa.table({"a": ["x", None], "f": [1.5, float("nan")]}), tmp_path / "m.parquet")
    assert read_table(tmp_path / "m.parquet").to_dict("list") == {"a": ["x", ""], "f": ["1.5", ""]}


def test_json_values_as_text_and_no_date_guessing(tmp_path: Path) -> None:
    p = tmp_path / "v.jsonl"
    p.write_text(
        '{"n": 1.0, "f": 0.25, "b": true, "o": {"z": 1, "a": [1, 2]}, '
        '"created_at": 1700000000, "timestamp": 1700000000123}\n'
    )
    row = read_table(p).iloc[0].to_dict()
    assert row == {
        "n": "1",
        "f": "0.25",
        "b": "1",
        "o": '{"a": [1, 2], "z": 1}',
        "created_at": "1700000000",  # pandas' read_json made this 1970-01-20
        "timestamp": "1700000000123",
    }


def test_json_file_that_is_not_an_array_is_json_lines(tmp_path: Path) -> None:
    p = tmp_path / "lines.json"
    p.write_text('{"a": 1}\n\n{"a": 2}\n')
    got = read_table(p)
    assert got["a"].tolist() == ["1", "2"] and got.index.tolist() == [1, 3]


def test_csv_blank_lines_short_rows_spaces_in_names_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_bytes("\ufeff id , text\n\n1,a\n,,\n2\n".encode())
    got = read_table(p)
    assert list(got.columns) == ["id", "text"]
    assert got.to_dict("list") == {"id": ["1", "2"], "text": ["a", ""]}
    assert got.index.tolist() == [3, 5]


def test_header_only_gives_an_empty_frame_with_the_columns(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("id,text\n")
    got = read_table(tmp_path / "h.csv")
    assert got.empty and list(got.columns) == ["id", "text"]


def test_chunks_keep_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("id\n" + "".join(f"{i}\n" for i in range(7)))
    chunks = list(iter_table(p, chunksize=3))
    assert [c.index.tolist() for c in chunks] == [[2, 3, 4], [5, 6, 7], [8]]
    j = tmp_path / "c.jsonl"
    j.write_text('{"a": "1"}\n{"a": "2"}\n{"a": "3", "late": "x"}\n')
    assert read_table(j).equals(pd.concat(iter_table(j, chunksize=2)).fillna(""))
    assert read_table(j)["late"].tolist() == ["", "", "x"]


def test_encodings(tmp_path: Path) -> None:
    p = tmp_path / "gbk.csv"
    p.write_bytes("id,text\n1,ok\n2,不安全\n".encode("gb18030"))
    with pytest.raises(
        InputError, match=r"gbk.csv: not valid utf-8 at line 3, byte 3 .*--encoding"
    ):
        read_table(p)
    assert read_table(p, encoding="gb18030")["text"].tolist() == ["ok", "不安全"]
    j = tmp_path / "gbk.jsonl"
    j.write_bytes('{"id": "1"}\n{"id": "不"}\n'.encode("gb18030"))
    with pytest.raises(InputError, match=r"gbk.jsonl: not valid utf-8 at line 2.*--encoding"):
        read_table(j)
    assert read_table(j, encoding="gb18030")["id"].tolist() == ["1", "不"]
    cut = tmp_path / "cut.csv"
    cut.write_bytes("id\n1\nann_é".encode("latin-1"))  # a UTF-8 lead byte, then the end
    with pytest.raises(InputError, match=r"utf-8 at line 3 \(a character cut off at the end"):
        read_table(cut)
    with pytest.raises(InputError, match=r"--encoding 'no-such-codec': unknown encoding"):
        read_table(p, encoding="no-such-codec")


@pytest.mark.parametrize(
    "content",
    ['{"id": "a\\ud800b"}\n', '[{"id": "ok"},\n {"id": "\\udc00"}]'],
)
def test_lone_surrogate_names_line_and_column(tmp_path: Path, content: str) -> None:
    p = tmp_path / ("s.jsonl" if content.startswith("{") else "s.json")
    p.write_text(content)
    line = 1 if content.startswith("{") else 2
    with pytest.raises(
        InputError, match=rf"line {line}, column 'id': a lone surrogate.*--encoding"
    ):
        read_table(p)
    p.write_text('{"id": "\\ud83d\\ude00"}\n')  # a surrogate pair is one character: fine
    assert read_table(p)["id"].tolist() == ["\U0001f600"]


def test_paths_that_are_not_table_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.csv: file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(InputError, match="d.csv: is a folder"):
        read_table(tmp_path / "d.csv")
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError, match="f.csv: not a regular file"):
        read_table(fifo)  # opening a FIFO with no writer would block forever
    assert time.monotonic() - started < 5
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputError, match="e.csv: the file is empty"):
        read_table(tmp_path / "e.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(InputError, match=r"unknown table format '.xlsx'"):
        read_table(tmp_path / "t.xlsx")
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(InputError, match="no header row"):
        read_table(tmp_path / "blank.csv")


def _refused_fast(path: Path, match: str, **kw: object) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match=match):
        read_table(path, **kw)  # type: ignore[arg-type]
    assert time.monotonic() - started < 3, "refused too slowly"


def test_a_million_columns_is_refused_in_seconds(tmp_path: Path) -> None:
    wide = ",".join(f"c{i}" for i in range(1_000_000))
    (tmp_path / "header.csv").write_text(wide + "\n1\n")
    _refused_fast(
        tmp_path / "header.csv", r"line 1: 1,000,000 columns, more than the limit of 1,000"
    )
    (tmp_path / "row.csv").write_text("a,b\n1,2\n" + ",".join(["1"] * 1_000_000) + "\n")
    _refused_fast(tmp_path / "row.csv", r"line 3: 1,000,000 columns, more than the limit")
    (tmp_path / "quoted.tsv").write_text("a\tb\n" + "\t".join(['"1"'] * 1_000_000) + "\n")
    _refused_fast(tmp_path / "quoted.tsv", r"line 2: 1000000 fields, but the header has 2")
    (tmp_path / "wide.jsonl").write_text(
        '{"a": 1}\n' + json.dumps({str(i): 0 for i in range(1_000_000)}) + "\n"
    )
    _refused_fast(tmp_path / "wide.jsonl", r"line 2: 1,000,000 columns, more than the limit")


def test_nested_keys_do_not_count_as_columns(tmp_path: Path) -> None:
    settings = json.dumps({f"k{i}": "a:b" for i in range(1_500)})
    p = tmp_path / "n.jsonl"
    p.write_text(f'{{"id": "1", "settings": {settings}}}\n')
    assert json.loads(read_table(p)["settings"].iloc[0])["k7"] == "a:b"


def test_line_and_field_limits(tmp_path: Path) -> None:
    small = Limits(columns=5, line_chars=100, field_chars=50)
    p = tmp_path / "long.csv"
    p.write_text("a,b\n1," + "x" * 200 + "\n")
    _refused_fast(p, r"long.csv, line 2: longer than 100 characters", limits=small)
    q = tmp_path / "field.csv"
    q.write_text('a,b\n1,"' + "x\n" * 40 + '"\n')
    _refused_fast(q, r"field.csv, line 2: a field longer than 50 characters", limits=small)
    j = tmp_path / "field.jsonl"
    j.write_text(json.dumps({"a": "x" * 60}) + "\n")
    _refused_fast(j, r"line 1, column 'a': a value longer than 50 characters", limits=small)
    u = tmp_path / "unclosed.csv"
    u.write_text('a,b\n1,"open\n2,3\n')
    _refused_fast(u, r"unclosed.csv, line 2: a quoted field opened on this line does not close")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("d.csv", "id,text,id\n1,a,2\n", r"line 1: duplicate column name\(s\) 'id'"),
        ("s.csv", "id, id \n1,2\n", r"duplicate column name\(s\) 'id'"),
        ("e.csv", ",id\n0,1\n", r"line 1: column 1 has no name"),
        ("d.jsonl", '{"id": 1}\n{"id": 1, "id": 2}\n', r"line 2: the key 'id' appears twice"),
        ("s.jsonl", '{"id": 1, " id": 2}\n', r"line 1: duplicate column name 'id'"),
        ("d.json", '[{"id": 1},\n{"x": 1, "x": 2}]', r"line 2: the key 'x' appears twice"),
        ("more.csv", "a,b\n1,2\n1,2,3\n", r"line 3: 3 fields, but the header has 2"),
        ("bad.jsonl", '{"a": 1}\n{"a": \n', r"bad.jsonl, line 2: malformed JSON"),
        ("list.jsonl", "[1, 2]\n", r"line 1: expected a JSON object .*got an array"),
        ("arr.json", '[{"a": 1},\n 2]', r"arr.json, line 2: expected a JSON object"),
        ("open.json", '[{"a": 1},\n{"a": 2}', r"open.json, line 2: malformed JSON"),
        ("tail.json", '[{"a": 1}]\n[]', r"tail.json, line 2: text after the end"),
    ],
)
def test_malformed_tables(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match=message):
        read_table(tmp_path / name)


def test_duplicate_parquet_columns(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array(["1"]), pa.array(["2"])], names=["id", "id"])
    pq.write_table(table, tmp_path / "d.parquet")
    with pytest.raises(InputError, match=r"duplicate column name\(s\) 'id'"):
        read_table(tmp_path / "d.parquet")


@pytest.mark.parametrize("value", ["true", '{"a": 1}', "[1, 2]"])
def test_ids_must_be_text_or_numbers(tmp_path: Path, value: str) -> None:
    p = tmp_path / "ids.jsonl"
    p.write_text(f'{{"id": "1", "other": {value}}}\n{{"id": {value}, "other": 1}}\n')
    with pytest.raises(InputError, match=r"ids.jsonl, line 2, column 'id': .* is not an id"):
        read_table(p, keys=["id"])
    assert read_table(p)["other"].iloc[0] == read_table(p)["id"].iloc[1]  # else: JSON text


def test_parquet_types_decoded_explicitly(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "raw": pa.array(["安全".encode(), b"x"], pa.binary()),
            "tags": pa.array([[1, 2], None], pa.list_(pa.int64())),
            "when": pa.array([1_700_000_000_000, None], pa.timestamp("ms", tz="UTC")),
            "flag": pa.array([True, False]),
            "cat": pa.array(["a", "b"]).dictionary_encode(),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    got = read_table(tmp_path / "t.parquet")
    assert got.to_dict("list") == {
        "id": ["1", "2"],
        "raw": ["安全", "x"],  # binary decoded with --encoding, not "b'...'"
        "tags": ["[1, 2]", ""],  # a list as JSON text, as from JSON; not "[1 2]"
        "when": ["2023-11-14T22:13:20+00:00", ""],
        "flag": ["1", "0"],
        "cat": ["a", "b"],
    }
    for key in ("tags", "flag", "raw"):
        with pytest.raises(InputError, match=rf"column '{key}': Parquet type .* cannot hold an id"):
            read_table(tmp_path / "t.parquet", keys=[key])
    pq.write_table(pa.table({"raw": pa.array([b"\xff"], pa.binary())}), tmp_path / "b.parquet")
    with pytest.raises(InputError, match=r"line 2, column 'raw': binary value not valid utf-8"):
        read_table(tmp_path / "b.parquet")
    assert read_table(tmp_path / "b.parquet", encoding="latin-1")["raw"].tolist() == ["ÿ"]


def test_not_a_parquet_file(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_text("id,text\n1,a\n")
    with pytest.raises(InputError, match="x.parquet: not a readable Parquet file"):
        read_table(tmp_path / "x.parquet")
