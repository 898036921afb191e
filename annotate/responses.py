"""``safecal ingest responses``: model responses into the workspace, checked.

One row per (item id, target model, language ``en`` | ``zh``, response text),
plus optional ``settings`` (generation settings, a JSON object) and
``timestamp``; other columns are kept as JSON in ``extra``. The item id column
may be called ``item_id`` or ``id``. A response's id is derived from
(item id, model, language), so it is stable across re-ingests.

Built for size (10^6 rows): the file is read in chunks into a temporary staging
table, and every check that spans rows (duplicates, unknown items, changed
content) is one SQL query over it. One ingest is one transaction.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from annotate.errors import InputError
from annotate.ingest_report import IngestReport, Problems, listing
from annotate.labels import LANGUAGES
from annotate.readers import apply_mapping, iter_table
from annotate.workspace import Workspace

REQUIRED = ("item_id", "model", "language", "response")
OPTIONAL = ("settings", "timestamp")
CHUNK_ROWS = 100_000


def response_id(item_id: str, model: str, language: str) -> str:
    """Stable id of a response: the first 16 hex digits of SHA-1 over its key."""
    return hashlib.sha1(f"{item_id}\x1f{model}\x1f{language}".encode()).hexdigest()[:16]


def ingest_responses(
    ws: Workspace,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    encoding: str = "utf-8",
    replace: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestReport:
    """Check and store the responses of ``path``. Raises :class:`InputError` and writes
    nothing on bad input (unknown items, duplicates, bad languages, changed content)."""
    path = Path(path)
    report = IngestReport(file=str(path), kind="responses")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        con.execute(
            """CREATE TEMP TABLE staging (
                   row INTEGER, response_id TEXT, item_id TEXT, model TEXT, language TEXT,
                   response TEXT, settings TEXT, timestamp TEXT, extra TEXT, content_hash TEXT)"""
        )
        try:
            for first, chunk in iter_table(path, encoding=encoding, chunksize=chunk_rows):
                rows = _prepare(chunk, first, path=path, mapping=mapping or {})
                con.executemany("INSERT INTO staging VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
                report.rows += len(rows)
            if report.rows == 0:
                raise InputError(f"{path}: the header is there but there are no data rows")
            _check_staging(con, path)
            _merge(con, report, replace=replace, source=str(path), now=now)
        finally:
            con.execute("DROP TABLE IF EXISTS temp.staging")
    return report


def _prepare(
    chunk: pd.DataFrame, first: int, *, path: Path, mapping: dict[str, str]
) -> list[tuple]:
    if "item_id" not in chunk.columns and "item_id" not in mapping and "id" in chunk.columns:
        mapping = {**mapping, "item_id": "id"}
    chunk = apply_mapping(chunk, mapping, path=path)
    missing = [c for c in REQUIRED if c not in chunk.columns]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)}; the file has "
            f"{', '.join(map(str, chunk.columns))}; map yours with --map FIELD=COLUMN"
        )
    for column in ("item_id", "model", "language", "settings", "timestamp"):
        if column in chunk.columns:
            chunk[column] = chunk[column].str.strip()
    problems = Problems(path)
    rows = pd.RangeIndex(first, first + len(chunk))
    for column in ("item_id", "model"):
        empty = (chunk[column] == "").to_numpy()
        problems.add(
            f"field {column} is empty", [f"row {r}" for r in rows[empty]], int(empty.sum())
        )
    language = chunk["language"].str.lower()
    bad = (~language.isin(LANGUAGES)).to_numpy()
    problems.add(
        f"field language must be one of {', '.join(LANGUAGES)}",
        [f"row {r}: {v!r}" for r, v in zip(rows[bad], chunk["language"][bad], strict=True)],
        int(bad.sum()),
    )
    settings = chunk["settings"] if "settings" in chunk.columns else pd.Series([""] * len(chunk))
    bad_settings = []
    for r, value in zip(rows, settings, strict=True):
        if value and not _is_json_object(value):
            bad_settings.append(f"row {r}: {value[:40]!r}")
    problems.add(
        "field settings must be a JSON object (generation settings)",
        bad_settings,
        len(bad_settings),
    )
    problems.raise_if_any()

    extra_columns = [c for c in chunk.columns if c not in REQUIRED + OPTIONAL]
    extras = (
        [
            json.dumps(
                {c: v for c, v in rec.items() if v != ""}, ensure_ascii=False, sort_keys=True
            )
            for rec in chunk[extra_columns].to_dict("records")
        ]
        if extra_columns
        else [None] * len(chunk)
    )
    timestamps = chunk["timestamp"] if "timestamp" in chunk.columns else [""] * len(chunk)
    out = []
    for r, item, model, lang, text, sett, ts, extra in zip(
        rows,
        chunk["item_id"],
        chunk["model"],
        language,
        chunk["response"],
        settings,
        timestamps,
        extras,
        strict=True,
    ):
        sett = sett or None
        ts = ts or None
        digest = hashlib.sha1(
            "\x1f".join((text, sett or "", ts or "", extra or "")).encode()
        ).hexdigest()
        out.append(
            (
                int(r),
                response_id(item, model, lang),
                item,
                model,
                lang,
                text,
                sett,
                ts,
                extra,
                digest,
            )
        )
    return out


def _is_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(value), dict)
    except json.JSONDecodeError:
        return False


def _check_staging(con, path: Path) -> None:
    problems = Problems(path)
    dups = con.execute(
        """SELECT item_id, model, language, group_concat(row, ', '), count(*) FROM staging
           GROUP BY response_id HAVING count(*) > 1 ORDER BY min(row)"""
    ).fetchall()
    problems.add(
        "duplicate (item_id, model, language); each response must appear once",
        [f"({i!r}, {m!r}, {lang}) at rows {rows}" for i, m, lang, rows, _ in dups[:10]],
        len(dups),
    )
    unknown = con.execute(
        """SELECT item_id, min(row), count(*) FROM staging
           WHERE item_id NOT IN (SELECT item_id FROM items)
           GROUP BY item_id ORDER BY min(row)"""
    ).fetchall()
    problems.add(
        "responses to item ids not in the workspace; ingest the items first "
        "(`safecal ingest items`) or fix the ids",
        [
            f"item {i!r} (first at row {r}, {n} response{'s' if n != 1 else ''})"
            for i, r, n in unknown[:10]
        ],
        len(unknown),
    )
    problems.raise_if_any()


def _merge(con, report: IngestReport, *, replace: bool, source: str, now: str) -> None:
    changed = con.execute(
        """SELECT s.item_id, s.model, s.language, s.row FROM staging s
           JOIN responses r ON r.response_id = s.response_id
           WHERE r.content_hash != s.content_hash ORDER BY s.row"""
    ).fetchall()
    if changed and not replace:
        raise InputError(
            f"{report.file}: nothing was ingested. {len(changed)} response(s) already in the "
            "workspace with different content: "
            + listing(
                [f"({i!r}, {m!r}, {lang}) at row {r}" for i, m, lang, r in changed[:10]],
                total=len(changed),
            )
            + ". Pass --replace to overwrite them"
        )
    report.added = con.execute(
        """INSERT INTO responses (response_id, item_id, model, language, response, settings,
                                  timestamp, extra, source, content_hash, ingested_at)
           SELECT response_id, item_id, model, language, response, settings, timestamp, extra,
                  ?, content_hash, ? FROM staging s
           WHERE NOT EXISTS (SELECT 1 FROM responses r WHERE r.response_id = s.response_id)""",
        (source, now),
    ).rowcount
    if changed:
        report.replaced = con.execute(
            """UPDATE responses SET response = s.response, settings = s.settings,
                      timestamp = s.timestamp, extra = s.extra, source = ?,
                      content_hash = s.content_hash, ingested_at = ?
               FROM staging s WHERE responses.response_id = s.response_id
                 AND responses.content_hash != s.content_hash""",
            (source, now),
        ).rowcount
    report.unchanged = report.rows - report.added - report.replaced
