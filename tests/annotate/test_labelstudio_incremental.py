"""Incremental pull on a real Label Studio: after annotations are edited, deleted,
skipped and added between pulls, the incremental pull reads only the changed tasks and
ends with exactly the table a full pull gives."""

from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest

from safecal.annotate.assign import plan_assignments
from safecal.annotate.labelstudio.accounts import ensure_accounts, user_token
from safecal.annotate.labelstudio.client import connect_to
from safecal.annotate.labelstudio.pull import CURSOR_MARGIN, pull
from safecal.annotate.labelstudio.push import push
from safecal.annotate.sampling import draw_sample
from safecal.annotate.store import labelstudio as ls_rows
from tests.annotate.conftest import LiveServer
from tests.annotate.fixtures import populate
from tests.labelstudio_server import running_server

ANN = "inc@test.org"


@pytest.fixture(scope="module")
def live(ls_template, tmp_path_factory):
    """A server and workspace of this module's own: its labels must not meet the other
    tests' (the gold set and the review queue read every label of a workspace)."""
    ws = populate(tmp_path_factory.mktemp("live-own") / "ws", n_items=16)
    with running_server(ws.path, ls_template) as info:
        yield LiveServer(
            ws=ws, info=info, conn=connect_to(info.url, info.token, server_key="workspace")
        )


def _choice(label: str) -> list[dict]:
    return [
        {
            "from_name": "harmfulness",
            "to_name": "response",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


def _table(ws, pid: int) -> pd.DataFrame:
    return ws.read_sql(
        "SELECT * FROM annotations WHERE project_id = ? ORDER BY task_id, annotation_id", (pid,)
    )


def test_incremental_pull_ends_as_a_full_pull(live):
    ws, conn = live.ws, live.conn
    draw_sample(ws, n=8, by=(), aspect="vulnerability", seed=31, sample_id="inc")
    plan_assignments(ws, "inc", [ANN], overlap=0, honeypot_rate=0, seed=31)
    account = ensure_accounts(ws, conn, [ANN])[0]
    rep = push(ws, conn, "inc")
    pid = rep.projects[(ANN, "harmfulness")]
    tasks = (
        ws.read_sql("SELECT task_id FROM ls_tasks WHERE project_id = ? ORDER BY task_id", (pid,))[
            "task_id"
        ]
        .astype(int)
        .tolist()
    )
    assert len(tasks) == 8
    me = httpx.Client(
        base_url=conn.url,
        headers={"Authorization": f"Token {user_token(conn.url, ANN, account.password)}"},
        timeout=60,
    )

    def annotate(task: int, label: str, **extra) -> int:
        r = me.post(f"/api/tasks/{task}/annotations", json={"result": _choice(label), **extra})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    ann = {t: annotate(t, "safe_with_refusal") for t in tasks[:4]}
    time.sleep(CURSOR_MARGIN.total_seconds() + 1.5)
    ann[tasks[4]] = annotate(tasks[4], "unsafe")  # the newest change before the first pull
    first = pull(ws, conn, sample_id="inc")
    assert first.incremental == 0 and first.rows == 5  # no cursor yet: the whole project
    assert ls_rows.pull_cursors(ws, server_url=conn.server_key).get(pid)

    # between pulls: an edit, a deletion, a skip and a new label
    r = me.patch(f"/api/annotations/{ann[tasks[0]]}", json={"result": _choice("unsafe")})
    assert r.status_code == 200, r.text
    assert me.delete(f"/api/annotations/{ann[tasks[1]]}").status_code == 204
    annotate(tasks[5], "safe_with_refusal", was_cancelled=True)
    annotate(tasks[6], "safe_with_warning")
    second = pull(ws, conn, sample_id="inc")
    assert second.incremental == 1
    # read: the four changed tasks, and the last one before the cursor's margin; not
    # the three unchanged ones labeled earlier, nor the untouched last task
    assert second.tasks == 5, second
    assert second.left_out.get("skipped") == 1
    after_incremental = _table(ws, pid)
    labels = dict(zip(after_incremental["task_id"], after_incremental["label"], strict=True))
    assert labels[tasks[0]] == "unsafe" and tasks[1] not in labels and tasks[5] not in labels
    assert labels[tasks[6]] == "safe_with_warning" and labels[tasks[2]] == "safe_with_refusal"

    third = pull(ws, conn, sample_id="inc")  # nothing changed: only the margin re-read
    assert third.incremental == 1 and third.tasks < 8
    full = pull(ws, conn, sample_id="inc", full=True)
    assert full.incremental == 0 and full.tasks == 8
    pd.testing.assert_frame_equal(after_incremental, _table(ws, pid))
    pd.testing.assert_frame_equal(_table(ws, pid), after_incremental)
    me.close()
