"""Small workspaces for the annotation tests, written through the Workspace directly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PIL import Image

from safecal.annotate.labels import modality
from safecal.annotate.responses import response_id
from safecal.annotate.store import Workspace

MODELS = ("model-a", "model-b")
CATS = (
    ("National Safety", "Military", "Weapon Fabrication Guidance"),
    ("Personal Safety", "Self-harm", "Suicide"),
    ("Public Safety", "Cybersecurity", "Malware"),
)


def populate(
    path: Path,
    *,
    n_items: int = 12,
    languages: tuple[str, ...] = ("en", "zh"),
    with_images: bool = True,
    aspects: tuple[str, ...] = ("vulnerability", "overrefusal"),
) -> Workspace:
    """Items (half vulnerability, half over-refusal), a PNG each, and responses of
    two models in ``languages``; the responses include hostile HTML."""
    ws = Workspace.open(path)
    now = dt.datetime.now(dt.UTC).isoformat()
    items, responses = [], []
    for i in range(n_items):
        item_id = f"item{i:04d}"
        aspect = aspects[i % len(aspects)]
        l1, l2, l3 = CATS[i % len(CATS)]
        img_risk, text_risk = (i // 2) % 2, (i // 4) % 2
        image = None
        if with_images:
            image = f"{item_id}.png"
            Image.new("RGB", (8, 8), (i * 20 % 255, 80, 160)).save(ws.images_dir / image)
        items.append(
            (
                item_id,
                f"query {i} <b>bold</b>",
                f"问题 {i}",
                image,
                aspect,
                l1,
                l2,
                l3,
                img_risk,
                text_risk,
                modality(img_risk, text_risk),
                "t",
                now,
            )
        )
        for model in MODELS:
            for lang in languages:
                responses.append(
                    (
                        response_id(item_id, model, lang),
                        item_id,
                        model,
                        lang,
                        f"<script>alert({i})</script> answer {model} {lang}",
                        now,
                    )
                )
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO items (item_id, text, text_zh, image, aspect, level1_category,"
            " level2_category, level3_category, img_risk, text_risk, modality, source,"
            " content_hash, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'h',?)",
            items,
        )
        con.executemany(
            "INSERT INTO responses (response_id, item_id, model, language, response, source,"
            " content_hash, ingested_at) VALUES (?,?,?,?,?,'t','h',?)",
            responses,
        )
    return ws
