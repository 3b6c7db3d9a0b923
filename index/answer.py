"""Extractive answers: the retrieved sentences that best answer the question, each cited.

Sentence score = dense similarity to the question (same embedder as retrieval)
+ weighted overlap of the question's content words + a bonus when the sentence
has the kind of fact the question asks for (a number for "how many", a cause
for "why", ...) + a small prior for higher-ranked passages. Names in the
question that appear in none of the passages lower the score: a passage about
the right topic but the wrong person does not answer the question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llama_index.core.schema import NodeWithScore

from index.chunking import sentence_spans
from index.embedding import OnnxSentenceEmbedding
from index.models import Answer, Citation, one_line
from index.sources import SourceText
from index.stemming import SharedStemmer

SourceLookup = Callable[[str], SourceText | None]
_SENTENCE_REACH = 600  # characters read around a chunk to complete its first and last sentence

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
_ANAPHORA = re.compile(r"\b(it|its|he|she|him|his|her|they|them|their|this|that|these|those|there|then)\b", re.I)

# What a question asks for → what a sentence that answers it tends to contain.
_EXPECTS = [
    (re.compile(r"^\s*why\b|\bwhat (?:was|is|were) the reason|\bwhat caused", re.I),
     re.compile(r"\bbecause\b|\bdue to\b|\bin response\b|\bretaliat\w*|\bas a result\b|\bin order to\b|\breasons?\b|\bcaus\w*|\bdesigned to\b|\baim\w*|\bso that\b|\bsince\b", re.I)),
    (re.compile(r"\bhow (?:many|much|large|big|long|old|far)\b|\bwhat (?:share|percentage|proportion|portion|fraction|number|amount)\b", re.I),
     re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|trillion|half|quarter)\b", re.I)),
    (re.compile(r"^\s*when\b|\bwhat (?:year|date|day|month)\b", re.I),
     re.compile(r"\b(?:1[89]|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\byesterday\b|\blast (?:week|month|year)\b", re.I)),
]
# A sentence opening like this continues the one before it ("It would be very selfish ...").
_CONTINUES = re.compile(r"^\W*(?:it|he|she|they|this|that|these|those|his|her|their|its|the point|such)\b", re.I)


@dataclass
class Sentence:
    source: str
    start_line: int
    end_line: int
    text: str  # verbatim slice of the file
    rank: int  # rank of the passage it came from
    page: int | None = None
    previous: str = ""  # the sentence before it in the file, which its pronouns may lean on
    score: float = 0.0


@dataclass(frozen=True)
class Weights:
    dense: float = 0.55
    lexical: float = 0.45
    expects: float = 0.08  # per distinct cue of the asked-for kind, up to two
    rank_prior: float = 0.1  # 0.05 → 0.1 helped both halves of RealTime QA (alternate weeks), dev unchanged
    missing_name: float = 0.35
    # A follow-up asks for something new: the sentence that answered the earlier
    # question, if it shares no word with the follow-up itself, is demoted.
    answered_before: float = 0.3
    # Further sentences are quoted when they score at least this share of the best;
    # one from another document, or one continuing the best, at a lower share.
    keep_ratio: float = 0.85
    other_source_ratio: float = 0.75
    continuation_ratio: float = 0.55


def tokenize(text: str) -> list[str]:
    """Lower-cased words; "Broadway’s" and "Broadway's" both give "broadway"."""
    words = (w.lower().replace("’", "'") for w in _WORD.findall(text))
    return [w.removesuffix("'s").strip("'") for w in words]


def content_terms(text: str) -> list[str]:
    return [w for w in tokenize(text) if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1]


def names_in(question: str) -> list[str]:
    """Capitalised words of the question other than its first word: people, places, titles."""
    words = re.findall(r"[A-Z][\w’'.-]*[\w]|[A-Z]{2,}", question)
    first = re.match(r"\W*(\w+)", question)
    skip = {first.group(1)} if first else set()
    return [w for w in words if w not in skip and w.lower() not in STOPWORDS and w.lower() not in QUESTION_WORDS]


def needs_context(question: str) -> bool:
    """A question that leans on an earlier turn: a pronoun, or too few words of its own."""
    return bool(_ANAPHORA.search(question)) or len(content_terms(question)) < 2


def condense(question: str, history: Sequence[str], turns: int) -> str:
    """The retrieval query for `question`: earlier questions are prepended when it leans on them."""
    recent = [h for h in history if h.strip()][-turns:]
    if not recent or not needs_context(question):
        return question
    return " ".join([*recent[-1:], question])


class ExtractiveAnswerer:
    def __init__(self, embedder: OnnxSentenceEmbedding, sources: SourceLookup, refusal_text: str,
                 threshold: float, max_sentences: int, max_embedded: int,
                 weights: Weights | None = None) -> None:
        self.embedder = embedder
        self.sources = sources
        self.refusal_text = refusal_text.strip()
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.max_embedded = max_embedded
        self.weights = weights or Weights()
        self._stem = SharedStemmer()

    def answer(self, question: str, search_query: str, hits: list[NodeWithScore]) -> Answer:
        sentences = self.score(question, search_query, hits)
        if not sentences or sentences[0].score < self.threshold:
            return Answer(question=question, text=self.refusal_text, answerable=False, search_query=search_query)
        chosen = self._select(sentences)
        citations = [Citation(s.source, s.start_line, s.end_line, s.text, s.page) for s in chosen]
        text = " ".join(f"{one_line(s.text)} [{i}]" for i, s in enumerate(chosen, 1))
        return Answer(question=question, text=text, answerable=True, citations=citations, search_query=search_query)

    def score(self, question: str, search_query: str, hits: list[NodeWithScore]) -> list[Sentence]:
        """Candidate sentences from `hits`, best first, with their scores."""
        sentences = split_sentences(hits, self.sources)
        if not sentences:
            return []
        w = self.weights
        terms = [set(self._stem(tokenize(s.text))) for s in sentences]
        before = [set(self._stem(tokenize(s.previous))) for s in sentences]
        weights = self._term_weights(question, search_query, terms)
        total = sum(weights.values()) or 1.0
        names = [term for n in names_in(question) for term in self._stem(tokenize(n))[:1]]
        seen = set().union(*terms, *before)
        missing = sum(1 for n in names if n not in seen) / len(names) if names else 0.0
        expects = [pattern for asks, pattern in _EXPECTS if asks.search(question)]
        for sentence, own, prior in zip(sentences, terms, before, strict=True):
            # Words only in the previous sentence count half: "It ..." leans on it.
            overlap = sum(v if t in own else v / 2 for t, v in weights.items() if t in own or t in prior)
            sentence.score = (
                w.lexical * overlap / total
                + w.expects * sum(min(2, len(set(p.findall(sentence.text.lower())))) for p in expects)
                + w.rank_prior / (1 + sentence.rank)
                - w.missing_name * missing
            )
        # Embedding sentences is most of an answer's cost: only the lexically likeliest are embedded.
        keep = sorted(range(len(sentences)), key=lambda i: sentences[i].score, reverse=True)[: self.max_embedded]
        sentences, terms = [sentences[i] for i in keep], [terms[i] for i in keep]
        vectors = self.embedder.embed([search_query] + [one_line(s.text) for s in sentences])
        for sentence, similarity in zip(sentences, vectors[1:] @ vectors[0], strict=True):
            sentence.score += w.dense * float(similarity)
        if search_query != question:
            self._demote_answered(question, sentences, terms, weights)
        return sorted(sentences, key=lambda s: s.score, reverse=True)

    def _demote_answered(self, question: str, sentences: list[Sentence], terms: list[set[str]],
                         weights: dict[str, float]) -> None:
        own = set(self._stem(content_terms(question)))
        context = {t: v for t, v in weights.items() if t not in own}
        if not context:
            return
        matched = [sum(v for t, v in context.items() if t in ts) for ts in terms]
        anchor = max(range(len(sentences)), key=lambda i: (matched[i], sentences[i].score))
        if not own & terms[anchor]:
            sentences[anchor].score -= self.weights.answered_before

    def _term_weights(self, question: str, search_query: str, sentences: list[set[str]]) -> dict[str, float]:
        """IDF over the candidate sentences for the question's words; context words count half."""
        n = len(sentences)
        weights: dict[str, float] = {}
        for word in content_terms(search_query):
            term = self._stem([word])[0]
            df = sum(1 for s in sentences if term in s)
            weights[term] = math.log(1 + n / (1 + df))
        if search_query != question:
            own = set(self._stem(content_terms(question)))
            weights = {t: v if t in own else v / 2 for t, v in weights.items()}
        return weights

    def _select(self, ranked: list[Sentence]) -> list[Sentence]:
        w = self.weights
        best = ranked[0]
        chosen = [best]
        for sentence in ranked[1:]:
            if len(chosen) >= self.max_sentences:
                break
            new_source = all(c.source != sentence.source for c in chosen)
            continues = sentence.source == best.source and sentence.previous == best.text and _CONTINUES.match(sentence.text)
            ratio = w.continuation_ratio if continues else w.other_source_ratio if new_source else w.keep_ratio
            if sentence.score >= ratio * best.score:
                chosen.append(sentence)
        # Quote in reading order within a document, best document first.
        order = {c.source: i for i, c in reversed(list(enumerate(chosen)))}
        return sorted(chosen, key=lambda c: (order[c.source], c.start_line))


def split_sentences(hits: list[NodeWithScore], sources: SourceLookup) -> list[Sentence]:
    """Whole sentences of the files around each hit, with their exact file lines.

    Sentences are cut from the file, not the chunk, so one that a chunk boundary
    split is quoted whole. A hit whose file changed since indexing is skipped:
    its text can no longer be quoted verbatim.
    """
    seen: set[tuple[str, int, int]] = set()
    sentences = []
    for rank, hit in enumerate(hits):
        node, meta = hit.node, hit.node.metadata
        source = sources(meta["source"])
        start, end = node.start_char_idx, node.end_char_idx
        if source is None or start is None or end is None or source.text[start:end] != node.get_content():
            continue
        page_start, page_end = source.page_bounds(start)
        window = (max(source.body_start, page_start, start - _SENTENCE_REACH), min(page_end, end + _SENTENCE_REACH))
        previous = ""
        for s_start, s_end in sentence_spans(source.text, *window):
            piece = source.text[s_start:s_end]
            if s_end > start and s_start < end and (meta["source"], s_start, s_end) not in seen and len(tokenize(piece)) >= 3:
                seen.add((meta["source"], s_start, s_end))
                sentences.append(Sentence(meta["source"], source.line_of(s_start), source.line_of(s_end - 1),
                                          piece, rank, meta.get("page"), previous=previous))
            previous = piece
    return sentences


def load_template(prompts_dir: Path, name: str) -> str:
    return (prompts_dir / name).read_text(encoding="utf-8")
