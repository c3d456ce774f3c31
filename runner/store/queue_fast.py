"""Enqueue a commit in a few milliseconds: the post-commit hook's only use of the store.

The hook runs this file's functions in `python -I -S` with nothing of the runner package
imported (importing runner.store alone costs ~40 ms), so this module uses the standard
library only and must stay importable on its own. When the database is busy, missing or
older than the queue's schema, the entry is written to a spool directory instead; the
worker moves spooled entries into the store (runner/store/queue.py: ingest_spool).
"""

from __future__ import annotations

import os
import sqlite3
import time

DB_NAME = "state.db"  # runner/store/db.py
SPOOL_DIR = "spool"
DUPLICATE_WINDOW_S = 60.0  # the hook and the watcher both see a commit: the first one queues it
BUSY_TIMEOUT_S = 0.05

# One statement, so the duplicate check and the insert are atomic across processes.
INSERT_COMMIT = (
    "INSERT INTO queue (kind, service, commit_sha, ref, source, status, enqueued) "
    "SELECT 'pipeline', NULL, :commit, :ref, :source, 'QUEUED', :enqueued "
    "WHERE NOT EXISTS (SELECT 1 FROM queue WHERE kind='pipeline' AND commit_sha=:commit "
    "AND ref IS :ref AND enqueued > :enqueued - :window)"
)


def commit_params(commit: str, ref: str | None, source: str, enqueued: float) -> dict[str, object]:
    return {
        "commit": commit,
        "ref": ref,
        "source": source,
        "enqueued": enqueued,
        "window": DUPLICATE_WINDOW_S,
    }


def enqueue_commit(home: str, commit: str, ref: str | None, source: str) -> str:
    """Queue a pipeline run of a commit: "queued", "duplicate" or "spooled" (raises OSError)."""
    now = time.time()
    path = os.path.join(home, DB_NAME)
    if os.path.exists(path):
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                db.execute("PRAGMA synchronous=NORMAL")  # as runner/store/db.py: no fsync per commit in WAL
                inserted = db.execute(INSERT_COMMIT, commit_params(commit, ref, source, now)).rowcount
            finally:
                db.close()
            return "queued" if inserted else "duplicate"
        except sqlite3.Error:
            pass  # busy, or a schema without the queue's columns yet: spool it
    spool(home, commit, ref, source, now)
    return "spooled"


def spool(home: str, commit: str, ref: str | None, source: str, enqueued: float) -> str:
    """Write one entry file atomically (temp file + rename); returns its path."""
    directory = os.path.join(home, SPOOL_DIR)
    os.makedirs(directory, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}"
    temp = os.path.join(directory, f".{name}.tmp")
    with open(temp, "w", encoding="utf-8") as entry:
        entry.write(f"pipeline\t{commit}\t{ref or ''}\t{source}\t{enqueued!r}\n")
    final = os.path.join(directory, f"{name}.entry")
    os.rename(temp, final)
    return final


def parse_spooled(text: str) -> tuple[str, str | None, str, float] | None:
    """(commit, ref, source, enqueued) of a spool entry; None if it is not one."""
    fields = text.rstrip("\n").split("\t")
    if len(fields) != 5 or fields[0] != "pipeline":
        return None
    try:
        return fields[1], fields[2] or None, fields[3], float(fields[4])
    except ValueError:
        return None
