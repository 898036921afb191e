"""Benchmarks for judges and tuning (issue 5). Run from the repo root:

    python tests/benchmarks/bench_judges.py [--requests 2000] [--pairs 5] [--cached 100000]
                                            [--scores 1000000] [--only throughput|cached|tuning]

1. Throughput: ``run_judge`` (what ``safecal calibrate run`` calls) against our local
   OpenAI-compatible server (a separate process, 20 ms latency per answer) at
   concurrency 64, versus a bare asyncio loop over the openai client sending the same
   messages at the same concurrency, in alternating pairs, each measured run preceded by a
   300-request warm-up of the same path (the machine is shared, so the median ratio is
   the figure). Target: at least 90% of the bare loop.
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from calibrate import cache  # noqa: E402
from calibrate.judges.llm import LLMJudge  # noqa: E402
from calibrate.runner import load_cases, run_judge  # noqa: E402
from tests.calibrate.judges_support import make_workspace  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests/calibrate/fake_openai.py"),
                             "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = int(line.split()[1])
    return proc, f"http://127.0.0.1:{port}/v1"


async def bare_loop(base_url: str, messages: list[list[dict]], concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(m: list[dict]) -> None:
        async with sem:
            await client.chat.completions.create(model="fake", messages=m, temperature=0,
                                                 max_tokens=200, logprobs=True, top_logprobs=5)

    start = time.perf_counter()
    await asyncio.gather(*(one(m) for m in messages))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def bench_throughput(n: int, concurrency: int, latency: float, reps: int) -> None:
    proc, base_url = start_server(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            replies = [(("vulnerability", "overrefusal")[k % 2], f"reply {k} [[rate={1 + k % 3}]]")
                       for k in range(n)]
            ws = make_workspace(Path(tmp) / "ws", replies)
            judge = LLMJudge(model="fake", base_url=base_url)
            cases = load_cases(ws)
            messages = [judge.messages(c) for c in cases]
            # warm up both paths once (connections, imports)
            asyncio.run(bare_loop(base_url, messages[:200], concurrency))
            results = []
            warmup = min(300, n)
            for rep in range(reps):
                # alternate which path goes first, so drifting machine load hits both alike
                for path in (("bare", "ours") if rep % 2 == 0 else ("ours", "bare")):
                    if path == "bare":
                        asyncio.run(bare_loop(base_url, messages[:warmup], concurrency))
                        bare = asyncio.run(bare_loop(base_url, messages, concurrency))
                        continue
                    for subset in (cases[:warmup], cases):  # a warm-up, then the measured run
                        with ws.transaction() as con:  # each run starts from an empty cache
                            con.execute("DELETE FROM verdicts")
                            con.execute("DELETE FROM judge_cache")
                        ours = run_judge(ws, LLMJudge(model="fake", base_url=base_url),
                                         cases=subset, concurrency=concurrency)
                    assert ours.n_called == n, ours
                results.append((n / bare, n / ours.seconds))
                print(f"  pair {rep + 1}: bare openai loop {n / bare:.0f} req/s, safecal "
                      f"run_judge {n / ours.seconds:.0f} req/s "
                      f"({100 * bare / ours.seconds:.0f}%)", flush=True)
            ratios = sorted(o / b for b, o in results)
            pooled = sum(o for _, o in results) / sum(b for b, _ in results)
            print(f"throughput, {n} requests x {reps} pairs, concurrency {concurrency}, server "
                  f"latency {latency * 1000:.0f} ms: median ratio safecal / bare "
                  f"{100 * ratios[len(ratios) // 2]:.0f}%, mean of rates ratio "
                  f"{100 * pooled:.0f}% (bare mean "
                  f"{sum(b for b, _ in results) / reps:.0f} req/s)")
    finally:
        proc.terminate()
        proc.wait(10)


def bench_cached(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        replies = [(("vulnerability", "overrefusal")[k % 2], f"reply {k}") for k in range(n)]
        ws = make_workspace(Path(tmp) / "ws", replies)
        judge = LLMJudge(model="fake", base_url="http://127.0.0.1:9/v1")  # never called
        cases = load_cases(ws)
        from calibrate.judges.base import Verdict

        v = Verdict(label=None, valid=False, raw='{"rating": 1}', tokens_in=100, tokens_out=12)
        at = cache.now()
        key = judge.config.key()
        with ws.transaction() as con:
            con.executemany(cache.INSERT, [cache.row(key, judge.input_key(c), v, at)
                                           for c in cases])
        start = time.perf_counter()
        s = run_judge(ws, judge, cases=None)
        elapsed = time.perf_counter() - start
        assert s.n_cached == n and s.n_called == 0, s
        print(f"cached rerun of {n} verdicts (loading the responses included): {elapsed:.2f} s")


def bench_tuning(n: int) -> None:
    from sklearn.metrics import cohen_kappa_score

    from calibrate.tuning import tune_threshold_cv

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    start = time.perf_counter()
    result = tune_threshold_cv(y, s, objective="kappa", folds=5, n_boot=1000)
    ours = time.perf_counter() - start
    train = np.arange(n) % 5 != 0
    start = time.perf_counter()
    best = max(cohen_kappa_score(y[train], (s[train] >= t).astype(int))
               for t in np.linspace(0.01, 0.99, 99))
    grid = time.perf_counter() - start
    print(f"threshold tuning, {n} scores: exact search with 5-fold CV and out-of-fold metrics "
          f"{ours:.2f} s (threshold {result.threshold:.4f}, kappa {result.choice.value:.4f}); "
          f"scikit-learn kappa over a 99-threshold grid, one fold: {grid:.2f} s "
          f"(best kappa {best:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--cached", type=int, default=100_000)
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["throughput", "cached", "tuning"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if args.only in (None, "throughput"):
        bench_throughput(args.requests, args.concurrency, args.latency, args.pairs)
    if args.only in (None, "cached"):
        bench_cached(args.cached)
    if args.only in (None, "tuning"):
        bench_tuning(args.scores)


if __name__ == "__main__":
    main()
