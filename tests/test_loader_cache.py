"""The parsed-bank cache: used when the files are unchanged, never stale, never fatal."""

from __future__ import annotations

import sys

from llmprep.loader import load

Q = """\
version: 1
questions:
  - id: q1
    topic: training
    kind: concept
    prompt: "What does warm-up do?"
    answer: "It ramps the learning rate up linearly over the first steps."
"""


def test_cache_is_written_reused_and_invalidated_by_any_byte(make_bank, llmprep_home):
    bank_dir = make_bank(Q)
    first = load([bank_dir])
    cached = list((llmprep_home / "cache").glob("bank-*.pickle"))
    assert len(cached) == 1
    again = load([bank_dir])
    assert again.questions == first.questions
    (bank_dir / "questions.yaml").write_text(Q.replace("What does warm-up do?", "Why warm up?"), encoding="utf-8")
    edited = load([bank_dir])
    assert edited.question("q1").prompt == (("", "Why warm up?"),)
    assert len(list((llmprep_home / "cache").glob("bank-*.pickle"))) == 2


def test_corrupt_cache_falls_back_to_parsing(make_bank, llmprep_home):
    bank_dir = make_bank(Q)
    load([bank_dir])
    (cache,) = (llmprep_home / "cache").glob("bank-*.pickle")
    cache.write_bytes(b"garbage")
    assert load([bank_dir]).question("q1").topic == "training"


def test_cached_load_does_not_import_yaml(make_bank, llmprep_home):
    import subprocess

    bank_dir = make_bank(Q)
    load([bank_dir])
    code = (
        "import sys; from pathlib import Path; from llmprep.loader import load; "
        f"load([Path({str(bank_dir)!r})]); print('yaml' in sys.modules)"
    )
    import os

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "LLMPREP_HOME": str(llmprep_home)}, check=True)
    assert out.stdout.strip() == "False"


def test_unwritable_cache_dir_is_not_an_error(make_bank, llmprep_home):
    llmprep_home.mkdir(parents=True, exist_ok=True)
    (llmprep_home / "cache").write_text("a file where the cache dir should be")
    assert load([make_bank(Q)]).question("q1").kind == "concept"
