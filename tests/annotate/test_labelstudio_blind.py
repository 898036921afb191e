"""Blind labeling on a real Label Studio Community: each annotator and the reviewer in
an organization of their own, the wall between organizations, the lead working
through all of them. Checked through the API as each user (the browser check is in
test_labelstudio_browser.py)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import sync_playwright

from safecal.annotate.assign import plan_assignments
from safecal.annotate.labelstudio.accounts import ensure_accounts, user_token
from safecal.annotate.labelstudio.client import connect_to
from safecal.annotate.labelstudio.configs import label_config
from safecal.annotate.labelstudio.organizations import use_person_organization
from safecal.annotate.labelstudio.pull import pull
from safecal.annotate.labelstudio.push import ensure_project, import_batches, push
from safecal.annotate.sampling import draw_sample
from tests.annotate.conftest import LiveServer
from tests.annotate.fixtures import populate
from tests.labelstudio_server import running_server

A, B, REV = "blind-a@test.org", "blind-b@test.org", "blind-rev@test.org"
REFUSED = (403, 404)


def _choice(field: str, label: str) -> list[dict]:
    return [
        {
            "from_name": field,
            "to_name": "response",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


@pytest.fixture(scope="module")
def live(ls_template, tmp_path_factory):
    """A server and workspace of this module's own: its labels must not meet the other
    tests' (the gold set and the review queue read every label of a workspace)."""
    ws = populate(tmp_path_factory.mktemp("live-own") / "ws", n_items=16)
    with running_server(ws.path, ls_template) as info:
        yield LiveServer(
            ws=ws, info=info, conn=connect_to(info.url, info.token, server_key="workspace")
        )


@pytest.fixture(scope="module")
def blind(live):
    """Two annotators with full overlap, a reviewer with a review project, pushed."""
    ws, conn = live.ws, live.conn
    draw_sample(ws, n=4, by=(), aspect="vulnerability", seed=21, sample_id="bl")
    plan_assignments(ws, "bl", [A, B], overlap=1.0, k=2, honeypot_rate=0, seed=21)
    accounts = {a.email: a for a in ensure_accounts(ws, conn, [A, B])}
    accounts |= {a.email: a for a in ensure_accounts(ws, conn, [REV], role="reviewer")}
    report = push(ws, conn, "bl")
    review_pid = ensure_project(
        ws,
        conn,
        sample_id="review-bl",
        annotator=REV,
        task_type="harmfulness",
        kind="review",
        config=label_config("harmfulness", review=True),
    )
    units = ws.read_sql(
        "SELECT unit_id, task_id FROM ls_tasks WHERE project_id = ?",
        (report.projects[(A, "harmfulness")],),
    )
    import pandas as pd

    todo = pd.DataFrame({"unit_id": units["unit_id"][:1]})
    import_batches(
        ws,
        conn,
        review_pid,
        todo,
        make=lambda r: {
            "image": "",
            "query": "q",
            "response": "r",
            "labels": f"{A}: unsafe\n{B}: safe",
            "safecal_unit": r.unit_id,
        },
    )
    users = {
        email: httpx.Client(
            base_url=conn.url,
            headers={"Authorization": f"Token {user_token(conn.url, email, acc.password)}"},
            timeout=60,
        )
        for email, acc in accounts.items()
    }
    pa, pb = report.projects[(A, "harmfulness")], report.projects[(B, "harmfulness")]
    tasks = {
        p: ws.read_sql("SELECT task_id FROM ls_tasks WHERE project_id = ?", (p,))["task_id"]
        .astype(int)
        .tolist()
        for p in (pa, pb, review_pid)
    }
    # each annotator labels their first task through the API, as themselves
    made = {}
    for email, pid in ((A, pa), (B, pb)):
        r = users[email].post(
            f"/api/tasks/{tasks[pid][0]}/annotations",
            json={"result": _choice("harmfulness", "unsafe")},
        )
        assert r.status_code == 201, r.text
        made[email] = r.json()["id"]
    yield {
        "ws": ws,
        "conn": conn,
        "users": users,
        "projects": {A: pa, B: pb, REV: review_pid},
        "tasks": tasks,
        "annotations": made,
        "accounts": accounts,
    }
    for c in users.values():
        c.close()


def _project_ids(client: httpx.Client) -> set[int]:
    r = client.get("/api/projects", params={"page_size": 1000})
    assert r.status_code == 200, r.text
    return {int(p["id"]) for p in r.json()["results"]}


def test_each_person_lists_only_their_own_projects(blind):
    projects, users = blind["projects"], blind["users"]
    for email, client in users.items():
        assert _project_ids(client) == {projects[email]}, email  # own queue: the control


def test_another_annotators_project_tasks_and_labels_cannot_be_read_by_id(blind):
    projects, tasks, users = blind["projects"], blind["tasks"], blind["users"]
    a = users[A]
    other, other_task, other_ann = projects[B], tasks[projects[B]][0], blind["annotations"][B]
    own, own_task, own_ann = projects[A], tasks[projects[A]][0], blind["annotations"][A]
    reads = {
        "project": "/api/projects/{p}",
        "tasks of project": "/api/tasks?project={p}&fields=all",
        "task": "/api/tasks/{t}",
        "task annotations": "/api/tasks/{t}/annotations",
        "annotation": "/api/annotations/{a}",
        "export": "/api/projects/{p}/export?exportType=JSON&download_all_tasks=true",
        "columns": "/api/dm/columns?project={p}",
        "views": "/api/dm/views?project={p}",
        "storages": "/api/storages/localfiles?project={p}",
    }
    for name, path in reads.items():
        theirs = a.get(path.format(p=other, t=other_task, a=other_ann))
        mine = a.get(path.format(p=own, t=own_task, a=own_ann))
        assert mine.status_code == 200, (name, mine.text)  # the positive control
        if name == "views":  # a list filtered by organization: empty, not refused
            assert theirs.status_code == 200 and theirs.json() == [], name
            continue
        assert theirs.status_code in REFUSED, (name, theirs.status_code, theirs.text[:200])
        assert B not in theirs.text, name
    # the review project (side-by-side labels) is not theirs either
    rev = projects[REV]
    assert a.get(f"/api/projects/{rev}").status_code in REFUSED
    r = a.get(f"/api/tasks?project={rev}&fields=all")
    assert r.status_code in REFUSED and "unsafe" not in r.text


def test_the_reviewer_sees_the_review_project_only(blind):
    rev, projects, tasks = blind["users"][REV], blind["projects"], blind["tasks"]
    r = rev.get(f"/api/tasks?project={projects[REV]}&fields=all")
    assert r.status_code == 200 and B in r.text  # the side-by-side labels are there
    for email in (A, B):
        assert rev.get(f"/api/projects/{projects[email]}").status_code in REFUSED
        assert rev.get(f"/api/tasks/{tasks[projects[email]][0]}").status_code in REFUSED


def test_no_one_but_the_lead_moves_organizations_or_changes_settings(blind):
    users, projects = blind["users"], blind["projects"]
    a = users[A]
    me = a.get("/api/current-user/whoami").json()
    theirs = users[B].get("/api/current-user/whoami").json()["active_organization"]
    r = a.patch(f"/api/users/{me['id']}", json={"active_organization": theirs})
    assert r.status_code in (400, 403), r.text
    assert (
        a.get("/api/current-user/whoami").json()["active_organization"] == me["active_organization"]
    )
    assert _project_ids(a) == {projects[A]}
    # nor another user's account (the lead is a member of their organization)
    lead_id = blind["conn"].user_id
    r = a.patch(f"/api/users/{lead_id}", json={"active_organization": me["active_organization"]})
    assert r.status_code in REFUSED
    # their own project's settings, tasks and storages are the lead's
    own = projects[A]
    for method, path, body in (
        ("PATCH", f"/api/projects/{own}", {"show_annotation_history": True}),
        ("DELETE", f"/api/projects/{own}", None),
        ("POST", f"/api/projects/{own}/import", [{"query": "x"}]),
        ("POST", "/api/projects", {"title": "mine"}),
        ("POST", "/api/storages/localfiles", {"project": own, "path": "/"}),
        ("DELETE", f"/api/tasks/{blind['tasks'][own][1]}", None),
    ):
        r = a.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
    # ... while labeling their queue still works (the positive control)
    r = a.post(
        f"/api/tasks/{blind['tasks'][own][1]}/annotations",
        json={"result": _choice("harmfulness", "safe")},
    )
    assert r.status_code == 201, r.text


def test_the_lead_pulls_every_organization(blind):
    ws, conn = blind["ws"], blind["conn"]
    report = pull(ws, conn, sample_id="bl")
    got = ws.read_sql(
        "SELECT annotator, annotation_id FROM annotations WHERE project_id IN (?, ?)",
        (blind["projects"][A], blind["projects"][B]),
    )
    assert report.projects == 2
    assert {blind["annotations"][A], blind["annotations"][B]} <= set(got["annotation_id"])
    assert set(got["annotator"]) == {A, B}
    # the lead works in one organization at a time, and in the right one
    use_person_organization(ws, conn, B)
    ids = {int(p.id) for p in conn.client.projects.list()}
    assert ids == {blind["projects"][B]}


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def test_in_the_browser_each_person_sees_only_their_own_projects(blind):
    ws, conn, projects = blind["ws"], blind["conn"], blind["projects"]
    titles = {
        email: ws.read_sql("SELECT title FROM ls_projects WHERE project_id = ?", (pid,))[
            "title"
        ].iloc[0]
        for email, pid in projects.items()
    }
    # titles read well: the task, the sample and whose queue (shown on the home page)
    assert titles[A] == "Harmfulness · sample bl · queue of blind-a"
    assert titles[REV] == "Review: harmfulness · blind-rev"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            for email, account in blind["accounts"].items():
                context = browser.new_context()
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{conn.url}/user/login/")
                page.fill("input[name=email]", email)
                page.fill("input[name=password]", account.password)
                page.click("button[type=submit], input[type=submit]")
                page.wait_for_url(lambda u: "/user/login" not in u)
                page.goto(f"{conn.url}/projects/")
                page.get_by_text(titles[email], exact=False).first.wait_for()  # own: shown
                page.wait_for_timeout(1000)
                body = page.content()
                for other, title in titles.items():
                    if other != email:
                        assert title not in body, (email, other)
                        # the signed-in session cannot open it by id either
                        r = page.request.get(f"{conn.url}/api/projects/{projects[other]}")
                        assert r.status in REFUSED, (email, other, r.status)
                context.close()
        finally:
            browser.close()
