"""Sentence vectors computed when a file is indexed: answering looks them up instead of running
the model on a question's candidate sentences."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from citebot.chunking import sentence_spans
from citebot.database import open_database
from citebot.models import one_line
from citebot.sources import SourceText, title_of
from citebot.tables import row_reading
from citebot.words import DOTTED_NUMBER, tokenize

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # One row a distinct sentence text: copies and versions of a file share their sentences' rows.
    "CREATE TABLE IF NOT EXISTS vectors (sha BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID",
    # Which file versions (content hashes) hold which sentences: what lets a removed file's go.
    "CREATE TABLE IF NOT EXISTS uses (file_sha TEXT NOT NULL, sha BLOB NOT NULL, PRIMARY KEY (file_sha, sha)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS uses_by_sha ON uses (sha)",
    # File versions done, also those without a sentence.
    "CREATE TABLE IF NOT EXISTS files (file_sha TEXT PRIMARY KEY) WITHOUT ROWID",
)
_LOOKUP_PAGE = 500  # SQLite host parameters per query
# Bumped whenever chunking.sentence_spans cuts differently or a sentence is read otherwise (8: table
# rows with their header; 9: field stanzas with their title; 10: numbered headings stand alone;
# 11: no contents or index entries): sentences stored under the old cuts would no longer be found,
# so they are computed again.
SPLITTING = 11


# "License: MIT", "Maintainer: Ada Quill": a field and its value answer in two words; so does a
# title with its version ("FreeType 2.12.1").
_FIELD = re.compile(r"\s*[A-Z][\w-]{1,30}:\s+\S")


# The dot leaders of a table of contents or an index ("Supported ASN.1 types, list of . . . . . 15").
_LEADERS = re.compile(r"(?:\.[ \t]?){6,}")


# "►Related: Tesla Model 3 to debut…", "More:Where to find fireworks shows": a web page's link to
# another article, whose headline states nothing of this one.
_CROSS_LINK = re.compile(r"^\W{0,3}(?:related(?: articles?| stories| coverage| content)?|more|read more|see also|also read|watch)\s?:", re.I)


def is_candidate(sentence: str) -> bool:
    """A piece of text worth quoting as an answer: three words or more, or a field or a name with
    its value; no entry of a table of contents or an index, no link to another article."""
    if _LEADERS.search(sentence) or _CROSS_LINK.match(sentence):
        return False
    words = len(tokenize(sentence))
    return words >= 3 or (words == 2 and bool(_FIELD.match(sentence) or DOTTED_NUMBER.search(sentence)))


FIELD_LINE = re.compile(r"^[ \t]*([A-Z][\w-]{1,30}):[ \t]+(\S.*)$", re.M)  # "License: GPL-3+"


def reading_of(source: SourceText, key: str, start: int, end: int) -> str:
    """The sentence source.text[start:end] as the scorer reads it: a table row with its cells
    named (tables.py); a stanza of fields, one a line ("Files: *\nCopyright: 2022 Ada Quill\n
    License: Apache"), after the document's title, since the fields never say what they are
    about; any other as it is."""
    piece = row_reading(source.text, start, end)
    if len(FIELD_LINE.findall(piece)) < 2:
        return piece
    title = title_of(source, key)
    return f"{title}: {piece}" if title else piece


def file_sentences(source: SourceText, key: str) -> list[str]:
    """Every candidate sentence of the file `key` as the scorer reads it (reading_of), cut as
    split_sentences cuts them around a passage, page by page, on one line."""
    starts = source.page_starts or [0]
    spans = ((a, b) for page_start, page_end in zip(starts, [*starts[1:], len(source.text)], strict=True)
             for a, b in sentence_spans(source.text, max(source.body_start, page_start), page_end))
    return list(dict.fromkeys(one_line(reading_of(source, key, a, b)) for a, b in spans if is_candidate(source.text[a:b])))


def _sha(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class SentenceVectors:
    """The embedding of every candidate sentence of the indexed files, by the hash of its text, in
    a SQLite file of the data folder that every worker process reads.

    Embedding a question's dozen candidate sentences was 70% of an answer's CPU (bench/load.py on
    the 20k-chunk news index: ~165 ms of CPU an answer); looked up, an answer costs about a third
    of that. Stored as float16: cosines to the float32 vectors agree to ~1e-4, half the disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, answers on several threads
        self._warned = False

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = open_database(self.path, *_SCHEMA)
        return self._db

    def reset(self, embedder_id: str, clear: bool = False) -> None:
        """Start empty when told to (`clear`), when the vectors on disk come from another
        embedder (or none are there), or when the file is damaged: it holds nothing that indexing
        cannot compute again. After a change of sentence splitting, every file's sentences are
        listed again but the vectors are kept: a vector belongs to a sentence's text, so only
        the sentences cut differently are embedded (`drop_orphans` then drops those no file holds)."""
        with self._lock:
            try:
                row = self.db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            except sqlite3.DatabaseError as exc:
                log.warning("sentence vectors in %s unreadable (%s); computing them again", self.path, exc)
                if self._db is not None:
                    self._db.close()
                self._db = None
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                row = None
            made_by = f"{embedder_id} splitting {SPLITTING}"
            if row and row[0] == made_by and not clear:
                return
            resplit = bool(row) and not clear and row[0].rpartition(" splitting ")[0] == embedder_id
            with self._transaction():
                for table in ("uses", "files") if resplit else ("vectors", "uses", "files"):
                    self.db.execute(f"DELETE FROM {table}")
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (made_by,))
                if resplit:  # kept in the file, so that a run killed before drop_orphans still drops them
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES ('orphans', 'maybe')")

    def files(self) -> set[str]:
        """Content hashes of the file versions whose sentences are stored."""
        with self._lock:
            return {row[0] for row in self.db.execute("SELECT file_sha FROM files")}

    def add(self, files: list[tuple[str, list[str]]], embed: Callable[[list[str]], np.ndarray]) -> int:
        """Store the sentences of each (file content hash, sentences), embedding only texts no
        stored file holds; the number embedded."""
        shas = {text: _sha(text) for _, sentences in files for text in sentences}
        with self._lock:
            known = {sha for (sha,) in self._select("sha", list(shas.values()))}
        fresh = [text for text, sha in shas.items() if sha not in known]
        vectors = embed(fresh) if fresh else np.zeros((0, 0), dtype=np.float32)
        with self._lock, self._transaction():
            self.db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)",
                                ((shas[t], v.astype(np.float16).tobytes()) for t, v in zip(fresh, vectors, strict=True)))
            for file_sha, sentences in files:
                self.db.executemany("INSERT OR IGNORE INTO uses VALUES (?, ?)", ((file_sha, shas[t]) for t in sentences))
                self.db.execute("INSERT OR IGNORE INTO files VALUES (?)", (file_sha,))
        return len(fresh)

    def lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of `texts` (on one line) that some indexed file holds. An
        unreadable store finds none: answering then embeds the sentences itself."""
        shas = {_sha(text): text for text in texts}
        try:
            with self._lock:
                found = dict(self._select("sha, vector", list(shas)))
        except sqlite3.Error as exc:
            # Said once: a read-only or damaged store would otherwise log on every answer.
            (log.debug if self._warned else log.warning)("sentence vectors in %s unreadable (%s); embedding instead",
                                                         self.path, exc)
            self._warned = True
            return {}
        return {shas[sha]: np.frombuffer(blob, dtype=np.float16).astype(np.float32) for sha, blob in found.items()}

    def prune(self, live: set[str]) -> None:
        """Forget the sentences of file versions no longer indexed (`live`: content hashes)."""
        with self._lock:
            dead = [(sha,) for (sha,) in self.db.execute("SELECT file_sha FROM files") if sha not in live]
            if not dead:
                return
            with self._transaction():
                self.db.executemany("DELETE FROM files WHERE file_sha = ?", dead)
                self.db.executemany("DELETE FROM uses WHERE file_sha = ?", dead)
                self.db.execute("DELETE FROM vectors WHERE NOT EXISTS (SELECT 1 FROM uses WHERE uses.sha = vectors.sha)")

    def drop_orphans(self) -> None:
        """After every file's sentences were listed again (`reset` on a change of splitting), drop
        the vectors of the sentences that no file holds any more."""
        with self._lock:
            if self.db.execute("SELECT 1 FROM meta WHERE key = 'orphans'").fetchone() is None:
                return
            with self._transaction():
                self.db.execute("DELETE FROM vectors WHERE NOT EXISTS (SELECT 1 FROM uses WHERE uses.sha = vectors.sha)")
                self.db.execute("DELETE FROM meta WHERE key = 'orphans'")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _select(self, columns: str, shas: list[bytes]) -> list:
        """Rows of `columns` of the stored vectors with these hashes."""
        rows: list = []
        for start in range(0, len(shas), _LOOKUP_PAGE):
            page = shas[start : start + _LOOKUP_PAGE]
            query = f"SELECT {columns} FROM vectors WHERE sha IN ({','.join('?' * len(page))})"
            rows.extend(self.db.execute(query, page).fetchall())
        return rows
