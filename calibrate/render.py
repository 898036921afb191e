"""How numbers look to people: one renderer for ``value [lo, hi]`` and one table printer.

Every command line table, the judge card and the dashboards format an estimate with
:func:`format_estimate` (or its two halves, :func:`estimate_parts`):

* ``0.812 [0.790, 0.833]``: the value and its interval;
* ``0.812``: a value without an interval (both bounds undefined);
* ``0.812 [n/a, 0.833]``: one bound undefined;
* ``n/a``: an undefined value (``None``, NaN or pandas' NA); never ``nan`` or ``None``;
* ``inf`` / ``-inf``: infinite numbers as Python writes them.

The command line prints tables with :func:`print_table`, fitted to the terminal's width
(:func:`shutil.get_terminal_size`, which honours the ``COLUMNS`` variable and falls back
to 80 columns when the output is not a terminal). When the natural widths do not fit, the
widest columns shrink and their cells wrap at spaces (then at ``_``, ``-`` or ``/``, then
anywhere); a cell longer than :data:`MAX_CELL_LINES` lines ends in an ellipsis. When even
columns of :data:`MIN_COLUMN` characters do not fit, each row is printed as
``header: value`` lines instead (at most twice as many lines per cell). :func:`wrap_text`
fits prose (titles, notes) the same way.
Widths count East Asian wide characters (Chinese labels) as two columns.
"""

from __future__ import annotations

import math
import numbers
import shutil
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

#: how an undefined number is written
UNDEFINED = "n/a"
#: a table cell wraps onto at most this many lines; the last then ends in an ellipsis
MAX_CELL_LINES = 3
#: narrowest column before a table is printed as ``header: value`` records
MIN_COLUMN = 8
#: a column shrinks to its longest word (up to this width) before it splits words
SOFT_COLUMN = 24
#: columns between two table columns
GAP = 2
ELLIPSIS = "…"


# ---- numbers and estimates ---------------------------------------------------------


def _undefined(x: Any) -> bool:
    if x is None or type(x).__name__ == "NAType":  # pandas.NA
        return True
    if isinstance(x, numbers.Real):
        return math.isnan(float(x))
    return False


def format_number(x: Any, *, spec: str = ".3f") -> str:
    """``x`` with the format ``spec``; ``n/a`` when undefined, ``inf``/``-inf`` when
    infinite, integers as they are."""
    if _undefined(x):
        return UNDEFINED
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if isinstance(x, numbers.Real):
        value = float(x)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, spec)
    return str(x)


def _value_and_ci(est: Any, ci: Sequence[Any] | None) -> tuple[Any, Sequence[Any] | None]:
    if isinstance(est, Mapping):
        return est.get("value"), est.get("ci") if ci is None else ci
    if hasattr(est, "value") and hasattr(est, "ci"):  # calibrate.results.Estimate
        return est.value, est.ci if ci is None else ci
    return est, ci


def estimate_parts(
    est: Any, ci: Sequence[Any] | None = None, *, spec: str = ".3f"
) -> tuple[str, str]:
    """``(value text, interval text)`` of an estimate: ``("0.812", "[0.790, 0.833]")``.

    ``est`` is an :class:`~calibrate.results.Estimate`, its ``to_dict()`` form
    (``{"value": v, "ci": [lo, hi]}``), a number, or ``None``; ``ci`` overrides or supplies
    the interval. The interval text is empty when the value is undefined or both bounds
    are. ``spec`` is a format spec: ``".3f"`` (default), ``".1%"`` for percentages.
    """
    value, interval = _value_and_ci(est, ci)
    if _undefined(value):
        return UNDEFINED, ""
    text = format_number(value, spec=spec)
    if interval is None or len(interval) != 2 or all(_undefined(b) for b in interval):
        return text, ""
    lo, hi = (format_number(b, spec=spec) for b in interval)
    return text, f"[{lo}, {hi}]"


def format_estimate(est: Any, ci: Sequence[Any] | None = None, *, spec: str = ".3f") -> str:
    """An estimate as ``value [lo, hi]`` (see the module docstring for the undefined cases).

    >>> format_estimate(0.5, (0.25, 0.75))
    '0.500 [0.250, 0.750]'
    >>> format_estimate({"value": None, "ci": [None, None]})
    'n/a'
    """
    value, interval = estimate_parts(est, ci, spec=spec)
    return f"{value} {interval}" if interval else value


def format_cell(x: Any, *, spec: str = ".3f") -> str:
    """Any table cell: estimates as :func:`format_estimate`, numbers as
    :func:`format_number`, ``None`` as ``n/a``, everything else as ``str``."""
    if isinstance(x, str):
        return x
    if (isinstance(x, Mapping) and "value" in x) or (hasattr(x, "value") and hasattr(x, "ci")):
        return format_estimate(x, spec=spec)
    return format_number(x, spec=spec)


# ---- text width --------------------------------------------------------------------


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` first; 80 when not a terminal)."""
    return max(1, shutil.get_terminal_size().columns)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide characters count two)."""
    return sum(_char_width(ch) for ch in text)


def _cut(word: str, width: int) -> tuple[str, str]:
    """The longest head of ``word`` fitting ``width`` (at least one character), preferring
    a cut after ``_``, ``-`` or ``/``; and the rest."""
    used, end = 0, 0
    for i, ch in enumerate(word):
        w = _char_width(ch)
        if used + w > width and i > 0:
            break
        used, end = used + w, i + 1
    soft = max(word.rfind(sep, 0, end) for sep in "_-/")
    if 0 < soft < end - 1:
        end = soft + 1
    return word[:end], word[end:]


def _truncate(text: str, width: int) -> str:
    """``text`` ending in an ellipsis, within ``width`` columns."""
    room = max(0, width - 1)
    head, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > room:
            break
        head.append(ch)
        used += w
    return "".join(head).rstrip() + ELLIPSIS


def wrap(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` columns: at spaces, else inside words. A
    trailing ``[...]`` that does not fit (an estimate's interval) starts its own line."""
    width = max(1, width)
    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        cut = para.rfind(" [")
        if display_width(para) > width and cut > 0 and para.endswith("]"):
            lines.extend(wrap(para[:cut], width) + wrap(para[cut + 1 :], width))
            continue
        line = ""
        for word in para.split(" "):
            candidate = f"{line} {word}" if line else word
            if display_width(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while display_width(word) > width:
                head, word = _cut(word, width)
                lines.append(head)
            line = word
        lines.append(line)
    return lines


def wrap_text(text: str, *, width: int | None = None, indent: str = "") -> str:
    """Prose fitted to ``width`` (default: the terminal); continuation lines get
    ``indent`` when there is room for it."""
    width = terminal_width() if width is None else max(1, width)
    pad = indent if display_width(indent) * 3 < width else ""
    out: list[str] = []
    for para in str(text).split("\n"):
        lines = wrap(para, width)
        if len(lines) > 1 and pad:  # lines[0] is a prefix of para: wrap the rest narrower
            rest = wrap(para[len(lines[0]) :].lstrip(" "), width - display_width(pad))
            lines = [lines[0], *(pad + line for line in rest)]
        out.extend(lines)
    return "\n".join(out)


# ---- tables ------------------------------------------------------------------------


def _longest_unit(text: str) -> int:
    """Width of the longest word of ``text``, an estimate's ``[lo, hi]`` counting as one."""
    units: list[str] = []
    for line in text.splitlines() or [""]:
        cut = line.rfind(" [")
        if cut > 0 and line.endswith("]"):
            units.append(line[cut + 1 :])
            line = line[:cut]
        units.extend(line.split(" "))
    return max(display_width(u) for u in units)


def _fit(natural: list[int], room: int, soft: list[int]) -> list[int] | None:
    """Column widths summing to at most ``room``: the widest columns shrink first, if
    possible no narrower than ``soft`` (their longest word), else down to
    :data:`MIN_COLUMN`; None when even that does not fit."""
    if sum(natural) <= room:
        return natural
    soft_floor = [min(n, s) for n, s in zip(natural, soft, strict=True)]
    if sum(soft_floor) <= room:
        return _shrink(natural, room, soft_floor)
    hard_floor = [min(n, MIN_COLUMN) for n in natural]
    if sum(hard_floor) <= room:  # every column at its longest word is too wide: squeeze those
        return _shrink(soft_floor, room, hard_floor)
    return None


def _shrink(natural: list[int], room: int, floor: list[int]) -> list[int]:
    lo, hi = 0, max(natural)  # largest cap c with sum(min(n, max(c, f))) <= room
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(n, max(mid, f)) for n, f in zip(natural, floor, strict=True)) <= room:
            lo = mid
        else:
            hi = mid - 1
    widths = [min(n, max(lo, f)) for n, f in zip(natural, floor, strict=True)]
    spare = room - sum(widths)
    for i, n in enumerate(natural):
        if spare <= 0:
            break
        if widths[i] < n:
            widths[i] += 1
            spare -= 1
    return widths


def _cell_lines(text: str, width: int) -> list[str]:
    lines = wrap(text, width)
    if len(lines) > MAX_CELL_LINES:
        lines = lines[:MAX_CELL_LINES]
        lines[-1] = _truncate(lines[-1] + " " + ELLIPSIS, width)
    return lines


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def render_table(
    headers: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    width: int | None = None,
    spec: str = ".3f",
) -> str:
    """A plain-text table of ``rows`` under ``headers``, no line wider than ``width``
    (default: the terminal); cells go through :func:`format_cell`."""
    width = terminal_width() if width is None else max(1, width)
    head = [format_cell(h) for h in headers]
    body = [[format_cell(v, spec=spec) for v in r] for r in rows]
    for r in body:
        if len(r) != len(head):
            raise ValueError(f"a row has {len(r)} cells for {len(head)} headers")
    out: list[str] = [wrap_text(title, width=width)] if title else []
    natural = [
        max(max(display_width(line) for line in c.splitlines() or [""]) for c in col)
        for col in zip(head, *body, strict=True)
    ]
    soft = [
        max(MIN_COLUMN, min(SOFT_COLUMN, max((_longest_unit(c) for c in col), default=0)))
        for col in zip(*body, strict=True)
    ] or [MIN_COLUMN] * len(head)
    widths = _fit(natural, width - GAP * (len(head) - 1), soft) if head else []
    if widths is None:  # too narrow for columns: one "header: value" line per cell
        for n, r in enumerate(body):
            if n:
                out.append("")
            for h, c in zip(head, r, strict=True):
                lines = wrap_text(f"{h}: {c}", width=width, indent="  ").split("\n")
                if len(lines) > 2 * MAX_CELL_LINES:
                    lines = lines[: 2 * MAX_CELL_LINES]
                    lines[-1] = _truncate(lines[-1] + " " + ELLIPSIS, width)
                out.extend(lines)
        return "\n".join(out) + "\n"
    for n, r in enumerate([head, *body]):
        cells = [_cell_lines(c, w) for c, w in zip(r, widths, strict=True)]
        for k in range(max(len(c) for c in cells)):
            parts = [
                _pad(c[k] if k < len(c) else "", w) for c, w in zip(cells, widths, strict=True)
            ]
            out.append((" " * GAP).join(parts).rstrip())
        if n == 0:
            out.append((" " * GAP).join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def print_table(
    headers: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    width: int | None = None,
    spec: str = ".3f",
    file: TextIO | None = None,
) -> None:
    """Print :func:`render_table` and a blank line."""
    print(
        render_table(headers, rows, title=title, width=width, spec=spec),
        file=file or sys.stdout,
    )


def say(text: str, *, file: TextIO | None = None) -> None:
    """Print prose fitted to the terminal (:func:`wrap_text`)."""
    print(wrap_text(text, indent="  "), file=file or sys.stdout)


# ---- paper formats: Markdown, LaTeX, CSV ---------------------------------------------

#: LaTeX's special characters and what stands for each in text (backslash first)
LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
#: characters that give Markdown (GFM) text a meaning in a table cell: ``|`` splits the
#: cell, ``<`` opens HTML or an autolink, ``(`` ``)`` complete a link, the others
#: emphasise or quote (brackets alone make no link, so intervals stay readable)
MARKDOWN_SPECIAL = set("\\`*_<>()|~#")


def _one_line(text: str) -> str:
    """Control characters (newlines, tabs, escapes) as spaces: a cell stays one line."""
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def escape_latex(text: Any) -> str:
    """``text`` for a LaTeX document: each special character of :data:`LATEX_ESCAPES`
    replaced, control characters as spaces (untrusted names cannot run commands)."""
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in _one_line(str(text)))


def escape_markdown(text: Any) -> str:
    """``text`` for a Markdown table cell: a backslash before every Markdown special
    character (so ``|`` cannot split the cell, nor ``<`` open HTML), control characters
    as spaces."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in _one_line(str(text)))


def render_markdown(
    headers: Sequence[Any], rows: Sequence[Sequence[Any]], *, caption: str | None = None
) -> str:
    """A GitHub-flavoured Markdown table (cells via :func:`format_cell`, escaped)."""
    head = [escape_markdown(format_cell(h)) for h in headers]
    lines = [f"{escape_markdown(caption)}\n" if caption else ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        lines.append("| " + " | ".join(escape_markdown(format_cell(c)) for c in r) + " |")
    return "\n".join(x for x in lines if x) + "\n"


def render_latex(
    headers: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    groups: Sequence[tuple[str, int]] | None = None,
    caption: str | None = None,
) -> str:
    """A LaTeX ``table`` with a ``tabular`` (booktabs rules: ``\\usepackage{booktabs}``),
    every cell escaped (:func:`escape_latex`). ``groups``: ``(title, span)`` pairs for a
    header row above ``headers`` (``\\multicolumn``)."""
    spec = "l" + "r" * (len(headers) - 1)
    out = ["\\begin{table}", "\\centering"]
    if caption:
        out.append(f"\\caption{{{escape_latex(caption)}}}")
    out += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    if groups:
        parts, rules, col = [], [], 1
        for title, span in groups:
            parts.append(
                escape_latex(title)
                if span == 1
                else f"\\multicolumn{{{span}}}{{c}}{{{escape_latex(title)}}}"
            )
            if title and span > 1:
                rules.append(f"\\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        out.append(" & ".join(parts) + " \\\\")
        if rules:
            out.append(" ".join(rules))
    out.append(" & ".join(escape_latex(format_cell(h)) for h in headers) + " \\\\")
    out.append("\\midrule")
    for r in rows:
        out.append(" & ".join(escape_latex(format_cell(c)) for c in r) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"


def render_csv(headers: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text through :func:`annotate.spreadsheet.table_to_csv` (cells a spreadsheet
    would run as formulas get a leading ``'``)."""
    import pandas as pd

    from safecal.annotate.spreadsheet import table_to_csv

    frame = pd.DataFrame(
        [[format_cell(c) for c in r] for r in rows], columns=[format_cell(h) for h in headers]
    )
    return table_to_csv(frame)
