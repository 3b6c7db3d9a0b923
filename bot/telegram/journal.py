"""Updates kept on disk from the moment they are received until their handler has finished.

Telegram forgets an update once the next getUpdates call confirms it (or once the webhook answered
200), and python-telegram-bot does both as soon as it has queued the update: after a kill -9, 450
of 600 queued questions were never answered. With the journal a restarted bot replays what it had fetched but not
finished, and an update is never handled twice (a replayed one that Telegram also sends again
is skipped).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from telegram import Update

from citebot import StoreError, open_database
from citebot.bot.telegram.state import ChatState

log = logging.getLogger(__name__)

KEEP_FINISHED = 10_000  # finished ids remembered, to skip updates Telegram sends again


class UpdateJournal:
    """A small SQLite table of fetched updates: pending until `finish`."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        # WAL: a committed row survives the process being killed; no fsync per update needed.
        self._db = open_database(path, "CREATE TABLE IF NOT EXISTS updates (id INTEGER PRIMARY KEY, "
                                       "body TEXT NOT NULL, finished INTEGER NOT NULL DEFAULT 0)")
        self._started: set[int] = set()  # taken by a handler in this process

    def record(self, updates: Iterable[dict[str, Any]]) -> None:
        """Keep received updates (before Telegram is told they arrived)."""
        rows = [(u["update_id"], json.dumps(u)) for u in updates]
        if rows:
            with self._lock:
                self._db.executemany("INSERT OR IGNORE INTO updates (id, body) VALUES (?, ?)", rows)

    def start(self, update_id: int) -> bool:
        """True when this update is to be handled now: not finished, not already being handled."""
        with self._lock:
            if update_id in self._started:
                return False
            row = self._db.execute("SELECT finished FROM updates WHERE id = ?", (update_id,)).fetchone()
            if row is not None and row[0]:
                return False
            self._started.add(update_id)
            return True

    def in_progress(self, update_id: int) -> bool:
        """True while a handler in this process has the update."""
        with self._lock:
            return update_id in self._started

    def finish(self, update_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE updates SET finished = 1 WHERE id = ?", (update_id,))
            self._started.discard(update_id)

    def pending(self) -> list[dict[str, Any]]:
        """Updates fetched by an earlier run and never finished, oldest first; old finished ones are dropped."""
        with self._lock:
            self._db.execute("DELETE FROM updates WHERE finished = 1 AND id < "
                             "(SELECT MAX(id) FROM updates) - ?", (KEEP_FINISHED,))
            return [json.loads(body) for (body,) in
                    self._db.execute("SELECT body FROM updates WHERE finished = 0 ORDER BY id")]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class JournalingQueue(asyncio.Queue[object]):
    """The Application's update queue: an update is in the journal before it is queued, so before
    the next getUpdates confirms it to Telegram (polling) or the webhook answers 200 (webhook);
    and its chat state learns that it arrived (the order of a chat's updates across workers)."""

    def __init__(self, journal: UpdateJournal, state: ChatState) -> None:
        super().__init__()
        self._journal = journal
        self._state = state

    async def put(self, item: object) -> None:  # how python-telegram-bot's updater and webhook queue
        if isinstance(item, Update):
            self._journal.record([item.to_dict()])
            if item.effective_chat is not None:
                try:  # off the loop: Redis may be slow to answer, or down
                    await asyncio.to_thread(self._state.arrived, item.effective_chat.id, item.update_id)
                except StoreError:
                    log.warning("chat state unavailable: update %d is ordered in this worker only", item.update_id)
        await super().put(item)
