"""Reading a document within a time and a memory budget.

Parsers are where a hostile or broken file hurts: a PDF whose content streams expand without end,
a DOCX or HTML built to make a parser crawl. Files that need a parser (PDF, DOCX, HTML, gzip and
anything recognised by content) are read in a short-lived worker process forked from a
forkserver that has the parsers loaded (about 10-20 ms a file); the worker is killed when the
time is up, and its address space is capped. Plain text by suffix is read in-process: decoding
is linear and bounded by the file-size limit.
"""

from __future__ import annotations

import multiprocessing
import resource
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from citebot.errors import SourceError
from citebot.sources import TEXT_SUFFIXES, SourceText, read_source

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["citebot.sources", "pypdf", "docx"])


def _vm_bytes() -> int:
    """This process's current virtual memory size (Linux), or 0 when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _read_in_worker(conn: Connection, path: str, max_bytes: int, memory_bytes: int) -> None:
    if memory_bytes:  # on top of what the worker already maps: the file's own budget
        limit = _vm_bytes() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    result: tuple[str, Any]
    try:
        result = ("ok", read_source(Path(path), max_bytes))
    except SourceError as exc:
        result = ("skip", str(exc))
    except MemoryError:
        result = ("skip", f"needed more than {memory_bytes // 2**20} MB to read (memory budget)")
    except Exception as exc:  # noqa: BLE001  a parser's own failure (lxml, pypdf) skips this file only
        result = ("skip", f"unreadable file ({type(exc).__name__}: {exc})"[:300])
    conn.send(result)
    conn.close()


class BudgetedReader:
    """`read(path)`: the file's SourceText, or SourceError naming the budget it went over."""

    def __init__(self, max_file_bytes: int, seconds: float, memory_mb: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.seconds = seconds
        self.memory_bytes = memory_mb * 2**20

    def read(self, path: Path) -> SourceText:
        if path.suffix.lower() in TEXT_SUFFIXES:
            return read_source(path, self.max_file_bytes)
        receiver, sender = _CONTEXT.Pipe(duplex=False)
        worker = _CONTEXT.Process(target=_read_in_worker, daemon=True,
                                  args=(sender, str(path), self.max_file_bytes, self.memory_bytes))
        worker.start()
        sender.close()
        try:
            if not receiver.poll(self.seconds):
                raise SourceError(f"took longer than {self.seconds:g} s to read (time budget)")
            try:
                status, value = receiver.recv()
            except EOFError:  # killed by the kernel, or crashed in C code
                raise SourceError("the reader process died reading it (out of memory?)") from None
        finally:
            if worker.is_alive():
                worker.kill()
            worker.join(5)
            receiver.close()
        if status != "ok":
            raise SourceError(value)
        return value
