"""Benchmark: a workspace on PostgreSQL versus SQLite, on the same machine in one run.

Target (issue 11): ingest of 1,000,000 responses and a cached rerun of 100,000
verdicts on PostgreSQL within 1.5x of SQLite. The server is a real PostgreSQL started
for the run (tests/postgres_server.py: Debian's postgresql, 127.0.0.1, fsync off as in
the tests; a production server with fsync on pays for its commits, which these few
large transactions barely feel).

    python tests/benchmarks/bench_postgres.py [--responses 1000000] [--cached 100000]

The ingest runs in a fresh process per backend (items first, not timed); the files are
bench_ingest.py's synthetic CSVs. The cached rerun is bench_judges.py's: the cache
filled beforehand, the rerun loads the responses, hashes the inputs and writes the
verdicts.
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

ROOT = Path(__file__).resolve().parents[2]
# ``tests`` is this repository's folder (a site-packages package of that name would
# otherwise win: the folder has no __init__.py)
_tests = types.ModuleType("tests")
_tests.__path__ = [str(ROOT / "tests")]
sys.modules["tests"] = _tests

from safecal.annotate.store import URL_FILE, runs  # noqa: E402
from safecal.calibrate import cache  # noqa: E402
from safecal.calibrate.judges.base import Verdict  # noqa: E402
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


def timed_cached_rerun(folder: Path, n: int) -> float:
    """Seconds of a cached rerun of ``n`` verdicts in the workspace at ``folder``."""
    replies = [(("vulnerability", "overrefusal")[k % 2], f"reply {k}") for k in range(n)]
    ws = make_workspace(folder, replies)
    judge = LLMJudge(model="fake", base_url="http://127.0.0.1:9/v1")  # never called
    cases = load_cases(ws)
    v = Verdict(label=None, valid=False, raw='{"rating": 1}', tokens_in=100, tokens_out=12)
    at, key = cache.now(), judge.config.key()
    with ws.transaction() as con:
        runs.insert_cache(con, [cache.row(key, judge.input_key(c), v, at) for c in cases])
    start = time.perf_counter()
    s = run_judge(ws, judge, cases=None)
    elapsed = time.perf_counter() - start
    assert s.n_cached == n and s.n_called == 0, s
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--cached", type=int, default=100_000)
    args = parser.parse_args()
    server = postgres_server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            os.chmod(folder, 0o755)
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
