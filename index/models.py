"""The types that cross the waist between the core and the adapters."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date


def parse_day(value: object) -> date | None:
    """A calendar day from '2022-06-16', '2022/06/16' or a longer ISO timestamp; None otherwise."""
    try:
        return date.fromisoformat(str(value or "")[:10].replace("/", "-"))
    except ValueError:
        return None


def row_day(row: dict) -> date | None:
    """The `date` of a question row (batch or eval file): None without one, ValueError when malformed."""
    if not row.get("date"):
        return None
    day = parse_day(row["date"])
    if day is None:
        raise ValueError(f"`date` {row['date']!r} is not YYYY-MM-DD")
    return day


def one_line(text: str) -> str:
    """`text` with every run of whitespace folded to one space (quotes span lines)."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation: the question and the answer given ("" when not known)."""

    question: str
    answer: str = ""


def as_turn(item: object) -> Turn:
    """A history item of a batch or eval row: a question, or {"question": …, "answer": …}."""
    if isinstance(item, dict) and isinstance(item.get("question"), str):
        return Turn(item["question"], str(item.get("answer") or ""))
    if isinstance(item, str):
        return Turn(item)
    raise TypeError("a `history` item is a question string or an object with a `question`")


@dataclass(frozen=True)
class Citation:
    source: str  # path relative to the sources folder it was indexed from
    start_line: int
    end_line: int
    quote: str  # verbatim text of the file within start_line..end_line
    page: int | None = None


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    # The query actually used for retrieval (differs from `question` for follow-ups).
    search_query: str = ""
    # The question with its pronoun resolved from the conversation ("" when it had none).
    resolved_question: str = ""

    def turn(self) -> Turn:
        """This exchange as a turn of the conversation, for the next question's history."""
        given = re.sub(r"\s*\[\d+\]", "", self.text) if self.answerable else ""
        return Turn(self.resolved_question or self.question, given)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "answerable": self.answerable,
            "citations": [asdict(c) for c in self.citations],
        }


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    reused_chunks: int = 0  # took the stored vector of an identical chunk (renamed or copied file)
    embedded_sentences: int = 0  # sentences no indexed file held before (their vectors speed up answers)
    total_files: int = 0
    total_chunks: int = 0
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        embedded = (f"{self.embedded_chunks} chunks and {self.embedded_sentences} sentences" if self.embedded_sentences
                    else str(self.embedded_chunks))
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
            f"index holds {self.total_files} files / {self.total_chunks} chunks "
            f"({embedded} embedded in {self.seconds:.1f}s)"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


@dataclass(frozen=True)
class AddedSource:
    """A document added by content: the name it was saved under, the (cleaned) name it was sent
    with, which another file may already have had, and the indexing report."""

    name: str
    requested: str
    report: IndexReport


@dataclass(frozen=True)
class SourceInfo:
    source: str
    chunks: int
    path: str
