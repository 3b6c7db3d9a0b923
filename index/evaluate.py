"""`citebot eval`: answer a question file and score the answers.

Rows: id, kind (fact|multi|followup|refuse), question, optional history,
optional date (the day the question was asked: it is answered as of that day),
and either `keys` (groups of alternatives; every group must appear in the
answer) or `answer` with optional `choices` (the answer must contain the
reference and none of the other choices). Matching ignores case, quotes and
punctuation.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from citebot.models import Answer, as_turn, parse_day, row_day


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("“", "").replace("”", "").replace('"', "")
    return " ".join(re.sub(r"[^\w%$'.,]+|(?<!\d)[.,]|[.,](?!\d)", " ", text).split())


def is_correct(answer: Answer, row: dict) -> bool:
    text = normalise(answer.text)
    if row.get("keys"):
        return all(any(normalise(key) in text for key in group) for group in row["keys"])
    reference = normalise(str(row.get("answer", "")))
    others = [normalise(c) for c in row.get("choices", []) if normalise(c) != reference]
    return bool(reference) and reference in text and not any(o and o in text for o in others)


@dataclass
class RowResult:
    id: str
    kind: str
    question: str
    answer: str
    answerable: bool
    correct: bool | None  # None for refuse rows
    cited_source_hit: bool | None  # None when the row names no sources
    quotes: int
    verbatim_quotes: int
    seconds: float


@dataclass
class EvalReport:
    rows: list[RowResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        answerable = [r for r in self.rows if r.kind != "refuse"]
        refuse = [r for r in self.rows if r.kind == "refuse"]
        sourced = [r for r in answerable if r.cited_source_hit is not None]
        quotes = sum(r.quotes for r in self.rows)
        latencies = sorted(r.seconds for r in self.rows)
        return {
            "rows": len(self.rows),
            "accuracy": _share(sum(bool(r.correct) for r in answerable), len(answerable)),
            "cited_source_hit": _share(sum(bool(r.cited_source_hit) for r in sourced), len(sourced)),
            "refusal_rate": _share(sum(not r.answerable for r in refuse), len(refuse)),
            "false_refusals": _share(sum(not r.answerable for r in answerable), len(answerable)),
            "quotes_verbatim": _share(sum(r.verbatim_quotes for r in self.rows), quotes),
            **{f"{kind}_accuracy": _share(sum(bool(r.correct) for r in answerable if r.kind == kind),
                                          sum(1 for r in answerable if r.kind == kind))
               for kind in sorted({r.kind for r in answerable} - {"fact"})},
            "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
            "p95_ms": 1000 * latencies[round(0.95 * (len(latencies) - 1))] if latencies else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "rows": [asdict(r) for r in self.rows]}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def read_rows(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row.get("question"), str):
                raise ValueError(f"{path}:{number}: a row needs a `question` string")
            try:
                row_day(row)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
            rows.append(row)
    return rows


def evaluate(rows: Iterable[dict], ask: Callable[..., Answer], verify: Callable[[Any], bool]) -> EvalReport:
    """`ask(question, history, as_of=day)` answers each row; `verify(citation)` checks a quote."""
    report = EvalReport()
    for i, row in enumerate(rows):
        started = time.perf_counter()
        history = [as_turn(h) for h in row.get("history") or []]
        answer = ask(row["question"], history, as_of=parse_day(row.get("date")))
        seconds = time.perf_counter() - started
        kind = row.get("kind") or ("refuse" if row.get("keys") == [] and not row.get("answer") else "fact")
        sources = set(row.get("sources") or [])
        report.rows.append(RowResult(
            id=str(row.get("id", i + 1)), kind=kind, question=row["question"], answer=answer.text,
            answerable=answer.answerable,
            correct=None if kind == "refuse" else answer.answerable and is_correct(answer, row),
            cited_source_hit=any(c.source in sources for c in answer.citations) if sources else None,
            quotes=len(answer.citations), verbatim_quotes=sum(verify(c) for c in answer.citations),
            seconds=seconds,
        ))
    return report
