"""Shared fixtures: real embedder, real Chroma, the bundled seeds."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from citebot import Engine, Settings
from citebot.sources import lines_text
from tests.fake_telegram import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
DEV_QA = SHARED / "eval" / "dev_qa.jsonl"


def make_engine(data_dir: Path, sources_dir: Path = SEEDS, **overrides: object) -> Engine:
    return Engine(Settings.load(data_dir=data_dir, sources_dir=sources_dir, **overrides))


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(tmp_path_factory.mktemp("seed-index"))
    report = engine.reindex()
    assert len(report.added) == 2 and not report.skipped
    return engine


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A private copy of the seeds that a test may change."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    return folder


def dev_rows() -> list[dict]:
    return [json.loads(line) for line in DEV_QA.read_text().splitlines() if line.strip()]


def assert_at_lines(path: Path, start_line: int, end_line: int, quote: str, page: int | None = None) -> None:
    """`quote` is in `path` within the lines, starting on the first and ending on the last."""
    text = lines_text(path, start_line, end_line, page)
    assert quote.strip() and quote in text, (path, start_line, end_line, quote, text)
    assert quote.split("\n")[0] in lines_text(path, start_line, start_line, page)
    assert quote.split("\n")[-1] in lines_text(path, end_line, end_line, page)


def assert_verbatim(citation, root: Path) -> None:
    assert_at_lines(root / citation.source, citation.start_line, citation.end_line, citation.quote, citation.page)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """A real Chroma server (`chroma run` from the chromadb package) on 127.0.0.1."""

    def __init__(self, path: Path) -> None:
        self.path, self.port, self.process = path, free_port(), None

    def start(self) -> "ChromaServer":
        import os
        import subprocess
        import sys
        import time
        import urllib.request

        chroma = Path(sys.executable).with_name("chroma")
        self.process = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("chroma run did not start")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait(30)
            self.process = None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield server
    server.stop()


@contextmanager
def served_in_thread(api):
    """A fake server (async start/stop) on its own event loop in a thread, for synchronous callers."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
    try:
        yield loop
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def ask_bot_process(command: list[str], env: dict[str, str], question: str, chat: int = 7,
                    cwd: Path | None = None, timeout: float = 180) -> tuple[FakeBotApi, int, str, str]:
    """Run `citebot telegram` (`command`) against a fresh fake Bot API, ask `question` in the private
    chat of user `chat` (allowed), wait for the reply, then stop it with SIGTERM. Returns the API
    and the process's exit code, stdout and stderr."""
    api = FakeBotApi()
    with served_in_thread(api) as loop:
        env = {**env, "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_BOT_TOKEN": api.token,
               "CITEBOT_ALLOWED_USERS": str(chat)}
        bot = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            asyncio.run_coroutine_threadsafe(api.message(chat, chat, question), loop).result(10)
            deadline = time.monotonic() + timeout
            while not api.sent(chat) and time.monotonic() < deadline and bot.poll() is None:
                time.sleep(0.2)
        finally:
            bot.terminate()
            out, err = bot.communicate(timeout=60)
    return api, bot.returncode, out, err


@pytest.fixture()
def redis_url(tmp_path: Path):
    """A real redis-server (Debian's package) on 127.0.0.1 for one test; skipped where it is missing."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    import redis

    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(30)
