"""Labels as the statistics see them: normalized strings, and the ordered vocabulary.

Tables from files carry labels as strings, integers or floats (``1``, ``1.0``, ``"1"``);
all become the same string, so a CSV of 0/1 verdicts compares with a Parquet of ints;
text labels are compared in :func:`annotate.labels.fold` form (``Unsafe`` is ``unsafe``),
the same for a table's labels and for the labels an option names (``--positive Unsafe``,
``--labels``, ``--categories``: :func:`label_list`).
The vocabulary of a field comes from :mod:`annotate.labels` when the observed labels fit
one of its scales (its order is the ordinal order); otherwise it is the sorted set of
observed labels (numerically sorted when every label is a number).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES, fold

_INTEGRAL = re.compile(r"[+-]?\d+\.0+")


def _one(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return pd.NA
    if value is pd.NA:
        return pd.NA
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = fold(value)
    if _INTEGRAL.fullmatch(text):  # "1.0" written by a float column -> "1"
        text = text.split(".")[0]
    return text if text else pd.NA


def normalize_labels(values: pd.Series) -> pd.Series:
    """Labels as folded strings (``1.0`` -> ``"1"``, ``" Unsafe"`` -> ``"unsafe"``);
    missing or empty -> ``<NA>``."""
    # normalise each distinct value once (a million rows hold a handful of labels)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = pd.array([_one(v) for v in uniques] + [pd.NA], dtype="string")
    return pd.Series(mapped.take(codes), index=values.index, dtype="string")


def label_list(values: Iterable[object] | str | None) -> list[str] | None:
    """Labels a caller names (``--positive``, ``--labels``, ``--categories``) in the form
    :func:`normalize_labels` gives a table's labels; ``None`` stays ``None``."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    out = [_one(v) for v in items]
    return [str(v) for v in out if v is not pd.NA]


def _sort_key(labels: Iterable[str]) -> list[str]:
    labels = list(labels)
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def infer_categories(
    observed: Iterable[str], categories: Sequence[str] | None = None, *, what: str = "label"
) -> list[str]:
    """The ordered vocabulary: ``categories`` if given (every observed label must be in
    it), else the :data:`annotate.labels.SCALES` scale the observed labels fit, else the
    sorted observed labels."""
    seen = {str(v) for v in observed}
    if categories is not None:
        cats = label_list(categories) or []
        extra = sorted(seen - set(cats))
        if extra:
            raise InputError(
                f"{what} values {extra} are not in the declared categories {cats}; "
                "add them to the categories or fix the data"
            )
        return cats
    for scale in SCALES.values():
        if seen and seen <= set(scale):
            return list(scale)
    return _sort_key(seen)


def label_vocabulary(
    gold_seen: Iterable[str],
    positive: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    what: str = "gold",
) -> list[str]:
    """The vocabulary judge answers are checked against, and the positive labels in it.

    ``labels`` if given. Otherwise the :data:`annotate.labels.SCALES` scale the gold labels
    fit (a ``positive`` outside it is an error: a typo, not a new label), or else the gold
    labels plus the positive ones (a slice of 0/1 data may hold no positive gold).
    """
    seen = {str(v) for v in gold_seen}
    pos = label_list(positive) or []
    labels = label_list(labels)
    if labels is not None:
        vocab = infer_categories(seen, labels, what=what)
    else:
        vocab = infer_categories(seen, None, what=what)
        if not seen or vocab not in [list(s) for s in SCALES.values()]:
            vocab = infer_categories(seen | set(pos), None, what=what)
    unknown = [p for p in pos if p not in vocab]
    if unknown:
        raise InputError(f"--positive {unknown} is not a label of {what}; labels are {vocab}")
    return vocab
