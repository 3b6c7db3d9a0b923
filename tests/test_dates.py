"""Questions answered as of a day: later documents are left out, that week's documents come first."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from citebot.evaluate import evaluate
from tests.conftest import assert_verbatim, make_engine
from tests.test_cli import citebot

FARES = {  # file → (published, fare)
    "june-01.md": ("2022-06-01", "4 dollars"),
    "june-14.md": ("2022-06-14", "7 dollars"),
}
QUESTION = "How much does the Quxville ferry ticket cost?"


def _article(published: str, fare: str) -> str:
    return (f'---\ntitle: "Quxville ferry"\npublished: {published}\n---\n\n'
            f"The Quxville ferry ticket now costs {fare}, the harbour office said.\n"
            "Boats leave the north pier every hour from six in the morning.\n")


@pytest.fixture(scope="module")
def news(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("news")
    for name, (published, fare) in FARES.items():
        (folder / name).write_text(_article(published, fare))
    (folder / "timetable.md").write_text("The Quxville ferry timetable changes twice a year, in spring and autumn.\n")
    data = tmp_path_factory.mktemp("news-index")
    report = make_engine(data, folder).reindex()
    assert len(report.added) == 3 and not report.skipped
    return folder, data


def test_the_week_of_the_question_comes_first(news):
    folder, data = news
    engine = make_engine(data, folder)
    late = engine.ask(QUESTION, as_of=date(2022, 6, 16))
    assert late.citations[0].source == "june-14.md" and "7 dollars" in late.text.split("[1]")[0]
    early = engine.ask(QUESTION, as_of=date(2022, 6, 5))
    assert "4 dollars" in early.text and "7 dollars" not in early.text
    assert all(c.source != "june-14.md" for c in early.citations)  # not yet published on June 5
    for citation in late.citations + early.citations:
        assert_verbatim(citation, folder)


def test_without_a_recency_window_later_documents_are_still_left_out(news):
    folder, data = news
    engine = make_engine(data, folder, recent_days=0)
    early = engine.ask(QUESTION, as_of=date(2022, 6, 5))
    assert "4 dollars" in early.text and all(c.source != "june-14.md" for c in early.citations)


def test_eval_rows_are_asked_as_of_their_date(news):
    folder, data = news
    engine = make_engine(data, folder)
    rows = [{"id": "early", "question": QUESTION, "date": "2022/06/05", "answer": "4 dollars", "choices": ["4 dollars", "7 dollars"]},
            {"id": "late", "question": QUESTION, "date": "2022-06-16", "keys": [["7 dollars"]], "sources": ["june-14.md"]}]
    report = evaluate(rows, engine.ask, engine.verify)
    assert [r.correct for r in report.rows] == [True, True] and report.rows[1].cited_source_hit


def test_cli_as_of_and_dated_batch_rows(news, tmp_path):
    folder, data = news
    result = citebot(data, "ask", "--json", "--as-of", "2022-06-05", QUESTION)
    assert result.returncode == 0, result.stderr
    assert "4 dollars" in json.loads(result.stdout)["answer"]
    bad = citebot(data, "ask", "--as-of", "June 5th", QUESTION)
    assert bad.returncode == 2 and "as-of" in bad.stderr
    batch = tmp_path / "rows.jsonl"
    batch.write_text(json.dumps({"question": QUESTION, "date": "2022-06-16"}) + "\n"
                     + json.dumps({"question": QUESTION, "date": "someday"}) + "\n")
    lines = [json.loads(line) for line in citebot(data, "ask", "--json", "--batch", str(batch)).stdout.splitlines()]
    assert "7 dollars" in lines[0]["answer"] and "not YYYY-MM-DD" in lines[1]["error"]


def test_a_recent_document_does_not_displace_an_older_answer(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text('---\npublished: 2019-03-02\n---\n\nThe Quxville lighthouse is painted red and white.\n')
    today = date.today().isoformat()
    (docs / "market.md").write_text(f"---\npublished: {today}\n---\n\nThe Quxville harbour market opens on Sundays this month.\n")
    engine = make_engine(tmp_path / "data", docs)
    engine.reindex()
    answer = engine.ask("What colour is the Quxville lighthouse?")
    assert "red and white" in answer.text and answer.citations[0].source == "lighthouse.md"


def test_a_document_dated_in_the_future_is_still_answered_today(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "typo.md").write_text("---\npublished: 2099-01-01\n---\n\nThe Quxville lighthouse keeper is called Enno Raat.\n")
    engine = make_engine(tmp_path / "data", docs)
    engine.reindex()
    assert "Enno Raat" in engine.ask("Who is the Quxville lighthouse keeper?").text
    assert not engine.ask("Who is the Quxville lighthouse keeper?", as_of=date(2022, 1, 1)).citations


def test_eval_refuses_a_file_with_a_malformed_date(tmp_path):
    from citebot.evaluate import read_rows

    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"question": QUESTION, "date": "next Tuesday"}) + "\n")
    with pytest.raises(ValueError, match=r"rows.jsonl:1: `date` 'next Tuesday' is not YYYY-MM-DD"):
        read_rows(rows)


def test_repl_asof_command(news):
    folder, data = news
    script = "/asof 2022-06-05\n" + QUESTION + "\n/asof someday\n/asof today\n" + QUESTION + "\n/asof\n"
    result = citebot(data, "repl", stdin=script)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    out = result.stdout
    assert "Answering as of 2022-06-05." in out and "Not a day: someday" in out
    first, second = out.split("Answering as of today.")[:2]
    assert "4 dollars" in first and "7 dollars" not in first
    assert "7 dollars" in second
