"""Adding a document by content (a Telegram upload, say): a safe name, never an overwrite, never
half a file in the sources folder."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import unicodedata
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_NAME_BYTES = 200  # file systems allow 255 bytes; room for a "-2" and the staging prefix


def safe_filename(name: str | None) -> str:
    """A plain file name: no folders, no leading dots, only ordinary characters, short in bytes."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").split("/")[-1])
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:16].lower()
    stem = _cut_bytes(stem[:80], MAX_NAME_BYTES - len(suffix) - 1).strip(" .") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def _cut_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def free_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem-N.suffix` with the first N no file has."""
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


def save_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` atomically under a cleaned `name` no other file has; the path written."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".upload-{secrets.token_hex(6)}.part"  # hidden: the indexer skips it
    try:
        staging.write_bytes(data)
        while True:  # a link fails where a file appeared meanwhile: two uploads never share a name
            target = free_path(folder, safe_filename(name))
            try:
                os.link(staging, target)
                return target
            except FileExistsError:
                continue
    finally:
        staging.unlink(missing_ok=True)


def sample_documents() -> list[Traversable]:
    """The sample corpus shipped with citebot: inside the installed package, or the seeds/ folder
    of a source checkout (an editable install maps the package to index/)."""
    shipped = resources.files("citebot") / "seeds"
    folder = shipped if shipped.is_dir() else Path(__file__).resolve().parent.parent / "seeds"
    return sorted((item for item in folder.iterdir() if item.is_file() and not item.name.startswith((".", "_"))),
                  key=lambda item: item.name)


def copy_samples(folder: Path) -> int:
    """Create a missing sources folder holding the sample documents; how many were copied."""
    if folder.exists():
        return 0
    staging = folder.with_name(f".{folder.name}-{secrets.token_hex(4)}")
    staging.mkdir(parents=True)
    samples = sample_documents()
    for item in samples:
        (staging / item.name).write_bytes(item.read_bytes())
    try:
        staging.rename(folder)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
        return 0
    log.info("created %s with %d sample documents", folder, len(samples))
    return len(samples)
