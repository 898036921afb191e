"""The one reader of a user's table: every safecal command that reads a user's file uses it.

Each behaviour is decided here, once, so that the same table gives the same frame whichever
command reads it and whichever format it comes in.

Formats, by the file name's suffix:

* ``.csv`` comma-separated, ``.tsv`` tab-separated; the header is line 1.
* ``.jsonl`` / ``.ndjson``: one JSON object per line.
* ``.json``: a JSON array of objects (``[{...}, {...}]``), read whole (for big tables use
  JSON lines, which stream); a ``.json`` file whose first character is not ``[`` is read
  as JSON lines.
* ``.parquet`` / ``.pq``: Parquet.

What comes back (:func:`read_table`, or chunk by chunk from :func:`iter_table`):

* Every value is text (``object`` columns of ``str``); nothing is type-guessed, so ``007``
  stays ``007`` and the rules that consume a column decide what it means. JSON numbers
  become their shortest text (``1.0`` -> ``"1"``), ``true``/``false`` -> ``"1"``/``"0"``,
  objects and arrays -> JSON text (keys sorted). Parquet strings as they are, binary
  columns decoded with ``encoding``, dates and timestamps as ISO 8601 text, lists and
  structs as JSON text like JSON's.
* A missing value is ``""``: an empty CSV cell, a JSON ``null`` or absent key, a Parquet
  null or NaN. CSV cannot tell missing from empty, so no format does. (calibrate's
  statistics count a missing label as NA: they convert ``""`` once, with
  :func:`safecal.calibrate.io.blank_as_missing`.)
* Times are never guessed: an integer in a ``timestamp`` or ``created_at`` column stays that
  integer's text; it is not turned into a 1970 date.
* Column names are stripped of surrounding spaces; values are not (a response's spaces are
  its content). Blank lines (nothing but separators and spaces) are skipped; a CSV row with
  fewer fields than the header gets ``""`` for the rest.
* The index, named ``line``, is the file's line number where each row starts, the number
  an editor shows: the CSV header is line 1, so the first data row is line 2; the first
  JSON line is line 1; a JSON array row is the line of its ``{``. Parquet has no lines: its
  row N is "line N + 1", the line it would have as CSV. Messages say "line N".

Refused, with an :class:`InputError` naming the file (and the line, column and option
where there is one) and what to do; nothing is read past the problem:

* a path that does not exist, a folder, or a FIFO, socket or device (checked before
  opening, so a FIFO never blocks); an empty file; an unknown suffix;
* a byte that does not decode with ``encoding`` (``--encoding``; UTF-8 by default, a UTF-8
  byte-order mark is dropped), an unknown encoding, a lone surrogate in a JSON string
  (``"\\ud800"``: half a character, which no database can store);
* more than :attr:`Limits.columns` columns, a physical line longer than
  :attr:`Limits.line_chars` characters, a field longer than :attr:`Limits.field_chars`:
  checked while streaming, before the row is built, so a line with a million columns is
  refused in well under a second instead of filling memory;
* a CSV row with more fields than the header, a quote that does not close; malformed
  JSON; a JSON line or array element that is not an object;
* duplicate column names (also after stripping spaces, and a key twice in one JSON
  object) and empty column names: a second ``id`` is never silently renamed or dropped;
* in the ``keys`` columns (ids, which the caller names): ``true``/``false``, objects,
  arrays, Parquet booleans, lists and structs: an id is text or a number.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import os
import re
import stat
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from safecal.annotate.errors import InputError

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
CHUNK_ROWS = 100_000
ENCODING_ADVICE = (
    "if the file uses another encoding, pass --encoding (e.g. --encoding gb18030 or "
    "--encoding latin-1)"
)


@dataclass(frozen=True)
class Limits:
    """Bounds on a user's table, checked before memory grows (a table past them is refused).

    Generous for real tables (USB-SafeBench has 11 columns; long model answers are tens of
    kilobytes), and small enough that a broken or hostile file cannot take minutes and
    gigabytes before it is refused."""

    columns: int = 1_000
    line_chars: int = 16 * 2**20
    field_chars: int = 4 * 2**20


LIMITS = Limits()


def table_format(path: Path) -> str:
    """``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet`` from the file name's suffix."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown table format {path.suffix!r}; use .csv, .tsv, .jsonl, .json "
            "or .parquet"
        )
    return fmt


def read_table(
    path: str | Path,
    *,
    encoding: str = "utf-8",
    keys: Collection[str] = (),
    limits: Limits = LIMITS,
) -> pd.DataFrame:
    """The whole table at once (see the module docstring and :func:`iter_table`)."""
    chunks = list(iter_table(path, encoding=encoding, keys=keys, limits=limits))
    if len(chunks) == 1:
        return chunks[0]
    return pd.concat(chunks).fillna("")  # a JSON key first seen in a later chunk


def iter_table(
    path: str | Path,
    *,
    encoding: str = "utf-8",
    chunksize: int | None = None,
    keys: Collection[str] = (),
    limits: Limits = LIMITS,
) -> Iterator[pd.DataFrame]:
    """Yield the table in frames of at most ``chunksize`` rows (all at once without it).

    Every frame's index holds the file line numbers of its rows; a table with a header and
    no rows yields one empty frame with the header's columns. ``keys``: column names whose
    values must be text or numbers (ids)."""
    path = Path(path)
    check_file(path)
    fmt = table_format(path)
    _check_encoding(encoding)
    rows = chunksize or 2**62
    keyset = frozenset(keys)
    if fmt in ("csv", "tsv"):
        yield from _iter_csv(path, encoding, rows, limits, delimiter="\t" if fmt == "tsv" else ",")
    elif fmt == "parquet":
        yield from _iter_parquet(path, encoding, rows, keyset, limits)
    else:
        yield from _iter_json(path, encoding, rows, keyset, limits, array=fmt == "json")


# -- checks shared by every format ----------------------------------------------------------


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f"--encoding {encoding!r}: unknown encoding; use a Python codec name such as "
            "utf-8, gb18030 or latin-1"
        ) from None


def check_file(path: Path) -> None:
    """Refuse what is not a regular, non-empty file before opening it (a FIFO would block)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; check the path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a folder; give a table file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{path}: not a regular file (a FIFO, socket or device); save the table to a "
            "file and give that"
        )
    if info.st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a header row and data rows")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: no permission to read the file")


def _undecodable(path: Path, encoding: str) -> InputError:
    """Name the first line that does not decode (the decoder reads ahead, so its own
    position does not say which line): read the raw bytes again, a bounded line at a time."""
    where = ""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        lineno = 0
        with path.open("rb") as fh:
            for lineno, raw in enumerate(iter(lambda: fh.readline(LIMITS.line_chars), b""), 1):
                try:
                    decoder.decode(raw)
                except UnicodeDecodeError as exc:
                    bad = raw[exc.start : exc.start + 1] if exc.start < len(raw) else b""
                    where = f" at line {lineno}, byte {exc.start + 1} ({bad!r})"
                    break
            else:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    where = f" at line {lineno} (a character cut off at the end of the file)"
    except OSError:
        pass
    return InputError(f"{path}: not valid {encoding}{where}; {ENCODING_ADVICE}")


def _lines(fh: TextIO, limits: Limits) -> Iterator[str]:
    """Physical lines (``\\n``, ``\\r\\n`` or ``\\r``), each cut at one past the line limit."""
    limit = limits.line_chars + 1
    first = True
    while line := fh.readline(limit):
        if first:
            line, first = line.removeprefix("\ufeff"), False
        yield line


def _too_long(path: Path, lineno: int, limits: Limits) -> InputError:
    return InputError(
        f"{path}, line {lineno}: longer than {limits.line_chars:,} characters (the limit "
        "for one line); is this a table file, with line breaks between rows?"
    )


def _too_wide(path: Path, lineno: int, n: int | str, limits: Limits) -> InputError:
    return InputError(
        f"{path}, line {lineno}: {n} columns, more than the limit of {limits.columns:,}; "
        "check the separator (.csv is comma-separated, .tsv tab-separated) or split the table"
    )


def _check_columns(path: Path, names: list[str], limits: Limits, *, lineno: int = 1) -> None:
    if len(names) > limits.columns:
        raise _too_wide(path, lineno, f"{len(names):,}", limits)
    empty = [i + 1 for i, name in enumerate(names) if not name]
    if empty:
        raise InputError(
            f"{path}, line {lineno}: column {empty[0]} has no name; name it or delete the "
            "column (a spreadsheet's or pandas' index column?)"
        )
    seen: set[str] = set()
    dups = [name for name in names if name in seen or seen.add(name)]  # type: ignore[func-returns-value]
    if dups:
        raise InputError(
            f"{path}, line {lineno}: duplicate column name(s) {', '.join(map(repr, dups))}; "
            "each column needs its own name (rename or delete the extra one)"
        )


def _frame(names: list[str], rows: list[list[str]], lines: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    frame.index = pd.Index(lines, name="line", dtype="int64")
    return frame


# -- CSV / TSV ------------------------------------------------------------------------------


def _iter_csv(
    path: Path, encoding: str, chunk_rows: int, limits: Limits, *, delimiter: str
) -> Iterator[pd.DataFrame]:
    previous = csv.field_size_limit()
    csv.field_size_limit(limits.field_chars)
    try:
        with path.open(encoding=encoding, errors="strict", newline="") as fh:
            yield from _csv_rows(path, fh, chunk_rows, limits, delimiter)
    except UnicodeDecodeError:
        raise _undecodable(path, encoding) from None
    finally:
        csv.field_size_limit(previous)


def _counted_lines(
    path: Path, fh: TextIO, limits: Limits, delimiter: str, count: list[int]
) -> Iterator[str]:
    """Physical lines for :mod:`csv`, counted (in ``count[0]``) and checked before the csv
    module sees them.

    The column count of a line outside quotes is exact and cheap (separators + 1), so a
    line of a million columns is refused before a row of a million strings is built.
    Whether a line starts inside a quoted field follows from the parity of the quotes
    before it (an escaped quote is two)."""
    limit = limits.line_chars + 1
    in_quotes = False
    line = fh.readline(limit).removeprefix("\ufeff")
    while line:
        count[0] += 1
        if len(line) > limits.line_chars and line[-1] not in "\r\n":
            raise _too_long(path, count[0], limits)
        quotes = line.count('"')
        if quotes:
            in_quotes = in_quotes != bool(quotes & 1)
        elif not in_quotes and line.count(delimiter) >= limits.columns:
            raise _too_wide(path, count[0], f"{line.count(delimiter) + 1:,}", limits)
        yield line
        line = fh.readline(limit)


def _csv_rows(
    path: Path, fh: TextIO, chunk_rows: int, limits: Limits, delimiter: str
) -> Iterator[pd.DataFrame]:
    count = [0]  # physical lines handed to the csv module so far
    reader = csv.reader(
        _counted_lines(path, fh, limits, delimiter, count), delimiter=delimiter, strict=True
    )
    names: list[str] | None = None
    rows: list[list[str]] = []
    starts: list[int] = []
    yielded = False
    end = 0  # the last line of the previous record
    try:
        for row in reader:
            start, end = end + 1, count[0]
            if not "".join(row).strip():
                continue  # a blank line
            if names is None:
                names = [cell.strip() for cell in row]
                _check_columns(path, names, limits, lineno=start)
                width = len(names)
                continue
            if len(row) != width:
                if len(row) > width:
                    raise InputError(
                        f"{path}, line {start}: {len(row)} fields, but the header has "
                        f"{width}; a separator inside a value needs quotes around the value"
                    )
                row += [""] * (width - len(row))
            rows.append(row)
            starts.append(start)
            if len(rows) >= chunk_rows:
                yield _frame(names, rows, starts)
                yielded, rows, starts = True, [], []
    except csv.Error as exc:
        start = end + 1
        if "field larger than field limit" in str(exc):
            raise InputError(
                f"{path}, line {start}: a field longer than {limits.field_chars:,} "
                'characters (the limit); an unclosed quote (") swallows the lines after '
                "it: check the quoting from this line on"
            ) from None
        if "unexpected end of data" in str(exc):
            raise InputError(
                f"{path}, line {start}: a quoted field opened on this line does not close "
                'before the end of the file; add the closing " (a " inside a quoted field '
                'is written "")'
            ) from None
        raise InputError(
            f"{path}, line {count[0]}: malformed CSV ({exc}); fix the quoting "
            '(a " inside a quoted field is written "")'
        ) from None
    if names is None:
        raise InputError(f"{path}: no header row (the file holds only blank lines)")
    if rows or not yielded:
        yield _frame(names, rows, starts)


# -- JSON lines and JSON arrays -------------------------------------------------------------

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SPACE = re.compile(r"[ \t\n\r]*")


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


class _Records:
    """JSON objects -> frames of text, with the checks every JSON format shares."""

    def __init__(self, path: Path, keys: frozenset[str], limits: Limits) -> None:
        self.path, self.keys, self.limits = path, keys, limits
        self.columns: dict[str, None] = {}
        self.rows: list[dict[str, str]] = []
        self.lines: list[int] = []

    def add(self, record: object, lineno: int, *, surrogates: bool = True) -> None:
        where = f"{self.path}, line {lineno}"
        if not isinstance(record, dict):
            raise InputError(
                f'{where}: expected a JSON object ({{"column": value, ...}}), got '
                f"{_json_type(record)}"
            )
        if len(record) > self.limits.columns:
            raise _too_wide(self.path, lineno, f"{len(record):,}", self.limits)
        row: dict[str, str] = {}
        for raw_name, value in record.items():
            name = raw_name.strip()
            if not name:
                raise InputError(f'{where}: a key with no name (""); name the column')
            if name in row:
                raise InputError(
                    f"{where}: duplicate column name {name!r} (keys that differ only in "
                    "spaces); each column needs its own name"
                )
            if name in self.keys and (isinstance(value, (bool, dict, list))):
                raise InputError(
                    f"{where}, column {name!r}: {json.dumps(value)[:60]} is not an id; an id "
                    "is text or a number"
                )
            text = _as_text(value)
            if len(text) > self.limits.field_chars:
                raise InputError(
                    f"{where}, column {name!r}: a value longer than "
                    f"{self.limits.field_chars:,} characters (the limit)"
                )
            if surrogates:
                _check_surrogates(text, where, name)
            row[name] = text
        if surrogates:
            for name in row:
                _check_surrogates(name, where, name)
        for name in row:
            if name not in self.columns:
                self.columns[name] = None
                if len(self.columns) > self.limits.columns:
                    raise _too_wide(
                        self.path, lineno, f"more than {self.limits.columns:,}", self.limits
                    )
        self.rows.append(row)
        self.lines.append(lineno)

    def frame(self) -> pd.DataFrame:
        names = list(self.columns)
        data = [[row.get(c, "") for c in names] for row in self.rows]
        frame = _frame(names, data, self.lines)
        self.rows, self.lines = [], []
        return frame


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


def _check_surrogates(text: str, where: str, column: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{where}, column {column!r}: a lone surrogate ({text[exc.start]!r}, half of a "
            f"character) at character {exc.start + 1}; the text was probably written from "
            f"bytes decoded with the wrong encoding: export it again, or {ENCODING_ADVICE}"
        ) from None


def _iter_json(
    path: Path,
    encoding: str,
    chunk_rows: int,
    keys: frozenset[str],
    limits: Limits,
    *,
    array: bool,
) -> Iterator[pd.DataFrame]:
    records = _Records(path, keys, limits)
    try:
        with path.open(encoding=encoding, errors="strict") as fh:
            if array:
                text = fh.read(1024)
                if text.lstrip("\ufeff \t\r\n").startswith("["):
                    yield from _json_array(path, text + fh.read(), records, chunk_rows)
                    return
                fh.seek(0)
            yield from _json_lines(path, fh, records, chunk_rows)
    except UnicodeDecodeError:
        raise _undecodable(path, encoding) from None


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NESTED = re.compile(r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]")


def _top_level_keys(line: str) -> int:
    """The number of keys of the object on ``line`` without decoding it (decoding a million
    keys takes seconds and hundreds of megabytes): drop the strings, then the nested
    objects and arrays, and count the colons left. Malformed JSON gives some number; the
    decoder then reports the error."""
    if '\\"' in line:
        outside = _STRING.sub("", line)
    else:
        outside = "".join(line.split('"')[0::2])
    inner = outside.strip()[1:-1]
    for _ in range(100):
        shallower = _NESTED.sub("", inner)
        if shallower == inner:
            break
        inner = shallower
    return inner.count(":")


def _json_lines(
    path: Path, fh: TextIO, records: _Records, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    yielded = False
    for lineno, line in enumerate(_lines(fh, records.limits), start=1):
        if len(line) > records.limits.line_chars and not line.endswith(("\n", "\r")):
            raise _too_long(path, lineno, records.limits)
        if not line.strip():
            continue
        if line.count(":") > records.limits.columns:  # every key has a colon: a cheap bound
            width = _top_level_keys(line)
            if width > records.limits.columns:
                raise _too_wide(path, lineno, f"{width:,}", records.limits)
        try:
            record = _DECODER.decode(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}, line {lineno}: malformed JSON ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON object"
            ) from None
        except _DuplicateKey as exc:
            raise InputError(
                f"{path}, line {lineno}: the key {exc.args[0]!r} appears twice in one object; "
                "keep one"
            ) from None
        records.add(record, lineno, surrogates=bool(_SURROGATE_ESCAPE.search(line)))
        if len(records.rows) >= chunk_rows:
            yield records.frame()
            yielded = True
    if records.rows:
        yield records.frame()
    elif not yielded:
        raise InputError(f"{path}: no JSON lines in the file; expected one JSON object a line")


def _json_array(
    path: Path, text: str, records: _Records, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Decode the array element by element, to know the line each object starts on."""
    text = text.removeprefix("\ufeff")
    pos = _SPACE.match(text, 0).end() + 1  # type: ignore[union-attr]
    lineno, counted = 1, 0
    yielded = False

    def line_at(at: int) -> int:
        nonlocal lineno, counted
        lineno += text.count("\n", counted, at)
        counted = at
        return lineno

    pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    closed = pos < len(text) and text[pos] == "]"
    if closed:
        pos += 1
    while not closed:
        start = line_at(pos)
        try:
            record, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}, line {exc.lineno}: malformed JSON ({exc.msg} at column {exc.colno}); "
                "a .json file holds one array of objects"
            ) from None
        except _DuplicateKey as exc:
            raise InputError(
                f"{path}, line {start}: the key {exc.args[0]!r} appears twice in one object; "
                "keep one"
            ) from None
        records.add(record, start)
        if len(records.rows) >= chunk_rows:
            yield records.frame()
            yielded = True
        pos = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        elif pos < len(text) and text[pos] == "]":
            pos, closed = pos + 1, True
        else:
            raise InputError(
                f"{path}, line {line_at(min(pos, len(text)))}: malformed JSON (expected , or ] "
                "after an object); a .json file holds one array of objects"
            )
    pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    if pos < len(text):
        raise InputError(
            f"{path}, line {line_at(pos)}: text after the end of the JSON array; a .json file "
            "holds one array of objects"
        )
    if records.rows or not yielded:
        yield records.frame()


def _as_text(value: object) -> str:
    """One value as text, the same way for JSON and Parquet (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)
    return str(value)


def _json_default(value: object) -> object:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(type(value).__name__)


# -- Parquet --------------------------------------------------------------------------------


def _iter_parquet(
    path: Path, encoding: str, chunk_rows: int, keys: frozenset[str], limits: Limits
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    raw_names = list(schema.names)
    if len(raw_names) > limits.columns:
        raise _too_wide(path, 1, f"{len(raw_names):,}", limits)
    names = [str(n).strip() for n in raw_names]
    _check_columns(path, names, limits)
    for name, typ in zip(names, schema.types, strict=True):
        if pa.types.is_dictionary(typ):
            typ = typ.value_type
        nested = pa.types.is_nested(typ) or pa.types.is_boolean(typ)
        if name in keys and (nested or pa.types.is_binary(typ)):
            raise InputError(
                f"{path}, column {name!r}: Parquet type {typ} cannot hold an id; an id is text "
                "or an integer: convert the column"
            )
    line = 2
    yielded = False
    try:
        batches = parquet.iter_batches(batch_size=min(chunk_rows, 1_000_000))
        for batch in batches:
            columns = []
            for name, column in zip(names, batch.columns, strict=True):
                columns.append(_parquet_column(path, name, column, encoding, line, limits))
            lines = list(range(line, line + batch.num_rows))
            rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
            yield _frame(names, rows, lines)
            yielded = True
            line += batch.num_rows
    except InputError:
        raise
    except Exception as exc:  # a corrupt page shows only when read
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    if not yielded:
        yield _frame(names, [], [])


def _parquet_column(
    path: Path, name: str, column: Any, encoding: str, first_line: int, limits: Limits
) -> list[str]:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    values = column.to_pylist()
    if (
        pa.types.is_binary(column.type)
        or pa.types.is_large_binary(column.type)
        or (pa.types.is_fixed_size_binary(column.type))
    ):
        out = []
        for i, v in enumerate(values):
            try:
                out.append("" if v is None else v.decode(encoding))
            except UnicodeDecodeError:
                raise InputError(
                    f"{path}, line {first_line + i}, column {name!r}: binary value not valid "
                    f"{encoding}; {ENCODING_ADVICE}"
                ) from None
    else:
        out = [_as_text(v) for v in values]
    for i, text in enumerate(out):
        if len(text) > limits.field_chars:
            raise InputError(
                f"{path}, line {first_line + i}, column {name!r}: a value longer than "
                f"{limits.field_chars:,} characters (the limit)"
            )
    return out


# -- column mapping -------------------------------------------------------------------------


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["field=column", ...]`` from ``--map`` into ``{field: column}``."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError(f"--map {pair!r}: expected FIELD=COLUMN, e.g. --map text=prompt")
        mapping[field.strip()] = column.strip()
    return mapping


def mapped_keys(fields: Collection[str], mapping: Mapping[str, str]) -> list[str]:
    """The file's column names that hold the id ``fields`` under ``mapping`` (for ``keys``)."""
    return [mapping.get(f, f) for f in fields]


def apply_mapping(frame: pd.DataFrame, mapping: Mapping[str, str], *, path: Path) -> pd.DataFrame:
    """Rename mapped columns to their field names; a mapping naming a missing column fails."""
    missing = [
        f"{field}={column}" for field, column in mapping.items() if column not in frame.columns
    ]
    if missing:
        raise InputError(
            f"{path}: --map {', '.join(missing)} names a column the file does not have; "
            f"its columns are: {', '.join(map(str, frame.columns))}"
        )
    renamed = {column: field for field, column in mapping.items()}
    # a field mapped away from its own name must not collide with an unmapped column of that name
    dropped = [f for f in mapping if f in frame.columns and f not in renamed]
    return frame.drop(columns=dropped).rename(columns=renamed)
