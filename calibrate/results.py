"""A point estimate with its interval: the one result shape every statistic returns."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def _num(x: float) -> float | None:
    """A JSON-safe float: NaN (undefined) becomes ``None``."""
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Estimate:
    """``value`` with its interval ``ci = (low, high)``; NaN where undefined.

    ``se`` is the standard error when the interval came from a normal
    approximation (``None`` for bootstrap percentile intervals). ``method`` names how the
    interval was made (e.g. ``clopper-pearson``; :mod:`calibrate.intervals`); empty when
    the producer does not say.
    """

    value: float
    ci: tuple[float, float]
    se: float | None = None
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"value": v, "ci": [lo, hi]}`` (plus ``"method"`` when named); undefined
        numbers become ``null``."""
        out: dict[str, Any] = {
            "value": _num(self.value),
            "ci": [_num(self.ci[0]), _num(self.ci[1])],
        }
        if self.method:
            out["method"] = self.method
        return out

    @property
    def width(self) -> float:
        return float(self.ci[1] - self.ci[0])

    def __format__(self, spec: str) -> str:
        """``value [lo, hi]`` by :func:`calibrate.render.format_estimate` (``spec`` is the
        number format, ``.3f`` by default)."""
        from safecal.calibrate.render import format_estimate

        return format_estimate(self, spec=spec or ".3f")


NAN_ESTIMATE = Estimate(math.nan, (math.nan, math.nan))


def estimate_or_none(est: Estimate | None) -> dict[str, Any] | None:
    return None if est is None else est.to_dict()
