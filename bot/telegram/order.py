"""Updates of one chat in the order they arrived, also across workers; different chats in
parallel; each update once."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from citebot.bot.telegram.journal import UpdateJournal
from citebot.bot.telegram.state import ChatState, best_effort

log = logging.getLogger(__name__)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs a chat's updates one after another (a follow-up must see the turn before it: with
    plain concurrency 34 of 600 replies answered with the history out of order) and other
    chats' updates concurrently, up to `max_concurrent_updates` in all. With a journal, an update
    already handled (or being handled) is skipped, and one is finished once its handler returns.
    With a chat state shared by several workers, an update also waits for the chat's older ones
    that other workers received (a follow-up posted to one worker while its question is being
    answered at another)."""

    def __init__(self, max_concurrent_updates: int, journal: UpdateJournal | None = None,
                 state: ChatState | None = None, turn_wait: float = 30.0) -> None:
        super().__init__(max_concurrent_updates)
        self.journal = journal
        self.state = state
        self.turn_wait = turn_wait
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id → (lock, updates holding or awaiting it)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self.journal is None or not isinstance(update, Update):
            await self._in_chat_order(update, coroutine)
            return
        if not self.journal.start(update.update_id):  # a replayed update that Telegram sent again
            if inspect.iscoroutine(coroutine):
                coroutine.close()
            # Finished before: its place in the chat's queue is free (one being handled keeps it).
            if self.state is not None and update.effective_chat is not None and not self.journal.in_progress(update.update_id):
                await best_effort(self.state.handled, update.effective_chat.id, update.update_id)
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
                if self.state is not None and isinstance(update, Update):
                    await self._wait_for_older(chat, update.update_id)
                try:
                    await coroutine
                finally:
                    if self.state is not None and isinstance(update, Update):
                        await best_effort(self.state.handled, chat, update.update_id)
        finally:
            lock, users = self._chats[chat]
            if users == 1:
                del self._chats[chat]  # no chat keeps a lock once it is quiet
            else:
                self._chats[chat] = (lock, users - 1)

    async def _wait_for_older(self, chat: int, update_id: int) -> None:
        """Until no older update of `chat` is waiting at any worker (or `turn_wait` has passed)."""
        assert self.state is not None
        deadline = time.monotonic() + self.turn_wait
        while (first := await best_effort(self.state.first_waiting, chat)) is not None and first < update_id:
            if time.monotonic() > deadline:  # and later updates do not wait for that one again
                log.warning("chat %s: update %d went ahead of %d, which another worker holds", chat, update_id, first)
                await best_effort(self.state.handled, chat, first)
                return
            await asyncio.sleep(0.05)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""

