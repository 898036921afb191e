"""The ``near_duplicate`` signal: pairs over both languages, images compared, groups of copies.

Texts are compared with :mod:`calibrate.curation.duplicates` (sparse TF-IDF, exact
pruned search); images with :mod:`calibrate.curation.images` (difference hash).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from safecal.calibrate.curation.inputs import CurationInputs
from safecal.calibrate.curation.signals import natural_order, signal_frame
from safecal.calibrate.curation.thresholds import CurationThresholds


def duplicate_pairs(
    inputs: CurationInputs,
    th: CurationThresholds,
    *,
    vectorize: Callable[[Sequence[str]], object] | None = None,
) -> pd.DataFrame:
    """Near-duplicate pairs over English (``text``) and Chinese (``text_zh``) texts.

    Candidates are the pairs at or above ``th.duplicate_review`` in either
    language; each gets its cosine in both (``similarity_en``,
    ``similarity_zh``; NA where an item lacks the text). ``similarity`` combines
    them: with ``th.duplicate_languages = "all"`` the lowest (a duplicate must be
    one in every language both items have), with ``"any"`` the highest.
    ``languages`` names those at or above the threshold; ``image_distance`` is the
    difference-hash Hamming distance (NA when an image is missing or images are
    not compared); ``same_image`` is False only when both images exist and differ.
    """
    from safecal.calibrate.curation.duplicates import pair_similarity, similar_pairs, text_vectors

    items = inputs.items.sort_values("item_id", key=natural_order).reset_index(drop=True)
    ids = items["item_id"].astype(str).to_numpy()
    matrices: dict[str, tuple[object, np.ndarray]] = {}
    found = []
    for lang, column in (("en", "text"), ("zh", "text_zh")):
        X, present = text_vectors(items[column].tolist(), language=lang, vectorize=vectorize)
        if present.sum() < 2:
            continue
        matrices[lang] = (X, present)
        found.append(similar_pairs(X, threshold=th.duplicate_review)[["i", "j"]])
    if not found or not sum(len(f) for f in found):
        return _empty_pairs()
    cand = pd.concat(found, ignore_index=True).drop_duplicates().sort_values(["i", "j"])
    i, j = cand["i"].to_numpy(), cand["j"].to_numpy()
    sims = {}
    for lang in ("en", "zh"):
        if lang in matrices:
            X, present = matrices[lang]
            value = pair_similarity(X, i, j)
            sims[lang] = np.where(present[i] & present[j], value, np.nan)
        else:
            sims[lang] = np.full(i.size, np.nan)
    stacked = np.vstack([sims["en"], sims["zh"]])
    combine = np.nanmin if th.duplicate_languages == "all" else np.nanmax
    combined = combine(stacked, axis=0)
    keep = combined >= th.duplicate_review
    i, j, combined = i[keep], j[keep], combined[keep]
    en, zh = sims["en"][keep], sims["zh"][keep]
    merged = pd.DataFrame(
        {
            "item_a": pd.array(ids[i], dtype="string"),
            "item_b": pd.array(ids[j], dtype="string"),
            "similarity": combined,
            "similarity_en": en,
            "similarity_zh": zh,
            "languages": pd.array(
                [
                    "+".join(lang for lang, v in (("en", a), ("zh", b)) if v >= th.duplicate_review)
                    for a, b in zip(en, zh, strict=True)
                ],
                dtype="string",
            ),
        }
    )
    image = items.set_index("item_id")["image"]
    cache: dict[str, int | None] = {}
    distances = [
        _image_distance(image.get(a), image.get(b), inputs, th, cache)
        for a, b in zip(merged["item_a"], merged["item_b"], strict=True)
    ]
    merged["image_distance"] = pd.array(distances, dtype="Int64")
    merged["same_image"] = ~(merged["image_distance"].fillna(0) > th.image_distance).astype(bool)
    return merged[list(PAIR_DTYPES)].reset_index(drop=True)


#: the columns of :func:`duplicate_pairs` (both languages, images) and their types
PAIR_DTYPES = {
    "item_a": "string",
    "item_b": "string",
    "similarity": "float64",
    "similarity_en": "float64",
    "similarity_zh": "float64",
    "languages": "string",
    "image_distance": "Int64",
    "same_image": "bool",
}


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in PAIR_DTYPES.items()})


def _image_distance(
    a: object,
    b: object,
    inputs: CurationInputs,
    th: CurationThresholds,
    cache: dict[str, int | None],
) -> object:
    from safecal.calibrate.curation.images import difference_hash, hamming

    if not th.compare_images or inputs.images_dir is None:
        return pd.NA
    if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
        return pd.NA
    if a == b:
        return 0
    hashes = []
    for path in (a, b):
        if path not in cache:
            cache[path] = difference_hash(inputs.images_dir / path)
        hashes.append(cache[path])
    if hashes[0] is None or hashes[1] is None:
        return pd.NA
    return hamming(hashes[0], hashes[1])


def duplicate_signals(
    inputs: CurationInputs, th: CurationThresholds, *, pairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``near_duplicate``: later copies of a query (its group's first item is kept).

    Pairs whose images differ are noted on both items, not grouped. Other pairs
    form groups (connected components); every member but the first (by
    ``item_id``) is flagged: drop when its best similarity to another member is
    at least ``duplicate_drop``, else review; the first gets a note.
    """
    from safecal.calibrate.curation.duplicates import duplicate_groups

    if pairs is None:
        pairs = duplicate_pairs(inputs, th)
    rows = []
    for a, b, sim, langs, dist in pairs.loc[
        ~pairs["same_image"], ["item_a", "item_b", "similarity", "languages", "image_distance"]
    ].itertuples(index=False):
        for me, other in ((a, b), (b, a)):
            rows.append(
                {
                    "item_id": me,
                    "signal": "near_duplicate",
                    "severity": "note",
                    "value": sim,
                    "support": 1,
                    "evidence": f"text {sim:.2f} similar to {other} ({langs}) but the "
                    f"images differ (hash distance {dist})",
                    "suggestion": pd.NA,
                }
            )
    linked = pairs[pairs["same_image"]]
    ids = [
        str(x)
        for x in pd.Series(
            sorted(set(linked["item_a"]) | set(linked["item_b"])), dtype="object"
        ).sort_values(key=natural_order)
    ]
    if not ids:
        return signal_frame(rows)
    groups = duplicate_groups(linked, ids).to_dict()
    members: dict[str, list[str]] = {}
    for item_id in ids:  # ids are in natural order, so members are too
        members.setdefault(groups[item_id], []).append(item_id)
    neighbours: dict[str, list[tuple[str, float, str]]] = {item_id: [] for item_id in ids}
    for a, b, sim, langs in linked[["item_a", "item_b", "similarity", "languages"]].itertuples(
        index=False
    ):
        neighbours[a].append((b, float(sim), str(langs)))
        neighbours[b].append((a, float(sim), str(langs)))
    for item_id in ids:
        mine = sorted(neighbours[item_id], key=lambda t: (-t[1], t[0]))
        listing = ", ".join(f"{o} {v:.2f} ({lang})" for o, v, lang in mine)
        rep = groups[item_id]
        group = members[rep]
        if item_id == rep:
            rows.append(
                {
                    "item_id": item_id,
                    "signal": "near_duplicate",
                    "severity": "note",
                    "value": mine[0][1],
                    "support": len(group),
                    "evidence": f"kept as the first of {len(group)} near-duplicates: {listing}",
                    "suggestion": pd.NA,
                }
            )
            continue
        best = mine[0][1]
        rows.append(
            {
                "item_id": item_id,
                "signal": "near_duplicate",
                "severity": "drop" if best >= th.duplicate_drop else "review",
                "value": best,
                "support": len(mine),
                "evidence": f"near-duplicate of {rep} (group of {len(group)}): {listing}",
                "suggestion": rep,
            }
        )
    return signal_frame(rows)
