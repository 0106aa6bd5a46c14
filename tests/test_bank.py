"""The loader: format v1, and every kind of bad bank reported with file, line and id."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from llmprep.bank import load_bank, load_bank_collecting, pick
from llmprep.cli import app
from llmprep.errors import BankError

GOOD_Q = """\
version: 1
questions:
  - id: q-one
    topic: distributed
    kind: concept
    difficulty: 2
    tags: [collectives]
    source: "seed:9"
    prompt: {zh: "什么是环形全归约？", en: "What is ring all-reduce?"}
    answer: {zh: "相邻节点通信。", en: "Neighbours talk."}
    related: [q-two]
  - id: q-two
    topic: training
    kind: coding
    prompt: "Write a loop."
    answer:
      - "for i in range(3): pass"
      - {en: "while True: break"}
    related: [q-one]
"""

GOOD_R = """\
version: 1
rubrics:
  q-one:
    pass: 0.5
    points:
      - id: ring
        weight: 2
        text: {zh: "相邻", en: "neighbours"}
        keywords: [[相邻, neighbour], [环, ring]]
        need: 2
      - id: derived
        text: "bandwidth optimal"
"""


def run(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def test_good_bank_loads_into_dataclasses(make_bank):
    bank = load_bank([make_bank(GOOD_Q, GOOD_R)])
    q = bank.question("q-one")
    assert (q.topic, q.kind, q.difficulty, q.tags, q.source, q.related) == (
        "distributed", "concept", 2, ("collectives",), "seed:9", ("q-two",))
    assert pick(q.prompt, "zh") == "什么是环形全归约？"
    assert pick(q.prompt, "fr") == "什么是环形全归约？"  # falls back to the first language
    two = bank.question("q-two")
    assert two.kind == "coding" and two.difficulty == 2 and len(two.answers) == 2
    r = bank.rubric("q-one")
    assert r.pass_mark == 0.5 and not r.derived
    assert r.points[0].keywords == (("相邻", "neighbour"), ("环", "ring")) and r.points[0].need == 2
    assert r.points[1].keywords == (("bandwidth",), ("optimal",))  # derived from the point's text
    assert bank.rubric("q-two").derived  # no rubric entry: derived from the reference answers


def problems_for(make_bank, questions, rubrics=None):
    _, problems = load_bank_collecting([make_bank(questions, rubrics)])
    return problems


@pytest.mark.parametrize(
    "questions, expected",
    [
        ("version: 1\nquestions:\n  - id: a\n    topic: [unclosed\n", "questions.yaml:5:"),
        ("version: 1\nquestions:\n\t- id: a\n", "questions.yaml:3: tab character"),
        (GOOD_Q.replace("    tags: [collectives]\n", "    tags: [collectives]\n    colour: red\n"),
         "questions.yaml:8: question q-one: unknown key 'colour'"),
        (GOOD_Q.replace("difficulty: 2", 'difficulty: "hard"'),
         "questions.yaml:6: question q-one: 'difficulty' must be an integer in 1..3, got 'hard'"),
        (GOOD_Q.replace("difficulty: 2", "difficulty: 5"), "'difficulty' must be an integer in 1..3, got 5"),
        (GOOD_Q.replace("id: q-two", "id: q-one").replace("related: [q-one]", "related: []"),
         "question q-one: duplicate id (first defined at"),
        (GOOD_Q.replace("id: q-two", "id: Bad Id"), "id 'Bad Id' must use lowercase letters"),
        (GOOD_Q.replace("kind: coding", "kind: essay"), "kind must be one of concept, coding, got 'essay'"),
        (GOOD_Q.replace('prompt: "Write a loop."', 'prompt: ""'), "question q-two: 'prompt' is empty"),
        (GOOD_Q.replace("related: [q-one]", "related: [nowhere]"), "related id 'nowhere' is not in the bank"),
        ("version: 2\nquestions: []\n", "unsupported version 2"),
        ("version: 1\nquestions: []\n", "the bank holds no questions"),
        ("", "expected a mapping with 'version: 1' and 'questions:'"),
        ("version: 1\nquestions:\n  - id: a\n    id: b\n", "questions.yaml:4: duplicate key 'id'"),
    ],
)
def test_bad_questions_are_reported_with_file_and_line(make_bank, questions, expected):
    problems = problems_for(make_bank, questions)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "rubrics, expected",
    [
        (GOOD_R.replace("weight: 2", "weight: -1"), "rubrics.yaml:7: rubric q-one point ring: 'weight' must be a number"),
        (GOOD_R.replace("need: 2", "need: 3"), "point ring: need 3 is larger than its 2 keyword concept(s)"),
        (GOOD_R.replace("q-one:", "q-nine:"), "rubrics.yaml:3: rubric q-nine: no question with this id"),
        (GOOD_R.replace("keywords: [[相邻, neighbour], [环, ring]]", "keywords: []"), "'keywords' must be a non-empty list"),
        (GOOD_R.replace("keywords: [[相邻, neighbour], [环, ring]]", 'keywords: [[""]]'), "each keyword must be a non-empty string"),
        (GOOD_R.replace('text: "bandwidth optimal"', 'text: ""'), "point derived: 'text' is empty"),
        (GOOD_R.replace("    pass: 0.5\n", "    pass: 0.5\n    bonus: 1\n"), "rubric q-one: unknown key 'bonus'"),
        (GOOD_R.replace("pass: 0.5", "pass: high"), "'pass' must be a number in 0..1"),
        (GOOD_R.replace("- id: derived", "- id: ring"), "duplicate point id 'ring'"),
    ],
)
def test_bad_rubrics_are_reported(make_bank, rubrics, expected):
    problems = problems_for(make_bank, GOOD_Q, rubrics)
    assert any(expected in p for p in problems), problems


def test_python_tags_are_never_executed(make_bank, tmp_path):
    marker = tmp_path / "pwned"
    evil = GOOD_Q.replace('prompt: "Write a loop."', f'prompt: !!python/object/apply:os.system ["touch {marker}"]')
    problems = problems_for(make_bank, evil)
    assert not marker.exists()
    assert any("questions.yaml:15:" in p and "python/object/apply" in p for p in problems), problems


def test_non_utf8_file_names_the_line(make_bank):
    data = GOOD_Q.encode("utf-8").replace("Write a loop.".encode(), b"Write \xff loop.")
    problems = problems_for(make_bank, data)
    offset = data.index(bytes([0xFF]))
    assert len(problems) == 1
    assert problems[0].endswith(f"questions.yaml:15: not valid UTF-8 (byte {offset}); save the file as UTF-8")


def test_binary_file(make_bank):
    problems = problems_for(make_bank, b"version: 1\x00\x01\x02")
    assert any("NUL byte" in p for p in problems)


def test_duplicate_ids_across_two_banks(make_bank):
    a = make_bank(GOOD_Q, name="a")
    b = make_bank(GOOD_Q, name="b")
    with pytest.raises(BankError) as exc:
        load_bank([a, b])
    assert "b/questions.yaml:3: question q-one: duplicate id (first defined at" in str(exc.value)
    assert "a/questions.yaml:3)" in str(exc.value)


def test_missing_bank_dir(tmp_path):
    _, problems = load_bank_collecting([tmp_path / "nope"])
    assert problems == [f"{tmp_path / 'nope'}: bank directory not found"]


def test_cli_reports_a_bad_bank_in_one_line_with_exit_1(make_bank):
    bank = make_bank(GOOD_Q.replace("difficulty: 2", 'difficulty: "hard"'))
    result = run("--no-builtin", "--bank", str(bank), "list")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmprep: error: ") and "questions.yaml:6: question q-one" in lines[0]
    assert "Traceback" not in result.output


def test_validate_lists_every_problem(make_bank):
    bank = make_bank(
        GOOD_Q.replace("difficulty: 2", 'difficulty: "hard"'), GOOD_R.replace("weight: 2", "weight: -1")
    )
    result = run("--no-builtin", "--bank", str(bank), "validate")
    assert result.exit_code == 1
    assert "'difficulty' must be an integer" in result.stdout and "'weight' must be a number" in result.stdout
    assert "2 problem(s) in 2 question(s)" in result.stderr


def test_bank_env_var_adds_banks(make_bank, monkeypatch):
    monkeypatch.setenv("LLMPREP_BANK", str(make_bank(GOOD_Q)))
    result = run("--no-builtin", "list", "--json")
    assert result.exit_code == 0
    import json

    assert [q["id"] for q in json.loads(result.stdout)] == ["q-one", "q-two"]
