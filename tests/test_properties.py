"""Property-based tests: chunk line ranges, quotes, and the Telegram message splitter."""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.schema import Document

from citebot.bot.telegram.format import LIMIT, Block, cut_text, split_messages, utf16_len
from citebot.chunking import LineChunker, sentence_spans
from citebot.sources import SourceText

WORD = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12)
LINE = st.lists(WORD, min_size=0, max_size=40).map(" ".join)
TEXT = st.lists(LINE, min_size=1, max_size=60).map("\n".join)


def _lines(text: str, start: int, end: int) -> str:
    return "\n".join(text.split("\n")[start - 1 : end])


@settings(max_examples=150, deadline=None)
@given(text=TEXT, budget=st.integers(min_value=3, max_value=60))
def test_chunks_are_exact_slices_with_tight_line_ranges(text, budget):
    chunker = LineChunker(count_tokens=lambda t: len(t.split()), chunk_tokens=budget)
    nodes = chunker.chunk_document(Document(text=text, metadata={"source": "f", "file_sha": "s"}))
    covered = set()
    for node in nodes:
        start, end = node.metadata["start_line"], node.metadata["end_line"]
        assert node.text == text[node.start_char_idx : node.end_char_idx] and node.text.strip()
        lines = _lines(text, start, end)
        assert node.text in lines
        assert node.text.split("\n")[0] in _lines(text, start, start)
        assert node.text.split("\n")[-1] in _lines(text, end, end)
        covered.update(range(start, end + 1))
    assert all(i + 1 in covered for i, line in enumerate(text.split("\n")) if line.strip())


@settings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_every_sentence_quote_is_in_its_file_at_its_lines(text):
    source = SourceText(text=text)
    previous_end = 0
    for start, end in sentence_spans(text):
        quote = text[start:end]
        assert quote.strip() == quote and start >= previous_end
        assert quote in _lines(text, source.line_of(start), source.line_of(end - 1))
        previous_end = end


MESSAGE_TEXT = st.text(alphabet=st.sampled_from(list("ab <>&\"'\n. 😀é")), min_size=0, max_size=12_000)


@settings(max_examples=100, deadline=None)
@given(text=MESSAGE_TEXT, limit=st.integers(min_value=20, max_value=LIMIT))
def test_cut_text_parts_fit_and_add_up(text, limit):
    parts = cut_text(text, limit)
    assert "".join(parts) == text
    assert all(part and utf16_len(escape(part, quote=False)) <= limit for part in parts)


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        self.ok = self.ok and bool(self.stack) and self.stack.pop() == tag


@settings(max_examples=60, deadline=None)
@given(blocks=st.lists(st.tuples(MESSAGE_TEXT, st.sampled_from([None, "b", "i", "blockquote"])), min_size=1, max_size=6))
def test_split_messages_fit_and_keep_tags_balanced(blocks):
    messages = split_messages([Block(text, tag) for text, tag in blocks])
    for message in messages:
        assert utf16_len(message) <= LIMIT
        parser = _Balance()
        parser.feed(message)
        parser.close()
        assert parser.ok and parser.stack == []
