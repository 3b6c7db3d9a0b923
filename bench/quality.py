"""Answer quality on every public question set, one table: the command issue 12 asks for.

    python bench/quality.py [--sets dev,realtimeqa,realtimeqa2,techdocs] [--add NAME=ROWS.jsonl:DOCS]
                            [--work DIR] [--json]

Each set's documents are indexed into their own data folder under --work (incrementally, so a
second run only answers), then every row is answered as `citebot eval` does (dated rows as of
their day; follow-ups with their history). Prints, per set and for all sets pooled: accuracy of
the answerable rows, accuracy per kind (fact, multi, followup), refusal rate on the unanswerable
rows, false refusals, cited-source hit, quotes verbatim, p50/p95 latency, and `after_turn`: the
accuracy of the fact rows when each is asked after an unrelated turn (the previous row's question
and answer), as in a chat that moves on to a new topic. Tune on some sets and read the others: a
change that wins where it was tuned and loses elsewhere is noise. `--add` (repeatable) runs a set of
your own beside them: rows in the `citebot eval` format, over a folder of documents.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings, row_day  # noqa: E402
from citebot.evaluate import EvalReport, evaluate, is_correct, read_rows  # noqa: E402

SETS = {
    "dev": (SHARED / "eval" / "dev_qa.jsonl", ROOT / "seeds"),
    "realtimeqa": (SHARED / "benchmarks" / "realtimeqa" / "questions.jsonl", SHARED / "benchmarks" / "realtimeqa" / "docs"),
    "realtimeqa2": (SHARED / "benchmarks" / "realtimeqa2" / "questions.jsonl", SHARED / "benchmarks" / "realtimeqa2" / "docs"),
    "techdocs": (SHARED / "benchmarks" / "techdocs" / "questions.jsonl", SHARED / "benchmarks" / "techdocs" / "docs"),
}
COLUMNS = ["rows", "accuracy", "fact", "after_turn", "multi", "followup", "refusal", "false_ref", "cited", "verbatim",
           "p50", "p95"]


def chosen_sets(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """The set names of a comma-separated --sets value; an unknown one is a usage error."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    if unknown := [n for n in names if n not in SETS]:
        parser.error(f"unknown set(s): {', '.join(unknown)}")
    return names


def added_set(parser: argparse.ArgumentParser, value: str) -> str:
    """Registers a NAME=ROWS.jsonl:DOCS set of the user's own in SETS and returns its name."""
    name, _, paths = value.partition("=")
    questions, _, docs = paths.rpartition(":")
    if not (name and questions and docs) or name in SETS:
        parser.error(f"--add wants NAME=ROWS.jsonl:DOCS with a new name, not {value!r}")
    if not Path(questions).is_file() or not Path(docs).is_dir():
        parser.error(f"--add {value}: {questions} must be a file and {docs} a folder")
    SETS[name] = (Path(questions).resolve(), Path(docs).resolve())
    return name


def run_set(name: str, work: Path) -> tuple[EvalReport, list[bool]]:
    """The set's report, and whether each fact row was right when asked after an unrelated turn."""
    questions, docs = SETS[name]
    engine = Engine(Settings.load(data_dir=work / name, sources_dir=docs))
    report = engine.reindex()
    print(f"{name}: {report.summary}", file=sys.stderr)
    rows = read_rows(questions)
    facts, after, last = [r for r in rows if r["kind"] == "fact"], [], None
    for row in facts:
        answer = engine.ask(row["question"], [last] if last else [], as_of=row_day(row))
        after.append(is_correct(answer, row))
        last = engine.ask(row["question"], as_of=row_day(row)).turn()
    return evaluate(rows, engine.ask, engine.verify), after


def figures(report: EvalReport, after: list[bool]) -> dict[str, float | int | None]:
    s = report.summary()
    fact = [r for r in report.rows if r.kind == "fact"]
    return {
        "rows": s["rows"], "accuracy": s["accuracy"],
        "fact": sum(bool(r.correct) for r in fact) / len(fact) if fact else None,
        "after_turn": sum(after) / len(after) if after else None,
        "multi": s.get("multi_accuracy"), "followup": s.get("followup_accuracy"),
        "refusal": s["refusal_rate"], "false_ref": s["false_refusals"], "cited": s["cited_source_hit"],
        "verbatim": s["quotes_verbatim"], "p50": s["p50_ms"], "p95": s["p95_ms"],
    }


def cell(name: str, value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if name in ("rows", "p50", "p95") else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--add", action="append", default=[], metavar="NAME=ROWS.jsonl:DOCS",
                        help="also a set of your own (repeatable)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "quality")
    parser.add_argument("--json", action="store_true", help="print every row too, as JSON")
    args = parser.parse_args()
    names = chosen_sets(parser, args.sets) + [added_set(parser, value) for value in args.add]
    results = {name: run_set(name, args.work) for name in names}
    results["all"] = (EvalReport(rows=[row for r, _ in results.values() for row in r.rows]),
                      [ok for _, after in results.values() for ok in after])
    if args.json:
        print(json.dumps({name: r.to_dict() | {"after_turn": after} for name, (r, after) in results.items()},
                         ensure_ascii=False))
        return
    print("| set | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, (report, after) in results.items():
        row = figures(report, after)
        print(f"| {name} | " + " | ".join(cell(c, row[c]) for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
