"""SQLite files of the data folder that several threads and processes share (the question log,
the Telegram adapter's journal and chat state)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: Path, *schema: str) -> sqlite3.Connection:
    """A connection to `path` (created with `schema` statements if need be): usable from any thread
    (callers serialise with a lock), autocommit, write-ahead log (a committed row survives the
    process being killed, readers never block the writer), waiting up to 30 s for another writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    # No fsync per commit: a committed row still survives the process being killed (the case that
    # matters here); an fsync on every update blocked the bot's event loop until Bot API calls timed
    # out and were sent twice (bench/load.py: 5-17 duplicate replies of 400).
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        db.execute(statement)
    return db
