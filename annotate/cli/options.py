"""Argparse types for numeric options: each option says its range once, and a value
outside it ends in argparse's own message (``safecal ...: error: argument --X: ...``,
exit 2) before any work starts, instead of a ValueError deep in a run, a run that
does nothing, or a ``nan`` that slips through every comparison."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(minimum: int, what: str) -> Callable[[str], int]:
    """An integer ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be {minimum} or more ({what})")
        return value

    return parse


def number(
    what: str,
    *,
    low: float | None = 0.0,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """A finite float in ``[low, high]`` (``(low, ...`` with ``low_open``, ``..., high)``
    with ``high_open``; ``None``: unbounded on that side). ``nan`` and ``inf`` are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        bad = not math.isfinite(value)
        if low is not None:
            bad |= value <= low if low_open else value < low
        if high is not None:
            bad |= value >= high if high_open else value > high
        if bad:
            bounds = []
            if low is not None:
                bounds.append(f"more than {low:g}" if low_open else f"{low:g} or more")
            if high is not None:
                bounds.append(f"less than {high:g}" if high_open else f"at most {high:g}")
            raise argparse.ArgumentTypeError(
                f"{text} must be a finite number, {' and '.join(bounds) or 'any'} ({what})"
            )
        return value

    return parse


def share(what: str) -> Callable[[str], float]:
    """A share or probability in ``[0, 1]``."""
    return number(what, low=0.0, high=1.0)


#: The one default confidence level of every interval safecal reports: ``calibrate
#: agreement | judge | estimate | table | report``, the judge card and the dashboard pages
#: (each keeps ``--confidence`` or a control to change it). 95 % is the level benchmark
#: papers and the judge-validation literature report by convention.
DEFAULT_CONFIDENCE = 0.95


def confidence(what: str = "confidence level") -> Callable[[str], float]:
    """A confidence level strictly between 0 and 1."""
    return number(what, low=0.0, high=1.0, low_open=True, high_open=True)
