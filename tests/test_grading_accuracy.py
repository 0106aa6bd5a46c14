"""Accuracy floor on the dev split (../shared/eval, when present): the grader must keep agreeing with human
graders. The floors sit a little under today's figures (README, "Grader accuracy"), so a change elsewhere in
text.py / grading.py that costs accuracy turns this red. Needs numpy (test extra), not the bench extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"

# set -> (least Pearson r, least QWK or None); today: mohler .561, ads .539, asap1 .736/.702, asap5 .749/.748
FLOORS = {"mohler": (0.54, None), "ads": (0.52, None), "asap1": (0.71, 0.68), "asap5": (0.73, 0.72)}


@pytest.mark.skipif(not EVAL.is_dir(), reason="../shared/eval is not beside the checkout")
def test_agreement_with_human_graders_does_not_regress():
    pytest.importorskip("numpy")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import accuracy
    finally:
        sys.path.remove(str(ROOT / "bench"))
    files = [EVAL / f"{name}.jsonl" for name in ("mohler", "ads", "asap") if (EVAL / f"{name}.jsonl").is_file()]
    results = {r["set"]: r for r in accuracy.evaluate(files, peers=False, timing=False) if "set" in r}
    for name, (least_r, least_qwk) in FLOORS.items():
        if name not in results:
            continue
        got = results[name]
        assert got["ours"] >= least_r, (name, got)
        if least_qwk is not None:
            assert got["qwk"] >= least_qwk, (name, got)
