"""Issue 13: names from models, people and files are shown as text on every page.

A judge, a target model and an annotator are renamed to Markdown / HTML / formula text
(tests/dashboards/hostile.py). Every string the pages hand to Streamlit's Markdown renderer
(titles, captions, alerts, labels) is rendered here with markdown-it-py, an independent
CommonMark implementation with raw HTML passed through: an image, a link or a tag in the
output means the input was interpreted. The names must still appear, literally, as text.
CSV downloads neutralise formulas unless 'keep formulas' is ticked."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from safecal.annotate import Workspace
from safecal.calibrate.monitoring import adjudication_queue
from safecal.dashboards.text import md_literal
from tests.dashboards.hostile import ANNOTATOR, JUDGE, MODEL, TRAP, make_hostile

DASH = Path(__file__).resolve().parents[2] / "dashboards"
PAGES = ("annotation", "review", "calibration", "results", "curation")
#: CommonMark with raw HTML on: whatever escaping leaves as markup comes out as markup
MD = MarkdownIt("commonmark", {"html": True})
WIDGETS = ("selectbox", "multiselect", "radio", "checkbox", "slider", "text_input", "button")


@pytest.fixture
def hostile(filled_workspace: Workspace) -> Workspace:
    make_hostile(filled_workspace)
    return filled_workspace


def page(name: str, ws: Workspace | Path) -> AppTest:
    at = AppTest.from_file(str(DASH / "app_pages" / f"{name}.py"), default_timeout=120)
    at.session_state["workspace"] = str(getattr(ws, "path", ws))
    at.session_state["assume_random"] = True  # the fixture's gold was drawn by no sample
    return at.run()


def markdown_bodies(at: AppTest) -> list[str]:
    """Every string of the page that Streamlit renders as Markdown."""
    kinds = ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error")
    bodies = [e.value for kind in (*kinds, "success") for e in getattr(at, kind)]
    bodies += [e.label for e in at.expander] + [e.label for e in at.metric]
    bodies += [w.label for kind in WIDGETS for w in getattr(at, kind)]
    bodies += [o for r in at.radio for o in r.options]  # radio options are Markdown too
    bodies += [b.proto.label for b in at.get("download_button")]
    return bodies


def shown_texts(at: AppTest) -> list[str]:
    """The page's Markdown as rendered, checked for markup, reduced to the visible text."""
    texts = []
    for body in markdown_bodies(at):
        out = MD.render(body)
        assert "<img" not in out and "<a " not in out, (body, out)
        assert not re.search(r"<(?!/?(p|strong|em|code|br)\b)", out), (body, out)
        texts.append(html.unescape(re.sub(r"<[^>]+>", "", out)).strip())
    return texts


@pytest.mark.parametrize(
    "name",
    [
        JUDGE,
        MODEL,
        ANNOTATOR,
        ":red[x] $x^2$ &amp; \\* :smile: <- -> www.example.org a@b.org",
        "`tick` ``two`` ends with `",
        " padded ",
        "line one\n# heading\r\n- item\rlast",
        "   ",
    ],
)
def test_md_literal_renders_as_exactly_the_text(name):
    out = MD.render(md_literal(name))
    assert out.startswith("<p><code>") and out.endswith("</code></p>\n"), out
    assert html.unescape(out.removeprefix("<p><code>").removesuffix("</code></p>\n")) == (
        re.sub(r"\r\n|\r|\n", " ", name)
    )
    assert md_literal("") == ""


def test_calibration_page_shows_judge_and_model_names_as_text(hostile):
    at = page("calibration", hostile)
    assert not at.exception
    texts = shown_texts(at)
    assert f"Confusion matrix: {JUDGE}" in texts
    # plain-text places show the name as it is, with no escaping backslashes
    runs = at.multiselect(key="runs")
    assert len(runs.value) == 1 and runs.options[0].startswith(f"{JUDGE} (")
    assert JUDGE in at.dataframe[0].value.columns  # the metrics table, one column per judge
    errors = at.dataframe[-1].value
    assert MODEL in set(errors["model"])

    # a judge without scores: the note naming it is text too
    with hostile.transaction() as con:
        con.execute("UPDATE verdicts SET score = NULL")
    at = page("calibration", hostile)
    assert not at.exception
    assert f"{JUDGE} gives no scores: no threshold to tune, no ROC / PR curves" in shown_texts(at)


def _recording_media(monkeypatch: pytest.MonkeyPatch) -> list[MemoryMediaFileStorage]:
    """AppTest keeps download files in a storage it drops after each run: keep them."""
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint: str) -> None:
            super().__init__(endpoint)
            stores.append(self)

    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", Recording)
    return stores


def _download(at: AppTest, stores: list[MemoryMediaFileStorage], key: str) -> tuple[str, str]:
    """(file name, text) of the download button ``key`` after the last run."""
    (button,) = [b for b in at.get("download_button") if b.proto.id.endswith(key)]
    file = stores[-1].get_file(button.proto.url.rsplit("/", 1)[-1])
    return str(file.filename), file.content.decode("utf-8")


def test_results_page_model_names_as_text_and_csv_without_formulas(hostile, monkeypatch):
    stores = _recording_media(monkeypatch)
    at = page("results", hostile)
    assert not at.exception
    # the hostile model sorts first, so it is the page's chosen model
    assert at.selectbox(key="results_model").value == MODEL
    texts = shown_texts(at)
    assert f"{MODEL}: every cell, every estimate" in texts
    assert MODEL in set(at.dataframe[0].value["model"])

    name, text = _download(at, stores, "cells_csv")
    assert re.fullmatch(r"cells-harmfulness-[A-Za-z0-9._-]+\.csv", name), name
    cells = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert set(cells["model"]) == {"'" + MODEL}
    shown = at.dataframe[3].value
    assert cells["corrected"].astype(float).tolist() == pytest.approx(
        shown["corrected"].tolist(), nan_ok=True
    )

    at.checkbox(key="cells_csv_keep_formulas").check().run()
    assert not at.exception
    _, text = _download(at, stores, "cells_csv")
    cells = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert set(cells["model"]) == {MODEL}


def test_annotation_page_annotator_and_model_names_as_text(hostile):
    at = page("annotation", hostile)
    assert not at.exception
    shown_texts(at)
    assert ANNOTATOR in set(at.dataframe[0].value["annotator"])
    at.selectbox(key="agreement_by").set_value("model").run()
    assert not at.exception
    shown_texts(at)
    assert MODEL in set(at.dataframe[2].value["model"])


def test_review_page_reviewer_and_annotator_names_as_text(hostile):
    queue = adjudication_queue(hostile)
    theirs = set(
        hostile.read_sql("SELECT response_id FROM annotations WHERE annotator = ?", (ANNOTATOR,))[
            "response_id"
        ]
    )
    assert queue["response_id"].isin(theirs).any()  # the hostile annotator has units to review
    at = page("review", hostile)
    assert not at.exception
    reviewer = f"-2+3 {ANNOTATOR}"
    at.text_input(key="reviewer").input(reviewer).run()
    at.button(key="gold_unsafe").click().run()
    assert not at.exception
    texts = shown_texts(at)
    assert any(t.startswith("gold harmfulness of ") and f"by {reviewer} at " in t for t in texts)
    gold = hostile.read_sql("SELECT adjudicator FROM gold WHERE method = 'adjudicated'")
    assert gold["adjudicator"].tolist() == [reviewer]  # stored exactly
    for _ in range(len(queue)):  # a unit the hostile annotator labeled: their name, as text
        if ANNOTATOR in set(at.dataframe[0].value["annotator"]):
            break
        at.button(key="next").click().run()
        shown_texts(at)
    assert ANNOTATOR in set(at.dataframe[0].value["annotator"])


@pytest.mark.parametrize("name", PAGES)
def test_error_messages_show_a_markdown_path_as_text(name, tmp_path):
    absent = tmp_path / f"![w]({TRAP}) <b>ws</b> **ws**"
    at = page(name, absent)
    assert not at.exception
    texts = shown_texts(at)
    assert any(str(absent) in t and "no safecal workspace" in t for t in texts), texts
