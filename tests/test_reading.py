"""Answer-type aware reading, evidence-based refusal, conversations, tables and two-document
answers, on a small technical-docs folder the tests write themselves (real embedder, real Chroma)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import citebot.sources
from citebot.answer_types import (
    AnswerType,
    asked_places,
    asked_type,
    candidates,
    inner_names,
    known_places,
    new_candidates,
    order_key,
)
from citebot.evidence import SubjectTerms
from tests.conftest import assert_verbatim, make_engine


def engine_over(tmp_path: Path, files: dict[str, str]):
    """An engine over a folder holding `files` (name → text), indexed."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text)
    engine = make_engine(tmp_path / "data", docs)
    engine.reindex()
    return engine


README = """frobnicate -- a small tool that rewrites configuration files

Many people ask which port the frobd daemon listens on and how to change it.
By default frobd listens on port 7412; the --port option changes it.
The frobnicate project is maintained by Ada Quill.
Ada Quill lives in Tromso, where she also runs the local user group.
Her e-mail address is ada.quill@frob.example and bug reports go there too.
Use --dry-run to see the rewritten files without saving them.
"""

NEWS = """frobnicate NEWS

* Noteworthy changes in release 2.3 (2021-03-04) [stable]
The --dry-run option was added to preview changes.

* Noteworthy changes in release 2.2 (2020-11-19) [stable]
Rewritten files keep their permissions.
Timestamps after 2038 are now kept on 32-bit platforms.

* Noteworthy changes in release 2.1 (2019-06-30) [stable]
First release with the frobd daemon.
"""


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("The frob container format stores a checksum of every block.")
    document.add_paragraph("Checksum types are listed below.")
    table = document.add_table(rows=4, cols=3)
    for row, cells in zip(table.rows, [("Checksum ID", "Size", "Checksum name"), ("0x01", "4 bytes", "CRC32"),
                                        ("0x04", "8 bytes", "CRC64"), ("0x0A", "32 bytes", "SHA-256")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.save(str(path))


@pytest.fixture(scope="module")
def docs_engine(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("reading")
    docs = root / "docs"
    docs.mkdir()
    (docs / "frobnicate-readme").write_text(README)  # no suffix: recognised by its content
    (docs / "frobnicate-news.txt.gz").write_bytes(gzip.compress(NEWS.encode()))
    _docx(docs / "frob-format.docx")
    (docs / "limits.html").write_text(
        "<html><head><title>frobd limits</title></head><body><p>Limits of the frobd daemon.</p>"
        "<table><tr><th>Setting</th><th>Default</th><th>Maximum</th></tr>"
        "<tr><td>connections</td><td>64</td><td>4096</td></tr>"
        "<tr><td>file size</td><td>16 MiB</td><td>2 GiB</td></tr></table></body></html>")
    (docs / "frobnicate-copyright.txt").write_text(
        "Upstream-Name: frobnicate\nFiles: *\nCopyright: 2019 Ada Quill\nLicense: MIT\n")
    (docs / "zapper-copyright.txt").write_text(
        "Upstream-Name: zapper\nFiles: *\nCopyright: 2017 Piet Vrolijk\nLicense: ISC\n")
    engine = make_engine(root / "data", docs)
    report = engine.reindex()
    assert not report.skipped and len(report.added) == 6, report.skipped
    return engine, docs


@pytest.mark.parametrize(("question", "kind"), [
    ("Who maintains the parser?", AnswerType.PERSON),
    ("Which company bought the studio?", AnswerType.ORGANISATION),
    ("Where is the conference held?", AnswerType.PLACE),
    ("When was version 2.3 released?", AnswerType.DATE),
    ("How long does the build take?", AnswerType.DURATION),
    ("How many workers does it start?", AnswerType.NUMBER),
    ("What price did the shares reach?", AnswerType.MONEY),
    ("What percentage of users upgraded?", AnswerType.PERCENT),
    ("Which version added the cache?", AnswerType.VERSION),
    ("Where should I email bug reports?", AnswerType.EMAIL),
    ("What is the project's web site?", AnswerType.URL),
    ("Which option turns on colour?", AnswerType.OPTION),
    ("Under which licence is the manual distributed?", AnswerType.LICENCE),
    ("Which CVE did the release fix?", AnswerType.IDENTIFIER),
    ("Why did the build fail?", AnswerType.REASON),
    ("Does it support IPv6?", AnswerType.YES_NO),
    ("What is a glob?", AnswerType.DEFINITION),
    ("In the manual, what weight does a glob get when none is given?", AnswerType.NUMBER),
    ("Which wildly popular show was renewed for a new season?", AnswerType.NAMED),
    ("Which country elected its first leftist leader?", AnswerType.PLACE),  # a typed noun wins over NAMED
    ("The agency launched a new website this week to apply for up to how much debt relief?", AnswerType.NUMBER),
    ("Which library gives man-db safe command execution?", AnswerType.NAMED),  # "man-db" names no man
    ("Which is the newest frobnicate release?", AnswerType.VERSION),
    ("What is the minimum bison version needed?", AnswerType.VERSION),
    # The sentence that asks decides, not a scene-setting one before it.
    ("About a billion records were leaked this week. Where did the leak occur?", AnswerType.PLACE),
    ("What was the name of the storm that hit the coast?", AnswerType.NAMED),
    ("What is the new browser called?", AnswerType.NAMED),
    ("What was the magnitude of the earthquake?", AnswerType.NUMBER),
    ("What is the ticket price?", AnswerType.MONEY),
    ("Which heads of state attended the summit?", AnswerType.PERSON),
])
def test_the_asked_type(question, kind):
    assert asked_type(question) == kind


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("It came out on 2021-03-04 and again on 7 September 2021.", AnswerType.DATE, ["2021-03-04", "7 September 2021"]),
    ("It may close in March, or on May 5, 2021.", AnswerType.DATE, ["March", "May 5, 2021"]),  # not the verb
    ("The freeze lasted six months, then 3 weeks.", AnswerType.DURATION, ["six months", "3 weeks"]),
    ("A build takes about an hour.", AnswerType.DURATION, ["an hour"]),
    ("Gas rose 19 cents to $4.96.", AnswerType.MONEY, ["19 cents", "$4.96"]),
    ("License: Zlib (the zlib library); docs: Expat.", AnswerType.LICENCE, ["Zlib", "Expat"]),
    ("Prices rose 4.5% to $1.2 billion.", AnswerType.PERCENT, ["4.5%"]),
    ("Prices rose 4.5% to $1.2 billion.", AnswerType.MONEY, ["$1.2 billion"]),
    ("Upgrade from 3.0.19 to v3.1.", AnswerType.VERSION, ["3.0.19", "v3.1"]),
    ("Write to ada.quill@frob.example or see https://frob.example/docs.", AnswerType.EMAIL, ["ada.quill@frob.example"]),
    ("Write to ada.quill@frob.example or see https://frob.example/docs.", AnswerType.URL, ["https://frob.example/docs"]),
    ("Use --dry-run or -v, or set FROB_DEBUG.", AnswerType.OPTION, ["--dry-run", "-v", "FROB_DEBUG"]),
    ("License: Apache-2.0; docs under CC-BY-3.0.", AnswerType.LICENCE, ["Apache-2.0", "CC-BY-3.0"]),
    ("Buffers of 16 MiB and 16384 bytes.", AnswerType.NUMBER, ["16 MiB", "16384 bytes"]),
    ("The service renewed “Quxland” and Quxopolis today.", AnswerType.NAMED, ["“Quxland”", "Quxopolis"]),
    ("Upstream-Name: quxlib", AnswerType.PERSON, []),  # a field's label names nothing
    ("Copyright: 2019 Ada Quill <ada@frob.example>", AnswerType.PERSON, ["Ada Quill"]),
    ("Bug reports go to https://frob.example/issues or /usr/share/doc/frob.", AnswerType.PLACE,
     ["https://frob.example/issues", "/usr/share/doc/frob"]),
])
def test_candidates_of_each_type(text, kind, expected):
    assert candidates(text, kind) == expected


@pytest.mark.parametrize(("candidate", "key"), [
    ("2022-04-07", (2022, 4, 7)), ("April 7, 2022", (2022, 4, 7)), ("7 Sept 2021", (2021, 9, 7)), ("in 2038", (2038, 0, 0)),
])
def test_dates_are_ordered_by_day(candidate, key):
    assert order_key(candidate, AnswerType.DATE) == key


def test_a_candidate_the_question_already_holds_is_not_new():
    assert new_candidates("Release 2.3 came out on 2021-03-04.", AnswerType.DATE, "When was 2.3 released?") == ["2021-03-04"]
    assert new_candidates("Ada Quill maintains it.", AnswerType.PERSON, "Is Ada Quill the maintainer?") == []
    # A possessive, and a name after the word opening the sentence, are the question's name.
    assert new_candidates("After Quill’s talk, Piet Vrolijk left.", AnswerType.PERSON, "Whom did Quill meet?") == ["Piet Vrolijk"]
    assert candidates("Sri Lanka has plunged into chaos.", AnswerType.PLACE) == ["Sri Lanka"]


@pytest.mark.parametrize(("text", "question", "expected"), [
    ("It holds 4.4 million tons of ore, 50% of it unexplored, worth $500 billion, in 20,000 deposits.",
     "How many ore deposits does it have?", ["20,000"]),  # a measure, a share, a sum: no count
    ("The route is 26.2 miles long and has 3 climbs.", "How many miles long is the route?", ["26.2 miles", "3"]),
    ("Prices rose 9% to $5.", "How high did prices rise?", ["9%", "5"]),  # not a count: any number
])
def test_how_many_asks_for_a_count(text, question, expected):
    assert new_candidates(text, asked_type(question), question) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("bunzip2 needs about 3700 kbytes, or 2300k in small mode, in 3 passes.", ["3700", "2300"]),
    ("It searches three times as quickly: 40 seconds instead of five minutes.", []),
    ("Set a limit of 150 MiB, or 1GB on larger machines.", ["150 MiB", "1GB"]),
])
def test_how_much_memory_asks_for_a_size(text, expected):
    assert new_candidates(text, AnswerType.NUMBER, "How much memory does the tool need?") == expected


@pytest.mark.parametrize(("text", "kind", "question", "expected"), [
    ("By default, time writes the statistics to the standard error stream.", AnswerType.NAMED,
     "Which stream does time write its statistics to?", ["standard error stream"]),
    ("The header file of this library is libfrob.h.", AnswerType.IDENTIFIER, "What is the header file of libfrob?",
     ["libfrob.h"]),  # at the end of a sentence
    ("Rules are read e.g. in file order.", AnswerType.IDENTIFIER, "Which file is read?", []),
])
def test_a_candidate_written_in_lower_case_or_ending_a_sentence(text, kind, question, expected):
    assert new_candidates(text, kind, question) == expected


def test_a_word_opening_a_sentence_is_a_name_where_the_document_capitalises_it_inside_one():
    text = "Quxland is home to a billion people. The census of Quxland counts them."
    names = inner_names(text)
    assert "Quxland" in names and "The" not in names
    assert new_candidates("Quxland is home to a billion people.", AnswerType.PLACE, "Where do they live?", names) == ["Quxland"]
    assert new_candidates("Quxland is home to a billion people.", AnswerType.PLACE, "Where do they live?") == []


def test_a_markup_attribute_is_no_candidate():
    text = 'Files open with <?xml version="1.0" encoding="UTF-8"?> and hold 3 sections.'
    assert new_candidates(text, AnswerType.NUMBER, "How many sections does a file hold?") == ["3"]


@pytest.mark.parametrize(("question", "offers", "expected"), [
    ("Which country did the storm hit first?", ("Mexico", "Marseille"), ["Mexico"]),
    ("Which country did the storm hit first?", ("Marseille",), []),
    ("Which city hosts the fair?", ("Paris", "France"), ["Paris"]),
    ("Where did the storm hit?", ("Marseille", "Quxland"), ["Marseille"]),
    ("Which island did the storm hit?", ("Marseille",), None),  # islands are not listed: no verdict
])
def test_known_places_of_the_asked_kind(question, offers, expected):
    places = asked_places(question)
    assert (None if places is None else known_places(offers, places)) == expected


def test_a_which_country_question_prefers_the_sentence_naming_a_country(tmp_path):
    """Of two sentences naming a place the question lacks, the one naming a country answers
    "which country", though the one naming a town shares more of the question's words."""
    engine = engine_over(tmp_path, {"storm.md": (
        "# Storm season\n\nOn Tuesday the hurricane hit Quxport with strong winds.\n\n"
        "Ferries stayed in port for two days.\n\nOfficials in Mexico counted the damage after the hurricane hit.\n"
    )})
    answer = engine.ask("Which country did the hurricane hit on Tuesday?")
    assert answer.answerable and "Mexico" in answer.citations[0].quote, answer.text


def test_a_link_to_another_article_is_not_quoted(tmp_path):
    """"Related: …" in a news page is another article's headline: it states nothing of this one."""
    engine = engine_over(tmp_path, {"fair.md": (
        "# County fair returns\n\nThe county fair opens this year in Brambleford, the organisers said.\n\n"
        "Related: County fair to open its gates this year in Quxton\n\nParking is free on the first day.\n"
    )})
    answer = engine.ask("Where does the county fair open this year?")
    assert answer.answerable and "Brambleford" in answer.citations[0].quote, answer.text
    assert all("Related" not in c.quote for c in answer.citations), answer.text


def test_a_sentence_from_a_document_off_the_subject_is_no_evidence(tmp_path):
    """A close sentence from a document that never names what is asked about ("the new pier",
    of another harbour) is neither the answer nor its support."""
    engine = engine_over(tmp_path, {
        "other.md": ("# Harbour news\n\nThe new pier opened on 2 May 2024 after two years of work, the harbour master said.\n\n"
                     "The pier is the new home of the ferry to the islands.\n"),
        "quxton.md": "# Quxton\n\nQuxton council: works on the waterfront ended on 3 May 2024.\n\nIt cost two million.\n",
    })
    answer = engine.ask("When did the new pier in Quxton open?")
    assert answer.answerable and "3 May 2024" in answer.citations[0].quote, answer.text
    assert {c.source for c in answer.citations} == {"quxton.md"}, answer.text


def test_a_plural_of_the_questions_word_is_no_new_name():
    assert new_candidates("The size depends on the chosen ABI.", AnswerType.NAMED, "Which platform do ABIs affect?") == []


@pytest.mark.parametrize(("question", "expected", "source"), [
    ("Which port does frobd listen on by default?", "7412", "frobnicate-readme"),
    ("Where should I email bug reports for frobnicate?", "ada.quill@frob.example", "frobnicate-readme"),
    ("When was frobnicate 2.2 released?", "2020-11-19", "frobnicate-news.txt.gz"),
    ("Which option previews the rewritten files without saving them?", "--dry-run", "frobnicate-readme"),
    ("When did the latest frobnicate release come out?", "2021-03-04", "frobnicate-news.txt.gz"),  # the newest
    ("When did the oldest frobnicate release in the NEWS come out?", "2019-06-30", "frobnicate-news.txt.gz"),
])
def test_the_answer_leads_with_a_sentence_holding_the_asked_type(docs_engine, question, expected, source):
    engine, docs = docs_engine
    answer = engine.ask(question)
    assert answer.answerable, answer.text
    assert expected in answer.citations[0].quote, answer.text  # the first sentence answers
    assert answer.citations[0].source == source
    for citation in answer.citations:
        assert_verbatim(citation, docs) if not citation.source.endswith(".gz") else None
        assert engine.verify(citation)


def test_a_which_question_prefers_the_sentence_naming_something_new(tmp_path):
    """"Which show…?" is answered by the sentence naming a show (a title, a name) the question
    lacks, not by the one repeating the question's words."""
    engine = engine_over(tmp_path, {"tv.md": (
        "# Streaming news\n\nMany viewers asked this week which popular show would get a new season.\n\n"
        "The streaming service renewed “Quxland” for a new season on Monday.\n\n"
        "Ratings for streaming shows rose in the spring.\n"
    )})
    answer = engine.ask("Which wildly popular show was renewed for a new season this week?")
    assert "Quxland" in answer.citations[0].quote, answer.text


def test_a_sentence_restating_the_question_loses_to_the_one_with_the_fact(docs_engine):
    engine, _ = docs_engine
    answer = engine.ask("Which port does frobd listen on?")
    assert "7412" in answer.citations[0].quote
    assert "Many people ask" not in answer.citations[0].quote


def test_neither_the_question_asked_back_nor_its_restatement_is_the_answer(tmp_path):
    """A document asking the question itself (a quiz, a FAQ heading) and a sentence made of the
    question's own words lose to the sentence that adds what was asked."""
    engine = engine_over(tmp_path, {"town.md": (
        "# Town news\n\nWhat did the town council decide about the old bridge this week?\n\n"
        "The town council met this week to decide about the old bridge.\n\n"
        "The council voted to demolish the old bridge and build a ferry landing.\n\n"
        "The library extended its opening hours.\n"
    )})
    answer = engine.ask("What did the town council decide about the old bridge this week?")
    assert answer.answerable and "ferry landing" in answer.citations[0].quote, answer.text
    assert all(not c.quote.endswith("?") for c in answer.citations), answer.text


def test_a_sentence_about_other_years_does_not_answer_for_the_year_asked(tmp_path):
    engine = engine_over(tmp_path, {"league.md": (
        "# Curling league: the 2022 season\n\nThe Lightning won the league championship in 2020 and in 2021.\n\n"
        "This season the Otters won the league championship final, beating the Lightning 7-5.\n\n"
        "Tickets for next season go on sale in May.\n"
    )})
    answer = engine.ask("Which team won the 2022 league championship?")
    assert answer.answerable and "Otters" in answer.citations[0].quote, answer.text


def test_a_definition_list_term_is_read_with_its_definition(tmp_path):
    """HTML <dt>/<dd> pairs are one line each ("quxbus: The quxd daemon runs as this user."):
    apart, the definition never named its term."""
    engine = engine_over(tmp_path, {"users.html": (
        "<html><head><title>System users</title></head><body><h1>System users</h1><dl>"
        "<dt><tt>quxbus</tt></dt><dd><p>\n  The quxd message daemon runs as this user and group.\n</p></dd>"
        "<dt><tt>webfolk</tt></dt><dd><p>Some web servers run as this user.</p><p>Web content should not be owned by it.</p></dd>"
        "</dl></body></html>")})
    answer = engine.ask("Which user does the quxd message daemon run as?")
    assert answer.citations[0].quote == "quxbus: The quxd message daemon runs as this user and group.", answer.text
    assert engine.verify(answer.citations[0])


@pytest.mark.parametrize(("key", "title"), [
    ("tar/copyright", "tar copyright"), ("gpg-agent-README.Debian", "gpg agent README Debian"),
    ("git-2.39.0.txt", "git 2.39.0"), ("000_9a5dfcf5d4d692d9.txt", ""), ("20220617-5b14cd16-index-html.md", ""),
])
def test_a_file_without_a_title_is_named_by_its_path(key, title):
    assert citebot.sources.path_title(key) == title


def test_a_copyright_file_named_only_by_its_folder_answers_for_its_package(tmp_path):
    """/usr/share/doc/PACKAGE/copyright names its package only in its path."""
    docs = tmp_path / "docs"
    for package, licence in (("quxtar", "GPL-3+"), ("zedzip", "BSD-3-clause")):
        (docs / package).mkdir(parents=True)
        (docs / package / "copyright").write_text(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            f"Files: *\nCopyright: 2001-2007 The Authors\nLicense: {licence}\n")
    engine = make_engine(tmp_path / "data", docs)
    engine.reindex()
    answer = engine.ask("Under which licence is quxtar distributed?")
    assert answer.answerable and "GPL-3+" in answer.text and answer.citations[0].source == "quxtar/copyright", answer.text


@pytest.mark.parametrize(("question", "expected"), [
    ("What checksum ID does the frob format assign to SHA-256?", "0x0A"),
    ("What is the maximum number of connections of frobd?", "4096"),
    ("How many connections does frobd allow by default?", "64"),
])
def test_table_rows_answer_with_their_header_cells(docs_engine, question, expected):
    engine, _ = docs_engine
    answer = engine.ask(question)
    assert answer.answerable and expected in answer.citations[0].quote, answer.text
    assert ":" in answer.citations[0].quote and "|" in answer.citations[0].quote  # "Header: cell | …"
    assert engine.verify(answer.citations[0])


@pytest.mark.parametrize("question", [
    "Which frobnicate release added QUIC support?",  # a name the documents never mention
    "When was zorblat 1.2 released?",  # a product no document is about
    "When was frobnicate 2.7 released?",  # a release its NEWS never mentions
    "Which zorbctl release added the --dry-run option?",  # a lower-case tool no document is about
    "Which port does the zorbd daemon of frobnicate listen on?",  # a lower-case name no document mentions
])
def test_refusal_on_evidence(docs_engine, question):
    engine, _ = docs_engine
    answer = engine.ask(question)
    assert not answer.answerable and not answer.citations, answer.text


@pytest.mark.parametrize("question", [
    "What is the minimum bison version needed to build frobnicate?",  # nothing on building it
    "Which port does zq listen on?",  # a two-letter tool name no document mentions
    "Which port does frobd2 listen on?",  # a tool name with a digit no document mentions
    "Which port does frobd.conf set for frobd?",  # a file no document mentions
])
def test_refusal_when_the_answering_document_is_missing(docs_engine, question):
    """Questions on the documents' subjects whose answer no document holds: the best sentence shares
    (almost) no word with the question and is not close in meaning, or its document never names the
    tool asked about (answered before: the README's port line, a NEWS entry)."""
    engine, _ = docs_engine
    answer = engine.ask(question)
    assert not answer.answerable and not answer.citations, answer.text


def test_a_typed_question_is_refused_when_no_sentence_holds_that_type(docs_engine):
    """Sentences about the subject that hold no share (no date, no address…) restate the question."""
    engine, _ = docs_engine
    for question in ["What share of the frobnicate project does Ada Quill own?", "When did Ada Quill move to Tromso?"]:
        answer = engine.ask(question)
        assert not answer.answerable, answer.text  # before: "…maintained by Ada Quill", "Ada Quill lives in Tromso…"


def test_a_question_for_a_default_is_refused_when_no_sentence_says_one(tmp_path):
    """(A default the documents state is answered: the table row test above, "…by default?")."""
    engine = engine_over(tmp_path, {"zapper.md": (
"# zapper\n\nThe zapper history file can hold up to 5000 entries when "
                                    "HISTSIZE is raised.\n\nRelease 3.1 added the history file.\n"
    )})
    refused = engine.ask("How many entries does zapper keep in its history file by default?")
    assert not refused.answerable, refused.text  # 5000 is a maximum, not the default
    answered = engine.ask("How many entries can the zapper history file hold?")
    assert answered.citations[0].quote.startswith("The zapper history file")  # not "# zapper The …"


def test_where_to_look_is_not_what_the_answer_is_about(docs_engine):
    """"…, according to its Debian copyright file": a pointer to the source, not a subject that the
    answer's document must name (before, the zapper file's licence was the answer)."""
    engine, _ = docs_engine
    answer = engine.ask("Which licence covers frobnicate, according to its Debian copyright file?")
    assert answer.citations[0].source == "frobnicate-copyright.txt" and "MIT" in answer.citations[0].quote


@pytest.mark.parametrize("question", ["What did U.S. officials say about tariffs?", "What did US officials say about tariffs?"])
@pytest.mark.parametrize("document", ["U.S. officials said little about tariffs.", "US officials said little about tariffs."])
def test_a_dotted_abbreviation_is_the_same_name_undotted(question, document):
    subjects = SubjectTerms(lambda word: True)
    assert subjects.share_mentioned(subjects.of(question), document) == 1.0
    assert subjects.names(question) == ["us"]


def test_a_compound_of_plain_words_is_mentioned_when_written_apart(docs_engine):
    subjects = SubjectTerms(docs_engine[0].embedder.is_common_word)
    assert subjects.share_mentioned({"crackdown": 0.5}, "Officials cracked down on the toys.") == 1.0
    assert subjects.share_mentioned({"jaywalking": 0.5}, "Jay-walking is legal now.") == 1.0
    assert subjects.share_mentioned({"tmux": 0.5}, "The tm ux pair.") == 0.0




def test_a_field_with_its_value_is_an_answer_in_two_words(tmp_path):
    engine = engine_over(tmp_path, {"quxlib-copyright": (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: quxlib\n\n"
        "Files: *\nCopyright: 2019 Ada Quill\nLicense: Zlib\n This software is provided as-is, without any express or\n"
        " implied warranty, and in no event will the authors be held liable for any damages arising from\n"
        " the use of this software, whether direct or indirect, however caused and on any theory of liability.\n"
    )})
    answer = engine.ask("Under which licence is quxlib distributed?")
    assert answer.answerable and answer.citations[0].quote == "License: Zlib", answer.text


TOPICS = ["the parser", "the scheduler", "the cache", "the logger", "the network layer", "the test suite",
          "the installer", "the manual", "the plugin loader", "the config reader"]


def long_news(name: str) -> str:
    """A NEWS file of 150 releases, each a short paragraph: many more chunks than an answer reads."""
    entries = [f"Version 2.{n} ({1 + n % 28} March {1990 + n % 30})\n\nThis release of {name} reworks {TOPICS[n % 10]} "
               f"and fixes bugs in {TOPICS[(n + 3) % 10]}. Users of {TOPICS[(n + 5) % 10]} should read the notes "
               f"before upgrading, since defaults for {TOPICS[(n + 7) % 10]} changed.\n" for n in range(150, 0, -1)]
    return f"{name} NEWS\n\n" + "\n".join(entries)


def test_a_version_the_question_names_is_found_by_its_number(tmp_path):
    """Every release paragraph reads alike: only the keyword index, reading "2.17" as one word,
    finds the one the question names."""
    engine = engine_over(tmp_path, {"quxtool-news": long_news("quxtool")})
    answer = engine.ask("When was quxtool 2.17 released?")
    assert answer.answerable and "Version 2.17 (18 March 2007)" in answer.citations[0].quote, answer.text


def test_keyword_tokens_of_an_older_tokenizer_are_redone(tmp_path):
    """An index whose stored keyword tokens lack the one-word numbers is tokenised again by the
    next index run, so the versions of unchanged files are found too."""
    import json

    engine = engine_over(tmp_path, {"quxtool-news": long_news("quxtool")})
    for tokens_file in (tmp_path / "data").glob("bm25-*/tokens.json"):
        stored = json.loads(tokens_file.read_text())
        old = {i: [t for t in tokens if "_" not in t] for i, tokens in stored.get("tokens", stored).items()}
        tokens_file.write_text(json.dumps(old))  # the flat form of tokenizer 1
    (tmp_path / "docs" / "other.md").write_text("# Other\n\nAn unrelated note about gardening.\n")
    engine.reindex()
    answer = engine.ask("When was quxtool 2.17 released?")
    assert answer.answerable and "Version 2.17 (18 March 2007)" in answer.citations[0].quote, answer.text

@pytest.mark.parametrize(("adjective", "document", "mentioned"), [
    ("European", "One of Europe's most active volcanoes.", 1.0),
    ("Italian", "An island off Italy.", 1.0),
    ("Chinese", "Exports from China fell.", 1.0),
    ("French", "Strikes across France.", 1.0),
    ("Indian", "It was indeed an industry record.", 0.0),  # too short a stem to be a place
    ("Italian", "A volcano in Iceland.", 0.0),
])
def test_a_peoples_adjective_is_mentioned_by_its_place(adjective, document, mentioned):
    subjects = SubjectTerms(lambda word: True)
    assert subjects.share_mentioned(subjects.of(f"Which {adjective} island was it?"), document) == mentioned


def test_a_question_naming_a_region_by_its_adjective_is_answered_from_a_document_naming_the_region(tmp_path):
    engine = engine_over(tmp_path, {"volcano.md": (
        "# Volcano news\n\nA volcano erupted on the island of Kelvar this week, one of Europe's most active.\n\n"
        "Ferries to the island were cancelled.\n"
    )})
    answer = engine.ask("A volcano erupted on which European island this week?")
    assert answer.answerable and "Kelvar" in answer.citations[0].quote, answer.text

def test_a_three_turn_conversation_resolves_pronouns_from_the_answers(docs_engine):
    engine, _ = docs_engine
    first = engine.ask("Who maintains the frobnicate project?")
    assert "Ada Quill" in first.text
    second = engine.ask("Which town does she live in?", [first.turn()])
    assert "Tromso" in second.citations[0].quote, second.text
    third = engine.ask("What is her e-mail address?", [first.turn(), second.turn()])
    assert "ada.quill@frob.example" in third.citations[0].quote, third.text
    assert third.resolved_question == "What is Ada Quill's e-mail address?"


def test_after_who_is_a_pronoun_means_the_person_asked_about(tmp_path):
    """"Who is X?" is answered by what X is ("a Dutch engineer who leads …"): "she" in the next
    question is X, not the first name of that answer (before: "Where does Dutch live?"); so after
    "Who did X speak with?"."""
    engine = engine_over(tmp_path, {"dam.md": (
        "# The Quxville dam\n\nIlse Marrow, a Dutch engineer, leads the Quxville water board.\n\n"
        "The dam holds back the Quxa river above the old town.\n\n"
        "Ilse Marrow lives in Vellum, a village on the Quxa river.\n\n"
        "On Monday Ilse Marrow spoke by phone with Tomas Brink, the district mayor.\n"
    )})
    first = engine.ask("Who is Ilse Marrow?")
    assert "Dutch engineer" in first.text, first.text
    second = engine.ask("Where does she live?", [first.turn()])
    assert second.resolved_question == "Where does Ilse Marrow live?"
    assert "Vellum" in second.citations[0].quote, second.text
    # "Who did X speak with?" has X as its subject: "she" is X, not the person the answer names.
    asked = engine.ask("Who did Ilse Marrow speak with by phone?")
    assert "Tomas Brink" in asked.text, asked.text
    assert engine.ask("Where does she live?", [asked.turn()]).resolved_question == "Where does Ilse Marrow live?"


def test_a_new_question_after_another_turn_is_not_read_as_a_follow_up(docs_engine):
    """A question naming its own subject ("Ada Quill … she") after an unrelated turn, or one saying
    "this week", is answered as if asked first; a bare pronoun still leans on the last turn."""
    from citebot.answer import needs_context

    engine, _ = docs_engine
    last = engine.ask("Which port does frobd listen on?").turn()
    question = "Which town does Ada Quill live in, and what does she run there?"
    alone, after = engine.ask(question), engine.ask(question, [last])
    assert after.search_query == question and after.text == alone.text
    assert not needs_context("Which automaker recalled 200,000 trucks this week?")
    assert not needs_context("How many minerals are there under export controls?")
    assert not needs_context("Which food chain launched a new menu in 21,000 of its restaurants?")  # its: the chain
    assert not needs_context("Which state announced it is legalizing jaywalking?")  # it: the state speaking
    assert needs_context("Which version fixed it?")
    assert needs_context("Under what licence is its documentation distributed?")
    assert engine.ask("Which option changes it?", [last]).search_query.startswith(last.question)



TWO_TOOLS = {
    "quxtool-readme": ("Quxtool -- a small tool that rewrites logs.\n\nThe quxtool project is maintained by Ada Quill.\n\n"
                       "The quxtool code is distributed under the Zlib licence.\n\n"
                       "Send bug reports about quxtool to bugs@quxtool.example.\n"),
    "frobtool-readme": ("Frobtool -- a small tool that rewrites configuration files.\n\n"
                        "The frobtool project is maintained by Tomas Brink.\n\n"
                        "The frobtool code is distributed under the MIT licence.\n\n"
                        "Bug reports go to the frobtool issue tracker at https://frobtool.example/issues.\n"),
}


def test_an_elliptical_follow_up_asks_the_last_question_of_its_new_subject(tmp_path):
    engine = engine_over(tmp_path, TWO_TOOLS)
    first = engine.ask("Under which licence is quxtool distributed?")
    assert "Zlib" in first.citations[0].quote, first.text
    second = engine.ask("What about frobtool?", [first.turn()])
    assert second.resolved_question == "Under which licence is frobtool distributed?"
    assert "MIT" in second.citations[0].quote and second.citations[0].source == "frobtool-readme", second.text


def test_an_elliptical_follow_up_of_common_words_swaps_the_words_before_its_noun(tmp_path):
    """"What about the session bus?" after "…the system bus…": the same question of the other bus,
    whose sentence the last answer quoted already (before: that sentence lost to another one)."""
    engine = engine_over(tmp_path, {"busd-readme": (
        "Busd is a message bus daemon.\n\nOn Unix systems, the system bus is designed to be a security boundary "
        "between users.\n\nOn Unix systems, the session bus is designed to be used by a single user.\n\n"
        "On Unix systems, the session bus and the system bus are both documented in the busd specification.\n")})
    first = engine.ask("On Unix, what is the busd system bus designed to be?")
    assert any("single user" in c.quote for c in first.citations), first.text  # quoted already
    second = engine.ask("What about the session bus?", [first.turn()])
    assert second.resolved_question == "On Unix, what is the busd session bus designed to be?"
    assert "single user" in second.citations[0].quote, second.text


def test_a_short_question_naming_no_subject_continues_the_conversation(tmp_path):
    """"Where should bug reports go?" after "Who maintains quxtool?" asks about quxtool; one naming
    its own subject, or a longer one, is asked as it is."""
    from citebot.answer import needs_context

    engine = engine_over(tmp_path, TWO_TOOLS)
    for tool, address in [("quxtool", "bugs@quxtool.example"), ("frobtool", "frobtool.example/issues")]:
        first = engine.ask(f"Who maintains {tool}?")
        second = engine.ask("Where should bug reports go?", [first.turn()])
        assert address in second.citations[0].quote, (tool, second.text)
    subjects = engine._current()[1].subjects
    assert needs_context("Where should bug reports go?", subjects)
    assert not needs_context("Where should quxtool bug reports go?", subjects)
    assert not needs_context("Which wildly popular show was green lit for a new season?", subjects)


def test_a_conversation_keeps_its_subject_three_turns_deep(tmp_path):
    """The third question leans on the second, which leaned on the first: the subject the first
    named is still what the third is about."""
    engine = engine_over(tmp_path, TWO_TOOLS)
    for tool, licence in [("quxtool", "Zlib"), ("frobtool", "MIT")]:
        turns = [engine.ask(f"Who maintains {tool}?").turn()]
        turns.append(engine.ask("Where should bug reports go?", turns).turn())
        third = engine.ask("Under which licence?", turns)
        assert tool in third.search_query and licence in third.citations[0].quote, (tool, third.text)

def test_a_question_only_history_is_answered_first(docs_engine):
    engine, _ = docs_engine
    answer = engine.ask("Which town does she live in?", ["Who maintains the frobnicate project?"])
    assert "Tromso" in answer.text and "Ada Quill" in answer.resolved_question


def test_a_question_naming_two_documents_cites_both(docs_engine):
    engine, docs = docs_engine
    answer = engine.ask("Which licences cover frobnicate and zapper, according to their copyright files?")
    assert "MIT" in answer.text and "ISC" in answer.text, answer.text
    assert {c.source for c in answer.citations} == {"frobnicate-copyright.txt", "zapper-copyright.txt"}
    for citation in answer.citations:
        assert_verbatim(citation, docs)


def test_each_part_of_a_two_document_answer_is_asked_without_the_other_name(tmp_path):
    """"…of falcon and of qzed": falcon's files need not mention qzed (before, a plain-word name's
    part was refused because its files never name the other tool), and "licences" is "License"."""
    engine = engine_over(tmp_path, {
        "falcon-copyright.txt": "Upstream-Name: falcon\nSource: https://falcon.example/\n\nFiles: *\n"
                                "Copyright: 2014 Ann Berg\nLicense: Apache-2.0\n\nFiles: debian/*\n"
                                "Copyright: 2016 Bo Lund\nLicense: Apache-2.0\n",
        "falcon-manual.md": "# falcon\n\nfalcon builds source code quickly.\n",
        "qzed-copyright.txt": "Upstream-Name: qzed\nSource: https://qzed.example/\n\nFiles: *\n"
                              "Copyright: 2019 Cy Holm\nLicense: ISC\n",
    })
    answer = engine.ask("Which licences cover the main source code of falcon and of qzed, according to their "
                        "copyright files?")
    assert "Apache-2.0" in answer.text and "ISC" in answer.text, answer.text
    assert {c.source for c in answer.citations} == {"falcon-copyright.txt", "qzed-copyright.txt"}


_QUXDB_NOTES = "".join(f"quxdb note {i}: the quxdb server keeps its data in memory and on disk.\n\n" for i in range(12))


@pytest.mark.parametrize(("files", "question", "expected", "sources"), [
    # One sentence each, both about the question's subject (before: the version line alone, or
    # another tool's bug-report advice).
    ({"quxtool-readme": "quxtool -- a line editor\n\nThis README describes quxtool version 2.4.1.\n\n"
                        "Building needs a C99 compiler and make.\n\n"
                        "Send bug reports, comments and patches to Ada Quill <ada@qux.example>.\n",
      "zapper-faq.txt": "If a bug bites someone on the zapper mailing list, I tend to report it myself.\n\n"
                        "The zapper FAQ is updated every spring.\n"},
     "Which quxtool version does its README describe, and who should bug reports go to?",
     ["2.4.1", "Ada Quill"], {"quxtool-readme"}),
    # The second clause is about another document, which the whole question's passages lack.
    ({"quxdb-readme.md": "# quxdb\n\nquxdb uses the zorballoc allocator by default on Linux.\n\n" + _QUXDB_NOTES,
      "rootless.txt": "Rootless builds\n\nThe Needs-Root field of a zedpkg control file says whether the "
                      "build targets need root privileges.\n"},
     "Which allocator does quxdb use by default, and which field of a zedpkg control file says whether building "
     "needs root?", ["zorballoc", "Needs-Root"], {"quxdb-readme.md", "rootless.txt"}),
])
def test_a_question_asking_two_things_gets_a_sentence_for_each(tmp_path, files, question, expected, sources):
    engine = engine_over(tmp_path, files)
    answer = engine.ask(question)
    assert all(word in answer.text for word in expected), answer.text
    assert {c.source for c in answer.citations} == sources


def test_a_sentence_continuing_the_best_one_with_a_connective_is_quoted_with_it(tmp_path):
    """"Instead, …" completes the sentence before it, which restates the question."""
    engine = engine_over(tmp_path, {"quxzip-news.txt": (
        "quxzip NEWS\n\n* Noteworthy changes in release 1.4\n\n"
        "  Compressed quxzip output no longer records the current time when the input is a pipe.\n"
        "  Instead, the output carries a zero timestamp.\n\n"
        "* Noteworthy changes in release 1.3\n\n  Faster decompression on ARM.\n")})
    answer = engine.ask("What timestamp does quxzip 1.4 write when the input is a pipe?")
    assert "zero timestamp" in answer.text, answer.text


def test_british_and_american_spellings_share_a_stem():
    from citebot.stemming import SharedStemmer

    stem = SharedStemmer()
    for british, american in [("licences", "License"), ("colour", "color"), ("organisation", "organization"),
                              ("centre", "center"), ("travelled", "traveled"), ("programme", "program")]:
        assert stem([british]) == stem([american.lower()]), (british, american)
    assert stem(["four", "hour", "your"]) == ["four", "hour", "your"]  # no blanket "our" → "or"


def test_irregular_forms_share_their_base_word_stem():
    from citebot.stemming import SharedStemmer

    stem = SharedStemmer()
    for form, base in [("left", "leave"), ("won", "win"), ("bought", "buy"), ("rose", "rising"), ("children", "child")]:
        assert stem([form]) == stem([base]), (form, base)
    assert stem(["lay", "bit"]) == ["lay", "bit"]  # mostly other words: left alone


def test_a_past_form_answers_the_question_asking_with_its_base_word(tmp_path):
    """"Which project did the council leave out?" is answered by "The budget left out …", not by
    the sentence sharing more of the question's other words."""
    engine = engine_over(tmp_path, {"budget.md": (
        "# The city budget deal\n\nMayor Ada Quill and the council agreed the budget deal on Monday, after three "
        "hours of talks.\n\nThe budget left out the Harbour Street bus depot.\n\nThe library keeps its opening hours.\n"
    )})
    answer = engine.ask("Which project did the council leave out of the budget deal?")
    assert answer.answerable and "bus depot" in answer.citations[0].quote, answer.text


def test_citing_an_extracted_format_never_parses_it_again(docs_engine, monkeypatch):
    """The text extracted at indexing (DOCX, HTML, gzip) is kept; a fresh process cites from it."""
    engine, _ = docs_engine
    fresh = make_engine(engine.settings.data_dir, engine.settings.sources_dir)

    def no_parsing(*args, **kwargs):
        raise AssertionError("a file was parsed at question time")

    monkeypatch.setattr(citebot.sources, "read_source", no_parsing)
    answer = fresh.ask("What checksum ID does the frob format assign to SHA-256?")
    assert answer.citations[0].source == "frob-format.docx" and "0x0A" in answer.citations[0].quote
    assert all(fresh.verify(c) for c in answer.citations)
    kept = list((engine.settings.data_dir / "texts").glob("*.json.gz"))
    assert len(kept) == 3  # the DOCX, the HTML page and the gzip NEWS; plain text is read as it is


RELEASES = """frobnicate 2.5.0 (2024-09-12)
=============================

Enhancements:

• Rewritten files can be compared with the originals using the new
  --diff option.

frobnicate 2.4.1 (2024-05-02)
=============================

Bug fixes:

• Avoid a frobd crash if the cache directory is removed while it runs.
  The daemon now creates the directory again and logs a warning.

• Keep file permissions when rewriting symbolic links.

frobnicate 2.4.0 (2024-01-20)
=============================

• First release with the frobd daemon.

• Building now needs zlib >= 3.1 and quxlib 4.2.
"""


def test_an_entry_is_answered_with_the_release_heading_it_is_listed_under(tmp_path):
    engine = engine_over(tmp_path, {"frobnicate-news": RELEASES, "other.txt": "Ada Quill wrote the tests in 2023."})
    question = "Which frobnicate release fixed a frobd crash when the cache directory is removed?"
    answer = engine.ask(question)
    assert answer.answerable and answer.text.startswith("frobnicate 2.4.1 (2024-05-02) [1]"), answer.text
    heading, entry = answer.citations[:2]
    assert (heading.start_line, entry.start_line) == (9, 14) and "cache directory" in entry.quote
    for citation in answer.citations:
        assert_verbatim(citation, tmp_path / "docs")
    followup = engine.ask("When was it released?", [answer.turn()])
    assert followup.answerable and "2024-05-02" in followup.citations[0].quote, followup.text
    unnamed = engine.ask("Which release fixed the crash when the cache directory is removed?")  # names no program
    assert unnamed.answerable and unnamed.citations[0].quote == "frobnicate 2.4.1 (2024-05-02)", unnamed.text


def test_the_newest_release_is_the_latest_heading_not_another_programs_version(tmp_path):
    """The newest release's heading is found though the passages retrieved miss it, and "zlib
    >= 3.1" in an entry names another program's release."""
    engine = engine_over(tmp_path, {"frobnicate-news": RELEASES})
    answer = engine.ask("Which is the newest frobnicate release in the NEWS file?")
    assert answer.answerable and answer.citations[0].quote == "frobnicate 2.5.0 (2024-09-12)", answer.text
    first = engine.ask("Which was the first frobnicate release in the NEWS file?")
    assert first.answerable and first.citations[0].quote == "frobnicate 2.4.0 (2024-01-20)", first.text


RESERVED = """Every tool of the frob suite uses a reserved port in the 7400-7499 range.
Ports in that range are only reserved by the maintainers, on request.

    port  | name          | description
    ------+---------------+-------------------
    7412  | frobd         | the frob daemon
    7413  | frobd-admin   | its admin console
    7420  | zapperd       | the zapper relay

(Next port allocation: 7421.)
"""


def test_a_text_table_row_is_read_with_its_header(tmp_path):
    engine = engine_over(tmp_path, {"frob-ports": RESERVED})
    answer = engine.ask("Which port is reserved for zapperd?")
    assert answer.answerable and answer.citations[0].quote == "7420  | zapperd       | the zapper relay", answer.text
    assert_verbatim(answer.citations[0], tmp_path / "docs")



def test_the_words_joined_by_and_name_the_documents_of_a_two_part_question():
    """"bugs" also names procps-bugs.md, but "and" joins GLib and procps: those name the parts."""
    from llama_index.core.schema import NodeWithScore, TextNode

    from citebot.evidence import named_documents

    hits = [NodeWithScore(node=TextNode(text="x", metadata={"source": name}), score=1.0)
            for name in ["glib-README.md", "procps-bugs.md", "procps-copyright"]]
    named = named_documents("Where should bugs be reported for GLib and for procps?", hits, near=5)
    assert named == {"glib": {"glib-README.md"}, "procps": {"procps-bugs.md", "procps-copyright"}}


QUXJQ_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: quxjq
Source: https://github.com/example/quxjq

Files: *
Copyright: 2012 Ada Quill <ada@frob.example>
License: MIT

Files: docs/*
Copyright: 2012 Ada Quill <ada@frob.example>
License: CC-BY-3.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 and associated documentation files, to deal in the Software without restriction.

License: CC-BY-3.0
 THE WORK IS PROVIDED UNDER THE TERMS OF THIS CREATIVE COMMONS PUBLIC LICENSE. THE WORK IS
 PROTECTED BY COPYRIGHT AND/OR OTHER APPLICABLE LAW.
"""


def test_a_stanza_of_fields_is_read_with_the_documents_name(tmp_path):
    """"Files: docs/* / Copyright: … / License: CC-BY-3.0" never names quxjq: its path does."""
    engine = engine_over(tmp_path, {"quxjq-copyright": QUXJQ_COPYRIGHT,
                                    "quxjq-readme": "quxjq is a command-line processor for frob files.\n"
                                                    "Its documentation is in the docs folder and on the web site.\n"})
    answer = engine.ask("Under which licence is the documentation of quxjq distributed?")
    assert answer.answerable and "License: CC-BY-3.0" in answer.citations[0].quote, answer.text
    assert answer.citations[0].quote.startswith("Files: docs/*")


@pytest.mark.parametrize(("key", "named"), [
    ("tar-news.docx", True), ("dbus/NEWS", False), ("NEWS", True), ("wget-news.txt", False)])
def test_a_question_names_a_document_by_a_word_of_its_file_name(key, named):
    """Only a NEWS file the question names gives "the newest release" (NEWS alone names nothing)."""
    from citebot.evidence import names_document

    assert names_document("Which is the newest GNU tar release?", key, "") is named


def test_the_cells_of_a_row_read_with_its_header_are_fields():
    """"uid: 64001" in a row's reading is a field named by the question's "uid", as "License: MIT" is."""
    from citebot.answer import Sentence, _fields

    row = Sentence("ports", 3, 3, "64001 | mysql | mysql-server", 0,
                   reading="uid: 64001 | name: mysql | description: mysql-server")
    assert _fields(row) == [("uid", "64001"), ("name", "mysql"), ("description", "mysql-server")]
    assert _fields(Sentence("copyright", 1, 1, "License: MIT", 0)) == [("License", "MIT")]


def test_a_lead_in_sentence_is_quoted_with_what_it_introduces(tmp_path):
    """A sentence ending in a colon introduces the list below it: its first entry is quoted with it."""
    engine = engine_over(tmp_path, {"frob-memory.txt": (
        "Memory usage\n\nClosures are not allocated with malloc.\n"
        "To allocate the memory for a closure, frobnicate tries these places in turn, using the first that works:\n\n"
        "* an anonymous mapping of memory,\n* a file created in the directory FROB_TMPDIR names,\n* a file in /tmp.\n")})
    answer = engine.ask("Where does frobnicate allocate the memory for a closure?")
    assert answer.answerable and "anonymous mapping" in answer.text, answer.text
