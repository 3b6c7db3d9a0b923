"""The stock llama-index recipe both benchmarks compare against.

SimpleDirectoryReader → VectorStoreIndex over ChromaVectorStore, default node parser (SentenceSplitter,
1,024-token chunks), the embedder given (citebot's, so both sides embed with the same model).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def stock_index(folder: Path, chroma_path: Path, embedder: Any) -> tuple[Any, dict[str, float]]:
    """The stock index of `folder`, built when `chroma_path` holds none yet (then with its ingest figures)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(chroma_path), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("stock", embedding_function=None)
    store = ChromaVectorStore(chroma_collection=collection)
    if collection.count():
        return VectorStoreIndex.from_vector_store(store, embed_model=embedder), {}
    started = time.perf_counter()
    documents = SimpleDirectoryReader(str(folder)).load_data()
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embedder)
    seconds = time.perf_counter() - started
    files = len({d.metadata.get("file_path") for d in documents})
    return index, {"stock_ingest_s": seconds, "stock_files": files, "stock_chunks": collection.count(),
                   "stock_chunks_per_s": collection.count() / seconds, "stock_files_per_s": files / seconds}
