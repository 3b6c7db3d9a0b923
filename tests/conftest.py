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


def make_engine(data_dir: Path, sources_dir: Path = SEEDS) -> Engine:
    return Engine(Settings.load(data_dir=data_dir, sources_dir=sources_dir))


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


def assert_verbatim(citation, root: Path) -> None:
    """The quote really is in the cited file, within the cited lines."""
    text = lines_text(root / citation.source, citation.start_line, citation.end_line)
    assert citation.quote and citation.quote in text, (citation, text)
    first = lines_text(root / citation.source, citation.start_line, citation.start_line)
    last = lines_text(root / citation.source, citation.end_line, citation.end_line)
    # The range is tight: the quote starts on its first line and ends on its last.
    assert citation.quote.split("\n")[0] in first and citation.quote.split("\n")[-1] in last
