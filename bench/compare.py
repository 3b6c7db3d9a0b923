"""citebot against stock llama-index and BM25 alone, same corpus, same embedder, one run.

    python bench/compare.py [--out DIR]

(a) stock llama-index: SimpleDirectoryReader → VectorStoreIndex over ChromaVectorStore with the
    default node parser, top-k 5, answer = the top passage;
(b) BM25 alone (bm25s over citebot's chunks), answer = the top passage;
(c) citebot: hybrid retrieval + extractive answers, each question asked as of its `date` (documents
    published after it left out, that week's first), and once more undated, to show what the date adds.
Reports recall@1/@5/@10 and MRR of the gold source files, answer accuracy (reference answer in the
text and no other choice), cited-source hit, quotes verbatim, p50/p95 latency, and the ingestion
throughput of (a) and (c) with the same embedder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings  # noqa: E402
from citebot.evaluate import is_correct  # noqa: E402
from citebot.models import Answer, Citation, parse_day  # noqa: E402
from citebot.retrieve import HybridRetriever  # noqa: E402
from stock import stock_index  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks" / "realtimeqa"

# (ranked unique source names, answer) for a question row
System = Callable[[dict], tuple[list[str], Answer]]


def ranked_sources(nodes) -> list[str]:
    ranked: list[str] = []
    for node in nodes:
        name = Path(node.node.metadata.get("source") or node.node.metadata.get("file_name", "")).name
        if name not in ranked:
            ranked.append(name)
    return ranked


def top_passage_answer(question: str, nodes) -> Answer:
    if not nodes:
        return Answer(question, "", False)
    top = nodes[0].node
    source = Path(top.metadata.get("source") or top.metadata.get("file_name", "")).name
    return Answer(question, top.get_content(), True, [Citation(source, 0, 0, top.get_content())])


def stock_llama_index(out: Path, embedder) -> tuple[System, dict]:
    index, ingest = stock_index(BENCH / "docs", out / "stock-chroma", embedder)
    retriever = index.as_retriever(similarity_top_k=10)

    def ask(row: dict) -> tuple[list[str], Answer]:
        nodes = retriever.retrieve(row["question"])
        return ranked_sources(nodes), top_passage_answer(row["question"], nodes[:5])

    return ask, ingest


def bm25_alone(engine: Engine) -> System:
    retriever = HybridRetriever(engine.store, engine.embedder, engine.settings, engine.store.load_manifest(), mode="bm25")

    def ask(row: dict) -> tuple[list[str], Answer]:
        nodes = retriever.retrieve(row["question"], 50)
        return ranked_sources(nodes), top_passage_answer(row["question"], nodes)

    return ask


def citebot(engine: Engine, dated: bool) -> System:
    """citebot; `dated` asks each question as of its date, otherwise as of today (no date preference)."""
    retriever = HybridRetriever(engine.store, engine.embedder, engine.settings, engine.store.load_manifest())

    def ask(row: dict) -> tuple[list[str], Answer]:
        as_of = parse_day(row["date"]) if dated else None
        return ranked_sources(retriever.retrieve(row["question"], 50, as_of)), engine.ask(row["question"], as_of=as_of)

    return ask


def score(system: System, rows: list[dict], verify: Callable[[Citation], bool] | None) -> dict[str, float]:
    hits = {1: 0, 5: 0, 10: 0}
    rr = correct = cited = quotes = verbatim = 0.0
    latencies = []
    for row in rows:
        started = time.perf_counter()
        ranked, answer = system(row)
        latencies.append(time.perf_counter() - started)
        first = next((i for i, s in enumerate(ranked) if s in row["sources"]), None)
        for k in hits:
            hits[k] += first is not None and first < k
        rr += 1 / (first + 1) if first is not None else 0
        correct += answer.answerable and is_correct(answer, row)
        cited += any(c.source in row["sources"] for c in answer.citations)
        if verify:
            quotes += len(answer.citations)
            verbatim += sum(verify(c) for c in answer.citations)
    n = len(rows)
    latencies.sort()
    figures = {f"recall@{k}": v / n for k, v in hits.items()}
    figures |= {"mrr": rr / n, "accuracy": correct / n, "cited_source_hit": cited / n,
                "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * latencies[round(0.95 * (n - 1))]}
    if verify:
        figures["quotes_verbatim"] = verbatim / quotes if quotes else 0.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    engine = Engine(Settings.load(data_dir=args.out / "realtimeqa", sources_dir=BENCH / "docs"))
    started = time.perf_counter()
    report = engine.reindex()
    ingest = {"citebot_index_s": time.perf_counter() - started, "citebot_chunks": report.total_chunks}
    if report.embedded_chunks:
        ingest["citebot_chunks_per_s"] = report.embedded_chunks / report.seconds
    stock, stock_ingest = stock_llama_index(args.out, engine.embedder)
    ingest |= stock_ingest
    rows = [json.loads(line) for line in (BENCH / "questions.jsonl").read_text().splitlines() if line.strip()]
    engine.ask("warm up")
    results = {
        "stock llama-index (top-5, top passage)": score(stock, rows, None),
        "BM25 alone (top passage)": score(bm25_alone(engine), rows, None),
        "citebot, questions undated": score(citebot(engine, dated=False), rows, engine.verify),
        "citebot (hybrid + extractive, as of the question's date)": score(citebot(engine, dated=True), rows, engine.verify),
    }
    print(json.dumps({"questions": len(rows), "ingest": ingest, "systems": results}, indent=1))


if __name__ == "__main__":
    main()
