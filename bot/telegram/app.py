"""The Telegram adapter: python-telegram-bot handlers around `Engine.ask` and `Engine.reindex`."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram.format import LIMIT, Block, answer_blocks, quote_blocks, sources_blocks, split_messages
from bot.telegram.order import ChatOrderedProcessor
from index import Engine, Turn
from index.engine import NoIndexError, QuestionError
from index.models import Citation
from index.sources import SUPPORTED_SUFFIXES
from index.store import StoreError

log = logging.getLogger("citebot.telegram")
T = TypeVar("T")

COMMANDS = [
    BotCommand("start", "What this bot does"),
    BotCommand("help", "How to ask questions"),
    BotCommand("sources", "List the indexed documents"),
    BotCommand("reindex", "Re-index the documents (admins)"),
    BotCommand("reset", "Forget this chat's conversation"),
]
HELP = (
    "Ask me a question about the documents and I answer with numbered citations: the file, "
    "the lines and the exact quote. Follow-up questions work (\"Why did it do that?\"); /reset "
    "forgets the conversation. /sources lists the documents. Admins can send a file "
    f"({', '.join(sorted(SUPPORTED_SUFFIXES))}) to add it, and use /reindex."
)
REFUSAL = "Sorry, this bot is private. Ask its owner to add your Telegram user id to the allowlist."
UNAVAILABLE = "The document index is temporarily unavailable. Please try again in a minute."
MAX_SAVED_QUOTES = 50  # per chat, for the "Sources" buttons


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


def safe_filename(name: str | None) -> str:
    """A plain file name: no folders, no leading dots, only ordinary characters."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").split("/")[-1])
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem[:80] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def free_path(folder: Path, name: str) -> Path:
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


class TelegramBot:
    """Handlers for one Application; the engine does all retrieval and answering."""

    def __init__(self, engine: Engine, workers: int = 4) -> None:
        self.engine = engine
        self.settings = engine.settings
        self._workers = asyncio.Semaphore(workers)  # bounds the blocking core's threads
        self._refused: set[int] = set()

    # -- setup ----------------------------------------------------------------
    def build(self, base_url: str | None = None) -> Application:
        base = (base_url or self.settings.telegram_api_base_url).rstrip("/")
        app = (
            ApplicationBuilder()
            .token(self.settings.telegram_token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .concurrent_updates(ChatOrderedProcessor(256))
            .post_init(self._post_init)
            .build()
        )
        app.add_handler(CommandHandler("start", self.on_start))
        app.add_handler(CommandHandler("help", self.on_start))
        app.add_handler(CommandHandler("sources", self.on_sources))
        app.add_handler(CommandHandler("reindex", self.on_reindex))
        app.add_handler(CommandHandler("reset", self.on_reset))
        app.add_handler(MessageHandler(filters.Document.ALL, self.on_document))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_question))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self.on_error)
        return app

    async def _post_init(self, app: Application) -> None:
        await with_retry(lambda: app.bot.set_my_commands(COMMANDS))

    # -- access ---------------------------------------------------------------
    def is_admin(self, update: Update) -> bool:
        return bool(update.effective_user and update.effective_user.id in self.settings.admins)

    def is_allowed(self, update: Update) -> bool:
        """Admins, allowed users and allowed chats; everyone only when the operator said `public`."""
        if self.settings.public:
            return True
        users, chats = set(self.settings.allowed_users), set(self.settings.allowed_chats)
        user = update.effective_user.id if update.effective_user else None
        chat = update.effective_chat.id if update.effective_chat else None
        return self.is_admin(update) or user in users or chat in chats

    async def admitted(self, update: Update) -> bool:
        """True for allowed users; anyone else gets one polite refusal and nothing more."""
        if self.is_allowed(update):
            return True
        who = update.effective_user.id if update.effective_user else 0
        log.info("refused user %s in chat %s", who, update.effective_chat.id if update.effective_chat else "?")
        if update.callback_query:
            await with_retry(lambda: update.callback_query.answer(REFUSAL, show_alert=True))
        elif who not in self._refused and update.effective_message:
            self._refused.add(who)
            await self.reply(update, [Block(REFUSAL)])
        return False

    # -- handlers -------------------------------------------------------------
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self.admitted(update):
            await self.reply(update, [Block(HELP)])

    async def on_reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self.admitted(update):
            context.chat_data.clear()
            await self.reply(update, [Block("Done: I forgot this chat's conversation.")])

    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self.admitted(update):
            sources = await self.run_core(update, self.engine.sources)
            if sources is not None:
                await self.reply(update, sources_blocks(sources))

    async def on_reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self.admitted(update):
            return
        if not self.is_admin(update):
            await self.reply(update, [Block("Only admins can re-index the documents.")])
            return
        await self.reply(update, [Block("Re-indexing…")])
        report = await self.run_core(update, self.engine.reindex)
        if report is not None:
            await self.reply(update, [Block(report.summary)])

    async def on_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        question = self.addressed_text(message, context)
        if question is None or not await self.admitted(update):
            return
        history: list[Turn] = context.chat_data.setdefault("history", [])
        await with_retry(lambda: context.bot.send_chat_action(message.chat_id, ChatAction.TYPING))
        draft = DraftMessage(update) if self.settings.llm else None
        try:
            answer = await self.run_core(update, self.engine.ask, question, list(history), draft and draft.push)
        finally:
            draft_message = await draft.close() if draft else None
        if answer is None:
            return
        history.append(answer.turn())
        del history[: -self.settings.history_turns]
        blocks, shortened = answer_blocks(answer)
        markup = None
        if shortened:
            key = self.remember_quotes(context, answer.citations)
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("Sources", callback_data=f"quotes:{key}")]])
        await self.reply(update, blocks, markup, replace=draft_message)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not await self.admitted(update):
            return
        saved: dict[str, list[Citation]] = context.chat_data.get("quotes", {})
        kind, _, key = (query.data or "").partition(":")
        citations = saved.get(key) if kind == "quotes" else None
        if citations is None:  # expired, or forged callback data
            await with_retry(lambda: query.answer("This button has expired; ask again."))
            return
        await with_retry(lambda: query.answer())
        await self.reply(update, quote_blocks(citations))

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.document is None or not await self.admitted(update):
            return
        if not self.is_admin(update):
            await self.reply(update, [Block("Only admins can add documents.")])
            return
        document = message.document
        name = safe_filename(document.file_name)
        suffix = Path(name).suffix.lower()
        limit = self.settings.max_upload_bytes
        if suffix not in SUPPORTED_SUFFIXES:
            kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
            await self.reply(update, [Block(f"I can't index {suffix or 'files without an extension'}; send {kinds}.")])
            return
        if (document.file_size or 0) > limit:
            await self.reply(update, [Block(f"That file is over the {limit:,}-byte limit for uploads.")])
            return
        remote = await with_retry(lambda: context.bot.get_file(document.file_id))
        data = bytes(await with_retry(lambda: remote.download_as_bytearray()))
        if len(data) > limit:
            await self.reply(update, [Block(f"That file is over the {limit:,}-byte limit for uploads.")])
            return
        saved = await asyncio.to_thread(self.save_upload, name, data)
        report = await self.run_core(update, self.engine.reindex)
        if report is None:
            return
        problem = next((reason for path, reason in report.skipped if Path(path) == saved), None)
        if problem:
            saved.unlink(missing_ok=True)
            await self.reply(update, [Block(f"I could not index {name}: {problem}. Nothing was added.")])
            return
        renamed = f" (a file named {name} already existed, so I saved it as {saved.name})" if saved.name != name else ""
        await self.reply(update, [Block(f"Added {saved.name}{renamed}. {report.summary}")])

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("unhandled error in a handler: %r", context.error, exc_info=context.error)

    # -- helpers --------------------------------------------------------------
    def addressed_text(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """The question in `message`, or None when a group message is not meant for the bot."""
        text = message.text or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        username = f"@{context.bot.username}".lower() if context.bot.username else None
        mentions = [t for t in message.parse_entities([MessageEntity.MENTION]).values() if t.lower() == username]
        replied = message.reply_to_message and message.reply_to_message.from_user and \
            message.reply_to_message.from_user.id == context.bot.id
        if not mentions and not replied:
            return None
        for mention in mentions:
            text = text.replace(mention, " ")
        return text

    def remember_quotes(self, context: ContextTypes.DEFAULT_TYPE, citations: list[Citation]) -> str:
        saved: dict[str, list[Citation]] = context.chat_data.setdefault("quotes", {})
        while len(saved) >= MAX_SAVED_QUOTES:
            saved.pop(next(iter(saved)))
        key = secrets.token_urlsafe(8)
        saved[key] = citations
        return key

    def save_upload(self, name: str, data: bytes) -> Path:
        """Write atomically under a name no other file has: never half a file, never an overwrite."""
        folder = self.settings.sources_dir
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".upload-{secrets.token_hex(6)}.part"  # hidden: the indexer skips it
        staging.write_bytes(data)
        target = free_path(folder, name)
        os.replace(staging, target)
        return target

    async def run_core(self, update: Update, fn: Callable[..., T], *args: Any) -> T | None:
        """Run a blocking core call off the event loop; user-facing failures become replies."""
        async with self._workers:
            try:
                return await asyncio.to_thread(fn, *args)
            except QuestionError as exc:
                await self.reply(update, [Block(str(exc))])
            except NoIndexError:
                await self.reply(update, [Block("No documents are indexed yet.")])
            except StoreError:
                log.exception("store unavailable")
                await self.reply(update, [Block(UNAVAILABLE)])
        return None

    async def reply(self, update: Update, blocks: list[Block], markup: InlineKeyboardMarkup | None = None,
                    replace: Message | None = None) -> None:
        """Send `blocks` as HTML messages; with `replace`, its text becomes the first part."""
        chat = update.effective_chat
        if chat is None:
            return
        messages = split_messages(blocks)
        if replace is not None:
            try:
                await with_retry(lambda: replace.edit_text(
                    messages[0], parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True),
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
            last = i == len(messages) - 1
            await with_retry(lambda html=html, last=last, first=i == 0: chat.send_message(
                html, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=markup if last else None, reply_parameters=quoted if first else None,
            ))


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
DRAFT_MARK = "✍ Unverified draft (the checked answer with sources replaces it):\n\n"


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

    async def _edit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.EDIT_EVERY)
            draft = self.text
            if not draft.strip() or draft == self._shown:
                continue
            # Unchecked model text: marked as such, links inert, until the verified answer replaces it.
            shown = DRAFT_MARK + draft[: LIMIT - len(DRAFT_MARK) - 2] + " …"
            try:
                if self.message is None:
                    self.message = await with_retry(
                        lambda text=shown: self.update.effective_chat.send_message(text, link_preview_options=NO_PREVIEW))
                else:
                    await with_retry(lambda text=shown: self.message.edit_text(text, link_preview_options=NO_PREVIEW))
                self._shown = draft
            except BadRequest:  # e.g. "message is not modified"; the next round tries again
                pass
