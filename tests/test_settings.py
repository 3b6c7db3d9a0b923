"""Settings say what is wrong: every bad value, file or variable is one line naming it, the value
and what is allowed (exit 2 from the CLI); unknown keys and variables are warned about."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from citebot import Settings, SettingsError, unknown_settings
from citebot.bot.telegram.settings import TelegramSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("CITEBOT_", "CHROMA_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no citebot.toml of the developer's


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("CITEBOT_TOP_K", "abc", "CITEBOT_TOP_K = 'abc' is not a whole number"),
    ("CITEBOT_TOP_K", "0", "CITEBOT_TOP_K = '0' is not allowed: use 1 or more"),
    ("CITEBOT_TOP_K", "-3", "CITEBOT_TOP_K = '-3' is not allowed: use 1 or more"),
    ("CITEBOT_REFUSAL_THRESHOLD", "nan", "CITEBOT_REFUSAL_THRESHOLD = 'nan' is not allowed: use 0 or more"),
    ("CHROMA_PORT", "70000", "CHROMA_PORT = '70000' is not allowed: use from 1 to 65535"),
    ("CITEBOT_LLM", "foo", "CITEBOT_LLM = 'foo' is not allowed: use one of '', 'openai-compatible', 'ollama'"),
    ("CITEBOT_EMBEDDER", "/nope", "CITEBOT_EMBEDDER = '/nope' is not allowed: use 'minilm-int8' or a folder"),
    ("CITEBOT_CONFIG", "/missing.toml", "CITEBOT_CONFIG = '/missing.toml': no such file"),
])
def test_a_bad_variable_names_itself_its_value_and_what_is_allowed(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        Settings.load()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize(("content", "message"), [
    (b'[citebot]\ntop_k = "lots"\n', "top_k in citebot.toml = 'lots' is not a whole number"),
    (b"[citebot]\ntop_k = 2.5\n", "top_k in citebot.toml = 2.5 is not a whole number"),
    (b"[citebot]\nrecent_days = true\n", "recent_days in citebot.toml = True is not a whole number"),
    (b"[citebot]\ndata_dir = 3\n", "data_dir in citebot.toml = 3 is not a path"),
    (b"citebot = 3\n", "citebot.toml: [citebot] must be a table of settings"),
    (b"garbage \x00\x01 = = [\n", "citebot.toml is not a valid TOML file: "),
    (b"\xff\xfe\x00binary", "citebot.toml is not a valid TOML file: "),
])
def test_a_bad_config_file_is_one_line(tmp_path, content, message):
    (tmp_path / "citebot.toml").write_bytes(content)
    with pytest.raises(SettingsError) as error:
        Settings.load()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_values_come_from_file_then_environment_then_overrides(tmp_path, monkeypatch):
    (tmp_path / "citebot.toml").write_text('[citebot]\ntop_k = 3\ncandidates_k = 20\nallowed_users = [1, 2]\n')
    monkeypatch.setenv("CITEBOT_CANDIDATES_K", "30")
    settings = Settings.load(candidates_k=None, answer_sentences=2)
    assert (settings.top_k, settings.candidates_k, settings.answer_sentences) == (3, 30, 2)
    assert settings.sources == settings.data_dir / "sources"  # the default sources folder
    assert TelegramSettings.load().allowed_users == (1, 2)  # the adapter reads the same file
    monkeypatch.setenv("CITEBOT_ADMINS", "1000, @alice")
    with pytest.raises(SettingsError, match=r"^CITEBOT_ADMINS = '1000, @alice' is not a comma-separated list"):
        TelegramSettings.load()


def test_unknown_keys_and_variables_are_named(tmp_path, monkeypatch):
    (tmp_path / "citebot.toml").write_text("[citebot]\ntopk = 3\ntelegram_token = 'x'\n[other]\nx = 1\n")
    monkeypatch.setenv("CITEBOT_TOPK", "3")
    monkeypatch.setenv("CITEBOT_PUBLIC", "1")  # a Telegram setting: known
    assert unknown_settings([Settings, TelegramSettings]) == [
        "[other] in citebot.toml", "topk in [citebot] of citebot.toml", "CITEBOT_TOPK"]
    assert "telegram_token in [citebot] of citebot.toml" in unknown_settings([Settings])


def test_the_cli_exits_2_with_one_line_and_warns_about_typos(tmp_path):
    env = {**os.environ, "CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_LLM": "foo"}
    bad = subprocess.run([sys.executable, "-m", "citebot.bot", "sources"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr == "citebot: CITEBOT_LLM = 'foo' is not allowed: use one of '', 'openai-compatible', 'ollama'\n"
    env = {**env, "CITEBOT_LLM": "", "CITEBOT_TOPK": "3"}
    typo = subprocess.run([sys.executable, "-m", "citebot.bot", "sources"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert typo.returncode == 0 and typo.stdout == "Nothing is indexed yet.\n"
    assert typo.stderr == "citebot: warning: CITEBOT_TOPK is not a setting; ignored\n"
