"""The heading a passage sits under: what a NEWS entry's release is.

"Which dbus release fixed a crash when re-creating a connection's policy fails?" is answered by
an entry ("• Avoid a dbus-daemon crash if re-creating a connection's policy fails.") that only
restates the question, and by the heading it is listed under ("dbus 1.14.10 (2023-09-01)"),
which may be many lines above it, outside the retrieved passage. Release notes, changelogs and
manuals written as text, Markdown or extracted from DOCX all mark a section the same few ways.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

_ATX = re.compile(r"[ \t]*#{1,6}[ \t]+\S")  # "### Major changes between OpenSSL 3.0.18 and 3.0.19"
_RULE = re.compile(r"[ \t]*(?:={3,}|-{3,})[ \t]*")  # the underline of a setext heading
# A heading reads as a title, not a sentence: short, no full stop or comma at its end (a colon
# may end one: "Changes in version 2.7.6:" over patch's entries).
_SENTENCE_END = re.compile(r"[.,;]\s*$")
# An entry of a list, not a heading ("• GLib >= 2.38 is required…", "** Bug fixes"); GNU NEWS
# files open each release with "* Noteworthy changes in release 1.12".
_ENTRY = re.compile(r"(?:[•·+-]|\*\*|\d+[.)])\s")
MAX_HEADING_CHARS = 100
_MAX_WORDS = 14
# How far above a sentence its section's heading is looked for: the longest release section of the
# public NEWS files is 16,115 characters (wget's 1.20 notes).
REACH_CHARS = 20_000
_KEPT = 64  # documents whose heading lines are kept


class SectionHeadings:
    """The heading lines of documents, found once a document, and the one a sentence is under."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, int], list[tuple[int, int]]] = {}

    def of(self, key: str, text: str) -> list[tuple[int, int]]:
        """[start, end) of every heading line of `text`, the document `key` (heading_lines)."""
        lines = self._lines.get((key, len(text)))
        if lines is None:
            if len(self._lines) >= _KEPT:
                self._lines.clear()
            lines = self._lines[(key, len(text))] = heading_lines(text)
        return lines

    def above(self, key: str, text: str, start: int, floor: int, wanted: Callable[[str], bool]) -> tuple[int, int] | None:
        """[start, end) of the nearest heading line of `text` (the document `key`) above offset
        `start`, not before `floor` nor further than REACH_CHARS, for which `wanted(line)` holds."""
        lines = self.of(key, text)
        below = bisect.bisect_left(lines, (start, start))  # walked up from there, without copying the list
        for line_start, line_end in (lines[i] for i in range(below - 1, -1, -1)):
            if line_start < max(floor, start - REACH_CHARS):
                return None
            if line_end <= start and wanted(text[line_start:line_end]):
                return line_start, line_end
        return None


def heading_lines(text: str) -> list[tuple[int, int]]:
    """[start, end) of every heading line of `text`: a short line that is not a sentence and
    either is a Markdown heading, is underlined ("====", "----"), or opens a block (a blank line
    or the text's start above it). In text without blank lines (extracted from a DOCX, PDF or
    HTML file: one paragraph a line) any short line that is no sentence may be one."""
    spaced = "\n\n" in text
    found = []
    above = ""
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    for i, start in enumerate(starts):
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(text)
        line = text[start:end]
        below_end = starts[i + 2] - 1 if i + 2 < len(starts) else len(text)
        below = text[end + 1 : below_end] if i + 1 < len(starts) else ""
        if _is_heading(line, above, below, spaced):
            found.append((start, end))
        above = line
    return found


def _is_heading(line: str, above: str, below: str, spaced: bool) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > MAX_HEADING_CHARS or _RULE.fullmatch(line):
        return False
    if _ATX.match(line) or _RULE.fullmatch(below):
        return True
    if _SENTENCE_END.search(stripped) or len(stripped.split()) > _MAX_WORDS or _ENTRY.match(stripped):
        return False
    # Set off by blank lines: a paragraph's first line ("This is a security update for the dbus
    # 1.14.x stable branch, fixing") goes on below it.
    return not spaced or (not above.strip() or bool(_RULE.fullmatch(above))) and not below.strip()
