"""Load and fault run of the Telegram bot against the local fake Bot API server.

    python bench/load.py [--chats 200] [--per-chat 2] [--kill]

200 chats send questions concurrently (bounded: a few per chat, one run); a re-index runs in the
middle; for a while the fake server answers sendMessage with HTTP 502 and flood-control 429s. Every
question must get exactly one reply, the right one for its chat. Reports p50/p95 reply time (from
the question reaching the server to the reply reaching it) and the process's peak RSS.

With --kill, a real `citebot telegram` process gets every question, is killed with SIGKILL once a
third of them are answered, and is started again: every question must still get exactly one reply.

    python bench/load.py --data DIR --docs DIR --questions FILE [--processes 1,2] [--chats 200 --per-chat 2]

Against an existing index (DIR, e.g. 20k chunks of news) with distinct questions (a .jsonl with a
"question" field): each count of `citebot telegram --webhook` worker processes in turn gets the same
burst, posted round robin as a proxy would; the fake Bot API runs in this process, apart from the
workers. A reply is right when it is in its place among the chat's replies and starts as the answer
a separate engine gave the same conversation beforehand. Reports answers/s, p50/p95 reply time and each worker's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proc import peak_rss_mb  # noqa: E402

from citebot import Engine, Settings  # noqa: E402
from citebot.bot.telegram.app import TelegramBot  # noqa: E402
from citebot.bot.telegram.settings import TelegramSettings  # noqa: E402
from tests.conftest import served_in_thread  # noqa: E402
from tests.fake_telegram import FakeBotApi  # noqa: E402
from tests.test_telegram import QUESTIONS as SEED_QUESTIONS  # noqa: E402
from tests.test_workers import SECRET, Worker  # noqa: E402

QUESTIONS = [  # (question, a phrase its right answer contains)
    *SEED_QUESTIONS,
    ("What is indium used for?", "touch screens"),
    ("What is the population of Australia?", "contain an answer"),
]


async def run(chats: int, per_chat: int, engine: Engine, workers: int = 4) -> dict:
    api = FakeBotApi()
    await api.start()
    settings = TelegramSettings(telegram_token=FakeBotApi.token, public=True)
    app = TelegramBot(engine, settings, workers=workers).build(base_url=api.base_url)
    asked: set[int] = set()
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        started = time.perf_counter()
        for round_ in range(per_chat):
            for chat in range(chats):
                question, _ = QUESTIONS[(chat + round_) % len(QUESTIONS)]
                asked.add(5000 + chat)
                await api.message(5000 + chat, 1 + chat, question)
            if round_ == 0:
                # Faults while the first round is answered: 5xx, then flood control.
                body = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
                api.faults["sendMessage"].extend([(502, body)] * 5)
                api.retry_after("sendMessage", 1, times=3)
                reindex = asyncio.create_task(asyncio.to_thread(engine.reindex))
        await api.wait_for(lambda: sum(len(api.sent(c)) for c in asked) >= chats * per_chat, timeout=1200)
        await reindex
        await asyncio.sleep(2)  # any duplicate would arrive now
        total = time.perf_counter() - started
        await app.updater.stop()
        await app.stop()
    wrong, counts, examples = 0, [], []
    for chat in asked:
        texts = api.texts(chat)
        counts.append(len(texts))
        # A chat's questions are answered concurrently, so its replies may come in either order.
        keys = [QUESTIONS[(chat - 5000 + r) % len(QUESTIONS)][1] for r in range(per_chat)]
        best = max((sum(k in t for k, t in zip(order, texts, strict=False)) for order in itertools.permutations(keys)), default=0)
        if best < len(texts):
            wrong += len(texts) - best
            examples.append({"chat": chat, "expected": keys, "got": [t[:80] for t in texts]})
    await api.stop()
    # Reply latency is measured at the fake server, from question pushed to reply received.
    latencies = sorted(api.reply_latencies)
    return {
        "chats": chats, "questions": chats * per_chat, "replies": sum(counts),
        "chats_with_wrong_reply_count": sum(c != per_chat for c in counts), "wrong_answers": wrong,
        "wrong_examples": examples[:3],
        "total_s": total, "p50_reply_s": statistics.median(latencies),
        "p95_reply_s": latencies[round(0.95 * (len(latencies) - 1))],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_killed(chats: int, per_chat: int, engine: Engine) -> dict:
    """kill -9 of a loaded `citebot telegram` process, then a restart: lost and doubled replies."""
    api = FakeBotApi()
    with served_in_thread(api) as loop:
        env = {**os.environ, "CITEBOT_DATA_DIR": str(engine.settings.data_dir), "CITEBOT_PUBLIC": "1",
               "CITEBOT_SOURCES_DIR": str(engine.settings.sources), "TELEGRAM_API_BASE_URL": api.base_url,
               "TELEGRAM_BOT_TOKEN": api.token}
        questions = chats * per_chat

        def serve_until(enough: int) -> tuple[subprocess.Popen, float]:
            started = time.perf_counter()
            bot = subprocess.Popen([sys.executable, "-m", "citebot.bot", "telegram"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while len(api.sent()) < enough and bot.poll() is None and time.perf_counter() - started < 1800:
                time.sleep(0.05)
            return bot, time.perf_counter() - started

        for round_ in range(per_chat):
            for chat in range(chats):
                question, _ = QUESTIONS[(chat + round_) % len(QUESTIONS)]
                asyncio.run_coroutine_threadsafe(api.message(5000 + chat, 1 + chat, question), loop).result(10)
        bot, before_kill = serve_until(questions // 3)
        bot.kill()
        bot.wait()
        answered_at_kill = len(api.sent())
        bot, after_restart = serve_until(questions)
        time.sleep(2)  # any duplicate would arrive now
        bot.terminate()
        bot.wait(60)
        counts = [len(api.sent(5000 + chat)) for chat in range(chats)]
    return {"questions": questions, "answered_before_kill": answered_at_kill, "replies": sum(counts),
            "lost": sum(max(0, per_chat - c) for c in counts), "doubled": sum(max(0, c - per_chat) for c in counts),
            "s_until_kill": round(before_kill, 1), "s_restart_to_all_answered": round(after_restart, 1),
            "exit_code_after_sigterm": bot.returncode}


def expected_starts(data: Path, docs: Path, asked: dict[int, list[str]]) -> dict[tuple[int, int], str]:
    """The start of each chat's n-th answer (HTML-escaped, as the bot sends it), from an engine of
    its own asked the same conversation in turn (its sentence-vector cache is not the workers')."""
    import html

    from citebot import one_line

    engine = Engine(Settings.load(data_dir=data, sources_dir=docs))
    expected = {}
    for chat, questions in asked.items():
        turns = []
        for n, question in enumerate(questions):
            answer = engine.ask(question, turns)
            turns.append(answer.turn())
            expected[(chat, n)] = html.escape(one_line(answer.text)[:40], quote=False)
    return expected


def run_processes(chats: int, per_chat: int, data: Path, docs: Path, questions: list[str], processes: int) -> dict:
    """The burst, posted round robin to `processes` webhook workers on the same index."""
    first = int(time.time() * 1000)  # chats new to the data folder's chat state: no history
    asked: dict[int, list[str]] = {}
    for round_ in range(per_chat):
        for chat in range(chats):
            asked.setdefault(first + chat, []).append(questions[(chat * per_chat + round_) % len(questions)])
    expected = expected_starts(data, docs, asked)
    api = FakeBotApi()
    with served_in_thread(api) as loop:
        env = {**os.environ, "CITEBOT_DATA_DIR": str(data), "CITEBOT_SOURCES_DIR": str(docs), "CITEBOT_PUBLIC": "1", "CITEBOT_WEBHOOK_SECRET": SECRET,
               "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_BOT_TOKEN": api.token}
        workers = [Worker(env, f"load{n}").start() for n in range(processes)]
        try:
            api.route = [w.url for w in workers]
            started = time.perf_counter()
            for round_ in range(per_chat):
                for chat, chat_questions in asked.items():
                    asyncio.run_coroutine_threadsafe(api.message(chat, chat, chat_questions[round_]), loop).result(10)
            asyncio.run_coroutine_threadsafe(api.wait_for(lambda: len(api.sent()) >= chats * per_chat, timeout=1800),
                                             loop).result(1900)
            total = time.perf_counter() - started
            time.sleep(2)  # any duplicate would arrive now
            rss = [peak_rss_mb(w.process.pid) for w in workers if w.process]
        finally:
            for worker in workers:
                worker.stop()
    counts = [len(api.sent(chat)) for chat in asked]
    # A chat's replies come in the order of its questions (also across workers).
    misses = [(expected[(chat, n)], api.texts(chat)) for chat, qs in asked.items() for n in range(len(qs))
              if n >= len(api.texts(chat)) or expected[(chat, n)] not in api.texts(chat)[n]]
    latencies = sorted(api.reply_latencies)
    return {"processes": processes, "questions": chats * per_chat, "distinct_questions": len(set(questions)),
            "replies": sum(counts), "chats_with_wrong_reply_count": sum(c != per_chat for c in counts),
            "wrong_answers": len(misses), "wrong_examples": [(e, [t[:80] for t in got]) for e, got in misses[:2]],
            "total_s": round(total, 1), "answers_per_s": round(chats * per_chat / total, 1),
            "p50_reply_s": round(statistics.median(latencies), 1),
            "p95_reply_s": round(latencies[round(0.95 * (len(latencies) - 1))], 1),
            "peak_rss_mb_each": [round(r) for r in rss]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--per-chat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="questions answered at once")
    parser.add_argument("--kill", action="store_true", help="SIGKILL a real bot process mid-load, then restart it")
    parser.add_argument("--data", type=Path, help="an existing index to load (with --questions)")
    parser.add_argument("--docs", type=Path, help="the sources folder of --data")
    parser.add_argument("--questions", type=Path, help="a .jsonl of questions (\"question\" field)")
    parser.add_argument("--processes", default="1,2", help="webhook worker counts to run in turn (with --data)")
    args = parser.parse_args()
    if args.data:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()]
        for processes in [int(p) for p in args.processes.split(",")]:
            print(json.dumps(run_processes(args.chats, args.per_chat, args.data, args.docs, questions, processes)), flush=True)
        return
    with tempfile.TemporaryDirectory() as scratch:
        docs = Path(scratch) / "docs"
        shutil.copytree(ROOT / "seeds", docs)
        engine = Engine(Settings.load(data_dir=Path(scratch) / "data", sources_dir=docs))
        engine.reindex()
        (docs / "late.md").write_text("# Late\n\nA document added while the bot is under load.\n")
        if args.kill:
            print(json.dumps(run_killed(args.chats, args.per_chat, engine), indent=1))
        else:
            print(json.dumps(asyncio.run(run(args.chats, args.per_chat, engine, args.workers)), indent=1))


if __name__ == "__main__":
    main()
