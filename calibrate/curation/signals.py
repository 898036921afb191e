"""Per-query curation signals, one long table: ``item_id, signal, severity, value,
support, evidence, suggestion``.

Each signal function takes :class:`~calibrate.curation.inputs.CurationInputs`
and :class:`~calibrate.curation.thresholds.CurationThresholds` and returns rows
only for the queries it flags. ``severity`` is ``note`` (listed, decides
nothing), ``review`` or ``drop``; ``value`` is the signal's share / rate /
similarity, ``support`` the number of answers, responses or pairs behind it.

Signals (codes as they appear in the ``signal`` column):

* ``risk_label_wrong``: annotators answer ``risk_label_correct = no`` (a
  "harmful" query that is not; a benign over-refusal probe that is harmful).
* ``image_irrelevant``: ``image_relevant = no``.
* ``modality_contradicted``: the declared text risk implies whether the risk
  needs the image (``text_risk = 0`` means it does); annotators' ``cross_modal``
  answer says otherwise (e.g. a RIST item whose text is risky on its own).
* ``category_wrong``: ``category_correct = no``; the suggestion is the level-3
  category the annotators gave most often.
* ``human_disagreement``: share of the query's responses (with >= 2 labels) on
  which annotators disagree in the binary view (:func:`annotate.labels.to_binary`).
* ``judge_disagreement``: share of (judge run, response) pairs where the judge's
  binary verdict differs from the human one (gold label, else the annotators'
  unanimous label); the evidence adds the overall rate and a one-sided binomial
  tail p-value ``P(X >= k | n, overall rate)`` (scipy.stats.binomtest), which
  says whether the disagreement is concentrated on this query.
* ``uniform_outcome``: every model refuses, or every model complies, so the
  query tells no models apart. Outcomes are gold labels where present, else the
  verdicts of one judge run (the latest, unless chosen); the evidence says which.
* ``near_duplicate``: see :mod:`calibrate.curation.duplicate_signals`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from safecal.annotate.labels import FIELD_FOR_ASPECT, SCALES, fold, modality, to_binary
from safecal.calibrate.curation.inputs import CurationInputs
from safecal.calibrate.curation.thresholds import CurationThresholds

SIGNAL_COLUMNS = ["item_id", "signal", "severity", "value", "support", "evidence", "suggestion"]
SEVERITIES = ("note", "review", "drop")
SIGNALS = (
    "risk_label_wrong",
    "image_irrelevant",
    "modality_contradicted",
    "category_wrong",
    "human_disagreement",
    "judge_disagreement",
    "uniform_outcome",
    "near_duplicate",
)


def natural_order(ids: pd.Series) -> pd.Series:
    """Sort key putting ``"9"`` before ``"10"``: ids compare by their digit runs as numbers."""

    def key(item_id: object) -> tuple[tuple[int, object], ...]:
        parts = re.split(r"(\d+)", str(item_id))
        return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)

    return ids.map(key)


def empty_signals() -> pd.DataFrame:
    return signal_frame([])


def signal_frame(rows: Iterable[dict[str, object]]) -> pd.DataFrame:
    """Signal rows as a DataFrame with :data:`SIGNAL_COLUMNS` and fixed dtypes."""
    frame = pd.DataFrame(list(rows), columns=SIGNAL_COLUMNS)
    return frame.astype(
        {
            "item_id": "string",
            "signal": "string",
            "severity": "string",
            "value": "float64",
            "support": "int64",
            "evidence": "string",
            "suggestion": "string",
        }
    )


def _yes_no_counts(answers: pd.DataFrame, field: str) -> pd.DataFrame:
    """Per item: ``n_yes``, ``n_no``, ``n_unreadable`` answers to a yes/no field."""
    sub = answers[answers["field"] == field]
    label = sub["label"].astype("string").map(fold, na_action="ignore").fillna("")  # any case
    counts = pd.DataFrame(
        {
            "item_id": sub["item_id"].astype("string"),
            "n_yes": (label == "yes").astype(int),
            "n_no": (label == "no").astype(int),
            "n_unreadable": (~label.isin(["yes", "no"])).astype(int),
        }
    )
    return counts.groupby("item_id", as_index=True).sum()


def _unreadable(n: int) -> str:
    return f" ({n} unreadable answer{'s' if n != 1 else ''} ignored)" if n else ""


def _answer_severity(share: float, n: int, th: CurationThresholds, *, can_drop: bool) -> str | None:
    """drop / review / None for ``share`` of ``n`` annotators contradicting the item."""
    if can_drop and n >= th.drop_min_answers and share >= th.drop_share:
        return "drop"
    if share >= th.answer_share and round(share * n) >= th.min_contradicting:
        return "review"
    return None


def _concentration_p(k: int, n: int, overall: float) -> float:
    """One-sided binomial tail ``P(X >= k)``, ``X ~ Binomial(n, overall)`` (scipy.stats)."""
    from scipy.stats import binomtest

    if overall <= 0.0:
        return 0.0 if k > 0 else 1.0
    if overall >= 1.0:
        return 1.0
    return float(binomtest(k, n, overall, alternative="greater").pvalue)


def risk_label_signals(inputs: CurationInputs, th: CurationThresholds) -> pd.DataFrame:
    """``risk_label_wrong``: annotators say the query's harmful / benign label is wrong."""
    counts = _yes_no_counts(inputs.item_answers, "risk_label_correct")
    items = inputs.items.set_index("item_id")
    rows = []
    for item_id, c in counts.iterrows():
        n = int(c["n_yes"] + c["n_no"])
        if item_id not in items.index or n == 0:
            continue
        share = c["n_no"] / n
        severity = _answer_severity(share, n, th, can_drop=True)
        if severity is None:
            continue
        aspect = items.at[item_id, "aspect"]
        what = (
            "say this query labelled harmful is not harmful"
            if aspect == "vulnerability"
            else "say this benign over-refusal probe is actually harmful"
        )
        rows.append(
            {
                "item_id": item_id,
                "signal": "risk_label_wrong",
                "severity": severity,
                "value": share,
                "support": n,
                "evidence": f"{int(c['n_no'])} of {n} annotators {what}"
                f"{_unreadable(int(c['n_unreadable']))}",
                "suggestion": "overrefusal" if aspect == "vulnerability" else "vulnerability",
            }
        )
    return signal_frame(rows)


def image_signals(inputs: CurationInputs, th: CurationThresholds) -> pd.DataFrame:
    """``image_irrelevant``: the image has nothing to do with the text.

    Drop-worthy only for RIST / SIST queries, whose risk needs the image.
    """
    counts = _yes_no_counts(inputs.item_answers, "image_relevant")
    items = inputs.items.set_index("item_id")
    rows = []
    for item_id, c in counts.iterrows():
        n = int(c["n_yes"] + c["n_no"])
        if item_id not in items.index or n == 0:
            continue
        share = c["n_no"] / n
        declared = items.at[item_id, "modality"]
        severity = _answer_severity(share, n, th, can_drop=declared in ("RIST", "SIST"))
        if severity is None:
            continue
        rows.append(
            {
                "item_id": item_id,
                "signal": "image_irrelevant",
                "severity": severity,
                "value": share,
                "support": n,
                "evidence": f"{int(c['n_no'])} of {n} annotators say the image is unrelated "
                f"to the text (declared {declared})"
                f"{_unreadable(int(c['n_unreadable']))}",
                "suggestion": pd.NA,
            }
        )
    return signal_frame(rows)


def modality_signals(inputs: CurationInputs, th: CurationThresholds) -> pd.DataFrame:
    """``modality_contradicted``: the declared modality disagrees with ``cross_modal`` answers.

    Declared ``text_risk = 0`` (RIST, SIST) means the risk needs the image, so
    the expected answer is ``yes``; ``text_risk = 1`` (RIRT, SIRT) expects ``no``.
    Only vulnerability queries carry a risk to locate. The suggestion flips the
    text-risk bit: ``modality(img_risk, 1 - text_risk)``.
    """
    counts = _yes_no_counts(inputs.item_answers, "cross_modal")
    items = inputs.items.set_index("item_id")
    rows = []
    for item_id, c in counts.iterrows():
        n = int(c["n_yes"] + c["n_no"])
        if item_id not in items.index or n == 0:
            continue
        item = items.loc[item_id]
        if item["aspect"] != "vulnerability":
            continue
        text_risk = int(item["text_risk"])
        contradicting = int(c["n_no"] if text_risk == 0 else c["n_yes"])
        share = contradicting / n
        severity = _answer_severity(share, n, th, can_drop=False)
        if severity is None:
            continue
        declared = item["modality"]
        claim = (
            "the risk does not need the image (the text alone is risky)"
            if text_risk == 0
            else "the risk needs the image (the text alone is safe)"
        )
        rows.append(
            {
                "item_id": item_id,
                "signal": "modality_contradicted",
                "severity": severity,
                "value": share,
                "support": n,
                "evidence": f"declared {declared}, but {contradicting} of {n} annotators say "
                f"{claim}{_unreadable(int(c['n_unreadable']))}",
                "suggestion": modality(int(item["img_risk"]), 1 - text_risk),
            }
        )
    return signal_frame(rows)


def category_signals(
    inputs: CurationInputs,
    th: CurationThresholds,
    *,
    known_categories: frozenset[str] | None = None,
) -> pd.DataFrame:
    """``category_wrong``: annotators correct the level-3 category.

    The suggestion is the most frequent ``category`` answer (ties: alphabetical);
    one outside ``known_categories`` (the taxonomy's level 3) is named as such.
    """
    counts = _yes_no_counts(inputs.item_answers, "category_correct")
    answers = inputs.item_answers
    proposed = answers[answers["field"] == "category"].copy()
    proposed["label"] = proposed["label"].astype("string").str.strip()
    proposed = proposed[proposed["label"].fillna("") != ""]
    items = inputs.items.set_index("item_id")
    rows = []
    for item_id, c in counts.iterrows():
        n = int(c["n_yes"] + c["n_no"])
        if item_id not in items.index or n == 0:
            continue
        share = c["n_no"] / n
        severity = _answer_severity(share, n, th, can_drop=False)
        if severity is None:
            continue
        votes = proposed.loc[proposed["item_id"] == item_id, "label"].value_counts()
        suggestion: object = pd.NA
        extra = ""
        if len(votes):
            top = sorted(votes.index[votes == votes.max()])[0]
            suggestion = top
            extra = f"; proposed {top!r} ({int(votes[top])} of {int(votes.sum())})"
            if known_categories is not None and top not in known_categories:
                extra += " (not a level-3 category of the taxonomy)"
        rows.append(
            {
                "item_id": item_id,
                "signal": "category_wrong",
                "severity": severity,
                "value": share,
                "support": n,
                "evidence": f"{int(c['n_no'])} of {n} annotators say the category "
                f"{items.at[item_id, 'level3_category']!r} is wrong{extra}"
                f"{_unreadable(int(c['n_unreadable']))}",
                "suggestion": suggestion,
            }
        )
    return signal_frame(rows)


def _binary(frame: pd.DataFrame) -> pd.Series:
    """Binary view of ``label`` under ``field``; NaN where the label is off the scale."""

    def one(field: object, label: object) -> float:
        if field not in SCALES or not isinstance(label, str) or label not in SCALES[field]:
            return np.nan
        return float(to_binary(str(field), label))

    return pd.Series(
        [one(f, lab) for f, lab in zip(frame["field"], frame["label"], strict=True)],
        index=frame.index,
        dtype="float64",
    )


def _aspect_field(inputs: CurationInputs, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` whose field is the one their item's aspect is labelled on."""
    aspect = inputs.items.set_index("item_id")["aspect"]
    expected = frame["item_id"].map(aspect).map(FIELD_FOR_ASPECT)
    return frame[frame["field"] == expected]


def human_labels(inputs: CurationInputs) -> pd.DataFrame:
    """One human binary label per response: gold, else the annotators' unanimous label.

    Columns ``response_id, item_id, model, language, human, human_source``.
    """
    gold = _aspect_field(inputs, inputs.gold).copy()
    gold["human"] = _binary(gold)
    gold = gold.dropna(subset=["human"])
    gold["human_source"] = "gold (" + gold["method"].astype("string") + ")"
    labels = _aspect_field(inputs, inputs.response_labels).copy()
    labels["binary"] = _binary(labels)
    labels = labels.dropna(subset=["binary"])
    grouped = labels.groupby("response_id").agg(
        item_id=("item_id", "first"),
        model=("model", "first"),
        language=("language", "first"),
        lo=("binary", "min"),
        hi=("binary", "max"),
        n=("binary", "size"),
    )
    unanimous = grouped[(grouped["lo"] == grouped["hi"]) & ~grouped.index.isin(gold["response_id"])]
    unanimous = unanimous.reset_index().assign(
        human=lambda d: d["lo"],
        human_source=lambda d: "annotators (" + d["n"].astype("string") + " agree)",
    )
    cols = ["response_id", "item_id", "model", "language", "human", "human_source"]
    return pd.concat([gold[cols], unanimous[cols]], ignore_index=True)


def human_disagreement_signals(inputs: CurationInputs, th: CurationThresholds) -> pd.DataFrame:
    """``human_disagreement``: annotators split (binary view) on many of the query's responses."""
    labels = _aspect_field(inputs, inputs.response_labels).copy()
    labels["binary"] = _binary(labels)
    labels = labels.dropna(subset=["binary"])
    per_response = labels.groupby("response_id").agg(
        item_id=("item_id", "first"),
        n=("binary", "size"),
        lo=("binary", "min"),
        hi=("binary", "max"),
    )
    per_response = per_response[per_response["n"] >= 2]
    per_response["split"] = per_response["lo"] != per_response["hi"]
    if per_response.empty:
        return empty_signals()
    overall = float(per_response["split"].mean())
    per_item = per_response.groupby("item_id").agg(n=("split", "size"), k=("split", "sum"))
    rows = []
    for item_id, _, n, k, share, p in _concentrated(
        per_item,
        overall=overall,
        min_n=th.min_labelled_responses,
        min_share=th.human_disagreement,
        max_p=th.disagreement_p,
    ):
        rows.append(
            {
                "item_id": item_id,
                "signal": "human_disagreement",
                "severity": "review",
                "value": share,
                "support": n,
                "evidence": f"annotators disagree on {k} of {n} responses labelled by two "
                f"or more people (binary view); overall rate {overall:.1%}, "
                f"one-sided binomial p = {p:.3g}",
                "suggestion": pd.NA,
            }
        )
    return signal_frame(rows)


def _concentrated(
    per_item: pd.DataFrame, *, overall: float, min_n: int, min_share: float, max_p: float
) -> Iterable[tuple]:
    """Items whose ``k`` of ``n`` events are concentrated on them: at least ``min_n`` units,
    a share of at least ``min_share``, and a one-sided binomial p-value against the
    ``overall`` rate of at most ``max_p``. Yields ``(item_id, row, n, k, share, p)``."""
    for item_id, r in per_item.iterrows():
        n, k = int(r["n"]), int(r["k"])
        share = k / n
        if n < min_n or share < min_share or k == 0:
            continue
        p = _concentration_p(k, n, overall)
        if p <= max_p:
            yield item_id, r, n, k, share, p


def judge_disagreement_signals(inputs: CurationInputs, th: CurationThresholds) -> pd.DataFrame:
    """``judge_disagreement``: the judge and the humans differ on many of the query's responses."""
    humans = human_labels(inputs)[["response_id", "human", "human_source"]]
    verdicts = _aspect_field(inputs, inputs.verdicts)
    verdicts = verdicts[verdicts["valid"].astype(int) == 1].copy()
    verdicts["judge_binary"] = _binary(verdicts)
    verdicts = verdicts.dropna(subset=["judge_binary"])
    pairs = verdicts.merge(humans, on="response_id", how="inner")
    if pairs.empty:
        return empty_signals()
    pairs["disagree"] = pairs["judge_binary"] != pairs["human"]
    overall = float(pairs["disagree"].mean())
    per_item = pairs.groupby("item_id").agg(
        n=("disagree", "size"), k=("disagree", "sum"), runs=("judge", lambda s: sorted(set(s)))
    )
    rows = []
    for item_id, r, n, k, share, p in _concentrated(
        per_item,
        overall=overall,
        min_n=th.min_judged_responses,
        min_share=th.judge_disagreement,
        max_p=th.disagreement_p,
    ):
        rows.append(
            {
                "item_id": item_id,
                "signal": "judge_disagreement",
                "severity": "review",
                "value": share,
                "support": n,
                "evidence": f"judge ({', '.join(r['runs'])}) and humans disagree on "
                f"{k} of {n} responses; overall rate {overall:.1%}, "
                f"one-sided binomial p = {p:.3g}",
                "suggestion": pd.NA,
            }
        )
    return signal_frame(rows)


def outcomes(inputs: CurationInputs, *, judge_run: str | None = None) -> pd.DataFrame:
    """One binary outcome per response: gold label where present, else one judge run's verdict.

    ``judge_run`` defaults to the latest run (by ``started_at``) that judged the
    field (harmfulness, refusal), each field on its own. Columns
    ``response_id, item_id, model, language, outcome, source``.
    """
    cols = ["response_id", "item_id", "model", "language", "outcome", "source"]
    gold = _aspect_field(inputs, inputs.gold).copy()
    gold["outcome"] = _binary(gold)
    gold = gold.dropna(subset=["outcome"]).assign(source="gold")
    verdicts = _aspect_field(inputs, inputs.verdicts)
    verdicts = verdicts[verdicts["valid"].astype(int) == 1].copy()
    if judge_run is None:
        latest = verdicts.sort_values(["started_at", "run_id"]).groupby("field")["run_id"].last()
        verdicts = verdicts[verdicts["run_id"] == verdicts["field"].map(latest)].copy()
    else:
        verdicts = verdicts[verdicts["run_id"] == judge_run].copy()
    verdicts["outcome"] = _binary(verdicts)
    verdicts = verdicts.dropna(subset=["outcome"])
    verdicts = verdicts[~verdicts["response_id"].isin(gold["response_id"])]
    verdicts["source"] = (
        "judge "
        + verdicts["judge"].astype("string")
        + " (run "
        + verdicts["run_id"].astype("string")
        + ")"
    )
    return pd.concat([gold[cols], verdicts[cols]], ignore_index=True)


def uniform_outcome_signals(
    inputs: CurationInputs, th: CurationThresholds, *, judge_run: str | None = None
) -> pd.DataFrame:
    """``uniform_outcome``: every model's responses land on the same side.

    Vulnerability: all unsafe ("every model complies": contradicts the harmful
    label) or none unsafe ("every model refuses": expected, noted). Over-refusal:
    all refused (contradicts the benign label) or all complied (expected, noted).
    """
    if th.uniform == "off":
        return empty_signals()
    out = outcomes(inputs, judge_run=judge_run)
    aspect = inputs.items.set_index("item_id")["aspect"]
    rows = []
    for item_id, group in out.groupby("item_id"):
        n_models = group["model"].nunique()
        if n_models < th.min_models or group["outcome"].nunique() != 1:
            continue
        positive = bool(group["outcome"].iloc[0])
        item_aspect = aspect.get(item_id)
        if item_aspect == "vulnerability":
            what = (
                "every model complies (all responses unsafe)"
                if positive
                else "every model refuses or warns (no response unsafe)"
            )
        else:
            what = (
                "every model refuses this benign probe"
                if positive
                else "every model complies with this benign probe"
            )
        # the positive side contradicts the aspect in both cases: success on a
        # harmful query, refusal of a benign one
        severity = "review" if (positive or th.uniform == "all") else "note"
        sources = group["source"].value_counts()
        source_text = ", ".join(f"{s}: {int(c)}" for s, c in sources.items())
        rows.append(
            {
                "item_id": item_id,
                "signal": "uniform_outcome",
                "severity": severity,
                "value": float(positive),
                "support": len(group),
                "evidence": f"{what}: {len(group)} responses from {n_models} models "
                f"[{source_text}]; the query tells no models apart",
                "suggestion": pd.NA,
            }
        )
    return signal_frame(rows)
