"""Terminal rendering of answers and index reports (plain text, or rich on a TTY)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.markup import escape

from citebot import Answer, DoctorReport, EvalReport, Gap, IndexReport, SourceInfo, one_line


def make_console(stderr: bool = False) -> Console:
    """A console that wraps for a terminal but never inserts line breaks into piped output."""
    console = Console(stderr=stderr)
    console.soft_wrap = not console.is_terminal
    return console


def render_answer(console: Console, answer: Answer) -> None:
    style = "" if answer.answerable else "yellow"
    console.print(escape(answer.text), style=style, highlight=False)
    if answer.citations:
        console.print("\n[bold]Sources[/bold]")
    for n, c in enumerate(answer.citations, 1):
        lines = f"{c.start_line}" if c.start_line == c.end_line else f"{c.start_line}-{c.end_line}"
        page = f", page {c.page}" if c.page else ""
        console.print(f"[cyan][{n}][/cyan] {escape(c.source)}:{lines}{page}", highlight=False)
        console.print(f"    [dim]“{escape(one_line(c.quote))}”[/dim]", highlight=False)


def render_report(console: Console, report: IndexReport) -> None:
    for path, reason in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(path)}: {escape(reason)}", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)
    console.print(report.summary, highlight=False)


def render_doctor(console: Console, report: DoctorReport, data_dir: str) -> None:
    if not report.findings:
        console.print(f"ok: nothing wrong in {escape(data_dir)}", highlight=False)
    for finding in report.findings:
        if report.repaired and finding not in (report.remaining or []):
            console.print(f"[green]repaired[/green] {escape(finding.problem)} ({escape(finding.remedy)})",
                          highlight=False)
        else:
            console.print(f"[yellow]problem[/yellow] {escape(finding.problem)}; --repair would "
                          f"{escape(finding.remedy)}", highlight=False)
    for finding in report.remaining or []:
        console.print(f"[red]still wrong[/red] {escape(finding.problem)}", highlight=False)


def gap_lines(gaps: list[Gap]) -> list[str]:
    """One line per gap: how often, the question, when last asked, the files answers cited."""
    lines = []
    for gap in gaps:
        how = ", ".join(part for part in (f"{gap.refused} refused" if gap.refused else "",
                                          f"{gap.unhelpful} marked unhelpful" if gap.unhelpful else "") if part)
        seen = f"; answers cited {', '.join(gap.sources_seen)}" if gap.sources_seen else ""
        when = datetime.fromtimestamp(gap.last_asked).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{gap.count}× {one_line(gap.question)} ({how}; last {when}{seen})")
    return lines


def render_gaps(console: Console, gaps: list[Gap]) -> None:
    if not gaps:
        console.print("No gaps: every question so far was answered and none was marked unhelpful.")
    for line in gap_lines(gaps):
        console.print(escape(line), highlight=False)


def render_sources(console: Console, sources: list[SourceInfo]) -> None:
    if not sources:
        console.print("Nothing is indexed yet.")
    for s in sources:
        console.print(f"{escape(s.source)}  [dim]{s.chunks} chunks[/dim]", highlight=False)


def render_eval(console: Console, report: EvalReport) -> None:
    from rich.table import Table

    misses = Table("id", "kind", "question", "answer", title="Rows that missed", show_lines=False)
    for row in report.rows:
        if row.correct is False or (row.kind == "refuse" and row.answerable):
            misses.add_row(row.id, row.kind, escape(row.question), escape(one_line(row.answer)[:160]))
    if misses.row_count:
        console.print(misses)
    summary = Table("figure", "value", title=f"{len(report.rows)} questions")
    for name, value in report.summary().items():
        shown = "n/a" if value is None else f"{value:.0f}" if name.endswith("_ms") or name == "rows" else f"{value:.2f}"
        summary.add_row(name, shown)
    console.print(summary)
