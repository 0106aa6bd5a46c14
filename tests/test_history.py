"""The history database: migrations from blank and from an older schema, WAL, laziness, refusing
corrupt or newer files without touching them, commits that another connection sees at once, and
the `history` / `regrade` commands."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmprep.cli import app
from llmprep.errors import HistoryError
from llmprep.history import MIGRATIONS, SCHEMA_VERSION, History

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
QB = ["--no-builtin", "--bank", str(QUIZ_BANK)]
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
GRADE = {"score": 0.5, "passed": False, "pass": 0.6, "points": [{"id": "p1", "score": 0.5}]}


def run(*args, input=None):
    return CliRunner().invoke(app, [*QB, *args], input=input, catch_exceptions=False)


def _record(h: History, qid="dist-ring", answer="an answer", **kw) -> int:
    args = dict(session_id=None, question_id=qid, answer=answer, grade=GRADE, grader_version="1", suggested_rating=1,
                started_at=T0, created_at=T0, time_taken=3.5)
    args.update(kw)
    return h.record_attempt(**args)


def test_migrates_a_blank_database(tmp_path):
    path = tmp_path / "h.sqlite3"
    h = History(path)
    assert not path.exists()  # nothing happens before first use
    assert h.migrations() == [name for name, _ in MIGRATIONS]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"migrations", "sessions", "attempts", "cards"} <= tables
    cols = {r[1] for r in db.execute("PRAGMA table_info(attempts)")}
    assert {"question_id", "answer", "score", "points", "suggested_rating", "rating", "override", "time_taken",
            "over_time", "session_id", "created_at", "grader_version", "draft", "regrade_score"} <= cols
    assert h.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    h.close()
    assert History(path).migrations() == [name for name, _ in MIGRATIONS]  # re-opening applies nothing


def test_migrates_an_older_schema_and_keeps_its_rows(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    name, statements = MIGRATIONS[0]
    for stmt in statements:
        db.execute(stmt)
    db.execute("INSERT INTO migrations VALUES (?, '2024-01-01T00:00:00Z')", (name,))
    db.execute("INSERT INTO attempts (question_id, answer, score, passed, created_at) VALUES ('dist-ring', 'old', 1, 1, 'x')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    h = History(path)
    assert h.migrations() == [n for n, _ in MIGRATIONS]
    (a,) = h.attempts()
    assert a.answer == "old" and a.regrade_score is None
    assert h.question_states()["dist-ring"].last_passed is True


def test_every_attempt_is_committed_at_once(tmp_path):
    path = tmp_path / "h.sqlite3"
    h = History(path)
    attempt = _record(h, answer="答案")
    other = sqlite3.connect(path)  # another process would see it now, even if this one died
    assert other.execute("SELECT answer, score FROM attempts WHERE id = ?", (attempt,)).fetchone() == ("答案", 0.5)
    h.rate(attempt, 3, T0, override=True, card='{"card_id": 1}', due=T0)
    assert other.execute("SELECT rating, override FROM attempts").fetchone() == (3, "correct")
    assert other.execute("SELECT question_id, due FROM cards").fetchone() == ("dist-ring", "2025-01-06T09:00:00Z")


def test_corrupt_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "history.sqlite3"
    junk = b"this is not sqlite\x00" * 300
    path.write_bytes(junk)
    with pytest.raises(HistoryError) as info:
        History(path).attempts()
    msg = str(info.value)
    assert str(path) in msg and "move it aside" in msg and "backup" in msg
    assert path.read_bytes() == junk


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "h.sqlite3"
    h = History(path)
    h.migrations()
    h.close()  # the last connection to close checkpoints the WAL: the file is complete and stable now
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match=r"newer llmprep \(schema 99, this llmprep knows 3\); upgrade"):
        History(path).attempts()
    assert path.read_bytes() == before


def test_someone_elses_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="not an llmprep history"):
        History(path).attempts()
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]


def test_read_only_commands_create_nothing(llmprep_home):
    result = run("history", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert run("stats", "--json").exit_code == 0
    assert run("review", "--due", "--list").exit_code == 0
    assert not (llmprep_home / "history.sqlite3").exists()


def test_import_opens_nothing(tmp_path):
    code = "import llmprep.cli, llmprep.history, llmprep.quiz, sys; print('prompt_toolkit' in sys.modules, 'fsrs' in sys.modules)"
    env = {"LLMPREP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False False"
    assert not (tmp_path / "home").exists()


def test_corrupt_database_is_one_line_error_in_the_cli(llmprep_home):
    llmprep_home.mkdir()
    (llmprep_home / "history.sqlite3").write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(app, [*QB, "quiz", "--count", "1"], input="x\n.\n")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("llmprep: error: ") and "history.sqlite3" in line


# ---------------------------------------------------------------- history / regrade commands


def test_history_lists_attempts_and_one_questions_answers(clock, llmprep_home):
    run("quiz", "--topic", "distributed", "--count", "3", "--seed", "1",
        input="first line\nsecond line\n.\nother\n.\nunfinished\n:quit\n")
    result = run("history")
    assert result.exit_code == 0
    assert "3 attempt(s)" in result.stdout and "2025-01-06 09:00" in result.stdout and "draft" in result.stdout
    data = json.loads(run("history", "--json").stdout)
    assert [d["answer"] for d in data] == ["first line\nsecond line", "other", "unfinished"]
    assert [d["draft"] for d in data] == [False, False, True]
    draft = run("history", data[2]["question_id"], "--lang", "zh")
    assert "草稿" in draft.stdout and "    unfinished" in draft.stdout and "1 次作答" in draft.stdout
    assert set(data[0]) >= {"question_id", "score", "points", "rating", "suggested_rating", "override", "time_taken",
                            "grader_version", "created_at", "regrade", "draft", "session_id"}
    qid = data[0]["question_id"]
    detail = run("history", qid)
    assert "    first line" in detail.stdout and "    second line" in detail.stdout
    assert "1 attempt(s)" in detail.stdout
    assert CliRunner().invoke(app, [*QB, "history", "no-such-q"]).exit_code == 1


def test_regrade_keeps_the_original_score(clock, llmprep_home):
    run("quiz", "--topic", "distributed", "--count", "1", "--seed", "1", input="x\n.\n")
    db = sqlite3.connect(llmprep_home / "history.sqlite3")
    # Pretend an old grader scored this answer 0.9 (a pass); the current one gives it 0.
    db.execute("UPDATE attempts SET score = 0.9, passed = 1, grader_version = '0'")
    db.commit()
    result = run("regrade")
    assert result.exit_code == 0
    assert "regraded 1 attempt(s)" in result.stdout and "1 changed" in result.stdout
    assert "90%" in result.stdout and "pass → fail" in result.stdout
    row = db.execute("SELECT score, passed, grader_version, regrade_score, regrade_passed, regrade_version FROM attempts").fetchone()
    assert row[:3] == (0.9, 1, "0") and row[3:5] == (0.0, 0) and row[5]
    again = json.loads(run("regrade", "--json").stdout)
    assert again["regraded"] == 1 and again["changes"] == []  # nothing changed since the last regrade
    hist = json.loads(run("history", "--json").stdout)[0]
    assert hist["score"] == 0.9 and hist["regrade"]["score"] == 0.0 and hist["effective_passed"] is False


def test_history_is_keyed_by_question_id_so_edits_keep_it(clock, llmprep_home, make_bank):
    bank = make_bank(
        """\
        version: 1
        questions:
          - id: q1
            topic: t
            kind: concept
            prompt: "Old wording?"
            answer: "Gradients are averaged with all-reduce."
        """
    )
    args = ["--no-builtin", "--bank", str(bank)]
    CliRunner().invoke(app, [*args, "quiz", "--count", "1"], input="no idea\n.\n", catch_exceptions=False)
    text = (bank / "questions.yaml").read_text().replace("Old wording?", "New, clearer wording?")
    (bank / "questions.yaml").write_text(text)
    listed = json.loads(CliRunner().invoke(app, [*args, "review", "--wrong", "--list", "--json"]).stdout)
    assert [r["id"] for r in listed] == ["q1"]
    detail = CliRunner().invoke(app, [*args, "history", "q1"]).stdout
    assert "New, clearer wording?" in detail and "    no idea" in detail
