"""Per-chat state outside the process: the conversation's last turns, the quotes behind the
"Sources" buttons, and the chat's updates received but not yet handled (so that workers behind one
webhook answer a chat's messages in order). A restarted bot, or another worker, carries on the
conversation: a SQLite file in the data folder by default, Redis when `redis_url` is set."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, TypeVar

from citebot import Citation, StoreError, Turn, open_database

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_SAVED_QUOTES = 50  # per chat, for the "Sources" buttons
QUOTES_TTL = 7 * 24 * 3600  # seconds a Redis chat's saved quotes live
WAITING_TTL = 3600  # seconds an update counts as waiting (one whose worker died and never came back)


class ChatState(Protocol):
    """Where chats' turns and saved quotes live."""

    def turns(self, chat: int) -> list[Turn]: ...

    def add_turn(self, chat: int, turn: Turn, keep: int) -> None: ...

    def save_quotes(self, chat: int, citations: list[Citation]) -> str: ...

    def quotes(self, chat: int, key: str) -> list[Citation] | None: ...

    def forget(self, chat: int) -> None: ...

    def arrived(self, chat: int, update_id: int) -> None:
        """An update of `chat` was received by some worker."""

    def first_waiting(self, chat: int) -> int | None:
        """The oldest update of `chat` received and not yet handled, by any worker."""

    def handled(self, chat: int, update_id: int) -> None: ...

    def close(self) -> None: ...


def _turns_json(turns: list[Turn]) -> str:
    return json.dumps([[t.question, t.answer] for t in turns])


def _turns_of(text: str | bytes | None) -> list[Turn]:
    return [Turn(q, a) for q, a in json.loads(text)] if text else []


def _quotes_json(citations: list[Citation]) -> str:
    return json.dumps([asdict(c) for c in citations])


def _quotes_of(text: str | bytes | None) -> list[Citation] | None:
    return [Citation(**c) for c in json.loads(text)] if text else None


class SqliteChatState:
    """Chat state in one SQLite file (WAL): shared by the bot processes of one machine."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(
            path, "CREATE TABLE IF NOT EXISTS turns (chat INTEGER PRIMARY KEY, turns TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS quotes (chat INTEGER NOT NULL, key TEXT NOT NULL, "
            "citations TEXT NOT NULL, n INTEGER PRIMARY KEY AUTOINCREMENT)",
            "CREATE INDEX IF NOT EXISTS quotes_by_chat ON quotes (chat, key)",
            "CREATE TABLE IF NOT EXISTS waiting (chat INTEGER NOT NULL, update_id INTEGER NOT NULL, "
            "at REAL NOT NULL, PRIMARY KEY (chat, update_id))")

    def _one(self, sql: str, *args: Any) -> Any:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return row[0] if row else None

    def turns(self, chat: int) -> list[Turn]:
        return _turns_of(self._one("SELECT turns FROM turns WHERE chat = ?", chat))

    def add_turn(self, chat: int, turn: Turn, keep: int) -> None:
        with self._lock:  # read and write in one transaction: two workers never lose a turn
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT turns FROM turns WHERE chat = ?", (chat,)).fetchone()
            turns = (_turns_of(row[0]) if row else []) + [turn]
            self._db.execute("INSERT OR REPLACE INTO turns (chat, turns) VALUES (?, ?)",
                             (chat, _turns_json(turns[-keep:] if keep else [])))
            self._db.execute("COMMIT")

    def save_quotes(self, chat: int, citations: list[Citation]) -> str:
        key = secrets.token_urlsafe(8)
        with self._lock:
            self._db.execute("INSERT INTO quotes (chat, key, citations) VALUES (?, ?, ?)",
                             (chat, key, _quotes_json(citations)))
            self._db.execute("DELETE FROM quotes WHERE chat = ? AND n NOT IN "
                             "(SELECT n FROM quotes WHERE chat = ? ORDER BY n DESC LIMIT ?)",
                             (chat, chat, MAX_SAVED_QUOTES))
        return key

    def quotes(self, chat: int, key: str) -> list[Citation] | None:
        return _quotes_of(self._one("SELECT citations FROM quotes WHERE chat = ? AND key = ?", chat, key))

    def forget(self, chat: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE chat = ?", (chat,))
            self._db.execute("DELETE FROM quotes WHERE chat = ?", (chat,))

    def arrived(self, chat: int, update_id: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO waiting (chat, update_id, at) VALUES (?, ?, ?)",
                             (chat, update_id, time.time()))

    def first_waiting(self, chat: int) -> int | None:
        return self._one("SELECT MIN(update_id) FROM waiting WHERE chat = ? AND at > ?", chat, time.time() - WAITING_TTL)

    def handled(self, chat: int, update_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM waiting WHERE chat = ? AND (update_id = ? OR at < ?)",
                             (chat, update_id, time.time() - WAITING_TTL))

    def close(self) -> None:
        with self._lock:
            self._db.close()


async def best_effort(fn: Callable[..., T], *args: Any) -> T | None:
    """A chat-state call off the event loop; None (logged) when the store is down."""
    try:
        return await asyncio.to_thread(fn, *args)
    except StoreError:
        log.warning("chat state unavailable", exc_info=True)
        return None


def _unavailable(method: Callable[..., T]) -> Callable[..., T]:
    """Redis failures as StoreError: the adapter replies "temporarily unavailable" to those."""
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        import redis

        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"the chat state in Redis is unavailable ({type(exc).__name__})") from exc

    return wrapper


class RedisChatState:
    """Chat state in Redis: shared by bot workers on several machines."""

    def __init__(self, url: str) -> None:
        import redis

        # Any: redis-py types each call as "result or awaitable" (one stub for sync and async).
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=5)

    @_unavailable
    def turns(self, chat: int) -> list[Turn]:
        return [Turn(*json.loads(item)) for item in self._redis.lrange(f"citebot:turns:{chat}", 0, -1)]

    @_unavailable
    def add_turn(self, chat: int, turn: Turn, keep: int) -> None:
        key = f"citebot:turns:{chat}"
        with self._redis.pipeline() as pipe:  # MULTI/EXEC: append and trim at once
            pipe.rpush(key, json.dumps([turn.question, turn.answer]))
            pipe.ltrim(key, -keep, -1) if keep else pipe.delete(key)
            pipe.execute()

    @_unavailable
    def save_quotes(self, chat: int, citations: list[Citation]) -> str:
        key = secrets.token_urlsafe(8)
        with self._redis.pipeline() as pipe:
            pipe.set(f"citebot:quotes:{chat}:{key}", _quotes_json(citations), ex=QUOTES_TTL)
            pipe.execute()
        return key

    @_unavailable
    def quotes(self, chat: int, key: str) -> list[Citation] | None:
        return _quotes_of(self._redis.get(f"citebot:quotes:{chat}:{key}"))

    @_unavailable
    def forget(self, chat: int) -> None:
        self._redis.delete(f"citebot:turns:{chat}", *self._redis.scan_iter(match=f"citebot:quotes:{chat}:*"))

    @_unavailable
    def arrived(self, chat: int, update_id: int) -> None:
        key = f"citebot:waiting:{chat}"
        with self._redis.pipeline() as pipe:
            pipe.zadd(key, {str(update_id): update_id})
            pipe.expire(key, WAITING_TTL)
            pipe.execute()

    @_unavailable
    def first_waiting(self, chat: int) -> int | None:
        first = self._redis.zrange(f"citebot:waiting:{chat}", 0, 0)
        return int(first[0]) if first else None

    @_unavailable
    def handled(self, chat: int, update_id: int) -> None:
        self._redis.zrem(f"citebot:waiting:{chat}", str(update_id))

    def close(self) -> None:
        self._redis.close()
