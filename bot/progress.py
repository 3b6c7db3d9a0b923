"""Indexing progress on stderr: a live bar with rate and ETA on a terminal, and a plain line
every so often when stderr is piped (a log, CI, `docker compose logs`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def duration(seconds: float) -> str:
    """'42s', '3m10s', '1h05m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class IndexProgress:
    """A ProgressFn (files done, files to do, chunks embedded) that shows itself on `console`."""

    def __init__(self, console: Console, enabled: bool = True, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.enabled = enabled
        self.every = every  # seconds between plain lines
        self.clock = clock
        self._started = clock()
        self._last_line = self._started
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> IndexProgress:
        self._started = self._last_line = self.clock()
        if self.enabled and self.console.is_terminal:
            self._bar = Progress(
                TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                TextColumn("{task.fields[chunks]:,} chunks, {task.fields[rate]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("index", total=None, chunks=0, rate="…")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, trace)

    def __call__(self, done: int, total: int, chunks: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        elapsed = max(now - self._started, 1e-9)
        rate = f"{chunks / elapsed:.0f} chunks/s"
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total, chunks=chunks, rate=rate)
        elif now - self._last_line >= self.every and done < total:
            self._last_line = now
            left = (total - done) * elapsed / done if done else 0
            self.console.print(f"indexing: {done:,}/{total:,} files, {chunks:,} chunks embedded, {rate}, "
                               f"about {duration(left)} left", highlight=False)
