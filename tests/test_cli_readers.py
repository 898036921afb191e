"""Every command that reads a user's file, through the command line: one reader behind all.

The same table in every format gives the same result; every command takes ``--encoding``;
every bad file is ``error:`` naming the file and where, exit 2, no traceback, and the
workspace unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from safecal.annotate import Workspace
from safecal.annotate.example import ExamplePaths
from safecal.cli import main

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
REPO = Path(__file__).resolve().parents[1]


def write(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8") -> Path:
    """``frame`` (all text) in the format of ``path``'s suffix."""
    fmt = path.suffix[1:]
    if fmt in ("csv", "tsv"):
        frame.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",", encoding=encoding)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == "json":
        path.write_text(frame.to_json(orient="records", force_ascii=False), encoding=encoding)
    else:
        frame.to_parquet(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def counts(ws: Workspace) -> dict[str, int]:
    tables = ("items", "responses", "annotations", "honeypots", "judge_runs", "verdicts")
    return {t: int(ws.read_sql(f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0]) for t in tables}


def labels(example: ExamplePaths) -> pd.DataFrame:
    return pd.read_csv(example.human_labels, dtype=str, keep_default_na=False).head(40)


def verdicts(example: ExamplePaths) -> pd.DataFrame:
    return pd.read_csv(example.judge_verdicts, dtype=str, keep_default_na=False)


def tuning_table(example: ExamplePaths) -> pd.DataFrame:
    v = verdicts(example)
    truth = pd.read_csv(example.truth, dtype=str, keep_default_na=False)
    keys = ["item_id", "model", "language", "field"]
    t = v.merge(truth.rename(columns={"label": "gold"}), on=keys)
    return t[t["field"] == "harmfulness"][["item_id", "gold", "label", "score"]]


# -- the same content in every format, through each command --------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_and_honeypots_read_every_format_alike(
    example_workspace: Workspace, example: ExamplePaths, tmp_path: Path, capsys, fmt: str
) -> None:
    ws = example_workspace.path
    code, out, err = run(
        capsys,
        "annotate",
        "import",
        str(write(labels(example), tmp_path / f"l.{fmt}")),
        "-w",
        str(ws),
    )
    assert (code, err) == (0, "") and "imported 40 human labels" in out
    stored = example_workspace.read_sql(
        "SELECT item_id, annotator, field, label, lead_time FROM annotations"
    )
    expected = labels(example)[["item_id", "annotator", "field", "label", "lead_time"]]
    expected = expected.assign(lead_time=expected["lead_time"].astype(float))
    assert sorted(stored.itertuples(index=False)) == sorted(expected.itertuples(index=False))
    truth = pd.read_csv(example.truth, dtype=str).head(30)
    code, out, err = run(
        capsys, "annotate", "honeypots", str(write(truth, tmp_path / f"h.{fmt}")), "-w", str(ws)
    )
    assert (code, err) == (0, "") and "loaded 30 honeypot labels" in out


def test_calibrate_commands_read_every_format_alike(
    example_workspace: Workspace, example: ExamplePaths, tmp_path: Path, capsys
) -> None:
    results: dict[str, dict[str, object]] = {}
    for fmt in FORMATS:
        table = write(tuning_table(example), tmp_path / f"t.{fmt}")
        common = ("--table", str(table), "--gold", "gold", "--json")
        tuned = run(capsys, "calibrate", "tune", *common, "--score", "score",
                    "--positive", "unsafe", "--n-boot", "20")  # fmt: skip
        judged = run(capsys, "calibrate", "judge", *common, "--judge", "label", "--n-boot", "20")
        assert tuned[0] == judged[0] == 0, (fmt, tuned[2], judged[2])
        v = write(verdicts(example).drop(columns="judge"), tmp_path / f"v.{fmt}")
        ran = run(capsys, "calibrate", "run", "--judge", "imported", "--file", str(v),
                  "--name", f"imported-{fmt}", "--score-column", "score", "--json",
                  "-w", str(example_workspace.path))  # fmt: skip
        assert ran[0] == 0, (fmt, ran[2])
        stored = example_workspace.read_sql(
            "SELECT v.response_id, v.field, v.label, v.score, v.valid FROM verdicts v "
            "JOIN judge_runs r USING (run_id) WHERE r.judge = ? ORDER BY 1, 2",
            (f"imported-{fmt}",),
        )
        results[fmt] = {
            "tune": json.loads(tuned[1]),
            "judge": json.loads(judged[1]),
            "verdicts": stored.astype(object).where(stored.notna(), None).to_dict("list"),
        }
    assert len(results["csv"]["verdicts"]["label"]) == 720  # type: ignore[index, arg-type]
    for fmt in FORMATS[1:]:
        assert results[fmt] == results["csv"], fmt


# -- --encoding, on every command that reads a user's file ---------------------------------


def _gb18030_cases(example: ExamplePaths, tmp_path: Path) -> dict[str, tuple[list[str], Path, str]]:
    """Per command: its arguments with a GB 18030 file holding Chinese text, and the table
    whose row count must not change when it fails."""
    lab = labels(example)
    lab = lab.assign(annotator="标注员" + lab["annotator"])
    truth = pd.read_csv(example.truth, dtype=str).head(5).assign(note="已核对")
    ver = verdicts(example).assign(raw="判定：不安全")
    tune = tuning_table(example).assign(note="中文")
    responses = pd.read_csv(example.responses[0], dtype=str, keep_default_na=False).head(5)
    responses = responses.assign(model="模型-甲")
    cases = {
        "import": (["annotate", "import", "F"], "annotations", lab),
        "honeypots": (["annotate", "honeypots", "F"], "honeypots", truth),
        "run": (["calibrate", "run", "--judge", "imported", "--file", "F"], "verdicts", ver),
        "tune": (
            [
                "calibrate",
                "tune",
                "--table",
                "F",
                "--positive",
                "unsafe",
                "--gold",
                "gold",
                "--n-boot",
                "10",
            ],
            "",
            tune,
        ),  # fmt: skip
        "judge": (
            [
                "calibrate",
                "judge",
                "--table",
                "F",
                "--gold",
                "gold",
                "--judge",
                "label",
                "--n-boot",
                "10",
            ],
            "",
            tune,
        ),  # fmt: skip
        "responses": (["ingest", "responses", "F"], "responses", responses),
    }
    out = {}
    for name, (argv, table, frame) in cases.items():
        path = write(frame, tmp_path / f"{name}.csv", encoding="gb18030")
        out[name] = ([str(path) if a == "F" else a for a in argv], path, table)
    return out


@pytest.mark.parametrize("command", ["import", "honeypots", "run", "tune", "judge", "responses"])
def test_every_reading_command_takes_encoding(
    example_workspace: Workspace, example: ExamplePaths, tmp_path: Path, capsys, command: str
) -> None:
    argv, path, table = _gb18030_cases(example, tmp_path)[command]
    ws = ["-w", str(example_workspace.path)]
    before = counts(example_workspace)
    code, _, err = run(capsys, *argv, *ws)
    assert code == 2
    assert err.startswith(f"error: {path}"), err
    assert "not valid utf-8 at line 2" in err and "--encoding" in err and "Traceback" not in err
    assert counts(example_workspace) == before
    code, out, err = run(capsys, *argv, *ws, "--encoding", "gb18030")
    assert code == 0, err
    if table:
        assert counts(example_workspace)[table] > before[table]
    if command == "import":
        names = example_workspace.read_sql("SELECT DISTINCT annotator FROM annotations")
        assert names["annotator"].str.startswith("标注员").all() and len(names) == 3


# -- bad files: error naming file and place, exit 2, nothing written -----------------------


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    header = "item_id,model,language,annotator,field,label\n"
    row = "1,aurora-vl-7b,en,ann_a,harmfulness,unsafe\n"
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    (tmp_path / "folder.csv").mkdir()
    files = {
        "missing": (tmp_path / "nope.csv", "file not found"),
        "folder": (tmp_path / "folder.csv", "is a folder"),
        "fifo": (fifo, "not a regular file"),
        "undecodable": (tmp_path / "latin.csv", "not valid utf-8 at line 3, byte 23"),
        "surrogate": (tmp_path / "s.jsonl", "line 2, column 'annotator': a lone surrogate"),
        "wide": (tmp_path / "wide.csv", "line 3: 1,000,000 columns, more than the limit"),
        "duplicate": (tmp_path / "dup.csv", "line 1: duplicate column name(s) 'item_id'"),
        "id object": (tmp_path / "id.jsonl", "line 2, column 'item_id': {\"a\": 1} is not an id"),
        "id list": (tmp_path / "id.parquet", "column 'model': Parquet type list"),
        "unclosed": (tmp_path / "q.csv", "line 3: a quoted field opened on this line"),
    }
    latin = header + row + "1,aurora-vl-7b,en,ann_é,harmfulness,unsafe\n"
    (tmp_path / "latin.csv").write_bytes(latin.encode("latin-1"))
    record = dict(zip(header.strip().split(","), row.strip().split(","), strict=True))
    (tmp_path / "s.jsonl").write_text(
        json.dumps(record) + "\n" + json.dumps(record).replace("ann_a", "ann_\\ud800") + "\n"
    )
    (tmp_path / "wide.csv").write_text(header + row + ",".join(["x"] * 1_000_000) + "\n")
    (tmp_path / "dup.csv").write_text(header.replace("label", "item_id") + row)
    (tmp_path / "id.jsonl").write_text(
        json.dumps(record) + "\n" + json.dumps({**record, "item_id": {"a": 1}}) + "\n"
    )
    table = pa.table({**{k: [v] for k, v in record.items()}, "model": [["a", "b"]]})
    pq.write_table(table, tmp_path / "id.parquet")
    (tmp_path / "q.csv").write_text(header + row + '2,"aurora\n')
    return files


def test_bad_files_through_the_command_line(
    example_workspace: Workspace, tmp_path: Path, capsys
) -> None:
    ws = ["-w", str(example_workspace.path)]
    commands: dict[str, Callable[[Path], list[str]]] = {
        "import": lambda p: ["annotate", "import", str(p)],
        "honeypots": lambda p: ["annotate", "honeypots", str(p)],
        "responses": lambda p: ["ingest", "responses", str(p)],
        "items": lambda p: ["ingest", "items", str(p)],
        "run": lambda p: ["calibrate", "run", "--judge", "imported", "--file", str(p)],
        "tune": lambda p: ["calibrate", "tune", "--table", str(p), "--positive", "unsafe"],
        "agreement": lambda p: ["calibrate", "agreement", "--table", str(p)],
    }
    with_ids = ("import", "honeypots", "responses", "run")  # the commands that know ids
    before = counts(example_workspace)
    for case, (path, message) in _bad_files(tmp_path).items():
        for name, argv in commands.items():
            if case.startswith("id ") and name not in with_ids:
                continue
            started = time.monotonic()
            code, out, err = run(capsys, *argv(path), *ws)
            where = f"{case} via {name}"
            assert code == 2, (where, err)
            assert err.startswith(f"error: {path}"), (where, err)
            assert message in err, (where, err)
            assert "Traceback" not in err and out == "", where
            assert time.monotonic() - started < 10, where
    assert counts(example_workspace) == before


def test_fifo_and_wide_line_as_a_user_runs_them(tmp_path: Path) -> None:
    """A real process: a FIFO must not hang it, a million columns must not take minutes."""
    fifo = tmp_path / "labels.csv"
    os.mkfifo(fifo)
    wide = tmp_path / "wide.jsonl"
    wide.write_text(json.dumps({str(i): 0 for i in range(1_000_000)}) + "\n")
    Workspace.open(tmp_path / "ws")
    for path, message in ((fifo, "not a regular file"), (wide, "line 1: 1,000,000 columns")):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "safecal", "annotate", "import", str(path),
             "-w", str(tmp_path / "ws")],  # fmt: skip
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: {path}") and message in done.stderr
        assert "Traceback" not in done.stderr
        assert time.monotonic() - started < 60


def test_phrase_files_take_encoding_and_refuse_what_is_not_a_file(
    example_workspace: Workspace, tmp_path: Path, capsys
) -> None:
    phrases = tmp_path / "phrases.txt"
    phrases.write_bytes("# 拒绝用语\n我不能帮助\n".encode("gb18030"))
    argv = ["calibrate", "run", "--judge", "keyword", "--phrases", str(phrases)]
    ws = ["-w", str(example_workspace.path)]
    before = counts(example_workspace)
    code, _, err = run(capsys, *argv, *ws)
    assert code == 2 and err.startswith(f"error: {phrases}: not valid utf-8")
    assert "--encoding" in err
    (tmp_path / "dir.txt").mkdir()
    code, _, err = run(capsys, "calibrate", "run", "--judge", "keyword", "--phrases",
                       str(tmp_path / "dir.txt"), *ws)  # fmt: skip
    assert code == 2 and "is a folder" in err
    assert counts(example_workspace) == before
    code, out, err = run(capsys, *argv, *ws, "--encoding", "gb18030", "--no-progress")
    assert code == 0, err
    assert counts(example_workspace)["judge_runs"] == before["judge_runs"] + 1


def test_ingest_items_names_a_missing_file_not_its_folder(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no-such-folder" / "items.csv"
    code, _, err = run(capsys, "ingest", "items", str(missing), "-w", str(tmp_path / "ws"))
    assert code == 2 and err.startswith(f"error: {missing}: file not found"), err
