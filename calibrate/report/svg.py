"""Small inline-SVG charts for the judge card (no plotting library, no external files).

Hand-written because the card must be one self-contained file and matplotlib is not a
dependency; every text that reaches the SVG goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

W, H, PAD = 320, 260, 40
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _x(v: float) -> float:
    return PAD + v * (W - 1.5 * PAD)


def _y(v: float) -> float:
    return H - PAD - v * (H - 1.7 * PAD)


def _frame(title: str, xlabel: str, ylabel: str) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
        f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<rect x="{_x(0)}" y="{_y(1)}" width="{_x(1) - _x(0)}" height="{_y(0) - _y(1)}" '
        'fill="none" stroke="#999"/>',
    ]
    for t in (0, 0.25, 0.5, 0.75, 1):
        out.append(
            f'<text x="{_x(t)}" y="{_y(0) + 14}" font-size="10" text-anchor="middle">{t:g}</text>'
        )
        out.append(
            f'<text x="{_x(0) - 4}" y="{_y(t) + 3}" font-size="10" text-anchor="end">{t:g}</text>'
        )
    out.append(
        f'<text x="{(_x(0) + _x(1)) / 2}" y="{H - 6}" font-size="11" '
        f'text-anchor="middle">{escape(xlabel)}</text>'
    )
    out.append(
        f'<text x="12" y="{(_y(0) + _y(1)) / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {(_y(0) + _y(1)) / 2})">{escape(ylabel)}</text>'
    )
    return out


def line_chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
) -> str:
    """Lines on [0, 1] x [0, 1]; ``series`` = (name, xs, ys)."""
    out = _frame(title, xlabel, ylabel)
    if diagonal:
        out.append(
            f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" '
            'stroke="#bbb" stroke-dasharray="4 3"/>'
        )
    for k, (name, xs, ys) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        pts = " ".join(
            f"{_x(float(x)):.1f},{_y(float(y)):.1f}"
            for x, y in zip(xs, ys, strict=True)
            if math.isfinite(float(x)) and math.isfinite(float(y))
        )
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        out.append(
            f'<text x="{_x(0.55)}" y="{_y(0.12) + 13 * k}" font-size="10" '
            f'fill="{color}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def reliability_diagram(
    y: np.ndarray, score: np.ndarray, *, bins: int = 10, title: str = "Reliability (calibration)"
) -> str:
    """Mean score against the observed positive share in equal-width score bins; dot
    area proportional to the bin's count; the diagonal is perfect calibration."""
    out = _frame(title, "mean judge score (P positive)", "share positive in gold")
    out.append(
        f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" '
        'stroke="#bbb" stroke-dasharray="4 3"/>'
    )
    y = np.asarray(y, dtype=float)
    s = np.asarray(score, dtype=float)
    index = np.minimum((s * bins).astype(int), bins - 1)
    biggest = max(1, int(np.bincount(index, minlength=bins).max())) if len(s) else 1
    pts = []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        mx, my, n = float(s[mask].mean()), float(y[mask].mean()), int(mask.sum())
        r = 2 + 8 * math.sqrt(n / biggest)
        pts.append(f"{_x(mx):.1f},{_y(my):.1f}")
        out.append(
            f'<circle cx="{_x(mx):.1f}" cy="{_y(my):.1f}" r="{r:.1f}" fill="{COLORS[0]}" '
            f'fill-opacity="0.5"><title>{n} items, mean score {mx:.2f}, '
            f"positive {my:.2f}</title></circle>"
        )
    if pts:
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{COLORS[0]}"/>')
    out.append("</svg>")
    return "\n".join(out)


def heatmap(
    rows: Sequence[str],
    cols: Sequence[str],
    values: np.ndarray,
    counts: np.ndarray,
    *,
    title: str,
    low: float = 0.0,
    high: float = 1.0,
) -> str:
    """A table of coloured cells (white = ``low``, dark blue = ``high``), value and n."""
    cw, ch, left, top = 70, 30, 190, 40
    width, height = left + cw * len(cols) + 10, top + ch * len(rows) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="4" y="16" font-size="13">{escape(title)}</text>',
    ]
    for j, col in enumerate(cols):
        out.append(
            f'<text x="{left + cw * j + cw / 2}" y="{top - 6}" font-size="11" '
            f'text-anchor="middle">{escape(str(col))}</text>'
        )
    for i, row in enumerate(rows):
        out.append(
            f'<text x="{left - 6}" y="{top + ch * i + ch / 2 + 4}" font-size="11" '
            f'text-anchor="end">{escape(str(row))}</text>'
        )
        for j in range(len(cols)):
            v, n = float(values[i, j]), int(counts[i, j])
            if math.isfinite(v) and n:
                t = min(1.0, max(0.0, (v - low) / (high - low) if high > low else 0.0))
                fill = f"rgb({int(255 - 200 * t)},{int(255 - 150 * t)},{int(255 - 60 * t)})"
                label = f"{v:.2f} (n={n})"
            else:
                fill, label = "#eee", "n/a"
            x, yy = left + cw * j, top + ch * i
            out.append(f'<rect x="{x}" y="{yy}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"/>')
            color = "#fff" if math.isfinite(v) and n and (v - low) > 0.6 * (high - low) else "#000"
            out.append(
                f'<text x="{x + cw / 2 - 1}" y="{yy + ch / 2 + 3}" font-size="10" '
                f'text-anchor="middle" fill="{color}">{escape(label)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)
