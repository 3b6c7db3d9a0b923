"""A row of a text table read with its header: what "64001 | mysql | mysql-server" holds.

Tables extracted from DOCX and HTML files name every cell by its column already (sources.table_lines);
a table written as text (Markdown, or the "uid | name | description" tables of READMEs) keeps its
header once, above a rule, so a row quoted alone says nothing of what its numbers are. The
scorer reads such a row with its cells named ("uid: 64001 | name: mysql | description:
mysql-server"); the quote stays the row as written.
"""

from __future__ import annotations

import re

from citebot.sources import table_lines

# A rule under a table's header: "------+-------", "|---|:--:|", "=== ====".
_RULE = re.compile(r"[ \t]*\|?[ \t]*:?[-=]{3,}:?[ \t]*(?:[|+ ][ \t]*:?[-=]{3,}:?[ \t]*)*\|?[ \t]*")
_MAX_ROWS_UP = 200  # how far above a row its header is looked for


def cells(line: str) -> list[str]:
    """The cells of a table row written with "|" between them; [] for a line of fewer than two."""
    parts = [p.strip() for p in line.strip().strip("|").split("|")]
    return parts if len(parts) >= 2 and any(parts) else []


def row_reading(text: str, start: int, end: int) -> str:
    """text[start:end] as the scorer reads it: a table row whose table has a header row (the
    row above its rule) with each cell named by its column; any other text as it is."""
    piece = text[start:end]
    if "\n" in piece.strip() or not (row := cells(piece)):
        return piece
    line_start = text.rfind("\n", 0, start) + 1
    for _ in range(_MAX_ROWS_UP):
        if line_start == 0:
            return piece
        above_start = text.rfind("\n", 0, line_start - 1) + 1
        above = text[above_start : line_start - 1]
        if _RULE.fullmatch(above):
            header_end = above_start - 1
            header = cells(text[text.rfind("\n", 0, header_end) + 1 : header_end]) if header_end > 0 else []
            return table_lines([header, row], header=True)[1] if len(header) == len(row) else piece
        if not cells(above):
            return piece
        line_start = above_start
    return piece
