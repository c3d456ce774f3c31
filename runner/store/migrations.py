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
]
