"""Updates of one chat in the order they arrived; different chats in parallel; each update once."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from citebot.bot.telegram.journal import UpdateJournal


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs a chat's updates one after another (a follow-up must see the turn before it: with
    plain concurrency 34 of 600 replies answered with the history out of order) and other
    chats' updates concurrently, up to `max_concurrent_updates` in all. With a journal, an update
    already handled (or being handled) is skipped, and one is finished once its handler returns."""

    def __init__(self, max_concurrent_updates: int, journal: UpdateJournal | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self.journal = journal
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id → (lock, updates holding or awaiting it)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self.journal is None or not isinstance(update, Update):
            await self._in_chat_order(update, coroutine)
            return
        if not self.journal.start(update.update_id):  # a replayed update that Telegram sent again
            if inspect.iscoroutine(coroutine):
                coroutine.close()
            return
        try:
            await self._in_chat_order(update, coroutine)
        finally:
            self.journal.finish(update.update_id)

    async def _in_chat_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        if chat is None:
            await coroutine
            return
        lock, users = self._chats.get(chat, (asyncio.Lock(), 0))
        self._chats[chat] = (lock, users + 1)
        try:
            async with lock:  # asyncio.Lock wakes its waiters first come, first served
                await coroutine
        finally:
            lock, users = self._chats[chat]
            if users == 1:
                del self._chats[chat]  # no chat keeps a lock once it is quiet
            else:
                self._chats[chat] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
