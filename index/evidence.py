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
from collections.abc import Callable, Collection

from llama_index.core.schema import NodeWithScore

from citebot.words import QUESTION_WORDS, STOPWORDS, undotted

_WORD = re.compile(r"\w[\w./+',-]*[\w+]|\w")
_HAS_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"v?\d+(?:\.\d+)*[a-z]?")  # a version or a plain number: "4.9", "590", "3.0.19"
_VERSION = re.compile(r"v?\d+(?:\.\d+)+[a-z]?")
_FILE_NAME = re.compile(r"(?<![\w.])[A-Za-z0-9_-]{2,}\.[a-z]{1,4}\b(?!\.\w)")  # a lower-case extension: not "U.S."
_FIRST_WORD = re.compile(r"\W*(\w+)")
# Short suffixes tried before a word counts as outside the vocabulary ("crawlers" → "crawl").
_SUFFIXES = ("", "s", "es", "ers", "er", "ed", "ing", "ly")
# The names of kinds of files ("its README", "the FAQ") say where to look, not what about: a
# sentence naming "README" (an RCS id line) is not thereby about mawk's version.
_FILE_KINDS = {"readme", "news", "faq", "changelog", "copying", "authors", "todo"}
_SKIP = STOPWORDS | QUESTION_WORDS | _FILE_KINDS | {"going", "give", "list", "unless", "according"}


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
        for match in _WORD.finditer(undotted(question).replace("’", "'")):  # "U.S." as documents are read
            word = match.group().strip(".,").removesuffix("'s")
            lower = word.lower()
            if len(word) < 2 or lower in _SKIP or lower in terms:
                continue
            if (word[0].isupper() and word != opener) or _NUMBER.fullmatch(lower):
                terms[lower] = 1.0
            elif _HAS_DIGIT.search(word) or (word.islower() and not all(map(self._common, lower.split("-")))):
                terms[lower] = 0.5  # "20-for-1" may be written "20-for-one"; "first-ever" is two common words
        return terms

    def required(self, question: str) -> list[str]:
        """The dotted version numbers ("4.9", "3.0.19") and file names ("zpipe.c") the question
        gives: a document that never writes one of them cannot say anything about that release
        or file."""
        files = [m.group().lower() for m in _FILE_NAME.finditer(question)]
        return [t for t in self.of(question) if _VERSION.fullmatch(t)] + files

    def names(self, question: str) -> list[str]:
        """The terms that name something, capitalised or outside the vocabulary ("postgres"), not
        numbers: a corpus about the question must mention them somewhere."""
        return [t for t, weight in self.of(question).items() if not _HAS_DIGIT.search(t)]

    def _common(self, word: str) -> bool:
        return len(word) < 2 or any(word.endswith(s) and self._is_common(word[: len(word) - len(s)] if s else word)
                                    for s in _SUFFIXES)

    def share_mentioned(self, terms: dict[str, float], text: str, source: str | None = None) -> float:
        """The weighted share of `terms` that `text` mentions; a document's lower-cased text is
        kept by `source` (and length), since every sentence of it asks."""
        total = sum(terms.values())
        if not total:
            return 1.0
        lowered = self._documents.get((source, len(text))) if source else None
        if lowered is None:
            lowered = undotted(text).lower()
            if source:
                if len(self._documents) > 256:
                    self._documents.clear()
                self._documents[(source, len(text))] = lowered
        return sum(w for t, w in terms.items()
                   if _mentions(lowered, t) or self._mentions_apart(lowered, t)
                   or any(re.search(rf"(?<!\w){place}(?!\w)", lowered) for place in places_of(t))) / total

    def _mentions_apart(self, text: str, term: str) -> bool:
        """A compound of two plain words written apart, the first inflected: "crackdown" in
        "cracked down", "jaywalking" in "jay walking"."""
        if not term.isalpha():
            return False
        for i in range(3, len(term) - 2):
            head, tail = term[:i], term[i:]
            if self._common(head) and self._common(tail) and \
                    re.search(rf"\b{head}\w{{0,3}}[\s-]+{tail}\b", text):
                return True
        return False


def _mentions(text: str, term: str) -> bool:
    start = text.find(term)
    while start >= 0:
        before = text[start - 1] if start else " "
        if before == "v" and _HAS_DIGIT.match(term) and (start < 2 or not text[start - 2].isalnum()):
            before = " "  # "v2.39" mentions 2.39
        after = text[start + len(term)] if start + len(term) < len(text) else " "
        if not before.isalnum() and not (after.isalnum() and _HAS_DIGIT.search(term)):
            return True  # a word's start; "4.9" must not match "4.91", but "tmux" matches "tmux's"
        start = text.find(term, start + 1)
    return False


# A people's or language's adjective names its place: "Which European island…?" is answered by a
# document about Europe's or Italy's volcanoes that never writes "European" (realtimeqa2: that row
# had been refused). Regular forms drop their ending and take a place's ("Italian" → "Italy",
# "Chinese" → "China", "Russian" → "Russia"), from four letters left ("Indian" is not "Indy").
_DEMONYM_ENDINGS = ("ese", "ian", "an", "i")
_PLACE_ENDINGS = ("", "a", "e", "y", "o", "ia")
_IRREGULAR_PLACES = {
    "french": "france", "british": "britain", "dutch": "netherlands", "swiss": "switzerland", "greek": "greece",
    "spanish": "spain", "danish": "denmark", "swedish": "sweden", "finnish": "finland", "polish": "poland",
    "turkish": "turkey", "irish": "ireland", "scottish": "scotland", "english": "england", "welsh": "wales",
    "thai": "thailand", "filipino": "philippines", "german": "germany", "norwegian": "norway", "peruvian": "peru", "saudi": "saudi arabia",
}


def places_of(term: str) -> list[str]:
    """The place names a people's adjective (lower case) may stand for, as whole words: "italy"
    among the candidates for "italian"; [] for a word of no such shape."""
    if term in _IRREGULAR_PLACES:
        return [_IRREGULAR_PLACES[term]]
    ending = next((e for e in _DEMONYM_ENDINGS if term.endswith(e)), None)
    stem = term[: -len(ending)] if ending and term.isalpha() else ""
    return [stem + tail for tail in _PLACE_ENDINGS] if len(stem) >= 4 else []


_COMBINES = re.compile(r"\b(?:and|or|both|each|versus|vs)\b", re.I)
# A question's words, hyphenated ones whole: "man-db" names man-db-copyright, and "man" alone
# would leave "-db" in the other part's question.
_NAME_PARTS = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _name_parts(stem: str) -> set[str]:
    """The words of a file name and every run of them joined by hyphens ("man-db-copyright" →
    man, db, copyright, man-db, db-copyright, man-db-copyright)."""
    parts = re.findall(r"[a-z0-9]+", stem)
    return {"-".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}


def named_documents(question: str, hits: list[NodeWithScore], near: int) -> dict[str, set[str]]:
    """The documents the question names apart, by the word that names them, when it names two or more.

    "Which licences cover ninja and tmux?" over files named ninja-build-copyright.txt and
    tmux-copyright.txt: each file name holds one of the question's words and not the other's,
    and the two words are joined by "and", so the answer needs a passage of each. Only
    documents among the first `2 * near` hits count. A question that names at most one group
    of files, or whose naming words are not coordinated, gives {} and is answered as one."""
    if not _COMBINES.search(question):
        return {}
    words = set(_NAME_PARTS.findall(question.lower())) - STOPWORDS - QUESTION_WORDS
    named: dict[str, set[str]] = {}
    for hit in hits[: 2 * near]:
        source = hit.node.metadata.get("source", "")
        for word in words & _name_parts(source.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()):
            named.setdefault(word, set()).add(source)
    # The words that "and", "or"… join come first: in "Where should bugs be reported for GLib and for
    # procps?" GLib and procps name the parts, not the "bugs" of procps-bugs.md.
    lowered = question.lower()
    joined = _joined(lowered, named)
    chosen: dict[str, set[str]] = {}
    for word, sources in sorted(named.items(), key=lambda item: (item[0] not in joined, len(item[1]), item[0])):
        if all(sources.isdisjoint(c) for c in chosen.values()):
            chosen[word] = sources
    if len(chosen) < 2 or not _coordinated(lowered, list(chosen)):
        return {}
    return chosen


def names_document(question: str, key: str, title: str) -> bool:
    """True when a word of the question names the document `key` (a word of its path or title:
    "tar" of tar-news.docx or of tar/NEWS), or its path and title hold no word but the names of
    kinds of files ("NEWS")."""
    words = _name_parts(f"{key.rsplit('.', 1)[0]} {title}".lower()) - STOPWORDS - _FILE_KINDS
    return not words or bool(words & set(_NAME_PARTS.findall(question.lower())))


def _coordinated(question: str, words: list[str]) -> bool:
    """True when "and", "or", "versus"… stands between two of `words` at most six words apart
    ("ninja and of tmux", "gzip release or the newest GNU tar")."""
    return bool(_joined(question, words))


def _joined(question: str, words: Collection[str]) -> set[str]:
    """Those of `words` that "and", "or"… joins to the next or the one before, with none of the
    others between them."""
    tokens = _NAME_PARTS.findall(question)
    places = sorted((i, w) for i, w in enumerate(tokens) if w in words)
    return {word for (i, a), (j, b) in zip(places, places[1:], strict=False)
            if a != b and j - i <= 7 and any(_COMBINES.fullmatch(t) for t in tokens[i + 1 : j]) for word in (a, b)}


def without_words(text: str, words: set[str]) -> str:
    """`text` with the whole words `words` (any case) left out."""
    if not words:
        return text
    pattern = "|".join(re.escape(w) for w in sorted(words))
    return " ".join(re.sub(rf"\b(?:{pattern})\b", " ", text, flags=re.I).split())
