"""calibrate"""

# ---- judges and tuning (issue 5) ---------------------------------------------------------
from calibrate.judges import (  # noqa: E402
    Case,
    ImportedJudge,
    JudgeConfig,
    KeywordJudge,
    LLMJudge,
    Verdict,
    load_prompt,
)
from calibrate.judging import (  # noqa: E402
    import_verdicts,
    run_keyword_judge,
    run_llm_judge,
    tune_run_threshold,
    write_judge_card,
)
from calibrate.runner import RunSummary, load_cases, run_judge  # noqa: E402
from calibrate.thresholds import ThresholdChoice, threshold_table, tune_threshold  # noqa: E402
from calibrate.tuning import (  # noqa: E402
    PromptTuning,
    ThresholdTuning,
    assign_splits,
    tune_prompt,
    tune_table,
    tune_threshold_cv,
)

__all__ = [
    # judges and tuning (issue 5)
    "Case",
    "ImportedJudge",
    "JudgeConfig",
    "KeywordJudge",
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
    "run_keyword_judge",
    "run_llm_judge",
    "threshold_table",
    "tune_prompt",
    "tune_table",
    "tune_threshold",
    "tune_threshold_cv",
    "tune_run_threshold",
    "write_judge_card",
]
