"""Connecting to a Label Studio server through the SDK.

The server is, in order: ``LABEL_STUDIO_URL`` with ``LABEL_STUDIO_API_KEY`` from the
environment (a legacy token or a personal access token: the SDK tells them apart, a
JWT refresh token is exchanged for access tokens), else the server that
``safecal labelstudio start`` runs for the workspace (its token is read from
``<workspace>/labelstudio/credentials.json``, mode 0600). Keys never reach logs,
messages or the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.server import server_status

WORKSPACE_SERVER = "workspace"


@dataclass
class Connection:
    """A checked connection: the server URL and an SDK client (the key is not shown)."""

    url: str
    api_key: str = field(repr=False)
    user_email: str = ""
    user_id: int = 0
    #: the user's active organization: the one the API serves (see
    #: :mod:`annotate.labelstudio.organizations`)
    organization_id: int = 0
    #: how the workspace names this server in its ls_* tables: ``"workspace"`` for the
    #: workspace's own server (its port changes from start to start), else the URL
    server_key: str = ""
    _client: Any = field(default=None, repr=False)

    @property
    def client(self) -> Any:
        """The ``label_studio_sdk.LabelStudio`` client (imported on first use)."""
        if self._client is None:
            from label_studio_sdk import LabelStudio

            self._client = LabelStudio(base_url=self.url, api_key=self.api_key, timeout=600)
        return self._client

    def headers(self) -> dict[str, str]:
        """Authorization headers for direct HTTP calls (the SDK resolves the token kind)."""
        wrapper = self.client._client_wrapper
        return {k: v for k, v in wrapper.get_headers().items() if k.lower() == "authorization"}


def server_error(url: str, exc: BaseException) -> InputError:
    """A clear message for a server that cannot be reached or refuses us."""
    return InputError(
        f"cannot reach Label Studio at {url} ({type(exc).__name__}: {exc}); start it with "
        "`safecal labelstudio start`, or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
        "to a running server"
    )


def connect_to(url: str, api_key: str, *, server_key: str | None = None) -> Connection:
    """Connect to ``url`` with ``api_key`` and check both by asking who we are.

    ``server_key`` names the server in the workspace (default: the URL)."""
    url = url.rstrip("/")
    conn = Connection(url=url, api_key=api_key, server_key=server_key or url)
    try:
        from label_studio_sdk.core.api_error import ApiError

        try:
            me = conn.client.users.whoami()
        except ApiError as exc:
            if exc.status_code in (401, 403):
                raise InputError(
                    f"Label Studio at {url} refused the API key (HTTP {exc.status_code}); "
                    "check LABEL_STUDIO_API_KEY (a legacy token or a personal access token)"
                ) from None
            raise server_error(url, exc) from None
    except httpx.HTTPError as exc:
        raise server_error(url, exc) from None
    conn.user_email = str(getattr(me, "email", "") or "")
    conn.user_id = int(getattr(me, "id", 0) or 0)
    conn.organization_id = int(getattr(me, "active_organization", 0) or 0)
    return conn


def connect(
    workspace_path: Path | None = None, *, url: str | None = None, api_key: str | None = None
) -> Connection:
    """The Label Studio to work with: explicit arguments, the environment, or the
    workspace's own server (see the module docstring)."""
    url = url or os.environ.get("LABEL_STUDIO_URL")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if url and api_key:
        return connect_to(url, api_key)
    if url and not api_key:
        raise InputError("LABEL_STUDIO_URL is set but LABEL_STUDIO_API_KEY is not; set both")
    if workspace_path is not None:
        info = server_status(Path(workspace_path))
        if info is not None:
            return connect_to(info.url, info.token, server_key=WORKSPACE_SERVER)
    raise InputError(
        "no Label Studio server: run `safecal labelstudio start` for this workspace, or set "
        "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"
    )
