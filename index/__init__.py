"""citebot: ask your documents, answers with verifiable citations.

This module is the core's one public face: adapters (the CLI, the REPL, Telegram) and library
users import these names only. `Engine` is loaded lazily: it pulls in llama-index.
"""

from typing import TYPE_CHECKING

from citebot.config import Settings, SettingsBase, at_least, between, load_settings, one_of, setting, unknown_settings
from citebot.database import open_database
from citebot.doctor import DoctorReport, Finding
from citebot.errors import (
    BadInputError,
    CitebotError,
    DamagedIndexError,
    EmbedderError,
    IngestError,
    LLMError,
    NoIndexError,
    QuestionError,
    SettingsError,
    SourceError,
    StoreError,
)
from citebot.evaluate import EvalReport, evaluate, read_rows
from citebot.gaps import Gap, Stats
from citebot.models import (
    AddedSource,
    Answer,
    Citation,
    IndexReport,
    SourceInfo,
    Turn,
    as_turn,
    one_line,
    parse_day,
    row_day,
)
from citebot.sources import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    from citebot.engine import Engine

__all__ = [
    "SUPPORTED_SUFFIXES", "AddedSource", "Answer", "BadInputError", "Citation", "CitebotError", "DamagedIndexError",
    "DoctorReport", "EmbedderError", "Engine", "Finding",
    "EvalReport", "Gap", "IndexReport", "IngestError", "LLMError", "NoIndexError", "QuestionError", "Settings",
    "SettingsBase", "SettingsError", "SourceError", "SourceInfo", "Stats", "StoreError", "Turn", "as_turn", "at_least", "between",
    "evaluate", "load_settings", "one_line", "one_of", "parse_day", "read_rows", "row_day", "setting",
    "open_database", "unknown_settings",
]


def __getattr__(name: str) -> object:  # lazy: importing the engine pulls in llama-index
    if name == "Engine":
        from citebot.engine import Engine

        return Engine
    raise AttributeError(name)
