"""Words of questions and sentences: tokens, content terms, names."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours yourself according article articles document documents
    text say said tell mention mentioned name some many much""".split()
)
QUESTION_WORDS = frozenset("what which who whom whose when where why how is are was were do does did can could".split())
_WORD = re.compile(r"[\w’']+(?:[.,]\d+)*%?", re.UNICODE)
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}")  # "U.S." is the question's "US"
# A dotted number naming a release ("4.3", "3.0.19", "v2.39.0"), not the tail of a word ("zlib1.2").
DOTTED_NUMBER = re.compile(r"(?:(?<=\bv)|(?<![\w.]))\d+(?:\.\d+)+")


def undotted(text: str) -> str:
    """`text` with dotted abbreviations written as the question writes them ("U.S." → "US")."""
    return _DOTTED.sub(lambda match: match.group().replace(".", ""), text)


def tokenize(text: str) -> list[str]:
    """Lower-cased words; "Broadway’s" and "Broadway's" both give "broadway"."""
    words = (w.lower().replace("’", "'") for w in _WORD.findall(undotted(text)))
    return [w.removesuffix("'s").strip("'") for w in words]


def content_terms(text: str) -> list[str]:
    return content_words(tokenize(text))


def content_words(words: list[str]) -> list[str]:
    """The words of a tokenized text that say something (no stopwords, question words or letters)."""
    return [w for w in words if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1]


def names_in(question: str) -> list[str]:
    """Capitalised words of the question other than its first word: people, places, titles
    ("U.S." as "US", as tokenize reads the sentences)."""
    question = undotted(question)
    words = re.findall(r"[A-Z][\w’'.-]*[\w]|[A-Z]{2,}", question)
    first = re.match(r"\W*(\w+)", question)
    skip = {first.group(1)} if first else set()
    return [w for w in words if w not in skip and w.lower() not in STOPWORDS and w.lower() not in QUESTION_WORDS]
