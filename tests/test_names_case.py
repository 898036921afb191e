"""One convention for names and case (annotate.labels.fold / canonical): label values and
enumerated names given in any case mean the same thing in every file and every option,
and the results are identical to those of the same data written in lower case."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from safecal.annotate.labels import ASPECTS, LANGUAGES, MODALITIES, canonical, fold
from safecal.annotate.store import Workspace, catalog
from safecal.cli import build_parser
from tests.own_data import OWN, build_workspace, run

#: the columns of the example files that hold names or labels, per file
NAMED = {
    "items.csv": ("usage",),
    "responses.csv": ("language",),
    "verdicts.csv": ("language", "label"),
    "labels.csv": ("language", "field", "label"),
}


def test_fold_and_canonical_by_hand():
    assert fold(" Unsafe ") == "unsafe"
    assert fold("ＥＮ") == "en"  # full-width letters (NFKC)
    assert canonical("Vulnerability", ASPECTS) == "vulnerability"
    assert canonical("EN", LANGUAGES) == "en"
    assert canonical("rirt", MODALITIES) == "RIRT"
    assert canonical("over-refusal", ASPECTS) is None  # a different name stays refused


def test_the_example_files_really_mix_case():
    """The test below means something only if the files hold more than lower case."""
    mixed = 0
    for name, columns in NAMED.items():
        with (OWN / name).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                mixed += sum(row[c] != row[c].lower() for c in columns)
    assert mixed >= 20


def _copy(tmp: Path, *, lower: bool) -> Path:
    folder = tmp / ("lower" if lower else "mixed")
    shutil.copytree(OWN, folder)
    if lower:
        for name, columns in NAMED.items():
            with (folder / name).open(encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            for row in rows:
                for c in columns:
                    row[c] = row[c].lower()
            with (folder / name).open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    return folder


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    run(*argv, "--json")
    return json.loads(capsys.readouterr().out)


def test_mixed_case_gives_the_results_of_lower_case(tmp_path, capsys):
    results = {}
    for lower in (False, True):
        folder = _copy(tmp_path, lower=lower)
        ws = tmp_path / f"ws-{lower}"
        build_workspace(folder, ws)
        opened = Workspace.open(ws)
        items = catalog.items(opened, columns=["item_id", "aspect", "modality"])
        responses = catalog.responses(opened, columns=["response_id", "language"])
        positive = "Unsafe" if not lower else "unsafe"
        w = ["-w", str(ws), "--assume-random"]  # imported labels: drawn by no sample
        results[lower] = {
            "items": items,
            "responses": responses.sort_values("response_id").reset_index(drop=True),
            "judge": _json(capsys, "calibrate", "judge", "--positive", positive, *w),
            "estimate": _json(capsys, "calibrate", "estimate", "--positive", positive, *w),
            "en": _json(capsys, "calibrate", "estimate", "--where", "language=EN", *w),
        }
    mixed, lower = results[False], results[True]
    assert set(mixed["items"]["aspect"]) == {"vulnerability"}
    assert set(mixed["responses"]["language"]) == {"en", "zh"}
    pd.testing.assert_frame_equal(mixed["items"], lower["items"])
    pd.testing.assert_frame_equal(mixed["responses"], lower["responses"])
    for key in ("judge", "estimate", "en"):
        assert mixed[key] == lower[key], key
    # the verdicts written UNSAFE counted as unsafe, not as invalid answers
    judge = mixed["judge"]["judges"]["my-judge"]
    assert judge["n_invalid"] == 1  # the one answer that is no label at all
    assert judge["positive"] == ["unsafe"]
    # --where language=EN kept the English responses only
    en = mixed["en"]["estimates"]["total (pooled)"]
    every = mixed["estimate"]["estimates"]["total (pooled)"]
    assert en["n_labeled"] + en["n_unlabeled"] < every["n_labeled"] + every["n_unlabeled"]


def test_options_with_named_choices_take_any_case():
    parser = build_parser()
    args = parser.parse_args(
        ["calibrate", "run", "--judge", "Imported", "--languages", "EN", "Zh", "--file", "f"]
    )
    assert args.judge == "imported" and args.languages == ["en", "zh"]
    args = parser.parse_args(["annotate", "sample", "--aspect", "VULNERABILITY"])
    assert args.aspect == "vulnerability"
    args = parser.parse_args(["calibrate", "judge", "--field", "Refusal"])
    assert args.field == "refusal"
    with pytest.raises(SystemExit) as refused:  # another name is refused as before
        parser.parse_args(["annotate", "sample", "--aspect", "over-refusal"])
    assert refused.value.code == 2


def test_table_labels_in_any_case(tmp_path, capsys):
    rows = [("unsafe", "unsafe"), ("safe_with_refusal", "safe_with_refusal")] * 6 + [
        ("unsafe", "safe_with_refusal"),
        ("safe_with_warning", "unsafe"),
    ]
    lower = pd.DataFrame(rows, columns=["gold", "judge"])
    mixed = lower.apply(lambda col: col.map(lambda v: v.upper() if len(v) % 2 else v.title()))
    assert (mixed != lower).all().all()
    out = {}
    for name, table in (("lower", lower), ("mixed", mixed)):
        path = tmp_path / f"{name}.csv"
        table.to_csv(path, index=False)
        positive = "unsafe" if name == "lower" else " UnSafe "
        out[name] = _json(
            capsys, "calibrate", "judge", "--table", str(path), "--judge", "judge",
            "--positive", positive, "--n-boot", "50",
        )  # fmt: skip
    assert out["mixed"] == out["lower"]
    assert out["mixed"]["judges"]["judge"]["n_invalid"] == 0
