"""citebot's core: ingest, store, retrieve, answer. Adapters use `Engine` only."""

from index.config import Settings
from index.models import Answer, Citation, IndexReport, SourceInfo, Turn

__all__ = ["Answer", "Citation", "Engine", "IndexReport", "Settings", "SourceInfo", "Turn"]


def __getattr__(name: str):  # lazy: importing the engine pulls in llama-index
    if name == "Engine":
        from index.engine import Engine

        return Engine
    raise AttributeError(name)
