"""Benchmark: safecal push / pull against the bare SDK on the same real Label Studio.

    python tests/benchmarks/bench_labelstudio.py [--n 10000] [--reps 3] [--template DIR]

* push: ``annotate.push`` of an n-task sample (one project) against one
  ``projects.import_tasks`` call of the same n task dicts into a fresh project;
* pull: ``annotate.pull`` (export, normalise, store the long table) of a project of n
  annotated tasks against one ``projects.exports.download_sync`` JSON export + parse.

Both sides run alternately on the same server; medians over ``--reps`` are printed
with the ratio safecal / SDK (target: <= 1.3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# tests/ is not a package, and an installed package named ``tests`` may shadow it
sys.path.insert(0, str(ROOT / "tests" / "annotate"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from fixtures import populate  # noqa: E402

from safecal.annotate.assign import plan_assignments  # noqa: E402
from safecal.annotate.labelstudio.client import connect_to  # noqa: E402
from safecal.annotate.labelstudio.configs import label_config  # noqa: E402
from safecal.annotate.labelstudio.pull import pull  # noqa: E402
from safecal.annotate.labelstudio.push import _units, push, task_data  # noqa: E402
from safecal.annotate.labelstudio.server import start_server, stop_server  # noqa: E402
from safecal.annotate.sampling import draw_sample  # noqa: E402


def _annotated(units, user_id: int) -> list[dict]:
    return [
        {
            "data": task_data(r, ""),
            "annotations": [
                {
                    "result": [
                        {
                            "from_name": "harmfulness",
                            "to_name": "response",
                            "type": "choices",
                            "value": {"choices": ["unsafe" if i % 3 else "safe_with_warning"]},
                        }
                    ],
                    "completed_by": user_id,
                    "lead_time": 3.0,
                }
            ],
        }
        for i, r in enumerate(units.itertuples())
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--template",
        type=Path,
        default=None,
        help="a stopped server's labelstudio/ folder to start from (skips the first migration)",
    )
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-ls-"))
    # n responses, all vulnerability items, so each sample is one project
    ws = populate(
        base / "ws",
        n_items=args.n // 2,
        languages=("en",),
        with_images=False,
        aspects=("vulnerability",),
    )
    print(f"workspace {ws.path}: {args.n} responses; starting Label Studio ...", flush=True)
    info = start_server(ws.path, images_dir=ws.images_dir, template=args.template)
    try:
        conn = connect_to(info.url, info.token, server_key="workspace")
        ls = conn.client
        sdk_push, our_push, sdk_pull, our_pull = [], [], [], []
        for rep in range(args.reps):
            sid = f"bench{rep}"
            draw_sample(ws, n=args.n, by=(), seed=rep, sample_id=sid)
            plan_assignments(ws, sid, ["bench@x.org"], overlap=0, honeypot_rate=0, seed=rep)
            units = _units(ws, sid)
            data = [task_data(r, "") for r in units.itertuples()]

            def sdk_push_once(rep: int = rep, data: list = data) -> None:  # bare SDK, one call
                t = time.perf_counter()
                project = ls.projects.create(
                    title=f"sdk push {rep}", label_config=label_config("harmfulness")
                )
                ls.projects.import_tasks(project.id, request=data, return_task_ids=True)
                sdk_push.append(time.perf_counter() - t)

            def our_push_once(sid: str = sid):  # noqa: ANN202
                t = time.perf_counter()
                report = push(ws, conn, sid, images="inline")
                our_push.append(time.perf_counter() - t)
                return report

            # alternate which side goes first, so neither always meets a warmer server
            if rep % 2:
                report = our_push_once()
                sdk_push_once()
            else:
                sdk_push_once()
                report = our_push_once()
            assert report.created == args.n
            # pull: a project of n annotated tasks, known to the workspace as this sample's
            pid = report.projects[("bench@x.org", "harmfulness")]
            ls.projects.delete(pid)
            annotated = ls.projects.create(
                title=f"annotated {rep}", label_config=label_config("harmfulness")
            )
            ls.projects.import_tasks(annotated.id, request=_annotated(units, conn.user_id))
            with ws.transaction() as con:
                con.execute(
                    "UPDATE ls_projects SET project_id = ? WHERE project_id = ?",
                    (annotated.id, pid),
                )

            def sdk_pull_once(annotated=annotated) -> int:  # noqa: ANN001
                t = time.perf_counter()
                raw = b"".join(
                    ls.projects.exports.download_sync(
                        annotated.id, export_type="JSON", download_all_tasks=True
                    )
                )
                n = sum(len(task["annotations"]) for task in json.loads(raw))
                sdk_pull.append(time.perf_counter() - t)
                return n

            def our_pull_once(sid: str = sid):  # noqa: ANN202
                t = time.perf_counter()
                got = pull(ws, conn, sample_id=sid, full=True)
                our_pull.append(time.perf_counter() - t)
                return got

            if rep % 2:
                got = our_pull_once()
                n_sdk = sdk_pull_once()
            else:
                n_sdk = sdk_pull_once()
                got = our_pull_once()
            assert got.rows == n_sdk == args.n, (got, n_sdk)
            print(
                f"rep {rep}: push sdk {sdk_push[-1]:.2f}s safecal {our_push[-1]:.2f}s | "
                f"pull sdk {sdk_pull[-1]:.2f}s safecal {our_pull[-1]:.2f}s",
                flush=True,
            )
        for name, sdk, ours in (("push", sdk_push, our_push), ("pull", sdk_pull, our_pull)):
            s, o = statistics.median(sdk), statistics.median(ours)
            paired = statistics.median(b / a for a, b in zip(sdk, ours, strict=True))
            print(
                f"{name} {args.n} tasks: bare SDK {s:.2f} s, safecal {o:.2f} s (medians); "
                f"median paired ratio {paired:.2f} (target <= 1.3)"
            )
    finally:
        stop_server(ws.path)


if __name__ == "__main__":
    main()
