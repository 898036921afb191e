"""The batch route of a judge run: export, import, or submit-poll-import through the API.

All three start like the online route (:func:`safecal.calibrate.runner.run_judge`): the run
id is the judge config's hash, and responses whose input is in the cache get their verdict
from it, so cached verdicts are never requested again. What is left is one request per
distinct input (:mod:`.requests`).

* :func:`export_batch` writes those requests to a file (``--batch-export FILE``), for a
  cluster (vLLM's ``run-batch``) or any batch service;
* :func:`import_batch` reads answer files (``--batch-import FILE``) into the cache and the
  run's verdicts, in one transaction: a file with a problem (:mod:`.results`) changes
  nothing;
* :func:`run_batch` (``--batch``) does both through the endpoint's batch API, resumably:

  1. no batch of this config open in the workspace: write the requests in files of at
     most ``max_requests`` lines and ``max_bytes`` (OpenAI: 50,000 and 200 MB), upload
     each, record it (``judge_batches``, status ``submitting``), create its batch and
     record the id (``submitted``);
  2. poll the open batches every ``poll`` seconds; when one is final, download its
     output and error files, import them and mark it ``imported`` in one transaction. A
     batch still ``submitting`` after a kill is looked up by its input file on the server
     (created but not recorded) and created only if the server has none;
  3. what is still missing from the cache (the requests that failed) is submitted again,
     up to ``rounds`` submissions per invocation; what still fails is left unjudged and
     counted, and the same command retries it.

  A rerun after a kill at any step polls the batches already submitted instead of
  submitting them again. The run's lock file (as in the online route) keeps two
  processes from submitting the same requests.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace, runs
from safecal.annotate.store import batches as batch_rows
from safecal.annotate.store.backend import Connection
from safecal.calibrate import cache
from safecal.calibrate.batch.api import BatchAPI, BatchState
from safecal.calibrate.batch.requests import KEY_AT, LineWriter, custom_id
from safecal.calibrate.batch.results import Outcome, read_outputs
from safecal.calibrate.judges.base import Case
from safecal.calibrate.runner import RunSummary, _from_cache, _run_lock, _start_run

Say = Callable[[str], None]


@dataclass(frozen=True)
class BatchOptions:
    """How ``--batch`` cuts, polls and retries (defaults: OpenAI's limits)."""

    poll: float = 30.0
    max_requests: int = 50_000
    max_bytes: int = 190 * 2**20
    rounds: int = 3


@dataclass
class ExportSummary:
    """What :func:`export_batch` wrote."""

    run_id: str
    path: str
    n_cases: int = 0
    n_cached: int = 0
    n_requests: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    """The run's cases still without a cached verdict: one case per input key."""

    requests: dict[str, Case]
    n_cases: int
    hits: int
    invalid: int


class _Run:
    """One batch-route invocation's open connection, keys and summary."""

    def __init__(self, ws: Workspace, judge: Any, cases: Sequence[Case]) -> None:
        self.ws, self.judge, self.cases = ws, judge, cases
        cfg = judge.config
        self.run_id, self.config_key = cfg.run_id(), cfg.key()
        self.summary = RunSummary(run_id=self.run_id, judge=cfg.name, n_cases=len(cases))
        self.keys = [judge.input_key(c) for c in cases]
        self.fields = {k: c.field for c, k in zip(cases, self.keys, strict=True)}
        self.con: Connection = ws.connect()

    def start(self) -> None:
        """Record the run (reopen it when it exists)."""
        _start_run(self.con, self.judge, self.run_id)

    def pending(self) -> _Pending:
        """Copy cached verdicts into the run; what is left to request."""
        todo, hits, invalid = _from_cache(
            self.con, self.run_id, self.config_key, self.cases, self.keys
        )
        requests: dict[str, Case] = {}
        for case, key in todo:
            requests.setdefault(key, case)
        return _Pending(requests, len(todo), hits, invalid)

    def finish(self, prices: tuple[float, float] | None, started: float) -> RunSummary:
        last = self.pending()
        s = self.summary
        s.n_failed, s.n_invalid = last.n_cases, last.invalid
        runs.in_transaction(
            self.con,
            lambda: runs.finish_run(
                self.con, run_id=self.run_id, finished_at=cache.now(), prices=prices
            ),
        )
        if prices is not None:
            s.cost = (s.tokens_in * prices[0] + s.tokens_out * prices[1]) / 1e6
        s.seconds = time.perf_counter() - started
        return s

    def import_files(
        self,
        paths: Sequence[Path],
        todo: set[str],
        *,
        encoding: str = "utf-8",
        first: Callable[[], None] | None = None,
        also: Callable[[], None] | None = None,
        strict: bool = True,
    ) -> Outcome:
        """Read answer files into the cache in one transaction (with ``first`` and
        ``also`` before and after, e.g. the run's row and the batch's status); a problem
        in any file rolls all of it back."""
        outcome = Outcome()
        seen: dict[str, int] = {}

        def write() -> None:
            if first is not None:
                first()
            at = cache.now()
            for path in paths:
                for chunk in read_outputs(
                    path,
                    judge=self.judge,
                    config_key=self.config_key,
                    fields=self.fields,
                    todo=todo,
                    outcome=outcome,
                    seen=seen,
                    encoding=encoding,
                    strict=strict,
                ):
                    runs.insert_cache(
                        self.con, [cache.row(self.config_key, k, v, at) for k, v in chunk]
                    )
                outcome.check(path)
            if also is not None:
                also()

        runs.in_transaction(self.con, write)
        s = self.summary
        s.n_called += outcome.answers
        s.tokens_in += outcome.tokens_in
        s.tokens_out += outcome.tokens_out
        s.failures.extend(outcome.failures)
        return outcome


# -- export and import ------------------------------------------------------------------
def export_batch(ws: Workspace, judge: Any, *, cases: Iterable[Case], path: Path) -> ExportSummary:
    """Write the run's uncached requests to ``path`` (replaced whole, never half-written).

    One pass over ``cases`` (streamed: a million responses are never in memory at once):
    each case's input key is computed and, the first time a key is seen, its line written;
    then the cache is consulted once for all keys (copying cached verdicts into the run,
    as every route does) and, only when some were cached, their lines are dropped from the
    file by the key at :data:`KEY_AT`."""
    started = time.perf_counter()
    cfg = judge.config
    run_id, config_key = cfg.run_id(), cfg.key()
    out = ExportSummary(run_id=run_id, path=str(path))
    con = ws.connect()
    tmp = path.with_name(path.name + ".part")
    try:
        runs.in_transaction(con, lambda: _start_run(con, judge, run_id))
        writer = LineWriter(judge)
        keyed: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            for case in cases:
                key = judge.input_key(case)
                keyed.append((case.response_id, case.field, key))
                if key not in seen:
                    seen.add(key)
                    fh.write(writer.line(custom_id(config_key, key), case) + "\n")
        if not keyed:
            raise InputError(
                f"{ws.location}: no responses to judge; run `safecal ingest responses`"
            )
        out.n_cases, out.n_requests = len(keyed), len(seen)
        del seen
        missing, out.n_cached, _ = runs.verdicts_from_cache(
            con, run_id=run_id, config_key=config_key, keys=keyed
        )
        if out.n_cached:
            wanted = {key for rid, _, key in keyed if rid in missing}
            out.n_requests = _keep(tmp, wanted)
        os.replace(tmp, path)
        out.bytes = path.stat().st_size
        runs.in_transaction(
            con, lambda: runs.finish_run(con, run_id=run_id, finished_at=cache.now(), prices=None)
        )
    except OSError as exc:
        raise InputError(f"--batch-export {path}: cannot write ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)
        con.close()
    out.seconds = time.perf_counter() - started
    return out


def _keep(path: Path, wanted: set[str]) -> int:
    """Keep only the lines of ``path`` whose input key is in ``wanted``; their number."""
    kept = 0
    part = path.with_name(path.name + ".keep")
    try:
        with (
            path.open(encoding="utf-8", newline="\n") as src,
            part.open("w", encoding="utf-8", newline="\n") as dst,
        ):
            for line in src:
                if line[KEY_AT : KEY_AT + 64] in wanted:
                    dst.write(line)
                    kept += 1
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return kept


def import_batch(
    ws: Workspace,
    judge: Any,
    *,
    cases: Sequence[Case],
    paths: Sequence[Path],
    prices: tuple[float, float] | None = None,
    encoding: str = "utf-8",
) -> RunSummary:
    """Read batch-output files (matched by custom id) into the cache and the run."""
    started = time.perf_counter()
    for path in paths:
        if path.is_file() and path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty; expected one batch-output line a request")
    with contextlib.suppress(InputError):
        judge.api_key()  # known, so that an answer quoting it is redacted
    run = _Run(ws, judge, cases)
    try:
        cached = runs.cached_input_keys(run.con, config_key=run.config_key, input_keys=run.fields)
        todo = set(run.fields) - cached
        # the run's row in the import's transaction: a refused file leaves no trace
        run.import_files(paths, todo, encoding=encoding, first=run.start)
        run.summary.n_cached = sum(k in cached for k in run.keys)
        return run.finish(prices, started)
    finally:
        run.con.close()


def _items(config_key: str, pending: _Pending) -> Iterator[tuple[str, Case]]:
    return ((custom_id(config_key, key), case) for key, case in pending.requests.items())


# -- through the batch API --------------------------------------------------------------
def run_batch(
    ws: Workspace,
    judge: Any,
    *,
    cases: Sequence[Case],
    options: BatchOptions = BatchOptions(),
    prices: tuple[float, float] | None = None,
    say: Say | None = None,
) -> RunSummary:
    """Submit, poll and import; see the module docstring."""
    started = time.perf_counter()
    tell: Say = say or (lambda _: None)
    cfg = judge.config
    with _run_lock(ws, cfg.key(), cfg.run_id(), say):
        run = _Run(ws, judge, cases)
        api = BatchAPI(judge)
        try:
            runs.in_transaction(run.con, run.start)
            pending = run.pending()
            run.summary.n_cached = pending.hits
            submitted = 0
            while True:
                open_ = batch_rows.open_batches(
                    run.con, base_url=api.where, config_key=run.config_key
                )
                if not open_:
                    if not pending.requests or submitted >= options.rounds:
                        break
                    _submit(run, api, pending, options, tell)
                    submitted += 1
                    continue
                run.summary.failures.clear()  # the failures of the last round are the ones left
                refused = _await(run, api, open_, set(pending.requests), options, tell)
                pending = run.pending()
                if refused:
                    run.summary.failures.insert(0, refused)
                    break
            return run.finish(prices, started)
        finally:
            api.close()
            run.con.close()


def _folder(ws: Workspace) -> Path:
    folder = ws.path / "batches"
    folder.mkdir(exist_ok=True)
    return folder


def _safe(name: str) -> str:
    """A server's id as a file name (it is the server's text, not ours)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100] or "file"


def _submit(run: _Run, api: BatchAPI, pending: _Pending, options: BatchOptions, tell: Say) -> None:
    """Step 1: cut the pending requests into files, upload and create a batch for each."""
    writer = LineWriter(run.judge)
    lines = (writer.line(cid, case) + "\n" for cid, case in _items(run.config_key, pending))
    folder = _folder(run.ws)
    carry = next(lines, None)
    while carry is not None:
        path = folder / f"input-{os.getpid()}.jsonl"
        n = size = 0
        try:
            with path.open("w", encoding="utf-8", newline="\n") as fh:
                while carry is not None and n < options.max_requests:
                    grow = len(carry.encode("utf-8"))
                    if n and size + grow > options.max_bytes:
                        break
                    fh.write(carry)
                    n, size = n + 1, size + grow
                    carry = next(lines, None)
            file_id = api.upload(path)
        finally:
            path.unlink(missing_ok=True)
        runs.in_transaction(
            run.con,
            partial(
                batch_rows.record_upload,
                run.con,
                base_url=api.where,
                input_file_id=file_id,
                run_id=run.run_id,
                config_key=run.config_key,
                n_requests=n,
                created_at=cache.now(),
            ),
        )
        state = api.create(file_id)
        _record(run, api, file_id, state)
        tell(f"submitted batch {state.batch_id}: {n} requests ({size:,} bytes)")


def _record(run: _Run, api: BatchAPI, file_id: str, state: BatchState) -> None:
    runs.in_transaction(
        run.con,
        lambda: batch_rows.record_batch(
            run.con,
            base_url=api.where,
            input_file_id=file_id,
            batch_id=state.batch_id,
            status=state.status,
        ),
    )


def _await(
    run: _Run,
    api: BatchAPI,
    open_: Sequence[batch_rows.BatchRow],
    todo: set[str],
    options: BatchOptions,
    tell: Say,
) -> str | None:
    """Step 2: poll until every open batch is final and imported; the server's reason
    when it refused a batch whole."""
    active: dict[str, str] = {}  # input file id -> batch id
    for row in open_:
        if row.batch_id is None:  # killed between creating the batch and recording it
            state = api.find(row.input_file_id) or api.create(row.input_file_id)
            _record(run, api, row.input_file_id, state)
            active[row.input_file_id] = state.batch_id
        else:
            active[row.input_file_id] = row.batch_id
    last: dict[str, str] = {}
    refused = None
    while active:
        for file_id, batch_id in list(active.items()):
            state = api.retrieve(batch_id)
            shown = f"{state.status} {state.completed}/{state.total} done, {state.failed} failed"
            if last.get(batch_id) != shown:
                last[batch_id] = shown
                tell(f"batch {batch_id}: {shown}")
                runs.in_transaction(
                    run.con,
                    partial(
                        batch_rows.note_status,
                        run.con,
                        base_url=api.where,
                        batch_id=batch_id,
                        status=state.status,
                    ),
                )
            if not state.final:
                continue
            del active[file_id]
            if state.status == "failed" and not (state.output_file_id or state.error_file_id):
                refused = (
                    f"the server refused batch {batch_id}: {state.errors or 'no reason given'}"
                )
                _finish(run, api, file_id, "failed", state.status)
                continue
            _collect(run, api, file_id, state, todo)
        if active:
            time.sleep(options.poll)
    return refused


def _finish(run: _Run, api: BatchAPI, file_id: str, status: str, server: str) -> None:
    runs.in_transaction(run.con, lambda: _mark(run, api, file_id, status, server))


def _mark(run: _Run, api: BatchAPI, file_id: str, status: str, server: str) -> None:
    batch_rows.finish(
        run.con,
        base_url=api.where,
        input_file_id=file_id,
        status=status,
        server_status=server,
        finished_at=cache.now(),
    )


def _collect(run: _Run, api: BatchAPI, file_id: str, state: BatchState, todo: set[str]) -> None:
    """Download a final batch's output and error files and import them with its status."""
    folder = _folder(run.ws)
    paths = []
    try:
        for fid in (state.output_file_id, state.error_file_id):
            if fid:
                path = folder / f"output-{os.getpid()}-{_safe(fid)}.jsonl"
                api.download(fid, path)
                if path.stat().st_size:  # an empty error file: no errors
                    paths.append(path)
                else:
                    path.unlink()
        run.import_files(
            paths,
            todo,
            also=lambda: _mark(run, api, file_id, "imported", state.status),
            strict=False,
        )
    finally:
        for path in paths:  # the server's raw text may quote the key: not kept
            path.unlink(missing_ok=True)
