"""Peak RSS and latency of one fresh process answering over an existing index.

    python bench/memory.py DATA_DIR DOCS_DIR [--questions FILE.jsonl] [-n 40]

Prints {"rss_mb", "first_s", "p50", "p95", "cpu_ms"} (ms; cpu_ms: CPU time an answer, all threads):
what one bot worker costs at that index size.
Default questions: RealTime QA's (to pair with its index, e.g. from bench/quality.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("docs_dir", type=Path)
    parser.add_argument("--questions", type=Path,
                        default=ROOT.parent / "shared" / "benchmarks" / "realtimeqa" / "questions.jsonl")
    parser.add_argument("-n", type=int, default=40)
    args = parser.parse_args()
    engine = Engine(Settings.load(data_dir=args.data_dir, sources_dir=args.docs_dir))
    questions = [json.loads(line)["question"] for line in args.questions.open() if line.strip()][: args.n]
    started = time.perf_counter()
    engine.ask(questions[0])
    first = time.perf_counter() - started
    latencies = []
    cpu_started = time.process_time()
    for question in questions:
        started = time.perf_counter()
        engine.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(questions)  # all threads': the embedder's too
    latencies.sort()
    print(json.dumps({"rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "first_s": round(first, 2), "p50": round(statistics.median(latencies)),
                      "p95": round(latencies[round(0.95 * (len(latencies) - 1))]), "cpu_ms": round(cpu_ms)}))


if __name__ == "__main__":
    main()
