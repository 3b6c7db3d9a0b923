"""One typed configuration object for the whole product.

Values come from (lowest to highest priority): defaults, a TOML config file
(`citebot.toml` in the working directory, or `CITEBOT_CONFIG`), environment
variables, then explicit overrides (CLI flags).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Never reach for a model hub or phone home: everything runs offline.
for _name, _value in {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_name, _value)


class SettingsError(ValueError):
    """A setting whose value cannot be used; the message names it, the value and what is allowed."""


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "citebot"


@dataclass(frozen=True)
class Settings:
    # Where the Chroma database, the manifest and the BM25 index live.
    data_dir: Path = field(default_factory=_default_data_dir)
    # The folder `citebot index` reads when given no paths.
    sources_dir: Path = PROJECT_ROOT / "seeds"
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    collection: str = "citebot"
    # Chroma server mode: when chroma_host is set, HttpClient replaces the embedded client.
    chroma_host: str | None = None
    chroma_port: int = 8000
    # "minilm-int8" (bundled, offline) or a folder holding model.onnx + tokenizer.json.
    embedder: str = "minilm-int8"
    # Texts per encoder call. Small batches of similar length run fastest on CPU with the int8
    # model (2 cores: 4 → ~58 chunks/s, 32 → ~38); larger ones only add padding and cache misses.
    embed_batch_size: int = 4
    # Chunks are whole lines packed up to this many embedder tokens (MiniLM reads 256).
    chunk_tokens: int = 200
    chunk_overlap_lines: int = 1
    # Candidates each retriever returns before fusion, and passages kept after it.
    candidates_k: int = 40
    top_k: int = 6
    # Most sentences an extractive answer quotes.
    answer_sentences: int = 3
    # Candidate sentences (best by word overlap) that are embedded and scored per question:
    # embedding is most of an answer's cost. On RealTime QA, 10 to all (~60) gave the same accuracy.
    scored_sentences: int = 12
    # Below this best-sentence score the bot says the documents do not answer.
    refusal_threshold: float = 0.40
    # Files larger than this are skipped with a warning.
    max_file_bytes: int = 20_000_000
    # Turns of history used to resolve follow-up questions.
    history_turns: int = 3
    # Passages of documents published (front matter `published`) in this many days up to the
    # question's date (today by default) rank first. 0 turns the preference off; a question
    # asked as of a given day still leaves out documents published after it.
    # On RealTime QA (questions dated the day they were asked) recall@5 rose from 0.70 to 0.88.
    recent_days: int = 7
    # Telegram adapter. Who may ask: the allowed users and chats, and the admins. With none of
    # them set the bot refuses to start unless `public` says it answers everyone.
    telegram_token: str = field(default="", repr=False)
    telegram_api_base_url: str = "https://api.telegram.org"
    allowed_users: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()
    public: bool = False
    max_upload_bytes: int = 5_000_000
    # LLM mode: "" (offline, extractive), "openai-compatible" or "ollama".
    llm: str = ""
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout: float = 120.0
    llm_context_window: int = 8192

    @classmethod
    def load(cls, **overrides: object) -> "Settings":
        values: dict[str, object] = {}
        config_file = Path(os.environ.get("CITEBOT_CONFIG", "citebot.toml"))
        if config_file.is_file():
            with config_file.open("rb") as fh:
                values.update(tomllib.load(fh).get("citebot", {}))
        for f in fields(cls):
            env_value = os.environ.get(_ENV_NAMES.get(f.name, "CITEBOT_" + f.name.upper()))
            if env_value not in (None, ""):
                values[f.name] = env_value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **{k: _coerce(k, v) for k, v in values.items() if k in _FIELD_TYPES})

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"


# Chroma's own conventional variable names for server mode.
_ENV_NAMES = {
    "chroma_host": "CHROMA_HOST",
    "chroma_port": "CHROMA_PORT",
    "telegram_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_base_url": "TELEGRAM_API_BASE_URL",
}
_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: object) -> object:
    try:
        return _convert(name, value)
    except (TypeError, ValueError):
        variable = _ENV_NAMES.get(name, "CITEBOT_" + name.upper())
        raise SettingsError(f"{variable} = {value!r} is not {_DESCRIPTIONS.get(_FIELD_TYPES[name].split('[')[0], 'valid')}") from None


_DESCRIPTIONS = {"int": "a whole number", "float": "a number", "bool": "one of 1, 0, true, false, yes, no",
                 "tuple": "a comma-separated list of numeric Telegram ids (e.g. 111111,-100222)"}
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _convert(name: str, value: object) -> object:
    kind = _FIELD_TYPES[name]
    if value is None:
        return None
    if kind == "bool":
        word = str(value).strip().lower()
        if not isinstance(value, bool) and word not in _BOOLEANS:
            raise ValueError(word)
        return value if isinstance(value, bool) else _BOOLEANS[word]
    if "Path" in kind:
        return Path(str(value)).expanduser()
    if kind.startswith("tuple[int"):  # "1, 2" from the environment, or a TOML list
        items = value.split(",") if isinstance(value, str) else value
        return tuple(int(str(i).strip()) for i in items if str(i).strip())
    if kind.startswith("int"):
        return int(value)
    if kind.startswith("float"):
        return float(value)
    return str(value)
