"""The terminal REPL: multi-turn questions with follow-ups and a few slash commands."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from citebot import CitebotError, Engine, Turn, parse_day
from citebot.bot.render import render_answer, render_gaps, render_report, render_sources

HELP = """Type a question about the documents; follow-ups ("Why did it do that?") use the conversation.
  /sources          list the indexed files
  /reindex [PATH…]  re-index the sources folder (or PATHs) incrementally
  /reset            forget the conversation
  /bad              mark the last answer unhelpful (`citebot gaps` lists what the documents lack)
  /gaps             the questions the documents did not answer, grouped
  /asof [DAY|today] answer as of DAY (YYYY-MM-DD): later documents are left out, that week's first
  /help             this text
  /quit             leave (Ctrl-D works too; Ctrl-C cancels a question)"""


class Repl:
    def __init__(self, engine: Engine, console: Console, read: Callable[[str], str] = input) -> None:
        self.engine = engine
        self.console = console
        self.read = read
        self.history: list[Turn] = []
        self.as_of: date | None = None  # None: today
        self.last_answer_id: int | None = None  # in the question log, for /bad

    def run(self) -> None:
        self._enable_line_editing()
        self.console.print("citebot — ask about your documents. /help for commands, Ctrl-D to leave.", highlight=False)
        while True:
            try:
                line = self.read("citebot> ").strip()
            except EOFError:
                self.console.print()
                return
            except KeyboardInterrupt:
                self.console.print("^C")
                continue
            if not line:
                continue
            if line.startswith("/"):
                if self.command(line) == "quit":
                    return
            else:
                self.question(line)

    def question(self, text: str) -> None:
        streaming = bool(self.engine.settings.llm)
        started = time.perf_counter()
        try:
            # In LLM mode the model's draft streams in dim text; the checked answer follows.
            answer = self.engine.ask(text, self.history, on_token=self._print_draft if streaming else None,
                                     as_of=self.as_of)
        except KeyboardInterrupt:
            self.console.print("[yellow](question cancelled)[/yellow]")
            return
        except CitebotError as exc:  # empty question, no index, store down
            self.console.print(f"[red]{escape(str(exc))}[/red]")
            return
        self.last_answer_id = self.engine.questions.record(answer, "repl", time.perf_counter() - started)
        if streaming:
            self.console.print("\n")
        render_answer(self.console, answer)
        self.history.append(answer.turn())

    def _print_draft(self, delta: str) -> None:
        self.console.print(escape(delta), style="dim", end="", highlight=False)

    def command(self, line: str) -> str | None:
        name, *args = line.split()
        if name in ("/quit", "/exit"):
            return "quit"
        if name == "/help":
            self.console.print(escape(HELP), highlight=False)
        elif name == "/reset":
            self.history.clear()
            self.console.print("Conversation forgotten.")
        elif name == "/bad":
            marked = self.last_answer_id is not None and self.engine.questions.feedback(self.last_answer_id, "repl", False)
            self.console.print("Noted: the last answer was not helpful." if marked else "No answer to mark yet.")
        elif name == "/gaps":
            render_gaps(self.console, self.engine.gaps())
        elif name == "/asof":
            self._set_as_of(args)
        elif name == "/sources":
            render_sources(self.console, self.engine.sources())
        elif name == "/reindex":
            try:
                render_report(self.console, self.engine.reindex([Path(a) for a in args] or None))
            except CitebotError as exc:  # missing path, store down, indexer busy
                self.console.print(f"[red]{escape(str(exc))}[/red]")
        else:
            self.console.print(f"Unknown command {escape(name)}; /help lists the commands.")
        return None

    def _set_as_of(self, args: list[str]) -> None:
        if args and args[0] != "today" and parse_day(args[0]) is None:
            self.console.print(f"[red]Not a day: {escape(args[0])} (use YYYY-MM-DD or today).[/red]")
            return
        if args:
            self.as_of = None if args[0] == "today" else parse_day(args[0])
        self.console.print(f"Answering as of {self.as_of or 'today'}.", highlight=False)

    def _enable_line_editing(self) -> None:
        """Arrow keys and a persistent history, when a terminal is attached."""
        try:
            import readline
        except ImportError:  # pragma: no cover - not on every platform
            return
        path = self.engine.settings.data_dir / "repl_history"
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        import atexit

        atexit.register(_save_history, readline, path)


def _save_history(readline, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.set_history_length(1000)
        readline.write_history_file(path)
    except OSError:
        pass
