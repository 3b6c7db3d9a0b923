"""Several `citebot telegram --webhook` workers behind one URL: one Chroma server, chat state in a
real Redis, updates posted by the fake Bot API the way Telegram posts them."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SEEDS, free_port, served_in_thread
from tests.fake_telegram import BOT_USER, FakeBotApi

SECRET = "s3cret-webhook_token"
USER = 42


class Worker:
    """One `citebot telegram --webhook` process on its own port."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.env, self.name, self.port = env, name, free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "citebot.bot", "telegram", "--webhook", self.url, "--port", str(self.port),
             "--worker", self.name], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while self.post(None, None) is None:  # not listening yet (a GET is answered 405 once it is)
            assert self.process.poll() is None, self.process.communicate()[1]
            assert time.monotonic() < deadline, "the worker did not start listening"
            time.sleep(0.2)
        return self

    def post(self, update: dict | None, secret: str | None) -> int | None:
        """The HTTP status the worker answers a posted update (or a GET) with; None when nothing listens."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(self.url, None if update is None else json.dumps(update).encode(), headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    def stop(self) -> str:
        assert self.process is not None
        self.process.terminate()
        return self.process.communicate(timeout=60)[1]


@pytest.fixture()
def indexed_on_server(tmp_path: Path, chroma_server) -> dict[str, str]:
    """The seeds indexed into the Chroma server; the environment every worker runs with."""
    env = {**os.environ, "CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_SOURCES_DIR": str(SEEDS),
           "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server.port),
           "CITEBOT_COLLECTION": f"workers{os.getpid()}", "CITEBOT_WEBHOOK_SECRET": SECRET,
           "CITEBOT_ALLOWED_USERS": str(USER)}
    subprocess.run([sys.executable, "-m", "citebot.bot", "index"], env=env, check=True, capture_output=True, timeout=300)
    return env


def test_webhook_workers_share_conversations_and_a_killed_one_loses_nothing(indexed_on_server, redis_url):
    api = FakeBotApi()
    with served_in_thread(api) as loop:
        def run(coroutine):
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result(180)

        # turn_wait: a slow machine may take long to restart a worker; the order must hold meanwhile.
        env = {**indexed_on_server, "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_BOT_TOKEN": api.token,
               "CITEBOT_REDIS_URL": redis_url, "CITEBOT_TURN_WAIT": "150"}
        a, b = Worker(env, "a").start(), Worker(env, "b").start()
        try:
            run(api.wait_for(lambda: api.webhook is not None))
            assert api.webhook["url"] == b.url and api.webhook["secret_token"] == SECRET

            def ask(worker: Worker, chat: int, text: str) -> int:
                """The proxy hands this message to `worker`; returns once the worker has it (200).
                Negative chats are groups, where a reply quotes the message it answers."""
                api.route = worker.url
                if chat < 0:
                    message_id = run(api.message(chat, USER, f"@{BOT_USER['username']} {text}", chat_type="group"))
                else:
                    message_id = run(api.message(chat, USER, text))
                run(api.wait_for(lambda: any(u["message"]["message_id"] == message_id for u in api.delivered)))
                return message_id

            # A request without the secret, or with another, is refused and never answered.
            forged = {"update_id": 1, "message": {"message_id": 1, "date": int(time.time()), "text": "What is indium?",
                                                  "chat": {"id": 70, "type": "private"},
                                                  "from": {"id": USER, "is_bot": False, "first_name": "u"}}}
            assert (a.post(forged, None), a.post(forged, "wrong")) == (403, 403)

            # The follow-up goes to the other worker, which has the first turn from Redis.
            ask(a, 71, "Which country announced export controls on five minerals?")
            run(api.wait_for(lambda: len(api.sent(71)) == 1))
            ask(b, 71, "Why did it do that?")
            run(api.wait_for(lambda: len(api.sent(71)) == 2))
            first, follow_up = api.texts(71)
            assert "Beijing" in first and "tariff" in follow_up.lower()

            # A follow-up reaches b while a is still on its question (held up before answering):
            # b waits for it, then answers in context, after it.
            api.stall("sendChatAction", 3)
            order = [ask(a, -73, "Which country announced export controls on five minerals?"),
                     ask(b, -73, "Why did it do that?")]
            run(api.wait_for(lambda: len(api.sent(-73)) == 2))
            assert [m["reply_parameters"]["message_id"] for m in api.sent(-73)] == order
            assert "tariff" in api.texts(-73)[1].lower()

            # Worker a is killed holding a question it had accepted (200) but not yet answered.
            asked = [ask(a, -72, "What is indium used for?")]
            run(api.wait_for(lambda: len(api.sent(-72)) == 1))
            api.stall("sendMessage", 5, times=1000)
            asked.append(ask(a, -72, "Which five minerals are under export controls?"))
            time.sleep(1.0)
            assert a.process is not None
            a.process.kill()
            a.process.wait(30)
            api.faults["sendMessage"].clear()
            assert len(api.sent(-72)) == 1
            # The conversation goes on at b, which holds the new message until a, restarted, has
            # replayed and answered the one it had accepted.
            asked.append(ask(b, -72, "What is indium used for?"))
            a.start()
            run(api.wait_for(lambda: len(api.sent(-72)) == 3))
            time.sleep(2.0)  # time for a second copy of any reply to show up
        finally:
            errors = a.stop() + b.stop()
    answered = [m["reply_parameters"]["message_id"] for m in api.sent(-72)]
    assert answered == asked, errors  # each question answered, once, in order
    assert not api.sent(70)
    assert "replaying 1 updates" in errors
    assert api.token not in errors and SECRET not in errors


@pytest.mark.parametrize(("options", "variables", "expected"), [
    (["--webhook", "https://bot.example.com/telegram"], {}, "CITEBOT_WEBHOOK_SECRET"),
    (["--webhook", "ftp://bot.example.com/telegram"], {"CITEBOT_WEBHOOK_SECRET": SECRET}, "webhook_url"),
    (["--webhook", "https://bot.example.com/t"], {"CITEBOT_WEBHOOK_SECRET": "has spaces"}, "CITEBOT_WEBHOOK_SECRET"),
    (["--webhook", "https://bot.example.com/t", "--port", "70000"], {"CITEBOT_WEBHOOK_SECRET": SECRET}, "webhook_port"),
])
def test_webhook_settings_are_checked_before_anything_starts(tmp_path, options, variables, expected):
    env = {**os.environ, "CITEBOT_DATA_DIR": str(tmp_path), "TELEGRAM_BOT_TOKEN": "1:x", "CITEBOT_PUBLIC": "1", **variables}
    env.pop("CITEBOT_WEBHOOK_SECRET", None) if not variables else None
    done = subprocess.run([sys.executable, "-m", "citebot.bot", "telegram", *options], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert "has spaces" not in done.stderr  # a secret is not echoed


def test_a_taken_webhook_port_is_one_clear_line(tmp_path):
    api = FakeBotApi()
    with socket.socket() as taken, served_in_thread(api):
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "CITEBOT_DATA_DIR": str(tmp_path), "TELEGRAM_API_BASE_URL": api.base_url,
               "TELEGRAM_BOT_TOKEN": api.token, "CITEBOT_PUBLIC": "1", "CITEBOT_WEBHOOK_SECRET": SECRET}
        done = subprocess.run([sys.executable, "-m", "citebot.bot", "telegram", "--webhook",
                               "https://bot.example.com/t", "--port", str(port)],
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.splitlines()[-1] == \
        f"citebot: cannot listen on 127.0.0.1:{port}: Address already in use", done.stderr
    assert SECRET not in done.stderr and api.token not in done.stderr
