"""The state store: one SQLite database (WAL) per project; the only module using sqlite3."""

from runner.store.db import Store, open_store

__all__ = ["Store", "open_store"]
