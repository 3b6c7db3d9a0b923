"""The Telegram adapter: python-telegram-bot handlers around the Engine."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from citebot import CitebotError, Engine, NoIndexError, SourceError, StoreError
from citebot.bot.render import gap_lines
from citebot.bot.telegram.access import AccessGuard, addressed_text
from citebot.bot.telegram.delivery import DraftMessage, send_blocks, with_retry
from citebot.bot.telegram.format import Block, answer_blocks, quote_blocks, sources_blocks
from citebot.bot.telegram.journal import JournalingQueue, UpdateJournal
from citebot.bot.telegram.order import ChatOrderedProcessor
from citebot.bot.telegram.settings import TelegramSettings
from citebot.bot.telegram.state import ChatState, RedisChatState, SqliteChatState, best_effort

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMANDS = [
    BotCommand("start", "What this bot does"),
    BotCommand("help", "How to ask questions"),
    BotCommand("sources", "List the indexed documents"),
    BotCommand("reindex", "Re-index the documents (admins)"),
    BotCommand("reset", "Forget this chat's conversation"),
    BotCommand("gaps", "What the documents could not answer (admins)"),
    BotCommand("stats", "Questions, refusals, feedback, latency (admins)"),
]
HELP = (
    "Ask me a question about the documents and I answer with numbered citations: the file, "
    "the lines and the exact quote. Follow-up questions work (\"Why did it do that?\"); /reset "
    "forgets the conversation. /sources lists the documents. Admins can send a document (PDF, DOCX, "
    "HTML or any text file) to add it, and use /reindex."
)
UNAVAILABLE = "The document index is temporarily unavailable. Please try again in a minute."
FAILED = "Something went wrong while answering that. Please ask again."


class TelegramBot:
    """Handlers for one Application; the engine does all retrieval, answering and indexing."""

    def __init__(self, engine: Engine, settings: TelegramSettings, workers: int = 4) -> None:
        self.engine = engine
        self.settings = settings
        self.access = AccessGuard(settings)
        self._workers = asyncio.Semaphore(workers)  # bounds the blocking core's threads for questions
        # Uploads and /reindex wait their turn here (FIFO), holding no question worker meanwhile.
        self._indexing = asyncio.Lock()
        self.started = time.time()  # /stats counts from here
        bot_id = self.settings.telegram_token.partition(":")[0]
        data = self.engine.settings.data_dir
        self.state: ChatState = RedisChatState(self.settings.redis_url) if self.settings.redis_url else \
            SqliteChatState(data / f"telegram-chats-{bot_id}.sqlite3")
        worker = f"-{settings.worker}" if settings.worker else ""
        self.journal = UpdateJournal(data / f"telegram-updates-{bot_id}{worker}.sqlite3")

    def build(self, base_url: str | None = None) -> Application:
        base = (base_url or self.settings.telegram_api_base_url).rstrip("/")
        bot = ExtBot(self.settings.telegram_token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                            request=HTTPXRequest(connection_pool_size=256, read_timeout=self.settings.telegram_timeout,
                                                 write_timeout=self.settings.telegram_timeout),
                            get_updates_request=HTTPXRequest())
        app = (
            ApplicationBuilder()
            .bot(bot)
            .update_queue(JournalingQueue(self.journal, self.state))
            .concurrent_updates(ChatOrderedProcessor(256, self.journal, self.state, self.settings.turn_wait))
            .post_init(self._post_init)
            .post_shutdown(self._post_shutdown)
            .build()
        )
        app.add_handler(TypeHandler(Update, self.access), group=-1)  # before every handler
        app.add_handler(CommandHandler("start", self.on_start))
        app.add_handler(CommandHandler("help", self.on_start))
        app.add_handler(CommandHandler("sources", self.on_sources))
        app.add_handler(CommandHandler("reindex", self.on_reindex))
        app.add_handler(CommandHandler("reset", self.on_reset))
        app.add_handler(CommandHandler("gaps", self.on_gaps))
        app.add_handler(CommandHandler("stats", self.on_stats))
        app.add_handler(MessageHandler(filters.Document.ALL, self.on_document))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_question))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self.on_error)
        return app

    async def _post_init(self, app: Application) -> None:
        await with_retry(lambda: app.bot.set_my_commands(COMMANDS))
        pending = self.journal.pending()
        if pending:
            log.warning("replaying %d updates fetched before the last stop but never handled", len(pending))
        for data in pending:
            await app.update_queue.put(Update.de_json(data, app.bot))

    async def _post_shutdown(self, app: Application) -> None:
        self.journal.close()
        self.state.close()

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Explain what the bot does."""
        await send_blocks(update, [Block(HELP)])

    async def on_reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Forget this chat's conversation."""
        chat = update.effective_chat
        if chat is None:
            return
        try:
            await asyncio.to_thread(self.state.forget, chat.id)
        except StoreError:
            log.warning("chat state unavailable", exc_info=True)
            await send_blocks(update, [Block(UNAVAILABLE)])
            return
        await send_blocks(update, [Block("Done: I forgot this chat's conversation.")])

    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List the indexed documents."""
        sources = await self.run_core(update, self.engine.sources)
        if sources is not None:
            await send_blocks(update, sources_blocks(sources))

    async def on_reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Re-index the sources folder (admins)."""
        if not self.access.is_admin(update):
            await send_blocks(update, [Block("Only admins can re-index the documents.")])
            return
        await send_blocks(update, [Block("Re-indexing…" if not self._indexing.locked() else
                                         "Queued: I re-index once the indexing under way is done.")])
        report = await self.run_indexing(update, functools.partial(self.engine.reindex, wait=True))
        if report is not None:
            await send_blocks(update, [Block(report.summary)])

    async def on_gaps(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List what the documents could not answer, grouped (admins)."""
        if not self.access.is_admin(update):
            await send_blocks(update, [Block("Only admins can see the gaps.")])
            return
        gaps = await self.run_core(update, self.engine.gaps)
        if gaps is not None:
            await send_blocks(update, [Block("Questions the documents did not answer", "b"),
                                       Block("\n".join(gap_lines(gaps)) or "None so far.")])

    async def on_stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Questions, refusals, feedback and latency since the bot started (admins)."""
        if not self.access.is_admin(update):
            await send_blocks(update, [Block("Only admins can see the statistics.")])
            return
        stats = await self.run_core(update, self.engine.questions.stats, self.started)
        if stats is not None:
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(stats.since))
            latency = f"; p50 {stats.p50_ms:.0f} ms, p95 {stats.p95_ms:.0f} ms" if stats.questions else ""
            await send_blocks(update, [Block(
                f"Since {since}: {stats.questions} questions, {stats.refused} refused, "
                f"{stats.helpful} 👍, {stats.unhelpful} 👎{latency}.")])

    async def on_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a question with citations, the chat's earlier turns as context."""
        message = update.effective_message
        if message is None or not message.text:
            return
        question = addressed_text(message, context.bot.id, context.bot.username)
        if question is None:
            return
        chat = message.chat_id
        history = await self.run_core(update, self.state.turns, chat)
        if history is None:  # the chat state store is down: replied "temporarily unavailable"
            return
        await with_retry(lambda: context.bot.send_chat_action(message.chat_id, ChatAction.TYPING))
        draft = DraftMessage(update) if self.engine.settings.llm else None
        started = time.perf_counter()
        try:
            answer = await self.run_core(update, self.engine.ask, question, history, draft and draft.push)
        finally:
            draft_message = await draft.close() if draft else None
        if answer is None:
            return
        # The answer goes out even when the chat state cannot take its turn (the next follow-up then lacks it).
        await best_effort(self.state.add_turn, chat, answer.turn(), self.engine.settings.history_turns)
        answer_id = await asyncio.to_thread(self.engine.questions.record, answer, str(chat),
                                            time.perf_counter() - started)
        blocks, shortened = answer_blocks(answer)
        buttons = []
        if answer.answerable:
            buttons += [InlineKeyboardButton("👍", callback_data=f"fb:{answer_id}:1"),
                        InlineKeyboardButton("👎", callback_data=f"fb:{answer_id}:0")]
        if shortened:
            key = await best_effort(self.state.save_quotes, chat, answer.citations)
            if key is not None:
                buttons.append(InlineKeyboardButton("Sources", callback_data=f"quotes:{key}"))
        markup = InlineKeyboardMarkup([buttons]) if buttons else None
        await send_blocks(update, blocks, markup, replace=draft_message)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the full quotes behind a shortened answer's "Sources" button."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        kind, _, key = (query.data or "").partition(":")
        if kind == "fb":
            await self.on_feedback(update, key)
            return
        citations = await best_effort(self.state.quotes, chat.id, key) if kind == "quotes" else None
        if citations is None:  # expired, or forged callback data
            await with_retry(lambda: query.answer("This button has expired; ask again."))
            return
        await with_retry(lambda: query.answer())
        await send_blocks(update, quote_blocks(citations))

    async def on_feedback(self, update: Update, key: str) -> None:
        """Record a 👍/👎 on an answer of this chat; a forged or foreign answer id is refused."""
        query, chat = update.callback_query, update.effective_chat
        answer_id, _, value = key.partition(":")
        if query is None or chat is None:
            return
        known = answer_id.isdigit() and value in ("0", "1") and await asyncio.to_thread(
            self.engine.questions.feedback, int(answer_id), str(chat.id), value == "1")
        await with_retry(lambda: query.answer("Thanks for the feedback." if known else "This button has expired."))

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Add an admin's document to the sources and index it."""
        message = update.effective_message
        if message is None or message.document is None:
            return
        if not self.access.is_admin(update):
            await send_blocks(update, [Block("Only admins can add documents.")])
            return
        document, limit = message.document, self.settings.max_upload_bytes
        name = document.file_name or "upload"
        if (document.file_size or 0) > limit:
            await send_blocks(update, [Block(f"That file is over the {limit:,}-byte limit for uploads.")])
            return
        remote = await with_retry(lambda: context.bot.get_file(document.file_id))
        data = bytes(await with_retry(lambda: remote.download_as_bytearray()))
        if len(data) > limit:
            await send_blocks(update, [Block(f"That file is over the {limit:,}-byte limit for uploads.")])
            return
        if self._indexing.locked():
            await send_blocks(update, [Block(f"Got {name}: it is queued and indexed once the indexing under way is done.")])
        added = await self.run_indexing(update, self.engine.add_source, name, data)
        if added is not None:
            renamed = f" (a file named {added.requested} already existed, so I saved it as {added.name})" \
                if added.name != added.requested else ""
            await send_blocks(update, [Block(f"Added {added.name}{renamed}. {added.report.summary}")])

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a handler's unexpected failure (a bug) and tell the chat, which would otherwise wait for ever."""
        log.error("unhandled error in a handler: %r", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat and self.access.is_allowed(update):
            try:
                await send_blocks(update, [Block(FAILED)])
            except TelegramError as exc:
                log.warning("could not report the failure to the chat (%s)", type(exc).__name__)

    async def run_indexing(self, update: Update, fn: Callable[..., T], *args: Any) -> T | None:
        """Run an indexing call in turn with the others (uploads, /reindex), off the event loop."""
        async with self._indexing:
            return await self._off_loop(update, fn, *args)

    async def run_core(self, update: Update, fn: Callable[..., T], *args: Any) -> T | None:
        """Run a blocking core call off the event loop; user-facing failures become replies."""
        async with self._workers:
            return await self._off_loop(update, fn, *args)

    async def _off_loop(self, update: Update, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            return await asyncio.to_thread(fn, *args)
        except NoIndexError:
            await send_blocks(update, [Block("No documents are indexed yet.")])
        except SourceError as exc:
            await send_blocks(update, [Block(f"I could not index {exc}. Nothing was added.")])
        except StoreError:
            log.exception("store unavailable")
            await send_blocks(update, [Block(UNAVAILABLE)])
        except CitebotError as exc:  # an empty question, say: the message is for the user
            await send_blocks(update, [Block(str(exc))])
        return None
