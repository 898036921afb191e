"""Benchmark: an incremental ``annotate pull`` against a full export with the bare SDK.

    python tests/benchmarks/bench_labelstudio_incremental.py [--n 50000] [--new 1000]
        [--reps 3] [--template DIR]

One project holds ``n`` annotated tasks (imported) and ``new * reps`` tasks still to
label; the workspace pulls it once in full (which stores the cursor) and once
incrementally (which re-reads, once, the tasks stamped in the import's last second: a
bulk import stamps thousands of tasks within the cursor's margin). Then, per
repetition, ``new`` annotations are made one by one through the API, as labeling
adds them, and the same server is asked, alternately, for ``annotate.pull``
(incremental: only the tasks changed since the cursor) and for one bare-SDK
``projects.exports.download_sync`` JSON export of the whole project plus
``json.loads`` (what every pull cost before). Medians and the ratio SDK / safecal are
printed (target: >= 10).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# tests/ is not a package, and an installed package named ``tests`` may shadow it
sys.path.insert(0, str(ROOT / "tests" / "annotate"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from bench_labelstudio import _annotated  # noqa: E402
from fixtures import populate  # noqa: E402

from safecal.annotate.assign import plan_assignments  # noqa: E402
from safecal.annotate.labelstudio.client import connect_to  # noqa: E402
from safecal.annotate.labelstudio.configs import label_config  # noqa: E402
from safecal.annotate.labelstudio.pull import CURSOR_MARGIN, pull  # noqa: E402
from safecal.annotate.labelstudio.push import _units  # noqa: E402
from safecal.annotate.labelstudio.server import start_server, stop_server  # noqa: E402
from safecal.annotate.sampling import draw_sample  # noqa: E402

RESULT = [
    {
        "from_name": "harmfulness",
        "to_name": "response",
        "type": "choices",
        "value": {"choices": ["unsafe"]},
    }
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--template", type=Path, default=None)
    args = parser.parse_args()
    total = args.n + args.new * args.reps
    base = Path(tempfile.mkdtemp(prefix="bench-ls-inc-"))
    t0 = time.perf_counter()
    ws = populate(
        base / "ws",
        n_items=total // 2 + 1,
        languages=("en",),
        with_images=False,
        aspects=("vulnerability",),
    )
    draw_sample(ws, n=total, by=(), seed=0, sample_id="inc")
    plan_assignments(ws, "inc", ["bench@x.org"], overlap=0, honeypot_rate=0, seed=0)
    units = _units(ws, "inc")
    print(f"workspace: {len(units)} units in {time.perf_counter() - t0:.0f} s", flush=True)
    info = start_server(ws.path, images_dir=ws.images_dir, template=args.template)
    try:
        conn = connect_to(info.url, info.token, server_key="workspace")
        ls = conn.client
        project = ls.projects.create(title="incremental", label_config=label_config("harmfulness"))
        with ws.transaction() as con:
            con.execute(
                "INSERT INTO ls_projects (server_url, project_id, sample_id, annotator,"
                " task_type, kind, title, created_at) VALUES ('workspace', ?, 'inc',"
                " 'bench@x.org', 'harmfulness', 'annotate', 'incremental', '')",
                (project.id,),
            )
        t = time.perf_counter()
        first = units.iloc[: args.n]
        for start in range(0, len(first), 10_000):
            ls.projects.import_tasks(
                project.id, request=_annotated(first.iloc[start : start + 10_000], conn.user_id)
            )
        todo = units.iloc[args.n :]
        made = ls.projects.import_tasks(
            project.id,
            request=[t["data"] for t in _annotated(todo, conn.user_id)],
            return_task_ids=True,
        )
        open_ids = [int(x) for x in made.task_ids or []]
        assert len(open_ids) == len(todo), (len(open_ids), len(todo))
        print(f"imported {len(units)} tasks in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        got = pull(ws, conn, sample_id="inc", full=True)
        print(f"first (full) pull of {args.n}: {time.perf_counter() - t:.2f} s", flush=True)
        assert got.rows == args.n, got
        time.sleep(CURSOR_MARGIN.total_seconds() + 1)
        t = time.perf_counter()
        warm = pull(ws, conn, sample_id="inc")
        print(
            f"first incremental pull (re-reads the import's last second, {warm.tasks} "
            f"tasks): {time.perf_counter() - t:.2f} s",
            flush=True,
        )
        http = httpx.Client(base_url=conn.url, headers=conn.headers(), timeout=60)
        sdk, ours = [], []
        for rep in range(args.reps):
            time.sleep(CURSOR_MARGIN.total_seconds() + 1)
            t = time.perf_counter()
            for task_id in open_ids[rep * args.new : (rep + 1) * args.new]:
                r = http.post(f"/api/tasks/{task_id}/annotations", json={"result": RESULT})
                assert r.status_code == 201, r.text
            print(f"rep {rep}: {args.new} annotations made in {time.perf_counter() - t:.0f} s")
            expected = args.n + (rep + 1) * args.new

            def sdk_once(expected: int = expected) -> None:
                t = time.perf_counter()
                raw = b"".join(
                    ls.projects.exports.download_sync(
                        project.id, export_type="JSON", download_all_tasks=True
                    )
                )
                n = sum(len(task["annotations"]) for task in json.loads(raw))
                sdk.append(time.perf_counter() - t)
                assert n == expected, (n, expected)

            def ours_once() -> None:
                t = time.perf_counter()
                rep_ = pull(ws, conn, sample_id="inc")
                ours.append(time.perf_counter() - t)
                assert rep_.incremental == 1 and rep_.tasks >= args.new, rep_
                print(f"  incremental pull read {rep_.tasks} tasks", flush=True)

            if rep % 2:
                ours_once()
                sdk_once()
            else:
                sdk_once()
                ours_once()
            stored = ws.read_sql("SELECT COUNT(*) AS n FROM annotations")["n"].iloc[0]
            assert stored == expected, (stored, expected)
            print(
                f"rep {rep}: full export (bare SDK) {sdk[-1]:.2f} s, "
                f"incremental pull {ours[-1]:.2f} s",
                flush=True,
            )
        http.close()
        s, o = statistics.median(sdk), statistics.median(ours)
        paired = statistics.median(a / b for a, b in zip(sdk, ours, strict=True))
        print(
            f"pull after {args.new} new annotations in a project of {args.n}+: full export "
            f"(bare SDK) {s:.2f} s, incremental pull {o:.2f} s (medians); median paired "
            f"speed-up {paired:.1f}x (target >= 10)"
        )
    finally:
        stop_server(ws.path)


if __name__ == "__main__":
    main()
