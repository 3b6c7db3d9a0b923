"""`citebot telegram`: the bot, long polling the Bot API (or a self-hosted one), or as one of several
webhook workers behind a reverse proxy."""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from citebot import Engine
from citebot.bot.telegram.app import TelegramBot
from citebot.bot.telegram.settings import TelegramSettings


class RedactingFormatter(logging.Formatter):
    """Formats records, tracebacks included, with secrets (the token is in every Bot API URL) masked."""

    def __init__(self, *secrets: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text


def configure_logging(*secrets: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(*secrets))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL


def run_bot(engine: Engine, settings: TelegramSettings) -> int:
    """Run until interrupted; the exit code says why it stopped."""
    from telegram.error import InvalidToken, NetworkError

    if not settings.telegram_token:
        print("citebot: set TELEGRAM_BOT_TOKEN (or telegram_token in citebot.toml); see the README.", file=sys.stderr)
        return 2
    if not (settings.allowed_users or settings.allowed_chats or settings.admins or settings.public):
        print("citebot: nobody may ask: set CITEBOT_ALLOWED_USERS, CITEBOT_ALLOWED_CHATS or CITEBOT_ADMINS, "
              "or CITEBOT_PUBLIC=1 to answer everyone.", file=sys.stderr)
        return 2
    if settings.webhook and not settings.webhook_secret:
        print("citebot: webhook mode needs CITEBOT_WEBHOOK_SECRET (1 to 256 of A-Z a-z 0-9 _ -), the same for "
              "every worker: Telegram sends it with each update and requests without it are refused.", file=sys.stderr)
        return 2
    configure_logging(settings.telegram_token, settings.webhook_secret)
    log = logging.getLogger("citebot.telegram")
    if settings.public:
        log.warning("CITEBOT_PUBLIC is set: the bot answers everyone")
    app = TelegramBot(engine, settings).build()
    updates = ["message", "callback_query"]
    try:
        if settings.webhook:
            log.info("webhook worker %s listening on %s:%d for %s", settings.worker, settings.webhook_listen,
                     settings.webhook_port, settings.webhook_url)
            app.run_webhook(listen=settings.webhook_listen, port=settings.webhook_port,
                            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                            webhook_url=settings.webhook_url, secret_token=settings.webhook_secret,
                            allowed_updates=updates, close_loop=False)
        else:
            app.run_polling(allowed_updates=updates, close_loop=False)
    except InvalidToken:
        print("citebot: Telegram rejected the bot token (getMe failed); check TELEGRAM_BOT_TOKEN.", file=sys.stderr)
        return 2
    except NetworkError as exc:
        reason = str(exc).replace(settings.telegram_token, "<redacted>")  # a server may echo the URL
        print(f"citebot: cannot reach the Telegram Bot API: {reason}", file=sys.stderr)
        return 1
    except OSError as exc:  # the webhook port is taken, say
        print(f"citebot: cannot listen on {settings.webhook_listen}:{settings.webhook_port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0
