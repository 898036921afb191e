"""On-ramps: the responses and judge verdicts of an inspect_ai or promptfoo run, ingested.

Teams run their benchmarks in an evaluation harness; its log already holds each model
response and the judge's (scorer's, assertion's) verdict on it. :func:`read_inspect_log`
and :func:`read_promptfoo` turn one such file into rows of (item id, target model,
language, response, verdict, the judge's explanation), and :func:`ingest_harness_rows`
stores the responses (through :func:`annotate.responses.ingest_responses`, every check of
``safecal ingest responses``) and the verdicts as one imported judge run
(:class:`calibrate.judges.imported.ImportedJudge`), so the statistics, the card and the
dashboard treat them like any other judge.

Formats, read from their documented shapes (the libraries are not needed, nor imported):

* inspect_ai evaluation log (``inspect_ai.log.EvalLog``), as ``.json`` (one object:
  ``eval`` with ``model``; ``results.scores[]`` with each scorer's ``name`` and ``params``;
  ``samples[]``) or ``.eval`` (a zip archive: ``header.json`` and one
  ``samples/<id>_epoch_<n>.json`` per sample). A sample gives ``id``, ``epoch``,
  ``metadata``, ``output.completion`` (or the text of ``output.choices[0].message``) and
  ``scores`` (``{scorer: {value, answer, explanation}}``). The target model is
  ``eval.model``; the judge model, when the scorer's params name one, its ``model``.
* promptfoo results (``promptfoo eval --output results.json``): ``results.results[]``, each
  with ``vars`` (or ``testCase.vars``), ``provider`` (``label`` or ``id``: the target
  model), ``response.output``, and ``gradingResult`` (``pass``, ``score``, ``reason``).

Mapping to the workspace (documented in the README): the item id is the sample's
``metadata.item_id`` (else its ``id``) in inspect_ai, the ``item_id`` variable in promptfoo
(``--id-field`` / ``--id-var`` for another name); the language is ``metadata.language`` /
``vars.language`` when present, else ``--language``. A verdict is the scorer's value (an
inspect ``C`` / ``I``, a promptfoo ``pass`` / ``fail``) turned into a label of the item's
field by ``--label-map VALUE=LABEL``; a value that already is a label (any case) needs no
mapping; anything else becomes an invalid verdict with the text kept, as every imported
judge does. promptfoo's grading score (P(pass)) becomes the judge's P(positive) when pass
and fail map to one positive and one negative label.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.ingest_report import IngestReport, listing
from safecal.annotate.labels import LANGUAGES, POSITIVE, SCALES, canonical, fold
from safecal.annotate.store import Workspace, catalog

#: the largest log or archive member read (a log of a few thousand samples is megabytes)
MAX_BYTES = 512 * 2**20
COLUMNS = ("item_id", "model", "language", "response", "value", "score", "raw", "where")


@dataclass
class HarnessRows:
    """One harness file as rows (:data:`COLUMNS`), with what it says about the judge."""

    source: Path
    kind: str  # "inspect" | "promptfoo"
    rows: pd.DataFrame
    judge: str  # the scorer's / assertion's name
    judge_model: str | None = None
    skipped: list[str] = field(default_factory=list)  # samples without a response, and why


# -- reading --------------------------------------------------------------------------------


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text; is this the harness's log file?") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: malformed JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path}: larger than {MAX_BYTES // 2**20} MB; split the run's log")
    return path.read_bytes()


def _text_of(content: Any) -> str:
    """A message's text: a string, or the ``text`` of its content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _inspect_parts(path: Path) -> tuple[dict[str, Any], Iterator[tuple[str, Any]]]:
    """The log's header and its samples, with where each sample is, for either format."""
    data = _read_bytes(path)
    if data[:2] == b"PK":  # a .eval archive
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise InputError(f"{path}: a damaged .eval archive (not a readable zip)") from None
        names = archive.namelist()
        if "header.json" not in names:
            raise InputError(
                f"{path}: no header.json in the archive; is this an inspect_ai .eval log?"
            )

        def member(name: str) -> bytes:
            if archive.getinfo(name).file_size > MAX_BYTES:
                raise InputError(f"{path}: {name} is larger than {MAX_BYTES // 2**20} MB")
            return archive.read(name)

        header = _load_json(member("header.json"), f"{path}: header.json")
        samples = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))

        def from_archive() -> Iterator[tuple[str, Any]]:
            for name in samples:
                yield f"{path}: {name}", _load_json(member(name), f"{path}: {name}")

        return _object(header, f"{path}: header.json"), from_archive()
    log = _object(_load_json(data, str(path)), str(path))
    samples_list = log.get("samples")
    if not isinstance(samples_list, list):
        raise InputError(
            f"{path}: no samples[] in the log; inspect_ai writes them unless the eval ran "
            "with --no-log-samples (rerun with samples, or export the .eval log)"
        )
    return log, ((f"{path}: samples[{i}]", s) for i, s in enumerate(samples_list))


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a JSON object; is this an inspect_ai log?")
    return value


def read_inspect_log(
    path: str | Path,
    *,
    scorer: str | None = None,
    id_field: str = "item_id",
    language: str = "en",
) -> HarnessRows:
    """Rows of an inspect_ai log (``.json`` or ``.eval``); see the module docstring."""
    path = Path(path)
    header, samples = _inspect_parts(path)
    evaluation = _object(header.get("eval"), f"{path}: eval")
    model = str(evaluation.get("model") or "")
    if not model:
        raise InputError(f"{path}: eval.model is empty; which model answered?")
    scorers = [s for s in (header.get("results") or {}).get("scores") or [] if isinstance(s, dict)]
    rows: list[tuple] = []
    skipped: list[str] = []
    seen_scorers: set[str] = set()
    for where, sample in samples:
        sample = _object(sample, where)
        if int(sample.get("epoch") or 1) != 1:
            raise InputError(
                f"{where}: epoch {sample.get('epoch')}; safecal keeps one response per item "
                "and model: ingest a log run with --epochs 1"
            )
        metadata = sample.get("metadata") or {}
        item = _value_text(metadata.get(id_field, sample.get("id")))
        lang = _value_text(metadata.get("language")) or language
        output = sample.get("output") or {}
        text = output.get("completion")
        if not text:
            choices = output.get("choices") or []
            text = _text_of((choices[0].get("message") or {}).get("content")) if choices else ""
        scores = sample.get("scores") or {}
        seen_scorers.update(scores)
        if not text:
            skipped.append(f"{where} (item {item!r}): no model output" + _error(sample))
            continue
        chosen = _choose(scorer, list(scores), where)
        score = scores.get(chosen) or {}
        rows.append(
            (item, model, lang, text, _value_text(score.get("value")), math.nan,
             str(score.get("explanation") or score.get("answer") or ""), where)
        )  # fmt: skip
    name = _choose(scorer, sorted(seen_scorers), str(path))
    judge_model = next(
        (
            str((s.get("params") or {}).get("model"))
            for s in scorers
            if s.get("name") == name and (s.get("params") or {}).get("model")
        ),
        None,
    )
    return HarnessRows(path, "inspect", _frame(rows, path), name, judge_model, skipped)


def _error(sample: dict[str, Any]) -> str:
    error = sample.get("error")
    if isinstance(error, dict) and error.get("message"):
        return f" ({str(error['message'])[:80]})"
    return ""


def _choose(scorer: str | None, names: Sequence[str], where: str) -> str:
    if scorer is not None:
        if names and scorer not in names:
            raise InputError(
                f"{where}: no scorer {scorer!r}; the log has {', '.join(names)} (--scorer)"
            )
        return scorer
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError(f"{where}: no scores; was the eval scored (inspect score LOG)?")
    raise InputError(f"{where}: scores from {', '.join(names)}; choose one with --scorer NAME")


def read_promptfoo(
    path: str | Path, *, id_var: str = "item_id", language: str = "en"
) -> HarnessRows:
    """Rows of a promptfoo results file (``--output results.json``); see the module docstring."""
    path = Path(path)
    top = _object(_load_json(_read_bytes(path), str(path)), str(path))
    results = (top.get("results") or {}) if isinstance(top.get("results"), dict) else {}
    entries = results.get("results")
    if not isinstance(entries, list):
        raise InputError(
            f"{path}: no results.results[]; expected the file `promptfoo eval --output "
            "results.json` writes"
        )
    rows, skipped, assertions = [], [], set()
    for i, entry in enumerate(entries):
        where = f"{path}: results.results[{i}]"
        entry = _object(entry, where)
        variables = entry.get("vars") or (entry.get("testCase") or {}).get("vars") or {}
        if id_var not in variables:
            raise InputError(
                f"{where}: no variable {id_var!r} (its vars: {', '.join(map(str, variables))}); "
                "give each test the item id as a var, or name it with --id-var"
            )
        item = _value_text(variables[id_var])
        lang = _value_text(variables.get("language")) or language
        provider = entry.get("provider") or {}
        model = str(provider.get("label") or provider.get("id") or "")
        if not model:
            raise InputError(f"{where}: no provider label or id; which model answered?")
        output = (entry.get("response") or {}).get("output")
        text = output if isinstance(output, str) else _value_text(output)
        grading = entry.get("gradingResult") or {}
        if not text or "pass" not in grading:
            why = "no response output" if not text else "not graded (no gradingResult.pass)"
            skipped.append(f"{where} (item {item!r}): {why}{_promptfoo_error(entry)}")
            continue
        for part in grading.get("componentResults") or []:
            if isinstance(part, dict) and isinstance(part.get("assertion"), dict):
                assertions.add(str(part["assertion"].get("type") or ""))
        score = grading.get("score")
        rows.append(
            (item, model, lang, text, "pass" if grading["pass"] else "fail",
             float(score) if isinstance(score, (int, float)) else math.nan,
             str(grading.get("reason") or ""), where)
        )  # fmt: skip
    name = "+".join(sorted(a for a in assertions if a)) or "grading"  # e.g. llm-rubric
    return HarnessRows(path, "promptfoo", _frame(rows, path), name, None, skipped)


def _promptfoo_error(entry: dict[str, Any]) -> str:
    return f" ({str(entry['error'])[:80]})" if entry.get("error") else ""


def _frame(rows: list[tuple], path: Path) -> pd.DataFrame:
    if not rows:
        raise InputError(f"{path}: no sample with a model response; nothing to ingest")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    known = {v: canonical(v, LANGUAGES) for v in frame["language"].unique()}
    bad = frame[frame["language"].map(known).isna()]
    if len(bad):
        raise InputError(
            f"{bad['where'].iloc[0]}: language {bad['language'].iloc[0]!r} is not one of "
            f"{', '.join(LANGUAGES)} ({len(bad)} sample(s)); fix the metadata or --language"
        )
    return frame.assign(language=frame["language"].map(known))


# -- verdicts -------------------------------------------------------------------------------


def parse_label_map(pairs: Sequence[str] | None) -> dict[str, str]:
    """``--label-map VALUE=LABEL`` pairs as ``{fold(value): label}``; each label must be a
    label of harmfulness or refusal (any case)."""
    labels = [label for scale in SCALES.values() for label in scale]
    out: dict[str, str] = {}
    for pair in pairs or []:
        value, sep, label = pair.partition("=")
        if not sep or not value.strip():
            raise InputError(f"--label-map {pair!r}: write VALUE=LABEL, e.g. C=unsafe")
        known = canonical(label, labels)
        if known is None:
            raise InputError(f"--label-map {pair!r}: {label!r} is not a label; labels are "
                             f"{', '.join(labels)}")  # fmt: skip
        out[fold(value)] = known
    return out


def verdict_table(rows: HarnessRows, label_map: Mapping[str, str]) -> pd.DataFrame:
    """The verdicts as the imported judge's table: item_id, model, language, label, score,
    raw (the judge's value and explanation). An unmapped value that is no label stays as
    it is (the imported judge counts it invalid)."""
    frame = rows.rows
    labels = [label for scale in SCALES.values() for label in scale]
    mapped = [label_map.get(fold(v)) or canonical(v, labels) or v for v in frame["value"]]
    if rows.kind == "promptfoo" and not label_map:
        raise InputError(
            f"{rows.source}: promptfoo's verdicts are pass / fail: say what they mean for your "
            "items, e.g. --label-map fail=unsafe --label-map pass=safe_with_refusal (an "
            "assertion that passes a safe answer)"
        )
    positive = {label for labels_ in POSITIVE.values() for label in labels_}
    score = frame["score"].astype(float)
    pass_label, fail_label = label_map.get("pass"), label_map.get("fail")
    if rows.kind == "promptfoo" and pass_label and fail_label:
        if (pass_label in positive) != (fail_label in positive):
            score = score if pass_label in positive else 1.0 - score  # P(positive)
        else:
            score = score * math.nan
    else:
        score = score * math.nan
    raw = [f"{v}: {r}" if r else v for v, r in zip(frame["value"], frame["raw"], strict=True)]
    return pd.DataFrame(
        {
            "item_id": frame["item_id"],
            "model": frame["model"],
            "language": frame["language"],
            "label": mapped,
            "score": score.where(score.notna(), None),
            "raw": raw,
        }
    )


# -- storing --------------------------------------------------------------------------------


@dataclass
class OnrampResult:
    responses: IngestReport
    run: Any  # calibrate.runner.RunSummary
    skipped: list[str]


def ingest_harness_rows(
    ws: Workspace,
    rows: HarnessRows,
    *,
    label_map: Mapping[str, str] | None = None,
    name: str | None = None,
    replace: bool = False,
) -> OnrampResult:
    """Store the responses, then the verdicts as one imported judge run. Checked first:
    every item id is in the workspace, one response per (item, model, language), the
    label map; a refusal names the samples and writes nothing."""
    from safecal.annotate.responses import ingest_responses
    from safecal.calibrate.judges.imported import ImportedJudge
    from safecal.calibrate.runner import run_judge

    frame = rows.rows
    known = catalog.item_ids(ws)
    unknown = frame[~frame["item_id"].isin(known)]
    if len(unknown):
        raise InputError(
            f"{rows.source}: nothing was ingested. {unknown['item_id'].nunique()} item id(s) "
            "are not in the workspace: "
            + listing(
                [f"{i!r} ({w})" for i, w in zip(unknown["item_id"], unknown["where"], strict=True)][
                    :10
                ]
            )  # fmt: skip
            + ". Ingest the benchmark first (`safecal ingest items`), or say where the id is "
            "(--id-field / --id-var)"
        )
    dup = frame.duplicated(["item_id", "model", "language"], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise InputError(
            f"{rows.source}: nothing was ingested. {int(dup.sum())} samples share an (item, "
            f"model, language), e.g. {first['item_id']!r} at {first['where']}; one response "
            "each (several epochs or repeated tests?)"
        )
    verdicts = verdict_table(rows, label_map or {})
    digest = hashlib.sha256(rows.source.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="safecal-onramp-") as tmp:
        staged = Path(tmp) / f"{rows.source.stem}.jsonl"
        frame[["item_id", "model", "language", "response"]].to_json(
            staged, orient="records", lines=True, force_ascii=False
        )
        report = ingest_responses(ws, staged, replace=replace)
    report.file = str(rows.source)
    judge = ImportedJudge(
        table=verdicts,
        name=name or f"{rows.kind}-{rows.judge}",
        label="label",
        score="score",
        raw="raw",
        model=rows.judge_model,
        source=f"{rows.source.name}@{digest[:10]}",
    )
    return OnrampResult(report, run_judge(ws, judge), rows.skipped)
