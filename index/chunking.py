"""Line-aware chunking as a llama-index node parser.

Written here instead of using SentenceSplitter because citations need exact
line ranges: SentenceSplitter re-joins its splits, so its chunks are not always
substrings of the file and their lines cannot be recovered. Every chunk made
here is a verbatim slice of the file, made of whole lines (a line longer than
the budget is cut at sentence boundaries), so line numbers are exact.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, MetadataMode, TextNode
from pydantic import PrivateAttr

from citebot.sources import SourceText
from citebot.store import chunk_id

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "sen", "rep", "gov", "lt", "col", "prof",
    "inc", "co", "corp", "ltd", "vs", "etc", "no", "vol", "fig", "jan", "feb", "aug", "sept",
    "oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e", "a.m", "p.m",
}
# "2.4 Library Notes" on a line of its own, as manuals extracted from PDF number their sections.
_NUMBERED_HEADING = r"[ \t]*\d+(?:\.\d+)+\.?[ \t]+[A-Z](?:[^\n!?:;,]{0,60}[^\s.!?:;,])?"
_BOUNDARY = re.compile(
    r"[.!?…][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])"  # end of sentence, next one starts
    r"|\n(?=[ \t]*(?:#|[-*•+] |\d+[.)] |\|))"  # a Markdown heading, list item or table row
    r"|\n(?=" + _NUMBERED_HEADING + r"\n)"  # a numbered section heading of a manual ("2.4 Library Notes")
    # A line opening with a lower-case term and its colon ("postgres: Postgresql databases are
    # owned by this user.", "-v: Be verbose."): a definition list's entry, as HTML's are read.
    # (A capitalised one, "License: MIT", may be a field of the stanza above it.)
    r"|\n(?=[ \t]*[^\sA-Z:][^\s:]*(?:,? [^\s:]+){0,2}:[ \t]+\S)"
    r"|\n[ \t]*[-=*_~+#]{3,}[ \t]*(?=\n|$)"  # a rule line ("====" under a title) belongs to no sentence
    # A blank line ends a paragraph ("Homepage: https://…" or a title above one is not its first
    # sentence), unless the paragraph ends in a colon: "Please send by email to:" and the address
    # set off below it are one sentence; or is a headline, or the text is double-spaced (below).
    r"|(?P<blank>(?<=[^\s:]))(?=\n[ \t]*\n)"
)
# Text copied out of a PDF often has a blank line after every wrapped line ("an end to\n\nthe war"):
# there a blank line is a line break. Told by the share of blank lines that fall mid-sentence (a
# word or comma before, a lower-case word after): 0.61 in such a seed article, at most 0.25 in
# any other document of the public sets (NEWS files' entries end in "." or "]").
_BLANK_GAP = re.compile(r"(\S)[ \t]*\n[ \t]*\n[ \t]*(\S)")
_DOUBLE_SPACED_SHARE = 0.4
# A news headline over its paragraph ("Heat waves", "Carrie Underwood announces first residency in
# Las Vegas"), or a dateline ("London CNN —"), is quoted with it: it often holds the answer (cut
# off, RealTime QA lost 2 rows net).
# One whole line of plain words opening in a capital (or a quoted title: "'Squid Game' season 2 is
# coming to Netflix"): no full stop, field label ("Homepage:") or markup. The rest of a line after
# "Green light!" is a sentence's end, not a headline.
_HEADLINE = re.compile(r"[\"'“‘]?[A-Z][^\n.!?:;\[\]()<>|`*#=_/\\]*[A-Za-z0-9'\"’”—–]")
_LIST_NUMBER = re.compile(r"[ \t]*(?:\d+[.)])?[ \t]*")  # what may stand before a headline on its line ("4. Heat waves")
_INITIALS = re.compile(r"(?:[a-z]\.)*[a-z]")  # "J.D. Vance", "A. Smith"
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?…][\"'”’)\]]*$")

# Chunk metadata that is bookkeeping, not content: kept out of embeddings and BM25.
BOOKKEEPING_KEYS = ["source", "start_line", "end_line", "file_sha", "page", "url", "published", "text_sha"]
# Words of the path of a file without a title ("tar copyright"): keyword-indexed, not embedded, so
# a renamed or copied file keeps its chunks' vectors.
PATH_TITLE_KEY = "path_title"


# A "sentence" longer than this that spans lines is not prose but lines without full stops
# (a table, a list, a heading glued to its text, code): each of its lines stands alone.
_LONGEST_SENTENCE = 300


# No sentence goes on past the line of a Markdown or numbered heading: the title glued onto a
# document's first sentence ("# zapper The zapper history file…", "2.3 Simple parsing For simple
# types…") made a quote that is no sentence of the text (a heading without a blank line under it,
# which the blank-line boundary misses).
_HEADING = re.compile(r"[ \t]*#{1,6}[ \t][^\n]*|" + _NUMBERED_HEADING + r"(?=\n)")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) offsets of the sentences in text[start:end], whitespace trimmed."""
    for s_start, s_end in _prose_spans(text, start, end):
        heading = _HEADING.match(text, s_start, s_end)
        if heading and heading.end() < s_end:  # a heading line, then the text under it
            yield from _sentence_or_lines(text, [(s_start, heading.end()), *_trimmed(text, heading.end(), s_end)])
        else:
            yield from _sentence_or_lines(text, [(s_start, s_end)])


def _sentence_or_lines(text: str, spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Each span as one sentence, or, when it is a long run of lines (a table, a list), line by line."""
    for s_start, s_end in spans:
        piece = text[s_start:s_end]
        if "\n" not in piece or (s_end - s_start <= _LONGEST_SENTENCE and " | " not in piece):
            yield s_start, s_end
            continue
        yield from _line_groups(text, s_start, s_end)


def _line_groups(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """text[start:end] cut before each line that does not continue the one above: a line that
    opens with a capital, a digit or a symbol starts a new piece, one that opens in lower case
    (after any quotes or brackets: '"libpipeline" library.') is hard-wrapped prose and stays with it."""
    piece_start = start
    for line_start, _ in _line_spans(text[:end], start):
        opener = text[line_start:end].lstrip(" \t\"'“‘([`")[:1]
        if line_start > piece_start and opener not in ("", "\n") and not opener.islower():
            yield from _trimmed(text, piece_start, line_start)
            piece_start = line_start
    yield from _trimmed(text, piece_start, end)


@functools.lru_cache(maxsize=64)  # asked for each passage of a file; the file's text is one object
def _double_spaced(text: str) -> bool:
    """True when `text` has blank lines between its wrapped lines, not between paragraphs."""
    gaps = _BLANK_GAP.findall(text)
    wraps = sum(1 for before, after in gaps if (before.isalnum() or before in ",-") and after.islower())
    return len(gaps) >= 10 and wraps >= _DOUBLE_SPACED_SHARE * len(gaps)


def _is_headline(text: str, start: int, end: int) -> bool:
    """True when the last paragraph of text[start:end] is a whole line that is a headline
    (_HEADLINE), after at most a list number: of a run of headlines ("BREAKFAST BROWSE" over
    "'Squid Game' season 2 is coming to Netflix") the last decides, and all go with the paragraph below."""
    paragraph = text[max(start, text.rfind("\n\n", start, end)) : end]
    first = end - len(paragraph.lstrip())
    line_start = text.rfind("\n", 0, first) + 1
    return bool(_LIST_NUMBER.fullmatch(text, line_start, first) and _HEADLINE.fullmatch(paragraph.strip()))


def _prose_spans(text: str, start: int, end: int | None) -> Iterator[tuple[int, int]]:
    end = len(text) if end is None else end
    cursor = start
    line_breaks_only = _double_spaced(text)
    for match in _BOUNDARY.finditer(text, start, end):
        blank = match.group("blank") is not None
        if blank and (line_breaks_only or _is_headline(text, cursor, match.start())):
            continue
        before = _WORD_BEFORE.search(text, cursor, match.start() + 1)
        word = before.group(1).lower() if before else ""
        if blank or match.group().startswith(("!", "?", "\n")):
            word = ""
        if word in _ABBREVIATIONS or _INITIALS.fullmatch(word):
            continue
        # A sentence ends after its punctuation; a line break (and a rule line) belongs to neither side.
        yield from _trimmed(text, cursor, match.start() if match.group().startswith("\n") else match.end())
        cursor = match.end()
    yield from _trimmed(text, cursor, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


class LineChunker(NodeParser):
    """Packs whole lines into chunks of at most `chunk_tokens` embedder tokens."""

    chunk_tokens: int = 200
    overlap_lines: int = 1
    # The embedder's id is part of every chunk id, so a model change never reuses old vectors.
    model_id: str = ""
    _count_tokens: Callable[[str], int] = PrivateAttr()

    def __init__(self, count_tokens: Callable[[str], int], **kwargs: Any) -> None:
        # Parent metadata is set per chunk below; the default merge would re-add bookkeeping.
        super().__init__(include_metadata=False, include_prev_next_rel=False, **kwargs)
        self._count_tokens = count_tokens

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> list[BaseNode]:
        chunks: list[BaseNode] = []
        for document in nodes:
            assert isinstance(document, Document)
            chunks.extend(self.chunk_document(document))
        return chunks

    def chunk_document(self, document: Document) -> list[TextNode]:
        metadata = dict(document.metadata)
        source = SourceText(text=document.text, body_start=int(metadata.pop("body_start", 0)),
                            page_starts=metadata.pop("page_starts", None))
        segments = list(self._segments(source))
        nodes: list[TextNode] = []
        first = 0
        while first < len(segments):
            last, budget = first, segments[first][2]
            page = source.page_of(segments[first][0])
            while (last + 1 < len(segments) and budget + segments[last + 1][2] <= self.chunk_tokens
                   and source.page_of(segments[last + 1][0]) == page):  # a chunk never spans pages
                last += 1
                budget += segments[last][2]
            start, end = segments[first][0], segments[last][1]
            lines = {"start_line": source.line_of(start), "end_line": source.line_of(end - 1)}
            node = TextNode(
                id_=chunk_id(self.model_id, metadata["source"], metadata["file_sha"], len(nodes)),
                text=source.text[start:end],
                start_char_idx=start,
                end_char_idx=end,
                metadata={**metadata, **lines, **({"page": page} if page else {})},
                excluded_embed_metadata_keys=[*BOOKKEEPING_KEYS, PATH_TITLE_KEY],
                excluded_llm_metadata_keys=BOOKKEEPING_KEYS,
            )
            # What is embedded, and by which model: equal text_sha means an equal vector.
            embedded_text = f"{self.model_id}\0{node.get_content(metadata_mode=MetadataMode.EMBED)}"
            node.metadata["text_sha"] = hashlib.sha256(embedded_text.encode()).hexdigest()[:32]
            nodes.append(node)
            # Repeat the last short line(s) so a fact split across chunks is still whole in one.
            overlap = min(self.overlap_lines, last - first)
            if last + 1 == len(segments) or source.page_of(segments[last + 1][0]) != page:
                overlap = 0  # nothing follows on this page: no chunk of repeated lines alone
            while overlap and segments[last - overlap + 1][2] > self.chunk_tokens // 4:
                overlap -= 1
            first = last + 1 - overlap
        return nodes

    def _segments(self, source: SourceText) -> Iterator[tuple[int, int, int]]:
        """(start, end, tokens) of each non-blank line, long lines cut into sentences."""
        for line_start, line_end in _line_spans(source.text, source.body_start):
            piece = source.text[line_start:line_end]
            if not piece.strip():
                continue
            tokens = self._count_tokens(piece)
            if tokens <= self.chunk_tokens:
                yield line_start, line_end, tokens
                continue
            for s_start, s_end in sentence_spans(source.text, line_start, line_end):
                yield from self._word_windows(source.text, s_start, s_end)

    def _word_windows(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """A sentence over the budget, cut at spaces into pieces that fit."""
        tokens = self._count_tokens(text[start:end])
        if tokens <= self.chunk_tokens:
            yield start, end, tokens
            return
        words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
        per_piece = max(1, len(words) * self.chunk_tokens // (tokens + 1))
        for i in range(0, len(words), per_piece):
            group = words[i : i + per_piece]
            s, e = start + group[0][0], start + group[-1][1]
            yield s, e, self._count_tokens(text[s:e])


def _line_spans(text: str, start: int) -> Iterator[tuple[int, int]]:
    while start < len(text):
        newline = text.find("\n", start)
        end = len(text) if newline < 0 else newline
        yield start, end
        start = end + 1
