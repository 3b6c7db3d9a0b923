"""One typed, validated configuration object for the core.

Values come from (lowest to highest priority): defaults, a TOML config file (the `[citebot]`
table of `citebot.toml` in the working directory, or of the file `CITEBOT_CONFIG` names),
environment variables, then explicit overrides (CLI flags). Every bad value raises one
SettingsError naming where it came from, the value and what is allowed. Adapters declare their
own settings the same way (`load_settings` with their dataclass).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import Field, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from citebot.errors import SettingsError

# Never reach for a model hub or phone home: everything runs offline.
for _name, _value in {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_name, _value)

LLM_MODES = ("", "openai-compatible", "ollama")
BUNDLED_EMBEDDER = "minilm-int8"


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "citebot"


def at_least(low: float) -> Callable[[Any], str | None]:
    """A check: the value is `low` or more (None when it is)."""
    return lambda value: None if value >= low else f"{low:g} or more"


def between(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda value: None if low <= value <= high else f"from {low} to {high}"


def one_of(*allowed: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in allowed else "one of " + ", ".join(repr(a) for a in allowed)


def _embedder_check(value: str) -> str | None:
    if value == BUNDLED_EMBEDDER:
        return None
    folder = Path(value).expanduser()
    has_model = (folder / "model.onnx").is_file() or (folder / "onnx" / "model.onnx").is_file()
    if has_model and (folder / "tokenizer.json").is_file():
        return None
    return f"{BUNDLED_EMBEDDER!r} or a folder holding model.onnx and tokenizer.json"


def setting(default: Any = dataclasses.MISSING, *, check: Callable[[Any], str | None] | None = None,
            env: str = "", secret: bool = False, **kwargs: Any) -> Any:
    """A dataclass field with a validity check and, when it is not CITEBOT_<NAME>, its variable."""
    return field(default=default, repr=not secret, metadata={"check": check, "env": env, "secret": secret}, **kwargs)


class SettingsBase:
    """What every settings dataclass shares (the core's, an adapter's): loading from the config
    file's `section`, the environment and overrides, and checking every value, also when
    constructed directly."""

    section: ClassVar[str] = "citebot"

    def __post_init__(self) -> None:
        check_values(self)

    @classmethod
    def load(cls, **overrides: object) -> Self:
        return load_settings(cls, **overrides)


@dataclass(frozen=True)
class Settings(SettingsBase):
    """The core's settings: where data lives, how documents are cut, searched and answered."""

    # Where the Chroma database, the manifest and the BM25 index live.
    data_dir: Path = setting(default_factory=_default_data_dir)
    # The folder `citebot index` reads when given no paths, and where uploads go; by default
    # `sources` in the data folder, which a first `citebot index` fills with the sample documents.
    sources_dir: Path | None = None
    # A folder of prompt templates replacing the bundled ones (answer.txt, condense.txt, ...).
    prompts_dir: Path | None = None
    collection: str = "citebot"
    # Chroma server mode: when chroma_host is set, HttpClient replaces the embedded client.
    chroma_host: str | None = setting(None, env="CHROMA_HOST")
    chroma_port: int = setting(8000, check=between(1, 65535), env="CHROMA_PORT")
    # "minilm-int8" (bundled, offline) or a folder holding model.onnx + tokenizer.json.
    embedder: str = setting(BUNDLED_EMBEDDER, check=_embedder_check)
    # Texts per encoder call. Small batches of similar length run fastest on CPU with the int8
    # model (2 cores: 4 → ~58 chunks/s, 32 → ~38); larger ones only add padding and cache misses.
    embed_batch_size: int = setting(4, check=at_least(1))
    # Chunks are whole lines packed up to this many embedder tokens (MiniLM reads 256).
    chunk_tokens: int = setting(200, check=at_least(16))
    chunk_overlap_lines: int = setting(1, check=at_least(0))
    # Candidates each retriever returns before fusion, and passages kept after it.
    candidates_k: int = setting(40, check=at_least(1))
    top_k: int = setting(6, check=at_least(1))
    # Most sentences an extractive answer quotes.
    answer_sentences: int = setting(3, check=at_least(1))
    # Candidate sentences (best by word overlap) that are embedded and scored per question:
    # embedding is most of an answer's cost. On RealTime QA, 10 to all (~60) gave the same accuracy.
    scored_sentences: int = setting(12, check=at_least(1))
    # Below this best-sentence score the bot says the documents do not answer. 0.40 → 0.45 refused
    # three more of the techdocs and seed questions asked without their answering file (bench/absent.py)
    # and no answer that was right on the four public sets.
    refusal_threshold: float = setting(0.45, check=at_least(0))
    # Files larger than this are skipped with a warning.
    max_file_bytes: int = setting(20_000_000, check=at_least(1))
    # Budgets for reading one file that needs a parser (PDF, DOCX, HTML, gzip): over either,
    # the file is skipped and named. The largest real PDF in the techdocs set reads in ~3 s.
    parse_seconds: float = setting(60.0, check=at_least(0.001))
    parse_memory_mb: int = setting(1024, check=at_least(16))
    # Turns of history used to resolve follow-up questions.
    history_turns: int = setting(3, check=at_least(0))
    # Passages of documents published (front matter `published`) in this many days up to the
    # question's date (today by default) rank first. 0 turns the preference off; a question
    # asked as of a given day still leaves out documents published after it.
    # On RealTime QA (questions dated the day they were asked) recall@5 rose from 0.70 to 0.88.
    recent_days: int = setting(7, check=at_least(0))
    # LLM mode: "" (offline, extractive), "openai-compatible" or "ollama".
    llm: str = setting("", check=one_of(*LLM_MODES))
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = setting("", secret=True)
    llm_timeout: float = setting(120.0, check=at_least(1))
    llm_context_window: int = setting(8192, check=at_least(512))

    def prompt(self, name: str) -> str:
        """The prompt template `name`: from `prompts_dir` when set, else the bundled one."""
        if self.prompts_dir is None:
            return resources.files("citebot.prompts").joinpath(name).read_text(encoding="utf-8")
        try:
            return (self.prompts_dir / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"prompts_dir = {str(self.prompts_dir)!r}: cannot read {name} ({exc})") from None

    @property
    def sources(self) -> Path:
        """The sources folder: `sources_dir`, else `sources` in the data folder."""
        return self.sources_dir or self.data_dir / "sources"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"


Config = TypeVar("Config")


def env_name(kind: type, name: str) -> str:
    """The environment variable that sets field `name` of settings class `kind`."""
    declared = next((f.metadata.get("env") for f in fields(kind) if f.name == name), "")
    return declared or "CITEBOT_" + name.upper()


def config_file() -> tuple[Path, dict[str, Any]]:
    """The config file and its parsed content ({} when the default file does not exist)."""
    named = os.environ.get("CITEBOT_CONFIG")
    path = Path(named or "citebot.toml").expanduser()
    if not path.is_file():
        if named:
            raise SettingsError(f"CITEBOT_CONFIG = {named!r}: no such file")
        return path, {}
    try:
        with path.open("rb") as fh:
            return path, tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not a valid TOML file: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read: {exc.strerror}") from None


def load_settings(kind: type[Config], **overrides: object) -> Config:
    """Settings of dataclass `kind` from the config file's `[kind.section]` table, the
    environment and `overrides` (None values ignored), each value converted and checked."""
    path, content = config_file()
    table = content.get(kind.section, {})  # type: ignore[attr-defined]
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [{kind.section}] must be a table of settings")  # type: ignore[attr-defined]
    values: dict[str, tuple[object, str]] = {}
    for f in fields(kind):  # type: ignore[arg-type]
        if f.name in table:
            values[f.name] = (table[f.name], f"{f.name} in {path}")
        variable = env_name(kind, f.name)
        if os.environ.get(variable, "") != "":
            values[f.name] = (os.environ[variable], variable)
        if overrides.get(f.name) is not None:
            values[f.name] = (overrides[f.name], f.name)
    converted = {name: convert(kind, name, value, origin) for name, (value, origin) in values.items()}
    return kind(**converted)


def unknown_settings(kinds: Iterable[type]) -> list[str]:
    """Keys of the config file and CITEBOT_* variables that none of `kinds` reads (typos, mostly)."""
    kinds = list(kinds)
    path, content = config_file()
    known = {f.name for kind in kinds for f in fields(kind)}
    variables = {env_name(kind, f.name) for kind in kinds for f in fields(kind)} | {"CITEBOT_CONFIG"}
    sections = {kind.section for kind in kinds}  # type: ignore[attr-defined]
    unknown = [f"[{name}] in {path}" for name in content if name not in sections]
    for section in sections & set(content):
        table = content[section] if isinstance(content[section], dict) else {}
        unknown += [f"{key} in [{section}] of {path}" for key in table if key not in known]
    unknown += sorted(v for v in os.environ if v.startswith("CITEBOT_") and v not in variables)
    return unknown


_DESCRIPTIONS = {int: "a whole number", float: "a number", bool: "one of 1, 0, true, false, yes, no",
                 tuple: "a comma-separated list of numeric Telegram ids (e.g. 111111,-100222)",
                 Path: "a path", str: "text"}
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def convert(kind: type, name: str, value: object, origin: str) -> object:
    """`value` as field `name` of `kind` holds it, checked; SettingsError names `origin` if it cannot be."""
    spec = next(f for f in fields(kind) if f.name == name)
    target = _base_type(spec.type)
    shown = _shown(spec, value)
    try:
        converted = _convert(target, value)
    except (TypeError, ValueError):
        raise SettingsError(f"{origin} = {shown} is not {_DESCRIPTIONS[target]}") from None
    problem = _problem(kind, name, converted)
    if problem:
        raise SettingsError(f"{origin} = {shown} is not allowed: use {problem}")
    return converted


def check_values(settings: object) -> None:
    """Raise SettingsError for the first field of `settings` whose value fails its check."""
    for f in fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        problem = _problem(type(settings), f.name, value) if value is not None else None
        if problem:
            raise SettingsError(f"{f.name} = {_shown(f, value)} is not allowed: use {problem}")


def _shown(spec: Field[Any], value: object) -> str:
    """`value` as an error message shows it: a secret's never (error messages end up in logs)."""
    return "<hidden>" if spec.metadata.get("secret") else repr(value)


def _problem(kind: type, name: str, value: object) -> str | None:
    check = next(f.metadata.get("check") for f in fields(kind) if f.name == name)
    return check(value) if check is not None else None


def _base_type(annotation: object) -> type:
    """int for "int", Path for "Path | None", tuple for "tuple[int, ...]" (annotations are strings)."""
    text = str(annotation).split("|")[0].split("[")[0].strip()
    return {"int": int, "float": float, "bool": bool, "tuple": tuple, "Path": Path}.get(text, str)


def _convert(target: type, value: object) -> object:
    if target is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in _BOOLEANS:
            raise ValueError(word)
        return _BOOLEANS[word]
    if target is Path:
        if not isinstance(value, str | Path) or not str(value).strip():
            raise TypeError(value)
        return Path(str(value)).expanduser()
    if target is tuple:  # "1, 2" from the environment, or a TOML list
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise TypeError(value)
        return tuple(int(str(i).strip()) for i in items if str(i).strip())
    if target is int:
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise TypeError(value)
        return int(value)  # type: ignore[call-overload]
    if target is float:
        if isinstance(value, bool):
            raise TypeError(value)
        return float(value)  # type: ignore[arg-type]
    if not isinstance(value, str | int | float):
        raise TypeError(value)
    return str(value)
