"""Imported verdicts: a label column (and optionally a score column) of an existing file.

For judges run elsewhere (a recorded GPT-4o run, a vendor's output). Rows are matched
to responses by ``response_id`` when the file has that column, else by
``(item_id, model, language)``. Labels and languages are taken in any case
(:func:`annotate.labels.canonical`: ``Unsafe`` is ``unsafe``, ``EN`` is ``en``). A label
outside the field's vocabulary (empty,
``invalid``, a parse failure recorded upstream) becomes an invalid verdict with the
text kept raw; it is never mapped to a class. A score outside [0, 1] is an error.
When the file holds several judges (a ``judge`` column), ``name`` selects one.
The file is read by :mod:`annotate.readers` (any format it reads, ``encoding``; an empty
cell is an empty label, so an invalid verdict); messages name the file's line numbers.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import LANGUAGES, SCALES, canonical, canonical_values
from safecal.calibrate.judges.base import Case, JudgeConfig, Verdict, hash_parts


@dataclass
class ImportedJudge:
    """Verdicts looked up in a table; build it with :meth:`from_file`."""

    table: pd.DataFrame
    name: str
    label: str = "label"
    score: str | None = None
    source: str = ""
    raw: str | None = "raw"  # a column with the judge's raw answer, when the file has one
    model: str | None = None  # the model that judged, when the source says (inspect_ai)
    remote: bool = False
    _by_key: dict[tuple[str, ...], tuple[object, object, object, object]] = field(
        default_factory=dict, init=False
    )
    _keys: tuple[str, ...] = field(default=(), init=False)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        label: str = "label",
        score: str | None = None,
        name: str | None = None,
        judge_column: str = "judge",
        encoding: str = "utf-8",
    ) -> ImportedJudge:
        from safecal.annotate.readers import read_table

        keys = ["response_id", "item_id", "model", "language", judge_column]
        table = read_table(path, encoding=encoding, keys=keys)
        for col in [label] + ([score] if score else []):
            if col not in table.columns:
                raise InputError(f"{path}: no column {col!r} (columns: {', '.join(table.columns)})")
        if judge_column in table.columns:
            judges = sorted(j for j in table[judge_column].unique() if j.strip())
            if name is None:
                if len(judges) != 1:
                    raise InputError(
                        f"{path}: column {judge_column!r} holds several judges "
                        f"({', '.join(judges)}); choose one with --name"
                    )
                name = judges[0]
            elif name in judges:
                table = table[table[judge_column] == name]
            else:
                raise InputError(
                    f"{path}: no rows with {judge_column} = {name!r} (found: {', '.join(judges)})"
                )
        if name is None:
            name = Path(path).stem
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return cls(
            table=table,
            name=str(name),
            label=label,
            score=score,
            source=f"{Path(path).name}@{digest[:10]}",
        )

    def __post_init__(self) -> None:
        if "response_id" in self.table.columns:
            self._keys = ("response_id",)
        elif {"item_id", "model", "language"} <= set(self.table.columns):
            self._keys = ("item_id", "model", "language")
        else:
            raise InputError(
                f"{self.source or self.name}: needs a response_id column, or "
                "item_id, model and language columns"
            )
        if "language" in self.table.columns:
            known = canonical_values(self.table["language"], LANGUAGES)
            self.table = self.table.assign(language=[known[v] or v for v in self.table["language"]])
        nothing = pd.Series([None] * len(self.table))
        scores = self.table[self.score] if self.score else nothing
        raws = self.table[self.raw] if self.raw and self.raw in self.table.columns else nothing
        for line, (key, lab, sc, raw) in zip(
            self.table.index,
            zip(
                self.table[list(self._keys)].itertuples(index=False, name=None),
                self.table[self.label],
                scores,
                raws,
                strict=True,
            ),
            strict=True,
        ):
            key = tuple(str(k) for k in key)
            if key in self._by_key:
                raise InputError(
                    f"{self.source}, line {line}: a second verdict for {key}; "
                    "keep one row per response"
                )
            self._by_key[key] = (lab, sc, raw, line)

    @property
    def config(self) -> JudgeConfig:
        return JudgeConfig(
            kind="imported",
            name=self.name,
            model=self.model,
            params={"source": self.source, "label": self.label, "score": self.score},
        )

    def input_key(self, case: Case) -> str:
        return hash_parts(case.response_id, case.field)

    def key(self, case: Case) -> tuple[str, ...]:
        if self._keys == ("response_id",):
            return (case.response_id,)
        return (case.item_id, case.model, case.language)

    def has(self, case: Case) -> bool:
        return self.key(case) in self._by_key

    def judge(self, case: Case) -> Verdict:
        raw_label, raw_score, raw_answer, line = self._by_key[self.key(case)]
        text = _text(raw_label)
        label = canonical(text, SCALES[case.field]) if text.strip() else None
        score = _score(raw_score, f"{self.source}, line {line}", case)
        return Verdict(
            label=label,
            valid=label is not None,
            score=score if label is not None else None,
            raw=_text(raw_answer) or text,
        )


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _score(value: object, source: str, case: Case) -> float | None:
    if value is None or value is pd.NA or (isinstance(value, str) and not value.strip()):
        return None
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(
            f"{source}: score {value!r} for {case.response_id} is not a number"
        ) from None
    if math.isnan(score):
        return None
    if not 0.0 <= score <= 1.0:
        raise InputError(f"{source}: score {score} for {case.response_id} is outside [0, 1]")
    return score
