"""The real python-telegram-bot Application against a local fake Bot API server."""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from citebot import Engine, Settings
from citebot.bot.telegram.access import REFUSAL, AccessGuard
from citebot.bot.telegram.app import FAILED, UNAVAILABLE, TelegramBot
from citebot.bot.telegram.delivery import DRAFT_MARK
from citebot.bot.telegram.format import LIMIT, answer_blocks, cut_text, split_messages, utf16_len
from citebot.bot.telegram.settings import TelegramSettings
from citebot.intake import safe_filename
from citebot.models import Answer, Citation
from tests.conftest import SEEDS, ask_bot_process, served_in_thread
from tests.fake_telegram import BOT_USER, FakeBotApi

ADMIN, USER, STRANGER = 1, 2, 666


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("telegram")
    shutil.copytree(SEEDS, root / "docs")
    engine = Engine(Settings.load(data_dir=root / "data", sources_dir=root / "docs"))
    engine.reindex()
    return engine


SETTINGS = TelegramSettings(telegram_token=FakeBotApi.token, allowed_users=tuple(range(1, 300)), admins=(ADMIN,),
                            max_upload_bytes=10_000, telegram_timeout=5)


def run_with_bot(engine: Engine, scenario, settings: TelegramSettings = SETTINGS) -> FakeBotApi:
    """Start the fake API and the bot (long polling), run `scenario(api)`, stop both."""
    api = FakeBotApi()

    async def main() -> None:
        await api.start()
        app = TelegramBot(engine, settings).build(base_url=api.base_url)
        async with app:
            await app.post_init(app)  # what run_polling does before polling
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                await scenario(api)
            finally:
                await app.updater.stop()
                await app.stop()
        await api.stop()

    asyncio.run(main())
    return api


def replies(api: FakeBotApi, chat: int, n: int):
    return lambda: len(api.sent(chat)) >= n


def test_cited_answer_and_commands_registered(engine):
    async def scenario(api):
        await api.message(10, USER, "Which five minerals did Beijing put under export controls?")
        await api.wait_for(replies(api, 10, 1))

    api = run_with_bot(engine, scenario)
    (reply,) = api.sent(10)
    assert reply["parse_mode"] == "HTML"
    text = reply["text"]
    assert "tungsten" in text and "molybdenum" in text and "[1]" in text
    assert "<code>000_9a5dfcf5d4d692d9.txt</code>, lines 49–53" in text and "<blockquote>" in text
    assert any(c.method == "sendChatAction" and c.params["action"] == "typing" for c in api.calls)
    (commands,) = [c.params["commands"] for c in api.calls if c.method == "setMyCommands"]
    assert {c["command"] for c in commands} == {"start", "help", "sources", "reindex", "reset", "gaps", "stats"}


def test_refusal_is_plain(engine):
    async def scenario(api):
        await api.message(11, USER, "What is the population of Australia?")
        await api.wait_for(replies(api, 11, 1))

    (text,) = run_with_bot(engine, scenario).texts(11)
    assert "don" in text and "contain an answer" in text and "<blockquote>" not in text


def test_follow_ups_are_per_chat_and_reset(engine):
    async def scenario(api):
        await api.message(20, USER, "Which country announced export controls on five minerals?")
        await api.wait_for(replies(api, 20, 1))
        await api.message(20, USER, "Why did it do that?")
        await api.message(21, USER + 1, "Why did it do that?")
        await api.wait_for(lambda: len(api.sent(20)) >= 2 and len(api.sent(21)) >= 1)
        await api.message(20, USER, "/reset")
        await api.wait_for(replies(api, 20, 3))
        await api.message(20, USER, "Why did it do that?")
        await api.wait_for(replies(api, 20, 4))

    api = run_with_bot(engine, scenario)
    chat_a, chat_b = api.texts(20), api.texts(21)
    assert "Beijing" in chat_a[0] and "tariff" in chat_a[1].lower()
    assert "tariff" not in chat_b[0].lower()
    assert "forgot" in chat_a[2] and "tariff" not in chat_a[3].lower()


def test_stranger_gets_one_polite_refusal_and_nothing_else(engine):
    async def scenario(api):
        await api.message(30, STRANGER, "What is indium used for?")
        await api.wait_for(replies(api, 30, 1))
        await api.message(30, STRANGER, "/sources")
        await api.message(30, STRANGER, "Which five minerals?")
        await api.press(30, STRANGER, "quotes:anything")
        await api.push({"channel_post": {"message_id": 9, "date": int(time.time()), "text": "/sources",
                                         "chat": {"id": -100999, "type": "channel", "title": "c"}}})
        await api.wait_for(lambda: any(c.method == "answerCallbackQuery" for c in api.calls))
        await asyncio.sleep(1.0)  # time for any (wrong) further reply to arrive

    api = run_with_bot(engine, scenario)
    assert api.texts(30) == [html.escape(REFUSAL, quote=False)]
    (callback,) = [c.params for c in api.calls if c.method == "answerCallbackQuery"]
    assert callback["text"] == REFUSAL
    assert not any(".txt" in str(c.params) for c in api.calls)
    assert not api.sent(-100999)  # a channel post gets nothing


@pytest.mark.parametrize(("allowed", "expected"), [
    ({"admins": (ADMIN,)}, {ADMIN}),  # only admins set: strangers are not let in
    ({"allowed_users": (USER,), "admins": (ADMIN,)}, {ADMIN, USER}),
    ({"allowed_chats": (-100,)}, {"chat"}),
    ({"public": True}, {ADMIN, USER, STRANGER, "chat"}),
])
def test_access_fails_closed(engine, allowed, expected):
    from types import SimpleNamespace

    guard = AccessGuard(replace(SETTINGS, **{"allowed_users": (), "admins": (), **allowed}))
    private = {who: SimpleNamespace(effective_user=SimpleNamespace(id=who), effective_chat=SimpleNamespace(id=who))
               for who in (ADMIN, USER, STRANGER)}
    group = SimpleNamespace(effective_user=SimpleNamespace(id=STRANGER), effective_chat=SimpleNamespace(id=-100))
    admitted = {who for who, update in private.items() if guard.is_allowed(update)}
    admitted |= {"chat"} if guard.is_allowed(group) else set()
    assert admitted == expected


def test_only_admins_reindex_and_upload(engine):
    async def scenario(api):
        await api.message(40, USER, "/reindex")
        await api.upload(40, USER, "notes.md", b"# Notes\n\nSomething.\n")
        await api.wait_for(replies(api, 40, 2))
        await api.message(41, ADMIN, "/reindex")
        await api.wait_for(replies(api, 41, 2))

    api = run_with_bot(engine, scenario)
    assert sorted(api.texts(40)) == ["Only admins can add documents.", "Only admins can re-index the documents."]
    assert api.texts(41)[0] == "Re-indexing…" and "0 added, 0 changed, 0 removed" in api.texts(41)[1]
    assert not (engine.settings.sources_dir / "notes.md").exists()


def test_admin_upload_makes_a_new_fact_answerable(engine):
    docs = engine.settings.sources_dir
    outside = docs.parent / "escaped.md"
    fact = b"# Zinc report\n\nThe zinc mine of Quxville produced 42 tonnes of ore every day in 2024.\n"

    async def scenario(api):
        await api.upload(50, ADMIN, "../escaped.md", fact)
        await api.wait_for(replies(api, 50, 1))
        await api.upload(50, ADMIN, "escaped.md", b"# Other\n\nA second file with the same name.\n")
        await api.wait_for(replies(api, 50, 2))
        await api.message(50, ADMIN, "How many tonnes of ore did the Quxville zinc mine produce every day?")
        await api.wait_for(replies(api, 50, 3))

    api = run_with_bot(engine, scenario)
    added, renamed, answer = api.texts(50)
    assert added.startswith("Added escaped.md.") and "1 added" in added
    assert "saved it as escaped-2.md" in renamed
    assert "42 tonnes" in answer and "<code>escaped.md</code>" in answer
    assert not outside.exists() and (docs / "escaped.md").read_bytes() == fact
    assert not list(docs.glob(".upload-*"))  # no half-written file left behind
    for name in ("escaped.md", "escaped-2.md"):
        (docs / name).unlink()
    engine.reindex()


def test_uploads_sent_together_are_queued_and_all_indexed(engine):
    """Ten admins' uploads at once: each is acknowledged and indexed, none told "unavailable"."""
    docs = engine.settings.sources_dir
    chats = list(range(70, 80))
    settings = replace(SETTINGS, admins=tuple(chats))

    async def scenario(api):
        for chat in chats:
            await api.upload(chat, chat, f"batch{chat}.md", f"# Batch\n\nCrate {chat} holds {chat} bolts.\n".encode())
        await api.wait_for(lambda: all(any(t.startswith("Added") for t in api.texts(c)) for c in chats))

    api = run_with_bot(engine, scenario, settings)
    texts = [t for chat in chats for t in api.texts(chat)]
    assert not any("unavailable" in t for t in texts)
    assert sum(t.startswith(f"Added batch{c}.md.") for c in chats for t in api.texts(c)) == len(chats)
    indexed = {s.source for s in engine.sources()}
    assert {f"batch{c}.md" for c in chats} <= indexed
    for chat in chats:
        (docs / f"batch{chat}.md").unlink()
    engine.reindex()


def test_bad_uploads_are_refused_and_nothing_is_saved(engine):
    docs = engine.settings.sources_dir
    before = sorted(p.name for p in docs.iterdir())

    async def scenario(api):
        await api.upload(60, ADMIN, "big.md", b"x" * 20_000)
        await api.upload(60, ADMIN, "liar.md", b"y " * 10_000, declared_size=10)
        await api.upload(60, ADMIN, "tool.exe", b"MZ")
        await api.upload(60, ADMIN, "empty.txt", b"   \n")
        await api.wait_for(replies(api, 60, 4))

    texts = run_with_bot(engine, scenario).texts(60)
    assert sum("over the 10,000-byte limit" in t for t in texts) == 2
    assert any("could not index tool.exe" in t and "Nothing was added" in t for t in texts)
    assert any("could not index empty.txt" in t and "Nothing was added" in t for t in texts)
    assert sorted(p.name for p in docs.iterdir()) == before


def test_sources_and_feedback_buttons_and_forged_data(engine):
    """Under an answer: 👍, 👎 and Sources. A 👎 makes the question a gap; forged or foreign
    button data (another chat's answer, an unknown id, a bad value) changes nothing."""
    question = "What is indium used for?"

    async def scenario(api):
        await api.message(70, USER, question)
        await api.wait_for(replies(api, 70, 1))
        buttons = {b["text"]: b["callback_data"] for b in api.sent(70)[0]["reply_markup"]["inline_keyboard"][0]}
        assert list(buttons) == ["👍", "👎", "Sources"]
        await api.press(70, USER, buttons["Sources"])
        await api.wait_for(replies(api, 70, 2))
        answer_id = buttons["👎"].split(":")[1]
        for chat, data in ((70, "quotes:forged-key"), (71, buttons["👎"]), (70, "fb:99999999:0"),
                           (70, f"fb:{answer_id}:7"), (70, "fb:x:0"), (70, buttons["👎"])):
            await api.press(chat, USER, data)
        await api.wait_for(lambda: sum(c.method == "answerCallbackQuery" for c in api.calls) >= 6)

    api = run_with_bot(engine, scenario)
    short, full = api.texts(70)
    assert "…" in short and "semiconductors" in full and "…" not in full
    answers = [c.params.get("text") for c in api.calls if c.method == "answerCallbackQuery"]
    assert answers.count("This button has expired.") == 4 and answers[-1] == "Thanks for the feedback."
    assert "This button has expired; ask again." in answers
    gap = next(g for g in engine.gaps() if g.question == question)
    assert gap.unhelpful == 1 and gap.refused == 0


def test_admins_see_gaps_and_stats_others_do_not(engine):
    async def scenario(api):
        for text in ("How tall is the Zugspitze?", "What is the height of the Zugspitze?",
                     "Who won the 1998 football world cup?"):
            await api.message(90, USER, text)
        await api.wait_for(replies(api, 90, 3))
        await api.message(90, USER, "/gaps")
        await api.message(91, ADMIN, "/gaps")
        await api.message(91, ADMIN, "/stats")
        await api.wait_for(lambda: len(api.sent(90)) >= 4 and len(api.sent(91)) >= 2)

    api = run_with_bot(engine, scenario)
    assert api.texts(90)[3] == "Only admins can see the gaps."
    gaps, stats = api.texts(91)
    lines = gaps.split("\n")
    assert lines[:2] == ["<b>Questions the documents did not answer</b>", ""]
    assert "2× What is the height of the Zugspitze? (2 refused; last " in gaps  # one gap, two wordings
    assert "1× Who won the 1998 football world cup? (1 refused; last " in gaps
    assert re.fullmatch(r"Since .*: \d+ questions, \d+ refused, \d+ 👍, \d+ 👎; p50 \d+ ms, p95 \d+ ms\.", stats)


def test_groups_answer_only_when_addressed(engine):
    async def scenario(api):
        await api.message(-80, USER, "What is indium used for?", chat_type="group")
        await api.message(-80, USER, f"@{BOT_USER['username']} What is indium used for?", chat_type="group")
        await api.wait_for(replies(api, -80, 1))
        bot_message = {"message_id": 5, "date": int(time.time()), "chat": {"id": -80, "type": "group"}, "from": BOT_USER, "text": "x"}
        await api.message(-80, USER, "Who did Donald Trump speak with by phone?", chat_type="group", reply_to=bot_message)
        await api.wait_for(replies(api, -80, 2))
        await asyncio.sleep(0.5)

    texts = run_with_bot(engine, scenario).texts(-80)
    assert len(texts) == 2 and "touch screens" in texts[0] and "Putin" in texts[1]


def test_retry_after_then_delivered_once(engine):
    async def scenario(api):
        api.retry_after("sendMessage", 1)
        await api.message(90, USER, "Which US Treasury Secretary travelled to Kyiv to propose the minerals deal?")
        await api.wait_for(replies(api, 90, 1))
        await asyncio.sleep(0.5)

    texts = run_with_bot(engine, scenario).texts(90)
    assert len(texts) == 1 and "Bessent" in texts[0]


QUESTIONS = [
    ("Which US Treasury Secretary travelled to Kyiv to propose the minerals deal?", "Bessent"),
    ("How large are China's rare earth reserves according to the article?", "4.4 million"),
    ("How many mineral deposits does Ukraine have?", "20,000"),
    ("What did Trump call Zelenskyy on Truth Social?", "dictator"),
    ("Which five minerals did Beijing put under export controls?", "tellurium"),
]


def test_fifty_chats_at_once_each_get_their_own_answer(engine):
    chats = {1000 + i: QUESTIONS[i % len(QUESTIONS)] for i in range(50)}
    timing = {}

    async def scenario(api):
        started = time.perf_counter()
        for chat, (question, _) in chats.items():
            await api.message(chat, 100 + chat % 100, question)
        await api.wait_for(lambda: all(api.sent(chat) for chat in chats), timeout=600)
        timing["seconds"] = time.perf_counter() - started
        await asyncio.sleep(0.5)

    api = run_with_bot(engine, scenario)
    for chat, (_, key) in chats.items():
        texts = api.texts(chat)
        assert len(texts) == 1 and key in texts[0], (chat, texts)
    print(f"\n50 concurrent chats answered in {timing['seconds']:.1f}s")


class _TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag

    def handle_data(self, data):
        self.text.append(data)


def test_a_ten_thousand_character_answer_is_split_on_boundaries():
    sentence = "Emoji 😀 & <tags> stay text, and every sentence ends here. "
    long_text = sentence * (10_000 // len(sentence) + 1)
    quote = "A quote with <b>markup</b> & an ampersand. " * 40
    answer = Answer("q", long_text, True, [Citation("a<b>.md", 1, 3, quote), Citation("b.md", 4, 4, "short")])
    blocks, shortened = answer_blocks(answer)
    messages = split_messages(blocks)
    assert shortened and len(messages) >= 3
    plain = []
    for message in messages:
        assert utf16_len(message) <= LIMIT
        parser = _TagBalance()
        parser.feed(message)
        parser.close()
        assert parser.stack == []
        plain.append("".join(parser.text))
    assert "".join(plain).startswith(long_text[:100]) and long_text.replace(" ", "") in "".join(plain).replace(" ", "").replace("\n", "")
    assert "a&lt;b&gt;.md" in "".join(messages)  # document names are escaped too
    # The long text is cut at sentence ends, and the parts add up to it exactly.
    parts = cut_text(long_text, LIMIT)
    assert "".join(parts) == long_text and len(parts) >= 3
    assert all(part.endswith("here. ") for part in parts)
    assert messages[0] == html.escape(parts[0], quote=False)


@pytest.mark.parametrize("raw,expected", [
    ("../../x.md", "x.md"), ("..\\..\\evil.TXT", "evil.txt"), (".hidden.md", "hidden.md"),
    ("a/b/c d.md", "c d.md"), ("we<i>rd>.md", "we_i_rd_.md"), (None, "upload"), ("....", "upload"),
])
def test_upload_names_are_sanitised(raw, expected):
    assert safe_filename(raw) == expected


def test_an_upload_name_long_in_bytes_is_cut_to_fit_the_file_system(tmp_path):
    name = safe_filename("\U0001d400" * 100 + ".md")  # 400 bytes of 4-byte letters
    assert name.endswith(".md") and len(name.encode()) <= 200
    (tmp_path / name).write_text("fits")


def test_citebot_telegram_process_exit_codes_and_no_token_in_logs(engine):
    api = FakeBotApi()
    with served_in_thread(api):
        _check_exit_codes(engine, api)


def _check_exit_codes(engine, api):
    env = {**os.environ, "CITEBOT_DATA_DIR": str(engine.settings.data_dir), "TELEGRAM_API_BASE_URL": api.base_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    missing = subprocess.run([sys.executable, "-m", "citebot.bot", "telegram"], env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "TELEGRAM_BOT_TOKEN" in missing.stderr
    for name in ("CITEBOT_ALLOWED_USERS", "CITEBOT_ALLOWED_CHATS", "CITEBOT_ADMINS", "CITEBOT_PUBLIC"):
        env.pop(name, None)
    nobody = subprocess.run([sys.executable, "-m", "citebot.bot", "telegram"], env={**env, "TELEGRAM_BOT_TOKEN": api.token},
                            capture_output=True, text=True, timeout=120)
    assert nobody.returncode == 2 and nobody.stderr.count("\n") == 1 and "CITEBOT_PUBLIC=1" in nobody.stderr
    typo = subprocess.run([sys.executable, "-m", "citebot.bot", "telegram"], capture_output=True, text=True, timeout=120,
                          env={**env, "TELEGRAM_BOT_TOKEN": api.token, "CITEBOT_ALLOWED_USERS": "1000, @alice"})
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1, typo.stderr
    assert "CITEBOT_ALLOWED_USERS" in typo.stderr and "@alice" in typo.stderr
    env["CITEBOT_ADMINS"] = "1"
    wrong = "999:WRONG-SECRET-TOKEN"
    rejected = subprocess.run([sys.executable, "-m", "citebot.bot", "telegram"], env={**env, "TELEGRAM_BOT_TOKEN": wrong},
                              capture_output=True, text=True, timeout=120)
    assert rejected.returncode == 2 and "rejected the bot token" in rejected.stderr
    assert wrong not in rejected.stderr + rejected.stdout and "WRONG-SECRET" not in rejected.stderr


def test_citebot_telegram_process_answers_and_stops_cleanly(engine):
    """`citebot telegram` as deployed: run_polling, a real answer, SIGTERM, no token in the logs."""
    env = {**os.environ, "CITEBOT_DATA_DIR": str(engine.settings.data_dir),
           "CITEBOT_SOURCES_DIR": str(engine.settings.sources_dir)}
    api, code, out, err = ask_bot_process([sys.executable, "-m", "citebot.bot", "telegram"], env,
                                          "What is indium used for?")
    assert api.sent(7) and "touch screens" in api.texts(7)[0], err
    assert code == 0, err
    assert api.token not in out + err and "TEST-TOKEN" not in err
    assert "Application started" in err


def ask_llm_bot(tmp_path, chat: int, scenario_faults: dict | None = None) -> FakeBotApi:
    """USER asks the bot in LLM mode (the fake OpenAI server streams a scripted answer) in `chat`;
    returns the fake Bot API once a checked (HTML) answer was sent or edited in."""
    from tests.fake_llm import FakeOpenAI
    from tests.test_llm_mode import scripted

    shutil.copytree(SEEDS, tmp_path / "docs")
    model = FakeOpenAI(scripted, delay=0.25)
    with served_in_thread(model):
        settings = Settings.load(data_dir=tmp_path / "data", sources_dir=tmp_path / "docs",
                                 llm="openai-compatible",
                                 llm_base_url=model.base_url, llm_model="fake")
        engine = Engine(settings)
        engine.reindex()

        async def scenario(api):
            for method, faults in (scenario_faults or {}).items():
                api.faults[method].extend(faults)
            await api.message(chat, USER, "Which five minerals did Beijing put under export controls?")
            await api.wait_for(lambda: any(c.params.get("parse_mode") == "HTML" for c in api.calls
                                           if c.method in ("sendMessage", "editMessageText")))

        return run_with_bot(engine, scenario)


def test_llm_answers_stream_into_one_edited_message(tmp_path):
    api = ask_llm_bot(tmp_path, 95)
    (draft,) = api.sent(95)  # one message, then edits
    assert "parse_mode" not in draft and draft["text"].endswith("…")
    assert draft["text"].startswith(DRAFT_MARK + "Beijing") and "is_disabled" in str(draft["link_preview_options"])
    edits = [c.params for c in api.calls if c.method == "editMessageText"]
    final = edits[-1]
    assert len(edits) >= 2 and final["parse_mode"] == "HTML"
    assert "molybdenum" in final["text"] and "Mars" not in final["text"] and "<blockquote>" in final["text"]


def test_when_the_draft_cannot_be_replaced_the_checked_answer_is_sent_anew(tmp_path):
    refused = {"ok": False, "error_code": 400, "description": "Bad Request: message can't be edited"}
    api = ask_llm_bot(tmp_path, 96, {"editMessageText": [(400, refused)] * 100})
    draft, checked = api.sent(96)
    assert draft["text"].startswith(DRAFT_MARK) and "parse_mode" not in draft
    assert checked["parse_mode"] == "HTML" and "molybdenum" in checked["text"] and "<blockquote>" in checked["text"]


HOSTILE = [
    "   ",
    "\u200b\u200d\u200b",
    "x" * 10_000,
    "What\x00 is\x07 indium\x1b[31m used for?",
    "\u202eWhat is indium used for?\u202c",
    "😀😀😀",
    "<b>What</b> is <a href='http://evil'>indium</a> used for? </blockquote>&amp;",
    "**What** is _indium_ used for? `code` [link](http://x)",
    "Для чего используется индий?",
    "/sources extra bogus args",
    "/reindex ../../etc",
    "/reset now please",
]


def test_hostile_input_gets_one_clear_reply_each(engine, caplog):
    async def scenario(api):
        for text in HOSTILE:
            await api.message(120, USER, text)
        await api.wait_for(lambda: len(api.sent(120)) >= len(HOSTILE), timeout=300)
        await asyncio.sleep(1.0)

    with caplog.at_level("ERROR"):
        api = run_with_bot(engine, scenario)
    texts = api.texts(120)
    assert len(texts) == len(HOSTILE)  # exactly one reply each, nothing crashed
    assert sum("The question is empty" in t for t in texts) == 2
    assert "Only admins can re-index the documents." in texts
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]
    for text in texts:  # every reply is well-formed Telegram HTML
        parser = _TagBalance()
        parser.feed(text)
        parser.close()
        assert parser.stack == [] and len(text) <= 4096
    assert not any("<a href" in t or "</blockquote>&amp;" in t for t in texts)


def test_timeouts_and_server_errors_are_retried_and_delivered_once(engine):
    async def scenario(api):
        api.stall("sendMessage", 6.5)  # longer than the client's read timeout (5 s here)
        body = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        api.faults["sendMessage"].extend([(502, body)] * 2)
        await api.message(130, USER, "How many mineral deposits does Ukraine have?")
        await api.wait_for(replies(api, 130, 1), timeout=120)
        await asyncio.sleep(1.0)

    texts = run_with_bot(engine, scenario).texts(130)
    assert len(texts) == 1 and "20,000" in texts[0]


def test_a_chroma_outage_gets_a_polite_reply_and_the_bot_recovers(tmp_path):
    from tests.conftest import ChromaServer

    shutil.copytree(SEEDS, tmp_path / "docs")
    server = ChromaServer(tmp_path / "chroma").start()
    try:
        engine = Engine(Settings.load(data_dir=tmp_path / "data", sources_dir=tmp_path / "docs",
                                      chroma_host="127.0.0.1",
                                      chroma_port=server.port))
        engine.reindex()

        async def scenario(api):
            await api.message(140, USER, "What is indium used for?")
            await api.wait_for(replies(api, 140, 1))
            await asyncio.to_thread(server.stop)
            await api.message(140, USER, "What is indium used for?")
            await api.wait_for(replies(api, 140, 2))
            await asyncio.to_thread(server.start)
            await api.message(140, USER, "What is indium used for?")
            await api.wait_for(replies(api, 140, 3))

        texts = run_with_bot(engine, scenario).texts(140)
    finally:
        server.stop()
    assert "touch screens" in texts[0] and "temporarily unavailable" in texts[1] and "touch screens" in texts[2]


def test_one_chat_is_answered_in_order_and_a_quick_follow_up_sees_its_question(engine):
    """Messages of one chat run one after another (other chats in parallel): a follow-up sent
    right after its question is answered with that question's turn in the history."""
    asked = [("Which country announced export controls on five minerals?", "beijing"),
             ("Why did it do that?", "tariff"),
             ("What is indium used for?", "touch screens"),
             ("Which US Treasury Secretary travelled to Kyiv to propose the minerals deal?", "bessent")]

    async def scenario(api):
        for question, _ in asked:
            await api.message(150, USER, question)
        await api.message(151, USER, "What is indium used for?")
        await api.wait_for(lambda: len(api.sent(150)) >= len(asked) and api.sent(151))

    api = run_with_bot(engine, scenario)
    texts = [t.lower() for t in api.texts(150)]
    assert len(texts) == len(asked)
    for text, (_, expected) in zip(texts, asked, strict=True):
        assert expected in text, (expected, text)


def test_a_killed_bot_answers_every_question_exactly_once_after_a_restart(engine):
    """kill -9 while questions are fetched (so confirmed to Telegram) but not yet answered: the
    restarted bot replays them from its journal, and none is answered twice."""
    chats = list(range(500, 540))
    api = FakeBotApi()
    with served_in_thread(api) as loop:
        env = {**os.environ, "CITEBOT_DATA_DIR": str(engine.settings.data_dir), "TELEGRAM_API_BASE_URL": api.base_url,
               "TELEGRAM_BOT_TOKEN": api.token, "CITEBOT_SOURCES_DIR": str(engine.settings.sources_dir),
               "CITEBOT_ALLOWED_USERS": ",".join(map(str, chats))}

        def run_bot_until(done, timeout: float = 180) -> subprocess.Popen:
            bot = subprocess.Popen([sys.executable, "-m", "citebot.bot", "telegram"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline and bot.poll() is None:
                time.sleep(0.05)
            return bot

        for n, chat in enumerate(chats):
            asyncio.run_coroutine_threadsafe(api.message(chat, chat, QUESTIONS[n % len(QUESTIONS)][0]), loop).result(10)
        bot = run_bot_until(lambda: len(api.sent()) >= 3)
        # Hold the replies still on their way, so that the kill falls between questions fetched and
        # their replies sent (the case this is about), not inside a delivery: a reply the server
        # accepted in the instant of the kill is sent again after the restart (at least once).
        api.stall("sendMessage", 5, times=1000)
        time.sleep(1.0)
        bot.kill()
        bot.wait(30)
        answered_before_the_kill = len(api.sent())
        assert answered_before_the_kill < len(chats)  # work was left undone (else this test shows nothing)
        api.faults["sendMessage"].clear()
        bot = run_bot_until(lambda: all(api.sent(chat) for chat in chats))
        bot.terminate()
        _, err = bot.communicate(timeout=60)
    assert [len(api.sent(chat)) for chat in chats] == [1] * len(chats), err
    assert "replaying" in err


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_a_follow_up_goes_on_in_another_worker(engine, store, request):
    """The first question is answered by one worker, the follow-up by another (a restart, or a
    second process behind a webhook): the conversation is in the shared chat state, not in memory."""
    settings = replace(SETTINGS, redis_url=request.getfixturevalue("redis_url") if store == "redis" else "")
    chat = 610 if store == "sqlite" else 620

    async def first(api):
        await api.message(chat, USER, "Which country announced export controls on five minerals?")
        await api.wait_for(replies(api, chat, 1))

    async def follow_up(api):
        await api.message(chat, USER, "Why did it do that?")
        await api.wait_for(replies(api, chat, 1))

    assert "Beijing" in run_with_bot(engine, first, settings).texts(chat)[0]
    assert "tariff" in run_with_bot(engine, follow_up, settings).texts(chat)[0].lower()


def test_an_unreachable_chat_state_store_gets_a_polite_reply(engine):
    """Redis down (nothing listens on its port): one "temporarily unavailable" reply, no silence."""
    from tests.conftest import free_port

    settings = replace(SETTINGS, redis_url=f"redis://127.0.0.1:{free_port()}/0")

    async def scenario(api):
        await api.message(630, USER, "What is indium used for?")
        await api.message(630, USER, "/reset")
        await api.wait_for(replies(api, 630, 2))

    assert run_with_bot(engine, scenario, settings).texts(630) == [UNAVAILABLE, UNAVAILABLE]


def test_an_unexpected_failure_is_reported_and_the_next_question_answered(engine, monkeypatch):
    """A bug in answering one question (here: the engine raising KeyError) gets a one-line reply
    instead of silence, and the chat goes on."""
    real_ask = Engine.ask

    def ask(self, question, *args, **kwargs):
        if "tungsten" in question:
            raise KeyError("a bug")
        return real_ask(self, question, *args, **kwargs)

    monkeypatch.setattr(Engine, "ask", ask)

    async def scenario(api):
        await api.message(640, USER, "What is tungsten used for?")
        await api.wait_for(replies(api, 640, 1))
        await api.message(640, USER, "What is indium used for?")
        await api.wait_for(replies(api, 640, 2))

    texts = run_with_bot(engine, scenario).texts(640)
    assert texts[0] == FAILED and "touch screens" in texts[1]
