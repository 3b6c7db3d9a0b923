"""Delivery to the Bot API: retries with backoff, long answers split, streaming LLM drafts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from citebot.bot.telegram.format import LIMIT, Block, split_messages

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # answers quote documents: their links stay inert
DRAFT_MARK = "✍ Unverified draft (the checked answer with sources replaces it):\n\n"


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def with_retry(call: Callable[[], Awaitable[T]], attempts: int = 6) -> T:
    """Call the Bot API, waiting out flood control and retrying network errors with backoff."""
    delay = 0.5
    for _ in range(attempts - 1):
        try:
            return await call()
        except RetryAfter as exc:
            await asyncio.sleep(_seconds(exc.retry_after))
        except (BadRequest, Forbidden):
            raise  # retrying cannot fix these
        except NetworkError as exc:  # TimedOut included
            log.warning("Bot API call failed (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
    return await call()


async def send_blocks(update: Update, blocks: list[Block], markup: InlineKeyboardMarkup | None = None,
                      replace: Message | None = None) -> None:
    """Send `blocks` as HTML messages; with `replace`, its text becomes the first part."""
    chat = update.effective_chat
    if chat is None:
        return
    messages = split_messages(blocks)
    if replace is not None:
        draft = replace
        try:
            await with_retry(lambda: draft.edit_text(
                messages[0], parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                reply_markup=None if len(messages) > 1 else markup))
            messages = messages[1:]
        except TelegramError as exc:  # the draft stays marked unverified; the checked answer follows
            log.warning("could not replace the draft (%s); sending the answer as a new message", type(exc).__name__)
            replace = None
        if not messages:
            return
    message = update.effective_message
    # In groups the first part quotes the question it answers.
    quoted = None
    if message and chat.type != ChatType.PRIVATE and replace is None:
        quoted = ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
    for i, html in enumerate(messages):
        first, last = i == 0, i == len(messages) - 1

        def send(html: str = html, first: bool = first, last: bool = last) -> Awaitable[Message]:
            return chat.send_message(html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                     reply_markup=markup if last else None, reply_parameters=quoted if first else None)

        await with_retry(send)



class DraftMessage:
    """Shows an LLM answer as it streams: one message, edited at most every EDIT_EVERY seconds.

    Tokens arrive on the worker thread running the core; edits happen on the event loop.
    """

    EDIT_EVERY = 1.5  # seconds; well inside Telegram's per-chat rate limits

    def __init__(self, update: Update) -> None:
        self.update = update
        self.text = ""
        self.message: Message | None = None
        self._shown = ""
        self._task = asyncio.get_running_loop().create_task(self._edit_loop())

    def push(self, delta: str) -> None:
        self.text += delta  # str += from one thread; read on the loop only

    async def close(self) -> Message | None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        return self.message

    async def _show(self, text: str) -> None:
        """Send the draft message, or edit it once it exists."""
        shown, chat = self.message, self.update.effective_chat
        if shown is not None:
            await with_retry(lambda: shown.edit_text(text, link_preview_options=NO_PREVIEW))
        elif chat is not None:
            self.message = await with_retry(lambda: chat.send_message(text, link_preview_options=NO_PREVIEW))

    async def _edit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.EDIT_EVERY)
            draft = self.text
            if not draft.strip() or draft == self._shown:
                continue
            # Unchecked model text: marked as such, links inert, until the verified answer replaces it.
            shown = DRAFT_MARK + draft[: LIMIT - len(DRAFT_MARK) - 2] + " …"
            try:
                await self._show(shown)
                self._shown = draft
            except BadRequest:  # e.g. "message is not modified"; the next round tries again
                pass
