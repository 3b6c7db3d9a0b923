"""Retrieval and answer benchmark on the RealTime QA news corpus.

    python bench/retrieval.py [--data-dir DIR] [--rebuild]

Builds (or reuses) an index of ../shared/benchmarks/realtimeqa/docs, then reports
for BM25 alone, dense alone and the hybrid (RRF) retriever: recall@1/@5/@10 and
MRR of the gold source files; and for the full engine: answer accuracy (the
reference answer in the text and no other choice), cited-source hit and latency.
Each question is asked as of its `date` (the day it was asked), like `citebot eval` does.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings  # noqa: E402
from citebot.models import parse_day  # noqa: E402
from citebot.retrieve import HybridRetriever  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks" / "realtimeqa"


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%$.]+", " ", text.lower().replace("“", "").replace("”", "")).split())


def correct(answer: str, row: dict) -> bool:
    text = norm(answer)
    others = [c for c in row["choices"] if c != row["answer"]]
    return norm(row["answer"]) in text and not any(norm(c) in text for c in others)


def retrieval_table(engine: Engine, rows: list[dict]) -> dict[str, dict[str, float]]:
    manifest = engine.store.load_manifest()
    table = {}
    for mode in ("bm25", "dense", "hybrid"):
        retriever = HybridRetriever(engine.store, engine.embedder, engine.settings, manifest, mode=mode)
        hits_at = {1: 0, 5: 0, 10: 0}
        rr = 0.0
        for row in rows:
            ranked = []
            for hit in retriever.retrieve(row["question"], 50, parse_day(row["date"])):
                if hit.node.metadata["source"] not in ranked:
                    ranked.append(hit.node.metadata["source"])
            gold = set(row["sources"])
            first = next((i for i, s in enumerate(ranked) if s in gold), None)
            for k in hits_at:
                hits_at[k] += first is not None and first < k
            rr += 1 / (first + 1) if first is not None else 0
        n = len(rows)
        table[mode] = {f"recall@{k}": v / n for k, v in hits_at.items()} | {"mrr": rr / n}
    return table


def answer_figures(engine: Engine, rows: list[dict]) -> dict[str, float]:
    latencies, right, cited, answered = [], 0, 0, 0
    engine.ask("warm up")
    for row in rows:
        started = time.perf_counter()
        answer = engine.ask(row["question"], as_of=parse_day(row["date"]))
        latencies.append(time.perf_counter() - started)
        right += correct(answer.text, row)
        cited += any(c.source in row["sources"] for c in answer.citations)
        answered += answer.answerable
    n = len(rows)
    latencies.sort()
    return {"accuracy": right / n, "cited_source_hit": cited / n, "answered": answered / n,
            "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * latencies[int(0.95 * (n - 1))]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "out" / "realtimeqa")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    engine = Engine(Settings.load(data_dir=args.data_dir, sources_dir=BENCH / "docs"))
    started = time.perf_counter()
    report = engine.reindex(rebuild=args.rebuild)
    print(f"index: {report.summary}; wall {time.perf_counter() - started:.1f}s", flush=True)
    rows = [json.loads(line) for line in (BENCH / "questions.jsonl").read_text().splitlines() if line.strip()]
    results = {"retrieval": retrieval_table(engine, rows), "answers": answer_figures(engine, rows)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
