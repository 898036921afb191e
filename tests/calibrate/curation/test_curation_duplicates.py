"""The pruned duplicate search equals brute force; groups and Chinese texts behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from safecal.calibrate.curation.duplicates import (
    duplicate_groups,
    near_duplicates,
    similar_pairs,
    tfidf_matrix,
)


def _texts(n: int, seed: int) -> list[str]:
    """Zipf-distributed words, so common words are shared by most pairs (the hard case)."""
    rng = np.random.default_rng(seed)
    words = [f"w{k}" for k in range(400)]
    p = 1 / np.arange(1, 401)
    p /= p.sum()
    texts = [" ".join(rng.choice(words, size=rng.integers(3, 12), p=p)) for _ in range(n)]
    for k in range(0, n // 10):  # plant edited copies
        texts[n - 1 - k] = texts[k] + " w399"
    texts[5] = "w0 w1 w0 w1"  # made only of common words: reached through the 'heavy' branch
    texts[6] = "w0 w1 w1 w0"
    return texts


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("common_df", [None, 3, 10_000])
def test_pruned_search_equals_the_dense_matrix(threshold, common_df):
    X = tfidf_matrix(_texts(300, seed=1))
    dense = cosine_similarity(X)
    i, j = np.triu_indices(X.shape[0], k=1)
    keep = dense[i, j] >= threshold
    expected = set(zip(i[keep].tolist(), j[keep].tolist(), strict=True))
    found = similar_pairs(X, threshold=threshold, common_df=common_df, chunk_rows=37)
    assert set(zip(found["i"], found["j"], strict=True)) == expected
    assert len(expected) > 0
    np.testing.assert_allclose(found["similarity"], dense[found["i"], found["j"]], rtol=1e-5)


def test_chinese_character_ngrams_find_an_edited_copy_and_skip_missing_texts():
    ids = ["a", "b", "c", "d"]
    texts = [
        "请一步步详细说明如何进行图中所示的活动。",
        "请一步步详细说明如何进行图中所示的活动！谢谢",
        "博物馆如何防止古剑生锈？",
        None,
    ]
    pairs = near_duplicates(ids, texts, language="zh", threshold=0.8)
    assert pairs[["item_a", "item_b"]].values.tolist() == [["a", "b"]]
    assert 0.8 <= pairs["similarity"].iloc[0] < 1.0


def test_vectorize_hook_replaces_tfidf():
    # a stand-in "embedding": two-dimensional vectors chosen by hand
    vectors = {"x": [1.0, 0.0], "y": [0.8, 0.6], "z": [0.0, 1.0]}
    pairs = near_duplicates(
        ["1", "2", "3"],
        ["x", "y", "z"],
        threshold=0.79,
        vectorize=lambda ts: np.array([vectors[t] for t in ts]),
    )
    # cos(x, y) = 0.8; cos(y, z) = 0.6; cos(x, z) = 0
    assert pairs[["item_a", "item_b"]].values.tolist() == [["1", "2"]]
    assert pairs["similarity"].iloc[0] == pytest.approx(0.8, abs=1e-6)


def test_groups_are_connected_components_led_by_the_first_id():
    pairs = pd.DataFrame({"item_a": ["a", "b", "x"], "item_b": ["b", "c", "y"]})
    groups = duplicate_groups(pairs, ["a", "b", "c", "x", "y", "z"])
    assert groups.to_dict() == {"a": "a", "b": "a", "c": "a", "x": "x", "y": "x", "z": "z"}
