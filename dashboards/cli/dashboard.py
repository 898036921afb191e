"""``safecal dashboard``: the Streamlit app over the workspace, in the foreground;
``safecal dashboard stop``: end the one serving a workspace (started here or by the demo)."""

from __future__ import annotations

import argparse

from safecal.annotate.cli.common import workspace_parent

#: the signals that stop the foreground dashboard like Ctrl-C does
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        parents=[workspace_parent()],
        help="open the dashboards (annotation, review, judge calibration, results, curation)",
        description="Run the Streamlit dashboard over the workspace until interrupted "
        "(Ctrl-C, SIGTERM or SIGHUP; the server is stopped with it). It binds to 127.0.0.1 "
        "unless --host says otherwise. `safecal dashboard stop` ends the dashboard serving "
        "a workspace from another terminal.",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: a free one)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.set_defaults(func=_dashboard)
    commands = parser.add_subparsers(dest="dashboard_command", metavar="COMMAND")
    stop = commands.add_parser(
        "stop",
        parents=[workspace_parent()],
        help="stop the dashboard serving the workspace (started by `safecal dashboard` or "
        "`safecal demo`)",
        description="Stop the dashboard serving the workspace, by the process id it recorded "
        "in <workspace>/dashboard.json (checked to be this app's server first).",
    )
    stop.set_defaults(func=_stop)


def _stop(args: argparse.Namespace) -> int:
    from safecal.annotate.cli.common import open_workspace
    from safecal.dashboards.launch import stop

    ws = open_workspace(args)
    if stop(ws.path):
        print(f"dashboard stopped (workspace {ws.location})")
    else:
        print(f"no dashboard was running for {ws.location}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    import signal

    from safecal.annotate.cli.common import open_workspace
    from safecal.dashboards.launch import launch, stop

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop the server too when we are told to stop

    ws = open_workspace(args)
    for name in STOP_SIGNALS:  # before the server starts: no moment leaves it behind
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)
    try:
        running = launch(ws.path, port=args.port, host=args.host, quiet=False)
        print(f"dashboard: {running.url}  (workspace {ws.location}; Ctrl-C stops it)", flush=True)
        return running.process.wait()
    except KeyboardInterrupt:
        stop(ws.path)  # the server this process started, by its recorded process id
        print("dashboard stopped")
        return 0
