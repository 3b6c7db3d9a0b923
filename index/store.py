"""Chroma (embedded or server) plus the manifest, the BM25 index and the sentence vectors.

The manifest is the commit record: it names, for every indexed file, the
content hash and the number of chunks of the version that answers questions
(their ids derive from those, see `chunk_id`), and the BM25 generation built
from exactly those chunks. It is replaced atomically, so
a killed indexer leaves either the old or the new state; chunks that Chroma
holds but the manifest does not name are invisible to queries and are garbage
collected by the next run.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from citebot.config import Settings
from citebot.errors import DamagedIndexError, StoreError
from citebot.sources import SourceText

if TYPE_CHECKING:
    from citebot.sentences import SentenceVectors

log = logging.getLogger(__name__)

# 2: a count of chunks per file instead of their ids (derived from the file's hash): at 1M chunks
# the manifest shrank from 61 MB to 16 MB and reading it from 0.8-1.1 s to 0.3-0.5 s (bench/manifest.py).
MANIFEST_VERSION = 2
_PAGE = 2000  # ids per Chroma get/delete call
# Ids per page when listing the whole collection: each page costs its offset, so small pages make
# the listing quadratic (1.36M ids: the first 200k in 33 s with pages of 2,000, 3.6 s with 50,000).
_LIST_PAGE = 50_000
BM25_TOKENS_FILE = "tokens.json"
# Bumped whenever retrieve.bm25_tokens reads text differently: a generation's stored tokens from
# another version are not reused, every chunk is tokenised again (2: dotted numbers as one word;
# 3: British spellings and irregular forms folded, "licence" finding "License: GPL-3+"; a release
# number is words.DOTTED_NUMBER, "v2.39.0" but not the tail of "zlib1.2").
KEYWORD_TOKENIZER = 3



def chunk_id(model: str, source: str, file_sha: str, ordinal: int) -> str:
    """Stable id: the same file content, embedded by the same model, always yields the same ids."""
    digest = hashlib.sha256(f"{model}\0{source}\0{file_sha}\0{ordinal}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


@dataclass
class FileEntry:
    path: str  # absolute path at the time of indexing
    sha256: str
    chunks: int  # its chunks are the ordinals 0..chunks-1 of `chunk_id`
    size: int
    mtime: float


@dataclass
class Manifest:
    embedder: str = ""
    generation: int = 0
    files: dict[str, FileEntry] = field(default_factory=dict)
    writer: str = ""  # the ChunkStore instance that committed it
    reading: int = 0  # ingest.READING of the run that read its files (0: before it was recorded)
    version: int = MANIFEST_VERSION  # of the file it was read from (an older one is rewritten by the next index)

    def ids_of(self, key: str) -> list[str]:
        """The committed chunk ids of one file, in order."""
        entry = self.files[key]
        return [chunk_id(self.embedder, key, entry.sha256, i) for i in range(entry.chunks)]

    def chunk_ids(self) -> set[str]:
        return {cid for key in self.files for cid in self.ids_of(key)}

    @property
    def chunk_count(self) -> int:
        return sum(entry.chunks for entry in self.files.values())

    @property
    def bm25_name(self) -> str:
        return f"bm25-{self.generation}"


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


class ChunkStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.instance_id = uuid.uuid4().hex  # tells this store's own commits from other processes
        self._client: Any = None
        self._collection: Any = None
        self._vector_store: Any = None
        self._sentences: SentenceVectors | None = None

    # -- Chroma -----------------------------------------------------------------
    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection = self._open_collection()
        return self._collection

    @property
    def vector_store(self) -> Any:
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self.collection)
        return self._vector_store

    def _open_collection(self) -> Any:
        import chromadb

        s = self.settings
        try:
            if s.chroma_host:
                self._client = chromadb.HttpClient(host=s.chroma_host, port=s.chroma_port, settings=_chroma_settings())
            else:
                s.chroma_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(s.chroma_dir), settings=_chroma_settings())
            # embedding_function=None: vectors always come from our embedder, never
            # from Chroma's default one (which would download a model).
            return self._client.get_or_create_collection(
                s.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as exc:  # chromadb raises many types; all mean "unusable"
            where = f"Chroma server at {s.chroma_host}:{s.chroma_port}" if s.chroma_host else f"Chroma at {s.chroma_dir}"
            raise StoreError(f"{where} is not available: {exc}") from exc

    def reopen(self) -> None:
        """Forget the open database so the next use sees what another process wrote.

        An embedded Chroma keeps its vector index in memory and does not notice
        another process's writes; a server has no such problem. chromadb caches one
        client "system" per path (a private registry), so that entry is dropped too.
        """
        if self._client is not None and not self.settings.chroma_host:
            from chromadb.api.shared_system_client import SharedSystemClient

            # Not stopped: questions in flight on other threads may still be using it.
            SharedSystemClient._identifier_to_system.pop(self._client._identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(self._client._identifier, None)
        self._client = self._collection = self._vector_store = None

    def add(self, nodes: list[Any]) -> None:
        """Write embedded nodes; an id already stored is overwritten (ChromaVectorStore.add would skip it)."""
        from llama_index.core.schema import MetadataMode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        for start in range(0, len(nodes), _PAGE):
            batch = nodes[start : start + _PAGE]
            try:
                self.collection.upsert(
                    ids=[n.node_id for n in batch],
                    embeddings=[n.get_embedding() for n in batch],
                    documents=[n.get_content(metadata_mode=MetadataMode.NONE) for n in batch],
                    metadatas=[node_to_metadata_dict(n, remove_text=True, flat_metadata=True) for n in batch],
                )
            except Exception as exc:  # chromadb wraps disk and server failures in many types
                raise StoreError(f"writing to Chroma failed: {exc}") from exc

    def vectors_by_text_sha(self, text_shas: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors (float32) of chunks with these text hashes (see LineChunker)."""
        wanted = sorted(set(text_shas))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), _PAGE):
            page = self.collection.get(where={"text_sha": {"$in": wanted[start : start + _PAGE]}},
                                       include=["embeddings", "metadatas"])
            for metadata, vector in zip(page["metadatas"], page["embeddings"], strict=True):
                found[metadata["text_sha"]] = np.asarray(vector, dtype=np.float32)
        return found

    def existing_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _PAGE):
            found.update(self.collection.get(ids=ids[start : start + _PAGE], include=[])["ids"])
        return found

    def all_ids(self) -> set[str]:
        found: set[str] = set()
        offset = 0
        while True:
            page = self.collection.get(include=[], limit=_LIST_PAGE, offset=offset)["ids"]
            found.update(page)
            if len(page) < _LIST_PAGE:
                return found
            offset += _LIST_PAGE

    def delete(self, ids: set[str] | list[str]) -> None:
        ordered = sorted(ids)
        for start in range(0, len(ordered), _PAGE):
            self.collection.delete(ids=ordered[start : start + _PAGE])

    def nodes(self, ids: list[str]) -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(ids), _PAGE):
            found.extend(self.vector_store.get_nodes(node_ids=ids[start : start + _PAGE]))
        return found

    # -- sentence vectors ---------------------------------------------------------
    @property
    def sentences(self) -> SentenceVectors:
        """The vectors of the indexed files' sentences (written by the indexer, read by answers)."""
        if self._sentences is None:
            from citebot.sentences import SentenceVectors

            self._sentences = SentenceVectors(self.data_dir / "sentence-vectors.sqlite3")
        return self._sentences

    # -- manifest -------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    def load_manifest(self) -> Manifest:
        try:
            raw = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Manifest()
        except (OSError, ValueError) as exc:  # truncated, empty, not UTF-8, not JSON
            raise self._damaged(type(exc).__name__) from None
        version = raw.get("version") if isinstance(raw, dict) else None
        if version not in (1, MANIFEST_VERSION):
            raise self._damaged("not a citebot manifest")
        try:
            if version == 1:  # ids listed: they are the derived ones (ingest and recovery only ever wrote those)
                for entry in raw["files"].values():
                    entry["chunks"] = len(entry.pop("chunk_ids"))
            files = {key: FileEntry(**entry) for key, entry in raw["files"].items()}
            return Manifest(embedder=str(raw["embedder"]), generation=int(raw["generation"]), files=files,
                            writer=raw.get("writer", ""), reading=int(raw.get("reading", 0)), version=version)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._damaged(f"{type(exc).__name__}: {exc}") from None

    def _damaged(self, reason: str) -> DamagedIndexError:
        return DamagedIndexError(f"the manifest {self.manifest_path} is unreadable ({reason}); "
                                 "`citebot doctor --repair` (or `citebot index`) rebuilds it")

    def commit(self, manifest: Manifest) -> None:
        """Atomically make `manifest` the state that answers questions."""
        payload = {**asdict(manifest), "version": MANIFEST_VERSION, "writer": self.instance_id}
        _atomic_write(self.manifest_path, json.dumps(payload, sort_keys=True, separators=(",", ":")))

    # -- extracted texts --------------------------------------------------------
    def text_path(self, file_sha: str) -> Path:
        return self.data_dir / "texts" / f"{file_sha}.json.gz"

    def save_text(self, file_sha: str, source: SourceText, replace: bool = False) -> None:
        """Keep the text extracted from a file (by its content hash): citing it later needs no parser.
        A kept one stays, unless `replace` (the file was read differently)."""
        path = self.text_path(file_sha)
        if replace or not path.exists():
            _atomic_write(path, gzip.compress(json.dumps(source.to_json()).encode("utf-8"), 3))

    def load_text(self, file_sha: str) -> SourceText | None:
        """The kept text of the file with content hash `file_sha`; None when none was kept or it is unreadable."""
        try:
            data = json.loads(gzip.decompress(self.text_path(file_sha).read_bytes()))
            return SourceText(data["text"], data["body_start"], data["metadata"], page_starts=data["page_starts"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError) as exc:
            log.warning("kept text %s is unreadable (%s); the file is read again instead", file_sha[:12], exc)
            return None

    def prune_texts(self, keep: Manifest) -> None:
        """Remove kept texts of files no longer in the index."""
        live = {e.sha256 for e in keep.files.values()}
        for path in (self.data_dir / "texts").glob("*.json.gz"):
            if path.name.removesuffix(".json.gz") not in live:
                path.unlink(missing_ok=True)

    # -- BM25 -----------------------------------------------------------------
    def chunk_files(self) -> dict[str, dict[str, list[str]]]:
        """The chunk ids Chroma holds, by source file and file content hash (recovering a manifest)."""
        found: dict[str, dict[str, list[str]]] = {}
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for chunk, metadata in zip(page["ids"], page["metadatas"], strict=True):
                if metadata and "source" in metadata and "file_sha" in metadata:
                    found.setdefault(str(metadata["source"]), {}).setdefault(str(metadata["file_sha"]), []).append(chunk)
            if len(page["ids"]) < _PAGE:
                return found
            offset += _PAGE

    def bm25_generations(self) -> list[int]:
        return sorted(int(d.name.removeprefix("bm25-")) for d in self.data_dir.glob("bm25-*")
                      if d.name.removeprefix("bm25-").isdigit())

    def bm25_readable(self, manifest: Manifest) -> bool:
        """The manifest's keyword index is on disk and its small files parse (a cheap check)."""
        folder = self.bm25_dir(manifest)
        try:
            json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
            json.loads((folder / "retriever.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return all((folder / name).is_file() for name in (BM25_TOKENS_FILE, "corpus.jsonl", "data.csc.index.npy"))

    def bm25_dir(self, manifest: Manifest) -> Path:
        return self.data_dir / manifest.bm25_name

    def save_bm25(self, retriever: Any, tokens: dict[str, list[str]], manifest: Manifest) -> None:
        target = self.bm25_dir(manifest)
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        retriever.persist(str(staging), show_progress=False)
        # Each chunk's BM25 tokens, so the next generation re-tokenises only new chunks.
        (staging / BM25_TOKENS_FILE).write_text(json.dumps({"tokenizer": KEYWORD_TOKENIZER, "tokens": tokens}),
                                                encoding="utf-8")
        _fsync_tree(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)

    def prune_bm25(self, keep: Manifest) -> None:
        """Remove BM25 generations older than the one before `keep` (readers may hold that)."""
        for old in self.data_dir.glob("bm25-*"):
            suffix = old.name.removeprefix("bm25-")
            if not suffix.isdigit() or int(suffix) < keep.generation - 1:
                shutil.rmtree(old, ignore_errors=True)

    @contextmanager
    def writer_lock(self, wait: bool = False) -> Iterator[None]:
        """One indexer at a time per data folder (the others fail, or with `wait` queue up);
        readers never wait."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "index.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise StoreError(f"another `citebot index` is already running on {self.data_dir}") from None
            yield


def _atomic_write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _fsync_tree(folder: Path) -> None:
    for item in folder.iterdir():
        if item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())
