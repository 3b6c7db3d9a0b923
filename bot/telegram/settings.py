"""The Telegram adapter's settings: read like the core's (config file, environment, overrides)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from citebot import SettingsBase, at_least, between, setting


def _webhook_url_check(value: str) -> str | None:
    parts = urlsplit(value)
    ok = not value or (parts.scheme in ("https", "http") and parts.hostname and not parts.query and not parts.fragment)
    return None if ok else "an https:// URL without a query, e.g. https://bot.example.com/telegram"


def _secret_check(value: str) -> str | None:
    # What Telegram accepts as a webhook secret_token.
    return None if not value or re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value) else "1 to 256 of A-Z a-z 0-9 _ -"


@dataclass(frozen=True)
class TelegramSettings(SettingsBase):
    """Who may ask, how to reach the Bot API, how large an upload may be, how updates arrive."""

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
    # Webhook mode: the public URL Telegram posts updates to (TLS ends at a reverse proxy, which
    # forwards that path to webhook_listen:webhook_port). Empty: long polling.
    webhook_url: str = setting("", check=_webhook_url_check)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = setting(8080, check=between(1, 65535))
    # Telegram sends it with every update; requests without it are refused (403). Workers behind
    # one URL share it.
    webhook_secret: str = setting("", check=_secret_check, secret=True)
    # Seconds a chat's message waits for an older one that another worker holds; then it goes
    # ahead (that worker may have died: it answers the older one after its restart).
    turn_wait: float = setting(30.0, check=at_least(0))
    # Names this process's journal of received updates, so that workers sharing a data folder
    # each replay only their own after a restart. Default: host name and webhook port.
    worker_name: str = setting("", env="CITEBOT_WORKER", check=lambda v: None if re.fullmatch(r"[\w.-]{0,64}", v)
                               else "up to 64 of letters, digits, . _ -")

    @property
    def webhook(self) -> bool:
        return bool(self.webhook_url)

    @property
    def worker(self) -> str:
        """This process's name among the workers ("" for the one long-polling process)."""
        if self.worker_name or not self.webhook:
            return self.worker_name
        return re.sub(r"[^\w.-]", "-", socket.gethostname())[:50] + f"-{self.webhook_port}"
