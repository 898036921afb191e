"""Tuning a judge without fooling yourself: cross-validated thresholds, held-out prompts.

Tuning on the items you report on overstates how good the tuned judge is. Two guards:

* **Thresholds** (:func:`tune_threshold_cv`): the reported figures are *out-of-fold*.
  The gold rows are split into ``k`` folds (stratified by gold class, and grouped so that
  responses to one benchmark item never straddle folds); each fold is labelled with the
  threshold tuned (exactly, :func:`calibrate.thresholds.tune_threshold`) on the other
  ``k - 1`` folds; the pooled out-of-fold labels are scored with
  :func:`calibrate.judge_metrics`. The threshold you deploy is tuned on all rows; the
  figure you report estimates how that procedure does on unseen items (as scikit-learn's
  ``TunedThresholdClassifierCV`` frames it).
* **Prompts** (:func:`tune_prompt`): gold responses are split by item into train / dev /
  test (:func:`assign_splits`, a seeded hash of the item id, so adding items never moves
  old ones). Few-shot examples come from train only, candidates are compared on dev only,
  and the chosen prompt and the current one are reported on test only, with intervals
  and McNemar's paired test (:func:`calibrate.paired_test`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.store import judging as store_judging
from safecal.annotate.store import views as store_views
from safecal.calibrate.thresholds import (
    OBJECTIVES,
    ThresholdChoice,
    choose_threshold,
    table_from_sorted,
)

#: the default train / dev / test fractions for prompt tuning
SPLITS: tuple[tuple[str, float], ...] = (("train", 0.4), ("dev", 0.3), ("test", 0.3))


def assign_splits(
    keys: Sequence[str] | pd.Series,
    *,
    fractions: Sequence[tuple[str, float]] = SPLITS,
    seed: int = 0,
) -> np.ndarray:
    """The split of each key: ``u = sha256(f"{seed}:{key}") / 2^256`` falls in one of the
    cumulative fraction intervals. Deterministic, and stable when keys are added."""
    names = [n for n, _ in fractions]
    edges = np.cumsum([f for _, f in fractions])
    if not np.isclose(edges[-1], 1.0):
        raise ValueError("split fractions must sum to 1")
    u = np.array(
        [int(hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:15], 16) / 16**15 for k in keys]
    )
    index = np.minimum(np.searchsorted(edges, u, side="right"), len(names) - 1)
    return np.array(names, dtype=object)[index]


def fold_ids(
    y: np.ndarray, *, folds: int, groups: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Fold number per row: scikit-learn's ``StratifiedKFold`` (or ``StratifiedGroupKFold``
    when ``groups`` is given), shuffled with ``seed``."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y).astype(int)
    if folds < 2:
        raise InputError("--folds must be at least 2")
    smallest = int(min((y == 1).sum(), (y == 0).sum()))
    if smallest < folds:
        raise InputError(
            f"only {smallest} gold rows in the smaller class; cross-validation "
            f"with {folds} folds needs at least {folds} (lower --folds or label "
            "more items)"
        )
    out = np.empty(len(y), dtype=np.int64)
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(y)), y)
    else:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(y)), y, groups)
    for k, (_, test) in enumerate(splits):
        out[test] = k
    return out


@dataclass
class ThresholdTuning:
    """A threshold tuned on all rows, and the out-of-fold figures of the procedure."""

    threshold: float
    objective: str
    choice: ThresholdChoice
    fold: np.ndarray = field(repr=False)
    fold_thresholds: list[float]
    out_of_fold: np.ndarray = field(repr=False)  # bool per row with a score
    cross_validated: Any = None  # calibrate.JudgeResult on the out-of-fold labels
    n_rows: int = 0
    n_without_score: int = 0

    def to_dict(self) -> dict[str, Any]:
        cv = self.cross_validated.to_dict() if self.cross_validated is not None else {}
        metrics = {k: v for k, v in cv.items() if isinstance(v, dict) and "value" in v}
        return {
            "threshold": self.threshold,
            "objective": self.objective,
            "objective_value_in_sample": self.choice.value,
            "feasible": self.choice.feasible,
            "fold_thresholds": self.fold_thresholds,
            "n": self.n_rows,
            "n_without_score": self.n_without_score,
            "cross_validated": metrics,
            "cross_validated_confusion": cv.get("confusion"),
        }


def tune_threshold_cv(
    y_true: np.ndarray | pd.Series,
    score: np.ndarray | pd.Series,
    *,
    objective: str = "kappa",
    folds: int = 5,
    groups: np.ndarray | pd.Series | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    **objective_kw: float,
) -> ThresholdTuning:
    """Tune on all rows; report out-of-fold (see the module docstring).

    ``y_true`` is 1 for a gold positive; rows with a missing score (invalid verdicts) are
    left out of tuning and counted as invalid in the reported figures.
    """
    from safecal.calibrate import judge_metrics

    if objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    y = np.asarray(y_true).astype(int)
    try:
        s = np.asarray(score, dtype=float)
    except (TypeError, ValueError):
        s = pd.to_numeric(pd.Series(np.asarray(score, dtype=object)), errors="coerce").to_numpy(
            float
        )
    has = np.isfinite(s)
    if has.sum() == 0:
        raise InputError("no row has a score; a threshold needs a scored judge")
    if ((s[has] < 0) | (s[has] > 1)).any():
        raise InputError("scores must lie in [0, 1] (P(positive))")
    ys, ss = y[has], s[has]
    g = None if groups is None else np.asarray(groups, dtype=object)[has]
    fold = fold_ids(ys, folds=folds, groups=g, seed=seed)
    cost = {k: v for k, v in objective_kw.items() if k in ("cost_fp", "cost_fn")}
    max_fnr = float(objective_kw.get("max_fnr", 0.1))
    order = np.argsort(-ss)  # sorted once; each training fold keeps this order
    y_sorted, s_sorted, fold_sorted = ys[order], ss[order], fold[order]
    oof = np.zeros(len(ss), dtype=bool)
    thresholds = []
    for k in range(folds):
        train = fold_sorted != k
        table = table_from_sorted(y_sorted[train], s_sorted[train], **cost)
        choice = choose_threshold(table, objective=objective, max_fnr=max_fnr)
        thresholds.append(choice.threshold)
        test = fold == k
        oof[test] = ss[test] >= choice.threshold
    final = choose_threshold(
        table_from_sorted(y_sorted, s_sorted, **cost), objective=objective, max_fnr=max_fnr
    )
    # gold and out-of-fold labels as 1 / 0 (NaN: no score, i.e. an invalid verdict)
    judge_col = np.full(len(y), np.nan)
    judge_col[has] = oof
    table = pd.DataFrame({"gold": y, "judge": judge_col})
    result = judge_metrics(
        table,
        gold="gold",
        judge="judge",
        positive="1",
        labels=["1", "0"],
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )
    return ThresholdTuning(
        threshold=final.threshold,
        objective=objective,
        choice=final,
        fold=fold,
        fold_thresholds=thresholds,
        out_of_fold=oof,
        cross_validated=result,
        n_rows=len(y),
        n_without_score=int((~has).sum()),
    )


def tune_table(
    table: pd.DataFrame,
    *,
    gold: str,
    score: str,
    positive: Sequence[str] | str,
    objective: str = "kappa",
    folds: int = 5,
    group: str | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    **objective_kw: float,
) -> ThresholdTuning:
    """:func:`tune_threshold_cv` on a table's columns (what ``safecal calibrate tune`` runs).

    Rows without a gold label are dropped; ``group`` defaults to ``item_id`` when present.
    """
    for col in (gold, score):
        if col not in table.columns:
            columns = ", ".join(map(str, table.columns))
            raise InputError(f"no column {col!r}; the table has {columns}")
    pos = [positive] if isinstance(positive, str) else list(positive)
    labeled = table[table[gold].notna() & (table[gold].astype("string").str.strip() != "")]
    values = labeled[gold].astype(str).str.strip()
    seen = set(values.unique())
    if not seen & set(pos):
        raise InputError(
            f"--positive {pos}: no gold value in column {gold!r} matches "
            f"(values: {', '.join(sorted(seen)[:10])})"
        )
    if group is None and "item_id" in labeled.columns:
        group = "item_id"
    if group is not None and group not in labeled.columns:
        raise InputError(
            f"--group {group!r}: no such column; the table has {', '.join(map(str, table.columns))}"
        )
    groups = labeled[group].astype(str).to_numpy() if group else None
    return tune_threshold_cv(
        values.isin(pos).to_numpy(),
        labeled[score].to_numpy(),
        objective=objective,
        folds=folds,
        groups=groups,
        seed=seed,
        n_boot=n_boot,
        **objective_kw,
    )


# -- prompt selection --------------------------------------------------------------------
@dataclass
class PromptTuning:
    """Candidates scored on dev; the chosen one and the current one scored on test."""

    field: str
    objective: str
    splits: pd.DataFrame  # response_id, item_id, split
    candidates: pd.DataFrame  # candidate, prompt_version, shots, run_id, dev value / ci
    chosen: str
    chosen_version: str
    baseline_version: str
    test: dict[str, Any]  # {"chosen": JudgeResult, "baseline": JudgeResult}
    paired: Any  # calibrate.PairedResult (chosen = A, baseline = B)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "objective": self.objective,
            "split_sizes": self.splits["split"].value_counts().to_dict(),
            "candidates": self.candidates.to_dict(orient="records"),
            "chosen": self.chosen,
            "chosen_version": self.chosen_version,
            "baseline_version": self.baseline_version,
            "test": {k: v.to_dict() for k, v in self.test.items()},
            "paired_test": self.paired.to_dict(),
        }


def draw_examples(train: pd.DataFrame, k: int, *, seed: int = 0) -> list[Any]:
    """``k`` few-shot examples from the train split, round-robin over gold labels so each
    label is shown, seeded. ``train`` has query, response, label columns."""
    from safecal.calibrate.judges.prompt import Example

    if k == 0 or train.empty:
        return []
    rng = np.random.default_rng(seed)
    pools = {
        lab: list(rng.permutation(grp.index.to_numpy()))
        for lab, grp in sorted(train.groupby("label"))
    }
    picked: list[Any] = []
    while len(picked) < k and any(pools.values()):
        for lab in list(pools):
            if pools[lab] and len(picked) < k:
                picked.append(pools[lab].pop())
    return [
        Example(
            query=str(train.at[i, "query"]),
            response=str(train.at[i, "response"]),
            label=str(train.at[i, "label"]),
        )
        for i in picked
    ]


def gold_cases(ws: Any, field_name: str) -> pd.DataFrame:
    """Gold labels of one field with their responses: response_id, item_id, label."""
    return store_views.gold_cases(ws, field=field_name)


def _verdicts(ws: Any, run_id: str) -> pd.DataFrame:
    return store_judging.run_labels(ws, run_id=run_id)


def tune_prompt(
    ws: Any,
    judge: Any,
    *,
    field_name: str,
    templates: Sequence[Any],
    shots: Sequence[int] = (0, 3),
    seed: int = 0,
    fractions: Sequence[tuple[str, float]] = SPLITS,
    concurrency: int = 16,
    n_boot: int = 1000,
    objective: str = "cohen_kappa",
) -> PromptTuning:
    """Choose a prompt (template x few-shot count) on dev; report it and the judge's
    current prompt on test. ``judge`` is an :class:`~calibrate.judges.llm.LLMJudge`;
    each candidate is run through :func:`calibrate.runner.run_judge` (cached, so a rerun
    costs nothing) on the split it is allowed to see.
    """
    from safecal.annotate.labels import POSITIVE
    from safecal.calibrate import judge_metrics, paired_test
    from safecal.calibrate.runner import load_cases, run_judge

    gold = gold_cases(ws, field_name)
    if gold.empty:
        raise InputError(f"no gold labels for field {field_name!r}; adjudicate first")
    gold["split"] = assign_splits(gold["item_id"], fractions=fractions, seed=seed)
    by_split = {name: gold[gold["split"] == name] for name, _ in fractions}
    for name in ("dev", "test"):
        if by_split.get(name) is None or by_split[name].empty:
            raise InputError(
                f"the {name} split of the {field_name} gold set is empty; label more items"
            )
    cases = {c.response_id: c for c in load_cases(ws, response_ids=gold["response_id"])}
    train = (
        by_split["train"]
        .assign(
            query=lambda d: [cases[r].query for r in d["response_id"]],
            response=lambda d: [cases[r].response for r in d["response_id"]],
        )
        .reset_index(drop=True)
    )
    positive = sorted(POSITIVE[field_name])

    def evaluate(candidate_judge: Any, split: str) -> tuple[str, pd.DataFrame]:
        ids = by_split[split]["response_id"]
        run_judge(ws, candidate_judge, cases=[cases[r] for r in ids], concurrency=concurrency)
        run_id = candidate_judge.config.run_id()
        merged = by_split[split][["response_id", "label"]].merge(
            _verdicts(ws, run_id), on="response_id", how="left"
        )
        return run_id, merged

    rows, judges = [], {}
    for template in templates:
        if template.field != field_name:
            raise InputError(f"prompt {template.name} is for {template.field}, not {field_name}")
        for k in shots:
            prompt = template.with_examples(draw_examples(train, k, seed=seed))
            name = f"{template.name}+{k}shot"
            cand = replace(judge, prompts={**judge.prompts, field_name: prompt}, name=name)
            run_id, merged = evaluate(cand, "dev")
            result = judge_metrics(
                merged, gold="label", judge="judge", positive=positive, n_boot=n_boot, seed=seed
            )
            est = getattr(result, objective)
            rows.append(
                {
                    "candidate": name,
                    "prompt_version": prompt.version,
                    "shots": k,
                    "run_id": run_id,
                    f"dev_{objective}": est.value,
                    "dev_ci_low": est.ci[0],
                    "dev_ci_high": est.ci[1],
                    "dev_n_invalid": result.n_invalid,
                }
            )
            judges[name] = cand
    table = pd.DataFrame(rows)
    key = f"dev_{objective}"
    ranked = table.assign(_v=table[key].fillna(-np.inf)).sort_values(
        ["_v", "shots"], ascending=[False, True], kind="stable"
    )
    chosen = str(ranked["candidate"].iloc[0])

    _, test_chosen = evaluate(judges[chosen], "test")
    baseline_judge = replace(judge, name=f"{judge.name}")
    _, test_base = evaluate(baseline_judge, "test")
    both = test_chosen.rename(columns={"judge": "chosen"}).merge(
        test_base[["response_id", "judge"]].rename(columns={"judge": "baseline"}), on="response_id"
    )
    test = {
        "chosen": judge_metrics(
            both, gold="label", judge="chosen", positive=positive, n_boot=n_boot, seed=seed
        ),
        "baseline": judge_metrics(
            both, gold="label", judge="baseline", positive=positive, n_boot=n_boot, seed=seed
        ),
    }
    paired = paired_test(
        both,
        gold="label",
        judge_a="chosen",
        judge_b="baseline",
        positive=positive,
        n_boot=n_boot,
        seed=seed,
    )
    return PromptTuning(
        field=field_name,
        objective=objective,
        splits=gold[["response_id", "item_id", "split"]],
        candidates=table,
        chosen=chosen,
        chosen_version=judges[chosen].prompts[field_name].version,
        baseline_version=judge.prompts[field_name].version,
        test=test,
        paired=paired,
    )
