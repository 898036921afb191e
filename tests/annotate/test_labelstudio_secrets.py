"""A signed-in annotator cannot reach safecal's secrets through Label Studio.

Label Studio Community lets every member of the organization create a Local Files
storage and download what lies under it. The attack: sign up with the invite link,
create a project, point storages at the workspace, the Label Studio folder and
``..`` paths, then ask ``/data/local-files/`` for the credentials, the secret key,
Label Studio's database and log, and the workspace database. All of it runs against
a real server as the annotator (their own API token).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.accounts import signup, user_token
from safecal.annotate.labelstudio.organizations import use_organization
from safecal.annotate.labelstudio.push import ensure_local_storage, image_url
from safecal.annotate.labelstudio.server import (
    SERVED_DIR,
    load_credentials,
    prepare_document_root,
    served_images,
)

INTRUDER = "intruder@test.org"


@pytest.fixture(scope="module")
def intruder(live) -> httpx.Client:
    """The annotator's API client (legacy token), signed up through the invite link."""
    invite = httpx.get(f"{live.conn.url}/api/invite", headers=live.conn.headers(), timeout=30)
    password = "Intruder-pass-123"
    signup(live.conn.url, INTRUDER, password, invite_token=invite.json()["token"]).close()
    token = user_token(live.conn.url, INTRUDER, password)
    client = httpx.Client(
        base_url=live.conn.url, timeout=60, headers={"Authorization": f"Token {token}"}
    )
    assert client.get("/api/current-user/whoami").json()["email"] == INTRUDER
    return client


def _secrets(ws_path: Path) -> list[str]:
    creds = load_credentials(ws_path)
    assert creds["password"] and creds["token"] and creds["secret_key"]
    return [creds["password"], creds["token"], creds["secret_key"]]


def test_document_root_holds_only_the_images_link(live):
    root = live.ws.path / SERVED_DIR
    assert [p.name for p in root.iterdir()] == ["images"]
    assert (root / "images").is_symlink()
    assert (root / "images").resolve() == live.ws.images_dir.resolve()
    environ = Path(f"/proc/{live.info.pid}/environ").read_bytes().split(b"\0")
    assert f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={root}".encode() in environ


def test_annotator_cannot_store_or_download_outside_the_images(live, intruder):
    ws = live.ws.path
    # the organization wall (annotate/labelstudio/ls_guard.py): only the lead makes
    # projects and storages, even in an organization the intruder belongs to
    project = intruder.post("/api/projects", json={"title": "mine"})
    assert project.status_code == 403, project.text
    use_organization(
        live.conn, intruder.get("/api/current-user/whoami").json()["active_organization"]
    )
    lead = httpx.Client(base_url=live.conn.url, timeout=60, headers=live.conn.headers())
    pid = lead.post("/api/projects", json={"title": "mine"}).json()["id"]
    r = intruder.post(
        "/api/storages/localfiles",
        json={"project": pid, "path": str(served_images(ws)), "title": "x"},
    )
    assert r.status_code == 403, r.text

    hostile = [
        ws,
        ws / "labelstudio",
        ws / "labelstudio" / "data",
        ws / SERVED_DIR,
        ws / SERVED_DIR / "images" / "..",
        ws / SERVED_DIR / "images" / ".." / "..",
        Path(f"{ws}/{SERVED_DIR}/images/../../labelstudio"),
        Path("/"),
        Path("/root"),
    ]
    # Label Studio's document root holds for the lead too
    for path in hostile:
        r = lead.post(
            "/api/storages/localfiles",
            json={"project": pid, "path": str(path), "use_blob_urls": True, "title": "x"},
        )
        assert r.status_code >= 400, f"storage on {path} was accepted: {r.text}"

    # the one storage anyone can make: the images themselves
    ok = lead.post(
        "/api/storages/localfiles",
        json={
            "project": pid,
            "path": str(served_images(ws)),
            "use_blob_urls": True,
            "title": "imgs",
        },
    )
    assert ok.status_code == 201, ok.text

    # positive control: the route works for an image, so the refusals below are real
    image = intruder.get(image_url(live.ws.images_dir, "item0000.png", mode="local"))
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"

    secrets = _secrets(ws)
    ls_db = next((ws / "labelstudio" / "data").glob("*.sqlite3"))
    targets = [
        "labelstudio/credentials.json",
        "labelstudio/server.log",
        f"labelstudio/data/{ls_db.name}",
        "safecal.sqlite",
    ]
    for target in targets:
        for prefix in (
            "",
            "../",
            "images/../",
            "images/../../",
            "images/../../../",
            f"../{ws.name}/",
            f"{ws}/",
        ):
            for d in (prefix + target, (prefix + target).replace("..", "%2e%2e")):
                r = intruder.get("/data/local-files/", params={"d": d})
                body = r.content
                assert r.status_code != 200, f"{d} was served"
                assert not any(s.encode() in body for s in secrets), d
                assert b"SQLite format" not in body, d


def test_project_storage_points_at_the_served_link(live):
    """push's storage is ``served/images``, unresolved (Label Studio compares it lexically)."""
    project = live.conn.client.projects.create(title="storage check")
    ensure_local_storage(live.conn, int(project.id), live.ws)
    ensure_local_storage(live.conn, int(project.id), live.ws)  # idempotent
    paths = [s.path for s in live.conn.client.import_storage.local.list(project=project.id)]
    assert paths == [str(served_images(live.ws.path))]


def test_document_root_refuses_anything_but_the_link(tmp_path):
    images = tmp_path / "ws" / "images"
    images.mkdir(parents=True)
    root = prepare_document_root(tmp_path / "ws", images)
    assert os.readlink(root / "images") == str(images)
    # a stale link (the images moved) is re-pointed
    other = tmp_path / "elsewhere"
    other.mkdir()
    prepare_document_root(tmp_path / "ws", other)
    assert os.readlink(root / "images") == str(other)
    (root / "credentials.json").write_text(json.dumps({"password": "x"}))
    with pytest.raises(InputError, match="must hold only the link 'images'.*credentials.json"):
        prepare_document_root(tmp_path / "ws", images)
    (root / "credentials.json").unlink()
    (root / "images").unlink()
    (root / "images").mkdir()
    with pytest.raises(InputError, match="a real 'images' entry"):
        prepare_document_root(tmp_path / "ws", images)
