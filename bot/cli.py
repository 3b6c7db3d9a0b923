"""`citebot`: index documents and ask questions about them, with cited answers.

Exit codes: 0 success; 1 the index or store is unusable (nothing indexed yet,
Chroma unreachable); 2 bad input (empty question, missing path, bad batch
file); 3 indexing finished but some files were skipped.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from citebot import BadInputError, CitebotError, Settings, as_turn, read_rows, row_day, unknown_settings
from citebot import evaluate as run_eval
from citebot.bot.progress import IndexProgress
from citebot.bot.render import (
    make_console,
    render_answer,
    render_doctor,
    render_eval,
    render_gaps,
    render_report,
    render_sources,
)
from citebot.bot.telegram.settings import TelegramSettings

if TYPE_CHECKING:
    from citebot import Engine

EXIT_UNUSABLE, EXIT_BAD_INPUT, EXIT_SKIPPED = 1, 2, 3


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of a known, user-facing failure; None for a bug."""
    if isinstance(exc, BadInputError):
        return EXIT_BAD_INPUT
    return EXIT_UNUSABLE if isinstance(exc, CitebotError) else None


@contextmanager
def user_errors() -> Iterator[None]:
    """Known failures become one clear line on stderr and an exit code, not a traceback."""
    try:
        yield
    except Exception as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        click.echo(f"citebot: {exc}", err=True)
        sys.exit(code)


def with_engine(command: Callable[..., Any]) -> Callable[..., Any]:
    """Runs `command` with the engine; `--data-dir` is accepted after the subcommand too."""
    @click.option("--data-dir", "local_data_dir", type=click.Path(path_type=Path), default=None,
                  help="Where the index lives (the same as before the subcommand).")
    @click.pass_context
    @functools.wraps(command)
    def wrapper(ctx: click.Context, *args: Any, local_data_dir: Path | None = None, **kwargs: Any) -> Any:
        with user_errors():
            return command(ctx.obj["engine"](local_data_dir), *args, **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="citebot", prog_name="citebot")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="CITEBOT_DATA_DIR",
              help="Where the index lives (default ~/.local/share/citebot).")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Ask questions about your documents; every answer cites file, lines and a verbatim quote."""
    def engine(local_data_dir: Path | None = None) -> Engine:
        from citebot import Engine  # lazily: `citebot --help` should not load llama-index

        settings = Settings.load(data_dir=local_data_dir or data_dir)
        for name in unknown_settings([Settings, TelegramSettings]):
            click.echo(f"citebot: warning: {name} is not a setting; ignored", err=True)
        return Engine(settings)

    ctx.obj = {"engine": engine}


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Re-embed everything instead of only what changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--watch", is_flag=True, help="Keep running and re-index whenever files change.")
@with_engine
def index(engine: Engine, paths: tuple[Path, ...], rebuild: bool, as_json: bool, watch: bool) -> None:
    """Index PATHS (files or folders; default: the sources folder), incrementally."""
    report = _index_once(engine, list(paths), rebuild, as_json)
    if watch:
        _watch(engine, list(paths), as_json)
    elif report.skipped:
        sys.exit(EXIT_SKIPPED)


def _index_once(engine: Engine, paths: list[Path], rebuild: bool, as_json: bool, wait: bool = False) -> Any:
    with IndexProgress(make_console(stderr=True), enabled=not as_json) as progress:
        report = engine.reindex(paths or None, rebuild=rebuild, progress=progress, wait=wait)
    if as_json:
        click.echo(json.dumps(report.to_dict()), nl=True)
        sys.stdout.flush()
    else:
        render_report(make_console(), report)
    return report


def _watch(engine: Engine, paths: list[Path], as_json: bool) -> None:
    """Re-index after each burst of changes (debounced); running bots pick the new index up."""
    from watchfiles import watch

    targets = paths or [engine.settings.sources]
    click.echo(f"watching {', '.join(map(str, targets))} (Ctrl-C to stop)", err=True)
    # Hidden files are skipped: uploads are staged under hidden names before they appear.
    for _ in watch(*targets, debounce=1000, raise_interrupt=False,
                   watch_filter=lambda change, path: not Path(path).name.startswith(".")):
        try:
            _index_once(engine, paths, False, as_json, wait=True)  # queued behind uploads, not refused
        except Exception as exc:  # a known failure is reported and the watch goes on
            if exit_code_for(exc) is None:
                raise
            click.echo(f"citebot: {exc}", err=True)


@main.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--batch", type=click.File("r"),
              help="JSONL file: rows with `question`, optional `history` (questions, or {question, answer} turns) and optional `date`.")
@click.option("--history", multiple=True, help="An earlier question of the conversation (repeatable).")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="Answer as of this day (YYYY-MM-DD): later documents are left out, that week's come first.")
@with_engine
def ask(engine: Engine, question: str | None, as_json: bool, batch: Any, history: tuple[str, ...],
        as_of: datetime | None) -> None:
    """Answer QUESTION from the indexed documents, with citations."""
    if batch is not None:
        _ask_batch(engine, batch)
        return
    if question is None:
        raise click.UsageError("give a QUESTION, or --batch FILE")
    started = time.perf_counter()
    answer = engine.ask(question, list(history), as_of=as_of.date() if as_of else None)
    engine.questions.record(answer, "cli", time.perf_counter() - started)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        render_answer(make_console(), answer)


def _ask_batch(engine: Engine, batch: Any) -> None:
    """One JSON object per input row, in order; a bad row gets an `error` object, not a crash."""
    for number, line in enumerate(batch, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, history = row["question"], row.get("history") or []
            if not isinstance(question, str) or not isinstance(history, list):
                raise TypeError("`question` must be a string and `history` a list")
            result = engine.ask(question, [as_turn(h) for h in history], as_of=row_day(row)).to_dict()
        except (ValueError, KeyError, TypeError) as exc:  # bad JSON, bad row, empty question
            result = {"line": number, "error": f"{type(exc).__name__}: {exc}"}
        click.echo(json.dumps(result, ensure_ascii=False), nl=True)
        sys.stdout.flush()


@main.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary and every row as JSON.")
@with_engine
def evaluate(engine: Engine, questions: Path, as_json: bool) -> None:
    """Answer every row of QUESTIONS.jsonl and score accuracy, citations, refusals, latency."""
    try:
        rows = read_rows(questions)
    except (ValueError, KeyError) as exc:
        raise click.BadParameter(str(exc)) from None
    report = run_eval(rows, engine.ask, engine.verify)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        render_eval(make_console(), report)


@main.command()
@click.option("--repair", is_flag=True, help="Mend what is wrong, from the chunks in Chroma and the files.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@with_engine
def doctor(engine: Engine, repair: bool, as_json: bool) -> None:
    """Check the data folder: manifest, Chroma against it, keyword index, orphans, free disk."""
    report = engine.doctor(repair)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        render_doctor(make_console(), report, str(engine.settings.data_dir))
    if report.remaining if report.repaired else report.findings:
        sys.exit(EXIT_UNUSABLE)


@main.command()
@click.option("--limit", default=10, show_default=True, help="How many gaps to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the gaps as JSON.")
@with_engine
def gaps(engine: Engine, limit: int, as_json: bool) -> None:
    """The questions the documents could not answer (refused, or marked unhelpful), grouped by meaning."""
    found = engine.gaps(limit)
    if as_json:
        click.echo(json.dumps([asdict(g) for g in found], ensure_ascii=False))
    else:
        render_gaps(make_console(), found)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@with_engine
def sources(engine: Engine, as_json: bool) -> None:
    """List the indexed files with their chunk counts."""
    items = engine.sources()
    if as_json:
        click.echo(json.dumps([s.__dict__ for s in items]))
    else:
        render_sources(make_console(), items)


@main.command()
@with_engine
def repl(engine: Engine) -> None:
    """Interactive questions with follow-ups; /help lists the commands."""
    from citebot.bot.repl import Repl

    Repl(engine, make_console()).run()


@main.command()
@click.option("--webhook", "webhook_url", metavar="URL",
              help="Receive updates at this public https URL (behind a reverse proxy) instead of long polling.")
@click.option("--listen", "webhook_listen", metavar="HOST", help="Address the webhook server binds [127.0.0.1].")
@click.option("--port", "webhook_port", type=int, help="Port the webhook server binds [8080].")
@click.option("--worker", "worker_name", metavar="NAME",
              help="This worker's name, for its journal of received updates [host name and port].")
@with_engine
def telegram(engine: Engine, **options: object) -> None:
    """Run the Telegram bot (token from TELEGRAM_BOT_TOKEN)."""
    from citebot.bot.telegram.run import run_bot

    sys.exit(run_bot(engine, TelegramSettings.load(**{k: v for k, v in options.items() if v is not None})))
