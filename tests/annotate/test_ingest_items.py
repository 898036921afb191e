"""One test per ingest rule for items (issue 2, point 5)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from safecal.annotate import InputError, Workspace, ingest_items

USB = [
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
]


@pytest.fixture
def images(example, tmp_path) -> Path:
    target = tmp_path / "images"
    shutil.copytree(example.images, target)
    return target


@pytest.fixture
def items(example) -> pd.DataFrame:
    return pd.read_csv(example.items, dtype=str, keep_default_na=False)


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def snapshot(ws: Workspace) -> tuple:
    items = ws.read_sql("SELECT * FROM items ORDER BY item_id")
    files = sorted(p.relative_to(ws.images_dir) for p in ws.images_dir.rglob("*"))
    return items.to_csv(), files


def test_usb_csv_as_is(example, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    report = ingest_items(ws, example.items, images=example.images)
    assert (report.rows, report.added, report.unchanged) == (120, 120, 0)
    got = ws.read_sql("SELECT * FROM items")
    source = pd.read_csv(example.items, dtype=str)
    # modality derived from the bits: e.g. img_risk=1, text_risk=0 -> RIST
    expected = [
        ("RI" if a == "1" else "SI") + ("RT" if b == "1" else "ST")
        for a, b in zip(source["img_risk"], source["text_risk"], strict=True)
    ]
    assert got.set_index("item_id").loc[source["id"], "modality"].tolist() == expected
    assert set(got["aspect"]) == {"vulnerability", "overrefusal"}
    # every stored image exists under the workspace and is addressed by its content hash
    for path in got["image"]:
        stored = ws.images_dir / path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == stored.stem
    assert not report.warnings


def test_reingest_same_content_changes_nothing(example, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=example.images)
    before = snapshot(ws)
    report = ingest_items(ws, example.items, images=example.images)
    assert (report.added, report.unchanged, report.replaced) == (0, 120, 0)
    assert snapshot(ws)[1] == before[1]


def test_changed_content_refused_then_replaced(example, items, images, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=example.images)
    before = snapshot(ws)
    items.loc[items["id"] == "5", "text"] = "A different question."
    changed = write(items, tmp_path / "changed.csv")
    with pytest.raises(InputError, match=r"1 item id\(s\) already in the workspace.*'5'"):
        ingest_items(ws, changed, images=images)
    assert snapshot(ws) == before
    report = ingest_items(ws, changed, images=images, replace=True)
    assert (report.replaced, report.unchanged) == (1, 119)
    assert ws.read_sql("SELECT text FROM items WHERE item_id = '5'")["text"][0] == (
        "A different question."
    )


def test_changed_image_counts_as_changed_content(example, images, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=images)
    shutil.copyfile(images / "img" / "2.png", images / "img" / "1.png")
    with pytest.raises(InputError, match="'1'"):
        ingest_items(ws, example.items, images=images)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_other_formats(items, images, tmp_path, suffix):
    ws = Workspace.open(tmp_path / "ws")
    path = write(items, tmp_path / f"items{suffix}")
    assert ingest_items(ws, path, images=images).added == 120


def test_integer_bits_in_jsonl_and_parquet(items, images, tmp_path):
    frame = items.assign(
        img_risk=items["img_risk"].astype(int), text_risk=items["text_risk"].astype(int)
    )
    ws = Workspace.open(tmp_path / "ws")
    assert ingest_items(ws, write(frame, tmp_path / "i.parquet"), images=images).added == 120
    ws2 = Workspace.open(tmp_path / "ws2")
    assert ingest_items(ws2, write(frame, tmp_path / "i.jsonl"), images=images).added == 120


def test_column_mapping(items, images, tmp_path):
    renamed = items.rename(columns={"text": "prompt", "usage": "aspect_col"})
    path = write(renamed, tmp_path / "mine.csv")
    ws = Workspace.open(tmp_path / "ws")
    mapping = {"text": "prompt", "usage": "aspect_col"}
    report = ingest_items(ws, path, images=images, mapping=mapping)
    assert report.added == 120
    with pytest.raises(InputError, match=r"--map text=nope names a column"):
        ingest_items(ws, path, images=images, mapping={"text": "nope"})


def test_missing_required_column(items, images, tmp_path):
    path = write(items.drop(columns=["usage"]), tmp_path / "i.csv")
    with pytest.raises(InputError, match=r"missing required column\(s\) usage"):
        ingest_items(Workspace.open(tmp_path / "ws"), path, images=images)


def test_empty_file_and_header_only(images, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        ingest_items(ws, tmp_path / "empty.csv", images=images)
    (tmp_path / "header.csv").write_text(",".join(USB) + "\n")
    with pytest.raises(InputError, match="no data rows"):
        ingest_items(ws, tmp_path / "header.csv", images=images)


def test_duplicate_ids(items, images, tmp_path):
    items.loc[3, "id"] = items.loc[0, "id"]
    with pytest.raises(InputError, match=r"duplicate ids.*id '1' at lines 2, 5"):
        ingest_items(
            Workspace.open(tmp_path / "ws"), write(items, tmp_path / "i.csv"), images=images
        )


def test_usage_outside_its_two_values(items, images, tmp_path):
    items.loc[6, "usage"] = "jailbreak"
    with pytest.raises(InputError, match=r"field usage must be one of.*line 8: 'jailbreak'"):
        ingest_items(
            Workspace.open(tmp_path / "ws"), write(items, tmp_path / "i.csv"), images=images
        )


@pytest.mark.parametrize("value", ["2", "yes", "", "-1"])
def test_risk_bits_other_than_0_1(items, images, tmp_path, value):
    items.loc[2, "text_risk"] = value
    with pytest.raises(InputError, match=rf"field text_risk must be 0 or 1.*line 4: '{value}'"):
        ingest_items(
            Workspace.open(tmp_path / "ws"), write(items, tmp_path / "i.csv"), images=images
        )


def test_missing_and_unreadable_images(items, images, tmp_path):
    (images / "img" / "3.png").unlink()
    (images / "img" / "4.png").write_bytes(b"not a png at all")
    items.loc[5, "open_url"] = "../../etc/passwd"
    path = write(items, tmp_path / "i.csv")
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(InputError) as err:
        ingest_items(ws, path, images=images)
    message = str(err.value)
    assert "3 image(s) missing or unreadable" in message
    assert "line 4: img/3.png not found" in message
    assert "line 5: img/4.png unreadable" in message
    assert "outside the image folder" in message
    assert "--allow-missing-images" in message
    assert ws.read_sql("SELECT count(*) AS n FROM items")["n"][0] == 0
    assert not any(ws.images_dir.rglob("*.png"))  # nothing copied
    report = ingest_items(ws, path, images=images, allow_missing_images=True)
    assert report.added == 120 and "3 image(s)" in report.warnings[0]
    assert ws.read_sql("SELECT count(*) AS n FROM items WHERE image IS NULL")["n"][0] == 3


def test_not_utf8_names_line_and_offers_encoding(items, images, tmp_path):
    path = write(items, tmp_path / "i.csv")
    raw = path.read_bytes().replace("图中".encode(), "图中".encode("gb18030"), 1)
    path.write_bytes(raw)
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(InputError, match=r"not valid utf-8 at line \d+.*--encoding"):
        ingest_items(ws, path, images=images)
    items.to_csv(tmp_path / "gb.csv", index=False, encoding="gb18030")
    assert ingest_items(ws, tmp_path / "gb.csv", images=images, encoding="gb18030").added == 120


def test_unknown_categories_are_a_warning_with_count(items, images, tmp_path):
    items.loc[:1, "level3_category"] = "Made-up Category"
    report = ingest_items(
        Workspace.open(tmp_path / "ws"), write(items, tmp_path / "i.csv"), images=images
    )
    assert report.added == 120
    assert any(
        w.startswith("2 item(s) have a level-3 category") and "Made-up Category" in w
        for w in report.warnings
    )


def test_other_taxonomy(items, images, tmp_path):
    tax = tmp_path / "tax.csv"
    pd.DataFrame(
        {"level1_category": ["Only"], "level2_category": ["One"], "level3_category": ["Cat"]}
    ).to_csv(tax, index=False)
    report = ingest_items(
        Workspace.open(tmp_path / "ws"),
        write(items, tmp_path / "i.csv"),
        images=images,
        taxonomy=tax,
    )
    assert len(report.warnings) == 3  # every level unknown under that taxonomy
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="taxonomy lacks column"):
        ingest_items(
            Workspace.open(tmp_path / "ws2"),
            write(items, tmp_path / "i.csv"),
            images=images,
            taxonomy=bad,
        )


def test_malformed_jsonl_names_the_line(tmp_path, images):
    path = tmp_path / "i.jsonl"
    path.write_text('{"id": "1", "text": "x"}\n{"id": "2", "text": \n')
    with pytest.raises(InputError, match=r"i.jsonl, line 2: malformed JSON"):
        ingest_items(Workspace.open(tmp_path / "ws"), path, images=images)
