"""``safecal dashboard``: the Streamlit app over the workspace, in the foreground."""

from __future__ import annotations

import argparse

from safecal.annotate.cli.common import workspace_parent


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        parents=[workspace_parent()],
        help="open the dashboards (annotation, review, judge calibration, results, curation)",
        description="Run the Streamlit dashboard over the workspace until interrupted "
        "(Ctrl-C). It binds to 127.0.0.1 unless --host says otherwise.",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: a free one)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.set_defaults(func=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    import signal

    from safecal.annotate.cli.common import open_workspace
    from safecal.dashboards.launch import launch

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop the server too when we are told to stop

    ws = open_workspace(args)
    running = launch(ws.path, port=args.port, host=args.host, quiet=False)
    signal.signal(signal.SIGTERM, _terminate)
    print(f"dashboard: {running.url}  (workspace {ws.path}; Ctrl-C stops it)", flush=True)
    try:
        return running.process.wait()
    except KeyboardInterrupt:
        running.stop()
        print("dashboard stopped")
        return 0
