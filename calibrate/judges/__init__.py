"""Judges behind one interface: keyword, LLM (OpenAI-compatible), imported verdicts."""

from calibrate.judges.base import Case, Judge, JudgeConfig, Verdict
from calibrate.judges.imported import ImportedJudge
from calibrate.judges.keyword import KeywordJudge
from calibrate.judges.llm import LLMJudge, TransientError
from calibrate.judges.prompt import Example, Prompt, load_prompt

__all__ = ["Case", "Example", "ImportedJudge", "Judge", "JudgeConfig", "KeywordJudge",
           "LLMJudge", "Prompt", "TransientError", "Verdict", "load_prompt"]
