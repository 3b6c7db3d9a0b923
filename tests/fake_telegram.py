"""A small fake Telegram Bot API server on 127.0.0.1, for driving the real PTB client in tests.

It implements the methods the bot uses, keeps a queue of updates for
getUpdates (long polling honoured) or, once a bot called setWebhook, posts each update to the
webhook as Telegram does (with the secret token header, again until it is answered 200),
records every call, and can inject faults: RetryAfter (HTTP 429) or 5xx answers for the next N
calls of a method.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 999, "is_bot": True, "first_name": "citebot", "username": "citebot_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


# Like Telegram's, update ids only grow, across servers of one process and (being based on the
# clock) across processes: a bot's journal of handled updates must not mistake a new one for old.
_UPDATE_IDS = itertools.count(int(time.time() * 1000) % 2**31)


@dataclass
class FakeBotApi:
    token: str = "123456:TEST-TOKEN-abcdef"
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, list[tuple[int, dict]]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self._updates: list[dict] = []
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        # When each chat's still-unanswered messages arrived, to time the replies.
        self._waiting: dict[int, deque[float]] = defaultdict(deque)
        self.reply_latencies: list[float] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.webhook: dict[str, Any] | None = None  # setWebhook's parameters, once called
        # Where the next updates are posted instead of the webhook URL: the worker a proxy picks,
        # or several taken in turn (round robin).
        self.route: str | list[str] | None = None
        self._turn = itertools.count()
        self.delivered: list[dict] = []  # updates a webhook answered with 200
        self._deliveries: set[asyncio.Task] = set()

    # -- lifecycle ------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        for task in self._deliveries:
            task.cancel()
        if self._runner:
            await self._runner.cleanup()

    # -- feeding updates ------------------------------------------------------
    async def push(self, update: dict) -> None:
        update = {"update_id": next(_UPDATE_IDS), **update}
        if self.webhook is not None:
            route = self.route or self.webhook["url"]
            url = route if isinstance(route, str) else route[next(self._turn) % len(route)]
            task = asyncio.create_task(self._deliver(update, url))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            async with self._changed:
                self._updates.append(update)
                self._changed.notify_all()

    async def _deliver(self, update: dict, url: str) -> None:
        """POST an update to a webhook as Telegram does: again, after a pause, until it is answered 200."""
        import aiohttp

        headers = {"X-Telegram-Bot-Api-Secret-Token": str(self.webhook and self.webhook.get("secret_token") or "")}
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        async with self._changed:
            self.delivered.append(update)
            self._changed.notify_all()

    async def message(self, chat_id: int, user_id: int, text: str | None = None, *, chat_type: str = "private",
                      reply_to: dict | None = None, document: dict | None = None) -> int:
        message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id, "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "group"} if chat_type != "private" else {})},
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            elif "@" + BOT_USER["username"] in text:
                at = text.index("@" + BOT_USER["username"])
                message["entities"] = [{"type": "mention", "offset": at, "length": len(BOT_USER["username"]) + 1}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if document is not None:
            message["document"] = document
        self._waiting[chat_id].append(time.perf_counter())
        await self.push({"message": message})
        return message_id

    async def upload(self, chat_id: int, user_id: int, name: str, data: bytes, declared_size: int | None = None) -> None:
        file_id = f"file{len(self.files)}"
        self.files[file_id] = data
        await self.message(chat_id, user_id, document={
            "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
            "file_size": len(data) if declared_size is None else declared_size,
        })

    async def press(self, chat_id: int, user_id: int, data: str, message_id: int = 1) -> None:
        await self.push({"callback_query": {
            "id": f"cb{time.monotonic_ns()}", "chat_instance": "ci", "data": data,
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "message": {"message_id": message_id, "date": int(time.time()), "text": "answer",
                        "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER},
        }})

    # -- reading what the bot did ---------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[dict]:
        """Texts (and markup) the bot sent, in order, optionally for one chat."""
        return [c.params for c in self.calls if c.method == "sendMessage"
                and (chat_id is None or int(c.params["chat_id"]) == chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent(chat_id)]

    async def wait_for(self, predicate, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the bot did not do what the test waited for")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass

    # -- the Bot API ----------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw = await request.json()
        else:
            raw = dict(await request.post())
        params = {}
        for key, value in raw.items():
            if isinstance(value, str) and value[:1] in "[{":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        if self.faults[method]:
            status, body = self.faults[method].pop(0)
            if status == 0:  # a stall: answer nothing until the client has given up
                await asyncio.sleep(body["seconds"])
            return web.json_response(body, status=status or 504)
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        async with self._changed:
            if method == "setWebhook":
                self.webhook = params
            elif method == "deleteWebhook":
                self.webhook = None
            self.calls.append(Call(method, params))
            waiting = self._waiting.get(int(params.get("chat_id", 0)))
            if method == "sendMessage" and waiting:
                self.reply_latencies.append(time.perf_counter() - waiting.popleft())
            self._changed.notify_all()
        return web.json_response({"ok": True, "result": self._result(method, params)})

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        async with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout:
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout)
                except TimeoutError:
                    pass
            return list(self._updates)

    def _result(self, method: str, params: dict) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "editMessageText"):
            return {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                    "chat": {"id": int(params["chat_id"]), "type": "private"}, "text": params.get("text", "")}
        if method == "getFile":
            file_id = params["file_id"]
            return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files[file_id]),
                    "file_path": f"documents/{file_id}"}
        return True  # setMyCommands, sendChatAction, answerCallbackQuery, deleteWebhook, ...

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].split("/")[-1]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    def stall(self, method: str, seconds: float, times: int = 1) -> None:
        """The next calls of `method` hang for `seconds` and are not carried out (a timeout)."""
        self.faults[method].extend([(0, {"ok": False, "seconds": seconds})] * times)

    def retry_after(self, method: str, seconds: int, times: int = 1) -> None:
        body = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {seconds}",
                "parameters": {"retry_after": seconds}}
        self.faults[method].extend([(429, body)] * times)
