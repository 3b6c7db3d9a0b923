"""The same ingest, query and re-index paths against a real Chroma server (HttpClient)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from citebot.store import StoreError
from tests.conftest import assert_verbatim, free_port, make_engine


def server_engine(tmp_path, corpus, server):
    return make_engine(tmp_path / "data", corpus, chroma_host="127.0.0.1", chroma_port=server.port,
                       collection=f"test-{uuid.uuid4().hex[:8]}")


def test_index_ask_and_reindex_on_a_chroma_server(tmp_path, corpus, chroma_server):
    engine = server_engine(tmp_path, corpus, chroma_server)
    first = engine.reindex()
    assert len(first.added) == 2 and engine.store.collection.count() == first.total_chunks
    answer = engine.ask("Which five minerals did Beijing put under export controls?")
    assert "tellurium" in answer.text
    for citation in answer.citations:
        assert_verbatim(citation, corpus)

    (corpus / "001_8be9586db7580ad7.txt").unlink()
    (corpus / "new.md").write_text("# Nickel\n\nThe Sudbury nickel basin was formed by a meteorite impact.\n")
    report = engine.reindex()
    assert report.added == ["new.md"] and report.removed == ["001_8be9586db7580ad7.txt"]
    assert engine.store.collection.count() == report.total_chunks
    assert "meteorite" in engine.ask("How was the Sudbury nickel basin formed?").text
    assert not engine.ask("Which US Treasury Secretary travelled to Kyiv?").answerable or \
        all(c.source != "001_8be9586db7580ad7.txt" for c in engine.ask("Which US Treasury Secretary travelled to Kyiv?").citations)


def test_a_server_that_is_down_is_a_clear_error(tmp_path, corpus):
    engine = make_engine(tmp_path / "data", corpus, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match="Chroma server at 127.0.0.1"):
        engine.reindex()
    env = {**os.environ, "CITEBOT_DATA_DIR": str(tmp_path / "data"), "CHROMA_HOST": "127.0.0.1",
           "CHROMA_PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "citebot.bot", "index", str(corpus)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1 and "is not available" in result.stderr and "Traceback" not in result.stderr


def test_the_bot_recovers_when_the_server_restarts(tmp_path, corpus):
    from tests.conftest import ChromaServer

    server = ChromaServer(tmp_path / "chroma").start()
    try:
        engine = server_engine(tmp_path, corpus, server)
        engine.reindex()
        assert engine.ask("What is indium used for?").answerable
        server.stop()
        with pytest.raises(StoreError, match="may be restarting"):
            engine.ask("What is indium used for?")
        server.start()
        answer = engine.ask("What is indium used for?")  # the same engine, no restart
        assert answer.answerable and "touch screens" in answer.text
    finally:
        server.stop()


def test_an_embedded_index_moves_to_a_server_without_reindexing(tmp_path, corpus):
    """The README's move: stop the bot, `chroma run --path DATA/chroma`, set CHROMA_HOST."""
    from tests.conftest import ChromaServer

    data = tmp_path / "data"
    question = "Which five minerals did Beijing put under export controls?"
    embedded = make_engine(data, corpus)
    built = embedded.reindex()
    before = embedded.ask(question)
    del embedded  # the embedded process stops before the server opens its folder
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data)}
    server = ChromaServer(data / "chroma").start()
    try:
        served = make_engine(data, corpus, chroma_host="127.0.0.1", chroma_port=server.port)
        assert served.store.collection.count() == built.total_chunks
        assert served.ask(question).citations == before.citations
        report = served.reindex()  # nothing to embed again
        assert report.embedded_chunks == 0 and len(report.unchanged) == 2
        result = subprocess.run([sys.executable, "-m", "citebot.bot", "ask", "--json", question], capture_output=True, text=True,
                                env=env | {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port)}, timeout=120)
        assert result.returncode == 0 and "tellurium" in result.stdout, result.stderr
    finally:
        server.stop()
