"""bench/accuracy.py works on any file in the eval format (not only ../shared/eval), through the real loader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench():
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import accuracy

        yield accuracy
    finally:
        sys.path.remove(str(ROOT / "bench"))


def _rows():
    q = {"set": "tiny", "qid": "Q 1/a", "lang": "en", "question": "Why does ring all-reduce scale?",
         "references": ["Each GPU sends only to its neighbour, so per-GPU traffic stays constant."], "max_score": 5}
    zh = {"set": "tinyzh", "qid": "z1", "lang": "zh", "question": "什么是梯度累积？",
          "references": ["把多个小批次的梯度相加后再更新参数，用来模拟大批次。"], "max_score": 10}
    ke = {"set": "tinyke", "qid": "k1", "lang": "en", "question": "Name what to record.", "references": [],
          "key_elements": ["You need to know how much vinegar was used.", "You need to know the size of the container."],
          "count_to_score": [[2, 2], [1, 1], [0, 0]], "max_score": 2}
    rows = []
    for ans, s in [("Each GPU sends only to its neighbour, traffic per GPU stays constant.", 5),
                   ("GPUs talk to neighbours.", 3), ("I like turtles.", 0)]:
        rows.append(dict(q, answer=ans, score=s))
    for ans, s in [("把多个小批次的梯度相加再更新参数", 10), ("梯度相加", 5), ("我喜欢乌龟", 0)]:
        rows.append(dict(zh, answer=ans, score=s))
    for ans, s in [("how much vinegar and how big the container is", 2), ("the amount of vinegar", 1), ("nothing", 0)]:
        rows.append(dict(ke, answer=ans, score=s))
    return rows


def test_any_file_of_the_format(bench, tmp_path, capsys):
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in _rows()) + "\n", encoding="utf-8")
    results = bench.evaluate([path], timing=False)
    sets = {r["set"]: r for r in results if "set" in r}
    assert set(sets) == {"tiny", "tinyzh", "tinyke"}
    assert sets["tiny"]["ours"] > 0.9 and sets["tinyzh"]["ours"] > 0.9
    assert sets["tinyke"]["qwk"] == pytest.approx(1.0)
    assert bench.main([str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["matching"]["precision"] > 0.9 and out["speed"]["rate"] > 0


def test_written_bank_loads_through_the_real_loader(bench, tmp_path):
    from llmprep.bank import load_bank

    ids = bench.write_bank(_rows(), tmp_path / "bank")
    bank = load_bank([tmp_path / "bank"])
    assert set(bank.questions) == set(ids.values())
    assert bank.rubrics[ids["Q 1/a"]].derived  # no hand-written rubric: the auto-rubric
    assert [p.keywords for p in bank.rubrics[ids["k1"]].points]  # keywords derived from the prose
    assert not bank.rubrics[ids["k1"]].derived
