"""``safecal labelstudio start | stop | status``: the workspace's local Label Studio."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from safecal.annotate.cli.common import open_workspace, workspace_parent
from safecal.annotate.cli.options import whole

if TYPE_CHECKING:
    from safecal.annotate.labelstudio.server import ServerInfo


def _print_login(info: ServerInfo, *, header: str) -> None:
    print(header)
    print(f"  URL:      {info.url}")
    print(f"  login:    {info.email}")
    print(f"  password: {info.password}")
    print(
        "  (the API token and password are kept in "
        f"{info.data_dir.parent / 'credentials.json'}, readable by you only)"
    )


def _start(args: argparse.Namespace) -> int:
    from safecal.annotate.labelstudio.server import START_TIME, server_status, start_server

    ws = open_workspace(args, create=True)
    running = server_status(ws.path)
    if running is not None:
        _print_login(running, header="Label Studio is already running:")
        return 0
    print(f"starting Label Studio ({START_TIME}) ...", flush=True)
    database = args.database or os.environ.get("SAFECAL_LABELSTUDIO_DATABASE") or None
    info = start_server(ws.path, images_dir=ws.images_dir, port=args.port, database=database)
    _print_login(info, header=f"Label Studio is running (pid {info.pid}):")
    print("stop it with `safecal labelstudio stop`")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from safecal.annotate.labelstudio.server import stop_server

    ws = open_workspace(args)
    if stop_server(ws.path):
        print("Label Studio stopped")
    else:
        print("no Label Studio was running for this workspace")
    return 0


def _status(args: argparse.Namespace) -> int:
    from safecal.annotate.labelstudio.server import server_status

    ws = open_workspace(args)
    info = server_status(ws.path)
    if info is None:
        print(
            "Label Studio is not running for this workspace (start it with "
            "`safecal labelstudio start`)"
        )
        return 1
    print(f"Label Studio is running (pid {info.pid}) at {info.url}; login {info.email}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "labelstudio", help="start/stop/status of the workspace's local Label Studio"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = workspace_parent()
    p = sub.add_parser(
        "start", parents=[parent], help="start Label Studio on 127.0.0.1 (data under the workspace)"
    )
    p.add_argument(
        "--port", type=whole(1, "TCP port"), default=None, help="port (default: one the OS picks)"
    )
    p.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="run Label Studio on PostgreSQL: postgresql://user:password@host:port/name "
        "(default: SQLite under the workspace; or set SAFECAL_LABELSTUDIO_DATABASE to keep "
        "the password off the command line); kept for later starts",
    )
    p.set_defaults(func=_start)
    p = sub.add_parser("stop", parents=[parent], help="stop the server this workspace started")
    p.set_defaults(func=_stop)
    p = sub.add_parser("status", parents=[parent], help="is the workspace's server running?")
    p.set_defaults(func=_status)
