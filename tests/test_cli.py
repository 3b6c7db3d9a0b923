"""The `citebot` command as a user runs it: real processes, real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SEEDS, assert_verbatim


def citebot(data_dir, *args, stdin: str | None = None):
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "citebot.bot", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-index")
    result = citebot(folder, "index", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["added"]) == 2 and report["total_chunks"] > 0
    # A first run with no sources folder sets one up with the sample documents, and says so.
    assert report["warnings"][0].startswith(f"{folder / 'sources'} did not exist: created it with 2 sample documents")
    return folder


def test_ask_json(data_dir):
    result = citebot(data_dir, "ask", "--json", "Which US Treasury Secretary travelled to Kyiv to propose the minerals deal?")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"question", "answer", "answerable", "citations"}
    assert answer["answerable"] and "Bessent" in answer["answer"]
    from citebot.models import Citation

    for c in answer["citations"]:
        assert set(c) == {"source", "start_line", "end_line", "quote", "page"}
        assert_verbatim(Citation(**c), SEEDS)


def test_ask_plain_text_shows_sources(data_dir):
    result = citebot(data_dir, "ask", "What is indium used for?")
    assert result.returncode == 0
    assert "Sources" in result.stdout and "000_9a5dfcf5d4d692d9.txt:" in result.stdout


def test_batch_keeps_order_and_survives_bad_rows(data_dir, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join([
        json.dumps({"question": "Which country announced export controls on five minerals?"}),
        "{not json",
        json.dumps({"question": "Why did it do that?", "history": ["Which country announced export controls on five minerals?"]}),
        json.dumps({"question": "   "}),
        json.dumps({"question": "What is the population of Australia?"}),
    ]) + "\n")
    result = citebot(data_dir, "ask", "--json", "--batch", str(batch))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5
    assert "Beijing" in rows[0]["answer"]
    assert rows[1]["line"] == 2 and "error" in rows[1]
    assert "tariff" in rows[2]["answer"].lower()
    assert "error" in rows[3] and "empty" in rows[3]["error"]
    assert rows[4]["answerable"] is False and rows[4]["citations"] == []


def test_errors_are_one_line_with_exit_codes(data_dir, tmp_path):
    empty = citebot(data_dir, "ask", "  ")
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    no_index = citebot(tmp_path / "nothing", "ask", "What is indium?")
    assert no_index.returncode == 1 and "citebot index" in no_index.stderr and "Traceback" not in no_index.stderr
    missing = citebot(tmp_path / "nothing", "index", str(tmp_path / "missing"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_sources_json(data_dir):
    result = citebot(data_dir, "sources", "--json")
    listed = {s["source"]: s["chunks"] for s in json.loads(result.stdout)}
    assert set(listed) == {p.name for p in SEEDS.iterdir()} and all(n > 0 for n in listed.values())


def test_repl_session_over_stdin(data_dir):
    script = "\n".join([
        "/help",
        "Which country announced export controls on five minerals?",
        "Why did it do that?",
        "/reset",
        "/sources",
        "/nonsense",
        "",
        "What is the population of Australia?",
        "/reindex",
        "/quit",
    ]) + "\n"
    result = citebot(data_dir, "repl", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "/reindex" in out and "Beijing" in out and "tariff" in out.lower()
    assert "Conversation forgotten." in out and "Unknown command /nonsense" in out
    assert "don't contain an answer" in out and "0 added, 0 changed, 0 removed, 2 unchanged" in out
    assert "Traceback" not in result.stderr


def test_repl_ends_on_eof_without_quit(data_dir):
    result = citebot(data_dir, "repl", stdin="What is indium used for?\n")
    assert result.returncode == 0 and "touch screens" in result.stdout


def test_data_dir_after_the_subcommand_version_and_bad_settings(data_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    result = citebot(elsewhere, "sources", "--data-dir", str(data_dir))  # CITEBOT_DATA_DIR points elsewhere
    assert result.returncode == 0 and "000_9a5dfcf5d4d692d9.txt" in result.stdout, result.stderr
    assert not elsewhere.exists()
    version = citebot(data_dir, "--version")
    assert version.returncode == 0 and version.stdout.startswith("citebot, version ")
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data_dir), "CITEBOT_TOP_K": "lots"}
    bad = subprocess.run([sys.executable, "-m", "citebot.bot", "ask", "What is indium used for?"], capture_output=True,
                         text=True, env=env, timeout=300)
    assert bad.returncode == 2 and bad.stderr == "citebot: CITEBOT_TOP_K = 'lots' is not a whole number\n"


def test_progress_is_a_plain_line_every_few_seconds_when_piped():
    import io

    from rich.console import Console

    from citebot.bot.progress import IndexProgress

    out, now = io.StringIO(), [0.0]
    with IndexProgress(Console(file=out, force_terminal=False), every=10, clock=lambda: now[0]) as progress:
        for done, seconds in ((1, 4), (2, 11), (3, 15), (4, 40), (8, 80)):
            now[0] = seconds
            progress(done, 8, done * 100)
    assert out.getvalue().splitlines() == [
        "indexing: 2/8 files, 200 chunks embedded, 18 chunks/s, about 33s left",
        "indexing: 4/8 files, 400 chunks embedded, 10 chunks/s, about 40s left",
    ]


def test_unanswered_and_unhelpful_questions_become_gaps(data_dir):
    """Refused questions and answers marked /bad are logged; `citebot gaps` groups rephrasings."""
    result = citebot(data_dir, "repl", stdin="/bad\nHow tall is the Matterhorn?\nWhat is the height of the Matterhorn?\n"
                                              "What is indium used for?\n/bad\n/quit\n")  # the first /bad: nothing yet
    assert result.returncode == 0, result.stderr
    assert "No answer to mark yet." in result.stdout and "Noted: the last answer was not helpful." in result.stdout
    gaps = json.loads(citebot(data_dir, "gaps", "--json").stdout)
    matterhorn = next(g for g in gaps if "Matterhorn" in g["question"])
    assert (matterhorn["count"], matterhorn["refused"]) == (2, 2)
    assert matterhorn["question"] == "What is the height of the Matterhorn?"  # the latest wording
    assert matterhorn["examples"] == ["How tall is the Matterhorn?"]
    indium = next(g for g in gaps if g["question"] == "What is indium used for?")
    assert indium["unhelpful"] == 1 and indium["sources_seen"]
    plain = citebot(data_dir, "gaps").stdout
    assert plain.startswith("2× What is the height of the Matterhorn? (2 refused; last ")
