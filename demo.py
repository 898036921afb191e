"""The main job on the bundled example: what ``safecal demo`` runs.

It builds a fresh workspace (default ``./safecal-demo``) from the synthetic
example and walks it through the whole loop:

1. ingest the example's items, images and three models' responses;
2. annotation: sample responses, load a few honeypots (known labels) outside the
   sample and the simulated annotators' labels, which stand in for people; the gold
   set is built from those labels by Dawid-Skene with the honeypots as known labels,
   and a simulated reviewer decides the units it leaves uncertain. With Label Studio
   the simulated annotators are its annotators: their labels are saved as their own
   annotations in their own queues and come back by ``pull``, and the reviewer decides
   in a review project (the same people, labels and gold as without Label Studio);
3. judges: the keyword baseline and the example's recorded LLM judge; the judge's
   threshold tuned out-of-fold; the judge card written as HTML and JSON;
4. corrected attack-success and refusal rates per model, in the benchmark's 12 cells;
5. curation of the benchmark's queries (the example plants a few problems);
6. the dashboard, running until Ctrl-C, SIGTERM or SIGHUP.

It ends by printing the commands that explore its workspace: the demo keeps its own
folder (``./safecal-demo``, rebuilt each run; or a PostgreSQL database given as
``--workspace postgresql://...``, empty or an earlier demo's) while every other command defaults to
``./safecal-workspace``, so they carry ``-w <demo folder>``. Whatever it stops on (the
last step with ``--exit``, Ctrl-C, SIGTERM, SIGHUP, an error), the servers it started are
stopped by their recorded process ids. A folder that holds a workspace not made by the
demo is never deleted.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from safecal.annotate import InputError, Workspace, ingest_items, ingest_responses
from safecal.annotate.example import NOTICE, ExamplePaths, write_example
from safecal.annotate.store import catalog as store_catalog
from safecal.annotate.store import demo as store_demo
from safecal.annotate.store import resolve_workspace
from safecal.annotate.store.backend import is_url

DEFAULT_DEMO = "safecal-demo"
RECORDED_JUDGE = "example-vlm-judge"
DEMO_SAMPLE = 240  # responses sampled for human labels (of 720)
#: signals that stop the demo as Ctrl-C does (the servers it started are stopped too)
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


@dataclass
class DemoResult:
    """What the demo made, for callers that go on from it (tests, notebooks)."""

    workspace: Workspace
    example: ExamplePaths
    outputs: dict[str, Path] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)


def fresh_demo_workspace(path: str | Path) -> Workspace:
    """An empty workspace at ``path``, removing an earlier demo there (and nothing else).

    ``path`` may be a PostgreSQL URL: its files go to the folder every command uses for
    it (``$SAFECAL_FILES``, else ``./safecal-files``), and the database must be empty or
    hold an earlier demo (whose tables are dropped)."""
    url = str(path) if is_url(str(path)) else None
    folder = resolve_workspace(path)
    if url is not None:
        _clear_demo_database(url, folder)
    if folder.exists():
        marker = folder / ".safecal-demo"
        if not marker.exists() and any(folder.iterdir()):
            raise InputError(
                f"{folder}: exists and was not made by `safecal demo`; choose another --workspace"
                + (" or set SAFECAL_FILES" if url else "")
            )
        _stop_servers(folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / ".safecal-demo").write_text("made by `safecal demo`; safe to delete\n")
    ws = Workspace.open(url or folder)
    if url is not None:
        store_demo.mark_as_demo(ws)
    return ws


def _clear_demo_database(url: str, folder: Path) -> None:
    """Refuse a database holding a workspace the demo did not make; drop the tables of
    one it did."""
    ws = Workspace(folder.absolute(), url=url)
    if ws.schema_version() == 0:
        return
    if not store_demo.made_by_demo(ws):
        raise InputError(
            f"{ws.location}: holds a safecal workspace not made by `safecal demo`; give the "
            "demo an empty database (createdb)"
        )
    if folder.exists():
        _stop_servers(folder)
    store_demo.drop_demo_tables(ws)


def summary(ws: Workspace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items per level-1 category x modality, and responses per model x language."""
    items = store_catalog.items(ws, columns=("level1_category", "modality"))
    cells = pd.crosstab(
        items["level1_category"], items["modality"], margins=True, margins_name="total"
    )
    responses = store_catalog.responses(ws, columns=("model", "language"))
    per_model = pd.crosstab(
        responses["model"], responses["language"], margins=True, margins_name="total"
    )
    return cells, per_model


def run_demo(
    path: str | Path = DEFAULT_DEMO,
    *,
    seed: int = 0,
    labelstudio: bool = True,
    dashboard: bool = True,
    wait: bool = True,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Run the loop on the example at ``path``, reporting each step through ``say``.

    ``labelstudio=False`` labels without a server (the simulated labels only);
    ``dashboard=False`` skips the dashboard; ``wait=False`` stops the servers and
    returns instead of serving until Ctrl-C.
    """
    with _signals_interrupt():
        return _run(
            path, seed=seed, labelstudio=labelstudio, dashboard=dashboard, wait=wait, say=say
        )


def _run(
    path: str | Path,
    *,
    seed: int,
    labelstudio: bool,
    dashboard: bool,
    wait: bool,
    say: Callable[[str], None],
) -> DemoResult:
    say(NOTICE)
    ws = fresh_demo_workspace(path)
    example = write_example(ws.path / "example-data", seed=seed)
    result = DemoResult(workspace=ws, example=example)
    say(f"\n== 1. ingest (example written to {example.root})")
    say(ingest_items(ws, example.items, images=example.images).summary())
    for file in example.responses:
        say(ingest_responses(ws, file).summary())
    cells, per_model = summary(ws)
    say("items per level-1 category x modality combination:\n" + cells.to_string())
    say("responses per target model x language:\n" + per_model.to_string())
    try:
        say("\n== 2. annotation")
        _annotation(result, labelstudio=labelstudio, seed=seed, say=say)
        say("\n== 3. judges")
        _judges(result, say=say)
        say("\n== 4. corrected rates")
        _rates(result, say=say)
        say("\n== 5. curation")
        _curation(result, say=say)
        if dashboard:
            say("\n== 6. dashboard")
            _dashboard(result, say=say)
        say(f"\nworkspace: {ws.location}")
        for name, url in result.urls.items():
            say(f"{name}: {url}")
        say(next_commands(ws.path))
        if wait and result.urls:
            say(f"serving; press Ctrl-C (or `kill {os.getpid()}`) to stop")
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")
    finally:
        with _signals_ignored():  # a second signal must not cut the cleanup short
            _stop_servers(ws.path)
    if wait and result.urls:
        stays = _shown_path(ws.path) if ws.url is None else ws.location
        say(f"servers stopped; the workspace stays in {stays} (commands above)")
    return result


def _shown_path(path: str | Path) -> str:
    """``path`` as the user can type it here: relative to the current folder when inside."""
    full = Path(path).absolute()
    try:
        return str(full.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(full)


def next_commands(path: str | Path) -> str:
    """The closing printout: commands exploring the demo's workspace at ``path``."""
    w = f"-w {shlex.quote(_shown_path(path))}"
    lines = [
        "",
        "next: explore the demo's workspace. Other commands default to ./safecal-workspace "
        "(or $SAFECAL_WORKSPACE), so give them the demo's folder with -w:",
        f"  safecal calibrate judge {w} --run {RECORDED_JUDGE} --field harmfulness",
        f"  safecal calibrate estimate {w} --run {RECORDED_JUDGE} --field harmfulness",
        f"  safecal calibrate report {w} --run {RECORDED_JUDGE}",
        f"  safecal curate run {w}",
        f"  safecal annotate export {w} gold.csv",
        f"  safecal dashboard {w}            (once the demo has stopped)",
        f"  safecal dashboard stop {w}       (stops a dashboard left serving it)",
    ]
    return "\n".join(lines)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`KeyboardInterrupt`, as Ctrl-C does, so the demo
    stops its servers on them too (main thread only: Python delivers signals there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = {}
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            number = getattr(signal, name)
            before[number] = signal.signal(number, _interrupt)
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGTERM and SIGHUP ignored for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {}
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            number = getattr(signal, name)
            before[number] = signal.signal(number, signal.SIG_IGN)
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def _annotation(
    result: DemoResult, *, labelstudio: bool, seed: int, say: Callable[[str], None]
) -> None:
    ws, example = result.workspace, result.example
    if labelstudio:
        from safecal.annotate.labelstudio.demo_steps import setup_demo_labeling, start_demo_server
        from safecal.annotate.labelstudio.server import START_TIME

        say(f"starting Label Studio ({START_TIME}) ...")
        server = start_demo_server(ws)
        labeling = setup_demo_labeling(
            ws,
            server,
            truth=example.truth,
            human_labels=example.human_labels,
            n=DEMO_SAMPLE,
            seed=seed,
        )
        result.urls["Label Studio"] = labeling.url
        admin = f"admin {labeling.admin_email}"
        if labeling.admin_password:
            admin += f" / {labeling.admin_password}"
        say(f"Label Studio: {labeling.url}  ({admin})")
        for account in labeling.accounts:
            login = f" password {account.password} (shown once)" if account.password else ""
            say(f"  {account.role:9} {account.email}{login}")
        pushed = labeling.push
        say(
            f"pushed sample {pushed.sample_id!r}: {pushed.created} tasks created, "
            f"{pushed.already} already there, in {len(pushed.projects)} projects (one queue "
            "per annotator and field, each in the annotator's own organization)"
        )
        pulled = labeling.pulled
        say(
            f"the {labeling.annotated} simulated labels went in as their annotators' own "
            f"annotations, so the queues are done; `annotate pull` read back {pulled.rows} "
            f"labels from {pulled.projects} projects"
        )
        if labeling.review is not None:
            review = labeling.review
            projects = ", ".join(f"{fld} #{pid}" for fld, pid in sorted(review.projects.items()))
            say(
                f"review: the uncertain units went to the reviewer's projects ({projects}); "
                f"{review.decided} decided there, {review.pending} still pending"
            )
        labeled = labeling.labeled
    else:
        from safecal.annotate.example.labeling import label_demo_sample, review_uncertain

        labeled = label_demo_sample(
            ws,
            truth=example.truth,
            human_labels=example.human_labels,
            n=DEMO_SAMPLE,
            seed=seed,
        )
        labeled = review_uncertain(ws, labeled, truth=example.truth)
    from safecal.annotate.example.labeling import describe
    from safecal.annotate.human_labels import import_labels

    import_labels(ws, example.query_quality_labels)
    say(describe(labeled))


def _judges(result: DemoResult, *, say: Callable[[str], None]) -> None:
    from safecal.calibrate import (
        import_verdicts,
        run_keyword_judge,
        tune_run_threshold,
        write_judge_card,
    )
    from safecal.calibrate.render import format_estimate

    ws, example = result.workspace, result.example
    for run in (run_keyword_judge(ws), import_verdicts(ws, example.judge_verdicts, score="score")):
        say(
            f"judge {run.judge}: {run.n_cases} verdicts ({run.n_invalid} invalid answers kept "
            f"as invalid) in {run.seconds:.1f} s; run {run.run_id}"
        )
    tuning = tune_run_threshold(ws, RECORDED_JUDGE, field="harmfulness")
    kappa = tuning.cross_validated.cohen_kappa
    say(
        f"{RECORDED_JUDGE}: threshold {tuning.threshold:.3f} chosen for {tuning.objective}; "
        f"out-of-fold Cohen's kappa {format_estimate(kappa)} "
        f"on {tuning.cross_validated.n} gold labels"
    )
    html, js = write_judge_card(ws, RECORDED_JUDGE, ws.path / "reports" / "judge-card")
    result.outputs.update({"judge card": html, "judge card (JSON)": js})
    say(f"judge card: {html}")


def _rates(result: DemoResult, *, say: Callable[[str], None]) -> None:
    from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
    from safecal.annotate.labels import POSITIVE
    from safecal.annotate.spreadsheet import table_to_csv
    from safecal.calibrate import MEAN_OF_CELLS, POOLED, benchmark_cells
    from safecal.calibrate.render import format_estimate, render_table
    from safecal.calibrate.tables import estimate_table

    ws = result.workspace
    for field_name, rate in (("harmfulness", "attack-success rate"), ("refusal", "refusal rate")):
        est = estimate_table(ws, field=field_name, run=RECORDED_JUDGE)
        cells = benchmark_cells(
            est.table,
            gold="gold",
            judge=est.judge,
            weight=est.weight,
            positive=sorted(POSITIVE[field_name]),
            confidence=DEFAULT_CONFIDENCE,
        )
        totals = cells[cells["cell"].isin([POOLED, MEAN_OF_CELLS])]
        say(
            render_table(
                ["model", "cell", "labeled", "judge rate", "corrected"],
                [
                    [
                        r["model"],
                        r["cell"],
                        r["n_labeled"],
                        r["judge_rate"],
                        format_estimate(r["corrected"], (r["corrected_low"], r["corrected_high"])),
                    ]
                    for r in totals.to_dict("records")
                ],
                title=f"{rate} (judge {RECORDED_JUDGE}, corrected with the gold sample):",
            ).rstrip("\n")
        )
        for note in est.notes:
            say(f"  note: {note}")
        path = ws.path / "reports" / f"{field_name}-cells.csv"
        path.parent.mkdir(exist_ok=True)
        table_to_csv(cells, path)
        result.outputs[f"{rate} cells"] = path


def _curation(result: DemoResult, *, say: Callable[[str], None]) -> None:
    from safecal.calibrate.curation import check_planted, curation_pass, summary_text

    out = result.workspace.path / "reports" / "curation"
    curated = curation_pass(result.workspace, out_dir=out)
    say(summary_text(curated))
    check = check_planted(curated, result.example.planted)
    say(
        f"planted problems found: {int(check['found'].sum())} of {len(check)} "
        "(see example-data/README.md)"
    )
    result.outputs["curation"] = out


def _dashboard(result: DemoResult, *, say: Callable[[str], None]) -> None:
    from safecal.dashboards.launch import launch

    app = launch(result.workspace.path)
    result.urls["dashboard"] = app.url


def _stop_servers(path: Path) -> None:
    """Stop what the demo started: the dashboard and the workspace's Label Studio."""
    from safecal.annotate.labelstudio.server import stop_server
    from safecal.dashboards.launch import stop

    stop(path)

    try:
        stop_server(path)
    except InputError:
        pass
