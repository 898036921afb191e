"""Dashboard render times on a large workspace. Run from the repo root:

    python tests/benchmarks/bench_dashboard.py [--responses 100000] [--annotations 10000]

Builds a workspace with ``--responses`` responses (1,000 items x 50 target models x 2
languages), ``--annotations`` human labels (3 annotators per labeled response), gold labels
on the labeled responses, 300 units waiting for review and one scored judge run over every
response. Then renders every page with Streamlit's AppTest (the same page scripts the app
runs), after a warm-up render on an empty path so that imports are not counted:

* ``first``: the first render, cache empty (what the first viewer waits for);
* ``rerun``: the same session again (what every widget change costs);
* ``again``: a new session on the same workspace (another viewer; cache filled);
* ``no cache``: the same with ``SAFECAL_DASHBOARD_CACHE=0`` (a child process), i.e.
  every render recomputes like the first one.

Target: the first render of each page under 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from safecal.annotate import Workspace  # noqa: E402

PAGES = ("annotation", "review", "calibration", "results")
CATEGORIES = ("Ethical Safety", "Public Safety", "Personal Safety")
MODALITIES = ("RIRT", "RIST", "SIRT", "SIST")
SCALE = {
    "vulnerability": ("harmfulness", ("unsafe", "safe_with_warning", "safe_with_refusal")),
    "overrefusal": ("refusal", ("full_compliance", "partial_refusal", "full_refusal")),
}


def build(path: Path, n_responses: int, n_annotations: int, seed: int = 0) -> Workspace:
    rng = np.random.default_rng(seed)
    ws = Workspace.open(path)
    now = "2026-01-01T00:00:00+00:00"
    n_items = 1000
    models = [f"model-{m:02d}" for m in range(max(1, n_responses // (2 * n_items)))]
    items, responses = [], []
    for i in range(n_items):
        aspect = "vulnerability" if i % 2 == 0 else "overrefusal"
        mod = MODALITIES[i % 4]
        items.append(
            (
                str(i),
                f"query {i}",
                f"问题 {i}",
                None,
                None,
                aspect,
                CATEGORIES[(i // 4) % 3],
                "l2",
                "l3",
                int(mod[1] == "R" and mod[0] == "R"),
                int(mod[3] == "R" or mod == "SIRT"),
                mod,
                None,
                None,
                "bench",
                "h",
                now,
            )
        )
    for m in models:
        for i in range(n_items):
            for lang in ("en", "zh"):
                responses.append(
                    (
                        f"{i}|{m}|{lang}",
                        str(i),
                        m,
                        lang,
                        f"response of {m} to {i}",
                        None,
                        None,
                        None,
                        "bench",
                        "h",
                        now,
                    )
                )
    labeled = rng.choice(len(responses), size=n_annotations // 3, replace=False)
    truth = rng.integers(0, 3, size=len(responses))
    annotations, gold, reviews = [], [], []
    for k, idx in enumerate(labeled):
        rid, item = responses[idx][0], responses[idx][1]
        field, scale = SCALE[items[int(item)][5]]
        labels = [
            scale[truth[idx]] if rng.random() < 0.8 else scale[rng.integers(0, 3)] for _ in range(3)
        ]
        for a, lab in zip(("ann_a", "ann_b", "ann_c"), labels, strict=True):
            annotations.append((rid, item, a, field, lab, float(rng.gamma(4, 5)), now))
        if k < 300:
            reviews.append((rid, field, "disagreement", now))
        else:
            gold.append((rid, field, max(set(labels), key=labels.count), "majority", now))
    verdicts = []
    for idx, r in enumerate(responses):
        field, scale = SCALE[items[int(r[1])][5]]
        positive = truth[idx] == 0 if field == "harmfulness" else truth[idx] > 0
        score = float(np.clip(0.6 * positive + 0.4 * rng.random(), 0, 1))
        verdicts.append(
            (
                "bench-run",
                r[0],
                field,
                scale[truth[idx]] if rng.random() < 0.85 else scale[rng.integers(0, 3)],
                1,
                score,
            )
        )
    with ws.transaction() as con:
        con.executemany(f"INSERT INTO items VALUES ({', '.join('?' * 17)})", items)
        con.executemany(f"INSERT INTO responses VALUES ({', '.join('?' * 11)})", responses)
        con.executemany(
            "INSERT INTO annotations (response_id, item_id, annotator, field, label,"
            " lead_time, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            annotations,
        )
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at)"
            " VALUES (?, ?, ?, ?, ?)",
            gold,
        )
        con.executemany(
            "INSERT INTO reviews (response_id, field, reason, created_at) VALUES (?, ?, ?, ?)",
            reviews,
        )
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES "
            "('bench-run', 'bench-judge', 'imported', ?)",
            (now,),
        )
        con.executemany(
            "INSERT INTO verdicts (run_id, response_id, field, label, valid, score)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            verdicts,
        )
    return ws


def session(page: str, workspace: str) -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(
        str(ROOT / "dashboards" / "app_pages" / f"{page}.py"), default_timeout=600
    )
    at.session_state["workspace"] = workspace
    # the gold here comes from no sample: declare it random (calibrate.rows), as a user would,
    # so the Judge calibration and Results pages compute on it instead of setting it aside
    at.session_state["assume_random"] = True
    return at


def timed(at: object) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{at.exception[0].value}")
    return elapsed


def measure(workspace: str, warm: str) -> dict[str, dict[str, float]]:
    """Per page, in this process (cache as the environment says): the first render, a
    rerun in the same session (what each widget change costs) and a new session.

    Every page is first rendered on the small ``warm`` workspace, so that the one-time
    imports of the server process (scipy, scikit-learn, altair, ...) are not counted."""
    for page in PAGES:
        timed(session(page, workspace + "-absent"))
        timed(session(page, warm))
    # the floor: a new session of a page that only reports a missing workspace
    out: dict[str, dict[str, float]] = {
        "(floor)": {"first": min(timed(session("review", workspace + "-absent")) for _ in range(3))}
    }
    for page in PAGES:
        at = session(page, workspace)
        first = timed(at)
        out[page] = {"first": first, "rerun": timed(at), "again": timed(session(page, workspace))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=10_000)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ws = build(Path(tmp) / "ws", args.responses, args.annotations)
        warm = build(Path(tmp) / "warm", 10_000, 1_500, seed=1)
        n_resp = int(ws.read_sql("SELECT COUNT(*) FROM responses").iloc[0, 0])
        n_ann = int(ws.read_sql("SELECT COUNT(*) FROM annotations").iloc[0, 0])
        print(
            f"workspace: {n_resp:,} responses, {n_ann:,} annotations, built in "
            f"{time.perf_counter() - start:.1f} s"
        )
        results = {}
        for mode, cache in (("cached", "1"), ("no cache", "0")):
            env = dict(os.environ, SAFECAL_DASHBOARD_CACHE=cache)
            done = subprocess.run(
                [sys.executable, __file__, "--measure", str(ws.path), str(warm.path)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"\n{'page':<12} {'first':>8} {'rerun':>8} {'new session':>12} "
        f"{'rerun, no cache':>16} {'speed-up':>9}"
    )
    for page in PAGES:
        c, n = results["cached"][page], results["no cache"][page]
        print(
            f"{page:<12} {c['first']:>6.2f} s {c['rerun']:>6.2f} s {c['again']:>10.2f} s "
            f"{n['rerun']:>14.2f} s {n['rerun'] / c['rerun']:>8.0f}x"
        )
    worst = max(results["cached"][p]["first"] for p in PAGES)
    floor = results["cached"]["(floor)"]["first"]
    print(
        f"\nslowest first render: {worst:.2f} s (target < 3 s); AppTest's own cost of a new "
        f"session (a page that only reports a missing workspace): {floor:.2f} s"
    )


if __name__ == "__main__":
    main()
