"""`safecal curate run --push` on a real Label Studio: review queries become query-quality tasks,
and their answers come back through the annotation stage's pull into the next curation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safecal.annotate.labelstudio.client import connect_to
from safecal.annotate.labelstudio.pull import export_project, pull
from safecal.calibrate.curation import curate_workspace
from safecal.calibrate.curation.push import REVIEW_SAMPLE
from safecal.cli import main
from tests.calibrate.curation.planted_fixture import build_workspace
from tests.labelstudio_server import build_template, running_server, use_project_organization

REVIEWERS = "rev1@example.org,rev2@example.org"


pytestmark = pytest.mark.slow  # builds and starts a real Label Studio (about a minute)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    template = build_template(tmp_path_factory.mktemp("ls-template-curation"))
    fx = build_workspace(tmp_path_factory.mktemp("push") / "ws")
    with running_server(fx.ws.path, template) as info:
        yield fx.ws, connect_to(info.url, info.token, server_key="workspace")


def test_push_sends_each_review_query_once_per_reviewer(server, capsys):
    ws, conn = server
    reviews = sorted(curate_workspace(ws).reviews()["item_id"])
    assert main(["curate", "run", "-w", str(ws.path), "--push", "--annotators", REVIEWERS]) == 0
    out = capsys.readouterr().out
    assert f"pushed {len(reviews)} review queries: {2 * len(reviews)} tasks created" in out
    projects = ws.read_sql(
        "SELECT project_id, annotator, task_type FROM ls_projects WHERE sample_id = ?",
        (REVIEW_SAMPLE,),
    )
    assert sorted(projects["annotator"]) == sorted(REVIEWERS.split(","))
    assert set(projects["task_type"]) == {"query_quality"}
    for pid in projects["project_id"]:
        use_project_organization(ws, conn, int(pid))  # each reviewer's own organization
        tasks = export_project(conn, int(pid))
        assert sorted(t["data"]["safecal_unit"] for t in tasks) == reviews
    # again: nothing new
    assert main(["curate", "run", "-w", str(ws.path), "--push", "--annotators", REVIEWERS]) == 0
    assert "0 tasks created" in capsys.readouterr().out
    # nothing was annotated yet, so a pull brings no query-quality rows
    pull(ws, conn, sample_id=REVIEW_SAMPLE)
    n = ws.read_sql("SELECT COUNT(*) AS n FROM annotations WHERE annotator LIKE 'rev%'")["n"][0]
    assert n == 0


def test_push_needs_reviewers(server, capsys):
    ws, _ = server
    assert main(["curate", "run", "-w", str(ws.path), "--push"]) == 2
    assert "--push needs --annotators" in capsys.readouterr().err
