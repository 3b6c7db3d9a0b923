"""Index build and re-index benchmark on the RealTime QA news corpus (1,504 articles).

    python bench/reindex.py [--work DIR]

Copies the articles to a scratch folder, then measures: a full build (time,
chunks/s, size on disk), a no-change re-run, re-indexing after changing one
file, and after adding ten. Times are wall-clock in a warm process, the way
`citebot index --watch` or the bot's /reindex runs them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings  # noqa: E402

DOCS = ROOT.parent / "shared" / "benchmarks" / "realtimeqa" / "docs"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(engine: Engine) -> tuple[float, object]:
    started = time.perf_counter()
    report = engine.reindex()
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "reindex")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    docs, data = args.work / "docs", args.work / "data"
    shutil.copytree(DOCS, docs)
    engine = Engine(Settings.load(data_dir=data, sources_dir=docs))
    _ = engine.embedder  # load the model outside the timings

    full, report = timed(engine)
    figures = {"files": report.total_files, "chunks": report.total_chunks, "full_build_s": full,
               "chunks_per_s": report.embedded_chunks / full, "index_bytes": folder_size(data)}
    figures["no_change_s"], _ = timed(engine)

    changed = sorted(docs.glob("*.md"))[100]
    changed.write_text(changed.read_text() + "\nA correction was appended to this article.\n")
    figures["one_changed_s"], report = timed(engine)
    assert report.changed == [changed.name], report.summary

    sources = sorted(DOCS.glob("*.md"))
    for i, source in enumerate(sources[:10]):
        (docs / f"added-{i}.md").write_text(source.read_text())
    figures["ten_added_s"], report = timed(engine)
    assert len(report.added) == 10, report.summary
    figures["full_over_one_changed"] = full / figures["one_changed_s"]
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
