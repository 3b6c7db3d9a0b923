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
import io
import re
import threading
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from citebot.errors import SourceError

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
# Plain text by name; any other file (README, COPYING, NEWS without a suffix) is recognised by content.
TEXT_SUFFIXES = MARKDOWN_SUFFIXES | {".txt", ".text", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".log",
                                     ".ini", ".cfg", ".conf", ".toml", ".yaml", ".yml", ".xml", ".tex"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx", ".gz"}
# Never text, whatever the first bytes say: refused by name without reading them.
BINARY_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .webp .tif .tiff .zip .tar .xz .bz2 .zst .7z .rar .exe .dll .so .o .a "
    ".class .jar .pyc .mp3 .mp4 .wav .ogg .flac .avi .mov .mkv .woff .woff2 .ttf .otf .sqlite .db .bin .iso".split()
)
MAX_GUNZIPPED_BYTES = 100_000_000  # a .gz that inflates past this is refused (gzip bomb)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_FRONT_MATTER_KEYS = ("title", "url", "published")
MAX_UNZIPPED_BYTES = 100_000_000  # a DOCX that inflates past this is refused (zip bomb)
MAX_PDF_PAGES = 5_000



@dataclass
class SourceText:
    text: str
    # Character offset where indexable text starts (after Markdown front matter).
    body_start: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Character offsets where pages start, for paged formats (PDF).
    page_starts: list[int] | None = None
    # True when the text was extracted (PDF, DOCX, HTML, gzip), not read as it is on disk:
    # the index keeps such text so that citing never parses the file again.
    extracted: bool = False

    def to_json(self) -> dict:
        return {"text": self.text, "body_start": self.body_start, "metadata": self.metadata,
                "page_starts": self.page_starts}

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


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: NUL bytes, or mostly bytes no text encoding would use.

    Random bytes without NUL decode as Windows-1252 into garbage; text that is not UTF-8
    (Latin-1, cp1252 prose) has a few high bytes among mostly ASCII letters."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a multi-byte character cut by the 8 KB window
            return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    high = sum(1 for b in head if b >= 128)
    return controls > len(head) // 100 or high > len(head) // 4


def _kind_of(name: str, data: bytes) -> str:
    """"pdf", "docx", "html", "markdown" or "text" by suffix, else by content; SourceError otherwise."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf" or data.startswith(b"%PDF-"):
        return "pdf"
    if suffix == ".docx" or (data.startswith(b"PK\x03\x04") and b"word/" in data[:65536]):
        return "docx"
    head = data[:1024].lstrip().lower()
    if suffix in HTML_SUFFIXES or head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix not in BINARY_SUFFIXES and (suffix in TEXT_SUFFIXES or not looks_binary(data)):
        return "text"
    raise SourceError(f"unsupported file type {suffix}" if suffix else "looks like a binary file")


def read_source(path: Path, max_bytes: int = 1 << 62) -> SourceText:
    """The indexable text of `path`, recognised by suffix or, for other names, by content
    (a README or NEWS without a suffix, gzip-compressed text). SourceError says why not."""
    if not path.is_file():
        raise SourceError("not a regular file (a device, a FIFO or a broken link)")
    size = path.stat().st_size
    if size > max_bytes:
        raise SourceError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    data = path.read_bytes()
    name = path.name
    if data.startswith(b"\x1f\x8b"):
        data, name = _gunzip(data, max_bytes), path.name.removesuffix(".gz").removesuffix(".GZ")
    kind = _kind_of(name, data)
    if kind == "pdf":
        source = _read_pdf(io.BytesIO(data))
    elif kind == "docx":
        source = _read_docx(io.BytesIO(data))
    elif looks_binary(data):
        raise SourceError("looks like a binary file")
    else:
        text, warnings = decode(data)
        source = _read_html(text, warnings) if kind == "html" else SourceText(text, warnings=warnings)
        if kind == "markdown":
            _apply_front_matter(source)
    if not source.text[source.body_start :].strip():
        raise SourceError("file is empty" if not data.strip() else "no text to index")
    source.extracted = kind in ("pdf", "docx", "html") or name != path.name
    return source


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    limit = min(max_bytes, MAX_GUNZIPPED_BYTES)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SourceError(f"unreadable gzip file ({exc})") from None
    if len(inflated) > limit:
        raise SourceError(f"the gzip file inflates past {limit:,} bytes")
    return inflated


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


def _read_pdf(path: Path | io.BytesIO) -> SourceText:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported by us
    pages: list[list[str]] = []
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise SourceError("the PDF is encrypted")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise SourceError(f"the PDF has {len(reader.pages):,} pages, over the {MAX_PDF_PAGES:,}-page limit")
        for page in reader.pages:
            lines = (_tidy(line) for line in (page.extract_text() or "").splitlines())
            pages.append([line for line in lines if line])
        title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SourceError(f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    texts, header = _without_running_lines(pages)
    return _paged_source(texts, title or header)  # the header names the document, as a title does


def _running(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def _without_running_lines(pages: list[list[str]]) -> tuple[list[str], str | None]:
    """Each page's text without the running header and footer, and the header: glued onto the
    page's first and last sentences they made quotes that are no sentence of the text, and
    candidates ("Shared MIME-info Database 2.2.") of nothing asked. A first or last line is
    running when, numbers aside, most pages share it ("Shared MIME-info Database" above, "4"
    below), or a chapter's pages do: three of them, or two when it ends in the page number
    ("Chapter 2: ASN.1 structure handling 4", "Chapter 2: ASN.1 structure handling 5")."""
    if len(pages) < 3:
        return ["\n".join(lines) for lines in pages], None
    firsts = Counter(_running(lines[0]) for lines in pages if lines)
    lasts = Counter(_running(lines[-1]) for lines in pages if lines)

    def running(line: str, counts: Counter[str]) -> bool:
        shared = counts[_running(line)]
        return shared >= 3 or (shared == 2 and bool(_PAGE_NUMBER_END.search(line)))

    texts, header = [], None
    for lines in pages:
        start, end = 0, len(lines)
        if end and running(lines[0], firsts):
            start = 1
            header = header or (lines[0] if firsts[_running(lines[0])] * 2 > len(pages) else None)
        if end > start and running(lines[-1], lasts):
            end -= 1
        texts.append("\n".join(lines[start:end]))
    return texts, header


_PAGE_NUMBER_END = re.compile(r"\D\s\d{1,4}$")


def _paged_source(pages: list[str], title: str | None) -> SourceText:
    starts, offset = [], 0
    for text in pages:
        starts.append(offset)
        offset += len(text) + 1
    source = SourceText(text="\n".join(pages), page_starts=starts)
    if title:
        source.metadata["title"] = _tidy(str(title))
    return source


def _read_docx(path: Path | io.BytesIO) -> SourceText:
    import docx

    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_UNZIPPED_BYTES:
            raise SourceError(f"the DOCX inflates to {inflated:,} bytes (zip bomb?)")
        document = docx.Document(path if isinstance(path, io.BytesIO) else str(path))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SourceError(f"unreadable DOCX ({type(exc).__name__})") from None
    except ValueError as exc:  # python-docx: not a Word document
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"unreadable DOCX ({exc})") from None
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():  # paragraphs and tables in reading order
        if isinstance(block, Table):
            rows = [[_tidy(cell.text) for cell in _unmerged(row.cells)] for row in block.rows]
            lines.extend(table_lines(rows, header=len(rows) > 1))
        else:
            lines.append(_tidy(block.text))
    source = SourceText(text="\n".join(line for line in lines if line))
    if document.core_properties.title:
        source.metadata["title"] = _tidy(document.core_properties.title)
    return source


def _unmerged(cells: list) -> list:
    """A row's cells with a merged cell once (python-docx repeats it for every grid column)."""
    unique: list = []
    for cell in cells:
        if not unique or cell._tc is not unique[-1]._tc:
            unique.append(cell)
    return unique


def table_lines(rows: list[list[str]], header: bool) -> list[str]:
    """One line per table row; with a header row, each cell is named by its column's header
    ("Filter ID: 0x21 | Alignment: 1 byte"), so a row read alone still says what it holds."""
    if not rows:
        return []
    names = rows[0] if header else []
    lines = [" | ".join(c for c in rows[0] if c)] if header else []
    for row in rows[1:] if header else rows:
        if len(names) == len(row):
            cells = [f"{name}: {cell}" if name and cell else cell for name, cell in zip(names, row, strict=True)]
        else:
            cells = row
        lines.append(" | ".join(c for c in cells if c))
    return lines


class _VisibleText(HTMLParser):
    """Text a browser would show: no scripts, styles or head; block elements start new lines.
    Navigation is no content either: a texinfo manual's "Next: Reporting bugs, Previous: Time,
    Up: Time [Contents][Index]" bar above every section was quoted as an answer, glued to the
    section's first sentence."""

    HIDDEN = {"script", "style", "head", "noscript", "template", "svg", "title"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
              "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dt", "dd", "hr", "main", "nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._hidden: list[str] = []
        self._tables: list[list[str]] = []  # per open table: its header cells ([] until known)
        self._row: list[list[str]] | None = None  # the cells of the row being read
        self._header_row = False
        # A definition list's term and the start of its definition share a line ("messagebus: The
        # dbus daemon runs as this user and group."): apart, the definition never named its term.
        # "term" after </dt>, "definition" inside the <dd> until its first text.
        self._defining = ""
        self._navigation: list[str] = []  # the open tags of a navigation block being left out
        self._kept = 0  # len(self.parts) when it opened: an unclosed one is text after all

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self._navigation:
            if tag == self._navigation[0]:
                self._navigation.append(tag)
            return
        if tag == "nav" or ("role", "navigation") in attrs or \
                _NAVIGATION_CLASSES & set(" ".join(v for k, v in attrs if k == "class" and v).split()):
            self._navigation, self._kept = [tag], len(self.parts)
            return
        if tag in self.HIDDEN:
            self._hidden.append(tag)
        elif tag == "table":
            self._tables.append([])  # header names of the table being read, once its first row is
        elif tag == "tr" and self._tables:
            self._row, self._header_row = [], True
        elif tag in ("td", "th") and self._row is not None:
            self._row.append([])
            self._header_row &= tag == "th"
        elif (self._defining, tag) == ("term", "dd") or (self._defining == "definition" and tag in self.BLOCKS):
            self._defining = "definition"
        elif tag in self.BLOCKS:
            self._defining = ""
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._navigation:
            if tag == self._navigation[0]:
                self._navigation.pop()
                if not self._navigation:
                    del self.parts[self._kept :]
            return
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()
        elif tag == "tr" and self._row is not None:
            self._end_row()
        elif tag == "table" and self._tables:
            if self._row is not None:
                self._end_row()
            self._tables.pop()
            self.parts.append("\n")
        elif tag == "dt" and self._row is None:
            self._end_term()
        elif tag in self.BLOCKS and self._row is None and not self._defining:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden[-1:] == ["title"]:
            self.title.append(data)
        elif self._row and not self._hidden:
            self._row[-1].append(data)
        elif not self._hidden:
            if self._defining and data.strip():
                data, self._defining = " " + data.lstrip(), ""
            self.parts.append(data)

    def _end_term(self) -> None:
        """Ends a <dt> with a colon (unless empty or ending in one), its definition to follow on its line."""
        while self.parts and not self.parts[-1].strip():
            self.parts.pop()
        if self.parts and self.parts[-1] != "\n":
            self.parts[-1] = self.parts[-1].rstrip()
            if not self.parts[-1].endswith(":"):
                self.parts.append(":")
            self._defining = "term"
        else:
            self.parts.append("\n")

    def _end_row(self) -> None:
        cells = [_tidy("".join(cell)) for cell in self._row or []]
        header, self._row = self._tables[-1], None
        if self._header_row and any(cells) and not header:
            self._tables[-1] = cells
            lines = table_lines([cells], header=True)
        else:
            lines = table_lines([header, cells], header=True)[1:] if header else table_lines([cells], header=False)
        self.parts.append("\n" + "\n".join(lines) + "\n")


# Classes of navigation blocks: texinfo's "header" and "nav-panel" bars and its table of contents
# (a list of the headings below, answering nothing), Sphinx's "related" bar and sidebar, DocBook's
# navheader and navfooter, breadcrumbs.
_NAVIGATION_CLASSES = {"header", "nav-panel", "Contents_element", "contents", "toc", "navigation", "navheader",
                       "navfooter", "navbar", "breadcrumb", "breadcrumbs", "related", "sphinxsidebar"}


# A "<" that no ">" closes before the next "<" starts no tag. html.parser re-scans to the end of
# the input for every such "<" ('<a ' * 40,000 took 118 s): they are escaped first, in one pass.
_UNCLOSED_TAG = re.compile(r"<(?![^<>]{0,100000}>)")


def _read_html(html: str, warnings: list[str]) -> SourceText:
    parser = _VisibleText()
    parser.feed(_UNCLOSED_TAG.sub("&lt;", html))
    parser.close()
    lines = (_tidy(line) for line in "".join(parser.parts).split("\n"))
    source = SourceText(text="\n".join(line for line in lines if line), warnings=warnings)
    if _tidy("".join(parser.title)):
        source.metadata["title"] = _tidy("".join(parser.title))
    return source


# Path words that name nothing: hashes, numbers and file kinds ("000_9a5dfcf5d4d692d9.txt").
_NAMELESS_WORD = re.compile(r"(?=[a-f]*\d)[0-9a-f]{6,}|\d+|index|html?|txt|md|rst|pdf|docx?|gz", re.I)


def path_title(key: str) -> str:
    """What a file's path calls it, for a document with no title of its own: "tar/copyright" →
    "tar copyright", "git-2.39.0.txt" → "git 2.39.0"; "" when the path is only hashes and
    numbers. A copyright file or a README names its package only in its path."""
    words = re.findall(r"\d+(?:\.\d+)+|[^\W_]+", key)  # "doc.1.0": a dotted number after a dot too
    return " ".join(w for w in words if not _NAMELESS_WORD.fullmatch(w))


def title_of(document: SourceText, key: str) -> str:
    """The name a document goes by: its own title (front matter, a PDF's title or running header),
    else its path's words (path_title)."""
    return document.metadata.get("title") or path_title(key)


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
        # Answers run on several threads: two evicting the same oldest entry at once raised
        # KeyError, and that question went unanswered (bench/load.py, two webhook workers).
        self._lock = threading.Lock()

    def get(self, path: Path) -> SourceText | None:
        try:
            stamp = path.stat().st_mtime_ns
            with self._lock:
                cached = self._texts.get(path)
            if cached and cached[0] == stamp:
                return cached[1]
            source = read_source(path)
        except Exception:  # noqa: BLE001  unreadable now: its quotes cannot be checked, as for a missing file
            return None
        with self._lock:
            if len(self._texts) >= self._size and path not in self._texts:
                self._texts.pop(next(iter(self._texts)))
            self._texts[path] = (stamp, source)
        return source
