"""Memory of a running process, from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process now: PSS splits the pages it shares (the memory-mapped BM25 index,
    libraries) among the processes mapping them, so the PSS of two workers adds up to what they
    take together."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("Rss", 0.0), values.get("Pss", 0.0)
