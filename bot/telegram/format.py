"""Answers as Telegram HTML messages, split under Telegram's 4,096-character limit.

Messages are built from blocks of plain text, escaped here, so no document or
user text can inject markup; a block too long for one message is cut at a
paragraph, sentence or word boundary and each part wrapped in its own tags,
so tags are always balanced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html import escape

from citebot import Answer, Citation, SourceInfo, one_line

LIMIT = 4096  # Telegram's limit, counted in UTF-16 code units
QUOTE_PREVIEW = 300  # characters of each quote shown in the answer itself


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Block:
    text: str  # plain text, escaped when rendered
    tag: str | None = None  # wraps the whole block: "b", "blockquote", ...
    html: str | None = None  # a short, already-safe HTML line (never split)

    def render(self) -> str:
        if self.html is not None:
            return self.html
        body = escape(self.text, quote=False)
        return f"<{self.tag}>{body}</{self.tag}>" if self.tag else body


def citation_header(n: int, c: Citation) -> Block:
    lines = f"line {c.start_line}" if c.start_line == c.end_line else f"lines {c.start_line}–{c.end_line}"
    page = f", page {c.page}" if c.page else ""
    return Block("", html=f"<b>[{n}]</b> <code>{escape(c.source)}</code>, {lines}{page}")


def answer_blocks(answer: Answer) -> tuple[list[Block], bool]:
    """The reply for `answer`, and whether any quote was shortened (the "Sources" button)."""
    if not answer.answerable:
        return [Block(answer.text, "i")], False
    blocks = [Block(answer.text)]
    shortened = False
    for n, c in enumerate(answer.citations, 1):
        quote = one_line(c.quote)
        if len(quote) > QUOTE_PREVIEW:
            quote, shortened = quote[:QUOTE_PREVIEW].rsplit(" ", 1)[0] + " …", True
        blocks += [citation_header(n, c), Block(quote, "blockquote")]
    return blocks, shortened


def quote_blocks(citations: list[Citation]) -> list[Block]:
    blocks: list[Block] = []
    for n, c in enumerate(citations, 1):
        blocks += [citation_header(n, c), Block(one_line(c.quote), "blockquote")]
    return blocks


def sources_blocks(sources: list[SourceInfo]) -> list[Block]:
    if not sources:
        return [Block("Nothing is indexed yet.")]
    lines = "\n".join(f"• {s.source} ({s.chunks} chunks)" for s in sources)
    return [Block(f"{len(sources)} indexed files", "b"), Block(lines)]


def split_messages(blocks: Iterable[Block], limit: int = LIMIT) -> list[str]:
    """Pack blocks into as few messages as fit, never cutting inside a tag."""
    messages: list[str] = []
    current = ""
    for block in _fitted(blocks, limit):
        piece = block.render()
        joined = f"{current}\n\n{piece}" if current else piece
        if utf16_len(joined) <= limit:
            current = joined
        else:
            messages.append(current)
            current = piece
    if current:
        messages.append(current)
    return messages


def _fitted(blocks: Iterable[Block], limit: int) -> Iterator[Block]:
    for block in blocks:
        if block.html is not None or utf16_len(block.render()) <= limit:
            yield block
            continue
        room = limit - utf16_len(Block("", block.tag).render())
        for part in cut_text(block.text, room):
            yield Block(part, block.tag)


def cut_text(text: str, limit: int) -> list[str]:
    """Parts of `text` whose escaped UTF-16 length is at most `limit`; they concatenate to `text`."""
    parts = []
    while text:
        end = _longest_prefix(text, limit)
        if end < len(text):
            window = text[:end]
            for separator in ("\n\n", "\n", ". ", " "):
                at = window.rfind(separator)
                if at > end // 2:
                    end = at + len(separator)
                    break
        parts.append(text[:end])
        text = text[end:]
    return parts


def _longest_prefix(text: str, limit: int) -> int:
    used = 0
    for i, ch in enumerate(text):
        used += utf16_len(escape(ch, quote=False))
        if used > limit:
            return max(i, 1)
    return len(text)
