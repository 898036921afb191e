"""The judging steps as plain functions (what ``safecal demo`` and the dashboard call).

Each step is one call on a workspace; together they are the judge half of the loop::

    run_keyword_judge(ws)                                   # the baseline, no network
    import_verdicts(ws, "judge_verdicts.csv", score="score") # a recorded LLM judge
    tuning = tune_run_threshold(ws, "example-vlm-judge", field="harmfulness")
    write_judge_card(ws, "example-vlm-judge", "out/judge-card")

Runs are cached and resumable (:func:`calibrate.runner.run_judge`); tuning reports
out-of-fold figures only (:mod:`calibrate.tuning`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safecal.annotate.store import Workspace
from safecal.calibrate.runner import RunSummary, run_judge
from safecal.calibrate.tuning import ThresholdTuning


def run_keyword_judge(
    ws: Workspace, *, phrase_files: Sequence[str | Path] | None = None, name: str = "keyword"
) -> RunSummary:
    """Run the keyword refusal judge over every response in the workspace."""
    from safecal.calibrate.judges.keyword import KeywordJudge, read_phrases

    judge = (
        KeywordJudge(name=name)
        if not phrase_files
        else KeywordJudge(phrases=read_phrases(phrase_files), name=name)
    )
    return run_judge(ws, judge)


def import_verdicts(
    ws: Workspace,
    path: str | Path,
    *,
    label: str = "label",
    score: str | None = "score",
    name: str | None = None,
    encoding: str = "utf-8",
) -> RunSummary:
    """Store a file's recorded verdicts as a judge run (invalid labels kept as invalid)."""
    from safecal.calibrate.judges.imported import ImportedJudge

    judge = ImportedJudge.from_file(path, label=label, score=score, name=name, encoding=encoding)
    return run_judge(ws, judge)


def run_llm_judge(
    ws: Workspace,
    *,
    model: str,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 64,
    prices: tuple[float, float] | None = None,
    **options: Any,
) -> RunSummary:
    """Run an OpenAI-compatible LLM judge (options: see :class:`LLMJudge`)."""
    from safecal.calibrate.judges.llm import LLMJudge

    judge = LLMJudge(model=model, base_url=base_url, api_key_env=api_key_env, **options)
    return run_judge(ws, judge, concurrency=concurrency, prices=prices)


def tune_run_threshold(
    ws: Workspace,
    run: str,
    *,
    field: str,
    objective: str = "kappa",
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    assume_random: bool = False,
    **objective_kw: Any,
) -> ThresholdTuning:
    """Tune a scored run's threshold against the workspace's gold labels of ``field``
    (the rows :func:`calibrate.rows.select_rows` picks; ``assume_random``: count gold from
    no sample as a simple random sample)."""
    from safecal.calibrate.report.data import run_table
    from safecal.calibrate.tuning import tune_table

    table, info = run_table(ws, run, field=field, assume_random=assume_random)
    return tune_table(
        table,
        gold="gold",
        score="score",
        positive=info["positive"],
        objective=objective,
        folds=folds,
        seed=seed,
        n_boot=n_boot,
        **objective_kw,
    )


def write_judge_card(
    ws: Workspace,
    run: str,
    out: str | Path,
    *,
    objective: str = "kappa",
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    prompt_tuning: dict[str, Any] | None = None,
    confidence: float | None = None,
    assume_random: bool = False,
) -> tuple[Path, Path]:
    """Write ``<out>.html`` and ``<out>.json`` for one run; returns both paths
    (:func:`calibrate.report.card.judge_card`; ``confidence`` default: the one default
    level)."""
    from safecal.annotate.cli.options import DEFAULT_CONFIDENCE
    from safecal.calibrate.report.card import judge_card, write_card

    card = judge_card(
        ws,
        run,
        objective=objective,
        folds=folds,
        seed=seed,
        n_boot=n_boot,
        prompt_tuning=prompt_tuning,
        confidence=DEFAULT_CONFIDENCE if confidence is None else confidence,
        assume_random=assume_random,
    )
    return write_card(card, out)
