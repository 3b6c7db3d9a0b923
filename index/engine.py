"""The narrow waist: adapters call `Engine.ask` and `Engine.reindex`, nothing else of the core."""

from __future__ import annotations

import functools
import logging
import os
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from citebot.answer import ExtractiveAnswerer, clauses, needs_context, resolve_followup
from citebot.config import Settings
from citebot.doctor import DoctorReport, check
from citebot.errors import NoIndexError, QuestionError, SourceError
from citebot.evidence import SubjectTerms, named_documents, without_words
from citebot.gaps import Gap, QuestionLog
from citebot.intake import copy_samples, safe_filename, save_new_file
from citebot.llm import LLMAnswerer, TokenSink
from citebot.models import AddedSource, Answer, Citation, IndexReport, SourceInfo, Turn
from citebot.sources import SourceCache, SourceText, file_digest
from citebot.store import ChunkStore, FileEntry, Manifest

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from llama_index.core.schema import NodeWithScore

    from citebot.embedding import OnnxSentenceEmbedding
    from citebot.ingest import ProgressFn
    from citebot.retrieve import HybridRetriever

MAX_QUESTION_CHARS = 2000  # longer input is cut: the embedder reads 256 tokens anyway




@functools.lru_cache(maxsize=4096)
def _has_digest(path: str, size: int, mtime_ns: int, sha256: str) -> bool:
    """True when the file at `path` has content hash `sha256` (size and time: the version asked about)."""
    return file_digest(Path(path)) == sha256


def clean_question(text: str) -> str:
    """Printable text of `text`, whitespace folded; control and zero-width characters dropped."""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(kept.split())[:MAX_QUESTION_CHARS]


def _joined(first: list[NodeWithScore], then: list[NodeWithScore]) -> list[NodeWithScore]:
    """`first`, then the passages of `then` it lacks."""
    have = {hit.node.node_id for hit in first}
    return first + [hit for hit in then if hit.node.node_id not in have]


class Engine:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()
        self.store = ChunkStore(self.settings)
        self._lock = threading.Lock()
        self._embedder: OnnxSentenceEmbedding | None = None
        self._retriever: HybridRetriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._llm_answerer: LLMAnswerer | None = None  # set in LLM mode
        self._loaded_stamp: tuple[int, int] | None = None
        self._manifest = Manifest()
        self._source_cache = SourceCache()
        # Texts kept at indexing, by file content hash (None: that file has none, plain text),
        # looked up once: every sentence of a file asks. (lru_cache is safe across answer threads.)
        self._kept_text = functools.lru_cache(maxsize=256)(self.store.load_text)
        self._questions: QuestionLog | None = None

    @property
    def embedder(self) -> OnnxSentenceEmbedding:
        if self._embedder is None:
            from citebot.embedding import OnnxSentenceEmbedding

            self._embedder = OnnxSentenceEmbedding(self.settings.embedder, self.settings.embed_batch_size)
        return self._embedder

    @property
    def questions(self) -> QuestionLog:
        """The log of asked questions and feedback (adapters record answers in it)."""
        if self._questions is None:
            self._questions = QuestionLog(self.settings.data_dir / "questions.sqlite3")
        return self._questions

    def gaps(self, limit: int = 10) -> list[Gap]:
        """The questions the documents did not answer (refused, or marked unhelpful), grouped."""
        return self.questions.gaps(self.embedder.embed, limit)

    def ask(self, question: str, history: Sequence[Turn | str] = (), on_token: TokenSink | None = None,
            as_of: date | None = None) -> Answer:
        """Answer from the documents as they stood on `as_of` (default: today; see
        HybridRetriever.retrieve). `history` holds the conversation's earlier turns, oldest first
        (a bare string is a question whose answer is not known). In LLM mode `on_token` receives
        the model's text as it streams (unverified: the returned Answer is what was checked)."""
        text = clean_question(question)
        if not text:
            raise QuestionError("The question is empty: type a question about the documents.")
        retriever, answerer = self._current()
        turns = self._turns(text, history, as_of, answerer.subjects)
        resolved, search_query = resolve_followup(text, turns, answerer.subjects)
        if self._llm_answerer is not None:
            search_query = self._llm_answerer.condense(text, turns, search_query)
        candidates = retriever.retrieve(search_query, self.settings.candidates_k, as_of)
        hits = candidates[: self.settings.top_k]
        if self._llm_answerer is not None:
            return self._llm_answerer.answer(text, search_query, hits, on_token)
        named = named_documents(resolved, candidates, self.settings.top_k)
        if named:
            # Each part is asked without the words naming the other parts: "…of ninja and of tmux"
            # asked of ninja's files needs no mention of tmux.
            parts = [(without_words(resolved, others), query, self._part(retriever, query, sources, as_of))
                     for word, sources in named.items()
                     for others in [set(named) - {word}] for query in [without_words(search_query, others)]]
            answer = answerer.combine(resolved, search_query, parts, retriever.mentions)
        elif len(asked := clauses(resolved)) > 1:
            # Each clause from its own passages first, then the whole question's: "Which allocator
            # does Redis use, and which field of debian/control …?" has its second answer elsewhere.
            parts = [(clause, query, _joined(retriever.retrieve(query, self.settings.top_k, as_of), hits))
                     for clause, query in zip(asked, answerer.clause_queries(asked, search_query), strict=True)]
            answer = answerer.combine(resolved, search_query, parts, retriever.mentions)
        else:
            # A follow-up asks for what the last answer lacked; one asked of a new subject ("What
            # about the session bus?", the query the swapped question itself) may find it said.
            said = turns[-1].answer if turns and search_query not in (text, resolved) else ""
            answer = answerer.answer(resolved, search_query, hits, retriever.mentions, said)
        return replace(answer, question=text, resolved_question=resolved if resolved != text else "")

    def _part(self, retriever: HybridRetriever, query: str, sources: set[str], as_of: date | None) -> list[NodeWithScore]:
        """The best passages of `sources` for `query`."""
        found = retriever.retrieve(query, self.settings.candidates_k, as_of)
        # All of the named documents' candidates, not only top_k: the part is one document.
        return [hit for hit in found if hit.node.metadata.get("source") in sources]

    def _turns(self, question: str, history: Sequence[Turn | str], as_of: date | None,
               subjects: SubjectTerms) -> list[Turn]:
        """The last `history_turns` turns, cleaned. When the question leans on the last turn and
        its answer is not known (a history of questions only, as `--history` gives), that turn is
        answered first, as it was when the conversation happened."""
        turns = [h if isinstance(h, Turn) else Turn(str(h)) for h in history][-self.settings.history_turns :]
        turns = [Turn(clean_question(t.question), t.answer) for t in turns if clean_question(t.question)]
        if turns and not turns[-1].answer and needs_context(question, subjects):
            turns[-1] = self.ask(turns[-1].question, turns[:-1], as_of=as_of).turn()
        return turns

    def reindex(self, paths: Sequence[Path] | None = None, rebuild: bool = False,
                progress: ProgressFn | None = None, wait: bool = False) -> IndexReport:
        """Index `paths` (default: the sources folder, first filled with the sample documents
        when it does not exist yet). With `wait`, queue behind a running indexer instead of failing."""
        from citebot.chunking import LineChunker
        from citebot.ingest import Indexer

        samples = 0 if paths else copy_samples(self.settings.sources)
        chunker = LineChunker(
            count_tokens=self.embedder.count_tokens,
            chunk_tokens=self.settings.chunk_tokens,
            overlap_lines=self.settings.chunk_overlap_lines,
            model_id=self.embedder.model_id,
        )
        targets = list(paths) if paths else [self.settings.sources]
        indexer = Indexer(self.store, self.embedder, chunker)
        report = indexer.run(targets, self.settings.sources, rebuild, progress, wait)
        if samples:
            report.warnings.insert(0, f"{self.settings.sources} did not exist: created it with {samples} sample "
                                      "documents; put your own documents there (or set CITEBOT_SOURCES_DIR)")
        with self._lock:
            self._loaded_stamp = None  # answer from the new index from the next question on
        return report

    def add_source(self, name: str, data: bytes) -> AddedSource:
        """Save `data` as a new file of the sources folder (name cleaned, never an overwrite) and
        index it, queued behind any running indexer. A file that cannot be indexed is removed
        again and raises SourceError saying why."""
        saved = save_new_file(self.settings.sources, name, data)
        try:
            report = self.reindex(wait=True)
        except BaseException:
            saved.unlink(missing_ok=True)
            raise
        problem = next((reason for path, reason in report.skipped if Path(path) == saved), None)
        if problem:
            saved.unlink(missing_ok=True)
            raise SourceError(f"{saved.name}: {problem}")
        return AddedSource(saved.name, safe_filename(name), report)

    def doctor(self, repair: bool = False) -> DoctorReport:
        """What is wrong with the data folder; with `repair`, index (which mends all of it that
        can be mended from Chroma and the files) and check again."""
        report = DoctorReport(check(self.store, self.settings.sources))
        if repair and report.findings:
            self.reindex(wait=True)
            report.repaired, report.remaining = True, check(self.store, self.settings.sources)
        return report

    def verify(self, citation: Citation) -> bool:
        """True when the quote is verbatim in the cited file, within the cited lines (and page)."""
        entry = self._manifest.files.get(citation.source) or self.store.load_manifest().files.get(citation.source)
        source = self._text_of(entry) if entry else None
        if source is None or not citation.quote:
            return False
        return citation.quote in source.lines(citation.start_line, citation.end_line, citation.page)

    def sources(self) -> list[SourceInfo]:
        manifest = self.store.load_manifest()
        return [SourceInfo(key, e.chunks, e.path) for key, e in sorted(manifest.files.items())]

    def _current(self) -> tuple[HybridRetriever, ExtractiveAnswerer]:
        """The retriever for the committed index, reloaded when another process re-indexed."""
        with self._lock:
            stamp = self._manifest_stamp()
            if stamp is None:
                raise NoIndexError(f"No index in {self.settings.data_dir} yet: run `citebot index` first.")
            if stamp != self._loaded_stamp or self._retriever is None:
                from citebot.retrieve import HybridRetriever

                self._manifest = self.store.load_manifest()
                self._kept_text.cache_clear()  # a re-index may have kept texts for files that had none
                if self._retriever is not None and self._manifest.writer != self.store.instance_id:
                    log.info("another process re-indexed %s; reopening the store", self.settings.data_dir)
                    self.store.reopen()
                if not self._manifest.files:
                    raise NoIndexError("The index is empty: add documents and run `citebot index`.")
                self._retriever = HybridRetriever(self.store, self.embedder, self.settings, self._manifest)
                self._loaded_stamp = stamp
            if self._answerer is None:
                answerer = ExtractiveAnswerer(
                    self.embedder,
                    self._source_text,
                    refusal_text=self.settings.prompt("refusal.txt"),
                    threshold=self.settings.refusal_threshold,
                    max_sentences=self.settings.answer_sentences,
                    max_embedded=self.settings.scored_sentences,
                    stored_vectors=self.store.sentences.lookup,
                )
                # Both or neither: a failed LLM build fails every question alike, never silently
                # falls back to extractive answers from the second question on.
                self._llm_answerer = self._make_llm_answerer(answerer) if self.settings.llm else None
                self._answerer = answerer
            return self._retriever, self._answerer

    def _make_llm_answerer(self, extractive: ExtractiveAnswerer) -> LLMAnswerer:
        from citebot.llm import build_llm

        prompt = self.settings.prompt
        return LLMAnswerer(build_llm(self.settings), extractive, prompt("answer.txt"), prompt("condense.txt"),
                           prompt("fallback_note.txt"))

    def _source_text(self, key: str) -> SourceText | None:
        entry = self._manifest.files.get(key)
        return self._text_of(entry) if entry else None

    def _text_of(self, entry: FileEntry) -> SourceText | None:
        """The file's text as indexed: for an extracted format (PDF, DOCX, HTML) the text kept at
        indexing, while the file on disk holds what was indexed; else read from disk."""
        path = Path(entry.path)
        try:
            stat = path.stat()
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime) == (entry.size, entry.mtime) or self._same_content(path, stat, entry.sha256):
            kept = self._kept_text(entry.sha256)
            if kept is not None:
                return kept
        return self._source_cache.get(path)

    def _same_content(self, path: Path, stat: os.stat_result, sha256: str) -> bool:
        """True when the file, touched since indexing (copied back, checked out again), still has
        content hash `sha256`; hashed once per size and time. Read again instead, a PDF whose reader
        changed since gave other text than the one indexed, and no hit of it could be quoted."""
        try:
            return _has_digest(str(path), stat.st_size, stat.st_mtime_ns, sha256)
        except OSError:
            return False

    def _manifest_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.store.manifest_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_ino
