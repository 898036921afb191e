"""Annotator accounts people can log in with.

On the workspace's own server each account gets an organization of its own (blind
labeling, see :mod:`annotate.labelstudio.organizations`), made inside the server's
Django. On a server the workspace did not start, the SDK's user creation ignores
passwords, so accounts are made through the server's own sign-up form
(``/user/signup/?token=<organization invite token>``), the way a person would, and
share the lead's organization (not blind). Passwords are generated, returned once
for printing, and never stored: the ``ls_annotators`` table keeps the email, the
server's user id, the role and the organization only.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field

import httpx

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.client import WORKSPACE_SERVER, Connection, server_error
from safecal.annotate.labelstudio.organizations import provision_people
from safecal.annotate.store import Workspace
from safecal.annotate.store import labelstudio as ls_rows

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Account:
    """An annotator account; ``password`` is set only when it was just created."""

    email: str
    user_id: int
    role: str
    created: bool
    password: str | None = field(default=None, repr=False)


def _invite_token(conn: Connection) -> str:
    r = httpx.get(f"{conn.url}/api/invite", headers=conn.headers(), timeout=30)
    r.raise_for_status()
    return str(r.json()["token"])


def signup(url: str, email: str, password: str, *, invite_token: str) -> httpx.Client:
    """Sign up through the web form; returns the logged-in browser-like session."""
    session = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    session.get("/user/signup/")
    csrf = session.cookies.get("csrftoken", "")
    r = session.post(
        f"/user/signup/?token={invite_token}",
        data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{url}/user/signup/"},
    )
    if r.status_code != 302:
        errors = re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', r.text)
        raise InputError(
            f"Label Studio refused the sign-up of {email}: "
            f"{'; '.join(e.strip() for e in errors) or f'HTTP {r.status_code}'}"
        )
    return session


def login(url: str, email: str, password: str) -> httpx.Client:
    """Log in through the web form; returns the session (cookies set)."""
    session = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    session.get("/user/login/")
    csrf = session.cookies.get("csrftoken", "")
    r = session.post(
        "/user/login/",
        data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{url}/user/login/"},
    )
    if r.status_code != 302:
        raise InputError(f"Label Studio refused the login of {email}")
    return session


def user_token(url: str, email: str, password: str) -> str:
    """The user's legacy API token, read after logging in as that user."""
    session = login(url, email, password)
    r = session.get("/api/current-user/token")
    r.raise_for_status()
    return str(r.json()["token"])


def list_users(conn: Connection) -> dict[str, int]:
    """email -> user id for every user the server knows."""
    return {str(u.email).lower(): int(u.id) for u in conn.client.users.list()}


def ensure_accounts(
    ws: Workspace, conn: Connection, emails: list[str], *, role: str = "annotator"
) -> list[Account]:
    """Create the accounts that do not exist yet; existing ones are kept as they are."""
    bad = [e for e in emails if not _EMAIL.match(e)]
    if bad:
        raise InputError(
            f"not an email address: {', '.join(bad)} (annotators are named "
            "by the email they log in with)"
        )
    if conn.user_email.lower() in {e.lower() for e in emails}:
        raise InputError(
            f"{conn.user_email} is the lead's account; name annotators by other emails"
        )
    if conn.server_key == WORKSPACE_SERVER:
        return _ensure_organizations(ws, conn, emails, role=role)
    try:
        known = list_users(conn)
        token = _invite_token(conn)
    except httpx.HTTPError as exc:
        raise server_error(conn.url, exc) from None
    out = []
    for email in dict.fromkeys(e.lower() for e in emails):
        if email in known:
            out.append(Account(email=email, user_id=known[email], role=role, created=False))
            continue
        password = secrets.token_urlsafe(10)
        try:
            signup(conn.url, email, password, invite_token=token).close()
        except httpx.HTTPError as exc:
            raise server_error(conn.url, exc) from None
        out.append(
            Account(
                email=email,
                user_id=list_users(conn)[email],
                role=role,
                created=True,
                password=password,
            )
        )
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        ls_rows.upsert_annotators(
            con, rows=[(conn.server_key, a.email, a.user_id, role, now, None) for a in out]
        )
    return out


def _ensure_organizations(
    ws: Workspace, conn: Connection, emails: list[str], *, role: str
) -> list[Account]:
    """Accounts, each in an organization of its own with the lead (workspace server)."""
    people = [
        {"email": e, "role": role, "password": secrets.token_urlsafe(10)}
        for e in dict.fromkeys(e.lower() for e in emails)
    ]
    made = provision_people(ws.path, people, images_dir=ws.images_dir)
    passwords = {p["email"]: p["password"] for p in people}
    out = [
        Account(
            email=m["email"],
            user_id=int(m["user_id"]),
            role=role,
            created=bool(m["created"]),
            password=passwords[m["email"]] if m["created"] else None,
        )
        for m in made
    ]
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    orgs = {m["email"]: int(m["organization_id"]) for m in made}
    with ws.transaction() as con:
        ls_rows.upsert_annotators(
            con,
            rows=[(conn.server_key, a.email, a.user_id, role, now, orgs[a.email]) for a in out],
        )
    return out
