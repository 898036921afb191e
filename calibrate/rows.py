"""Which rows count: the one selection behind judge validation and corrected rates.

``safecal calibrate judge``, ``safecal calibrate estimate``, ``safecal calibrate table``,
the judge card (:mod:`calibrate.report`) and the dashboard (:mod:`dashboards.data`) all
call :func:`select_rows`, so they show the same ``n``, the same invalid count and the
same figures for the same workspace.

What the selection decides, for one field and one or more judge runs:

* **Responses**: every response whose item has the field's aspect
  (:func:`calibrate.tables.judge_table`), one verdict column per run (``(invalid)`` for an
  unparseable answer, missing where the run did not judge the response).
* **Gold**: the workspace's gold label of the field (table ``gold``, whatever method
  decided it: unanimous, majority, Dawid-Skene, review), kept where the design below knows
  how the response came to be labeled.
* **Validation rows** (:meth:`Rows.validation`): the responses with gold that the run
  judged. A judged response whose answer was invalid is one of them: it is counted in
  ``n_invalid`` and left out of the metrics; a response the run never judged is not.
* **Estimation rows**: every response of the field; those with gold are the labeled
  ones (:func:`calibrate.ppi.corrected_rate`).
* **Weights**: the inclusion probability of each labeled response (:func:`sample_design`).

The design (several samples compose):

* Each non-honeypot sample ``s`` of the workspace is a draw with known inclusion
  probabilities ``pi_is`` (``annotate sample``; 0 for a response it did not draw). The
  samples are treated as independent draws, so a response is labeled when at least one
  sample drew it, with probability ``pi_i = 1 - prod_s (1 - pi_is)`` (the union's
  inclusion probability; for two samples ``pi_1 + pi_2 - pi_1 pi_2``). Every labeled
  response gets that one probability; a second sample never makes earlier gold
  "unsampled", it only raises the probabilities of the responses it drew again.
* Gold on a response no sample drew (a honeypot, an imported label) has an unknown
  inclusion probability. The user declares it: with ``assume_random`` those ``n_0``
  labels are taken as a simple random sample of the field's ``N`` responses, one more
  independent draw with ``q = n_0 / N`` for every response (so ``pi_i = 1 - (1 - q)
  prod_s (1 - pi_is)``), with a note; without it they are set aside as unlabeled, with a
  note naming how many. They are never dropped silently.
* When no labeled response comes from a sample (all gold is declared random), every
  labeled row has the same probability and the rows are used unweighted (``weight`` is
  ``None``), which gives the same figures.

Weighting then follows Horvitz & Thompson (1952): ``w_i = 1 / pi_i`` on the labeled rows,
Hajek ratios for the metrics and Kish's effective n for their intervals
(:mod:`calibrate.judge_metrics`, :mod:`calibrate.ppi`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace
from safecal.calibrate.tables import INVALID, resolve_runs, runs_table

#: the column carrying each response's inclusion probability under the design
PROB = "inclusion_prob"


@dataclass(frozen=True)
class Design:
    """How the gold rows were drawn: ``weight`` (the probability column, or ``None`` for
    unweighted), how many gold labels came from no sample (``n_no_sample``), how many of
    those were set aside (``n_set_aside``) or declared random (``n_assumed_random``), and
    the notes that say so."""

    weight: str | None
    n_gold: int
    n_no_sample: int
    n_set_aside: int
    n_assumed_random: int
    notes: list[str] = dataclass_field(default_factory=list)


def sample_design(
    table: pd.DataFrame,
    *,
    gold: str = "gold",
    prob: str = PROB,
    assume_random: bool = False,
) -> tuple[pd.DataFrame, Design]:
    """Apply the design (module docstring) to ``table``: all responses of the field, with
    the union probability ``prob`` of the samples (missing: no sample drew it).

    Returns the table (gold set aside, or ``prob`` filled for the declared random labels)
    and the :class:`Design`. ``table`` must hold every response of the field: ``N`` in
    ``q = n_0 / N`` is its length.
    """
    labeled = table[gold].notna()
    has = table[prob].notna()
    no_sample = labeled & ~has
    n_gold, n0 = int(labeled.sum()), int(no_sample.sum())
    notes: list[str] = []
    out = table
    set_aside = assumed = 0
    if n0 and not assume_random:
        out = table.copy()
        out.loc[no_sample, gold] = None
        set_aside = n0
        notes.append(
            f"{n0} gold labels come from no sample (honeypots or imported gold; their "
            "inclusion probability is unknown): set aside as unlabeled; give "
            "--assume-random to count them as a simple random sample"
        )
    elif n0:
        q = n0 / len(table)
        out = table.copy()
        pi = pd.to_numeric(out[prob], errors="coerce").fillna(0.0)
        out[prob] = 1 - (1 - q) * (1 - pi)
        assumed = n0
        notes.append(
            f"{n0} gold labels come from no sample: counted as a simple random sample "
            f"of the {len(table)} responses (--assume-random; inclusion probability "
            f"{q:.3g}, combined with the samples' as independent draws)"
        )
    from_sample = int((labeled & has).sum())
    weight = prob if from_sample else None
    if weight is None and assumed:
        notes[-1] += "; no gold comes from a sample, so the labels are used unweighted"
    return out, Design(
        weight=weight,
        n_gold=n_gold,
        n_no_sample=n0,
        n_set_aside=set_aside,
        n_assumed_random=assumed,
        notes=notes,
    )


def validation_rows(table: pd.DataFrame, judge: str, *, gold: str = "gold") -> pd.DataFrame:
    """The rows that validate the verdict column ``judge``: gold present and judged by
    its run (an invalid answer included: :func:`calibrate.judge_metrics` counts it in
    ``n_invalid``); a response the run never judged is not one of them."""
    return table[table[judge].notna() & table[gold].notna()]


@dataclass(frozen=True)
class Rows:
    """The selected rows of one field: ``table`` (every response, gold after the design,
    one verdict column per judge in ``judges`` and ``score:<judge>``), ``runs``
    (``{judge column: run_id}``), ``weight`` (the inclusion-probability column or
    ``None``) and the :class:`Design` with its notes."""

    field: str
    table: pd.DataFrame
    judges: list[str]
    runs: dict[str, str]
    design: Design

    @property
    def weight(self) -> str | None:
        return self.design.weight

    @property
    def notes(self) -> list[str]:
        return list(self.design.notes)

    def validation(self, judge: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
        """The rows that validate ``judge``: gold present and judged by its run (an
        invalid answer included, counted as invalid). ``table``: a filtered ``self.table``."""
        return validation_rows(self.table if table is None else table, judge)

    def n_invalid(self, judge: str) -> int:
        """Invalid answers among :meth:`validation`'s rows."""
        return int((self.validation(judge)[judge] == INVALID).sum())


def select_rows(
    ws: Workspace,
    *,
    field: str,
    runs: Sequence[str] | None = None,
    assume_random: bool = False,
) -> Rows:
    """The rows of ``field`` for judge validation and corrected rates (module docstring).

    ``runs``: run ids or judge names (a judge name: its newest run); default the newest
    run of every judge with verdicts of ``field``. ``assume_random``: count gold from no
    sample as a simple random sample (else it is set aside, with a note).
    """
    chosen = resolve_runs(ws, runs, field=field)
    table, judges = runs_table(ws, field=field, columns=chosen)
    table, design = sample_design(table, assume_random=assume_random)
    return Rows(field=field, table=table, judges=judges, runs=chosen, design=design)


def one_judge(rows: Rows) -> str:
    """The single judge of ``rows`` (corrected rates take one), else an ``InputError``."""
    if len(rows.judges) > 1:
        raise InputError(
            "several judges have verdicts; choose one with --run RUN_ID|JUDGE "
            f"(judges: {', '.join(rows.judges)})"
        )
    return rows.judges[0]
