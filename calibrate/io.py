"""Read a user's table (CSV, TSV, JSONL, JSON, Parquet) with clear errors.

Text files are decoded strictly with ``encoding`` (UTF-8 by default): a file in another
encoding fails with a message naming the byte and offering ``--encoding``, instead of
silently garbled labels. CSV/TSV cells are read as strings (labels ``1`` and ``1.0`` stay
comparable; numeric columns are converted where a number is needed).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from safecal.annotate.errors import InputError

TEXT_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        hint = (
            "pass --encoding with the file's encoding (e.g. --encoding latin-1 or --encoding gbk)"
        )
        raise InputError(
            f"{path}: not valid {encoding} text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); {hint}"
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}; use a Python codec name") from None
    return text.lstrip("\ufeff")


def read_table(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """A table from ``path``; format from the suffix (.csv .tsv .jsonl .json .parquet)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a table file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    kind = TEXT_FORMATS.get(suffix)
    if kind is None:
        raise InputError(
            f"{path}: unknown table format {suffix!r}; use .csv, .tsv, .jsonl, .json or .parquet"
        )
    text = _decode(path, encoding)
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    try:
        if kind in ("csv", "tsv"):
            return pd.read_csv(
                io.StringIO(text),
                sep="\t" if kind == "tsv" else ",",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
        if kind == "jsonl":
            rows = []
            for lineno, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}, line {lineno}: expected a JSON object per line")
                rows.append(row)
            return pd.DataFrame(rows)
        data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("rows", data.get("data", [data]))
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of objects")
        return pd.DataFrame(data)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: cannot parse as {kind.upper()} ({exc})") from None


def require_columns(
    table: pd.DataFrame,
    columns: Iterable[str | None],
    *,
    source: str = "the table",
    option: str | None = None,
) -> None:
    """Fail naming the first missing column and listing the available ones."""
    for col in columns:
        if col is not None and col not in table.columns:
            via = f" (from {option})" if option else ""
            raise InputError(
                f"{source}: no column {col!r}{via}; available columns: "
                f"{', '.join(map(str, table.columns))}"
            )
