"""The workspace's schema: one migration script per version.

A workspace at version v runs scripts v+1.. on open, in one transaction (see
:meth:`safecal.annotate.store.Workspace.open`). Nothing has been released yet, so
version 1 may still grow; once released, a change is a new script appended here,
never an edit of an old one.
"""

from __future__ import annotations

import re
import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # ---- version 1 -------------------------------------------------------------
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- ingest (annotate/items.py, annotate/responses.py)
    CREATE TABLE items (
        item_id          TEXT PRIMARY KEY,
        text             TEXT NOT NULL,
        text_zh          TEXT,
        image            TEXT,            -- path under <workspace>/images, NULL if missing
        open_url         TEXT,            -- the image path as the benchmark file gave it
        aspect           TEXT NOT NULL CHECK (aspect IN ('vulnerability', 'overrefusal')),
        level1_category  TEXT,
        level2_category  TEXT,
        level3_category  TEXT,
        img_risk         INTEGER NOT NULL CHECK (img_risk IN (0, 1)),
        text_risk        INTEGER NOT NULL CHECK (text_risk IN (0, 1)),
        modality         TEXT NOT NULL CHECK (modality IN ('RIRT', 'RIST', 'SIRT', 'SIST')),
        img_style        TEXT,
        extra            TEXT,            -- JSON object of unmapped columns
        source           TEXT NOT NULL,   -- the file it came from
        content_hash     TEXT NOT NULL,
        ingested_at      TEXT NOT NULL
    );

    CREATE TABLE responses (
        response_id   TEXT PRIMARY KEY,   -- derived from (item_id, model, language)
        item_id       TEXT NOT NULL REFERENCES items (item_id),
        model         TEXT NOT NULL,
        language      TEXT NOT NULL CHECK (language IN ('en', 'zh')),
        response      TEXT NOT NULL,
        settings      TEXT,               -- JSON: generation settings
        timestamp     TEXT,
        extra         TEXT,               -- JSON object of unmapped columns
        source        TEXT NOT NULL,
        content_hash  TEXT NOT NULL,
        ingested_at   TEXT NOT NULL
    );
    CREATE INDEX responses_item ON responses (item_id);
    CREATE INDEX responses_model ON responses (model);

    -- annotation (annotate/): samples, human labels, gold labels
    CREATE TABLE samples (
        sample_id       TEXT NOT NULL,
        response_id     TEXT NOT NULL REFERENCES responses (response_id),
        stratum         TEXT NOT NULL,
        inclusion_prob  REAL NOT NULL CHECK (inclusion_prob > 0 AND inclusion_prob <= 1),
        role            TEXT NOT NULL DEFAULT 'regular'
                        CHECK (role IN ('regular', 'overlap', 'honeypot')),
        seed            INTEGER,
        created_at      TEXT NOT NULL,
        PRIMARY KEY (sample_id, response_id)
    );

    -- the long table: one row per (unit, annotator, field)
    CREATE TABLE annotations (
        response_id    TEXT,              -- NULL for item-level fields (query quality)
        item_id        TEXT NOT NULL,
        annotator      TEXT NOT NULL,
        field          TEXT NOT NULL,
        label          TEXT NOT NULL,
        lead_time      REAL,
        created_at     TEXT,
        updated_at     TEXT,
        project_id     INTEGER,
        task_id        INTEGER,
        annotation_id  INTEGER,
        UNIQUE (item_id, response_id, annotator, field)
    );
    CREATE INDEX annotations_response ON annotations (response_id);

    CREATE TABLE gold (
        response_id  TEXT NOT NULL REFERENCES responses (response_id),
        field        TEXT NOT NULL,
        label        TEXT NOT NULL,
        method       TEXT NOT NULL
                     CHECK (method IN ('unanimous', 'majority', 'adjudicated', 'dawid_skene',
                                       'honeypot', 'imported')),
        soft         TEXT,                -- JSON {label: probability}
        adjudicator  TEXT,
        decided_at   TEXT NOT NULL,
        PRIMARY KEY (response_id, field)
    );

    -- ---- Label Studio round trip (issue 3: annotate/labelstudio/, annotate/assign.py) ----
    -- No passwords or API tokens are stored here (the workspace server's own token lives
    -- in <workspace>/labelstudio/credentials.json, mode 0600).
    -- server_url: the server's URL, or 'workspace' for the workspace's own server
    -- (`safecal labelstudio start`), whose port changes from start to start
    CREATE TABLE ls_annotators (
        server_url  TEXT NOT NULL,
        email       TEXT NOT NULL,            -- also the annotator name in annotations
        user_id     INTEGER,
        role        TEXT NOT NULL DEFAULT 'annotator' CHECK (role IN ('annotator', 'reviewer')),
        created_at  TEXT NOT NULL,
        PRIMARY KEY (server_url, email)
    );

    -- who labels what: one row per (sample, annotator, task type, unit), in queue order
    CREATE TABLE ls_assignments (
        sample_id    TEXT NOT NULL,
        annotator    TEXT NOT NULL,
        task_type    TEXT NOT NULL CHECK (task_type IN ('harmfulness', 'refusal', 'query_quality')),
        unit_id      TEXT NOT NULL,           -- response_id, or item_id for query_quality
        item_id      TEXT NOT NULL,
        response_id  TEXT,
        role         TEXT NOT NULL CHECK (role IN ('regular', 'overlap', 'honeypot')),
        position     INTEGER NOT NULL,
        PRIMARY KEY (sample_id, annotator, task_type, unit_id)
    );

    CREATE TABLE ls_projects (
        server_url  TEXT NOT NULL,
        project_id  INTEGER NOT NULL,
        sample_id   TEXT NOT NULL,
        annotator   TEXT NOT NULL,            -- the reviewer for kind 'review'
        task_type   TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('annotate', 'review')),
        title       TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (server_url, project_id),
        UNIQUE (server_url, sample_id, annotator, task_type, kind)
    );

    -- task mapping for an idempotent, resumable push: one task per (project, unit)
    CREATE TABLE ls_tasks (
        server_url  TEXT NOT NULL,
        project_id  INTEGER NOT NULL,
        unit_id     TEXT NOT NULL,
        task_id     INTEGER NOT NULL,
        pushed_at   TEXT NOT NULL,
        PRIMARY KEY (server_url, project_id, unit_id)
    );

    -- known labels mixed into annotators' queues
    CREATE TABLE honeypots (
        response_id  TEXT NOT NULL REFERENCES responses (response_id),
        field        TEXT NOT NULL,
        label        TEXT NOT NULL,
        source       TEXT NOT NULL,
        PRIMARY KEY (response_id, field)
    );

    -- adjudication: units sent to review and the reviewer's decision
    CREATE TABLE reviews (
        response_id  TEXT NOT NULL,
        field        TEXT NOT NULL,
        reason       TEXT NOT NULL,           -- 'disagreement' | 'tie' | 'honeypot_failed'
        server_url   TEXT,
        project_id   INTEGER,
        task_id      INTEGER,
        label        TEXT,                    -- the reviewer's choice, once made
        reviewer     TEXT,
        decided_at   TEXT,
        created_at   TEXT NOT NULL,
        PRIMARY KEY (response_id, field)
    );
    -- ---- end of Label Studio round trip block ----

    -- judging (calibrate/): runs and their verdicts
    CREATE TABLE judge_runs (
        run_id          TEXT PRIMARY KEY,
        judge           TEXT NOT NULL,     -- a name the user sees, e.g. 'keyword', 'gpt-4o'
        kind            TEXT NOT NULL,     -- 'keyword' | 'llm' | 'imported'
        model           TEXT,
        prompt_version  TEXT,
        params          TEXT,              -- JSON
        started_at      TEXT NOT NULL,
        finished_at     TEXT,
        n_calls         INTEGER NOT NULL DEFAULT 0,
        tokens_in       INTEGER NOT NULL DEFAULT 0,
        tokens_out      INTEGER NOT NULL DEFAULT 0,
        cost            REAL
    );

    CREATE TABLE verdicts (
        run_id       TEXT NOT NULL REFERENCES judge_runs (run_id),
        response_id  TEXT NOT NULL REFERENCES responses (response_id),
        field        TEXT NOT NULL,
        label        TEXT,                -- NULL when the answer was invalid
        valid        INTEGER NOT NULL CHECK (valid IN (0, 1)),
        score        REAL,                -- P(positive) in [0, 1] when the judge gives one
        raw          TEXT,
        tokens_in    INTEGER,
        tokens_out   INTEGER,
        latency      REAL,
        PRIMARY KEY (run_id, response_id)
    );

    -- judges and tuning (calibrate/cache.py, issue 5): every finished judge call, keyed by
    -- (judge, model, prompt version, parameters) -> config_key and the judged input -> input_key,
    -- so a rerun or a resumed run never pays for the same call twice.
    CREATE TABLE judge_cache (
        config_key   TEXT NOT NULL,       -- sha256 of kind, name, model, prompt version, params
        input_key    TEXT NOT NULL,       -- sha256 of what the judge saw (query, image, response)
        label        TEXT,                -- NULL when the answer was invalid
        valid        INTEGER NOT NULL CHECK (valid IN (0, 1)),
        score        REAL,
        raw          TEXT,
        tokens_in    INTEGER,
        tokens_out   INTEGER,
        latency      REAL,
        created_at   TEXT NOT NULL,
        PRIMARY KEY (config_key, input_key)
    );
    """,
    # ---- version 2 -------------------------------------------------------------
    # One label per (unit, annotator, field), item-level units too: UNIQUE does not
    # compare the NULL response_id of item-level rows, so version 1 let one annotator
    # hold two contradictory labels of an item. The table is rebuilt with the key on
    # coalesce(response_id, ''), keeping the newest row of any duplicates.
    """
    CREATE TABLE annotations_v2 (
        response_id    TEXT,              -- NULL for item-level fields (query quality)
        item_id        TEXT NOT NULL,
        annotator      TEXT NOT NULL,
        field          TEXT NOT NULL,
        label          TEXT NOT NULL,
        lead_time      REAL,
        created_at     TEXT,
        updated_at     TEXT,
        project_id     INTEGER,
        task_id        INTEGER,
        annotation_id  INTEGER
    );
    INSERT INTO annotations_v2
        SELECT response_id, item_id, annotator, field, label, lead_time, created_at,
               updated_at, project_id, task_id, annotation_id
        FROM annotations
        WHERE rowid IN (SELECT max(rowid) FROM annotations
                        GROUP BY item_id, coalesce(response_id, ''), annotator, field);
    DROP TABLE annotations;
    ALTER TABLE annotations_v2 RENAME TO annotations;
    CREATE UNIQUE INDEX annotations_unit
        ON annotations (item_id, coalesce(response_id, ''), annotator, field);
    CREATE INDEX annotations_response ON annotations (response_id);
    """,
    # ---- version 3 -------------------------------------------------------------
    # Active gold selection in rounds (annotate/next_round.py, annotate/rounds.py): each
    # `annotate next` sample is a round; its design is kept so the estimators can combine
    # the rounds (per stratum: the unlabeled responses it drew from and the labels it
    # expected).
    """
    CREATE TABLE rounds (
        sample_id   TEXT PRIMARY KEY,
        round       INTEGER NOT NULL,
        by_columns  TEXT NOT NULL,        -- comma list of stratum options (model,level1,...)
        goal        TEXT NOT NULL CHECK (goal IN ('corrected', 'validation')),
        aspect      TEXT,                 -- NULL: both aspects
        n_planned   INTEGER NOT NULL,
        n_expected  REAL NOT NULL,        -- sum of the inclusion probabilities
        seed        INTEGER,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE round_strata (
        sample_id   TEXT NOT NULL REFERENCES rounds (sample_id),
        stratum     TEXT NOT NULL,
        n_frame     INTEGER NOT NULL,     -- responses of the stratum no sample had drawn
        n_expected  REAL NOT NULL,        -- labels the round expects there (sum of probs)
        PRIMARY KEY (sample_id, stratum)
    );
    """,
    # ---- version 4 -------------------------------------------------------------
    # The batch route of the LLM judge (calibrate/batch/): every batch submitted to an
    # endpoint's /v1/batches, so a rerun after a kill polls it instead of paying twice.
    # A row is written once the input file is uploaded (status 'submitting'), before the
    # batch is created: a kill between the two leaves a row a rerun can match to the batch
    # the server made from that file.
    """
    CREATE TABLE judge_batches (
        base_url       TEXT NOT NULL,     -- the endpoint (ids mean nothing at another)
        input_file_id  TEXT NOT NULL,
        batch_id       TEXT,              -- NULL until the server has accepted the batch
        run_id         TEXT NOT NULL,
        config_key     TEXT NOT NULL,
        n_requests     INTEGER NOT NULL,
        status         TEXT NOT NULL
                       CHECK (status IN ('submitting', 'submitted', 'imported', 'failed')),
        server_status  TEXT,              -- the last status the server reported
        created_at     TEXT NOT NULL,
        finished_at    TEXT,
        PRIMARY KEY (base_url, input_file_id)
    );
    CREATE INDEX judge_batches_config ON judge_batches (config_key, status);
    """,
    # ---- version 5 -------------------------------------------------------------
    # Probes (calibrate/probes.py, issue 16): a probe is a run of the same judge on
    # transformed copies of the gold-labelled responses. Its verdicts live in ``verdicts``
    # under their own run id; ``probe_of`` names the run it probes (NULL for an ordinary
    # run) so listings and sampling leave probe runs out. ``probe_results`` keeps each
    # probe's figures (JSON) for the judge card and the dashboard.
    """
    ALTER TABLE judge_runs ADD COLUMN probe_of TEXT;
    ALTER TABLE judge_runs ADD COLUMN probe TEXT;
    CREATE TABLE probe_results (
        run_id       TEXT NOT NULL,       -- the probed run (judge_runs.run_id)
        probe        TEXT NOT NULL,       -- the transformation's name
        probe_run_id TEXT NOT NULL,       -- the run holding the transformed verdicts
        result       TEXT NOT NULL,       -- JSON: n, flip_rate, accuracy_change, slices
        computed_at  TEXT NOT NULL,
        PRIMARY KEY (run_id, probe)
    );
    """,
    # ---- version 6 -------------------------------------------------------------
    # Blind labeling (issue 14) gives each annotator and reviewer a Label
    # Studio organization of their own (annotate/labelstudio/organizations.py); NULL on
    # a server the workspace did not start, where everyone shares the lead's
    """
    ALTER TABLE ls_annotators ADD COLUMN organization_id INTEGER;
    -- incremental pull (issue 14): per project, the newest task change (server time)
    -- the last pull stored; the next pull asks only for tasks changed after it
    CREATE TABLE ls_pull_cursors (
        server_url  TEXT NOT NULL,
        project_id  INTEGER NOT NULL,
        cursor      TEXT NOT NULL,
        pulled_at   TEXT NOT NULL,
        PRIMARY KEY (server_url, project_id)
    );
    CREATE INDEX annotations_task ON annotations (project_id, task_id);
    """,
    # ---- version 7 -------------------------------------------------------------
    # PostgreSQL only (:data:`_POSTGRES_ONLY`): the references of ``verdicts`` checked
    # once per statement instead of once per row. SQLite keeps its foreign keys.
    "",
)

SCHEMA_VERSION = len(MIGRATIONS)

#: statements whose PostgreSQL spelling differs beyond types, by (version, SQLite text
#: start): version 2's de-duplication keeps the newest row by ``rowid``, which
#: PostgreSQL lacks; there ``ctid`` (the row's physical place) orders the copies.
_POSTGRES_STATEMENTS = {
    (2, "INSERT INTO annotations_v2"): """INSERT INTO annotations_v2
        SELECT DISTINCT ON (item_id, coalesce(response_id, ''), annotator, field)
               response_id, item_id, annotator, field, label, lead_time, created_at,
               updated_at, project_id, task_id, annotation_id
        FROM annotations
        ORDER BY item_id, coalesce(response_id, ''), annotator, field, ctid DESC""",
}


#: statements a migration runs on PostgreSQL only, after its own, by version.
#:
#: Version 7: ``verdicts`` loses its two foreign keys there; triggers check the same
#: references. A foreign key in PostgreSQL is a trigger per inserted row (a lookup and a
#: ``FOR KEY SHARE`` lock on the referenced row): a cached rerun writing 100,000 verdicts
#: in one statement spent about 0.9 s of its 1.7 s in them (EXPLAIN ANALYZE,
#: tests/benchmarks/bench_postgres.py), while SQLite checks its foreign keys in process for
#: almost nothing. Here one trigger per statement reads the inserted rows (a transition
#: table) and probes the two primary keys: 0.17-0.31 s for the same statement (small
#: writes no slower: ``bench_postgres.py --references``, and ``runs.insert_verdicts``
#: writes a batch as one statement). ``OFFSET 0`` keeps each lookup a primary-key probe per row
#: whatever plan the session cached first (a hash join would read all of ``responses``
#: for every small insert). Row triggers on ``responses`` and ``judge_runs`` refuse to
#: delete, or change the key of, a row that verdicts refer to, as the foreign keys did.
#: What these do not do is lock the referenced rows: a transaction deleting a response
#: while another inserts its verdict could both commit. safecal never deletes responses or
#: runs, and its writers queue on one lock (:mod:`safecal.annotate.store.backend`).
_POSTGRES_ONLY: dict[int, tuple[str, ...]] = {
    7: (
        "ALTER TABLE verdicts DROP CONSTRAINT IF EXISTS verdicts_run_id_fkey, "
        "DROP CONSTRAINT IF EXISTS verdicts_response_id_fkey",
        """CREATE OR REPLACE FUNCTION safecal_verdicts_refs() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM (SELECT DISTINCT run_id FROM new_rows) n WHERE NOT EXISTS
                       (SELECT 1 FROM judge_runs r WHERE r.run_id = n.run_id OFFSET 0)) THEN
                RAISE foreign_key_violation
                    USING MESSAGE = 'verdicts: a run_id not in judge_runs';
            END IF;
            IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS
                       (SELECT 1 FROM responses r WHERE r.response_id = n.response_id OFFSET 0))
            THEN
                RAISE foreign_key_violation
                    USING MESSAGE = 'verdicts: a response_id not in responses';
            END IF;
            RETURN NULL;
        END
        $$""",
        "CREATE TRIGGER verdicts_refs AFTER INSERT ON verdicts REFERENCING NEW TABLE AS "
        "new_rows FOR EACH STATEMENT EXECUTE FUNCTION safecal_verdicts_refs()",
        """CREATE OR REPLACE FUNCTION safecal_verdict_key_refs() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM judge_runs WHERE run_id = NEW.run_id) THEN
                RAISE foreign_key_violation
                    USING MESSAGE = 'verdicts: run_id ' || NEW.run_id || ' not in judge_runs';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM responses WHERE response_id = NEW.response_id) THEN
                RAISE foreign_key_violation USING MESSAGE =
                    'verdicts: response_id ' || NEW.response_id || ' not in responses';
            END IF;
            RETURN NULL;
        END
        $$""",
        "CREATE TRIGGER verdicts_key_update AFTER UPDATE OF run_id, response_id ON verdicts "
        "FOR EACH ROW EXECUTE FUNCTION safecal_verdict_key_refs()",
        """CREATE OR REPLACE FUNCTION safecal_response_in_verdicts() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM verdicts WHERE response_id = OLD.response_id) THEN
                RAISE foreign_key_violation USING MESSAGE =
                    'responses: verdicts refer to response ' || OLD.response_id;
            END IF;
            RETURN NULL;
        END
        $$""",
        "CREATE TRIGGER responses_in_verdicts AFTER DELETE ON responses "
        "FOR EACH ROW EXECUTE FUNCTION safecal_response_in_verdicts()",
        "CREATE TRIGGER responses_key_in_verdicts AFTER UPDATE OF response_id ON responses "
        "FOR EACH ROW WHEN (OLD.response_id <> NEW.response_id) "
        "EXECUTE FUNCTION safecal_response_in_verdicts()",
        """CREATE OR REPLACE FUNCTION safecal_run_in_verdicts() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM verdicts WHERE run_id = OLD.run_id) THEN
                RAISE foreign_key_violation
                    USING MESSAGE = 'judge_runs: verdicts refer to run ' || OLD.run_id;
            END IF;
            RETURN NULL;
        END
        $$""",
        "CREATE TRIGGER judge_runs_in_verdicts AFTER DELETE ON judge_runs "
        "FOR EACH ROW EXECUTE FUNCTION safecal_run_in_verdicts()",
        "CREATE TRIGGER judge_runs_key_in_verdicts AFTER UPDATE OF run_id ON judge_runs "
        "FOR EACH ROW WHEN (OLD.run_id <> NEW.run_id) "
        "EXECUTE FUNCTION safecal_run_in_verdicts()",
    ),
}


def migration_statements(version: int, dialect: str) -> list[str]:
    """The statements of migration ``version`` (1-based) for ``dialect`` ("sqlite" or
    "postgresql"): on PostgreSQL, ``REAL`` columns are 8-byte ``DOUBLE PRECISION`` as in
    SQLite, the statements of :data:`_POSTGRES_STATEMENTS` are replaced and those of
    :data:`_POSTGRES_ONLY` follow."""
    statements = split_sql(MIGRATIONS[version - 1])
    if dialect == "sqlite":
        return statements
    out = []
    for statement in statements:
        for (v, start), replacement in _POSTGRES_STATEMENTS.items():
            if v == version and statement.startswith(start):
                statement = replacement
        out.append(re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement))
    return out + list(_POSTGRES_ONLY.get(version, ()))


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit)."""
    statements, buffer = [], []
    for line in script.splitlines():
        code = line.split("--", 1)[0]
        buffer.append(code)
        if code.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            if sqlite3.complete_statement(statement):
                statements.append(statement)
                buffer = []
    rest = "\n".join(buffer).strip()
    if rest:
        statements.append(rest)
    return statements
