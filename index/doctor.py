"""Checks of a data folder against itself and the disk, and what mends each finding.

`citebot index` runs the cheap ones every time and mends what it finds (see Indexer); `citebot
doctor` lists them all, and `--repair` runs that indexing. Everything is rebuilt from what is
still there: the chunks Chroma holds (their metadata name file and content hash) and the files.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from citebot.errors import DamagedIndexError
from citebot.sources import file_digest
from citebot.store import ChunkStore, FileEntry, Manifest, chunk_id

log = logging.getLogger(__name__)

# Below this much free space indexing does not start: a full disk mid-commit fails the run (the
# committed index survives, but nothing new is added) and can fail answering too.
MIN_FREE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """One thing wrong: what it is, and what repair does about it."""

    problem: str
    remedy: str


@dataclass
class DoctorReport:
    findings: list[Finding]
    repaired: bool = False
    # After a repair: what is still wrong (nothing, when it worked).
    remaining: list[Finding] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def free_space_problem(folder: Path) -> str | None:
    """Why `folder` has too little free space to index safely, or None."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free >= MIN_FREE_BYTES:
        return None
    return f"only {free / 2**20:.0f} MB free in {folder} (indexing needs {MIN_FREE_BYTES / 2**20:.0f} MB)"


def recover_manifest(store: ChunkStore, sources: Path, embedder: str) -> Manifest:
    """A manifest rebuilt from the chunks in Chroma: a file is kept when it is still in the
    sources folder with the content its chunks were cut from; other chunks become orphans."""
    files: dict[str, FileEntry] = {}
    stored = store.chunk_files()
    for key, versions in stored.items():
        path = sources / key
        if not path.is_file():
            continue
        digest = file_digest(path)
        ids = set(versions.get(digest, ()))
        if ids and ids == {chunk_id(embedder, key, digest, i) for i in range(len(ids))}:
            stat = path.stat()
            files[key] = FileEntry(str(path), digest, len(ids), stat.st_size, stat.st_mtime)
    generation = max(store.bm25_generations(), default=0) + 1
    dropped = sorted(set(stored) - set(files))
    if dropped:
        log.warning("recovering the manifest: %d files whose content changed or is gone are left out "
                    "(their chunks are deleted; index them again): %s", len(dropped), ", ".join(dropped[:5]))
    return Manifest(embedder=embedder, generation=generation, files=files)


def missing_chunks(store: ChunkStore, manifest: Manifest) -> dict[str, int]:
    """Files of the manifest whose chunks Chroma lacks (its database deleted, say): key → count."""
    expected = manifest.chunk_ids()
    if store.collection.count() >= len(expected):
        return {}
    present = store.existing_ids(sorted(expected))
    lacking = {key: sum(c not in present for c in manifest.ids_of(key)) for key in manifest.files}
    return {key: n for key, n in lacking.items() if n}


def check(store: ChunkStore, sources: Path) -> list[Finding]:
    """Everything wrong with the data folder, one finding per kind."""
    findings: list[Finding] = []
    problem = free_space_problem(store.data_dir)
    if problem:
        findings.append(Finding(problem, "free some space; indexing refuses to start until then"))
    if not store.manifest_path.exists():
        return findings + [Finding("nothing is indexed yet", "run `citebot index`")]
    try:
        manifest = store.load_manifest()
    except DamagedIndexError as exc:
        return findings + [Finding(str(exc).split(";")[0],
                                   f"rebuild it from the chunks in Chroma and the files in {sources}")]
    missing = missing_chunks(store, manifest)
    if missing:
        findings.append(Finding(f"{sum(missing.values())} chunks of {len(missing)} files are missing from Chroma",
                                "embed those files again"))
    orphans = store.collection.count() - (manifest.chunk_count - sum(missing.values()))
    if orphans > 0:
        findings.append(Finding(f"{orphans} chunks in Chroma belong to no indexed file", "delete them"))
    if manifest.files and not store.bm25_readable(manifest):
        findings.append(Finding(f"the keyword index {store.bm25_dir(manifest)} is missing or unreadable",
                                "rebuild it from the chunks in Chroma"))
    try:
        stored = store.sentences.files()
    except sqlite3.Error:  # damaged: indexing computes it again
        stored = set()
    lacking = sum(entry.sha256 not in stored for entry in manifest.files.values())
    if lacking:
        findings.append(Finding(f"{lacking} indexed files have no stored sentence vectors (answers embed "
                                "their sentences, several times slower)", "embed their sentences"))
    gone = [key for key, entry in manifest.files.items() if not Path(entry.path).is_file()]
    if gone:
        findings.append(Finding(f"{len(gone)} indexed files no longer exist (e.g. {gone[0]})", "drop them"))
    return findings
