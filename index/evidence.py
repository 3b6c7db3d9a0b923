"""What a question is about, and whether a document (or the whole corpus) mentions it.

A question's *specific terms* are the words that pick out its subject: names (capitalised
words after the first), words with digits (versions, numbers: "4.9", "590") and words the
embedder's general English vocabulary does not hold ("zstd", "tmux"). Common words are left
out: a document may say "crawlers" as "robots". An answer quoted from a document that names
none of them is about something else, and a term the corpus never mentions means the
documents do not cover the question: both are evidence for refusing, whatever the similarity.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from index.words import QUESTION_WORDS, STOPWORDS

_WORD = re.compile(r"\w[\w./+',-]*[\w+]|\w")
_HAS_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"v?\d+(?:\.\d+)*[a-z]?")  # a version or a plain number: "4.9", "590", "3.0.19"
_FIRST_WORD = re.compile(r"\W*(\w+)")
# Short suffixes tried before a word counts as outside the vocabulary ("crawlers" → "crawl").
_SUFFIXES = ("", "s", "es", "ers", "er", "ed", "ing", "ly")
_SKIP = STOPWORDS | QUESTION_WORDS | {"going", "give", "list", "unless", "according"}


class SubjectTerms:
    """Finds the specific terms of a question and where they are mentioned."""

    def __init__(self, is_common: Callable[[str], bool]) -> None:
        self._is_common = is_common
        self._documents: dict[tuple[str, int], str] = {}  # (source, text length) → lower-cased text

    def of(self, question: str) -> dict[str, float]:
        """The question's specific terms (lower-cased) and their weight: 1 for names and words with
        digits, 0.5 for a lower-case word outside the vocabulary (it may be a plain word the
        tokenizer splits, such as "misreporting")."""
        first = _FIRST_WORD.match(question)
        opener = first.group(1) if first else ""
        terms: dict[str, float] = {}
        for match in _WORD.finditer(question.replace("’", "'")):
            word = match.group().strip(".,").removesuffix("'s")
            lower = word.lower()
            if len(word) < 2 or lower in _SKIP or lower in terms:
                continue
            if (word[0].isupper() and word != opener) or _NUMBER.fullmatch(lower):
                terms[lower] = 1.0
            elif _HAS_DIGIT.search(word) or (word.islower() and not all(map(self._common, lower.split("-")))):
                terms[lower] = 0.5  # "20-for-1" may be written "20-for-one"; "first-ever" is two common words
        return terms

    def names(self, question: str) -> list[str]:
        """The terms that name something (capitalised or with digits), which a corpus about the
        question must mention somewhere."""
        return [t for t, weight in self.of(question).items() if weight == 1.0 and not _HAS_DIGIT.search(t)]

    def _common(self, word: str) -> bool:
        return len(word) < 3 or any(word.endswith(s) and self._is_common(word[: len(word) - len(s)] if s else word)
                                    for s in _SUFFIXES)

    def share_mentioned(self, terms: dict[str, float], source: str, text: str) -> float:
        """The weighted share of `terms` that the document `source` (its full text) mentions."""
        total = sum(terms.values())
        if not total:
            return 1.0
        key = (source, len(text))
        lowered = self._documents.get(key)
        if lowered is None:
            if len(self._documents) > 256:
                self._documents.clear()
            lowered = self._documents[key] = text.lower()
        return sum(w for t, w in terms.items() if _mentions(lowered, t)) / total


def _mentions(text: str, term: str) -> bool:
    start = text.find(term)
    while start >= 0:
        before = text[start - 1] if start else " "
        after = text[start + len(term)] if start + len(term) < len(text) else " "
        if not before.isalnum() and not (after.isalnum() and _HAS_DIGIT.search(term)):
            return True  # a word's start; "4.9" must not match "4.91", but "tmux" matches "tmux's"
        start = text.find(term, start + 1)
    return False
