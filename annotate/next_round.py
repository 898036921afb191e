"""``annotate next``: the next N responses to label, where they narrow the intervals most.

Given the gold collected so far and the judge verdicts, one round of active gold
selection (Zrnic & Candes 2024, "Active Statistical Inference", ICML):

1. **Rectifier variance per stratum.** A stratum's corrected rate (PPI, :mod:`calibrate.ppi`)
   has variance ``V_J + sigma_h^2 / n_h``: the judge term ``V_J = s^2(p) / N_h`` (fixed by
   the judged responses) and the rectifier term, ``sigma_h^2`` the variance of
   ``d_i = Y_i - p_i`` (gold minus the judge's prediction ``p_i``: the mean over the judge
   runs of each run's score, else its 0/1 verdict) over the stratum's ``n_h`` gold labels.
   Strata with little or no gold get a floor: ``sigma_h^2`` is shrunk towards the pooled
   variance of all gold (0.25, the largest of a 0/1 variable, without gold), as
   ``(n_h s_h^2 + K s_pool^2) / (n_h + K)`` with ``K = 5`` pseudo-labels.
2. **Allocation across strata (``--goal corrected``).** Every cell's interval is reported
   (the benchmark's 12-cell table), so the round minimises the *largest* projected
   variance: water-filling ``x_h = deff_h (sigma_h^2 / L - n_h)`` clipped to
   ``[0, U_h]`` (``U_h``: the stratum's responses no sample drew yet), with the level ``L``
   set by ``sum x_h = N`` (bisection). This is Neyman's allocation (Neyman 1934; the
   stratified-PPI allocation of Fisch et al. 2024, "Stratified Prediction-Powered
   Inference", NeurIPS) for the minimax instead of the pooled-total objective: it gives
   labels to cells whose interval is wide because the judge errs there, not to cells that
   are merely large.
3. **Within a stratum**, probabilities proportional to the judge's uncertainty
   ``u_i = sqrt(p_i (1 - p_i))`` (score near 0.5, or judge runs that disagree; Zrnic &
   Candes's rule ``pi ~ sqrt(Var(Y | X))`` for a calibrated ``p``), all equal when
   nothing tells the responses apart (one 0/1 judge).
4. **Floor.** Mixed with uniform: ``pi_i = a N / U + (1 - a) pi_i^active`` (``a`` =
   ``--floor``, default 0.2), so every unlabeled response keeps at least ``a`` times
   the uniform probability; none is unreachable and the weights ``1 / pi`` stay bounded.
   Then capped by :func:`annotate.rounds.probability_cap` (and 1).
5. **Draw**: randomized systematic sampling within each stratum (:func:`systematic_draw`,
   a conditional design: the size per stratum is fixed up to rounding), inclusion
   probabilities recorded in ``samples`` and the round's design in ``rounds`` /
   ``round_strata``, so the estimators combine the rounds as
   :mod:`annotate.rounds` documents. Responses any earlier sample drew are excluded
   (honeypots and imported gold are not: the estimators set their gold aside, so they
   must stay reachable).

``--goal validation`` aims at the judge's validation instead (its accuracy per predicted
class, hence its sensitivity and specificity): strata are split by the judge's predicted
class (``judge+`` / ``judge-`` / ``no verdict``), ``sigma^2`` is the variance of the judge's
error indicator there, the same minimax allocation spreads labels across predicted
classes, and within a sub-stratum the draw is uniform (no uncertainty weighting), so the
labels of each predicted class are a simple random sample of it.

**Projection** (:attr:`NextPlan.strata`): per stratum, the normal-approximation interval
width ``2 z sqrt(V_J + V_R)`` now, after the N labels spread proportionally to the
unlabeled responses, and after this round's design, with
``V_R = 1 / (n_h / sigma_h^2 + e_h / (deff_h sigma_h^2))`` (``e_h`` the expected new
labels, ``deff_h = mean(v_i ebar / pi_i) / mean(v_i)`` the design effect of the unequal
probabilities under the model variance ``v_i = p_i (1 - p_i)``, floored at 0.25). The same
algebra as :func:`calibrate.ppi.gold_budget`, per stratum; written here because annotate
must not import calibrate (the import layers), and it is a few lines.

Why here and not in calibrate: the command is ``safecal annotate next`` and writes a
sample, which is annotate's; it reads only the store (verdicts through
``store.judging``), so the layers stay annotate -> calibrate -> dashboards.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any, Final

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import FIELD_FOR_ASPECT, POSITIVE, SCALES
from safecal.annotate.rounds import (
    STRATUM_COLUMNS,
    previous_intensity,
    probability_cap,
    stratum_keys,
)
from safecal.annotate.spreadsheet import table_to_csv
from safecal.annotate.store import Workspace, judging
from safecal.annotate.store import rounds as round_rows
from safecal.annotate.store import samples as sample_rows

GOALS: Final = ("corrected", "validation")
DEFAULT_BY: Final = ("model", "level1", "modality")
PSEUDO_LABELS: Final = 5  # K of the variance floor
PRIOR_VARIANCE: Final = 0.25
OUT_COLUMNS: Final = ("response_id", "item_id", "model", "language", "inclusion_prob")


@dataclass(frozen=True)
class NextPlan:
    """One round's design before the draw: ``units`` (every unlabeled response with its
    stratum and inclusion probability) and ``strata`` (per stratum: sizes, gold, sigma^2,
    expected labels proportional and proposed, projected widths)."""

    n: int
    by: tuple[str, ...]
    goal: str
    aspect: str | None
    confidence: float
    floor: float
    units: pd.DataFrame
    strata: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v.item() if isinstance(v, np.generic) else v

        rows = [{k: clean(v) for k, v in r.items()} for r in self.strata.to_dict(orient="records")]
        return {
            "n": self.n,
            "by": list(self.by),
            "goal": self.goal,
            "aspect": self.aspect,
            "confidence": self.confidence,
            "floor": self.floor,
            "expected_labels": float(self.units["inclusion_prob"].sum()),
            "strata": rows,
        }


@dataclass(frozen=True)
class NextResult:
    """The plan, the drawn responses, and the recorded sample id and round (``None``
    when not recorded, with ``--out``)."""

    plan: NextPlan
    sample: pd.DataFrame
    sample_id: str | None
    round: int | None

    def to_dict(self) -> dict[str, Any]:
        return self.plan.to_dict() | {
            "sample_id": self.sample_id,
            "round": self.round,
            "drawn": len(self.sample),
        }


def _predictions(ws: Workspace, frame: pd.DataFrame) -> pd.Series:
    """``p_i``: per response, the mean over its valid verdicts of the response's field of
    the score, else of the 0/1 verdict (NaN when no verdict)."""
    v = judging.valid_verdicts(ws)
    if v.empty:
        return pd.Series(np.nan, index=frame["response_id"])
    field_of = frame.set_index("response_id")["aspect"].map(FIELD_FOR_ASPECT)
    v = v[v["response_id"].map(field_of) == v["field"]]
    key = v["field"].astype(str) + "\x00" + v["label"].astype(str)
    v = v[key.isin({f"{f}\x00{lab}" for f, scale in SCALES.items() for lab in scale})]
    positive = {f"{f}\x00{lab}" for f, labs in POSITIVE.items() for lab in labs}
    binary = (v["field"].astype(str) + "\x00" + v["label"].astype(str)).isin(positive)
    value = v["score"].astype(float).where(v["score"].notna(), binary.astype(float))
    p = value.groupby(v["response_id"]).mean()
    return p.reindex(frame["response_id"])


def _gold(ws: Workspace, frame: pd.DataFrame) -> pd.Series:
    """``Y_i``: 1/0 gold of the response's field, NaN where none."""
    g = round_rows.gold_labels(ws)
    field_of = frame.set_index("response_id")["aspect"].map(FIELD_FOR_ASPECT)
    g = g[g["response_id"].map(field_of) == g["field"]]
    positive = {f"{f}\x00{lab}" for f, labs in POSITIVE.items() for lab in labs}
    key = g["field"].astype(str) + "\x00" + g["label"].astype(str)
    y = pd.Series(key.isin(positive).astype(float).to_numpy(), index=g["response_id"].to_numpy())
    return y.reindex(frame["response_id"])


def shrunk_variance(d: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma_h^2, n_h)`` for strata ``0..k-1`` (``codes``: each row's stratum) from the
    values ``d`` (NaN: no gold), shrunk to the pooled variance (module docstring, step 1)."""
    have = ~np.isnan(d)
    pooled = float(np.var(d[have], ddof=1)) if have.sum() >= 2 else PRIOR_VARIANCE
    pooled = max(pooled, 1e-3)
    n_h = np.bincount(codes[have], minlength=k).astype(float)
    total = np.bincount(codes[have], weights=d[have], minlength=k)
    squares = np.bincount(codes[have], weights=d[have] ** 2, minlength=k)
    mean = total / np.maximum(n_h, 1)
    dof = np.maximum(n_h - 1, 0)  # (n - 1) s^2 = sum d^2 - n mean^2
    ss = np.maximum(squares - n_h * mean**2, 0.0)
    sigma2 = (ss + PSEUDO_LABELS * pooled) / (dof + PSEUDO_LABELS)
    return np.maximum(sigma2, 1e-3), n_h


def water_fill(
    sigma2: np.ndarray, n_now: np.ndarray, deff: np.ndarray, cap: np.ndarray, total: float
) -> np.ndarray:
    """``x_h`` minimising ``max_h sigma_h^2 / (n_h + x_h / deff_h)`` with ``sum x = total``
    and ``0 <= x_h <= cap_h`` (module docstring, step 2)."""
    total = min(total, float(cap.sum()))
    if total <= 0:
        return np.zeros_like(sigma2)

    def alloc(level: float) -> np.ndarray:
        return np.clip(deff * (sigma2 / level - n_now), 0.0, cap)

    lo, hi = 1e-12, float((sigma2 / np.maximum(n_now, 1e-9)).max()) + 1.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if alloc(mid).sum() > total:
            lo = mid
        else:
            hi = mid
    x = alloc(hi)
    short = total - x.sum()
    if short > 1e-9:  # give the rest where room is left, by size of the gap
        room = cap - x
        x = x + short * room / room.sum()
    return x


def _width(z: float, v_judge: np.ndarray, v_rect: np.ndarray) -> np.ndarray:
    return np.minimum(2 * z * np.sqrt(v_judge + v_rect), 1.0)


def systematic_draw(prob: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which rows are drawn: randomized systematic sampling (Hartley & Rao 1962): rows
    grouped by stratum and shuffled within it, one uniform start ``u``, and every row whose
    stretch of the cumulative probability contains a point of ``u + k`` (``k`` integer) is
    drawn. Each row's inclusion probability is exactly ``prob`` (all ``<= 1``); any run of
    rows with total probability ``s``, a stratum or all of them, gets ``floor(s)`` or
    ``ceil(s)`` draws, so sizes do not vary as Poisson sampling's would (a varying size
    per stratum would feed back into the next round's allocation and its weights)."""
    order = np.lexsort((rng.random(len(prob)), codes))
    p = prob[order]
    cum = np.cumsum(p)
    start = rng.random()
    hit = np.floor(cum - start) > np.floor(cum - p - start)
    out = np.zeros(len(prob), dtype=bool)
    out[order] = hit
    return out


def design_round(
    frame: pd.DataFrame, *, n: int, goal: str, floor: float, confidence: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The round's design on plain data (steps 1-4 and the projection of the module
    docstring): ``frame`` has one row per response with response_id, item_id, model,
    language, aspect, ``stratum``, ``unlabeled`` (bool: no sample drew it), ``p`` (judge
    prediction, NaN: none), ``y`` (0/1 gold, NaN: none) and ``previous`` (the earlier
    phases' summed intensity, :func:`annotate.rounds.previous_intensity`). Returns
    ``(units, strata)`` as :class:`NextPlan` holds them."""
    frame = frame.reset_index(drop=True)
    p = frame["p"].to_numpy(float)
    y = frame["y"].to_numpy(float)
    stratum = frame["stratum"].astype(str).to_numpy(object)
    no_p = np.isnan(p)
    if goal == "corrected":
        d = y - np.where(no_p, 0.5, p)
        u = np.where(no_p, 0.5, np.sqrt(np.clip(p * (1 - p), 0, None)))
        plan = stratum
    else:
        judge_pos = (p >= 0.5).astype(float)
        cls = np.where(no_p, "no verdict", np.where(judge_pos == 1, "judge+", "judge-"))
        plan = (stratum + "|" + cls).astype(object)
        d = np.where(no_p | np.isnan(y), np.nan, (y != judge_pos).astype(float))
        u = np.ones(len(frame))
    codes, uniques = pd.factorize(pd.Series(plan), sort=True)
    keys = [str(k) for k in uniques]
    k = len(keys)
    sigma2, n_now = shrunk_variance(d, codes, k)
    size = np.bincount(codes, minlength=k).astype(float)
    un = frame["unlabeled"].to_numpy(bool)
    cu, uu = codes[un], u[un]
    u_count = np.bincount(cu, minlength=k).astype(float)
    sums = np.bincount(cu, weights=uu, minlength=k)
    share = np.where(sums[cu] > 0, uu / np.where(sums > 0, sums, 1)[cu], 1 / u_count[cu])
    v = np.clip(uu**2, 1e-4, None)  # model variance of the rectifier, p (1 - p)
    v_mean = np.bincount(cu, weights=v, minlength=k) / np.maximum(u_count, 1)

    def deff_of(prob: np.ndarray) -> np.ndarray:
        """mean(v ebar / pi) / mean(v) per stratum, in [0.25, 1] where defined."""
        ebar = np.bincount(cu, weights=prob, minlength=k) / np.maximum(u_count, 1)
        ratio = np.bincount(cu, weights=v * ebar[cu] / np.maximum(prob, 1e-12), minlength=k)
        out = ratio / np.maximum(u_count, 1) / np.where(v_mean > 0, v_mean, 1)
        return np.clip(np.where(u_count > 0, out, 1.0), 0.25, None)

    x = water_fill(sigma2, n_now, np.minimum(deff_of(share), 1.0), u_count, float(n))
    total_un = float(un.sum())
    prob = floor * n / total_un + (1 - floor) * x[cu] * share
    # the round's intensity in each response's (by-)stratum, for the weight cap
    s_codes, _ = pd.factorize(pd.Series(stratum[un]))
    m_now = (np.bincount(s_codes, weights=prob) / np.bincount(s_codes))[s_codes]
    cap = probability_cap(frame["previous"].to_numpy(float)[un], m_now)
    prob = np.minimum(np.minimum(prob, cap), 1.0)
    units = frame.loc[un, ["response_id", "item_id", "model", "language", "aspect", "stratum"]]
    units = units.assign(plan=plan[un], inclusion_prob=prob).reset_index(drop=True)
    # projection per plan stratum
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    has_p = ~no_p
    cp = codes[has_p]
    n_p = np.bincount(cp, minlength=k)
    mean_p = np.bincount(cp, weights=p[has_p], minlength=k) / np.maximum(n_p, 1)
    var_p = np.bincount(cp, weights=p[has_p] ** 2, minlength=k) / np.maximum(n_p, 1) - mean_p**2
    v_judge = np.maximum(var_p, 0.0) / size
    e_prop = n * u_count / total_un
    e_new = np.bincount(cu, weights=prob, minlength=k)
    deff = deff_of(prob)
    with np.errstate(divide="ignore"):
        v_now = np.where(n_now > 0, sigma2 / np.maximum(n_now, 1e-12), np.inf)
        v_prop = sigma2 / (n_now + e_prop)
        v_next = 1 / (n_now / sigma2 + e_new / (deff * sigma2))
    strata = pd.DataFrame(
        {
            "stratum": keys,
            "N": size.astype(int),
            "unlabeled": u_count.astype(int),
            "gold": n_now.astype(int),
            "sigma2": sigma2,
            "proportional": e_prop,
            "proposed": e_new,
            "width_now": _width(z, v_judge, v_now),
            "width_proportional": _width(z, v_judge, v_prop),
            "width_proposed": _width(z, v_judge, v_next),
        }
    )
    return units, strata


def plan_next(
    ws: Workspace,
    *,
    n: int,
    by: tuple[str, ...] = DEFAULT_BY,
    goal: str = "corrected",
    aspect: str | None = None,
    confidence: float = 0.9,
    floor: float = 0.2,
) -> NextPlan:
    """The next round's inclusion probabilities and projection (module docstring)."""
    unknown = [b for b in by if b not in STRATUM_COLUMNS]
    if unknown:
        raise InputError(
            f"--by {','.join(unknown)}: unknown stratum; choose from {', '.join(STRATUM_COLUMNS)}"
        )
    if goal not in GOALS:
        raise InputError(f"--goal {goal}: expected one of {', '.join(GOALS)}")
    if n < 1:
        raise InputError(f"--n {n}: the number of responses to pick, at least 1")
    if not 0 < floor <= 1:
        raise InputError(f"--floor {floor}: a share of the uniform probability in (0, 1]")
    if not 0 < confidence < 1:
        raise InputError(f"--confidence {confidence}: between 0 and 1")
    frame = sample_rows.sampling_frame(ws)
    if aspect:
        frame = frame[frame["aspect"] == aspect].reset_index(drop=True)
    if frame.empty:
        raise InputError("no responses to pick from; run `safecal ingest responses` first")
    frame = frame.assign(stratum=stratum_keys(frame, by).to_numpy())
    drawn = set(round_rows.drawn_responses(ws)["response_id"])
    frame["unlabeled"] = ~frame["response_id"].isin(drawn)
    if not frame["unlabeled"].any():
        raise InputError("every response was drawn by a sample already; nothing left to pick")
    frame["p"] = _predictions(ws, frame).to_numpy(float)
    frame["y"] = _gold(ws, frame).to_numpy(float)
    frame["previous"] = 0.0
    un = frame["unlabeled"].to_numpy()
    frame.loc[un, "previous"] = previous_intensity(ws, frame[un])
    units, strata = design_round(frame, n=n, goal=goal, floor=floor, confidence=confidence)
    return NextPlan(
        n=n,
        by=by,
        goal=goal,
        aspect=aspect,
        confidence=confidence,
        floor=floor,
        units=units,
        strata=strata,
    )


def draw_next(
    ws: Workspace,
    *,
    n: int,
    by: tuple[str, ...] = DEFAULT_BY,
    goal: str = "corrected",
    aspect: str | None = None,
    confidence: float = 0.9,
    floor: float = 0.2,
    seed: int = 0,
    sample_id: str | None = None,
    out: str | Path | None = None,
) -> NextResult:
    """Plan and draw the next round (:func:`systematic_draw`). Without ``out`` the draw is
    recorded as sample ``sample_id`` (a round); with ``out`` it is only written to that
    CSV (formulas neutralised) and nothing is recorded: labels of those responses would
    have no inclusion probability, so draw again without ``out`` (same seed, same
    workspace: same responses) to label them."""
    plan = plan_next(ws, n=n, by=by, goal=goal, aspect=aspect, confidence=confidence, floor=floor)
    rng = np.random.default_rng(seed)
    units = plan.units
    codes, _ = pd.factorize(units["plan"])
    chosen = units[systematic_draw(units["inclusion_prob"].to_numpy(float), codes, rng)]
    chosen = chosen.reset_index(drop=True)
    if out is not None:
        try:
            table_to_csv(chosen[list(OUT_COLUMNS)], out)
        except OSError as exc:
            raise InputError(f"--out {out}: cannot write the file ({exc})") from None
        return NextResult(plan, chosen, None, None)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    sample_id = sample_id or f"next-{seed}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}"
    by_strata = units.groupby("stratum").agg(
        n_frame=("response_id", "size"), n_expected=("inclusion_prob", "sum")
    )
    if chosen.empty:
        raise InputError(f"--n {n}: the draw picked no response; ask for more")
    with ws.transaction() as con:
        if sample_rows.sample_exists(con, sample_id=sample_id) or round_rows.round_exists(
            con, sample_id=sample_id
        ):
            raise InputError(f"sample {sample_id!r} exists already; choose another --sample-id")
        number = round_rows.next_round_number(con)
        sample_rows.insert_sample(
            con,
            rows=[
                (sample_id, r, s, float(pi), seed, now)
                for r, s, pi in zip(
                    chosen["response_id"], chosen["plan"], chosen["inclusion_prob"], strict=True
                )
            ],
        )
        round_rows.insert_round(
            con,
            row=(
                sample_id,
                number,
                ",".join(by),
                goal,
                aspect,
                n,
                float(units["inclusion_prob"].sum()),
                seed,
                now,
            ),
            strata=[
                (sample_id, str(s), int(r.n_frame), float(r.n_expected))
                for s, r in by_strata.iterrows()
            ],
        )
    return NextResult(plan, chosen, sample_id, number)
