"""LLM mode: answers written by a language model from the retrieved passages, then verified.

The model sees numbered passages and must cite them as [n]. Nothing it writes is
trusted: every sentence of the reply must cite a passage that was given, and the
cited passage must contain a sentence that supports it (embedding similarity
plus word overlap); that sentence, cut verbatim from the file, becomes the
quote. Sentences without such support are dropped. When nothing survives, the
extractive answer is returned with a note, so a model that follows
instructions planted in a document cannot put words in the bot's mouth.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from llama_index.core.schema import NodeWithScore

from citebot.answer import ExtractiveAnswerer, Sentence, content_terms, needs_context, split_sentences
from citebot.chunking import sentence_spans
from citebot.config import Settings
from citebot.errors import LLMError
from citebot.models import Answer, Citation, Turn, one_line

log = logging.getLogger(__name__)

TokenSink = Callable[[str], None]
NOT_FOUND = "NOT_IN_DOCUMENTS"  # what the prompt tells the model to write when passages lack the answer
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A claim is supported when its best passage sentence is at least this similar...
SUPPORT_SIMILARITY = 0.55
# ...or shares at least this share of the claim's content words (names, numbers).
SUPPORT_OVERLAP = 0.6
MIN_CLAIM_WORDS = 3



def build_llm(settings: Settings) -> Any:
    """The llama-index LLM named by the settings (OpenAI-compatible endpoint or Ollama)."""
    if settings.llm == "openai-compatible":
        from llama_index.llms.openai_like import OpenAILike

        return OpenAILike(model=settings.llm_model, api_base=settings.llm_base_url, api_key=settings.llm_api_key or "none",
                          is_chat_model=True, context_window=settings.llm_context_window,
                          timeout=settings.llm_timeout, max_retries=1)
    if settings.llm == "ollama":
        from llama_index.llms.ollama import Ollama

        return Ollama(model=settings.llm_model, base_url=settings.llm_base_url or "http://127.0.0.1:11434",
                      request_timeout=settings.llm_timeout, context_window=settings.llm_context_window)
    raise LLMError(f"unknown LLM mode {settings.llm!r}: use 'openai-compatible' or 'ollama'")


class LLMAnswerer:
    def __init__(self, llm: Any, extractive: ExtractiveAnswerer, answer_prompt: str, condense_prompt: str,
                 fallback_note: str) -> None:
        self.llm = llm
        self.extractive = extractive
        self.answer_prompt = answer_prompt
        self.condense_prompt = condense_prompt
        self.fallback_note = fallback_note.strip()

    def condense(self, question: str, history: Sequence[Turn], heuristic: str) -> str:
        """A standalone question for retrieval; the heuristic one if the model fails."""
        if not history or not needs_context(question):
            return question
        lines = [f"- Q: {t.question}" + (f"\n  A: {t.answer}" if t.answer else "") for t in history]
        prompt = self.condense_prompt.format(history="\n".join(lines), question=question)
        try:
            rewritten = one_line(self._complete(prompt, None))
        except Exception as exc:  # any model/network failure: the heuristic still works
            log.warning("the model could not condense the follow-up (%s); using the heuristic", type(exc).__name__)
            return heuristic
        return rewritten if 0 < len(rewritten) < 500 else heuristic

    def answer(self, question: str, search_query: str, hits: list[NodeWithScore],
               on_token: TokenSink | None = None) -> Answer:
        if not hits:
            return self.extractive.answer(question, search_query, hits)
        passages = "\n\n".join(f"[{n}] (from {h.node.metadata['source']})\n{h.node.get_content()}"
                               for n, h in enumerate(hits, 1))
        try:
            reply = self._complete(self.answer_prompt.format(passages=passages, question=question), on_token)
        except Exception as exc:  # the model is unreachable or broke: answer without it
            log.warning("the model failed (%s: %s); answering extractively", type(exc).__name__, exc)
            return self._fallback(question, search_query, hits, f"the language model failed ({type(exc).__name__})")
        if NOT_FOUND in reply and not _MARKER.search(reply):
            return Answer(question, self.extractive.refusal_text, False, search_query=search_query)
        verified = self.verify(reply, hits)
        if verified is None:
            return self._fallback(question, search_query, hits, "no sentence of the model's answer was supported")
        text, citations = verified
        return Answer(question, text, True, citations, search_query=search_query)

    def verify(self, reply: str, hits: list[NodeWithScore]) -> tuple[str, list[Citation]] | None:
        """The supported sentences of `reply`, renumbered, with verbatim quotes; None if none are."""
        by_passage: dict[int, list[Sentence]] = {}
        for n, hit in enumerate(hits, 1):
            by_passage[n] = split_sentences([hit], self.extractive.sources)
        citations: list[Citation] = []
        numbers: dict[tuple, int] = {}
        kept = []
        for start, end in sentence_spans(reply):
            claim = reply[start:end]
            cited = [int(x) for group in _MARKER.findall(claim) for x in group.split(",")]
            bare = one_line(_MARKER.sub("", claim))
            if not bare or NOT_FOUND in bare:
                continue
            supports = [s for n in dict.fromkeys(cited) if (s := self._support(bare, by_passage.get(n, [])))]
            if not supports:
                continue  # cites nothing given, or nothing it cites says this
            marks = []
            for s in supports:
                key = (s.source, s.start_line, s.end_line, s.text)
                if key not in numbers:
                    citations.append(Citation(s.source, s.start_line, s.end_line, s.text, s.page))
                    numbers[key] = len(citations)
                marks.append(f"[{numbers[key]}]")
            kept.append(f"{bare.rstrip()} {''.join(marks)}")
        return (" ".join(kept), citations) if kept else None

    def _support(self, claim: str, candidates: list[Sentence]) -> Sentence | None:
        if not candidates:
            return None
        vectors = self.extractive.embedder.embed([claim] + [one_line(c.text) for c in candidates])
        similarity = vectors[1:] @ vectors[0]
        best = int(np.argmax(similarity))
        words = set(content_terms(claim))
        if len(words) < MIN_CLAIM_WORDS:
            return None  # "PWNED", "Yes.": too short to be checked against anything
        overlap = len(words & set(content_terms(candidates[best].text))) / len(words)
        if similarity[best] >= SUPPORT_SIMILARITY or overlap >= SUPPORT_OVERLAP:
            return candidates[best]
        return None

    def _fallback(self, question: str, search_query: str, hits: list[NodeWithScore], why: str) -> Answer:
        answer = self.extractive.answer(question, search_query, hits)
        if not answer.answerable:
            return answer
        note = self.fallback_note.format(reason=why)
        return Answer(question, f"{note}\n{answer.text}", True, answer.citations, search_query=search_query)

    def _complete(self, prompt: str, on_token: TokenSink | None) -> str:
        from llama_index.core.llms import ChatMessage

        messages = [ChatMessage(role="user", content=prompt)]
        if on_token is None:
            return str(self.llm.chat(messages).message.content or "")
        text = ""
        for chunk in self.llm.stream_chat(messages):
            delta = chunk.delta or ""
            text += delta
            if delta:
                on_token(delta)
        return text
