"""``safecal ingest items``: benchmark items into the workspace, checked.

Reads USB-SafeBench's released CSV columns as they are (``id, text, text_zh,
open_url, usage, level1_category, level2_category, level3_category, img_risk,
text_risk, img_style``) or any table :mod:`annotate.readers` reads, with a column
mapping. Messages name the file's line numbers (the reader's index).
Derives the modality combination from the risk bits (:func:`annotate.labels.modality`)
and the aspect from ``usage`` (any case: ``Vulnerability`` is ``vulnerability``,
:func:`annotate.labels.canonical`). Images are checked (present, readable by Pillow,
inside the image folder) and copied into ``<workspace>/images`` under their
content hash, so two benchmarks' ``img/1.png`` never collide.

One ingest is one transaction: on any error nothing is written (images copied
by this ingest are removed again).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from PIL import Image, UnidentifiedImageError

from safecal.annotate.errors import InputError
from safecal.annotate.ingest_report import IngestReport, Problems, listing
from safecal.annotate.labels import ASPECTS, canonical_values, modality
from safecal.annotate.readers import apply_mapping, check_file, mapped_keys, read_table
from safecal.annotate.store import Workspace, catalog
from safecal.annotate.taxonomy import Taxonomy, load_taxonomy

ITEM_FIELDS = (
    "id",
    "text",
    "text_zh",
    "open_url",
    "usage",
    "level1_category",
    "level2_category",
    "level3_category",
    "img_risk",
    "text_risk",
    "img_style",
)
REQUIRED = ("id", "text", "open_url", "usage", "img_risk", "text_risk")
BITS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}
_HASHED = (
    "text",
    "text_zh",
    "open_url",
    "aspect",
    "level1_category",
    "level2_category",
    "level3_category",
    "img_risk",
    "text_risk",
    "img_style",
    "extra",
    "image_sha256",
)


@dataclass(frozen=True)
class _Image:
    sha256: str
    source: Path
    stored: str  # path under <workspace>/images


def ingest_items(
    ws: Workspace,
    path: str | Path,
    *,
    images: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str = "utf-8",
    taxonomy: str | Path | Taxonomy | None = None,
    allow_missing_images: bool = False,
    replace: bool = False,
) -> IngestReport:
    """Check and store the items of ``path``; images are looked up under ``images``
    (default: the file's folder). Raises :class:`InputError` and writes nothing on bad input."""
    path = Path(path)
    check_file(path)  # first: a wrong path is the problem, not the folder beside it
    image_root = Path(images) if images is not None else path.parent
    if not image_root.is_dir():
        raise InputError(f"--images {image_root}: not a folder; pass the unpacked image folder")
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy, encoding=encoding)

    mapping = mapping or {}
    table = read_table(path, encoding=encoding, keys=mapped_keys(["id"], mapping))
    frame = apply_mapping(table, mapping, path=path)
    frame = frame.apply(lambda col: col.str.strip())
    report = IngestReport(file=str(path), kind="items", rows=len(frame))
    if frame.empty:
        raise InputError(f"{path}: the header is there but there are no data rows")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)}; the file has "
            f"{', '.join(map(str, frame.columns))}; map yours with --map FIELD=COLUMN"
        )
    for optional in ITEM_FIELDS:
        if optional not in frame.columns:
            frame[optional] = ""

    _check_rows(frame, path)
    # any case of an aspect is that aspect (annotate.labels.fold)
    frame["usage"] = frame["usage"].map(canonical_values(frame["usage"], ASPECTS))
    report.warnings += _taxonomy_warnings(frame, tax)
    found, missing_images = _check_images(frame, image_root)
    if missing_images:
        message = (
            f"{len(missing_images)} image(s) missing or unreadable under {image_root}: "
            f"{listing(missing_images)}"
        )
        if not allow_missing_images:
            raise InputError(
                f"{path}: nothing was ingested. {message}. Fix the paths or --images, or pass "
                "--allow-missing-images to ingest those items without an image"
            )
        report.warnings.append(message)

    rows = _item_rows(frame, found, source=str(path))
    _store(ws, rows, found, report=report, replace=replace)
    return report


def _line_numbers(mask: pd.Series) -> list[int]:
    """The file line numbers of the rows in ``mask`` (the reader's index)."""
    return [int(i) for i in mask[mask].index]


def _check_rows(frame: pd.DataFrame, path: Path) -> None:
    problems = Problems(path)
    empty_id = frame["id"] == ""
    problems.add(
        "field id is empty", [f"line {r}" for r in _line_numbers(empty_id)], int(empty_id.sum())
    )
    dup = frame["id"].duplicated(keep=False) & ~empty_id
    if dup.any():
        groups = frame.index[dup].groupby(frame.loc[dup, "id"])
        examples = [f"id {k!r} at lines {', '.join(str(i) for i in v)}" for k, v in groups.items()]
        problems.add("duplicate ids; each id must appear once", examples, len(groups))
    empty_text = frame["text"] == ""
    problems.add(
        "field text is empty",
        [f"line {r}" for r in _line_numbers(empty_text)],
        int(empty_text.sum()),
    )
    usage = frame["usage"].map(canonical_values(frame["usage"], ASPECTS))
    bad_usage = usage.isna()
    problems.add(
        f"field usage must be one of {', '.join(ASPECTS)}",
        [f"line {r}: {frame.at[r, 'usage']!r}" for r in _line_numbers(bad_usage)],
        int(bad_usage.sum()),
    )
    for bit in ("img_risk", "text_risk"):
        bad = ~frame[bit].isin(BITS)
        problems.add(
            f"field {bit} must be 0 or 1",
            [f"line {r}: {frame.at[r, bit]!r}" for r in _line_numbers(bad)],
            int(bad.sum()),
        )
    problems.raise_if_any()


def _taxonomy_warnings(frame: pd.DataFrame, tax: Taxonomy) -> list[str]:
    warnings = []
    for level in (1, 2, 3):
        column = frame[f"level{level}_category"]
        unknown = column[(column != "") & ~column.isin(tax.level(level))]
        if len(unknown):
            names = sorted(unknown.unique())
            warnings.append(
                f"{len(unknown)} item(s) have a level-{level} category outside {tax.source}: "
                f"{listing([repr(n) for n in names])} (kept as they are; pass --taxonomy FILE "
                "for another taxonomy)"
            )
    return warnings


#: the largest image accepted, checked from the header before anything is decoded
#: (40 megapixels: far above a benchmark image, far below what exhausts memory)
MAX_IMAGE_PIXELS = 40_000_000


def _check_images(frame: pd.DataFrame, root: Path) -> tuple[dict[str, _Image], list[str]]:
    """Each row's image, hashed; and the rows whose image is missing or unreadable."""
    root = root.resolve()
    found: dict[str, _Image] = {}
    missing: list[str] = []
    for index, url in frame["open_url"].items():
        line = int(index)
        if not url:
            missing.append(f"line {line}: no open_url")
            continue
        candidate = (root / url).resolve()
        if not candidate.is_relative_to(root):
            missing.append(f"line {line}: {url!r} points outside the image folder")
            continue
        if not candidate.is_file():
            missing.append(f"line {line}: {url} not found")
            continue
        try:
            with Image.open(candidate) as img:  # reads the header only
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    missing.append(
                        f"line {line}: {url} is {width} x {height} pixels, more than the "
                        f"{MAX_IMAGE_PIXELS:,} safecal accepts (shrink it)"
                    )
                    continue
                img.verify()
            data = candidate.read_bytes()
        except Image.DecompressionBombError:
            missing.append(f"line {line}: {url} is too large to decode safely (shrink it)")
            continue
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            missing.append(f"line {line}: {url} unreadable ({type(exc).__name__})")
            continue
        digest = hashlib.sha256(data).hexdigest()
        suffix = candidate.suffix.lower() or ".img"
        found[str(index)] = _Image(digest, candidate, f"{digest[:2]}/{digest}{suffix}")
    return found, missing


def _item_rows(frame: pd.DataFrame, found: dict[str, _Image], *, source: str) -> list[dict]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    extra_columns = [c for c in frame.columns if c not in ITEM_FIELDS]
    rows = []
    for index, record in zip(frame.index, frame.to_dict("records"), strict=True):
        image = found.get(str(index))
        img_risk, text_risk = BITS[record["img_risk"]], BITS[record["text_risk"]]
        extra = {c: record[c] for c in extra_columns if record[c] != ""}
        row = {
            "item_id": record["id"],
            "text": record["text"],
            "text_zh": record["text_zh"] or None,
            "image": image.stored if image else None,
            "open_url": record["open_url"] or None,
            "aspect": record["usage"],
            "level1_category": record["level1_category"] or None,
            "level2_category": record["level2_category"] or None,
            "level3_category": record["level3_category"] or None,
            "img_risk": img_risk,
            "text_risk": text_risk,
            "modality": modality(img_risk, text_risk),
            "img_style": record["img_style"] or None,
            "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
            "source": source,
            "ingested_at": now,
            "image_sha256": image.sha256 if image else None,
        }
        canonical = json.dumps([row[k] for k in _HASHED], ensure_ascii=False)
        row["content_hash"] = hashlib.sha256(canonical.encode()).hexdigest()
        del row["image_sha256"]
        rows.append(row)
    return rows


def _store(
    ws: Workspace,
    rows: list[dict],
    found: dict[str, _Image],
    *,
    report: IngestReport,
    replace: bool,
) -> None:
    created: list[Path] = []
    try:
        with ws.transaction() as con:
            existing = catalog.item_hashes(con)
            new = [r for r in rows if r["item_id"] not in existing]
            changed = [
                r
                for r in rows
                if r["item_id"] in existing and existing[r["item_id"]] != r["content_hash"]
            ]
            if changed and not replace:
                raise InputError(
                    f"{report.file}: nothing was ingested. {len(changed)} item id(s) already in "
                    "the workspace with different content: "
                    f"{listing([repr(r['item_id']) for r in changed])}. Pass --replace to "
                    "overwrite them (labels and verdicts recorded for them stay)"
                )
            catalog.write_items(con, new=new, changed=changed)
            for image in found.values():
                target = ws.images_dir / image.stored
                if not target.exists():
                    _place(image.source, target)
                    created.append(target)
            report.added, report.replaced = len(new), len(changed)
            report.unchanged = len(rows) - len(new) - len(changed)
    except BaseException:
        for target in created:
            target.unlink(missing_ok=True)
        raise


def _place(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically. A copy, not a link: the stored image is
    addressed by its content hash and must not change when the user edits the original."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
