"""Source files → text with a line map and metadata.

Line numbers are always those of the file on disk (1-based), so a citation's
line range and quote can be checked against the file itself.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown"}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_FRONT_MATTER_KEYS = ("title", "url", "published")


class SourceError(ValueError):
    """A file that cannot be indexed; the message says why."""


@dataclass
class SourceText:
    text: str
    # Character offset where indexable text starts (after Markdown front matter).
    body_start: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def line_of(self, offset: int) -> int:
        """1-based line number holding character `offset`."""
        return bisect.bisect_right(self._line_starts, offset)

    @property
    def line_starts(self) -> list[int]:
        return self._line_starts


def decode(data: bytes) -> tuple[str, list[str]]:
    """Text of `data` with newlines normalised as Python's text mode does."""
    warnings: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        warnings.append("not valid UTF-8; decoded as Windows-1252")
    return text.replace("\r\n", "\n").replace("\r", "\n"), warnings


def read_source(path: Path, max_bytes: int = 1 << 62) -> SourceText:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise SourceError(f"unsupported file type {path.suffix or '(none)'}")
    size = path.stat().st_size
    if size > max_bytes:
        raise SourceError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SourceError("looks like a binary file")
    text, warnings = decode(data)
    if not text.strip():
        raise SourceError("file is empty")
    source = SourceText(text=text, warnings=warnings)
    if path.suffix.lower() in {".md", ".markdown"}:
        _apply_front_matter(source)
    return source


def _apply_front_matter(source: SourceText) -> None:
    match = _FRONT_MATTER.match(source.text)
    if not match:
        return
    source.body_start = match.end()
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _FRONT_MATTER_KEYS:
            source.metadata[key.strip()] = value.strip().strip("\"'")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lines_text(path: Path, start_line: int, end_line: int) -> str:
    """The text of lines start_line..end_line (inclusive) of `path`, as read for indexing."""
    text, _ = decode(path.read_bytes())
    return "\n".join(text.split("\n")[start_line - 1 : end_line])


class SourceCache:
    """Recently read sources, re-read when the file changes on disk."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._texts: dict[Path, tuple[int, SourceText]] = {}

    def get(self, path: Path) -> SourceText | None:
        try:
            stamp = path.stat().st_mtime_ns
            cached = self._texts.get(path)
            if cached and cached[0] == stamp:
                return cached[1]
            source = read_source(path)
        except (OSError, SourceError):
            return None
        if len(self._texts) >= self._size:
            self._texts.pop(next(iter(self._texts)))
        self._texts[path] = (stamp, source)
        return source
