"""Hybrid retrieval: BM25 and dense vectors, fused by reciprocal rank fusion."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle
from llama_index.retrievers.bm25 import BM25Retriever

from citebot.config import Settings
from citebot.embedding import OnnxSentenceEmbedding
from citebot.errors import DamagedIndexError
from citebot.models import parse_day
from citebot.stemming import SharedStemmer
from citebot.store import BM25_TOKENS_FILE, KEYWORD_TOKENIZER, ChunkStore, Manifest, StoreError
from citebot.words import DOTTED_NUMBER

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
# A recent passage ranks first only with at least this share of the best fused score
# (RealTime QA: 0.3 loses nothing against no floor; 0.5 costs 0.02 recall@5).
_RECENT_MIN_SHARE = 0.3


TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # BM25Retriever's default, used for queries too
# BM25's words have two letters or more, so a version's numbers were no words at all: "When was GNU
# make 4.3 released?" never found "Version 4.3 (19 Jan 2020)". A dotted number is also one word
# ("4.3" → "4_3"), in chunks and queries alike (alone it changed no public row; with
# `with_numbers_first`, techdocs t18).


def keyword_text(text: str) -> str:
    """`text` as the keyword index reads it: each dotted number followed by its one-word form."""
    return DOTTED_NUMBER.sub(lambda match: f"{match.group()} {match.group().replace('.', '_')}", text)


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize([keyword_text(t) for t in texts], stopwords="en", stemmer=SharedStemmer(),
                          token_pattern=TOKEN_PATTERN, return_ids=False, show_progress=False)


class KeywordRetriever(BM25Retriever):
    """BM25Retriever reading queries as `bm25_tokens` reads chunks (dotted numbers as words too)."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return super()._retrieve(QueryBundle(keyword_text(query_bundle.query_str)))


def keyword_retriever(folder: Path) -> BM25Retriever:
    """The keyword retriever of a saved generation, memory-mapped."""
    return KeywordRetriever.from_persist_dir(str(folder), show_progress=False, mmap=True)


def build_bm25(previous: Path | None, live_ids: set[str], new_nodes: Sequence[BaseNode],
               fetch: Callable[[list[str]], list[BaseNode]]) -> tuple[Any, dict[str, list[str]]]:
    """A BM25 retriever over `live_ids` and each chunk's tokens, re-tokenising only chunks the
    previous generation lacks.

    Written around BM25Retriever's constructor (which tokenises every chunk, ~3 s
    at 20k chunks) so that re-indexing one file stays fast: each generation keeps
    the tokens of its chunks next to bm25s's own files.
    """
    import bm25s
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

    corpus, tokens = _load_generation(previous) if previous else ({}, {})
    corpus = {i: d for i, d in corpus.items() if i in live_ids}
    fresh = {n.node_id: n for n in new_nodes if n.node_id in live_ids}
    missing = sorted(live_ids - corpus.keys() - fresh.keys())
    fresh.update((n.node_id, n) for n in (fetch(missing) if missing else []))
    # Chunks an older tokenizer read are read again from their saved records, not fetched from Chroma.
    fresh.update((i, metadata_dict_to_node(d)) for i, d in corpus.items() if i not in tokens and i not in fresh)
    # LLM mode: the embedded text and the path's words of a file without a title.
    texts = [n.get_content(metadata_mode=MetadataMode.LLM) for n in fresh.values()]
    for (node_id, node), node_tokens in zip(fresh.items(), bm25_tokens(texts), strict=True):
        corpus[node_id] = node_to_metadata_dict(node) | {"node_id": node_id}
        tokens[node_id] = node_tokens
    order = sorted(corpus)
    bm25 = bm25s.BM25(corpus=[corpus[i] for i in order])
    bm25.index([tokens[i] for i in order], show_progress=False)
    return BM25Retriever(existing_bm25=bm25, token_pattern=TOKEN_PATTERN), {i: tokens[i] for i in order}


def _load_generation(folder: Path) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Chunk records and tokens of a saved generation (no tokens when an older tokenizer made
    them); empty when it is missing or unreadable."""
    try:
        stored = json.loads((folder / BM25_TOKENS_FILE).read_text(encoding="utf-8"))
        with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
            corpus = {d["node_id"]: d for d in map(json.loads, fh)}
        if not isinstance(stored, dict) or stored.get("tokenizer") != KEYWORD_TOKENIZER:  # a flat dict before 2
            log.info("keyword index %s was tokenised differently; tokenising its chunks again", folder.name)
            return corpus, {}
        tokens = stored["tokens"]
        corpus = {i: d for i, d in corpus.items() if i in tokens}
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        log.warning("keyword index %s is unreadable (%s); tokenising every chunk again", folder.name, exc)
        return {}, {}
    return corpus, {i: tokens[i] for i in corpus}


class HybridRetriever:
    """Retrieves the committed chunks of the index that best match a query."""

    def __init__(self, store: ChunkStore, embedder: OnnxSentenceEmbedding, settings: Settings,
                 manifest: Manifest, mode: Mode = "hybrid") -> None:
        # Each file's committed chunk ids (a dozen or so), derived when a hit of that file is met: a
        # set of every id took 0.27 s of a cold start at 1M chunks.
        self._manifest = manifest
        self._ids: dict[str, frozenset[str]] = {}
        self._has_chunks = any(entry.chunks for entry in manifest.files.values())
        self._recent_days = settings.recent_days
        k = settings.candidates_k
        retrievers = []
        self._bm25: Any = None
        if mode in ("hybrid", "dense"):
            index = VectorStoreIndex.from_vector_store(store.vector_store, embed_model=embedder)
            retrievers.append(index.as_retriever(similarity_top_k=k))
        if mode in ("hybrid", "bm25") and self._has_chunks:
            try:  # memory-mapped: RSS at 20k chunks 519 → 475 MB, same answers and latency, and the
                # pages are shared by every worker process on the machine
                bm25 = keyword_retriever(store.bm25_dir(manifest))
            except Exception as exc:  # missing or garbled files: bm25s and orjson raise many kinds
                raise DamagedIndexError(f"the keyword index {store.bm25_dir(manifest)} is unreadable "
                                        f"({type(exc).__name__}); `citebot index` rebuilds it") from None
            bm25.stemmer = SharedStemmer()
            bm25.similarity_top_k = min(k, len(bm25.corpus))
            retrievers.append(bm25)
            self._bm25 = bm25
        # num_queries=1: no query generation, so the LLM is never called.
        self._fusion = QueryFusionRetriever(
            retrievers, llm=MockLLM(), mode=FUSION_MODES.RECIPROCAL_RANK, num_queries=1,
            use_async=False, similarity_top_k=k,
        )

    def _committed(self, node: BaseNode) -> bool:
        """The chunk is one the manifest names (not a leftover of an uncommitted or killed run)."""
        key = str(node.metadata.get("source", ""))
        if key not in self._ids:
            self._ids[key] = frozenset(self._manifest.ids_of(key)) if key in self._manifest.files else frozenset()
        return node.node_id in self._ids[key]

    def mentions(self, word: str) -> bool:
        """True when some indexed chunk holds `word` (as BM25 tokenises it); True without BM25."""
        if self._bm25 is None:
            return True
        model = self._bm25.bm25
        vocabulary, starts = model.vocab_dict, model.scores["indptr"]
        tokens = bm25_tokens([word])[0]
        ids = [vocabulary.get(t) for t in tokens]
        return all(i is not None and (i + 1 >= len(starts) or starts[i + 1] > starts[i]) for i in ids)

    def retrieve(self, query: str, top_k: int, as_of: date | None = None) -> list[NodeWithScore]:
        """The best `top_k` chunks for `query`, recent documents first; with `as_of`, as the
        documents stood on that day (without it, today, but a document dated later is kept:
        a wrong date in its front matter must not hide it)."""
        if not self._has_chunks:
            return []
        try:
            found = self._fusion.retrieve(query)
        except Exception as exc:  # chromadb/httpx raise many types; all mean the store failed
            raise StoreError(f"the vector store failed ({type(exc).__name__}); it may be restarting") from exc
        # Chunks outside the manifest belong to an uncommitted (or killed) index run.
        hits = [hit for hit in found if self._committed(hit.node)]
        hits = point_in_time(hits, as_of or date.today(), self._recent_days, leave_out_later=as_of is not None)
        return with_numbers_first(hits, query)[:top_k]


def with_numbers_first(hits: list[NodeWithScore], query: str) -> list[NodeWithScore]:
    """`hits` with the passages holding every dotted number the query names ("4.3", "1.13.25") first,
    each group in its order. Reciprocal-rank fusion ranks a passage that BM25 alone finds (a NEWS
    entry whose only distinguishing word is its version) below those both lists like: the tar
    NEWS table row for "Who put out the GNU tar 1.13.25 release?" was first in BM25 and 13th fused."""
    numbers = set(DOTTED_NUMBER.findall(query))
    if not numbers:
        return hits
    patterns = [re.compile(rf"(?<![\d.]){re.escape(n)}(?!\.?\d)") for n in numbers]
    holding = {id(hit) for hit in hits if all(p.search(hit.node.get_content()) for p in patterns)}
    return sorted(hits, key=lambda hit: id(hit) not in holding)


def point_in_time(hits: list[NodeWithScore], as_of: date, recent_days: int,
                  leave_out_later: bool = True) -> list[NodeWithScore]:
    """Hits as of `as_of`: documents published later are left out, and those published in the
    `recent_days` up to it come first (keeping their order), because a question about "this week"
    or "the latest" means the days before it was asked. A recent passage moves ahead only when
    its fused score is a fair share of the best one's, so a recent but barely related document
    does not push out an older answer. Undated documents keep their place among the rest: a
    corpus without dates is unaffected."""
    dated = [(hit, parse_day(hit.node.metadata.get("published"))) for hit in hits]
    kept = [(hit, day) for hit, day in dated if day is None or day <= as_of or not leave_out_later]
    if recent_days <= 0 or not kept:
        return [hit for hit, _ in kept]
    since = as_of - timedelta(days=recent_days)
    floor = _RECENT_MIN_SHARE * max(hit.score or 0.0 for hit, _ in kept)

    def recent(hit: NodeWithScore, day: date | None) -> bool:
        return day is not None and since <= day <= as_of and (hit.score or 0.0) >= floor

    return [hit for hit, day in sorted(kept, key=lambda pair: not recent(*pair))]
