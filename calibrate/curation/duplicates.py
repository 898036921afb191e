"""Near-duplicate queries: TF-IDF cosine similarity, found without an n x n matrix.

Each text becomes an L2-normalised TF-IDF vector (scikit-learn's
:class:`~sklearn.feature_extraction.text.TfidfVectorizer`; word 1-2 grams for
English, character 1-2 grams for Chinese, which has no spaces), and two queries
are near-duplicates when their cosine similarity
``cos(a, b) = sum_f a_f * b_f`` is at least ``threshold``.

Why not ``cosine_similarity(X)`` or ``NearestNeighbors(radius=...)``: both form
every pair's dot product, and because frequent words (``how``, ``the``, ``的``)
are shared by almost every pair, the sparse product is nearly dense: 20,000
queries cost 400 million products (see ``tests/benchmarks/bench_curation.py``).
Here the features are split into *common* ones (document frequency above
``common_df``) and *rare* ones, so ``cos(a, b) = rare(a, b) + common(a, b)`` and,
by Cauchy-Schwarz, ``common(a, b) <= |a_C| |b_C|`` (the norms of the common
parts). A pair can reach the threshold only if

* it shares a rare feature and ``rare(a, b) + |a_C| |b_C| >= threshold``: the
  rare product is sparse (few pairs share a rare word), so it is cheap; or
* it shares none, and then both ``|a_C| >= threshold`` and ``|b_C| >= threshold``:
  queries made almost only of common words, usually few, compared with each
  other directly.

Every candidate's exact cosine is then computed, so the result equals the
brute-force one (the test suite checks this against scikit-learn's
``cosine_similarity``). The idea is the bound-based pruning of all-pairs
similarity search (Bayardo, Ma and Srikant, "Scaling up all pairs similarity
search", WWW 2007), reduced to a two-way split; no library provides it for
sparse TF-IDF, hence written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # scipy is imported where used, so `safecal --help` stays instant
    from scipy import sparse

#: TfidfVectorizer options per language.
VECTORIZER_OPTIONS: dict[str, dict[str, object]] = {
    "en": {
        "analyzer": "word",
        "ngram_range": (1, 2),
        "lowercase": True,
        "token_pattern": r"(?u)\b\w+\b",
    },
    "zh": {"analyzer": "char", "ngram_range": (1, 2), "lowercase": True},
}

#: the columns of :func:`near_duplicates` (one language's pairs) and their types
TEXT_PAIR_DTYPES = {
    "item_a": "string",
    "item_b": "string",
    "language": "string",
    "similarity": "float64",
}


def tfidf_matrix(texts: Sequence[str], *, language: str = "en") -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows (sublinear tf), one per text."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    options = VECTORIZER_OPTIONS.get(language, VECTORIZER_OPTIONS["en"])
    vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float32, **options)
    return vectorizer.fit_transform([t or "" for t in texts]).tocsr()


def similar_pairs(
    X: sparse.spmatrix,
    *,
    threshold: float = 0.9,
    common_df: int | None = None,
    chunk_rows: int = 2000,
) -> pd.DataFrame:
    """All pairs ``i < j`` of rows of ``X`` (L2-normalised) with ``X_i . X_j >= threshold``.

    Returns a DataFrame ``i, j, similarity`` (row indices), sorted by ``i, j``.
    Exact: equal to thresholding the full ``X X^T`` (see the module docstring).
    """
    from scipy import sparse

    X = sparse.csr_matrix(X, dtype=np.float32)
    n = X.shape[0]
    if n < 2:
        return pd.DataFrame({"i": [], "j": [], "similarity": []}).astype(
            {"i": "int64", "j": "int64", "similarity": "float64"}
        )
    if common_df is None:
        common_df = max(50, n // 200)
    df = np.bincount(X.indices, minlength=X.shape[1])
    common = df > common_df
    XR = (X @ sparse.diags((~common).astype(np.float32))).tocsr()
    XR.eliminate_zeros()
    XC = (X @ sparse.diags(common.astype(np.float32))).tocsr()
    XC.eliminate_zeros()
    norm_c = np.sqrt(np.asarray(XC.multiply(XC).sum(axis=1)).ravel())
    tol = 1e-6  # float32 rounding: keep pairs within tol of the threshold, decide exactly below

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    XRT = XR.T.tocsr()
    for start in range(0, n, chunk_rows):
        product = (XR[start : start + chunk_rows] @ XRT).tocoo()
        i = product.row.astype(np.int64) + start
        j = product.col.astype(np.int64)
        keep = (j > i) & (product.data + norm_c[i] * norm_c[j] >= threshold - tol)
        rows.append(i[keep])
        cols.append(j[keep])

    heavy = np.flatnonzero(norm_c >= threshold - tol)
    if heavy.size > 1:
        XH = X[heavy]
        XHT = XH.T.tocsr()
        for start in range(0, heavy.size, chunk_rows):
            product = (XH[start : start + chunk_rows] @ XHT).tocoo()
            i = heavy[product.row + start]
            j = heavy[product.col]
            keep = (j > i) & (product.data >= threshold - tol)
            rows.append(i[keep])
            cols.append(j[keep])

    i = np.concatenate(rows) if rows else np.array([], dtype=np.int64)
    j = np.concatenate(cols) if cols else np.array([], dtype=np.int64)
    if i.size:
        pairs = np.unique(np.stack([i, j], axis=1), axis=0)
        i, j = pairs[:, 0], pairs[:, 1]
    sims = pair_similarity(X, i, j)
    keep = sims >= threshold
    return pd.DataFrame({"i": i[keep], "j": j[keep], "similarity": sims[keep]})


def pair_similarity(
    X: sparse.csr_matrix, i: np.ndarray, j: np.ndarray, *, batch: int = 200_000
) -> np.ndarray:
    """``X_i . X_j`` for each pair (the cosine for L2-normalised rows), in float64."""
    out = np.empty(i.size, dtype=np.float64)
    X64 = X.astype(np.float64)
    for s in range(0, i.size, batch):
        a, b = i[s : s + batch], j[s : s + batch]
        out[s : s + batch] = np.asarray(X64[a].multiply(X64[b]).sum(axis=1)).ravel()
    return out


def near_duplicates(
    ids: Sequence[str],
    texts: Sequence[str | None],
    *,
    language: str = "en",
    threshold: float = 0.9,
    vectorize: Callable[[Sequence[str]], sparse.spmatrix | np.ndarray] | None = None,
    common_df: int | None = None,
    chunk_rows: int = 2000,
) -> pd.DataFrame:
    """Pairs of queries whose texts have cosine similarity ``>= threshold``.

    ``texts`` may hold ``None`` / empty strings (a missing translation): those
    are skipped. ``vectorize`` replaces TF-IDF with any function returning one
    row per text (e.g. a local sentence-embedding model's ``encode``); rows are
    L2-normalised here. Returns ``item_a, item_b, language, similarity`` with
    ``item_a`` the earlier of the two in ``ids`` order.
    """
    ids = list(ids)
    X, present = text_vectors(texts, language=language, vectorize=vectorize)
    if present.sum() < 2:
        return pd.DataFrame(columns=list(TEXT_PAIR_DTYPES)).astype(TEXT_PAIR_DTYPES)
    pairs = similar_pairs(X, threshold=threshold, common_df=common_df, chunk_rows=chunk_rows)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    return pd.DataFrame(
        {
            "item_a": pd.array([ids[k] for k in i], dtype="string"),
            "item_b": pd.array([ids[k] for k in j], dtype="string"),
            "language": pd.array([language] * len(pairs), dtype="string"),
            "similarity": pairs["similarity"].to_numpy(dtype=np.float64),
        }
    )


def text_vectors(
    texts: Sequence[str | None],
    *,
    language: str,
    vectorize: Callable[[Sequence[str]], sparse.spmatrix | np.ndarray] | None = None,
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """One L2-normalised row per text (TF-IDF, or ``vectorize``'s rows normalised) and
    which texts are present; a missing or blank text gets a zero row, which is similar
    to nothing, so row numbers stay the texts' positions."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    filled = [t if isinstance(t, str) else "" for t in texts]
    present = np.array([bool(t.strip()) for t in filled], dtype=bool)
    if vectorize is None:
        X = tfidf_matrix(filled, language=language)
    else:
        X = sparse.csr_matrix(normalize(np.asarray(vectorize(filled), dtype=np.float32)))
    return sparse.csr_matrix(sparse.diags(present.astype(np.float32)) @ X), present


def duplicate_groups(pairs: pd.DataFrame, ids: Sequence[str]) -> pd.Series:
    """Connected components of the duplicate graph: item_id -> group id (its first member).

    Items without a duplicate are their own group. The first member in ``ids``
    order is the group's representative (the one a curation keeps).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    ids = list(ids)
    pos = {item: k for k, item in enumerate(ids)}
    a = np.array([pos[x] for x in pairs["item_a"]], dtype=np.int64)
    b = np.array([pos[x] for x in pairs["item_b"]], dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    first: dict[int, str] = {}
    for k, label in enumerate(labels):
        first.setdefault(int(label), ids[k])
    return pd.Series(
        [first[int(label)] for label in labels],
        index=pd.Index(ids, name="item_id"),
        name="group",
        dtype="string",
    )
