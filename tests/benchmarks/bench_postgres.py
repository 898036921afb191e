"""Benchmark: a workspace on PostgreSQL versus SQLite, on the same machine in one run.

Target (issue 11): ingest of 1,000,000 responses and a cached rerun of 100,000
verdicts on PostgreSQL within 1.5x of SQLite. The server is a real PostgreSQL started
for the run (tests/postgres_server.py: Debian's postgresql, 127.0.0.1, fsync off as in
the tests; a production server with fsync on pays for its commits, which these few
large transactions barely feel).

    python tests/benchmarks/bench_postgres.py [--responses 1000000] [--cached 100000]
    python tests/benchmarks/bench_postgres.py --references [--cached 100000]

The ingest runs in a fresh process per backend (items first, not timed); the files are
bench_ingest.py's synthetic CSVs. The cached rerun is bench_judges.py's: the cache
filled beforehand, the rerun loads the responses, hashes the inputs and writes the
verdicts.

``--references`` compares, on one PostgreSQL database, how the references of
``verdicts`` are checked: schema version 7's triggers (once per statement) against the
per-row foreign keys they replaced, for the cached rerun and for a local judge's write of
10,000 verdicts and 1,000 one-verdict transactions (a remote judge's commits at worst),
in a session that has run a large statement (a plan it cached must not slow small ones).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# ``tests`` is this repository's folder (a site-packages package of that name would
# otherwise win: the folder has no __init__.py)
_tests = types.ModuleType("tests")
_tests.__path__ = [str(ROOT / "tests")]
sys.modules["tests"] = _tests

from safecal.annotate.store import URL_FILE, Workspace, runs  # noqa: E402
from safecal.calibrate import cache  # noqa: E402
from safecal.calibrate.judges.base import Case, Verdict  # noqa: E402
from safecal.calibrate.judges.llm import LLMJudge  # noqa: E402
from safecal.calibrate.runner import load_cases, run_judge  # noqa: E402
from tests import postgres_server  # noqa: E402
from tests.benchmarks.bench_ingest import make_items, make_responses  # noqa: E402
from tests.calibrate.judges_support import make_workspace  # noqa: E402


def timed_ingest(workspace: str, items: Path, responses: Path, files: Path) -> float:
    """Seconds to ingest ``responses`` into ``workspace`` (a folder or a URL), in a
    fresh process after its items."""
    code = (
        "import os, sys, time\n"
        f"os.environ['SAFECAL_FILES'] = {str(files)!r}\n"
        "from safecal.annotate import Workspace, ingest_items, ingest_responses\n"
        f"ws = Workspace.open({workspace!r})\n"
        f"ingest_items(ws, {str(items)!r})\n"
        "t = time.perf_counter()\n"
        f"ingest_responses(ws, {str(responses)!r})\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT.parent))}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return float(done.stdout.split()[-1])


def cached_workspace(folder: Path, n: int) -> tuple[Workspace, LLMJudge]:
    """A workspace at ``folder`` with ``n`` responses whose verdicts the judge's cache
    holds (the judge is never called)."""
    replies = [(("vulnerability", "overrefusal")[k % 2], f"reply {k}") for k in range(n)]
    ws = make_workspace(folder, replies)
    judge = LLMJudge(model="fake", base_url="http://127.0.0.1:9/v1")
    cases = load_cases(ws)
    v = Verdict(label=None, valid=False, raw='{"rating": 1}', tokens_in=100, tokens_out=12)
    at, key = cache.now(), judge.config.key()
    with ws.transaction() as con:
        runs.insert_cache(con, [cache.row(key, judge.input_key(c), v, at) for c in cases])
    return ws, judge


def timed_rerun(ws: Workspace, judge: LLMJudge, n: int, run_id: str | None = None) -> float:
    """Seconds of a cached rerun of ``n`` verdicts (into ``run_id``, default the judge's)."""
    start = time.perf_counter()
    s = run_judge(ws, judge, cases=None, run_id=run_id)
    elapsed = time.perf_counter() - start
    assert s.n_cached == n and s.n_called == 0, s
    return elapsed


def timed_cached_rerun(folder: Path, n: int) -> float:
    """Seconds of a cached rerun of ``n`` verdicts in a new workspace at ``folder``."""
    return timed_rerun(*cached_workspace(folder, n), n)


#: schema version 7's triggers on ``verdicts`` (annotate/store/schema.py) and the two
#: foreign keys they replaced, to compare the two on one database
_TO_FOREIGN_KEYS = (
    "DROP TRIGGER verdicts_refs ON verdicts",
    "DROP TRIGGER verdicts_key_update ON verdicts",
    "ALTER TABLE verdicts ADD FOREIGN KEY (run_id) REFERENCES judge_runs (run_id), "
    "ADD FOREIGN KEY (response_id) REFERENCES responses (response_id)",
)


def timed_writes(ws: Workspace, run_id: str, cases: list[Case]) -> tuple[float, float]:
    """Seconds of ``runs.insert_verdicts`` writing new verdicts for ``cases`` into run
    ``run_id``: in one call (a local judge's write) and one call per verdict, each its own
    transaction (a remote judge's commits, at worst), the latter into ``run_id-one``. The
    session first wrote a verdict for every response in one statement, so any plan it
    cached is a large statement's."""
    big, one = f"{run_id}-big", f"{run_id}-one"
    con = ws.connect()

    def rows(run: str, chosen: list[Case]) -> list[tuple[Any, ...]]:
        return [(run, c.response_id, c.field, None, 0, None, "x", 0, 0, 0.0) for c in chosen]

    try:
        con.execute("BEGIN IMMEDIATE")
        for run in (big, run_id, one):
            runs.start_run(
                con,
                run_id=run,
                judge="bench",
                kind="llm",
                model=None,
                prompt_version=None,
                params="{}",
                started_at=cache.now(),
            )
        con.execute(
            "INSERT INTO verdicts (run_id, response_id, field, valid) "
            "SELECT ?, response_id, 'harmfulness', 0 FROM responses",
            (big,),
        )
        con.execute("COMMIT")
        start = time.perf_counter()
        runs.in_transaction(con, lambda: runs.insert_verdicts(con, rows(run_id, cases)))
        batch = time.perf_counter() - start
        start = time.perf_counter()
        for row in rows(one, cases[:1000]):
            runs.in_transaction(con, lambda row=row: runs.insert_verdicts(con, [row]))
        return batch, time.perf_counter() - start
    finally:
        con.close()


def compare_references(folder: Path, url: str, n: int, *, repeats: int = 3) -> None:
    """On one PostgreSQL database: the cached rerun of ``n`` verdicts and the writes of
    :func:`timed_writes`, with the triggers of schema version 7 and then with the per-row
    foreign keys they replaced (``verdicts`` emptied before each run)."""
    folder.mkdir()
    (folder / URL_FILE).write_text(url)
    ws, judge = cached_workspace(folder, n)
    cases = load_cases(ws)[:10_000]
    figures: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for checks in ("triggers", "foreign keys"):
        if checks == "foreign keys":
            with ws.transaction() as con:
                con.execute("TRUNCATE verdicts")
                for statement in _TO_FOREIGN_KEYS:
                    con.execute(statement)
        reruns, batches, ones = [], [], []
        for k in range(repeats):
            with ws.transaction() as con:
                con.execute("TRUNCATE verdicts")
            reruns.append(timed_rerun(ws, judge, n, run_id=f"bench-{k}"))
            batch, one = timed_writes(ws, f"bench-{k}-writes", cases)
            batches.append(batch)
            ones.append(one)
        figures[checks] = (reruns, batches, ones)
    for checks, (reruns, batches, ones) in figures.items():
        print(
            f"verdict references by {checks}: cached rerun of {n:,} verdicts "
            f"{_seconds(reruns)}; then, in one session after a large statement, "
            f"10,000 verdicts in one write {_seconds(batches)}, "
            f"1,000 one-verdict transactions {_seconds(ones)}"
        )


def _seconds(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times) + " s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--cached", type=int, default=100_000)
    parser.add_argument(
        "--references",
        action="store_true",
        help="instead: on PostgreSQL, the triggers of schema version 7 against the foreign "
        "keys they replaced",
    )
    args = parser.parse_args()
    server = postgres_server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            os.chmod(folder, 0o755)
            if args.references:
                url = server.create_database(name="references")
                compare_references(folder / "references", url, args.cached)
                return
            if args.responses:  # 0: the cached rerun alone
                items, responses = make_items(folder), make_responses(folder, args.responses)
                lite = timed_ingest(str(folder / "lite"), items, responses, folder / "unused")
                url = server.create_database(name="ingest")
                pg = timed_ingest(url, items, responses, folder / "pg-files")
                print(
                    f"ingest of {args.responses:,} responses: SQLite {lite:.1f} s, "
                    f"PostgreSQL {pg:.1f} s, ratio {pg / lite:.2f}"
                )
                responses.unlink()
            lite = timed_cached_rerun(folder / "lite-cache", args.cached)
            (folder / "pg-cache").mkdir()
            (folder / "pg-cache" / URL_FILE).write_text(server.create_database(name="cache"))
            pg = timed_cached_rerun(folder / "pg-cache", args.cached)
            print(
                f"cached rerun of {args.cached:,} verdicts: SQLite {lite:.2f} s, "
                f"PostgreSQL {pg:.2f} s, ratio {pg / lite:.2f}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
