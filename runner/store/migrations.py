"""Schema migrations, applied in order; PRAGMA user_version is the index of the last one.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: builds, their phases, logs, artifacts, reports; images; the event trail.
    """
    CREATE TABLE builds (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        number INTEGER NOT NULL,
        service TEXT,
        status TEXT NOT NULL,
        initiator TEXT NOT NULL,
        source_dir TEXT NOT NULL,
        source_version TEXT,
        resolved_source_version TEXT,
        build_image TEXT NOT NULL,
        buildspec TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        pid INTEGER,
        result TEXT,
        UNIQUE (project, number)
    );
    CREATE INDEX builds_started ON builds(started);
    CREATE INDEX builds_service ON builds(service, started);
    CREATE TABLE phases (
        build_id TEXT NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        context TEXT NOT NULL DEFAULT '[]',
        snapshot TEXT,
        PRIMARY KEY (build_id, idx)
    );
    CREATE TABLE log_lines (
        build_id TEXT NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (build_id, seq)
    );
    CREATE TABLE images (
        tag TEXT PRIMARY KEY,
        image_id TEXT NOT NULL,
        service TEXT NOT NULL,
        commit_sha TEXT,
        build_id TEXT,
        input_digest TEXT,
        inputs TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX images_service ON images(service, created);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_subject ON events(subject, id)
    """,
    # 2: deployments and their lifecycle events, environment slot state, locks, the
    # trigger queue, pipeline executions, stage executions and approvals.
    """
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        environment TEXT NOT NULL,
        service TEXT NOT NULL,
        image_tag TEXT NOT NULL,
        image_id TEXT NOT NULL,
        previous_tag TEXT,
        previous_image_id TEXT,
        strategy TEXT NOT NULL,
        status TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'STANDARD',
        rollback_of TEXT,
        from_slot TEXT,
        to_slot TEXT,
        commit_sha TEXT,
        execution_id TEXT,
        reason TEXT,
        detail TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        pid INTEGER
    );
    CREATE INDEX deployments_env ON deployments(environment, service, created);
    CREATE TABLE lifecycle_events (
        deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL,
        ended REAL,
        message TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (deployment_id, idx)
    );
    CREATE TABLE env_state (
        environment TEXT NOT NULL,
        service TEXT NOT NULL,
        live_slot TEXT,
        blue_tag TEXT,
        blue_image_id TEXT,
        green_tag TEXT,
        green_image_id TEXT,
        weights TEXT NOT NULL DEFAULT '{}',
        updated REAL NOT NULL,
        PRIMARY KEY (environment, service)
    );
    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        pid INTEGER,
        acquired REAL NOT NULL
    );
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        service TEXT,
        commit_sha TEXT,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        enqueued REAL NOT NULL,
        started REAL,
        ended REAL,
        result_id TEXT,
        reason TEXT
    );
    CREATE INDEX queue_status ON queue(status, kind, service, id);
    CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        commit_sha TEXT,
        status TEXT NOT NULL,
        mode TEXT NOT NULL,
        trigger TEXT NOT NULL,
        current_stage TEXT,
        created REAL NOT NULL,
        ended REAL,
        pid INTEGER,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX executions_created ON executions(created);
    CREATE TABLE stage_executions (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL,
        ended REAL,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (execution_id, stage)
    );
    CREATE TABLE approvals (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        token TEXT NOT NULL,
        status TEXT NOT NULL,
        requested REAL NOT NULL,
        expires REAL NOT NULL,
        decided REAL,
        summary TEXT,
        PRIMARY KEY (execution_id, stage)
    )
    """,
    # 3: deployments: the test listener's slot, the warm old slot's termination time, a stop
    # request (`runner rollback` during a deployment), and each environment's fixed subnet.
    """
    ALTER TABLE env_state ADD COLUMN test_slot TEXT;
    ALTER TABLE env_state ADD COLUMN warm_until REAL;
    ALTER TABLE env_state ADD COLUMN last_deployment TEXT;
    ALTER TABLE deployments ADD COLUMN stop_requested TEXT;
    CREATE TABLE env_networks (
        environment TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        subnet TEXT NOT NULL,
        addresses TEXT NOT NULL DEFAULT '{}'
    )
    """,
    # 4: triggers: the ref a queued commit was made on (the hook enqueues commits of any
    # branch; the worker skips those the pipeline does not watch), and duplicate look-ups.
    """
    ALTER TABLE queue ADD COLUMN ref TEXT;
    CREATE INDEX queue_commit ON queue(kind, commit_sha, enqueued)
    """,
    # 5: batch builds (start-build-batch): a batch, numbered per project as CodeBuild's
    # buildBatchNumber, and its tasks; a task's build_id stays NULL until it starts (or
    # forever, when it never runs).
    """
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        buildspec TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        pid INTEGER,
        detail TEXT NOT NULL DEFAULT '{}',
        UNIQUE (project, number)
    );
    CREATE TABLE batch_builds (
        batch_id TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        identifier TEXT NOT NULL,
        build_id TEXT,
        status TEXT NOT NULL,
        depends_on TEXT NOT NULL DEFAULT '[]',
        settings TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (batch_id, identifier)
    );
    CREATE INDEX batch_builds_build ON batch_builds(build_id)
    """,
    # 6: the registry digest (repo@sha256:…) a slot runs and a deployment named, beside tag and id.
    """
    ALTER TABLE env_state ADD COLUMN blue_repo_digest TEXT;
    ALTER TABLE env_state ADD COLUMN green_repo_digest TEXT;
    ALTER TABLE deployments ADD COLUMN image_repo_digest TEXT;
    ALTER TABLE deployments ADD COLUMN previous_repo_digest TEXT
    """,
    # 7: the request each build ran with (flags, overrides, limits; no secret value), so a
    # re-run from the dashboard is the same build.
    """
    ALTER TABLE builds ADD COLUMN request TEXT
    """,
    # 8: events (runner/events): the outbox of state-change events, written in the transaction
    # of the state they describe; each matching rule target's delivery, and every attempt.
    # Separate from the `events` audit trail, which keeps internal steps and stop requests.
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        ts REAL NOT NULL,
        detail_type TEXT NOT NULL,
        body TEXT NOT NULL,
        routed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_ts ON outbox(ts);
    CREATE INDEX outbox_unrouted ON outbox(seq) WHERE routed = 0;
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_seq INTEGER NOT NULL REFERENCES outbox(seq) ON DELETE CASCADE,
        rule TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        holder_pid INTEGER,
        held_until REAL,
        last_error TEXT,
        UNIQUE (event_seq, rule, target)
    );
    CREATE INDEX deliveries_due ON deliveries(status, next_attempt);
    CREATE TABLE delivery_attempts (
        delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        ok INTEGER,
        error TEXT,
        PRIMARY KEY (delivery_id, attempt)
    )
    """,
]
