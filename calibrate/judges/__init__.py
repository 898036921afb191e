"""Judges behind one interface: keyword, LLM (OpenAI-compatible), imported verdicts."""

from safecal.calibrate.judges.base import Case, Judge, JudgeConfig, Verdict
from safecal.calibrate.judges.imported import ImportedJudge
from safecal.calibrate.judges.keyword import KeywordJudge
from safecal.calibrate.judges.llm import LLMJudge, TransientError
from safecal.calibrate.judges.prompt import Example, Prompt, load_prompt

__all__ = [
    "Case",
    "Example",
    "ImportedJudge",
    "Judge",
    "JudgeConfig",
    "KeywordJudge",
    "LLMJudge",
    "Prompt",
    "TransientError",
    "Verdict",
    "load_prompt",
]
