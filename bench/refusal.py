"""Refusal precision and recall on the seeds corpus.

    python bench/refusal.py

Should refuse: the dev set's `refuse` rows plus every RealTime QA question (news from other weeks,
asked against the two seed articles). Should answer: the dev set's other rows.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from citebot import Engine, Settings  # noqa: E402

SHARED = ROOT.parent / "shared"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    dev = load(SHARED / "eval" / "dev_qa.jsonl")
    unrelated = load(SHARED / "benchmarks" / "realtimeqa" / "questions.jsonl")
    cases = [(row, row["kind"] == "refuse") for row in dev] + [(row, True) for row in unrelated]
    with tempfile.TemporaryDirectory() as data:
        engine = Engine(Settings.load(data_dir=Path(data), sources_dir=ROOT / "seeds"))
        engine.reindex()
        outcomes = [(not engine.ask(row["question"], row.get("history") or []).answerable, should)
                    for row, should in cases]
    refused = [should for did, should in outcomes if did]
    should_refuse = [did for did, should in outcomes if should]
    print(json.dumps({
        "questions": len(cases), "should_refuse": len(should_refuse),
        "refusal_precision": sum(refused) / len(refused) if refused else None,
        "refusal_recall": sum(should_refuse) / len(should_refuse),
        "answerable_answered": sum(not did for did, should in outcomes if not should) / sum(not s for _, s in outcomes),
    }, indent=1))


if __name__ == "__main__":
    main()
