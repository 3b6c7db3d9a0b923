"""A small fake OpenAI-compatible server on 127.0.0.1: scripted chat replies, streamed or not."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web


def passage_number(prompt: str, needle: str) -> int:
    """The [n] of the first numbered passage in `prompt` that contains `needle`."""
    for match in re.finditer(r"^\[(\d+)\] \(from [^)]*\)\n(.*?)(?=^\[\d+\] \(from |\nQuestion:)", prompt, re.S | re.M):
        if needle.lower() in " ".join(match.group(2).split()).lower():
            return int(match.group(1))
    raise AssertionError(f"no passage in the prompt contains {needle!r}")


@dataclass
class FakeOpenAI:
    reply: Callable[[str], str]
    prompts: list[str] = field(default_factory=list)
    streamed: int = 0
    delay: float = 0.0  # seconds between streamed pieces, to look like a real model

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"  # type: ignore[union-attr]
        return self.base_url

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        self.prompts.append(prompt)
        text = self.reply(prompt)
        base = {"id": "chatcmpl-1", "created": int(time.time()), "model": body.get("model", "fake")}
        if not body.get("stream"):
            return web.json_response({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        self.streamed += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in re.findall(r"\S+\s*", text):
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await asyncio.sleep(self.delay)
        done = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await response.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
        return response
