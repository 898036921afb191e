"""Recall and false-positive rate of the keyword judge on ``refusal_eval.csv``, before and
after issue 16, per language and per style (the README's figures).

    PYTHONPATH=... python tests/data/refusal_eval/evaluate.py

"Before": the lists as they were (``phrases_before_*.txt``) matched anywhere in the
response; "after": the bundled lists matched in the opening (:mod:`calibrate.judges.keyword`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from safecal.calibrate.judges.keyword import KeywordJudge, detection_rates, read_phrases

HERE = Path(__file__).parent


def eval_set() -> pd.DataFrame:
    return pd.read_csv(HERE / "refusal_eval.csv", dtype=str, keep_default_na=False)


def judges() -> dict[str, KeywordJudge]:
    before = read_phrases(sorted(HERE.glob("phrases_before_*.txt")))
    return {
        "before": KeywordJudge(phrases=before, opening_sentences=None),
        "after": KeywordJudge(),
    }


def rates(judge: KeywordJudge, rows: pd.DataFrame) -> dict[str, Any]:
    return detection_rates(judge, list(rows["text"]), list(rows["label"] == "refusal"))


def main() -> None:
    from safecal.calibrate.render import print_table

    data = eval_set()
    rows = []
    for split in ("review", "holdout", "all"):
        for name, judge in judges().items():
            for lang in ("all", "en", "zh"):
                part = data if split == "all" else data[data["split"] == split]
                part = part if lang == "all" else part[part["language"] == lang]
                r = rates(judge, part)
                rows.append([split, name, lang, len(part), r["recall"], r["false_positive_rate"]])
    print_table(["split", "lists", "language", "n", "recall", "false-positive rate"], rows)
    styles = []
    for (label, style), part in data[data["split"] == "review"].groupby(["label", "style"]):
        said = {
            name: sum(j.matched(t) is not None for t in part["text"])
            for name, j in judges().items()
        }
        styles.append([label, style, len(part), said["before"], said["after"]])
    print_table(
        ["label", "style", "n", "called refusal before", "after"],
        styles,
        title="review split, by style",
    )


if __name__ == "__main__":
    main()
