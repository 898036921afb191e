"""A verdict refers to a run and a response that exist, on both backends.

SQLite checks with foreign keys; PostgreSQL (schema version 7) with triggers that check
once per statement (annotate/store/schema.py). Both refuse the same writes: a verdict
for an unknown response or run, in a one-row or a many-row statement (and then none of
its rows stay); deleting, or changing the key of, a response or run that verdicts refer
to. What nothing refers to can still go.
"""

from __future__ import annotations

import pytest

from safecal.annotate.store import integrity_errors, runs

COLUMNS = "run_id, response_id, field, label, valid"


@pytest.fixture
def ws(example_workspace):
    with example_workspace.transaction() as con:
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) "
            "VALUES ('r1', 'j', 'keyword', 't'), ('r2', 'j', 'keyword', 't')"
        )
    return example_workspace


def _responses(ws, n):
    return ws.read_sql(f"SELECT response_id FROM responses ORDER BY response_id LIMIT {n}")[
        "response_id"
    ].tolist()


def _count(ws, where="1 = 1"):
    return int(ws.read_sql(f"SELECT count(*) AS n FROM verdicts WHERE {where}")["n"].iloc[0])


def test_a_verdict_for_an_unknown_response_or_run_is_refused(ws):
    (rid,) = _responses(ws, 1)
    for run, response in (("r1", "no-such-response"), ("no-such-run", rid)):
        with pytest.raises(integrity_errors()), ws.transaction() as con:
            con.execute(
                f"INSERT INTO verdicts ({COLUMNS}) VALUES (?, ?, 'harmfulness', 'safe', 1)",
                (run, response),
            )
    assert _count(ws) == 0
    with ws.transaction() as con:
        con.execute(
            f"INSERT INTO verdicts ({COLUMNS}) VALUES ('r1', ?, 'harmfulness', 'safe', 1)",
            (rid,),
        )
    assert _count(ws) == 1


def test_one_bad_row_refuses_the_whole_statement(ws):
    """The set-based statement (how a cached rerun writes) is checked as a whole."""
    good = _responses(ws, 50)
    with pytest.raises(integrity_errors()), ws.transaction() as con:
        con.execute("CREATE TEMP TABLE staged (response_id TEXT)")
        con.copy_rows("staged", ("response_id",), [(r,) for r in [*good, "no-such-response"]])
        con.execute(
            f"INSERT INTO verdicts ({COLUMNS}) "
            "SELECT 'r1', response_id, 'harmfulness', NULL, 0 FROM staged"
        )
    assert _count(ws) == 0
    with ws.transaction() as con:
        con.executemany(
            f"INSERT INTO verdicts ({COLUMNS}) VALUES ('r1', ?, 'harmfulness', NULL, 0)",
            [(r,) for r in good],
        )
    assert _count(ws, "run_id = 'r1'") == 50


def test_what_verdicts_refer_to_cannot_go_or_change_its_key(ws):
    kept, free = _responses(ws, 2)
    with ws.transaction() as con:
        con.execute(
            f"INSERT INTO verdicts ({COLUMNS}) VALUES ('r1', ?, 'harmfulness', 'safe', 1)",
            (kept,),
        )
    refused = [
        ("DELETE FROM responses WHERE response_id = ?", (kept,)),
        ("UPDATE responses SET response_id = 'renamed' WHERE response_id = ?", (kept,)),
        ("DELETE FROM judge_runs WHERE run_id = 'r1'", ()),
        ("UPDATE judge_runs SET run_id = 'renamed' WHERE run_id = 'r1'", ()),
        ("UPDATE verdicts SET response_id = 'no-such-response'", ()),
        ("UPDATE verdicts SET run_id = 'no-such-run'", ()),
    ]
    for sql, params in refused:
        with pytest.raises(integrity_errors()), ws.transaction() as con:
            con.execute(sql, params)
    assert _count(ws, "run_id = 'r1'") == 1
    with ws.transaction() as con:  # what no verdict refers to
        con.execute("UPDATE responses SET response = 'edited' WHERE response_id = ?", (kept,))
        con.execute("UPDATE verdicts SET run_id = 'r2'")
        con.execute("DELETE FROM judge_runs WHERE run_id = 'r1'")
        con.execute("DELETE FROM responses WHERE response_id = ?", (free,))
    assert _count(ws, "run_id = 'r2'") == 1
    gone = ws.read_sql("SELECT count(*) AS n FROM responses WHERE response_id = ?", (free,))
    assert int(gone["n"].iloc[0]) == 0


def test_insert_verdicts_writes_one_checked_statement(ws):
    """The store's verdict writer (one statement on PostgreSQL): a rerun replaces a
    verdict, the later of two rows for one response wins, NULLs stay NULL, numbers of
    mixed Python types (1 beside 0.1) are written, and one row naming an unknown response
    refuses the whole write."""
    a, b, c = _responses(ws, 3)

    def row(response, label, score):
        return (
            "r1",
            response,
            "harmfulness",
            label,
            int(label is not None),
            score,
            "raw",
            3,
            4,
            0.5,
        )

    with ws.transaction() as con:
        runs.insert_verdicts(con, [row(a, "safe", 0.1), row(b, None, None), row(c, "unsafe", 1)])
    with ws.transaction() as con:
        runs.insert_verdicts(con, [row(a, "unsafe", 0.7), row(a, "safe", 0.2)])
    con = ws.connect()
    try:
        got = con.execute(
            "SELECT response_id, label, valid, score, tokens_in FROM verdicts ORDER BY response_id"
        ).fetchall()
    finally:
        con.close()
    assert [tuple(r) for r in got] == [
        (a, "safe", 1, 0.2, 3),
        (b, None, 0, None, 3),
        (c, "unsafe", 1, 1.0, 3),
    ]
    with pytest.raises(integrity_errors()), ws.transaction() as con:
        runs.insert_verdicts(con, [row(b, "safe", 0.9), row("no-such-response", "safe", 0.9)])
    assert _count(ws, "label IS NULL") == 1 and _count(ws) == 3
