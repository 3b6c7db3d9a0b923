"""An English stemmer that threads can share.

PyStemmer's Stemmer objects are not thread-safe, and the bot answers several
questions at once on worker threads; sharing one instance mangled stems under
load (seen in bench/load.py). This keeps one Stemmer per thread.
"""

from __future__ import annotations

import threading


class SharedStemmer:
    def __init__(self) -> None:
        self._local = threading.local()

    def stemWords(self, words: list[str]) -> list[str]:  # noqa: N802 - the name bm25s looks for
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer("english")
        return stemmer.stemWords(words)

    __call__ = stemWords
