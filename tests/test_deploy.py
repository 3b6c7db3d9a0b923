"""compose.yaml and the Dockerfile are wired the way the README says."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT


def test_compose_wires_the_bot_to_a_chroma_server():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    chroma, bot = compose["services"]["chroma"], compose["services"]["bot"]
    assert chroma["image"].startswith("chromadb/chroma:")
    assert any(v.endswith(":/data") and v.split(":")[0] in compose["volumes"] for v in chroma["volumes"])
    assert bot["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert "chroma" in bot["depends_on"]
    env = bot["environment"]
    assert env["CHROMA_HOST"] == "chroma" and env["CHROMA_PORT"] == "8000"
    assert "TELEGRAM_BOT_TOKEN" in env and env["CITEBOT_SOURCES_DIR"] == "/sources"
    assert any(v.endswith(":/sources") for v in bot["volumes"])
    assert "citebot telegram" in " ".join(bot["command"])


def test_dockerfile_installs_the_project():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python:3.11" in dockerfile and "pip install" in dockerfile
    for folder in ("index", "bot", "prompts", "seeds"):
        assert f"COPY {folder} {folder}" in dockerfile
