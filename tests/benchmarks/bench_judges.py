"""Benchmarks for judges and tuning (issue 5). Run from the repo root:

    python tests/benchmarks/bench_judges.py [--requests 2000] [--rounds 5] [--cached 100000]
                                            [--scores 1000000] [--only throughput|cached|tuning]

1. Throughput: ``run_judge`` (what ``safecal calibrate run`` calls) against our local
   OpenAI-compatible server (a separate process, 20 ms latency per answer) at
   concurrency 64, versus a bare asyncio loop over the openai client sending the same
   messages at the same concurrency: the client as it comes (its default httpx
   transport: the obvious alternative, and the target's reference) and the same loop on
   the aiohttp transport safecal uses (so our own overhead shows apart from the
   transport's). Rounds rotate the order of the three paths; each measured run is
   preceded by a 300-request warm-up of the same path; the machine is shared, so the
   median ratio is the figure. Target: at least 90% of the bare loop.
2. A cached rerun of 100,000 verdicts (the cache filled beforehand). Target: < 10 s.
3. Threshold tuning with 5-fold cross-validation on 1,000,000 scores, versus one fold of
   a loop over 99 thresholds with scikit-learn's ``cohen_kappa_score``. Target: < 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# ``tests`` is this repository's folder (a site-packages package of that name would
# otherwise win: the folder has no __init__.py)
_tests = types.ModuleType("tests")
_tests.__path__ = [str(ROOT / "tests")]
sys.modules["tests"] = _tests

from safecal.annotate.store import runs  # noqa: E402
from safecal.calibrate import cache  # noqa: E402
from safecal.calibrate.judges.llm import LLMJudge  # noqa: E402
from safecal.calibrate.runner import load_cases, run_judge  # noqa: E402
from tests.calibrate.judges_support import make_workspace  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/calibrate/fake_openai.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = int(line.split()[1])
    return proc, f"http://127.0.0.1:{port}/v1"


async def bare_loop(
    base_url: str, messages: list[list[dict]], concurrency: int, *, aiohttp: bool = False
) -> float:
    import openai

    http_client = openai.DefaultAioHttpClient() if aiohttp else None
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="x", max_retries=0, http_client=http_client
    )
    sem = asyncio.Semaphore(concurrency)

    async def one(m: list[dict]) -> None:
        async with sem:
            await client.chat.completions.create(
                model="fake",
                messages=m,
                temperature=0,
                max_tokens=200,
                logprobs=True,
                top_logprobs=5,
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(m) for m in messages))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def bench_throughput(n: int, concurrency: int, latency: float, reps: int) -> None:
    proc, base_url = start_server(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            replies = [
                (("vulnerability", "overrefusal")[k % 2], f"reply {k} [[rate={1 + k % 3}]]")
                for k in range(n)
            ]
            ws = make_workspace(Path(tmp) / "ws", replies)
            judge = LLMJudge(model="fake", base_url=base_url)
            cases = load_cases(ws)
            messages = [judge.messages(c) for c in cases]
            warmup = min(300, n)

            def bare(aiohttp: bool) -> float:
                asyncio.run(bare_loop(base_url, messages[:warmup], concurrency, aiohttp=aiohttp))
                return n / asyncio.run(bare_loop(base_url, messages, concurrency, aiohttp=aiohttp))

            def ours() -> float:
                for subset in (cases[:warmup], cases):  # a warm-up, then the measured run
                    with ws.transaction() as con:  # each run starts from an empty cache
                        con.execute("DELETE FROM verdicts")
                        con.execute("DELETE FROM judge_cache")
                    s = run_judge(
                        ws,
                        LLMJudge(model="fake", base_url=base_url),
                        cases=subset,
                        concurrency=concurrency,
                    )
                assert s.n_called == n, s
                return n / s.seconds

            paths = {"bare": lambda: bare(False), "bare_aiohttp": lambda: bare(True), "ours": ours}
            order = list(paths)
            rows = []
            for rep in range(reps):
                rate = {name: paths[name]() for name in order[rep % 3 :] + order[: rep % 3]}
                rows.append(rate)
                print(
                    f"  round {rep + 1}: bare openai loop {rate['bare']:.0f} req/s, same loop "
                    f"on aiohttp {rate['bare_aiohttp']:.0f} req/s, safecal run_judge "
                    f"{rate['ours']:.0f} req/s ({100 * rate['ours'] / rate['bare']:.0f}% / "
                    f"{100 * rate['ours'] / rate['bare_aiohttp']:.0f}%)",
                    flush=True,
                )

            def median(values: list[float]) -> float:
                return float(np.median(values))

            print(
                f"throughput, {n} requests x {reps} rounds, concurrency {concurrency}, server "
                f"latency {latency * 1000:.0f} ms: median rates bare "
                f"{median([r['bare'] for r in rows]):.0f}, bare on aiohttp "
                f"{median([r['bare_aiohttp'] for r in rows]):.0f}, safecal "
                f"{median([r['ours'] for r in rows]):.0f} req/s; median ratio safecal / bare "
                f"{100 * median([r['ours'] / r['bare'] for r in rows]):.0f}% (target >= 90%), "
                f"safecal / bare on the same transport "
                f"{100 * median([r['ours'] / r['bare_aiohttp'] for r in rows]):.0f}%"
            )
    finally:
        proc.terminate()
        proc.wait(10)


def bench_cached(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        replies = [(("vulnerability", "overrefusal")[k % 2], f"reply {k}") for k in range(n)]
        ws = make_workspace(Path(tmp) / "ws", replies)
        judge = LLMJudge(model="fake", base_url="http://127.0.0.1:9/v1")  # never called
        cases = load_cases(ws)
        from safecal.calibrate.judges.base import Verdict

        v = Verdict(label=None, valid=False, raw='{"rating": 1}', tokens_in=100, tokens_out=12)
        at = cache.now()
        key = judge.config.key()
        with ws.transaction() as con:
            runs.insert_cache(con, [cache.row(key, judge.input_key(c), v, at) for c in cases])
        start = time.perf_counter()
        s = run_judge(ws, judge, cases=None)
        elapsed = time.perf_counter() - start
        assert s.n_cached == n and s.n_called == 0, s
        print(f"cached rerun of {n} verdicts (loading the responses included): {elapsed:.2f} s")


def bench_tuning(n: int) -> None:
    from sklearn.metrics import cohen_kappa_score

    from safecal.calibrate.tuning import tune_threshold_cv

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    start = time.perf_counter()
    result = tune_threshold_cv(y, s, objective="kappa", folds=5, n_boot=1000)
    ours = time.perf_counter() - start
    train = np.arange(n) % 5 != 0
    start = time.perf_counter()
    best = max(
        cohen_kappa_score(y[train], (s[train] >= t).astype(int))
        for t in np.linspace(0.01, 0.99, 99)
    )
    grid = time.perf_counter() - start
    print(
        f"threshold tuning, {n} scores: exact search with 5-fold CV and out-of-fold metrics "
        f"{ours:.2f} s (threshold {result.threshold:.4f}, kappa {result.choice.value:.4f}); "
        f"scikit-learn kappa over a 99-threshold grid, one fold: {grid:.2f} s "
        f"(best kappa {best:.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--cached", type=int, default=100_000)
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["throughput", "cached", "tuning"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if args.only in (None, "throughput"):
        bench_throughput(args.requests, args.concurrency, args.latency, args.rounds)
    if args.only in (None, "cached"):
        bench_cached(args.cached)
    if args.only in (None, "tuning"):
        bench_tuning(args.scores)


if __name__ == "__main__":
    main()
