"""The judge card of an imported run (n/a with reasons), its examples (query, thumbnail,
response, all escaped) and several runs side by side with their paired comparison."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from safecal.annotate.labels import POSITIVE
from safecal.annotate.store import Workspace
from safecal.calibrate.report.card import THUMB_MAX_BYTES, THUMB_PIXELS
from safecal.calibrate.tables import judge_table
from safecal.cli import main
from tests.own_data import OWN, build_workspace, run

QUERY = '<script>alert("q")</script> ![pwn](http://evil.example/x.png) =HYPERLINK("http://e","x")'
RESPONSE = "<img src=x onerror=alert(1)> Sure: ![img](http://evil.example/a.png) =1+2"


def _hostile_copy(tmp: Path) -> Path:
    """The own-data example with markup, Markdown images and formulas in the query and the
    response of a disagreement (q10, model-a), and a large noisy image for its item."""
    folder = tmp / "data"
    shutil.copytree(OWN, folder)
    for name, key, column, value in (
        ("items.csv", ("q10",), "text", QUERY),
        ("responses.csv", ("q10", "model-a"), "response", RESPONSE),
    ):
        with (folder / name).open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            if (row.get("id") or row["item_id"],) + (
                (row["model"],) if len(key) > 1 else ()
            ) == key:
                row[column] = value
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    noise = np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "images" / "q10.png")
    return folder


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("card")
    ws = tmp / "ws"
    build_workspace(_hostile_copy(tmp), ws)
    run("calibrate", "run", "--judge", "keyword", "--no-progress", "-w", str(ws))
    return ws


def _report(ws: Path, out: Path, *runs: str) -> int:
    flags = [x for r in runs for x in ("--run", r)]
    # the labels were imported, not drawn by a sample: declared a simple random sample
    args = ["calibrate", "report", "-w", str(ws), *flags, "--out", str(out), "--n-boot", "50"]
    return main([*args, "--assume-random"])


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_imported_run_says_n_a_with_the_reason(workspace: Path, tmp_path: Path) -> None:
    assert _report(workspace, tmp_path / "card", "my-judge") == 0
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    html = (tmp_path / "card.html").read_text(encoding="utf-8")
    na = card["not_applicable"]
    assert {"model", "prompt_version", "n_calls", "tokens_in", "cost"} <= set(na)
    assert all("imported" in why for why in na.values())
    field = card["fields"]["harmfulness"]
    assert field["latency_seconds"] is None and field["tokens"] is None
    assert set(field["not_applicable"]) == {"latency_seconds", "tokens", "prompt"}
    text = _visible(html)
    assert "None" not in text and "0.000 s" not in text and "nan" not in text.lower().split()
    assert "n/a" in text
    assert escape_attr(na["model"]) in html  # the reason on hover
    assert f"n/a, {na['model']}" in text  # and written out under the header


def escape_attr(text: str) -> str:
    from html import escape

    return f"title='{escape(text, quote=True)}'"


def test_examples_show_query_thumbnail_and_response_escaped(
    workspace: Path, tmp_path: Path
) -> None:
    assert _report(workspace, tmp_path / "card", "my-judge") == 0
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    html = (tmp_path / "card.html").read_text(encoding="utf-8")
    examples = card["fields"]["harmfulness"]["examples"]
    hostile = [e for e in examples["disagreements"] if e["item_id"] == "q10"]
    assert hostile and hostile[0]["query"] == QUERY and hostile[0]["response"] == RESPONSE
    assert examples["invalid_answers"][0]["query"]  # the invalid one has its context too
    assert "data:image" not in json.dumps(card)  # thumbnails stay out of the JSON
    # nothing of the hostile text became markup
    lower = html.lower()
    assert "<script" not in lower and not re.search(r"<[^>]*onerror", lower)
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "![pwn](http://evil.example/x.png)" in html  # Markdown stays text
    assert "=HYPERLINK(&quot;http://e&quot;,&quot;x&quot;)" in html
    # every image of the page is a small embedded thumbnail, the large one shrunk to fit
    tags = re.findall(r"<img [^>]*>", html)
    assert len(tags) >= len(examples["disagreements"])
    for tag in tags:
        uri = re.fullmatch(r"<img class=thumb alt='item image' src='([^']*)'>", tag)
        assert uri, tag
        data = base64.b64decode(uri.group(1).removeprefix("data:image/jpeg;base64,"))
        assert len(data) <= THUMB_MAX_BYTES
        with Image.open(BytesIO(data)) as img:
            assert img.format == "JPEG" and max(img.size) <= THUMB_PIXELS


def test_two_runs_side_by_side_with_the_paired_comparison(workspace: Path, tmp_path: Path) -> None:
    assert _report(workspace, tmp_path / "both", "my-judge", "keyword") == 0
    comp = json.loads((tmp_path / "both.json").read_text(encoding="utf-8"))
    html = (tmp_path / "both.html").read_text(encoding="utf-8")
    assert [c["run"]["judge"] for c in comp["cards"]] == ["my-judge", "keyword"]
    (pair,) = comp["comparison"]["harmfulness"]
    # an independent count on the same responses: binary view, both verdicts valid, gold
    table, names = judge_table(Workspace.open(workspace), field="harmfulness", runs=comp["runs"])
    a, b = names
    pos = sorted(POSITIVE["harmfulness"])
    both = table[table["gold"].notna() & ~table[a].isin([None, "(invalid)"])]
    both = both[both[b].notna() & (both[b] != "(invalid)")]
    right_a = both[a].isin(pos) == both["gold"].isin(pos)
    right_b = both[b].isin(pos) == both["gold"].isin(pos)
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    assert (pair["n"], pair["a_only"], pair["b_only"]) == (len(both), only_a, only_b)
    assert only_a + only_b > 0  # the comparison has something to test
    expected_p = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert pair["p_value"] == pytest.approx(expected_p)
    assert pair["difference"]["value"] == pytest.approx((only_a - only_b) / len(both))
    lo, hi = pair["difference"]["ci"]
    assert lo <= pair["difference"]["value"] <= hi
    # the page: both runs in the header, the metrics side by side, then each full card
    assert "Judge cards: my-judge vs keyword" in html
    assert html.count("<h2>harmfulness") == 3  # the comparison, then each run's card
    assert "only A right / only B right" in html and f"{only_a} / {only_b}" in html
    text = _visible(html)
    assert "model (keyword) : n/a, keyword judge: no model" in text
    assert "model (my-judge) : n/a, imported verdicts" in text


def test_the_same_run_twice_is_refused(workspace: Path, tmp_path: Path, capsys) -> None:
    assert _report(workspace, tmp_path / "x", "my-judge", "my-judge") == 2
    assert "the same run twice" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
