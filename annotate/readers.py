"""Read a user's table (CSV, JSONL or Parquet) as text columns, with errors that say where.

Every value comes back as a string (missing values as ``""``), so the ingest
rules decide what a value means, not the file reader's type guessing. Large
files are read in chunks: :func:`iter_table` yields ``(first_row, DataFrame)``
where ``first_row`` is the 1-based data-row number of the chunk's first row
(the header is not counted; for JSONL the row number is the line number).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from safecal.annotate.errors import InputError

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def table_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file name's suffix."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown file type {path.suffix!r}; use .csv, .jsonl or .parquet")
    return fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a header row and data rows")


def _not_utf8(path: Path, encoding: str) -> InputError:
    """Name the first line that does not decode (found by reading the raw bytes again)."""
    where = ""
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    bad = raw[exc.start : exc.start + 1]
                    where = f" at line {lineno}, column {exc.start + 1} (byte {bad!r})"
                    break
    except (OSError, LookupError):
        pass
    return InputError(
        f"{path}: not valid {encoding}{where}; if the file uses another encoding, pass "
        "--encoding (e.g. --encoding gb18030 or --encoding latin-1)"
    )


def iter_table(
    path: str | Path, *, encoding: str = "utf-8", chunksize: int | None = None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(first_row, chunk)`` with every column as ``str`` (missing -> ``""``)."""
    path = Path(path)
    fmt = table_format(path)
    _check_file(path)
    if fmt == "csv":
        yield from _iter_csv(path, encoding, chunksize)
    elif fmt == "jsonl":
        yield from _iter_jsonl(path, encoding, chunksize)
    else:
        yield from _iter_parquet(path, chunksize)


def read_table(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """The whole table at once (see :func:`iter_table`)."""
    chunks = [chunk for _, chunk in iter_table(path, encoding=encoding)]
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _iter_csv(
    path: Path, encoding: str, chunksize: int | None
) -> Iterator[tuple[int, pd.DataFrame]]:
    try:
        reader = pd.read_csv(
            path,
            dtype=object,  # plain Python str: iterating arrow-backed strings is 10x slower
            keep_default_na=False,
            encoding=encoding,
            chunksize=chunksize,
            encoding_errors="strict",
        )
        if chunksize is None:
            reader = iter([reader])
        first = 1
        for chunk in reader:
            if first == 1 and len(chunk.columns) == 0:
                raise InputError(f"{path}: no header row")
            chunk.columns = [str(c).strip() for c in chunk.columns]
            yield first, chunk
            first += len(chunk)
    except UnicodeDecodeError:
        raise _not_utf8(path, encoding) from None
    except LookupError:
        raise InputError(f"--encoding {encoding!r}: unknown encoding") from None
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: the file is empty; expected a header row and data rows"
        ) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: malformed CSV ({exc}); fix the quoting or field count") from None


def _iter_jsonl(
    path: Path, encoding: str, chunksize: int | None
) -> Iterator[tuple[int, pd.DataFrame]]:
    rows: list[dict[str, object]] = []
    first = 1
    try:
        with path.open(encoding=encoding, errors="strict") as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"{path}, line {lineno}: malformed JSON ({exc.msg} at column {exc.colno}); "
                        "each line must be one JSON object"
                    ) from None
                if not isinstance(record, dict):
                    raise InputError(
                        f"{path}, line {lineno}: expected a JSON object, "
                        f"got {type(record).__name__}"
                    )
                if not rows:
                    first = lineno
                rows.append(record)
                if chunksize and len(rows) >= chunksize:
                    yield first, _records_frame(rows, first_line=first)
                    rows = []
    except UnicodeDecodeError:
        raise _not_utf8(path, encoding) from None
    except LookupError:
        raise InputError(f"--encoding {encoding!r}: unknown encoding") from None
    if rows or first == 1:
        if not rows:
            raise InputError(f"{path}: no JSON lines in the file")
        yield first, _records_frame(rows, first_line=first)


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _records_frame(rows: list[dict[str, object]], *, first_line: int) -> pd.DataFrame:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    data = {c: [_as_text(row.get(c)) for row in rows] for c in columns}
    return pd.DataFrame(data, dtype=object)


def _iter_parquet(path: Path, chunksize: int | None) -> Iterator[tuple[int, pd.DataFrame]]:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    first = 1
    for batch in parquet.iter_batches(batch_size=chunksize or 1_000_000):
        frame = batch.to_pandas()
        out = pd.DataFrame(
            {str(c): [_as_text(v) for v in frame[c].tolist()] for c in frame.columns},
            dtype=object,
        )
        yield first, out
        first += len(out)
    if first == 1:
        raise InputError(f"{path}: the Parquet file has no rows")


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["field=column", ...]`` from ``--map`` into ``{field: column}``."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError(f"--map {pair!r}: expected FIELD=COLUMN, e.g. --map text=prompt")
        mapping[field.strip()] = column.strip()
    return mapping


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
