"""Every failure citebot reports to a user, under one base: adapters catch `CitebotError` and show
its message; anything else is a bug. `BadInputError`s are the user's to fix (CLI exit 2); the rest
mean the index or a service cannot be used right now (exit 1)."""

from __future__ import annotations


class CitebotError(Exception):
    """A failure with a message meant for the user (one line, no traceback)."""


class BadInputError(CitebotError, ValueError):
    """The input cannot be used: a setting, a question, a path to index."""


class SettingsError(BadInputError):
    """A setting whose value cannot be used; the message names it, the value and what is allowed."""


class QuestionError(BadInputError):
    """The question cannot be asked (empty, say)."""


class IngestError(BadInputError):
    """A path given to index cannot be used (missing, unreadable)."""


class SourceError(BadInputError):
    """One document cannot be read; indexing skips it and goes on."""


class NoIndexError(CitebotError, RuntimeError):
    """Nothing has been indexed yet in this data folder."""


class StoreError(CitebotError, RuntimeError):
    """The data folder or the Chroma server cannot be used."""


class DamagedIndexError(StoreError):
    """A part of the data folder is missing or unreadable; `citebot index` or
    `citebot doctor --repair` rebuilds it from what is still there."""


class EmbedderError(CitebotError, RuntimeError):
    """The embedding model cannot be loaded."""


class LLMError(CitebotError, RuntimeError):
    """The LLM answerer cannot be built or reached."""
