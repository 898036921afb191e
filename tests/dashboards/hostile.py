"""Names that are Markdown, HTML and spreadsheet formulas, written into a workspace as a judge,
a target model and an annotator could name themselves (shared by the AppTest and browser
tests of issue 13)."""

from __future__ import annotations

from safecal.annotate import Workspace

#: a URL nothing listens on: a request to it, or an <img> / <a> pointing at it, is the bug
TRAP = "http://127.0.0.1:9"
JUDGE = f"![x]({TRAP}/judge.png) <img src=x onerror=alert(1)> **bold** [link]({TRAP}/j)"
MODEL = f'=HYPERLINK("{TRAP}/m","m") ![m]({TRAP}/model.png) **aurora**'
ANNOTATOR = f"@SUM(1+1) <img src=x onerror=alert(2)> **ann** ![a]({TRAP}/annotator.png)"
#: the example's names that the hostile ones replace
OLD_MODEL = "aurora-vl-7b"
OLD_ANNOTATOR = "ann_a@safecal.local"


def make_hostile(ws: Workspace) -> None:
    """Rename the example's judge, one target model and one annotator to the hostile names."""
    with ws.transaction() as con:
        con.execute("UPDATE judge_runs SET judge = ?", (JUDGE,))
        con.execute("UPDATE responses SET model = ? WHERE model = ?", (MODEL, OLD_MODEL))
        con.execute(
            "UPDATE annotations SET annotator = ? WHERE annotator = ?", (ANNOTATOR, OLD_ANNOTATOR)
        )
