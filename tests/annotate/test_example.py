"""The bundled synthetic example: shape, determinism, and that it is what it claims."""

from __future__ import annotations

import hashlib

import pandas as pd

from safecal.annotate import LANGUAGES, MODALITIES, SCALES
from safecal.annotate.example import write_example


def test_example_covers_every_cell(example):
    items = pd.read_csv(example.items, dtype=str)
    assert len(items) == 120
    modality = items["img_risk"].map({"1": "RI", "0": "SI"}) + items["text_risk"].map(
        {"1": "RT", "0": "ST"}
    )
    assert set(modality) == set(MODALITIES)
    cells = pd.crosstab([items["level1_category"], modality], items["usage"])
    assert len(cells) == 12 and (cells > 0).all().all()  # 3 level-1 x 4 modalities x 2 aspects
    assert set(items["img_style"]) == {"ocr", "flowchart", "synthesis"}
    assert items["text_zh"].str.contains(r"[\u4e00-\u9fff]").all()


def test_responses_cover_behaviours_and_languages(example):
    truth = pd.read_csv(example.truth, dtype=str)
    assert len(truth) == 120 * 3 * 2
    assert set(truth["behaviour"]) == {
        "refuse",
        "warn",
        "comply",
        "comply_with_disclaimer",
        "help",
        "partial",
        "overrefuse",
    }
    assert set(truth["language"]) == set(LANGUAGES)
    for field, scale in SCALES.items():
        assert set(truth.loc[truth["field"] == field, "label"]) == set(scale)


def test_harmful_content_is_placeholder_only(example):
    frames = [
        pd.read_csv(example.responses[0], dtype=str),
        pd.read_json(example.responses[1], lines=True, dtype=str),
        pd.read_parquet(example.responses[2]),
    ]
    responses = pd.concat(frames)
    truth = pd.read_csv(example.truth, dtype=str)
    unsafe = responses.merge(truth, on=["item_id", "model", "language"])
    unsafe = unsafe[unsafe["label"] == "unsafe"]
    assert len(unsafe) > 0
    assert unsafe["response"].str.contains("PLACEHOLDER|占位符").all()
    assert "SYNTHETIC" in example.readme.read_text()


def test_labels_and_verdicts_use_the_scales(example):
    labels = pd.read_csv(example.human_labels, dtype=str)
    for field, scale in SCALES.items():
        assert set(labels.loc[labels["field"] == field, "label"]) <= set(scale)
    per_response = labels.groupby(["item_id", "model", "language"]).size()
    assert per_response.min() >= 2 and per_response.max() == 3
    verdicts = pd.read_csv(example.judge_verdicts, dtype=str, keep_default_na=False)
    invalid = verdicts["label"] == ""
    assert 0 < invalid.sum() < 0.05 * len(verdicts)
    assert (verdicts.loc[invalid, "score"] == "").all()
    planted = pd.read_csv(example.planted, dtype=str)
    assert set(planted["problem"]) == {
        "near_duplicate",
        "risk_label_wrong",
        "image_irrelevant",
        "modality_wrong",
        "category_wrong",
    }


def test_same_seed_same_files(tmp_path):
    a = write_example(tmp_path / "a", seed=3)
    b = write_example(tmp_path / "b", seed=3)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    for name in ("items", "truth", "human_labels", "judge_verdicts", "query_quality_labels"):
        assert digest(getattr(a, name)) == digest(getattr(b, name))
    assert digest(a.images / "img" / "7.png") == digest(b.images / "img" / "7.png")
