"""`citebot eval` on the dev set, and the scoring rules on their own."""

from __future__ import annotations

import json

from citebot.evaluate import is_correct, normalise
from citebot.models import Answer
from tests.conftest import DEV_QA
from tests.test_cli import citebot, data_dir  # noqa: F401  (the module-scoped seed index)


def test_scoring_rules():
    answer = Answer("q", "Beijing put “tungsten”, tellurium and 4.4 million tons... under control.", True)
    assert is_correct(answer, {"keys": [["Tungsten"], ["tellurium", "xenon"]]})
    assert not is_correct(answer, {"keys": [["tungsten"], ["bismuth"]]})
    assert is_correct(answer, {"answer": "4.4 million", "choices": ["4.4 million", "5 million"]})
    assert not is_correct(answer, {"answer": "tungsten", "choices": ["tungsten", "tellurium"]})
    assert normalise("20,000 “Squid Game”.") == "20,000 squid game"


def test_eval_command_on_the_dev_set(data_dir):  # noqa: F811
    result = citebot(data_dir, "eval", "--json", str(DEV_QA))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["rows"] == 18 and len(report["rows"]) == 18
    assert summary["quotes_verbatim"] == 1.0 and summary["refusal_rate"] == 1.0
    assert summary["false_refusals"] == 0.0 and summary["accuracy"] >= 16 / 16 - 1 / 16
    assert summary["cited_source_hit"] == 1.0 and summary["p95_ms"] >= summary["p50_ms"] > 0
    table = citebot(data_dir, "eval", str(DEV_QA))
    assert "accuracy" in table.stdout and "quotes_verbatim" in table.stdout
