"""What every judge shares: the case it judges, the verdict it returns, its identity.

A judge reads one :class:`Case` (a response with its item) and returns one
:class:`Verdict`: a label from the field's vocabulary (:mod:`annotate.labels`) or
``None`` with ``valid=False`` when its answer could not be parsed, an optional
score ``P(positive)`` in [0, 1], the raw answer, and what the call cost
(tokens, seconds). Its :class:`JudgeConfig` names everything that changes its
answers (kind, name, model, prompt version, parameters); the cache key and the
run id are hashes of it, so changing any of them starts a new run and a rerun of
the same one costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from safecal.annotate.labels import SCALES


@dataclass(frozen=True)
class Case:
    """One response to judge, with what the judge may see of its item.

    ``query`` is the item's text in the response's language; ``image`` the image's
    absolute path (``None`` when the item has none or the judge is text-only).
    """

    response_id: str
    item_id: str
    field: str  # 'harmfulness' | 'refusal' (annotate.labels.FIELD_FOR_ASPECT)
    query: str
    response: str
    language: str = "en"
    image: str | None = None
    model: str = ""

    def __post_init__(self) -> None:
        if self.field not in SCALES:
            raise ValueError(f"unknown field {self.field!r}; expected one of {sorted(SCALES)}")


@dataclass(frozen=True)
class Verdict:
    """A judge's answer about one case.

    ``label`` is ``None`` exactly when ``valid`` is false (the raw answer is kept,
    never mapped to a class). ``score`` is the judge's probability that the label
    is positive (:data:`annotate.labels.POSITIVE`), when it offers one.
    """

    label: str | None
    valid: bool
    score: float | None = None
    raw: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    latency: float = 0.0

    def __post_init__(self) -> None:
        if self.valid != (self.label is not None):
            raise ValueError("a verdict has a label exactly when it is valid")
        if self.score is not None and not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score {self.score} is outside [0, 1]")


@dataclass(frozen=True)
class JudgeConfig:
    """Everything that changes a judge's answers; hashed into the run id and cache key."""

    kind: str  # 'keyword' | 'llm' | 'imported'
    name: str
    model: str | None = None
    prompt_version: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """sha256 of the canonical JSON of the config (sorted keys)."""
        blob = json.dumps(
            {
                "kind": self.kind,
                "name": self.name,
                "model": self.model,
                "prompt_version": self.prompt_version,
                "params": self.params,
            },
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def run_id(self) -> str:
        """A stable, readable run id: ``<name>-<first 12 hex of the key>``."""
        return f"{self.name}-{self.key()[:12]}"


@runtime_checkable
class Judge(Protocol):
    """The interface: a config, and ``judge`` (synchronous) or ``ajudge`` (async).

    Local judges (keyword, imported) implement :meth:`judge`; remote ones (LLM)
    implement :meth:`ajudge` and set ``remote = True`` so the runner drives them
    concurrently and caches their answers.
    """

    remote: bool

    @property
    def config(self) -> JudgeConfig: ...

    def input_key(self, case: Case) -> str:
        """sha256 of everything the judge reads from ``case``."""
        ...


def hash_parts(*parts: str | bytes | None) -> str:
    """sha256 over length-prefixed parts (so ('ab', 'c') and ('a', 'bc') differ)."""
    h = hashlib.sha256()
    text = []
    for part in parts:
        if isinstance(part, bytes):
            h.update(part)  # binary parts (images) are hashed first, then the text parts
            text.append(f"b{len(part)}")
        elif part is None:
            text.append("n")
        else:
            text.append(f"s{len(part)}:{part}")
    h.update("\x1e".join(text).encode("utf-8", "surrogatepass"))
    return h.hexdigest()
