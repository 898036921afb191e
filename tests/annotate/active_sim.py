"""A simulated benchmark for active gold selection, shared by tests and the benchmark.

Models x cells of responses, a true 0/1 label each, and a judge whose score is informative
in easy cells and near 0.5 (often wrong) in hard ones, so the judge's error varies by cell
and by score. Rounds draw with :func:`annotate.next_round.design_round` (active) or
uniformly among the unlabeled responses (proportional), systematic within strata;
weights come from :func:`annotate.rounds.combined_weights`, and each cell's corrected rate from
:func:`calibrate.ppi.corrected_rate` with those weights, as the workspace loaders do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from safecal.annotate.next_round import design_round, systematic_draw
from safecal.annotate.rounds import combined_weights, probability_cap
from safecal.calibrate.ppi import corrected_rate


@dataclass
class Population:
    frame: pd.DataFrame  # response_id, item_id, model, language, aspect, stratum, p, truth
    truth: dict[str, float]  # cell -> finite-population rate


def population(
    seed: int, *, models: int = 3, cells: int = 12, per_cell: int = 400, hard: float = 0.25
) -> Population:
    rng = np.random.default_rng(seed)
    parts = []
    for m in range(models):
        for c in range(cells):
            rate = rng.uniform(0.05, 0.6)
            strength = rng.uniform(0.0, 0.6) if rng.random() < hard else rng.uniform(2.5, 4.0)
            y = (rng.random(per_cell) < rate).astype(float)
            logit = strength * (2 * y - 1) + rng.normal(0, 1.0, per_cell)
            score = 1 / (1 + np.exp(-logit))
            parts.append(
                pd.DataFrame(
                    {
                        "model": f"m{m}",
                        "stratum": f"m{m}|c{c:02d}",
                        "p": score,
                        "truth": y,
                    }
                )
            )
    frame = pd.concat(parts, ignore_index=True)
    frame["response_id"] = [f"r{i:06d}" for i in range(len(frame))]
    frame["item_id"] = frame["response_id"]
    frame["language"] = "en"
    frame["aspect"] = "vulnerability"
    truth = frame.groupby("stratum")["truth"].mean().to_dict()
    return Population(frame, truth)


@dataclass
class History:
    first: np.ndarray  # phase each response was first drawn in (-1: never)
    prob: np.ndarray  # its probability then
    intensity: list[np.ndarray] = field(default_factory=list)  # per phase, per response


def new_history(size: int) -> History:
    return History(np.full(size, -1), np.zeros(size))


def run_round(
    pop: Population, hist: History, *, n: int, method: str, rng: np.random.Generator
) -> None:
    """Draw one round (``active`` or ``proportional``) and record it in ``hist``."""
    f = pop.frame
    unlabeled = hist.first < 0
    previous = np.sum(hist.intensity, axis=0) if hist.intensity else np.zeros(len(f), dtype=float)
    if method == "active":
        frame = f.assign(
            unlabeled=unlabeled,
            y=np.where(unlabeled, np.nan, f["truth"]),
            previous=previous,
        )
        units, _ = design_round(frame, n=n, goal="corrected", floor=0.2, confidence=0.9)
        prob = np.zeros(len(f))
        prob[unlabeled] = units["inclusion_prob"].to_numpy()
    else:
        prob = np.where(unlabeled, n / unlabeled.sum(), 0.0)
        prob = np.where(unlabeled, np.minimum(prob, probability_cap(previous, prob)), 0.0)
    # intensity: expected labels over unlabeled responses, per stratum
    s = f["stratum"].to_numpy()
    exp_h = pd.Series(prob).groupby(s).sum()
    cnt_h = pd.Series(unlabeled.astype(float)).groupby(s).sum()
    hist.intensity.append(pd.Series(s).map(exp_h / cnt_h.clip(lower=1)).to_numpy(float))
    codes, _ = pd.factorize(f["stratum"])
    hit = unlabeled & systematic_draw(prob, codes, rng)
    hist.first[hit] = len(hist.intensity) - 1
    hist.prob[hit] = prob[hit]


def inclusion(hist: History) -> np.ndarray:
    """Effective inclusion probability of each labeled response (NaN elsewhere)."""
    out = np.full(len(hist.first), np.nan)
    lab = hist.first >= 0
    if lab.any():
        m = np.array(hist.intensity)[:, lab]
        w = combined_weights(hist.first[lab], hist.prob[lab], m)
        out[lab] = np.minimum(1.0, 1.0 / w)
    return out


def cell_estimates(pop: Population, hist: History, *, confidence: float = 0.9) -> pd.DataFrame:
    """Per cell: n_labeled, corrected rate, low, high, width, truth, covered."""
    f = pop.frame
    pi = inclusion(hist)
    table = pd.DataFrame(
        {
            "gold": np.where(hist.first >= 0, np.where(f["truth"] == 1, "pos", "neg"), None),
            "judge": np.where(f["p"] >= 0.5, "pos", "neg"),
            "score": f["p"],
            "inclusion_prob": pi,
            "stratum": f["stratum"],
        }
    )
    rows = []
    for cell, part in table.groupby("stratum", sort=True):
        r = corrected_rate(
            part,
            gold="gold",
            judge="judge",
            positive="pos",
            weight="inclusion_prob",
            confidence=confidence,
            score="score",
        )
        lo, hi = r.corrected.ci
        t = pop.truth[str(cell)]
        rows.append(
            {
                "cell": cell,
                "n_labeled": r.n_labeled,
                "value": r.corrected.value,
                "low": lo,
                "high": hi,
                "width": hi - lo,
                "truth": t,
                "covered": bool(lo <= t <= hi),
            }
        )
    return pd.DataFrame(rows)
