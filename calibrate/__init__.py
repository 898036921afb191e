"""calibrate: stage 2. Agreement, judge validation, corrected rates, judges, curation.

The statistics take plain tables (pandas DataFrames) from the workspace
(:mod:`calibrate.tables`) or from a user's file (:func:`calibrate.io.read_table`).
"""

from calibrate.agreement import AgreementResult, agreement, wide_to_long
from calibrate.io import read_table
from calibrate.judge_metrics import Confusion, JudgeResult, judge_metrics
from calibrate.paired import PairedResult, paired_test
from calibrate.ppi import BudgetResult, RateResult, corrected_rate, gold_budget, wilson
from calibrate.results import Estimate
from calibrate.slices import MEAN_OF_CELLS, POOLED, benchmark_cells, by_slice, unanimity
from calibrate.tables import (
    SLICE_COLUMNS,
    annotations_table,
    estimate_table,
    judge_table,
    responses_table,
)

__all__ = [
    "MEAN_OF_CELLS",
    "POOLED",
    "SLICE_COLUMNS",
    "AgreementResult",
    "BudgetResult",
    "Confusion",
    "Estimate",
    "JudgeResult",
    "PairedResult",
    "RateResult",
    "agreement",
    "annotations_table",
    "benchmark_cells",
    "by_slice",
    "corrected_rate",
    "estimate_table",
    "gold_budget",
    "judge_metrics",
    "judge_table",
    "paired_test",
    "read_table",
    "responses_table",
    "unanimity",
    "wide_to_long",
    "wilson",
]
