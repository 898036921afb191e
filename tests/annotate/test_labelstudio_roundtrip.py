"""The round trip on a real Label Studio: accounts, push, annotate as the annotators
through the API, pull, review, gold, export."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest
from label_studio_sdk import LabelStudio

from safecal.annotate.adjudication import build_gold
from safecal.annotate.assign import plan_assignments
from safecal.annotate.errors import InputError
from safecal.annotate.gold_export import export_gold
from safecal.annotate.labelstudio.accounts import ensure_accounts, login, user_token
from safecal.annotate.labelstudio.client import connect, connect_to
from safecal.annotate.labelstudio.pull import pull
from safecal.annotate.labelstudio.push import push
from safecal.annotate.labelstudio.review import pull_reviews, push_reviews
from safecal.annotate.labelstudio.server import server_status
from safecal.annotate.sampling import draw_sample
from tests.labelstudio_server import use_project_organization

A1, A2, REV = "ann1@test.org", "ann2@test.org", "rev@test.org"


def _choice(field: str, label: str, to: str = "response") -> list[dict]:
    return [{"from_name": field, "to_name": to, "type": "choices", "value": {"choices": [label]}}]


def _tasks(ws, annotator: str, sample_id: str) -> pd.DataFrame:
    return ws.read_sql(
        "SELECT t.unit_id, t.task_id, p.task_type, p.project_id FROM ls_tasks t JOIN ls_projects p"
        " ON p.project_id = t.project_id AND p.server_url = t.server_url"
        " WHERE p.annotator = ? AND p.sample_id = ? ORDER BY t.task_id",
        (annotator, sample_id),
    )


def test_status_and_both_token_kinds(live):
    info = server_status(live.ws.path)
    assert info is not None and info.pid == live.info.pid and info.url.startswith("http://127.")
    # legacy token (the workspace's own) and a personal access token (JWT) both work
    assert connect(live.ws.path).user_email == info.email
    r = httpx.post(f"{info.url}/api/token/", headers={"Authorization": f"Token {info.token}"})
    assert r.status_code == 201, r.text
    pat = r.json()["token"]
    assert pat.count(".") == 2 and pat != info.token
    assert connect_to(info.url, pat).user_email == info.email
    with pytest.raises(InputError, match="refused the API key"):
        connect_to(info.url, "not-a-valid-token")


def test_round_trip(live, tmp_path):
    ws, conn = live.ws, live.conn
    draw_sample(ws, n=16, by=("model", "aspect"), seed=3, sample_id="rt")
    plan = plan_assignments(
        ws, "rt", [A1, A2], overlap=0.5, k=2, honeypot_rate=0, query_quality=True, seed=3
    )
    accounts = {a.email: a for a in ensure_accounts(ws, conn, [A1, A2])}
    assert all(a.created and a.password for a in accounts.values())
    # the sign-up made real accounts: the annotators can log in with their passwords
    for a in accounts.values():
        assert (
            login(conn.url, a.email, a.password).get("/api/current-user/whoami").json()["email"]
            == a.email
        )
    # no password or token in the database
    dump = "\n".join(
        str(v)
        for t in ("ls_annotators", "ls_projects", "ls_tasks")
        for v in ws.read_sql(f"SELECT * FROM {t}").to_numpy().ravel()
    )
    assert all(a.password not in dump for a in accounts.values())
    assert live.info.token not in dump

    first = push(ws, conn, "rt", batch_size=5)
    n_assigned = len(plan.assignments)
    assert first.created == n_assigned and first.already == 0
    again = push(ws, conn, "rt", batch_size=5)
    assert again.created == 0 and again.already == n_assigned
    # each project holds exactly its annotator's units, no duplicates
    for (annotator, task_type), pid in first.projects.items():
        use_project_organization(ws, conn, pid)
        data = [t.data["safecal_unit"] for t in conn.client.tasks.list(project=pid)]
        a = plan.assignments
        mine = a[(a["annotator"] == annotator) & (a["task_type"] == task_type)]
        assert sorted(data) == sorted(mine["unit_id"])
    # the queue hides the role: task data carry the same keys for every task
    keys = set()
    for pid in first.projects.values():
        use_project_organization(ws, conn, pid)
        keys |= {tuple(sorted(t.data)) for t in conn.client.tasks.list(project=pid)}
    assert len(keys) == 2  # one shape for response tasks, one for query quality

    # annotate as the annotators, through the API with their own tokens
    expected = []
    for email in (A1, A2):
        client = LabelStudio(
            base_url=conn.url, api_key=user_token(conn.url, email, accounts[email].password)
        )
        for i, t in enumerate(_tasks(ws, email, "rt").itertuples()):
            if t.task_type == "query_quality":
                result = _choice("cross_modal", "yes", "query") + [
                    {
                        "from_name": "note",
                        "to_name": "query",
                        "type": "textarea",
                        "value": {"text": ["<b>odd</b> image"]},
                    }
                ]
                expected += [
                    (t.unit_id, email, "cross_modal", "yes"),
                    (t.unit_id, email, "note", "<b>odd</b> image"),
                ]
            else:
                field = t.task_type
                scale = (
                    ["unsafe", "safe_with_warning"]
                    if field == "harmfulness"
                    else ["full_compliance", "full_refusal"]
                )
                label = scale[(i + (email == A2)) % 2]
                if email == A2 and i == 0:
                    label = "maybe"  # outside the configuration: pull must leave it out
                else:
                    expected.append((t.unit_id, email, field, label))
                result = _choice(field, label)
            client.annotations.create(id=t.task_id, result=result, lead_time=1.5 + i)
    # more that pull must leave out: a second annotation by the same annotator, a skip
    a1 = LabelStudio(base_url=conn.url, api_key=user_token(conn.url, A1, accounts[A1].password))
    t0 = _tasks(ws, A1, "rt").query("task_type != 'query_quality'").iloc[0]
    a1.annotations.create(id=int(t0.task_id), result=_choice(t0.task_type, "unsafe"))
    extra = _tasks(ws, A2, "rt").query("task_type != 'query_quality'").iloc[1]
    a2 = LabelStudio(base_url=conn.url, api_key=user_token(conn.url, A2, accounts[A2].password))
    a2.annotations.create(id=int(extra.task_id), result=[], was_cancelled=True)

    rep = pull(ws, conn, sample_id="rt")
    assert rep.left_out.get("duplicate") == 1
    assert rep.left_out.get("invalid_label") == 1
    assert rep.left_out.get("skipped") == 1
    got = ws.read_sql(
        "SELECT COALESCE(response_id, item_id) AS unit, annotator, field, label,"
        " lead_time FROM annotations WHERE project_id IN (SELECT project_id FROM"
        " ls_projects WHERE sample_id = 'rt')"
    )
    assert sorted(map(tuple, got[["unit", "annotator", "field", "label"]].to_numpy())) == sorted(
        expected
    )
    assert got["lead_time"].notna().all()
    assert set(got.loc[got["field"] == "note", "label"]) == {"<b>odd</b> image"}
    # idempotent: incremental (nothing changed) and full
    again = pull(ws, conn, sample_id="rt")
    assert again.incremental == len(first.projects)
    assert pull(ws, conn, sample_id="rt", full=True).rows == rep.rows
    assert len(
        ws.read_sql(
            "SELECT * FROM annotations WHERE project_id IN (SELECT project_id"
            " FROM ls_projects WHERE sample_id = 'rt')"
        )
    ) == len(got)

    # adjudication: the overlap units disagree by construction -> review (the majority
    # vote, whose 1-1 splits are ties, and no "uncertain" threshold; this test is about
    # the review round trip)
    res = build_gold(ws, method="majority", review_below=0.0)
    assert len(res.to_review) > 0 and set(res.to_review["reason"]) == {"tie"}
    rev = ensure_accounts(ws, conn, [REV], role="reviewer")[0]
    review = push_reviews(ws, conn, reviewer=REV)
    assert review.pushed == len(res.to_review)
    assert push_reviews(ws, conn, reviewer=REV).pushed == 0  # idempotent
    pid = review.projects[next(iter(review.projects))]
    use_project_organization(ws, conn, pid)
    tasks = list(conn.client.tasks.list(project=pid))
    labels_text = tasks[0].data["labels"]
    assert A1 in labels_text and A2 in labels_text  # every label side by side
    rclient = LabelStudio(base_url=conn.url, api_key=user_token(conn.url, REV, rev.password))
    decided = {}
    for fld, pid in review.projects.items():
        use_project_organization(ws, conn, pid)
        for t in conn.client.tasks.list(project=pid):
            label = "unsafe" if fld == "harmfulness" else "partial_refusal"
            rclient.annotations.create(id=t.id, result=_choice(fld, label))
            decided[(t.data["safecal_unit"], fld)] = label
    rr = pull_reviews(ws, conn)
    assert rr.decided == len(decided) and rr.pending == 0
    res = build_gold(ws, method="majority", review_below=0.0)
    gold = ws.read_sql("SELECT * FROM gold WHERE method = 'adjudicated'")
    assert {(r.response_id, r.field): r.label for r in gold.itertuples()} == decided
    assert set(gold["adjudicator"]) == {REV} and gold["decided_at"].notna().all()

    for ext in ("csv", "jsonl", "parquet"):
        table = export_gold(ws, tmp_path / f"gold.{ext}", sample_id="rt")
        assert len(table) == len(
            ws.read_sql(
                "SELECT * FROM gold WHERE response_id IN (SELECT response_id FROM samples"
                " WHERE sample_id = 'rt')"
            )
        )
        assert {f"label:{A1}", f"label:{A2}", "gold", "inclusion_prob"} <= set(table.columns)
    back = pd.read_json(tmp_path / "gold.jsonl", lines=True)
    row = back[back["method"] == "adjudicated"].iloc[0]
    assert row["gold"] == decided[(row["response_id"], row["field"])]
    assert json.loads(
        pd.read_parquet(tmp_path / "gold.parquet").query("method == 'unanimous'")["soft"].iloc[0]
    )


def test_push_recovers_tasks_the_mapping_lost(live):
    """The server took a batch but the workspace never recorded it (a crash between the
    two): the rerun finds those tasks by their unit and creates no duplicate."""
    ws, conn = live.ws, live.conn
    draw_sample(ws, n=10, by=(), seed=5, sample_id="rec")
    plan_assignments(ws, "rec", [A1], overlap=0, honeypot_rate=0, seed=5)
    first = push(ws, conn, "rec", batch_size=4)
    with ws.transaction() as con:
        con.execute(
            "DELETE FROM ls_tasks WHERE project_id IN (SELECT project_id FROM"
            " ls_projects WHERE sample_id = 'rec') AND task_id % 2 = 0"
        )
    again = push(ws, conn, "rec", batch_size=4)
    assert again.created == 0 and again.recovered > 0
    for pid in first.projects.values():
        use_project_organization(ws, conn, pid)
        units = [t.data["safecal_unit"] for t in conn.client.tasks.list(project=pid)]
        assert len(units) == len(set(units))
    assert (
        len(
            ws.read_sql(
                "SELECT * FROM ls_tasks WHERE project_id IN (SELECT project_id"
                " FROM ls_projects WHERE sample_id = 'rec')"
            )
        )
        == first.created
    )


def test_images_served_only_from_the_images_folder(live):
    from safecal.annotate.labelstudio.push import image_url

    with pytest.raises(InputError, match="escapes"):
        image_url(live.ws.images_dir, "../safecal.sqlite", mode="local")
    url = image_url(live.ws.images_dir, "item0000.png", mode="local")
    session = login(live.conn.url, live.info.email, live.info.password)
    r = session.get(url)
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    inline = image_url(live.ws.images_dir, "item0000.png", mode="inline")
    assert inline.startswith("data:image/png;base64,")


def test_demo_steps_on_the_example(example, ls_template, tmp_path):
    """What `safecal demo` calls: the example's simulated annotators are the Label Studio
    annotators (and can log in), their labels go into their own queues as their own
    annotations and come back by pull, so every queue is done; the reviewer decides the
    uncertain units in the review project; the gold set equals the demo's without Label
    Studio, from the same labels by the same people."""
    from safecal.annotate import ingest_items, ingest_responses
    from safecal.annotate.example.generate import ANNOTATORS
    from safecal.annotate.example.labeling import (
        DEMO_REVIEWER,
        describe,
        label_demo_sample,
        review_uncertain,
    )
    from safecal.annotate.labelstudio.demo_steps import setup_demo_labeling, start_demo_server
    from safecal.annotate.labelstudio.server import stop_server
    from safecal.annotate.store import Workspace

    ws = Workspace.open(tmp_path / "demo")
    ingest_items(ws, example.items, images=example.images)
    for f in example.responses:
        ingest_responses(ws, f)
    info = start_demo_server(ws, template=ls_template)
    try:
        lab = setup_demo_labeling(
            ws, info, truth=example.truth, human_labels=example.human_labels, n=24
        )
        assert lab.url == info.url and lab.admin_password
        people = {a.email: a.role for a in lab.accounts}
        assert people == {**dict.fromkeys(ANNOTATORS, "annotator"), DEMO_REVIEWER: "reviewer"}
        for a in lab.accounts:
            assert (
                login(lab.url, a.email, a.password).get("/api/current-user/whoami").json()["email"]
                == a.email
            )
        assigned = ws.read_sql("SELECT * FROM ls_assignments WHERE sample_id = 'demo'")
        assert lab.push.created == len(assigned) > 24  # 24 units, 2-3 annotators each
        assert set(assigned["annotator"]) == set(ANNOTATORS)
        assert (assigned["role"] == "honeypot").sum() > 0
        # every simulated label on the queues came back by pull, by its own annotator
        assert lab.annotated == len(assigned) == lab.pulled.rows
        pulled = ws.read_sql(
            "SELECT a.annotator, a.response_id, a.field FROM annotations a"
            " WHERE a.project_id IS NOT NULL"
        )
        cols = ["annotator", "response_id", "field"]
        assert sorted(pulled[cols].itertuples(index=False)) == sorted(
            assigned.rename(columns={"task_type": "field"})[cols].itertuples(index=False)
        )
        # the queues show as done on the server, and their titles read well
        projects = ws.read_sql(
            "SELECT project_id, annotator, task_type, kind, title FROM ls_projects"
        )
        live_conn = connect(ws.path)
        for p in projects.itertuples():
            use_project_organization(ws, live_conn, int(p.project_id))
            got = live_conn.client.projects.get(int(p.project_id))
            assert got.num_tasks_with_annotations == got.task_number > 0, p.title
            who = p.annotator.split("@")[0]
            if p.kind == "review":
                assert got.title == f"Review: {p.task_type} · {who}"
            else:
                assert got.title == f"{p.task_type.capitalize()} · sample demo · queue of {who}"
        assert lab.review is not None and lab.review.pending == 0
        assert lab.review.decided == lab.labeled.n_reviewed == len(lab.gold.to_review) > 0
        assert set(lab.gold.to_review["reason"]) == {"uncertain"}
    finally:
        stop_server(ws.path)
    # the demo without Label Studio: the same gold from the same labels by the same people
    plain = Workspace.open(tmp_path / "plain")
    ingest_items(plain, example.items, images=example.images)
    for f in example.responses:
        ingest_responses(plain, f)
    alone = label_demo_sample(plain, truth=example.truth, human_labels=example.human_labels, n=24)
    alone = review_uncertain(plain, alone, truth=example.truth)
    key = ["field", "response_id"]

    def stored(w):
        return w.read_sql("SELECT response_id, field, label, method, soft, adjudicator FROM gold")

    def reviews(w):
        return w.read_sql("SELECT response_id, field, reason, label, reviewer FROM reviews")

    def labels(w):
        return w.read_sql(
            "SELECT item_id, response_id, annotator, field, label, lead_time FROM annotations"
        ).sort_values(["response_id", "item_id", "annotator", "field"], ignore_index=True)

    for table in (stored, reviews):
        with_ls = table(ws).sort_values(key, ignore_index=True)
        without = table(plain).sort_values(key, ignore_index=True)
        assert len(with_ls) > 0
        pd.testing.assert_frame_equal(with_ls, without)
    pd.testing.assert_frame_equal(labels(ws), labels(plain))
    assert set(stored(ws)["method"]) == {"dawid_skene", "honeypot", "adjudicated"}
    assert set(stored(ws).dropna(subset=["adjudicator"])["adjudicator"]) == {DEMO_REVIEWER}
    assert describe(alone) == describe(lab.labeled)
