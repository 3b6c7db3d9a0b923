"""Chunking and incremental indexing against real Chroma and the real embedder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from llama_index.core.schema import Document

from citebot.chunking import LineChunker, sentence_spans
from citebot.embedding import OnnxSentenceEmbedding
from citebot.sentences import file_sentences
from citebot.sources import read_source
from tests.conftest import SEEDS, assert_at_lines, make_engine


def _chunker(tokens: int = 60) -> LineChunker:
    return LineChunker(count_tokens=lambda text: len(text.split()), chunk_tokens=tokens)


def _chunks(path: Path, tokens: int = 60):
    source = read_source(path)
    doc = Document(text=source.text, metadata={"source": path.name, "file_sha": "x", "body_start": source.body_start})
    return source, _chunker(tokens).chunk_document(doc)


def _check_ranges(path: Path, chunks) -> None:
    for node in chunks:
        assert_at_lines(path, node.metadata["start_line"], node.metadata["end_line"], node.text)


def test_chunk_line_ranges_match_the_file():
    for path in SEEDS.iterdir():
        source, chunks = _chunks(path)
        assert len(chunks) > 2
        _check_ranges(path, chunks)
        # Chunks cover every non-blank line of the file.
        covered = {n for c in chunks for n in range(c.metadata["start_line"], c.metadata["end_line"] + 1)}
        lines = source.text.split("\n")
        assert all(i + 1 in covered for i, line in enumerate(lines) if line.strip())


def test_front_matter_and_long_lines(tmp_path):
    long_line = " ".join(f"Sentence number {i} talks about item{i}." for i in range(80))
    path = tmp_path / "doc.md"
    path.write_text(f"---\ntitle: \"A title\"\nurl: https://example.org/x\n---\n\n# Heading\n\n{long_line}\n\nTail line.\n")
    source, chunks = _chunks(path, tokens=50)
    assert source.metadata == {"title": "A title", "url": "https://example.org/x"}
    assert all(c.metadata["start_line"] >= 6 for c in chunks)  # front matter is not content
    assert sum(1 for c in chunks if c.metadata["start_line"] == c.metadata["end_line"] == 8) >= 5
    _check_ranges(path, chunks)


def test_sentence_spans_keep_abbreviations_together():
    text = "Vice President J.D. Vance met Mr. Smith in the U.S. capital. Then he left! Did he?"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Vice President J.D. Vance met Mr. Smith in the U.S. capital.", "Then he left!", "Did he?",
    ]


def test_a_blank_line_ends_a_sentence_unless_a_colon_or_a_headline_leads_into_what_follows():
    text = ("Bug reports are welcome. Please send by email to:\n\n\tlist@example.org\n\nOr open an issue.\n"
            "FreeType 2.12.1\n\nHomepage: https://example.org\n\nIt renders fonts,\nwrapped at the line.\n\n"
            "etc.\n\nand so on.\n\nHeat waves\n\nFires burned across Europe.\n\n[![badge](b.svg)](ci)\n\nDocs are online.")
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Bug reports are welcome.", "Please send by email to:\n\n\tlist@example.org", "Or open an issue.",
        "FreeType 2.12.1", "Homepage: https://example.org", "It renders fonts,\nwrapped at the line.", "etc.", "and so on.",
        "Heat waves\n\nFires burned across Europe.", "[![badge](b.svg)](ci)", "Docs are online.",
    ]


def test_a_headline_is_a_whole_line_and_a_run_of_them_goes_with_the_paragraph_below():
    text = ("BREAKFAST BROWSE\n\n'Squid Game' season 2 is coming to Netflix\n\nGreen light! The series is making a"
            " return\n\nTony Awards\n\nBroadway's best were recognized Sunday night.\n\n4. Heat waves\n\nFires burned.")
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "BREAKFAST BROWSE\n\n'Squid Game' season 2 is coming to Netflix\n\nGreen light!",
        "The series is making a return",  # the end of a line, not a headline over "Tony Awards"
        "Tony Awards\n\nBroadway's best were recognized Sunday night.", "4.", "Heat waves\n\nFires burned.",
    ]


def test_incremental_reindex(tmp_path, corpus):
    engine = make_engine(tmp_path / "data", corpus)
    first = engine.reindex()
    assert sorted(first.added) == sorted(p.name for p in SEEDS.iterdir())
    chunks_before = first.total_chunks

    again = engine.reindex()
    assert again.embedded_chunks == 0 and len(again.unchanged) == 2 and again.total_chunks == chunks_before

    (corpus / "new.md").write_text("# Zinc\n\nThe zinc mine of Quxville produces 42 tonnes a day.\n")
    changed = corpus / "001_8be9586db7580ad7.txt"
    changed.write_text(changed.read_text().replace("Scott Bessent", "Janet Example"))
    report = engine.reindex()
    assert report.added == ["new.md"] and report.changed == ["001_8be9586db7580ad7.txt"]
    assert engine.store.collection.count() == report.total_chunks  # old version's chunks are gone
    answer = engine.ask("How many tonnes a day does the Quxville zinc mine produce?")
    assert answer.answerable and "42 tonnes" in answer.text and answer.citations[0].source == "new.md"
    assert "Janet Example" in engine.ask("Which US Treasury Secretary travelled to Kyiv?").text

    os.remove(corpus / "new.md")
    report = engine.reindex()
    assert report.removed == ["new.md"] and engine.store.collection.count() == report.total_chunks == chunks_before
    assert "new.md" not in {s.source for s in engine.sources()}


def test_bad_files_are_skipped_and_the_rest_indexed(tmp_path, corpus):
    (corpus / "empty.txt").write_text("")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (corpus / "latin1.txt").write_bytes("Caf\xe9 au lait costs 3 euros in Mont\xe9limar.".encode("latin-1"))
    (corpus / "image.png").write_bytes(b"\x89PNG")
    engine = make_engine(tmp_path / "data", corpus)
    report = engine.reindex()
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "image.png"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert any("latin1.txt" in w and "UTF-8" in w for w in report.warnings)
    assert "latin1.txt" in {s.source for s in engine.sources()} and len(report.added) == 3


def test_a_killed_run_leaves_no_visible_orphans(tmp_path, corpus):
    """Chunks written without a manifest commit are invisible and collected next run."""
    engine = make_engine(tmp_path / "data", corpus)
    engine.reindex()
    count = engine.store.collection.count()
    committed = engine.store.load_manifest()
    # Simulate a run killed after embedding a changed file but before its commit.
    changed = corpus / "000_9a5dfcf5d4d692d9.txt"
    changed.write_text(changed.read_text() + "\nA brand new closing line about cobalt.\n")
    from citebot.ingest import Indexer

    indexer = Indexer(engine.store, engine.embedder, _chunker(200))
    indexer.store.commit = lambda manifest: (_ for _ in ()).throw(KeyboardInterrupt())
    try:
        indexer.run([corpus], corpus)
    except KeyboardInterrupt:
        pass
    assert engine.store.collection.count() > count
    assert engine.store.load_manifest().files == committed.files
    assert all(c.source != "000_9a5dfcf5d4d692d9.txt" or "cobalt" not in c.quote
               for c in engine.ask("What closing line mentions cobalt?").citations)
    del engine.store.commit
    report = engine.reindex()
    assert report.changed == ["000_9a5dfcf5d4d692d9.txt"]
    assert engine.store.collection.count() == report.total_chunks


def test_incremental_bm25_matches_a_full_rebuild(tmp_path, corpus):
    engine = make_engine(tmp_path / "data", corpus)
    engine.reindex()
    (corpus / "extra.md").write_text("# Cobalt\n\nCobalt output in Katanga rose sharply last year.\n")
    (corpus / "001_8be9586db7580ad7.txt").unlink()
    engine.reindex()
    incremental = engine.store.load_manifest()

    fresh = make_engine(tmp_path / "fresh", corpus)
    fresh.reindex()
    from citebot.retrieve import HybridRetriever

    def bm25_ranking(e, manifest):
        retriever = HybridRetriever(e.store, e.embedder, e.settings, manifest, mode="bm25")
        return [(h.node.node_id, round(h.score, 4)) for h in retriever.retrieve("cobalt Katanga minerals Trump", 10)]

    assert bm25_ranking(engine, incremental) == bm25_ranking(fresh, fresh.store.load_manifest())
    # Loaded memory-mapped: worker processes on one machine share the index's pages.
    import numpy as np

    loaded = HybridRetriever(engine.store, engine.embedder, engine.settings, incremental, mode="bm25")
    assert isinstance(loaded._bm25.bm25.scores["data"], np.memmap)


def test_a_moved_folder_is_not_re_embedded(tmp_path, corpus):
    engine = make_engine(tmp_path / "data", corpus)
    engine.reindex()
    moved = corpus.rename(tmp_path / "moved")
    report = make_engine(tmp_path / "data", moved).reindex()
    assert report.embedded_chunks == 0 and len(report.unchanged) == 2 and not report.removed
    answer = make_engine(tmp_path / "data", moved).ask("What is indium used for?")
    assert answer.answerable
    for citation in answer.citations:
        assert_at_lines(moved / citation.source, citation.start_line, citation.end_line, citation.quote)


def test_a_better_reading_reads_every_file_again_and_keeps_unchanged_vectors(tmp_path, corpus, monkeypatch):
    """After an upgrade that reads files differently (ingest.READING), the next run reads every
    indexed file again; chunks that come out the same are not embedded again."""
    import citebot.ingest

    engine = make_engine(tmp_path / "data", corpus)
    first = engine.reindex()
    assert engine.store.load_manifest().reading == citebot.ingest.READING
    monkeypatch.setattr(citebot.ingest, "READING", citebot.ingest.READING + 1)
    again = engine.reindex()
    assert sorted(again.changed) == sorted(first.added) and again.embedded_chunks == 0, again
    assert any("read better" in w for w in again.warnings)
    assert engine.store.load_manifest().reading == citebot.ingest.READING
    assert sorted(engine.reindex().unchanged) == sorted(first.added)


def test_rebuild_re_embeds_everything_and_keeps_ids(tmp_path, corpus):
    engine = make_engine(tmp_path / "data", corpus)
    first = engine.reindex()
    ids = engine.store.load_manifest().chunk_ids()
    rebuilt = engine.reindex(rebuild=True)
    assert rebuilt.embedded_chunks == first.total_chunks == rebuilt.total_chunks
    assert engine.store.load_manifest().chunk_ids() == ids and engine.store.collection.count() == len(ids)


def test_renamed_and_copied_files_reuse_stored_vectors(tmp_path, corpus):
    engine = make_engine(tmp_path / "data", corpus)
    first = engine.reindex()
    (corpus / "000_9a5dfcf5d4d692d9.txt").rename(corpus / "renamed.txt")
    (corpus / "copy").mkdir()
    (corpus / "copy" / "seed.txt").write_text((corpus / "001_8be9586db7580ad7.txt").read_text())
    report = engine.reindex()
    assert sorted(report.added) == ["copy/seed.txt", "renamed.txt"] and report.removed == ["000_9a5dfcf5d4d692d9.txt"]
    unchanged = engine.store.load_manifest().files["001_8be9586db7580ad7.txt"].chunks
    assert report.embedded_chunks == 0 and report.reused_chunks == report.total_chunks - unchanged > 0
    assert report.total_chunks > first.total_chunks and engine.store.collection.count() == report.total_chunks
    answer = engine.ask("Which five minerals did Beijing put under export controls?")
    assert answer.citations[0].source == "renamed.txt"
    # A rebuild takes no stored vector: it runs the model once on every distinct text.
    rebuilt = engine.reindex(rebuild=True)
    copied = engine.store.load_manifest().files["copy/seed.txt"].chunks
    assert rebuilt.reused_chunks == copied and rebuilt.embedded_chunks == rebuilt.total_chunks - copied


def test_copies_indexed_in_one_run_are_embedded_once(tmp_path, corpus):
    """The second copy of a text in a run takes the first one's vector, from memory or from Chroma."""
    text = (corpus / "001_8be9586db7580ad7.txt").read_text()
    for folder in ("a", "b", "c"):
        (corpus / folder).mkdir()
        (corpus / folder / "seed.txt").write_text(text)
    engine = make_engine(tmp_path / "data", corpus)
    report = engine.reindex()
    copy_chunks = engine.store.load_manifest().files["a/seed.txt"].chunks
    assert report.reused_chunks == 3 * copy_chunks and report.embedded_chunks == report.total_chunks - 3 * copy_chunks
    stored = engine.store.collection.get(ids=engine.store.load_manifest().ids_of("c/seed.txt"),
                                         include=["embeddings"])["embeddings"]
    assert all(float(v @ v) > 0.99 for v in stored)  # real unit vectors, not placeholders


def test_a_long_first_run_commits_as_it_goes_and_an_interrupted_one_continues(tmp_path, monkeypatch):
    """Killed after some files, a first run leaves those answerable; the next run does the rest."""
    import citebot.ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(6):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nThe depot number {n} stores {n + 10} crates of tin.\n")
    monkeypatch.setattr(citebot.ingest, "COMMIT_EVERY", 1)  # commit after each embedding round
    monkeypatch.setattr(citebot.ingest, "_EMBED_BATCH", 1)
    engine = make_engine(tmp_path / "data", docs)
    store_add, calls = engine.store.add, []

    def add_then_die(nodes):
        calls.append(nodes)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the process is killed while writing the fourth file
        store_add(nodes)

    monkeypatch.setattr(engine.store, "add", add_then_die)
    try:
        engine.reindex()
    except KeyboardInterrupt:
        pass
    committed = engine.store.load_manifest()
    assert 1 <= len(committed.files) <= 3  # the interim commits so far; the batches double in size
    first = sorted(committed.files)[0]
    assert first in {c.source for c in engine.ask(f"How many crates does depot {first[4]} store?").citations}
    monkeypatch.setattr(engine.store, "add", store_add)
    report = engine.reindex()
    assert sorted(report.unchanged) == sorted(committed.files) and len(report.added) == 6 - len(committed.files)
    assert report.total_files == 6 and engine.store.collection.count() == report.total_chunks


def test_concurrent_additions_queue_up_and_all_are_indexed(tmp_path):
    """Uploads arriving together wait their turn at the writer lock: none is refused as busy."""
    from concurrent.futures import ThreadPoolExecutor

    docs = tmp_path / "docs"
    docs.mkdir()
    engine = make_engine(tmp_path / "data", docs)
    notes = {f"note {n}.md": f"# Note {n}\n\nWarehouse {n} keeps {n} spare pumps.\n".encode() for n in range(6)}
    with ThreadPoolExecutor(6) as pool:
        added = list(pool.map(lambda item: engine.add_source(*item), notes.items()))
    assert sorted(a.name for a in added) == sorted(notes)
    assert sorted(s.source for s in engine.sources()) == sorted(notes)


def test_answers_look_up_the_sentence_vectors_indexing_stored(tmp_path, corpus, monkeypatch):
    """Every candidate sentence is embedded once, at indexing; answering embeds only the question;
    a removed file's sentences go; a missing or damaged store is computed again, and answers go on
    while it is damaged."""
    engine = make_engine(tmp_path / "data", corpus)
    report = engine.reindex()
    sentences = {path.name: file_sentences(read_source(path), path.name) for path in corpus.iterdir()}
    everything = {text for texts in sentences.values() for text in texts}
    assert report.embedded_sentences == len(everything) > 20
    assert engine.store.sentences.lookup(sorted(everything)).keys() == everything

    embedded: list[str] = []
    embed = OnnxSentenceEmbedding.embed
    monkeypatch.setattr(OnnxSentenceEmbedding, "embed", lambda self, texts: embedded.extend(texts) or embed(self, texts))
    answer = engine.ask("Who met Zelenskyy in Kyiv?")
    assert answer.answerable and not everything & set(embedded)

    shutil.copy(corpus / "000_9a5dfcf5d4d692d9.txt", corpus / "copy.txt")  # a copy brings no new sentence
    assert engine.reindex().embedded_sentences == 0
    (corpus / "copy.txt").unlink()

    removed = "001_8be9586db7580ad7.txt"
    only_there = set(sentences[removed]) - {t for name, texts in sentences.items() if name != removed for t in texts}
    (corpus / removed).unlink()
    assert engine.reindex().embedded_sentences == 0
    assert only_there and not engine.store.sentences.lookup(sorted(only_there))

    kept = set(next(texts for name, texts in sentences.items() if name != removed))
    store = tmp_path / "data" / "sentence-vectors.sqlite3"
    for leftover in store.parent.glob("sentence-vectors.sqlite3-*"):  # the write-ahead log
        leftover.unlink()
    store.write_bytes(b"not a database" * 100)
    damaged = make_engine(tmp_path / "data", corpus)
    embedded.clear()
    assert damaged.ask("What is indium used for?").answerable and kept & set(embedded)  # embedded instead
    assert damaged.reindex().embedded_sentences == len(kept)
    store.unlink()
    assert make_engine(tmp_path / "data", corpus).reindex().embedded_sentences == len(kept)


def test_a_change_of_sentence_splitting_embeds_only_the_sentences_cut_differently(tmp_path, monkeypatch):
    """Stored vectors belong to sentence texts: after an upgrade that splits one paragraph in two,
    re-indexing embeds those two and drops the old joined one, and every other vector is kept."""
    import citebot.ingest
    import citebot.sentences

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "readme.txt").write_text("Zapper 3.1 is a small tool.\n\nIt zaps the cache nightly.\n"
                                     "Run it with the force flag set.\n", encoding="utf-8")
    engine = make_engine(tmp_path / "data", docs)
    engine.reindex()
    before = set(file_sentences(read_source(docs / "readme.txt"), "readme.txt"))

    joined = ["Zapper 3.1 is a small tool. It zaps the cache nightly.", "Run it with the force flag set."]
    monkeypatch.setattr(citebot.sentences, "SPLITTING", citebot.sentences.SPLITTING + 1)
    monkeypatch.setattr(citebot.ingest, "file_sentences", lambda source, key: joined)  # the new release cuts like this
    report = make_engine(tmp_path / "data", docs).reindex()
    assert report.embedded_sentences == 1  # the joined sentence only; the other one was kept
    store = engine.store.sentences
    assert store.lookup(joined).keys() == set(joined)
    assert not store.lookup(sorted(before - set(joined)))  # vectors of sentences no file holds are gone


def test_in_double_spaced_text_a_blank_line_is_only_a_line_break():
    """Text copied out of a PDF with a blank line after every wrapped line keeps its sentences whole."""
    wrapped = "".join(f"Pump {n} of the plant was checked on a Monday and\n\nfound to work, said the\n\n"
                      f"engineer in charge.\n\n" for n in range(6))
    spans = [wrapped[s:e] for s, e in sentence_spans(wrapped)]
    assert spans[0] == "Pump 0 of the plant was checked on a Monday and\n\nfound to work, said the\n\nengineer in charge."
    assert len(spans) == 6
