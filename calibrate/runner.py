"""Run a judge over the workspace's responses: cached, concurrent, resumable.

:func:`run_judge` is what ``safecal calibrate run`` calls:

1. the run id is the judge config's hash (:meth:`JudgeConfig.run_id`), so the same
   command twice is the same run, and a changed prompt or model is a new one;
2. responses whose input is in the cache (``judge_cache``) get their verdict from it, in
   one bulk write, at no cost;
3. local judges (keyword, imported) judge the rest in one pass;
4. remote judges (LLM) run on an asyncio loop with at most ``concurrency`` calls in
   flight; each finished call (cache row + verdict) is committed by the loop itself at the
   end of the loop iteration in which it finished, together with the others that finished
   in that iteration (one transaction), so a kill loses at most the calls in flight and
   the ones of the current iteration, and a rerun repeats nothing that was recorded. Calls
   that still fail after the judge's retries are left unjudged (a rerun retries them) and
   counted in the summary.

   Why not a writer thread: it has to win the GIL from a busy event loop, and on two
   cores it did not, for seconds at a time: finished calls piled up uncommitted (28 lost
   at a kill in one test run) while the commits themselves take ~0.1 ms (WAL,
   ``synchronous=NORMAL``).
5. one remote run at a time per judge config and workspace: a second process running the
   same run (the same command typed twice, a cron job overlapping a manual run) waits on
   a lock file (``.judge-run-<config key>.lock`` in the workspace, ``flock``) before it
   reads the cache, then takes from the cache everything the first one recorded, so no
   call is paid for twice. The lock is the kernel's, so a killed process releases it; a
   different config (another prompt or model) is another lock and runs alongside.
   Without ``fcntl`` (Windows) there is no lock.

Token use, latency and cost (from ``prices``: USD per million input / output tokens)
are summed per run into ``judge_runs``; the summary of this invocation is returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from safecal.annotate.labels import FIELD_FOR_ASPECT
from safecal.annotate.store import Connection, Workspace, runs
from safecal.calibrate import cache
from safecal.calibrate.judges.base import Case, Verdict
from safecal.calibrate.judges.llm import TransientError


@dataclass
class RunSummary:
    """What one invocation of :func:`run_judge` did."""

    run_id: str
    judge: str
    n_cases: int = 0
    n_cached: int = 0
    n_called: int = 0
    n_local: int = 0
    n_failed: int = 0
    n_skipped: int = 0  # imported judge: responses absent from the file
    n_invalid: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    seconds: float = 0.0
    latency_mean: float | None = None
    latency_p95: float | None = None
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failures"] = self.failures[:20]
        return out


def load_cases(
    ws: Workspace,
    *,
    models: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    response_ids: Iterable[str] | None = None,
) -> list[Case]:
    """Every response of the workspace (optionally filtered) as a :class:`Case`.

    The query is the item's text in the response's language (``text_zh`` for Chinese
    responses when the item has it); the image is its absolute path, or ``None``.
    """
    return list(iter_cases(ws, models=models, languages=languages, response_ids=response_ids))


def iter_cases(
    ws: Workspace,
    *,
    models: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    response_ids: Iterable[str] | None = None,
) -> Iterator[Case]:
    """The cases of :func:`load_cases`, streamed from the workspace in response-id order."""
    keep_models = set(models) if models else None
    keep_languages = set(languages) if languages else None
    keep_ids = set(response_ids) if response_ids is not None else None
    images = ws.images_dir
    for (
        rid,
        item_id,
        model,
        language,
        response,
        aspect,
        text,
        text_zh,
        image,
    ) in runs.iter_response_cases(ws):
        if (
            (keep_models is not None and model not in keep_models)
            or (keep_languages is not None and language not in keep_languages)
            or (keep_ids is not None and rid not in keep_ids)
        ):
            continue
        zh = language == "zh" and text_zh and text_zh.strip()
        yield Case(
            response_id=rid,
            item_id=item_id,
            field=FIELD_FOR_ASPECT[aspect],
            query=text_zh if zh else text,
            response=response,
            language=language,
            image=str(images / image) if image else None,
            model=model,
        )


def _verdict_row(run_id: str, case: Case, v: Verdict) -> tuple[object, ...]:
    return (
        run_id,
        case.response_id,
        case.field,
        v.label,
        int(v.valid),
        v.score,
        v.raw,
        v.tokens_in,
        v.tokens_out,
        v.latency,
    )


def _start_run(con: Connection, judge: Any, run_id: str) -> None:
    cfg = judge.config
    runs.start_run(
        con,
        run_id=run_id,
        judge=cfg.name,
        kind=cfg.kind,
        model=cfg.model,
        prompt_version=cfg.prompt_version,
        params=json.dumps(cfg.params, sort_keys=True, default=str),
        started_at=cache.now(),
    )


def run_judge(
    ws: Workspace,
    judge: Any,
    *,
    cases: Sequence[Case] | None = None,
    concurrency: int = 64,
    prices: tuple[float, float] | None = None,
    progress: bool = False,
    waiting: Callable[[str], None] | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Judge every case (default: every response in the workspace); see the module docstring.

    ``waiting`` is told (one message) when another process holds this run's lock and this
    one waits for it. ``run_id`` records the verdicts under another run id than the
    config's (probes: transformed responses judged with the run's own config, so through
    its cache, kept apart from its verdicts); the cache key stays the config's."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = time.perf_counter()
    cases = load_cases(ws) if cases is None else list(cases)
    cfg = judge.config
    run_id, config_key = run_id or cfg.run_id(), cfg.key()
    summary = RunSummary(run_id=run_id, judge=cfg.name, n_cases=len(cases))

    if hasattr(judge, "has"):  # imported: only the responses its file covers
        kept = [c for c in cases if judge.has(c)]
        summary.n_skipped = len(cases) - len(kept)
        cases = kept

    lock = _run_lock(ws, config_key, run_id, waiting) if judge.remote else contextlib.nullcontext()
    with lock:
        _run_locked(ws, judge, cases, run_id, config_key, concurrency, prices, progress, summary)
    if prices is not None:
        summary.cost = (summary.tokens_in * prices[0] + summary.tokens_out * prices[1]) / 1e6
    summary.seconds = time.perf_counter() - started
    return summary


@contextlib.contextmanager
def _run_lock(
    ws: Workspace, config_key: str, run_id: str, waiting: Callable[[str], None] | None
) -> Iterator[None]:
    """Hold this run's lock file (step 5 of the module docstring), waiting for it if
    another process has it; on PostgreSQL, an advisory lock in the database."""
    message = (
        f"another process is running judge run {run_id} on {ws.location}; waiting "
        "for it to finish, then its verdicts come from the cache"
    )
    if ws.dialect == "postgresql":
        with runs.postgres_run_lock(ws, config_key, lambda: waiting and waiting(message)):
            yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    path = ws.path / f".judge-run-{config_key[:16]}.lock"
    with open(path, "ab") as fh:  # never deleted: removing a lock file races its users
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting(message)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_locked(
    ws: Workspace,
    judge: Any,
    cases: Sequence[Case],
    run_id: str,
    config_key: str,
    concurrency: int,
    prices: tuple[float, float] | None,
    progress: bool,
    summary: RunSummary,
) -> None:
    """Steps 2-4 of the module docstring, under the run's lock for remote judges."""
    con = ws.connect()
    try:
        runs.in_transaction(con, lambda: _start_run(con, judge, run_id))
        keys = [judge.input_key(c) for c in cases]
        todo: list[tuple[Case, str]] = []
        if judge.remote:
            todo, summary.n_cached, summary.n_invalid = _from_cache(
                con, run_id, config_key, cases, keys
            )
        else:
            rows = []
            for case in cases:
                v = judge.judge(case)
                summary.n_invalid += not v.valid
                rows.append(_verdict_row(run_id, case, v))
            summary.n_local = len(rows)
            runs.in_transaction(con, lambda: runs.insert_verdicts(con, rows))

        if todo:
            latencies = asyncio.run(
                _run_remote(con, judge, run_id, config_key, todo, concurrency, summary, progress)
            )
            if latencies:
                latencies.sort()
                summary.latency_mean = sum(latencies) / len(latencies)
                summary.latency_p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        runs.in_transaction(
            con, lambda: runs.finish_run(con, run_id=run_id, finished_at=cache.now(), prices=prices)
        )
    finally:
        con.close()


def _from_cache(
    con: Connection,
    run_id: str,
    config_key: str,
    cases: Sequence[Case],
    keys: Sequence[str],
) -> tuple[list[tuple[Case, str]], int, int]:
    """Write the verdicts the cache already holds (in SQL, rewriting only the verdicts
    that changed); return the cases still to call, the number of hits and of invalid hits."""
    missing, hits, invalid = runs.verdicts_from_cache(
        con,
        run_id=run_id,
        config_key=config_key,
        keys=[(c.response_id, c.field, k) for c, k in zip(cases, keys, strict=True)],
    )
    todo = [(c, k) for c, k in zip(cases, keys, strict=True) if c.response_id in missing]
    return todo, hits, invalid


class _Recorder:
    """Commits finished calls (cache row + verdict) from the event loop, grouped per
    loop iteration: the first call to finish in an iteration schedules one commit
    (``call_soon``) that takes every call finished by then. A failed commit is raised
    to the next call that finishes, and by :meth:`flush` at the end."""

    def __init__(self, con: Connection, run_id: str, config_key: str) -> None:
        self.con, self.run_id, self.config_key = con, run_id, config_key
        self.pending: list[tuple[Case, str, Verdict]] = []
        self.scheduled = False
        self.error: BaseException | None = None

    def add(self, case: Case, key: str, verdict: Verdict) -> None:
        if self.error is not None:
            raise self.error
        self.pending.append((case, key, verdict))
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._commit_soon)

    def _commit_soon(self) -> None:
        try:
            self.flush()
        except BaseException as exc:  # raised to the workers by add()
            self.error = exc

    def flush(self) -> None:
        self.scheduled = False
        items, self.pending = self.pending, []
        if not items:
            return
        at = cache.now()

        def write() -> None:
            runs.insert_cache(
                self.con, [cache.row(self.config_key, key, v, at) for _, key, v in items]
            )
            runs.insert_verdicts(self.con, [_verdict_row(self.run_id, c, v) for c, _, v in items])

        runs.in_transaction(self.con, write)


async def _run_remote(
    con: Connection,
    judge: Any,
    run_id: str,
    config_key: str,
    todo: list[tuple[Case, str]],
    concurrency: int,
    summary: RunSummary,
    progress: bool,
) -> list[float]:
    from tqdm import tqdm

    bar = tqdm(
        total=len(todo),
        desc=f"judging with {summary.judge}",
        unit="call",
        disable=not progress,
        mininterval=0.5,
    )
    queue = iter(todo)
    latencies: list[float] = []
    recorder = _Recorder(con, run_id, config_key)

    async def worker() -> None:
        for case, key in queue:
            try:
                v = await judge.ajudge(case)
            except TransientError as exc:
                summary.n_failed += 1
                summary.failures.append(str(exc))
                bar.update()
                continue
            recorder.add(case, key, v)
            summary.n_called += 1
            summary.n_invalid += not v.valid
            summary.tokens_in += v.tokens_in
            summary.tokens_out += v.tokens_out
            latencies.append(v.latency)
            bar.update()

    try:
        tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(todo)))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        bar.close()
        try:
            recorder.flush()  # what finished in the last iteration
        finally:
            if hasattr(judge, "aclose"):
                await judge.aclose()
    if recorder.error is not None:
        raise recorder.error
    return latencies
