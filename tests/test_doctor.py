"""A damaged data folder: one clear line when asking, mended by `citebot index` or `citebot doctor
--repair` from what is still there (the chunks in Chroma, the files on disk)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import citebot.doctor
from citebot import DamagedIndexError, StoreError
from tests.conftest import SEEDS, make_engine

QUESTION = "What is indium used for?"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """An indexed data folder (seeds copied as the sources) to copy and damage."""
    root = tmp_path_factory.mktemp("doctor")
    shutil.copytree(SEEDS, root / "docs")
    make_engine(root / "data", root / "docs").reindex()
    return root


@pytest.fixture()
def damaged(pristine, tmp_path):
    shutil.copytree(pristine / "data", tmp_path / "data")
    return tmp_path / "data", pristine / "docs"


def _truncate(data):
    path = data / "manifest.json"
    path.write_bytes(path.read_bytes()[:100])


DAMAGE = {
    "manifest truncated": _truncate,
    "manifest empty": lambda data: (data / "manifest.json").write_text(""),
    "manifest a list": lambda data: (data / "manifest.json").write_text("[]"),
    "manifest random bytes": lambda data: (data / "manifest.json").write_bytes(os.urandom(300)),
    "manifest without files": lambda data: (data / "manifest.json").write_text('{"version": 1}'),
    "keyword index deleted": lambda data: [shutil.rmtree(d) for d in data.glob("bm25-*")],
    "keyword index garbled": lambda data: [f.write_text("garbage") for f in data.glob("bm25-*/*")],
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_one_clear_error_and_index_mends_it(damaged, kind):
    data, docs = damaged
    DAMAGE[kind](data)
    engine = make_engine(data, docs)
    with pytest.raises(DamagedIndexError) as error:
        engine.ask(QUESTION)
    assert "\n" not in str(error.value) and "citebot" in str(error.value)
    assert [f.problem for f in engine.doctor().findings]  # the doctor names it too
    report = make_engine(data, docs).reindex()
    assert report.warnings and report.total_files == 2 and not report.embedded_chunks  # nothing re-embedded
    assert "touch screens" in make_engine(data, docs).ask(QUESTION).text
    assert make_engine(data, docs).doctor().findings == []


@pytest.mark.parametrize("damage", ["deleted", "garbled"])
def test_missing_sentence_vectors_are_named_and_filled_in(damaged, damage):
    """Answers work without them; the doctor names the files lacking them; indexing fills them in
    without embedding a chunk."""
    data, docs = damaged
    for path in data.glob("sentence-vectors.sqlite3*"):
        path.unlink()
    if damage == "garbled":
        (data / "sentence-vectors.sqlite3").write_bytes(os.urandom(4096))
    engine = make_engine(data, docs)
    assert "touch screens" in engine.ask(QUESTION).text
    assert [f.problem for f in engine.doctor().findings] == [
        "2 indexed files have no stored sentence vectors (answers embed their sentences, several times slower)"]
    report = make_engine(data, docs).reindex()
    assert report.embedded_sentences > 0 and not report.embedded_chunks
    assert make_engine(data, docs).doctor().findings == []


def test_a_lost_chroma_database_is_found_and_embedded_again(damaged):
    data, docs = damaged
    (data / "chroma" / "chroma.sqlite3").unlink()
    engine = make_engine(data, docs)
    (finding,) = engine.doctor().findings
    assert finding.problem == "16 chunks of 2 files are missing from Chroma"
    report = engine.doctor(repair=True)
    assert report.repaired and report.remaining == []
    assert engine.store.collection.count() == 16
    assert engine.ask(QUESTION).answerable


def test_orphan_chunks_and_rebuild_with_an_unreadable_manifest(damaged):
    data, docs = damaged
    engine = make_engine(data, docs)
    manifest = engine.store.load_manifest()
    gone = manifest.files.pop("001_8be9586db7580ad7.txt")
    engine.store.commit(manifest)  # its chunks stay in Chroma with no file naming them
    (finding,) = make_engine(data, docs).doctor().findings
    assert finding.problem == f"{gone.chunks} chunks in Chroma belong to no indexed file"
    (data / "manifest.json").write_text("{")
    report = make_engine(data, docs).reindex(rebuild=True)
    assert report.total_files == 2 and make_engine(data, docs).doctor().findings == []


def test_a_manifest_listing_chunk_ids_is_read_and_rewritten_as_counts(damaged):
    """A data folder of an older citebot (manifest version 1 listed every chunk id) answers as
    before; the next `citebot index` rewrites its manifest without re-embedding anything."""
    data, docs = damaged
    current = make_engine(data, docs)
    expected, manifest = current.ask(QUESTION), current.store.load_manifest()
    payload = json.loads((data / "manifest.json").read_text())
    payload["version"] = 1
    for key, entry in payload["files"].items():
        entry["chunk_ids"] = manifest.ids_of(key)
        del entry["chunks"]
    (data / "manifest.json").write_text(json.dumps(payload))
    old = make_engine(data, docs)
    assert old.ask(QUESTION) == expected
    report = old.reindex()
    assert report.embedded_chunks == 0 and report.total_chunks == manifest.chunk_count
    rewritten = json.loads((data / "manifest.json").read_text())
    assert rewritten["version"] == 2 and {e["chunks"] for e in rewritten["files"].values()} == \
        {e.chunks for e in manifest.files.values()}
    assert make_engine(data, docs).ask(QUESTION) == expected


def test_too_little_free_space_stops_indexing_before_it_starts(damaged, monkeypatch):
    data, docs = damaged
    monkeypatch.setattr(citebot.doctor, "MIN_FREE_BYTES", 2**62)
    before = (data / "manifest.json").read_bytes()
    with pytest.raises(StoreError, match=r"^only \d+ MB free in .*; free some space and index again"):
        make_engine(data, docs).reindex()
    assert (data / "manifest.json").read_bytes() == before
    assert make_engine(data, docs).ask(QUESTION).answerable  # answering goes on


def test_citebot_doctor_command(damaged):
    data, docs = damaged
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data), "CITEBOT_SOURCES_DIR": str(docs)}

    def doctor(*args):
        return subprocess.run([sys.executable, "-m", "citebot.bot", "doctor", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    assert doctor().stdout == f"ok: nothing wrong in {data}\n"
    (data / "manifest.json").write_text("")
    found = doctor()
    assert found.returncode == 1 and found.stdout.startswith("problem the manifest ")
    ask = subprocess.run([sys.executable, "-m", "citebot.bot", "ask", QUESTION], capture_output=True, text=True,
                         env=env, timeout=300)
    assert ask.returncode == 1 and ask.stderr.count("\n") == 1 and "is unreadable" in ask.stderr
    repaired = doctor("--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    assert json.loads(repaired.stdout)["repaired"] is True and json.loads(repaired.stdout)["remaining"] == []
