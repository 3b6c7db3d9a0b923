"""Speed and scale: ingest throughput, query latency, cold start and memory as the corpus grows,
embedded and on a Chroma server.

    python bench/scale.py [--sizes 10000,20000,100000] [--articles N] [--work DIR] [--keep]

One scratch index grows through the sizes: first a subset of the RealTime QA articles, then all of
them, then copies of the real articles in further folders (vectors of identical chunks are reused,
so copies cost chunking, BM25 and Chroma writes but no embedding). At each size: warm query latency
p50/p95 over the 76 questions (offline extractive mode), cold `citebot ask` wall time and peak RSS.
At the first size every chunk is embedded from scratch: that build's chunks/s is compared with
stock llama-index ingesting the same files with the same embedder. Then the embedded store is
served as is by `chroma run --path DATA/chroma` (the move to a server that the README describes) and
the largest size is measured again through the server, with two bot processes answering at once
(their RSS each, and RSS and PSS together: the memory-mapped BM25 index is shared between them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proc import memory_mb, peak_rss_mb  # noqa: E402

from citebot import Settings  # noqa: E402
from citebot.engine import Engine  # noqa: E402
from stock import stock_index  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks" / "realtimeqa"
QUESTIONS = [json.loads(line)["question"] for line in (BENCH / "questions.jsonl").read_text().splitlines() if line]


def grow_to(target_chunks: int, docs: Path, engine: Engine, articles: list[Path]) -> dict:
    """Add articles (then copies of them in further folders) until the index holds at least
    `target_chunks`, in one `reindex` per size (its interim commits rebuild BM25 O(log n) times)."""
    added_seconds = 0.0
    while True:
        manifest = engine.store.load_manifest()
        total = manifest.chunk_count
        if total >= target_chunks:
            return {"chunks": total, "files": len(manifest.files), "index_s": added_seconds}
        # Roughly 13.5 chunks per article: copy what the target still needs, less the copies an
        # interrupted run left unindexed (before, every resumed run copied the whole gap again).
        waiting = sum(1 for f in docs.rglob("*") if f.is_file()) - len(manifest.files)
        needed = max(1, int((target_chunks - total) / 13.5) + 1 - max(0, waiting))
        copy = 0
        while needed > 0:
            folder = docs / f"copy-{copy}"
            folder.mkdir(parents=True, exist_ok=True)
            present = {p.name for p in folder.iterdir()}
            for article in [a for a in articles if a.name not in present][:needed]:
                shutil.copy(article, folder / article.name)
                needed -= 1
            copy += 1
        started = time.perf_counter()
        engine.reindex()
        added_seconds += time.perf_counter() - started


def warm_latency(engine: Engine) -> dict:
    engine.ask(QUESTIONS[0])
    latencies = []
    for question in QUESTIONS:
        started = time.perf_counter()
        engine.ask(question)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {"p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * latencies[round(0.95 * (len(latencies) - 1))]}


def cold_ask(env: dict) -> dict:
    citebot = Path(sys.executable).with_name("citebot")
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", str(citebot), "ask", QUESTIONS[1]], env=env,
                            capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    return {"cold_ask_s": seconds, "cold_peak_rss_mb": int(result.stderr.strip().splitlines()[-1]) / 1024}


def two_processes(env: dict, scratch: Path) -> dict:
    """Two bot processes answering the 76 questions (three times over) at once against the same
    store; their memory sampled as they go."""
    batch = scratch / "questions.jsonl"
    batch.write_text("\n".join(json.dumps({"question": q}) for q in QUESTIONS * 3) + "\n")
    citebot = Path(sys.executable).with_name("citebot")
    started = time.perf_counter()
    procs = [subprocess.Popen([str(citebot), "ask", "--json", "--batch", str(batch)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    peak = {"each_rss_mb": 0.0, "together_rss_mb": 0.0, "together_pss_mb": 0.0}
    outputs: list[str] = []

    def read(proc: subprocess.Popen) -> None:
        outputs.append(proc.communicate(timeout=3600)[0])

    import threading

    readers = [threading.Thread(target=read, args=(p,)) for p in procs]
    for reader in readers:
        reader.start()
    while any(p.poll() is None for p in procs):
        try:
            samples = [memory_mb(p.pid) for p in procs]
        except OSError:  # one has just exited
            break
        peak["each_rss_mb"] = max(peak["each_rss_mb"], *(rss for rss, _ in samples))
        peak["together_rss_mb"] = max(peak["together_rss_mb"], sum(rss for rss, _ in samples))
        peak["together_pss_mb"] = max(peak["together_pss_mb"], sum(pss for _, pss in samples))
        time.sleep(0.2)
    for reader in readers:
        reader.join()
    answered = [sum(1 for line in out.splitlines() if '"answer"' in line) for out in outputs]
    return {"two_processes_s": time.perf_counter() - started, "answered_each": answered} | peak


def close_embedded_chroma() -> None:
    """Stop this process's embedded Chroma so that a server can open the same folder."""
    from chromadb.api.shared_system_client import SharedSystemClient

    for system in list(SharedSystemClient._identifier_to_system.values()):
        system.stop()
    SharedSystemClient.clear_system_cache()


def served(data: Path, docs: Path, work: Path) -> dict:
    """The finished index, served by `chroma run` from its own folder: latency, cold start, two processes."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.conftest import ChromaServer

    server = ChromaServer(data / "chroma").start()
    try:
        engine = Engine(Settings.load(data_dir=data, sources_dir=docs, chroma_host="127.0.0.1", chroma_port=server.port))
        env = {**os.environ, "CITEBOT_DATA_DIR": str(data), "CITEBOT_SOURCES_DIR": str(docs),
               "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port)}
        row = {"server_chunks": engine.store.collection.count()} | warm_latency(engine) | cold_ask(env)
        row |= two_processes(env, work) | {"chroma_server_peak_rss_mb": peak_rss_mb(server.process.pid)}
    finally:
        server.stop()
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,20000,100000")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "scale")
    parser.add_argument("--articles", type=int, default=0, help="use only the first N articles (0: all)")
    parser.add_argument("--keep", action="store_true",
                        help="go on from the index already in --work (measure it when it has the sizes)")
    args = parser.parse_args()
    started = time.perf_counter()
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    docs, data = args.work / "docs", args.work / "data"
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data), "CITEBOT_SOURCES_DIR": str(docs)}
    engine = Engine(Settings.load(data_dir=data, sources_dir=docs))
    sizes = [int(s) for s in args.sizes.split(",")]
    articles = sorted((BENCH / "docs").glob("*.md"))[: args.articles or None]
    results: dict = {"embedded": []}
    for size in sizes:
        row = grow_to(size, docs, engine, articles)
        if size == sizes[0] and not args.keep:  # built from nothing: every chunk was embedded
            row["chunks_per_s"] = row["chunks"] / row["index_s"]
            row["files_per_s"] = row["files"] / row["index_s"]
            row |= stock_index(docs / "copy-0", args.work / "stock-chroma", engine.embedder)[1]
        row |= warm_latency(engine) | cold_ask(env)
        results["embedded"].append(row)
        print(json.dumps(row), flush=True)
    del engine
    close_embedded_chroma()
    results["server"] = served(data, docs, args.work)
    print(json.dumps(results["server"]), flush=True)
    results["bench_minutes"] = (time.perf_counter() - started) / 60
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
