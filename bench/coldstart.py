"""Where a cold start goes: each step of a first answer timed in a fresh process.

    python bench/coldstart.py --data DIR --docs DIR [--chroma-port N] [--runs 3] [--question TEXT]

Every run is a new interpreter (as `citebot ask` is), which imports the package, opens the index
(manifest, keyword index, Chroma), loads the embedder and answers one question; the steps are
timed in that order and the median of the runs printed per step, with the whole start and the
peak RSS. The first run also warms the page cache, as any earlier start of the bot would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

STEPS = r"""
import json, resource, sys, time
started = time.perf_counter()
marks = {}
def mark(name):
    marks[name] = time.perf_counter() - started - sum(marks.values())
import citebot, citebot.engine, citebot.retrieve, chromadb, llama_index.core
mark("imports")
engine = citebot.engine.Engine(citebot.Settings.load())
manifest = engine.store.load_manifest()
mark("manifest")
retriever = citebot.retrieve.keyword_retriever(engine.store.bm25_dir(manifest))
mark("keyword index")
engine.store.collection.count()
mark("chroma")
engine.embedder.embed(["warm up"])
mark("embedder")
engine._current()
mark("retriever")
engine.ask(sys.argv[1])
mark("first answer")
marks["total"] = time.perf_counter() - started
marks["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(marks))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--chroma-port", type=int, default=0, help="a Chroma server on 127.0.0.1 (0: embedded)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--question", default="What did the central bank decide about interest rates?")
    args = parser.parse_args()
    env = {**os.environ, "CITEBOT_DATA_DIR": str(args.data), "CITEBOT_SOURCES_DIR": str(args.docs)}
    if args.chroma_port:
        env |= {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(args.chroma_port)}
    runs = []
    for _ in range(args.runs):
        done = subprocess.run([sys.executable, "-c", STEPS, args.question], env=env, capture_output=True, text=True,
                              timeout=600, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps({k: round(v, 3) for k, v in runs[-1].items()}), file=sys.stderr)
    print(json.dumps({step: round(statistics.median(r[step] for r in runs), 3) for step in runs[0]}))


if __name__ == "__main__":
    main()
