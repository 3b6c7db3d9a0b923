"""Refusal when the answering document is gone: plausible unanswerable questions from answerable ones.

    python bench/absent.py [--sets dev,techdocs] [--thresholds 0.4,0.45,0.5] [--work DIR] [--json]

Each answerable row names the files that hold its answer (`sources`). With those files removed
from the corpus, the question is still about a subject the other documents share (another
package's NEWS file, the other seed article) but nothing answers it: the shape of the questions
users ask that the documents lack, and many more of them than the six `refuse` rows a set has.
For each set, every group of rows with the same sources is asked once with its files removed
(follow-ups with their history); the bot should refuse. News sets are left out by default: one
story is told by many articles, so removing the cited one rarely removes the answer.

With --thresholds, the trade-off of the refusal threshold: for each value, the answerable rows of
all four public sets answered right (as bench/quality.py asks them) against the unanswerable ones
refused (the sets' `refuse` rows and the rows above). Prints one table; --json every row.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings, row_day  # noqa: E402
from citebot.evaluate import evaluate, read_rows  # noqa: E402
from citebot.models import as_turn  # noqa: E402
from quality import SETS, chosen_sets  # noqa: E402


def absent_rows(name: str, work: Path, thresholds: list[float]) -> list[dict]:
    """Each answerable row of set `name` answered with its source files removed from the corpus,
    once per refusal threshold."""
    questions, docs = SETS[name]
    folder, held = work / f"{name}-absent-docs", work / f"{name}-absent-held"
    if not folder.exists():
        shutil.copytree(docs, folder)
    held.mkdir(parents=True, exist_ok=True)
    for stray in held.iterdir():  # an interrupted run left these out
        stray.rename(folder / stray.name)
    engines = {t: Engine(Settings.load(data_dir=work / f"{name}-absent", sources_dir=folder, refusal_threshold=t))
               for t in thresholds}
    indexer = engines[thresholds[0]]
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row in read_rows(questions):
        if row.get("kind") != "refuse" and row.get("sources"):
            groups.setdefault(tuple(sorted(row["sources"])), []).append(row)
    results = []
    kept = {p.name for p in folder.iterdir()}
    for sources, rows in groups.items():
        if not kept - set(sources):  # nothing left to refuse from
            continue
        for source in sources:
            (folder / source).rename(held / source)
        try:
            indexer.reindex()
            for row in rows:
                history = [as_turn(h) for h in row.get("history") or []]
                answers = {t: e.ask(row["question"], history, as_of=row_day(row)) for t, e in engines.items()}
                first = answers[thresholds[0]]
                results.append({"id": row["id"], "kind": row["kind"], "question": row["question"],
                                "removed": list(sources),
                                "refused": {str(t): not a.answerable for t, a in answers.items()},
                                "answer": first.text if first.answerable else "",
                                "cited": sorted({c.source for c in first.citations})})
        finally:
            for source in sources:
                (held / source).rename(folder / source)
    indexer.reindex()
    return results


def tradeoff(work: Path, thresholds: list[float]) -> dict[str, dict[str, int]]:
    """Per threshold: answerable rows answered right, and `refuse` rows refused, over all public sets."""
    counts = {str(t): {"right": 0, "answerable": 0, "refused": 0, "refuse": 0} for t in thresholds}
    for name, (questions, docs) in SETS.items():
        rows = read_rows(questions)
        for t in thresholds:
            engine = Engine(Settings.load(data_dir=work / name, sources_dir=docs, refusal_threshold=t))
            engine.reindex()
            for row in evaluate(rows, engine.ask, engine.verify).rows:
                c = counts[str(t)]
                if row.kind == "refuse":
                    c["refuse"] += 1
                    c["refused"] += not row.answerable
                else:
                    c["answerable"] += 1
                    c["right"] += bool(row.correct)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="dev,techdocs", help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--thresholds", default="", help="refusal thresholds to compare (default: the setting's)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "quality")
    parser.add_argument("--json", action="store_true", help="print every row, as JSON")
    args = parser.parse_args()
    names = chosen_sets(parser, args.sets)
    compare = [float(t) for t in args.thresholds.split(",") if t.strip()]
    thresholds = compare or [Settings.load().refusal_threshold]
    results = {name: absent_rows(name, args.work, thresholds) for name in names}
    counts = tradeoff(args.work, thresholds) if compare else {}
    if args.json:
        print(json.dumps({"absent": results, "tradeoff": counts}, ensure_ascii=False))
        return
    if counts:
        print("| threshold | answerable answered right | refuse rows refused | " +
              " | ".join(f"{n} without its file: refused" for n in names) + " |")
        print("|---" * (3 + len(names)) + "|")
        for t in thresholds:
            c = counts[str(t)]
            cells = [f"{sum(r['refused'][str(t)] for r in results[n])}/{len(results[n])}" for n in names]
            print(f"| {t:g} | {c['right']}/{c['answerable']} | {c['refused']}/{c['refuse']} | " + " | ".join(cells) + " |")
        return
    print("| set | rows | refused |")
    print("|---|---|---|")
    key = str(thresholds[0])
    for name, rows in results.items():
        print(f"| {name} | {len(rows)} | {sum(r['refused'][key] for r in rows) / len(rows):.2f} |")
    for name, rows in results.items():
        for r in rows:
            if not r["refused"][key]:
                print(f"{name} {r['id']} (without {', '.join(r['removed'])}): {r['question']}\n    → {r['answer'][:200]}"
                      f" [{', '.join(r['cited'])}]")


if __name__ == "__main__":
    main()
