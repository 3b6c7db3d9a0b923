"""Hybrid retrieval: BM25 and dense vectors, fused by reciprocal rank fusion."""

from __future__ import annotations

from typing import Any, Literal

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import BaseNode, NodeWithScore

from index.config import Settings
from index.embedding import OnnxSentenceEmbedding
from index.store import ChunkStore, Manifest

Mode = Literal["hybrid", "dense", "bm25"]


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def build_bm25(nodes: list[BaseNode]) -> Any:
    from llama_index.retrievers.bm25 import BM25Retriever

    return BM25Retriever.from_defaults(nodes=nodes, stemmer=_stemmer(), language="en")


class HybridRetriever:
    """Retrieves the committed chunks of the index that best match a query."""

    def __init__(self, store: ChunkStore, embedder: OnnxSentenceEmbedding, settings: Settings,
                 manifest: Manifest, mode: Mode = "hybrid") -> None:
        self._live = manifest.chunk_ids()
        k = settings.candidates_k
        retrievers = []
        if mode in ("hybrid", "dense"):
            index = VectorStoreIndex.from_vector_store(store.vector_store, embed_model=embedder)
            retrievers.append(index.as_retriever(similarity_top_k=k))
        if mode in ("hybrid", "bm25") and self._live:
            from llama_index.retrievers.bm25 import BM25Retriever

            bm25 = BM25Retriever.from_persist_dir(str(store.bm25_dir(manifest)), show_progress=False)
            bm25.similarity_top_k = min(k, len(bm25.corpus))
            retrievers.append(bm25)
        # num_queries=1: no query generation, so the LLM is never called.
        self._fusion = QueryFusionRetriever(
            retrievers, llm=MockLLM(), mode="reciprocal_rerank", num_queries=1,
            use_async=False, similarity_top_k=k,
        )

    def retrieve(self, query: str, top_k: int) -> list[NodeWithScore]:
        if not self._live:
            return []
        # Chunks outside the manifest belong to an uncommitted (or killed) index run.
        hits = [hit for hit in self._fusion.retrieve(query) if hit.node.node_id in self._live]
        return hits[:top_k]
