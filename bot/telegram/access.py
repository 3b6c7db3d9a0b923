"""Who may use the bot, checked once before every handler (a handler group of its own)."""

from __future__ import annotations

import logging

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from citebot.bot.telegram.delivery import send_blocks, with_retry
from citebot.bot.telegram.format import Block
from citebot.bot.telegram.settings import TelegramSettings

log = logging.getLogger(__name__)

REFUSAL = "Sorry, this bot is private. Ask its owner to add your Telegram user id to the allowlist."


def addressed_text(message: Message, bot_id: int, bot_username: str | None) -> str | None:
    """The question in `message`, or None when a group message is not meant for the bot: in
    groups the bot answers a mention of it or a reply to one of its messages."""
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    username = f"@{bot_username}".lower() if bot_username else None
    mentions = [t for t in message.parse_entities([MessageEntity.MENTION]).values() if t.lower() == username]
    replied = message.reply_to_message and message.reply_to_message.from_user and \
        message.reply_to_message.from_user.id == bot_id
    if not mentions and not replied:
        return None
    for mention in mentions:
        text = text.replace(mention, " ")
    return text


class AccessGuard:
    """Admins, allowed users and allowed chats pass; everyone when the operator said `public`.
    Anyone else gets one polite refusal (a private message, a button, a group message addressed
    to the bot) and no handler runs."""

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self._refused: set[int] = set()

    def is_admin(self, update: Update) -> bool:
        return bool(update.effective_user and update.effective_user.id in self.settings.admins)

    def is_allowed(self, update: Update) -> bool:
        if self.settings.public:
            return True
        user = update.effective_user.id if update.effective_user else None
        chat = update.effective_chat.id if update.effective_chat else None
        return self.is_admin(update) or user in self.settings.allowed_users or chat in self.settings.allowed_chats

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let an allowed update through to the handlers; stop any other one here."""
        if not isinstance(update, Update) or self.is_allowed(update):
            return
        who = update.effective_user.id if update.effective_user else 0
        log.info("refused user %s in chat %s", who, update.effective_chat.id if update.effective_chat else "?")
        query, message = update.callback_query, update.effective_message
        if query is not None:
            await with_retry(lambda: query.answer(REFUSAL, show_alert=True))
        elif message is not None and who not in self._refused and self._addressed(message, context):
            self._refused.add(who)
            await send_blocks(update, [Block(REFUSAL)])
        raise ApplicationHandlerStop

    @staticmethod
    def _addressed(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        if message.chat.type == ChatType.PRIVATE or message.document is not None or not message.text:
            return True
        return addressed_text(message, context.bot.id, context.bot.username) is not None
