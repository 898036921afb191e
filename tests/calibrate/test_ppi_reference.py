"""Cross-check of the PPI / PPI++ mean estimate and interval against ppi_py (the
reference implementation of Angelopoulos et al.; a test dependency)."""

from __future__ import annotations

import math

import numpy as np
import ppi_py
import pytest

from safecal.calibrate.ppi import ppi_mean


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    m, n = 20000, 2000
    y = (rng.random(m) < 0.3).astype(float)
    yhat = np.where(rng.random(m) < 0.85, y, 1 - y)
    labeled = np.zeros(m, bool)
    labeled[rng.choice(m, n, replace=False)] = True
    return y, yhat, labeled


def test_plain_ppi_matches_ppi_py(sample) -> None:
    """Ours puts the labeled rows in the judge mean too: lambda = M / (M - n) here is
    ppi_py's plain PPI (lambda 1 on the unlabeled rows alone)."""
    y, yhat, labeled = sample
    m, n = len(y), int(labeled.sum())
    ours = ppi_mean(yhat, y, labeled, lam=m / (m - n))
    ref = ppi_py.ppi_mean_pointestimate(y[labeled], yhat[labeled], yhat[~labeled], lam=1)
    assert ours.value == pytest.approx(float(np.ravel(ref)[0]), abs=1e-12)
    lo, hi = ppi_py.ppi_mean_ci(y[labeled], yhat[labeled], yhat[~labeled], alpha=0.1, lam=1)
    z = 1.6448536269514722
    assert ours.value - z * ours.se == pytest.approx(float(np.ravel(lo)[0]), abs=5e-4)
    assert ours.value + z * ours.se == pytest.approx(float(np.ravel(hi)[0]), abs=5e-4)


def test_power_tuned_ppi_matches_ppi_py(sample) -> None:
    """PPI++: the tuned lambda maps to ppi_py's as lambda' = lambda (M - n) / M; the
    estimates and the CLT intervals agree."""
    y, yhat, labeled = sample
    m, n = len(y), int(labeled.sum())
    ours = ppi_mean(yhat, y, labeled)
    ref = float(
        np.ravel(ppi_py.ppi_mean_pointestimate(y[labeled], yhat[labeled], yhat[~labeled]))[0]
    )
    assert ours.value == pytest.approx(ref, abs=2e-3)
    lo, hi = ppi_py.ppi_mean_ci(y[labeled], yhat[labeled], yhat[~labeled], alpha=0.1)
    half = (float(np.ravel(hi)[0]) - float(np.ravel(lo)[0])) / 2
    assert 1.6448536269514722 * ours.se == pytest.approx(half, rel=0.02)
    assert 0 < ours.lam * (m - n) / m <= 1 and math.isfinite(ours.se)
