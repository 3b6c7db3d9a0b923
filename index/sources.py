"""Source files → text with a line map, pages and metadata.

For plain text and Markdown, line numbers are those of the file on disk
(1-based), so a citation can be checked against the file itself. For PDF, DOCX
and HTML they are lines of the extracted text (one paragraph per line; for a
PDF counted from the top of each page, and the page is cited too): extraction
is deterministic, so `citebot` and a reader see the same lines.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".pdf", ".docx", ".html", ".htm"}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_FRONT_MATTER_KEYS = ("title", "url", "published")
MAX_UNZIPPED_BYTES = 100_000_000  # a DOCX that inflates past this is refused (zip bomb)
MAX_PDF_PAGES = 5_000


class SourceError(ValueError):
    """A file that cannot be indexed; the message says why."""


@dataclass
class SourceText:
    text: str
    # Character offset where indexable text starts (after Markdown front matter).
    body_start: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Character offsets where pages start, for paged formats (PDF).
    page_starts: list[int] | None = None

    def __post_init__(self) -> None:
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def line_of(self, offset: int) -> int:
        """1-based line holding character `offset`, counted from its page's top for paged text."""
        line = bisect.bisect_right(self._line_starts, offset)
        if self.page_starts:
            line -= bisect.bisect_right(self._line_starts, self.page_bounds(offset)[0]) - 1
        return line

    def page_of(self, offset: int) -> int | None:
        return bisect.bisect_right(self.page_starts, offset) if self.page_starts else None

    def page_bounds(self, offset: int) -> tuple[int, int]:
        """[start, end) of the page holding `offset` (the whole text when not paged)."""
        if not self.page_starts:
            return 0, len(self.text)
        page = bisect.bisect_right(self.page_starts, offset)
        end = self.page_starts[page] if page < len(self.page_starts) else len(self.text)
        return self.page_starts[page - 1], end

    def lines(self, start_line: int, end_line: int, page: int | None = None) -> str:
        """The text of lines start_line..end_line (inclusive), of `page` for paged text."""
        origin = self.page_starts[page - 1] if self.page_starts and page else 0
        first = bisect.bisect_right(self._line_starts, origin)
        return "\n".join(self.text.split("\n")[first + start_line - 2 : first + end_line - 1])


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
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(f"unsupported file type {suffix or '(none)'}")
    size = path.stat().st_size
    if size > max_bytes:
        raise SourceError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    data = path.read_bytes()
    if suffix == ".pdf":
        source = _read_pdf(path)
    elif suffix == ".docx":
        source = _read_docx(path)
    elif b"\x00" in data[:8192]:
        raise SourceError("looks like a binary file")
    else:
        text, warnings = decode(data)
        source = _read_html(text, warnings) if suffix in (".html", ".htm") else SourceText(text, warnings=warnings)
        if suffix in (".md", ".markdown"):
            _apply_front_matter(source)
    if not source.text[source.body_start :].strip():
        raise SourceError("file is empty" if not data.strip() else "no text to index")
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


def _tidy(line: str) -> str:
    return " ".join(line.split())


def _read_pdf(path: Path) -> SourceText:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported by us
    pages: list[str] = []
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise SourceError("the PDF is encrypted")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise SourceError(f"the PDF has {len(reader.pages):,} pages, over the {MAX_PDF_PAGES:,}-page limit")
        for page in reader.pages:
            lines = (_tidy(line) for line in (page.extract_text() or "").splitlines())
            pages.append("\n".join(line for line in lines if line))
        title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SourceError(f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    starts, offset = [], 0
    for text in pages:
        starts.append(offset)
        offset += len(text) + 1
    source = SourceText(text="\n".join(pages), page_starts=starts)
    if title:
        source.metadata["title"] = _tidy(str(title))
    return source


def _read_docx(path: Path) -> SourceText:
    import docx

    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_UNZIPPED_BYTES:
            raise SourceError(f"the DOCX inflates to {inflated:,} bytes (zip bomb?)")
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SourceError(f"unreadable DOCX ({type(exc).__name__})") from None
    except ValueError as exc:  # python-docx: not a Word document
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"unreadable DOCX ({exc})") from None
    lines = [_tidy(p.text) for p in document.paragraphs]
    for table in document.tables:
        lines.extend(" | ".join(_tidy(cell.text) for cell in row.cells) for row in table.rows)
    source = SourceText(text="\n".join(line for line in lines if line))
    if document.core_properties.title:
        source.metadata["title"] = _tidy(document.core_properties.title)
    return source


class _VisibleText(HTMLParser):
    """Text a browser would show: no scripts, styles or head; block elements start new lines."""

    HIDDEN = {"script", "style", "head", "noscript", "template", "svg", "title"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
              "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dt", "dd", "hr", "main", "nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._hidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self._hidden.append(tag)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden[-1:] == ["title"]:
            self.title.append(data)
        elif not self._hidden:
            self.parts.append(data)


def _read_html(html: str, warnings: list[str]) -> SourceText:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (_tidy(line) for line in "".join(parser.parts).split("\n"))
    source = SourceText(text="\n".join(line for line in lines if line), warnings=warnings)
    if _tidy("".join(parser.title)):
        source.metadata["title"] = _tidy("".join(parser.title))
    return source


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lines_text(path: Path, start_line: int, end_line: int, page: int | None = None) -> str:
    """The text of lines start_line..end_line (inclusive) of `path`, as read for indexing."""
    return read_source(path).lines(start_line, end_line, page)


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
