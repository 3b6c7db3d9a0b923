"""compose.yaml, the Dockerfile and .dockerignore are wired the way the README says."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT


def test_compose_wires_the_bot_to_a_healthy_chroma_server():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    chroma, bot = compose["services"]["chroma"], compose["services"]["bot"]
    assert chroma["image"].startswith("chromadb/chroma:")
    assert any(v.endswith(":/data") and v.split(":")[0] in compose["volumes"] for v in chroma["volumes"])
    assert "/api/v2/heartbeat" in " ".join(chroma["healthcheck"]["test"])
    assert bot["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert bot["depends_on"] == {"chroma": {"condition": "service_healthy"}}
    env = bot["environment"]
    assert env["CHROMA_HOST"] == "chroma" and env["CHROMA_PORT"] == "8000"
    assert "TELEGRAM_BOT_TOKEN" in env and env["CITEBOT_SOURCES_DIR"] == "/sources"
    # Uploads go to a named volume by default, never into the repository's seeds/.
    assert "${CITEBOT_SOURCES:-sources}:/sources" in bot["volumes"] and "sources" in compose["volumes"]
    command = " ".join(bot["command"])
    assert "citebot index" in command and "exec citebot telegram" in command and "exit" in command
    assert int(bot["stop_grace_period"].rstrip("s")) >= 30


def test_the_workers_profile_puts_webhook_workers_behind_one_proxy_with_redis():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    workers = {name: s for name, s in services.items() if s.get("command") and "citebot telegram" in " ".join(s["command"])}
    assert len(workers) >= 2 and all(s["profiles"] == ["workers"] for n, s in workers.items() if n != "bot")
    names = [s["environment"]["CITEBOT_WORKER"] for s in workers.values()]
    assert len(set(names)) == len(names)  # each replays only its own journal
    for worker in workers.values():
        env = worker["environment"]
        assert env["CITEBOT_WEBHOOK_LISTEN"] == "0.0.0.0" and "CITEBOT_WEBHOOK_SECRET" in env
        assert env["CITEBOT_REDIS_URL"] == "${CITEBOT_REDIS_URL:-}" and "bot-data:/data" in worker["volumes"]
    proxy = services["proxy"]
    assert proxy["profiles"] == ["workers"] and "443:443" in proxy["ports"]
    targets = [proxy["command"][i + 1] for i, word in enumerate(proxy["command"]) if word == "--to"]
    assert sorted(targets) == sorted(f"{name}:8080" for name in workers)
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
    assert services["worker-2"]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_the_bot_does_not_start_when_indexing_fails(tmp_path):
    """The compose command, run by sh with a stand-in `citebot`: exit 3 (skipped files) serves, 1 does not."""
    command = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["bot"]["command"]
    script = command[-1].replace("$$", "$")
    for index_code, serves in ((0, True), (3, True), (1, False), (2, False)):
        fake = tmp_path / "citebot"
        fake.write_text(f'#!/bin/sh\n[ "$1" = index ] && exit {index_code}\necho serving\n')
        fake.chmod(0o755)
        env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
        result = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
        assert ("serving" in result.stdout) is serves, (index_code, result)
        assert result.returncode == (0 if serves else index_code)


def test_the_image_installs_the_package_and_runs_as_a_user_of_its_own():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python:3.11" in dockerfile and "pip install --no-cache-dir ." in dockerfile and "-e ." not in dockerfile
    for folder in ("index", "bot", "prompts", "seeds"):
        assert f"COPY {folder} {folder}" in dockerfile
    user = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user and user[-1] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)


def compose_tool() -> list[str] | None:
    """`docker compose` or `docker-compose`, whichever is installed."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(compose_tool() is None, reason="neither `docker compose` nor docker-compose is installed")
def test_docker_compose_accepts_the_file():
    result = subprocess.run([*compose_tool(), "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
                            capture_output=True, text=True, env={**os.environ, "TELEGRAM_BOT_TOKEN": "x"}, timeout=60)
    assert result.returncode == 0, result.stderr
