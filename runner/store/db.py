"""Opening the database and migrating its schema; record helpers live beside this module."""

from __future__ import annotations

import errno
import fcntl
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.errors import StoreError
from runner.paths import runner_home
from runner.store.migrations import MIGRATIONS

DB_NAME = "state.db"
_open_hooks: list[Callable[[Store], None]] = []


class Store:
    """A connection to the project's state database.

    Every write is its own short transaction so that a crash never leaves a half
    recorded step; readers in other processes see committed rows at once (WAL).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._set_up()
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open the state store {path}: {_explain(e)}") from e

    def _set_up(self) -> None:
        """WAL mode and the current schema, once, whoever else opens the store at the same time."""
        wal = self._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        if wal and self._schema_version() == len(MIGRATIONS):
            return  # the usual case: nothing to do, no lock taken
        # Two runners opening a new (or older) store at once: switching to WAL fails with
        # "database is locked" (SQLite does not wait for it), and both would apply the same
        # migration ("table builds already exists"). Serialise them; read the state again.
        with self._lock, _locked(self.path.with_name(self.path.name + ".setup-lock")):
            self._db.execute("PRAGMA journal_mode=WAL")
            current = self._schema_version()
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                # executescript commits any open transaction first, so the whole
                # migration and its version bump are one script-level transaction.
                self._db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version={version}; COMMIT;")

    def _schema_version(self) -> int:
        current = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if current > len(MIGRATIONS):
            raise StoreError(f"{self.path} was written by a newer runner (schema {current}); upgrade runner")
        return current

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: one writer at a time, all or nothing."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    if self._db.in_transaction:  # SQLite rolls back by itself on a full disk
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                raise StoreError(f"state store {self.path}: {_explain(e)}") from e

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"state store {self.path}: {_explain(e)}") from e

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One statement in its own transaction; returns lastrowid."""
        with self.transaction() as db:
            return db.execute(sql, params).lastrowid or 0

    def event(self, kind: str, subject: str, **data: Any) -> None:
        """Append to the audit trail (every step, weight change, hook result …)."""
        self.execute(
            "INSERT INTO events(ts, kind, subject, data) VALUES (?,?,?,?)",
            (time.time(), kind, subject, json.dumps(data, sort_keys=True)),
        )

    def integrity_ok(self) -> bool:
        return bool(self.query("PRAGMA integrity_check")[0][0] == "ok")

    def close(self) -> None:
        with self._lock:
            self._db.close()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (released by the kernel if we die)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _explain(e: BaseException) -> str:
    """What went wrong and, for the one error a user can fix in place, how."""
    codes = (getattr(e, "sqlite_errorcode", None), getattr(e, "errno", None))
    if codes[0] == sqlite3.SQLITE_FULL or codes[1] == errno.ENOSPC:
        return f"the disk is full ({e}): free space there (or set RUNNER_HOME to another disk), then retry"
    return str(e)


def open_store(home: Path | None = None) -> Store:
    """The store of the current project (or of RUNNER_HOME)."""
    directory = home or runner_home()
    if directory.exists() and not directory.is_dir():
        raise StoreError(f"{directory} is not a directory")
    store = Store(directory / DB_NAME)
    for hook in tuple(_open_hooks):
        hook(store)
    return store


@contextmanager
def on_open(hook: Callable[[Store], None]) -> Iterator[None]:
    """Run `hook` on every store open_store() opens in this block (the CLI's crash recovery)."""
    _open_hooks.append(hook)
    try:
        yield
    finally:
        _open_hooks.remove(hook)
