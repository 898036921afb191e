"""Prompt templates for the LLM judge: versioned files, strict answer parsing, log-prob scores.

A template is a text file (default ones in ``calibrate/prompts/``)::

    # field: harmfulness
    # options: 1=safe_with_refusal 2=safe_with_warning 3=unsafe
    ### system
    ...
    ### user
    ... $examples ... $query ... $response ...

Placeholders use :class:`string.Template` (``$query``, ``$response``, ``$examples``), so
braces and dollars inside a response are inserted verbatim, never interpreted. The
version is ``<file stem>@<first 10 hex of sha256(file text + few-shot block)>``: editing a
template or its examples changes the version, hence the cache key and the run id.

The judge must answer one JSON object whose first key is ``rating``, an integer among
the options (``{"rating": 3, "reason": "..."}``); anything else (prose, a truncated
object, a rating outside the options, a string rating) is *invalid* and kept raw, never
mapped to a class.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template
from typing import Any

from safecal.annotate.errors import InputError
from safecal.annotate.labels import POSITIVE, SCALES

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"

#: field -> the default template's name in PROMPTS_DIR
DEFAULT_PROMPTS: dict[str, str] = {"harmfulness": "harmfulness-v1", "refusal": "refusal-v1"}


@dataclass(frozen=True)
class Example:
    """One few-shot example: a request, a reply and its gold label."""

    query: str
    response: str
    label: str


@dataclass(frozen=True)
class Prompt:
    """A parsed template. ``options`` maps the rating the judge writes to a label."""

    name: str
    field: str
    options: dict[str, str]
    system: str
    user: str
    source_sha: str
    examples: tuple[Example, ...] = ()

    @property
    def version(self) -> str:
        h = hashlib.sha256(self.source_sha.encode())
        for ex in self.examples:
            h.update(json.dumps([ex.query, ex.response, ex.label], ensure_ascii=False).encode())
        return f"{self.name}@{h.hexdigest()[:10]}"

    def with_examples(self, examples: Sequence[Example]) -> Prompt:
        """The same template with a few-shot block (a new version)."""
        for ex in examples:
            if ex.label not in self.options.values():
                raise ValueError(f"example label {ex.label!r} is not a {self.field} label")
        return replace(self, examples=tuple(examples))

    def rating_for(self, label: str) -> str:
        return next(r for r, lab in self.options.items() if lab == label)

    def examples_block(self) -> str:
        if not self.examples:
            return ""
        lines = ["", "Rated examples:"]
        for ex in self.examples:
            lines += [
                f"Request: <<<{ex.query}>>>",
                f"Reply: <<<{ex.response}>>>",
                f'Answer: {{"rating": {self.rating_for(ex.label)}}}',
                "",
            ]
        return "\n".join(lines)

    def render(self, *, query: str, response: str) -> tuple[str, str]:
        """(system, user) messages with the placeholders filled."""
        values = {"query": query, "response": response, "examples": self.examples_block()}
        return (
            Template(self.system).safe_substitute(values),
            Template(self.user).safe_substitute(values),
        )

    def parse(self, content: str | None) -> str | None:
        """The label in a strict JSON answer, or ``None`` if the answer is not one."""
        if content is None:
            return None
        text = content.strip()
        fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.DOTALL)
        if fenced:
            text = fenced.group(1)
        try:
            obj = json.loads(text)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        rating = obj.get("rating")
        if isinstance(rating, bool) or not isinstance(rating, int):
            return None
        return self.options.get(str(rating))

    def score_from_logprobs(self, tokens: Sequence[Mapping[str, Any]]) -> float | None:
        """P(positive) from the top log-probabilities of the rating token.

        ``tokens`` are the answer's log-prob entries as the chat API sends them
        (``{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}``). Finds the
        token that holds the rating digit right after ``"rating":``, takes its
        ``top_logprobs`` alternatives that are rating options, renormalises
        ``p_r = exp(lp_r) / sum_s exp(lp_s)`` and returns the sum of ``p_r`` over the
        options whose label is positive. ``None`` when there are no log-probs, the rating
        token is not a clean option token, or a log-prob used is not a finite number <= 0
        (the caller checks them; this stays safe on its own: ``exp`` of NaN or 1000 must
        never become a score).
        """
        if not tokens:
            return None
        text, starts = "", []
        for tok in tokens:
            starts.append(len(text))
            text += tok["token"]
        found = re.search(r'"rating"\s*:\s*(\d)', text)
        if not found:
            return None
        pos = found.start(1)
        index = max(i for i, s in enumerate(starts) if s <= pos)
        tok = tokens[index]
        if tok["token"].strip() not in self.options:
            return None
        probs: dict[str, float] = {}
        for alt in [*(tok.get("top_logprobs") or []), tok]:
            key, lp = alt["token"].strip(), alt["logprob"]
            if isinstance(lp, bool) or not isinstance(lp, (int, float)):
                return None
            if not (math.isfinite(lp) and lp <= 1e-4):
                return None
            if key in self.options and key not in probs:
                probs[key] = math.exp(min(0.0, lp))
        total = sum(probs.values())
        if total <= 0:
            return None
        positive = POSITIVE[self.field]
        return min(
            1.0, max(0.0, sum(p for r, p in probs.items() if self.options[r] in positive) / total)
        )


def load_prompt(name_or_path: str | Path) -> Prompt:
    """A template by file path, or by name in ``calibrate/prompts/`` (e.g. ``harmfulness-v1``)."""
    path = Path(name_or_path)
    if not path.exists():
        candidate = PROMPTS_DIR / f"{name_or_path}.txt"
        if not candidate.exists():
            known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt")))
            raise InputError(f"{name_or_path}: no such prompt file or built-in prompt ({known})")
        path = candidate
    source = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in source.splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            sections[current] = []
        elif current is None:
            m = re.match(r"#\s*(\w+)\s*:\s*(.*)", line)
            if m:
                meta[m.group(1)] = m.group(2).strip()
        else:
            sections[current].append(line)
    field = meta.get("field")
    if field not in SCALES:
        raise InputError(f"{path}: needs a '# field: harmfulness|refusal' line before '### system'")
    try:
        options = dict(pair.split("=", 1) for pair in meta.get("options", "").split())
    except ValueError:
        raise InputError(f"{path}: '# options:' must read like '1=label 2=label'") from None
    if not options or set(options.values()) - set(SCALES[field]):
        raise InputError(f"{path}: options must map ratings to {field} labels {SCALES[field]}")
    if "user" not in sections:
        raise InputError(f"{path}: needs a '### user' section")
    user = "\n".join(sections["user"]).strip("\n")
    for placeholder in ("$query", "$response"):
        if placeholder not in user:
            raise InputError(f"{path}: the user section must contain {placeholder}")
    return Prompt(
        name=path.stem,
        field=field,
        options=options,
        system="\n".join(sections.get("system", [])).strip("\n"),
        user=user,
        source_sha=hashlib.sha256(source.encode("utf-8")).hexdigest(),
    )
