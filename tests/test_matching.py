"""The labelled matching set (tests/data/matching_cases.jsonl): does a hand-written keyword earn credit in an
answer? Covers every pitfall of ../shared/docs/grading-notes.md (acronyms inside words, synchronous inside
asynchronous, 同步 in 不同步骤, traditional characters, full-width forms, negation, …). The benchmark
(bench/accuracy.py) prints precision and recall over the same file.

A case with a "limit" key is a known limitation of the matcher, kept in the set so precision/recall stay
honest; it is an expected failure here (strict: fixing it turns the test red until the label is updated).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmprep.grading import match_case

CASES_FILE = Path(__file__).parent / "data" / "matching_cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def _id(case: dict) -> str:
    kw = case["keyword"] if isinstance(case["keyword"], str) else "|".join(case["keyword"])
    return f"{kw}@{case['answer'][:30]}"


def test_the_set_is_large_and_balanced():
    assert len(CASES) >= 100
    assert sum(c["expected"] for c in CASES) >= 40
    assert sum(not c["expected"] for c in CASES) >= 30
    has_cjk = [any("\u4e00" <= ch <= "\u9fff" for ch in c["answer"]) for c in CASES]
    assert sum(has_cjk) >= 30 and len(CASES) - sum(has_cjk) >= 30


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c["limit"])) if c.get("limit") else c
        for c in CASES
    ],
    ids=[_id(c) for c in CASES],
)
def test_case(case):
    got = match_case(case["answer"], case["keyword"], case.get("question", ""))
    assert got == case["expected"], case["note"]
