"""Load an existing long table of human labels, and honeypot labels, into the workspace.

Human labels (``safecal annotate import FILE``): columns ``item_id, model, language,
annotator, field, label``; optional ``lead_time, created_at``. Response fields
(``harmfulness``, ``refusal``) are matched to the workspace's responses by
(item_id, model, language); item-level query-quality fields need only ``item_id``
(leave model and language empty). Every row is checked before anything is written:
an unknown response or item, an unknown field or a label outside the field's scale is
an ``InputError`` naming the file, line and value. Importing the same file again
replaces the same rows (idempotent).

Honeypots (``safecal annotate honeypots FILE``): ``item_id, model, language, field,
label`` (for instance the example's ``truth.csv``), written to ``honeypots``.

Both read the file with :mod:`annotate.readers` (any format it reads, ``--encoding``,
messages naming the file's line numbers); every value is stripped of surrounding spaces,
fields, languages and labels are taken in any case (:func:`annotate.labels.canonical`),
and ``created_at`` is stored as the text given (an integer is not read as a 1970 date).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import LANGUAGES, SCALES, canonical, canonical_values
from safecal.annotate.labelstudio.configs import QUERY_QUALITY_CHOICES, QUERY_QUALITY_FIELDS
from safecal.annotate.readers import read_table
from safecal.annotate.store import Workspace, catalog
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import samples as sample_rows
from safecal.annotate.taxonomy import load_taxonomy

REQUIRED = ("item_id", "model", "language", "annotator", "field", "label")


def _read(path: Path, *, encoding: str) -> pd.DataFrame:
    """The table, every value stripped; a header without rows is refused (nothing to load)."""
    df = read_table(path, encoding=encoding, keys=REQUIRED[:-1])  # ids: all but the label
    if df.empty:
        raise InputError(f"{path}: the header is there but there are no data rows")
    return _canonical(df.apply(lambda col: col.str.strip()))


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Fields, languages and labels in their vocabulary's spelling, whatever their case
    (:func:`annotate.labels.canonical`: ``Harmfulness``, ``EN``, ``Unsafe``); a value
    outside the vocabulary is kept as given, for the check that names its line."""
    fields = [*SCALES, *QUERY_QUALITY_FIELDS]
    if "field" in df.columns:
        known = canonical_values(df["field"], fields)
        df["field"] = [known[v] or v for v in df["field"]]
    if "language" in df.columns:
        known = canonical_values(df["language"], LANGUAGES)
        df["language"] = [known[v] or v if v else v for v in df["language"]]
    if "label" in df.columns and "field" in df.columns:
        df["label"] = [
            canonical(label, SCALES.get(f) or QUERY_QUALITY_CHOICES.get(f) or ()) or label
            for f, label in zip(df["field"], df["label"], strict=True)
        ]
    return df


def _line(i: int, path: Path, df: pd.DataFrame) -> str:
    """Where the ``i``-th row is: the file's line number (the reader's index)."""
    return f"{path}, line {df.index[i]}"


def _match_responses(
    ws: Workspace, df: pd.DataFrame, path: Path, *, item_level: pd.Series
) -> pd.Series:
    resp = catalog.response_keys(ws)
    key = dict(
        zip(
            zip(resp["item_id"], resp["model"], resp["language"], strict=True),
            resp["response_id"],
            strict=True,
        )
    )
    items = catalog.item_ids(ws)
    out: list[str | None] = []
    for i, r in enumerate(df.itertuples()):
        if item_level.iloc[i]:
            if r.item_id not in items:
                raise InputError(
                    f"{_line(i, path, df)}: item_id {r.item_id!r} is not in the "
                    "workspace; ingest the items first"
                )
            out.append(None)
            continue
        rid = key.get((r.item_id, r.model, r.language))
        if rid is None:
            raise InputError(
                f"{_line(i, path, df)}: no response for item_id={r.item_id!r}, model={r.model!r}, "
                f"language={r.language!r} in the workspace; ingest the responses first or fix "
                "the row"
            )
        out.append(rid)
    return pd.Series(out, index=df.index, dtype=object)


def _check_labels(df: pd.DataFrame, path: Path) -> None:
    fields = set(SCALES) | set(QUERY_QUALITY_FIELDS)
    categories = tuple(sorted(load_taxonomy().level3))
    for i, r in enumerate(df.itertuples()):
        if r.field not in fields:
            raise InputError(
                f"{_line(i, path, df)}: field {r.field!r} is unknown; expected one "
                f"of {', '.join(sorted(fields))}"
            )
        allowed = (
            SCALES.get(r.field)
            or QUERY_QUALITY_CHOICES.get(r.field)
            or (categories if r.field == "category" else None)
        )
        if allowed and r.label not in allowed:
            raise InputError(
                f"{_line(i, path, df)}: label {r.label!r} is not a {r.field} label; "
                f"expected one of {', '.join(allowed)}"
            )
        if not r.label:
            raise InputError(f"{_line(i, path, df)}: empty label")


def _check_one_label_each(df: pd.DataFrame, path: Path) -> None:
    """One label per (unit, annotator, field) in a file: a second one, even if equal,
    is refused naming both lines, since which of two contradictory labels is meant
    cannot be guessed (the workspace keeps one label per key too)."""
    key = pd.DataFrame(
        {
            "item": df["item_id"].astype(str).to_numpy(),
            "response": df["response_id"].fillna("").astype(str).to_numpy(),
            "annotator": df["annotator"].astype(str).to_numpy(),
            "field": df["field"].astype(str).to_numpy(),
        }
    )  # positions 0..n-1; df.index holds the file's line numbers
    twice = key.duplicated(keep=False).to_numpy()
    if not twice.any():
        return
    groups = key[twice].groupby(list(key.columns), sort=False).indices
    shown = []
    for (item, _, annotator, field), rows in list(groups.items())[:3]:
        where = "lines " + " and ".join(str(df.index[int(i)]) for i in key.index[twice][rows])
        labels = ", ".join(repr(df["label"].iloc[int(i)]) for i in key.index[twice][rows])
        shown.append(f"{where}: {annotator} labels {field} of item {item} twice ({labels})")
    more = f" (and {len(groups) - 3} more)" if len(groups) > 3 else ""
    raise InputError(
        f"{path}: {'; '.join(shown)}{more}; keep one label per unit, annotator and field"
    )


def import_labels(ws: Workspace, path: str | Path, *, encoding: str = "utf-8") -> int:
    """Validate and load a long table of human labels; returns the rows stored."""
    path = Path(path)
    return import_label_table(ws, read_labels(path, encoding=encoding), source=path)


def read_labels(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """A human-label file as :func:`import_labels` reads it (every value a stripped
    string, indexed by the file's line numbers), for callers that load part of it."""
    return _read(Path(path), encoding=encoding)


def import_label_table(ws: Workspace, df: pd.DataFrame, *, source: str | Path) -> int:
    """:func:`import_labels` of rows of a :func:`read_labels` table (``source``: the
    file, named in the messages). Returns the rows stored."""
    path = Path(source)
    df = df.copy()
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; a human-label "
            f"table needs {', '.join(REQUIRED)}"
        )
    empty = df["annotator"] == ""
    if empty.any():
        raise InputError(f"{_line(int(empty.to_numpy().argmax()), path, df)}: empty annotator")
    _check_labels(df, path)
    item_level = df["field"].isin(QUERY_QUALITY_FIELDS)
    df["response_id"] = _match_responses(ws, df, path, item_level=item_level)
    _check_one_label_each(df, path)
    lead = pd.to_numeric(df["lead_time"], errors="coerce") if "lead_time" in df else None
    created = df["created_at"] if "created_at" in df else None
    rows = []
    for i, r in enumerate(df.itertuples()):
        lt = None if lead is None or pd.isna(lead.iloc[i]) else float(lead.iloc[i])
        ca = None if created is None or not created.iloc[i] else str(created.iloc[i])
        rows.append((r.item_id, r.response_id, r.annotator, r.field, r.label, lt, ca))
    with ws.transaction() as con:  # a re-import replaces each key's label
        label_rows.delete_annotations(con, keys=[r[:4] for r in rows])
        label_rows.insert_annotations(con, rows=[(*r, None, None, None, None) for r in rows])
    return len(rows)


def import_honeypots(
    ws: Workspace,
    path: str | Path,
    *,
    n: int | None = None,
    exclude_sample: str | None = None,
    seed: int = 0,
    encoding: str = "utf-8",
) -> int:
    """Load known labels (``item_id, model, language, field, label``) as honeypots.

    ``n``: keep only ``n`` rows drawn at random (``seed``); ``exclude_sample``: skip the
    responses of that sample (a honeypot should not be one of the sampled units)."""
    path = Path(path)
    df = _read(path, encoding=encoding)
    missing = [c for c in ("item_id", "model", "language", "field", "label") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = ~df["field"].isin(list(SCALES))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise InputError(
            f"{_line(i, path, df)}: honeypots label response fields only "
            f"({', '.join(SCALES)}), not {df['field'].iloc[i]!r}"
        )
    _check_labels(df, path)
    df["response_id"] = _match_responses(ws, df, path, item_level=pd.Series(False, df.index))
    if exclude_sample:
        taken = sample_rows.sampled_responses(ws, sample_id=exclude_sample)["response_id"]
        df = df[~df["response_id"].isin(set(taken))]
    if n is not None and n < len(df):
        df = df.sample(n=n, random_state=seed).sort_index()
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        label_rows.upsert_honeypots(
            con,
            rows=[(r.response_id, r.field, r.label, f"{path.name} {now}") for r in df.itertuples()],
        )
    return len(df)
