"""What the documents lack: every answered or refused question, with the feedback users gave.

Adapters record each answer (`QuestionLog.record`) and the 👍/👎 a user gives it; `gaps` groups
the refused and the unhelpful questions by meaning, most frequent first, so an admin knows which
documents to add; `stats` sums up questions, refusals, feedback and latency. Kept in a SQLite file
in the data folder: it survives restarts and several bot processes share it.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from citebot.database import open_database
from citebot.models import Answer

if TYPE_CHECKING:
    import numpy as np

# Two unanswered questions belong to one gap when their embeddings are at least this similar
# (MiniLM cosine: rephrasings of one question score 0.75-0.95; neighbouring topics 0.4-0.6).
SAME_GAP = 0.7


@dataclass
class Gap:
    """Questions the documents did not answer (refused, or marked unhelpful), alike in meaning."""

    question: str  # the most recent wording
    count: int
    refused: int
    unhelpful: int
    last_asked: float  # Unix time
    examples: list[str] = field(default_factory=list)  # other wordings
    sources_seen: list[str] = field(default_factory=list)  # files the answers cited


@dataclass
class Stats:
    since: float
    questions: int
    refused: int
    helpful: int
    unhelpful: int
    p50_ms: float | None
    p95_ms: float | None

    def to_dict(self) -> dict:
        return asdict(self)


class QuestionLog:
    """A table of asked questions: time, channel and chat, answered or not, cited files, feedback."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, "CREATE TABLE IF NOT EXISTS questions (id INTEGER PRIMARY KEY, "
                                       "at REAL NOT NULL, chat TEXT NOT NULL, question TEXT NOT NULL, "
                                       "answerable INTEGER NOT NULL, sources TEXT NOT NULL, ms REAL NOT NULL, "
                                       "feedback INTEGER)")

    def record(self, answer: Answer, chat: str, seconds: float) -> int:
        """Log one answer; its id, for feedback on it."""
        sources = json.dumps(sorted({c.source for c in answer.citations}))
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO questions (at, chat, question, answerable, sources, ms) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), chat, answer.resolved_question or answer.question, int(answer.answerable), sources,
                 seconds * 1000))
            return int(cursor.lastrowid or 0)

    def feedback(self, answer_id: int, chat: str, helpful: bool) -> bool:
        """Mark an answer given in `chat` helpful or not; False when there is no such answer there."""
        with self._lock:
            cursor = self._db.execute("UPDATE questions SET feedback = ? WHERE id = ? AND chat = ?",
                                      (1 if helpful else -1, answer_id, chat))
            return cursor.rowcount == 1

    def gaps(self, embed: Callable[[list[str]], np.ndarray], limit: int = 10) -> list[Gap]:
        """Refused and unhelpful questions grouped by meaning, the most asked first."""
        with self._lock:
            rows = self._db.execute("SELECT question, answerable, feedback, at, sources FROM questions "
                                    "WHERE answerable = 0 OR feedback = -1 ORDER BY at DESC").fetchall()
        if not rows:
            return []
        vectors = embed([row[0] for row in rows])
        groups: list[tuple[np.ndarray, list[int]]] = []  # (first member's vector, members), newest first
        for i, vector in enumerate(vectors):
            home = next((members for centre, members in groups if float(centre @ vector) >= SAME_GAP), None)
            if home is None:
                groups.append((vector, [i]))
            else:
                home.append(i)
        gaps = []
        for _, members in groups:
            wordings = list(dict.fromkeys(rows[i][0] for i in members))
            seen = sorted({s for i in members for s in json.loads(rows[i][4])})
            gaps.append(Gap(question=wordings[0], count=len(members), refused=sum(rows[i][1] == 0 for i in members),
                            unhelpful=sum(rows[i][2] == -1 for i in members), last_asked=rows[members[0]][3],
                            examples=wordings[1:4], sources_seen=seen[:5]))
        return sorted(gaps, key=lambda g: (-g.count, -g.last_asked))[:limit]

    def stats(self, since: float = 0.0) -> Stats:
        with self._lock:
            rows = self._db.execute("SELECT answerable, feedback, ms FROM questions WHERE at >= ?", (since,)).fetchall()
        latencies = sorted(ms for _, _, ms in rows)
        return Stats(since=since, questions=len(rows), refused=sum(a == 0 for a, _, _ in rows),
                     helpful=sum(f == 1 for _, f, _ in rows), unhelpful=sum(f == -1 for _, f, _ in rows),
                     p50_ms=round(statistics.median(latencies), 1) if latencies else None,
                     p95_ms=round(latencies[round(0.95 * (len(latencies) - 1))], 1) if latencies else None)

    def close(self) -> None:
        with self._lock:
            self._db.close()
