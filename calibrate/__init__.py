"""calibrate: stage 2. Agreement, judge validation, corrected rates, judges, curation.

The statistics take plain tables (pandas DataFrames) from the workspace
(:mod:`calibrate.tables`) or from a user's file (:func:`annotate.readers.read_table`, the
one reader every command uses).
"""

from safecal.annotate.readers import read_table
from safecal.calibrate.agreement import AgreementResult, agreement, wide_to_long
from safecal.calibrate.judge_metrics import Confusion, JudgeResult, judge_metrics
from safecal.calibrate.paired import PairedResult, paired_test
from safecal.calibrate.ppi import BudgetResult, RateResult, corrected_rate, gold_budget, wilson
from safecal.calibrate.results import Estimate
from safecal.calibrate.slices import MEAN_OF_CELLS, POOLED, benchmark_cells, by_slice, unanimity
from safecal.calibrate.tables import (
    SLICE_COLUMNS,
    annotations_table,
    estimate_table,
    judge_table,
    responses_table,
)

# ---- judges and tuning (issue 5) ---------------------------------------------------------
# isort: split
from safecal.calibrate.judges import (
    Case,
    ImportedJudge,
    JudgeConfig,
    KeywordJudge,
    LLMJudge,
    Verdict,
    load_prompt,
)
from safecal.calibrate.judging import (
    import_verdicts,
    run_keyword_judge,
    run_llm_judge,
    tune_run_threshold,
    write_judge_card,
)
from safecal.calibrate.probes import PROBES, ProbeReport, run_probes
from safecal.calibrate.runner import RunSummary, load_cases, run_judge
from safecal.calibrate.thresholds import ThresholdChoice, threshold_table, tune_threshold
from safecal.calibrate.tuning import (
    PromptTuning,
    ThresholdTuning,
    assign_splits,
    tune_prompt,
    tune_table,
    tune_threshold_cv,
)

# isort: split
# ---- curation (issue 7): find the benchmark queries that make it lie ----
from safecal.calibrate.curation import (
    CurationInputs,
    CurationResult,
    CurationThresholds,
    coverage,
    coverage_pivot,
    curate,
    curate_workspace,
    curation_pass,
    emptied_cells,
    export_table,
    item_evidence,
    load_inputs,
    near_duplicates,
    summary_text,
)

# ---- end of the curation block ----

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
    # judges and tuning (issue 5)
    "Case",
    "ImportedJudge",
    "JudgeConfig",
    "KeywordJudge",
    "PROBES",
    "ProbeReport",
    "LLMJudge",
    "PromptTuning",
    "RunSummary",
    "ThresholdChoice",
    "ThresholdTuning",
    "Verdict",
    "assign_splits",
    "import_verdicts",
    "load_cases",
    "load_prompt",
    "run_judge",
    "run_probes",
    "run_keyword_judge",
    "run_llm_judge",
    "threshold_table",
    "tune_prompt",
    "tune_table",
    "tune_threshold",
    "tune_threshold_cv",
    "tune_run_threshold",
    "write_judge_card",
    # curation (issue 7)
    "CurationInputs",
    "CurationResult",
    "CurationThresholds",
    "coverage",
    "coverage_pivot",
    "curate",
    "curate_workspace",
    "curation_pass",
    "emptied_cells",
    "export_table",
    "item_evidence",
    "load_inputs",
    "near_duplicates",
    "summary_text",
]
