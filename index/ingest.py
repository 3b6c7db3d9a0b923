"""Incremental (re)indexing: scan → diff against the manifest → chunk → embed → commit."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import Document, MetadataMode, TextNode

from citebot.budget import BudgetedReader
from citebot.chunking import PATH_TITLE_KEY, LineChunker
from citebot.doctor import free_space_problem, missing_chunks, recover_manifest
from citebot.embedding import OnnxSentenceEmbedding
from citebot.errors import DamagedIndexError, IngestError
from citebot.models import IndexReport
from citebot.sentences import file_sentences
from citebot.sources import SourceError, SourceText, file_digest, path_title
from citebot.store import MANIFEST_VERSION, ChunkStore, FileEntry, Manifest, StoreError

log = logging.getLogger(__name__)

# (files done, files to process, chunks embedded so far)
ProgressFn = Callable[[int, int, int], None]
_EMBED_BATCH = 256  # chunks embedded and written per round trip
_SENTENCE_FILES = 64  # files whose sentences are embedded and written per round trip when filling in
COMMIT_EVERY = 2048  # new chunks (~35 s of embedding on 2 cores) before a long run's first interim commit
# Vectors of chunk texts one run has embedded or fetched (1.5 KB each): a text met again in the run
# (a copied folder, a file's unchanged lines) takes it without asking Chroma, which returns every
# stored copy of a text. Growing an index on copies of 1,504 articles spent 78% of its time there.
_RUN_VECTORS = 50_000
# Bumped whenever reading a file (sources), cutting it into chunks (chunking) or into keyword
# tokens (store.KEYWORD_TOKENIZER) changes: the next run reads every indexed file again, and chunks
# that came out the same keep their vectors. (1: definition lists read as "term: definition",
# untitled files named by their path, keyword tokens with British spellings folded. 2: a PDF
# chapter's running header and HTML navigation bars and tables of contents left out, numbered
# section headings cut from the text below them.)
READING = 2



@dataclass(frozen=True)
class FoundFile:
    key: str
    path: Path


def scan(paths: list[Path], sources_dir: Path) -> tuple[list[FoundFile], list[tuple[str, str]]]:
    """Indexable files under `paths`, keyed by their path relative to the folder given."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise IngestError(f"no such file or folder: {', '.join(missing)}")
    found: dict[str, FoundFile] = {}
    skipped: list[tuple[str, str]] = []
    for root in paths:
        root = root.resolve()
        if root.is_dir():
            base, candidates = root, _walk(root)
        else:
            base = sources_dir.resolve() if root.is_relative_to(sources_dir.resolve()) else root.parent
            candidates = [root]
        for path in candidates:
            if not path.is_file():
                kind = "a device, FIFO or socket" if path.exists() else "a broken link"
                skipped.append((str(path), f"not a readable regular file ({kind})"))
                continue
            key = path.relative_to(base).as_posix()
            found[key] = FoundFile(key, path)
    return sorted(found.values(), key=lambda f: f.key), skipped


def _walk(root: Path) -> list[Path]:
    # os.walk without following links cannot loop; hidden files and folders are skipped.
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(folder) / n for n in sorted(names) if not n.startswith("."))
    return files


def _remember(run_vectors: dict[str, np.ndarray], sha: str, vector: np.ndarray) -> None:
    """Keep `vector` for text hash `sha`, forgetting the oldest beyond _RUN_VECTORS."""
    run_vectors[sha] = vector
    if len(run_vectors) > _RUN_VECTORS:
        del run_vectors[next(iter(run_vectors))]


class Indexer:
    def __init__(self, store: ChunkStore, embedder: OnnxSentenceEmbedding, chunker: LineChunker) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        settings = store.settings
        self.reader = BudgetedReader(settings.max_file_bytes, settings.parse_seconds, settings.parse_memory_mb)

    def run(self, paths: list[Path], sources_dir: Path, rebuild: bool = False,
            progress: ProgressFn | None = None, wait: bool = False) -> IndexReport:
        try:
            return self._run(paths, sources_dir, rebuild, progress, wait)
        except OSError as exc:  # disk full, read-only folder: the committed index is untouched
            raise StoreError(f"cannot write the index in {self.store.data_dir}: {exc.strerror or exc}") from exc

    def _run(self, paths: list[Path], sources_dir: Path, rebuild: bool, progress: ProgressFn | None,
             wait: bool) -> IndexReport:
        started = time.monotonic()
        problem = free_space_problem(self.store.data_dir)
        if problem:
            raise StoreError(f"{problem}; free some space and index again (the index is unchanged)")
        with self.store.writer_lock(wait):
            report = IndexReport()
            old, mended = self._mended_manifest(report, sources_dir, paths)
            sentences = self.store.sentences
            sentences.reset(self.embedder.model_id, clear=rebuild)
            # A missing or garbled keyword index is rebuilt from Chroma by the commit below.
            bm25_broken = bool(old.files) and not self.store.bm25_readable(old)
            if bm25_broken:
                report.warnings.append(f"the keyword index {self.store.bm25_dir(old).name} was missing or "
                                       "unreadable; rebuilt it")
            if old.files and old.embedder != self.embedder.model_id:
                report.warnings.append(f"embedder changed ({old.embedder} → {self.embedder.model_id}); rebuilding")
                rebuild = True
            found, report.skipped = scan(paths, sources_dir)
            files = {} if rebuild else dict(old.files)
            seen = {item.key for item in found}
            for key, entry in list(files.items()):
                if key not in seen and not Path(entry.path).is_file():
                    report.removed.append(key)
                    del files[key]
            todo: list[tuple[FoundFile, str]] = []
            moved = False
            reread = bool(old.files) and old.reading != READING
            if reread:
                report.warnings.append("files are read better since this index was built; reading every file "
                                       "again (chunks that come out the same keep their vectors)")
            for item in found:
                digest = file_digest(item.path)
                kept = files.get(item.key)
                if kept and kept.sha256 == digest and not reread:
                    report.unchanged.append(item.key)
                    stat = item.path.stat()
                    if (kept.path, kept.size, kept.mtime) != (str(item.path), stat.st_size, stat.st_mtime):
                        # The same content moved with its folder, or touched: answers then know
                        # the kept text is still this file's without hashing it again.
                        files[item.key] = replace(kept, path=str(item.path), size=stat.st_size, mtime=stat.st_mtime)
                        moved = True
                else:
                    todo.append((item, digest))
            pending: list[TextNode] = []
            pending_sentences: list[tuple[str, list[str]]] = []  # (file content hash, its sentences)
            new_nodes: list[TextNode] = []  # chunks the last committed manifest lacks
            run_vectors: dict[str, np.ndarray] = {}  # text hash → vector, oldest first (_RUN_VECTORS)
            committed, committed_chunks = old, old.chunk_count
            for done, (item, digest) in enumerate(todo, 1):
                previous = files.pop(item.key, None)
                read = self._chunk(item, digest, report, reread)
                if read is None:
                    if previous:
                        report.removed.append(item.key)
                else:
                    source, nodes = read
                    pending_sentences.append((digest, file_sentences(source, item.key)))
                    (report.changed if previous or item.key in old.files else report.added).append(item.key)
                    stat = item.path.stat()
                    files[item.key] = FileEntry(str(item.path), digest, len(nodes), stat.st_size, stat.st_mtime)
                    # A killed run's chunks are found by text hash in _embed_and_store, like copies.
                    pending.extend(nodes)
                    new_nodes.extend(nodes)
                if len(pending) >= _EMBED_BATCH or done == len(todo):
                    embedded, reused = self._embed_and_store(pending, run_vectors, reuse=not rebuild)
                    report.embedded_chunks += embedded
                    report.reused_chunks += reused
                    report.embedded_sentences += sentences.add(pending_sentences, self.embedder.embed)
                    pending, pending_sentences = [], []
                    if not rebuild and done < len(todo) and len(new_nodes) >= max(COMMIT_EVERY, committed_chunks):
                        # A long run commits what it has so far: killed, it leaves the finished
                        # files answerable, and the next run goes on from there. The batches
                        # double, so BM25 is rebuilt O(log n) times, not once per batch.
                        interim = Manifest(self.embedder.model_id, committed.generation + 1, dict(files), reading=READING)
                        self._commit(committed, interim, new_nodes, rebuild)
                        committed, new_nodes = interim, []
                        committed_chunks = interim.chunk_count
                if progress:
                    progress(done, len(todo), report.embedded_chunks)
            new = Manifest(embedder=self.embedder.model_id, generation=committed.generation + 1, files=files,
                           reading=READING)
            if report.added or report.changed or report.removed or rebuild or mended or bm25_broken or reread or \
                    (files and not old.files):
                self._commit(committed, new, new_nodes, rebuild or bm25_broken)
            else:
                new = replace(old, files=files)
                if moved or old.version != MANIFEST_VERSION:
                    self.store.commit(new)
            self._add_missing_sentences(new, report, progress)
            sentences.drop_orphans()
            self._collect_garbage(new)
            report.total_files = len(new.files)
            report.total_chunks = new.chunk_count
            report.seconds = time.monotonic() - started
            for path, reason in report.skipped:
                log.warning("skipped %s: %s", path, reason)
            log.info("indexed: %s", report.summary)
            return report

    def _mended_manifest(self, report: IndexReport, sources_dir: Path, paths: list[Path]) -> tuple[Manifest, bool]:
        """The committed manifest, mended: rebuilt from Chroma when unreadable, and without the
        files whose chunks Chroma lost (their paths join `paths`, so they are embedded again).
        True when it differs from what is on disk."""
        try:
            manifest, mended = self.store.load_manifest(), False
        except DamagedIndexError as exc:
            manifest, mended = recover_manifest(self.store, sources_dir, self.embedder.model_id), True
            report.warnings.append(f"{str(exc).split(';')[0]}; rebuilt it from the chunks in Chroma "
                                   f"({len(manifest.files)} files recovered)")
        missing = missing_chunks(self.store, manifest)
        if missing:
            report.warnings.append(f"{sum(missing.values())} chunks of {len(missing)} files were missing from "
                                   "Chroma; embedding those files again")
            lost = [Path(manifest.files[key].path) for key in missing]
            paths.extend(p for p in lost if p.is_file() and not any(p.is_relative_to(t) for t in paths if t.is_dir()))
            manifest = replace(manifest, files={k: e for k, e in manifest.files.items() if k not in missing})
            mended = True
        return manifest, mended

    def _add_missing_sentences(self, manifest: Manifest, report: IndexReport, progress: ProgressFn | None) -> None:
        """Embed the sentences of indexed files that have none stored (an index built before
        sentence vectors were kept): answers are faster from the next question on."""
        stored = self.store.sentences.files()
        missing = [(key, entry) for key, entry in manifest.files.items() if entry.sha256 not in stored]
        for start in range(0, len(missing), _SENTENCE_FILES):
            batch = []
            for key, entry in missing[start : start + _SENTENCE_FILES]:
                source = self.store.load_text(entry.sha256) or self._read(Path(entry.path), entry.sha256)
                if source is not None:
                    batch.append((entry.sha256, file_sentences(source, key)))
            report.embedded_sentences += self.store.sentences.add(batch, self.embedder.embed)
            if progress:
                progress(min(start + _SENTENCE_FILES, len(missing)), len(missing), report.embedded_chunks)

    def _read(self, path: Path, digest: str) -> SourceText | None:
        """The text of `path` if it still has content hash `digest`."""
        try:
            return self.reader.read(path) if file_digest(path) == digest else None
        except Exception:  # noqa: BLE001  changed, gone or unreadable since: the next run indexes it again
            return None

    def _chunk(self, item: FoundFile, digest: str, report: IndexReport,
               reread: bool = False) -> tuple[SourceText, list[TextNode]] | None:
        try:
            source = self.reader.read(item.path)
        except (SourceError, OSError) as exc:
            report.skipped.append((str(item.path), str(exc)))
            return None
        except Exception as exc:  # noqa: BLE001  a parser's own failure (lxml, pypdf) skips this file only
            report.skipped.append((str(item.path), f"unreadable file ({type(exc).__name__}: {exc})"[:300]))
            return None
        report.warnings.extend(f"{item.key}: {w}" for w in source.warnings)
        if source.extracted:
            self.store.save_text(digest, source, replace=reread)
        metadata: dict[str, Any] = {"source": item.key, "file_sha": digest, "body_start": source.body_start,
                                    "page_starts": source.page_starts}
        metadata.update(source.metadata)
        if "title" not in metadata and (named := path_title(item.key)):
            metadata[PATH_TITLE_KEY] = named
        nodes = self.chunker.chunk_document(Document(text=source.text, metadata=metadata))
        if not nodes:
            report.skipped.append((str(item.path), "no text to index"))
            return None
        return source, nodes

    def _embed_and_store(self, nodes: list[TextNode], run_vectors: dict[str, np.ndarray], reuse: bool) -> tuple[int, int]:
        """Embed and write `nodes`; (embedded, reused) counts. A chunk whose exact text this run has
        embedded or fetched (`run_vectors`) or, with `reuse`, Chroma holds (a renamed or copied file)
        takes that vector instead of running the model."""
        if not nodes:
            return 0, 0
        shas = {n.metadata["text_sha"] for n in nodes}
        known = {sha: run_vectors[sha] for sha in shas if sha in run_vectors}
        if reuse and len(known) < len(shas):
            known.update(self.store.vectors_by_text_sha(sorted(shas - known.keys())))
        # One model run a text: a copy in the same batch takes the first one's vector.
        fresh = list({n.metadata["text_sha"]: n for n in reversed(nodes) if n.metadata["text_sha"] not in known}.values())
        vectors = self.embedder.embed([n.get_content(metadata_mode=MetadataMode.EMBED) for n in fresh])
        known.update((n.metadata["text_sha"], vector) for n, vector in zip(fresh, vectors, strict=True))
        for node in nodes:
            node.embedding = known[node.metadata["text_sha"]].tolist()
        for sha, vector in known.items():
            _remember(run_vectors, sha, vector)
        self.store.add(nodes)
        for node in nodes:  # kept until the commit for their text only: 12 KB of floats a chunk
            node.embedding = None
        return len(fresh), len(nodes) - len(fresh)

    def _commit(self, old: Manifest, new: Manifest, new_nodes: list[TextNode], rebuild: bool) -> None:
        from citebot.retrieve import build_bm25

        live = new.chunk_ids()
        if live:
            previous = None if rebuild or not old.files else self.store.bm25_dir(old)
            self.store.save_bm25(*build_bm25(previous, live, new_nodes, self.store.nodes), new)
        self.store.commit(new)
        self.store.prune_bm25(new)
        self.store.prune_texts(new)
        self.store.sentences.prune({e.sha256 for e in new.files.values()})

    def _collect_garbage(self, manifest: Manifest) -> None:
        """Delete chunks no committed file names (old versions, leftovers of a killed run)."""
        live = manifest.chunk_ids()
        if self.store.collection.count() != len(live):
            self.store.delete(self.store.all_ids() - live)

