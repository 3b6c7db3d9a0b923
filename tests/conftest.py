"""Shared fixtures: real embedder, real Chroma, the bundled seeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index import Engine, Settings
from index.sources import lines_text

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
