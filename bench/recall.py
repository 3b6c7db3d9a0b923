"""Gold-document recall without a date: citebot's retrievers against stock llama-index, one run.

    python bench/recall.py [--sets realtimeqa,realtimeqa2,techdocs] [--work DIR] [--json]

Every question is asked undated (no preference for the week it was asked), so the ranking comes
from the text alone. For each set: stock llama-index (bench/stock.py: SimpleDirectoryReader,
default node parser, the same embedder), and citebot's hybrid, dense and BM25 retrievers over
the index bench/quality.py builds in the same --work folder. Reports recall@1/@5/@10 and MRR of the
first gold source file among the ranked documents of each system's top 50 passages.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings  # noqa: E402
from citebot.evaluate import read_rows  # noqa: E402
from citebot.retrieve import HybridRetriever  # noqa: E402
from compare import ranked_sources  # noqa: E402
from quality import SETS, chosen_sets  # noqa: E402
from stock import stock_index  # noqa: E402

DEPTH = 50  # passages each system returns per question


def figures(ranked: list[list[str]], rows: list[dict]) -> dict[str, float]:
    firsts = [next((i for i, s in enumerate(r) if s in row["sources"]), None) for r, row in zip(ranked, rows, strict=True)]
    n = len(rows)
    out = {f"recall@{k}": sum(1 for f in firsts if f is not None and f < k) / n for k in (1, 5, 10)}
    out["mrr"] = sum(1 / (f + 1) for f in firsts if f is not None) / n
    return out


def run_set(name: str, work: Path) -> dict[str, dict[str, float]]:
    questions, docs = SETS[name]
    rows = [r for r in read_rows(questions) if r.get("sources")]
    engine = Engine(Settings.load(data_dir=work / name, sources_dir=docs))
    engine.reindex()
    manifest = engine.store.load_manifest()
    index, _ = stock_index(docs, work / f"stock-{name}", engine.embedder)
    stock = index.as_retriever(similarity_top_k=DEPTH)
    results = {"stock llama-index": figures([ranked_sources(stock.retrieve(r["question"])) for r in rows], rows)}
    for mode in ("hybrid", "dense", "bm25"):
        retriever = HybridRetriever(engine.store, engine.embedder, engine.settings, manifest, mode=mode)
        results[f"citebot {mode}"] = figures([ranked_sources(retriever.retrieve(r["question"], DEPTH))
                                              for r in rows], rows)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="realtimeqa,realtimeqa2,techdocs", help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "quality")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = chosen_sets(parser, args.sets)
    results = {name: run_set(name, args.work) for name in names}
    if args.json:
        print(json.dumps(results))
        return
    print("| set | system | recall@1 | recall@5 | recall@10 | MRR |")
    print("|---|---|---|---|---|---|")
    for name, systems in results.items():
        for system, f in systems.items():
            print(f"| {name} | {system} | {f['recall@1']:.2f} | {f['recall@5']:.2f} | {f['recall@10']:.2f} | {f['mrr']:.2f} |")


if __name__ == "__main__":
    main()
