"""Load the bundled example's label files into a workspace, for the curation tests.

The example ships human_labels.csv, query_quality_labels.csv and
judge_verdicts.csv; the workspace's ``annotations``, ``judge_runs`` and
``verdicts`` tables are written here through ``Workspace`` directly (the
importers belong to other stages).
"""

from __future__ import annotations

import pandas as pd

from annotate import Workspace, response_id
from annotate.example import ExamplePaths


def load_example_labels(ws: Workspace, example: ExamplePaths) -> None:
    human = pd.read_csv(example.human_labels, dtype=str)
    quality = pd.read_csv(example.query_quality_labels, dtype=str, keep_default_na=False)
    verdicts = pd.read_csv(example.judge_verdicts, dtype=str, keep_default_na=False)
    with ws.transaction() as con:
        for r in human.itertuples(index=False):
            con.execute(
                "INSERT INTO annotations (response_id, item_id, annotator, field, label) "
                "VALUES (?, ?, ?, ?, ?)",
                (response_id(r.item_id, r.model, r.language), r.item_id, r.annotator, r.field,
                 r.label))
        for r in quality.itertuples(index=False):
            con.execute(
                "INSERT INTO annotations (response_id, item_id, annotator, field, label) "
                "VALUES (NULL, ?, ?, ?, ?)", (r.item_id, r.annotator, r.field, r.label))
        con.execute("INSERT INTO judge_runs (run_id, judge, kind, started_at) "
                    "VALUES ('example-run', ?, 'imported', '2026-11-28T00:00:00')",
                    (verdicts["judge"].iloc[0],))
        for r in verdicts.itertuples(index=False):
            valid = int(r.label != "")
            con.execute(
                "INSERT INTO verdicts (run_id, response_id, field, label, valid, score, raw) "
                "VALUES ('example-run', ?, ?, ?, ?, ?, ?)",
                (response_id(r.item_id, r.model, r.language), r.field, r.label or None, valid,
                 float(r.score) if r.score else None, r.raw))
