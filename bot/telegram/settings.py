"""The Telegram adapter's settings: read like the core's (config file, environment, overrides)."""

from __future__ import annotations

from dataclasses import dataclass

from citebot import SettingsBase, at_least, setting


@dataclass(frozen=True)
class TelegramSettings(SettingsBase):
    """Who may ask, how to reach the Bot API, how large an upload may be."""

    telegram_token: str = setting("", env="TELEGRAM_BOT_TOKEN", secret=True)
    # A self-hosted Bot API server (or the local fake one in tests).
    telegram_api_base_url: str = setting("https://api.telegram.org", env="TELEGRAM_API_BASE_URL")
    # Who may ask: the allowed users and chats, and the admins (who may also add documents).
    # With none of them set the bot refuses to start unless `public` says it answers everyone.
    allowed_users: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()
    public: bool = False
    max_upload_bytes: int = setting(5_000_000, check=at_least(1))
    # Seconds to wait for a Bot API reply before retrying. A sendMessage that timed out may have
    # been delivered, so a retry can send it twice: with python-telegram-bot's 5 s, a bot busy
    # answering 200 chats timed out on 84 calls and sent 32 replies twice (bench/load.py).
    telegram_timeout: float = setting(30.0, check=at_least(1))
    # Chats' conversations and saved quotes: a SQLite file in the data folder unless this names a
    # Redis server ("redis://host:6379/0"), which bot workers on several machines then share.
    redis_url: str = ""
