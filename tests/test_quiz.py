"""Quiz sessions scripted end to end: CliRunner through stdin, and the session core with fake I/O.

Each test asserts what was printed *and* the rows written to the history database.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmprep.cli import app
from llmprep.history import History, QuestionState
from llmprep.loader import load
from llmprep.quiz import (
    AnswerInput,
    Filters,
    Interrupted,
    LineReader,
    QuizSession,
    filter_questions,
    parse_rating_key,
    select_questions,
    split_answer,
)
from llmprep.render import QuizView, make_console


QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
QB = ["--no-builtin", "--bank", str(QUIZ_BANK)]
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)

RING_EN = "Each GPU talks to its ring neighbours: reduce-scatter, then all-gather. It is bandwidth-optimal."
ZERO_HALF = "Stage 1 shards the optimizer states."


def run(*args, input=None, env=None):
    return CliRunner().invoke(app, [*QB, *args], input=input, catch_exceptions=False, env=env)


def rows(home, sql: str, *params) -> list[dict]:
    db = sqlite3.connect(home / "history.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql, params)]
    finally:
        db.close()


def order_for(seed: int, topic: str = "distributed", count: int = 3) -> list[str]:
    """The ids `quiz --seed` picks on an empty history (the same function the CLI calls)."""
    bank = load([QUIZ_BANK])
    pool = filter_questions(bank, Filters((topic,)))
    return [q.id for q in select_questions(pool, {}, count, random.Random(seed), T0)]


# ---------------------------------------------------------------- the piped session (the example)


def test_piped_two_answers_are_graded_and_stored(clock, llmprep_home):
    """printf 'first answer\\n.\\nsecond answer\\n.\\n' | llmprep quiz --count 2"""
    result = run("quiz", "--count", "2", "--seed", "3", "--lang", "en", input="first answer\n.\nsecond answer\n.\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Quiz · 2 question(s) · seed 3" in out
    assert "Question 1/2" in out and "Question 2/2" in out
    assert "Rated Again (suggested)" in out  # not asked: stdin is not a terminal
    assert "[1-4]" not in out
    assert "Session report" in out and "Total: 0/2 passed · mean 0% · time 0:00" in out
    assert "\x1b[" not in out  # plain output when stdout is not a terminal
    attempts = rows(llmprep_home, "SELECT * FROM attempts ORDER BY id")
    assert [a["answer"] for a in attempts] == ["first answer", "second answer"]
    for a in attempts:
        assert a["draft"] == 0 and a["score"] == 0 and a["passed"] == 0
        assert a["suggested_rating"] == 1 and a["rating"] == 1 and a["override"] is None
        assert a["grader_version"] and a["created_at"] == "2025-01-06T09:00:00Z"
        assert json.loads(a["points"])[0]["text"]  # each point's text is stored with the attempt
    (session,) = rows(llmprep_home, "SELECT * FROM sessions")
    assert session["status"] == "finished" and session["seed"] == 3 and session["mode"] == "quiz"
    assert json.loads(session["planned"]) == [a["question_id"] for a in attempts]


def test_seed_picks_reproducibly_and_topics_filter(clock, llmprep_home):
    expected = order_for(11)
    result = run("quiz", "--topic", "distributed", "--count", "3", "--seed", "11", input="")
    assert result.exit_code == 0
    shown = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("Question ")]
    assert shown == expected[:1]  # EOF at once: only the first question was shown
    (session,) = rows(llmprep_home, "SELECT planned, status FROM sessions")
    assert json.loads(session["planned"]) == expected and session["status"] == "eof"
    assert order_for(11) == expected and len(set(expected)) == 3
    assert {q.split("-")[0] for q in expected} == {"dist"}


def test_full_marks_answer_passes_and_schedules_exactly(clock, llmprep_home):
    result = run("quiz", "--topic", "distributed", "--count", "3", "--seed", "5", "--lang", "en",
                 input=f"{RING_EN}\n.\n{RING_EN}\n.\n{RING_EN}\n.\n")
    assert result.exit_code == 0
    attempts = rows(llmprep_home, "SELECT question_id, score, passed, suggested_rating, rating FROM attempts")
    ring = next(a for a in attempts if a["question_id"] == "dist-ring")
    assert ring["score"] == 1.0 and ring["passed"] == 1 and ring["rating"] == 4  # Easy
    assert "✓ neighbours on a ring" in result.stdout
    assert "matched: neighbours" in result.stdout
    (card,) = rows(llmprep_home, "SELECT * FROM cards WHERE question_id = 'dist-ring'")
    # FSRS, fuzzing off: a new card rated Easy is due after round(initial stability w[3]) = 8 days.
    assert card["due"] == "2025-01-14T09:00:00Z"
    assert json.loads(card["card"])["card_id"] == __import__("llmprep.srs").srs.card_id("dist-ring")


def test_multiline_answer_with_blank_lines_and_eof(clock, llmprep_home):
    answer = "def f(x):\n\n    return x\n\n\nmore after blank lines"
    result = run("quiz", "--count", "1", "--seed", "1", input=answer + "\n")  # ends with EOF, no "."
    assert result.exit_code == 0
    (a,) = rows(llmprep_home, "SELECT answer, draft FROM attempts")
    assert a == {"answer": answer, "draft": 0}
    (s,) = rows(llmprep_home, "SELECT status FROM sessions")
    assert s["status"] == "eof"


def test_dot_with_spaces_submits_and_empty_answer_is_not_graded(clock, llmprep_home):
    result = run("quiz", "--count", "1", "--seed", "1", input="\n.\nreal answer\n  .  \n")
    assert "Empty answer: type something, or :skip." in result.stdout
    assert [a["answer"] for a in rows(llmprep_home, "SELECT answer FROM attempts")] == ["real answer"]


def test_skip_and_quit_keep_a_draft(clock, llmprep_home):
    script = ":skip\n" + "half an answer\nsecond line\n:quit\n"
    result = run("quiz", "--count", "3", "--seed", "2", input=script)
    assert result.exit_code == 0
    out = result.stdout
    assert "Session report  (quit after 0 of 3)" in out
    assert "skipped" in out and "draft" in out
    attempts = rows(llmprep_home, "SELECT question_id, answer, draft, score FROM attempts")
    planned = json.loads(rows(llmprep_home, "SELECT planned FROM sessions")[0]["planned"])
    assert attempts == [{"question_id": planned[1], "answer": "half an answer\nsecond line", "draft": 1, "score": None}]
    assert rows(llmprep_home, "SELECT status FROM sessions")[0]["status"] == "quit"


def test_eof_with_nothing_typed_ends_the_session(clock, llmprep_home):
    result = run("quiz", "--count", "3", "--seed", "2", input="one answer\n.\n")
    assert "Session report  (input ended after 1 of 3)" in result.stdout
    assert len(rows(llmprep_home, "SELECT * FROM attempts")) == 1


def test_time_limit_marks_over_time(clock, llmprep_home):
    clock.step = 100.0  # every answer takes 100 s
    result = run("quiz", "--count", "1", "--seed", "1", "--time-limit", "60", "--lang", "en", input="x\n.\n")
    assert result.exit_code == 0
    assert "Time: 1:40 / 1:00  over time" in result.stdout
    assert "time limit 1:00 per question" in result.stdout
    (a,) = rows(llmprep_home, "SELECT time_taken, time_limit, over_time FROM attempts")
    assert a == {"time_taken": 100.0, "time_limit": 60.0, "over_time": 1}


def test_chinese_session(clock, llmprep_home):
    answer = "每个 GPU 只和环上相邻的节点通信，先 reduce-scatter 再 all-gather，带宽最优。"
    result = run("quiz", "--topic", "distributed", "--count", "3", "--seed", "5", "--lang", "zh",
                 input=f"{answer}\n.\n:quit\n")
    out = result.stdout
    assert "第 1/3 题" in out and "本次练习报告" in out
    assert "合计：" in out
    (a,) = rows(llmprep_home, "SELECT answer, question_id, score FROM attempts")
    assert a["answer"] == answer
    if a["question_id"] == "dist-ring":
        assert a["score"] == 1.0 and "✓ 环上相邻节点通信" in out


def test_edit_command_uses_the_editor(clock, llmprep_home, tmp_path):
    script = tmp_path / "ed.py"
    script.write_text("import sys\np = sys.argv[1]\nold = open(p).read()\nopen(p, 'w').write(old + 'added by editor\\n')\n")
    result = run("quiz", "--count", "1", "--seed", "1", input="typed\n:edit\nafter\n.\n",
                 env={"VISUAL": f"{sys.executable} {script}", "EDITOR": ""})
    assert result.exit_code == 0
    (a,) = rows(llmprep_home, "SELECT answer FROM attempts")
    assert a["answer"] == "typed\nadded by editor\nafter"


def test_edit_without_an_editor_says_so(clock, llmprep_home):
    result = run("quiz", "--count", "1", "--seed", "1", input="typed\n:edit\n.\n", env={"VISUAL": "", "EDITOR": ""})
    assert "Set $VISUAL or $EDITOR to use :edit." in result.stdout
    assert rows(llmprep_home, "SELECT answer FROM attempts")[0]["answer"] == "typed"


def test_ctrl_c_exits_130_after_the_report_and_keeps_the_draft(clock, llmprep_home, monkeypatch):
    calls = {"n": 0}
    real = LineReader.read_answer

    def read_answer(self, default="", started=None, time_limit=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Interrupted("unfinished 答案")
        return real(self, default, started, time_limit)

    monkeypatch.setattr(LineReader, "read_answer", read_answer)
    result = run("quiz", "--count", "3", "--seed", "4", "--lang", "en", input="first\n.\n")
    assert result.exit_code == 130
    assert "Session report  (interrupted after 1 of 3)" in result.stdout
    assert "Every graded answer is saved" in result.stdout
    assert "interrupted" in result.stderr
    attempts = rows(llmprep_home, "SELECT answer, draft FROM attempts ORDER BY id")
    assert attempts == [{"answer": "first", "draft": 0}, {"answer": "unfinished 答案", "draft": 1}]
    assert rows(llmprep_home, "SELECT status FROM sessions")[0]["status"] == "interrupted"


def test_no_question_matches(clock):
    result = CliRunner().invoke(app, [*QB, "quiz", "--topic", "inference", "--kind", "coding"], input="")
    assert result.exit_code == 1 and "no question matches" in result.stderr
    result = CliRunner().invoke(app, [*QB, "quiz", "--topic", "nope"], input="")
    assert result.exit_code == 1 and "unknown topic 'nope'" in result.stderr
    result = CliRunner().invoke(app, [*QB, "quiz", "--kind", "essay"], input="")
    assert result.exit_code == 2


# ---------------------------------------------------------------- selection


def _state(qid, passed, due, score=0.5):
    return QuestionState(qid, 1, score, passed, "2025-01-01T00:00:00Z", due)


def test_selection_order_new_then_weak_or_overdue():
    bank = load([QUIZ_BANK])
    qs = list(bank.questions.values())
    states = {
        "dist-ring": _state("dist-ring", True, "2025-02-01T00:00:00Z"),  # fine, not due
        "dist-zero": _state("dist-zero", False, "2025-01-01T00:00:00Z"),  # weak and overdue
        "dist-pipeline": _state("dist-pipeline", True, "2025-01-02T00:00:00Z"),  # overdue
    }
    picked = [q.id for q in select_questions(qs, states, 5, random.Random(0), T0)]
    assert set(picked[:2]) == {"inf-kv-cache", "code-softmax"}  # never seen
    assert picked[2:] == ["dist-zero", "dist-pipeline", "dist-ring"]
    assert len(set(picked)) == len(picked)
    assert [q.id for q in select_questions(qs, states, 3, random.Random(0), T0)] == picked[:3]


def test_split_answer_and_rating_keys():
    assert split_answer("a\n\nb\n.\n") == AnswerInput("a\n\nb", "submit")
    assert split_answer("a\n:skip") == AnswerInput("a", "skip")
    assert split_answer("a\nb") == AnswerInput("a\nb", "submit")  # Ctrl-D on text
    assert parse_rating_key("", 2).rating == 2
    assert parse_rating_key("4", 1).rating == 4
    d = parse_rating_key("d", 1)
    assert d.dispute and d.rating == 3
    assert parse_rating_key("x", 1) is None


# ---------------------------------------------------------------- the session core with scripted I/O


class ScriptedReader:
    """An interactive reader that plays back answers and rating keys (a list of items each)."""

    interactive = True

    def __init__(self, answers, ratings=()):
        self.answers = list(answers)
        self.ratings = list(ratings)
        self.defaults = []
        self.prompts = []

    def read_answer(self, default="", started=None, time_limit=None):
        self.defaults.append(default)
        item = self.answers.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def read_rating(self, prompt):
        self.prompts.append(prompt)
        item = self.ratings.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


def _session(tmp_path, reader, clock, **kw):
    from llmprep.grading import Grader

    bank = load([QUIZ_BANK])
    history = History(tmp_path / "h.sqlite3")
    out = io.StringIO()
    view = kw.pop("view", None) or QuizView(make_console(file=out), "en", interactive=True)
    session = QuizSession(grader=Grader(bank), history=history, reader=reader, view=view, clock=clock,
                          ask_rating=True, resume_drafts=True, **kw)
    return bank, history, session, out


def test_rating_prompt_keys_and_dispute(tmp_path, clock):
    reader = ScriptedReader(
        [AnswerInput("nothing useful", "submit"), AnswerInput("nothing", "submit"), AnswerInput("nope", "submit")],
        ["d", "x", "2", ""],
    )
    bank, history, session, out = _session(tmp_path, reader, clock)
    qs = [bank.question("dist-ring"), bank.question("dist-zero"), bank.question("dist-pipeline")]
    report = session.run(qs)
    assert reader.prompts[0].endswith("[1-4]: ") and "Enter=Again (suggested)" in reader.prompts[0]
    assert "d I was right" in reader.prompts[0]
    text = out.getvalue()
    assert "Disputed: counted as correct; the automatic grade is kept beside it." in text
    a = history.attempts()
    assert [(x.score, x.passed, x.override, x.rating, x.suggested_rating) for x in a] == [
        (0.0, False, "correct", 3, 1),  # disputed: automatic grade kept, override beside it
        (0.0, False, None, 2, 1),  # "x" ignored, then 2
        (0.0, False, None, 1, 1),  # Enter accepts
    ]
    assert a[0].effective_passed is True
    assert report.passed == 1 and report.items[0].dispute
    # The dispute takes the question out of the wrong-answers queue.
    states = history.question_states()
    assert states["dist-ring"].last_passed is True and states["dist-zero"].last_passed is False


def test_graded_attempt_survives_a_crash_right_after_grading(tmp_path, clock):
    class Boom(QuizView):
        def graded(self, *a, **kw):
            raise RuntimeError("crash while drawing")

    out = io.StringIO()
    reader = ScriptedReader([AnswerInput(RING_EN, "submit")])
    bank, history, session, _ = _session(tmp_path, reader, clock, view=Boom(make_console(file=out), "en"))
    with pytest.raises(RuntimeError):
        session.run([bank.question("dist-ring")])
    db = sqlite3.connect(tmp_path / "h.sqlite3")  # a separate connection sees the committed row
    assert db.execute("SELECT question_id, score, rating FROM attempts").fetchall() == [("dist-ring", 1.0, None)]
    assert db.execute("SELECT status FROM sessions").fetchall() == [("crashed",)]


def test_interrupt_at_rating_keeps_the_attempt_unrated(tmp_path, clock):
    reader = ScriptedReader([AnswerInput(ZERO_HALF, "submit")], [KeyboardInterrupt()])
    bank, history, session, out = _session(tmp_path, reader, clock)
    report = session.run([bank.question("dist-zero"), bank.question("dist-ring")])
    assert report.status == "interrupted"
    assert [(i.question.id, i.status, i.rating) for i in report.items] == [("dist-zero", "answered", None)]
    assert "Session report  (interrupted after 1 of 2)" in out.getvalue()
    (a,) = history.attempts()
    assert a.rating is None and a.score == pytest.approx(1 / 3, abs=1e-3) and not a.draft
    assert history.card("dist-zero") is None
    assert history.question_states()["dist-zero"].due is None  # never rated: counts as due


def test_draft_is_offered_again_in_a_terminal(tmp_path, clock):
    reader = ScriptedReader([Interrupted("my draft")])
    bank, history, session, out = _session(tmp_path, reader, clock)
    session.run([bank.question("dist-zero")])
    assert history.latest_draft("dist-zero") == "my draft"
    reader2 = ScriptedReader([AnswerInput("my draft, finished", "submit")], [""])
    _, history2, session2, out2 = _session(tmp_path, reader2, clock)
    session2.run([bank.question("dist-zero")])
    assert reader2.defaults == ["my draft"]
    assert "Your unfinished draft from last time is filled in." in out2.getvalue()
    assert history2.latest_draft("dist-zero") is None  # the graded attempt is newer


def test_line_reader_interrupt_carries_partial_text():
    class Stream:
        lines = ["one\n", "two\n"]

        def readline(self):
            if self.lines:
                return self.lines.pop(0)
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        LineReader(Stream()).read_answer()
    assert info.value.partial == "one\ntwo"


def test_session_report_by_topic(tmp_path, clock):
    reader = ScriptedReader(
        [AnswerInput(RING_EN, "submit"), AnswerInput("keys and values, reused", "submit"), AnswerInput("", "quit")],
        ["", ""],
    )
    bank, history, session, out = _session(tmp_path, reader, clock)
    report = session.run([bank.question("dist-ring"), bank.question("inf-kv-cache"), bank.question("dist-zero")])
    assert report.status == "quit" and len(report.answered) == 2
    topics = {t.topic: t for t in report.topics()}
    assert topics["distributed"].passed == 1 and topics["inference"].answered == 1
    text = out.getvalue()
    assert "By topic" in text and "distributed" in text and "inference" in text
    assert "Total: 2/2 passed" in text
    d = report.to_dict()
    assert d["answered"] == 2 and d["items"][0]["id"] == "dist-ring"


def test_chinese_text_breaks_between_characters_not_only_at_spaces():
    from rich.cells import cell_len

    from llmprep.render import wrap_cjk

    text = "同步训练：每一步所有节点在屏障处汇合，用 all-reduce 求平均，再执行相同的更新（等价于大批量 SGD）。"
    out = wrap_cjk(text, 20)
    assert out.split("\n") == [
        "同步训练：每一步所有",
        "节点在屏障处汇合，用",
        "all-reduce 求平均，",
        "再执行相同的更新（等",
        "价于大批量 SGD）。",
    ]
    assert out.replace("\n", "") == text.replace("用 all", "用all")  # only the space at a break is dropped
    # hanging indent after a prefix; closing punctuation never starts a line, opening never ends one
    lines = wrap_cjk("组成逻辑环，缓冲切成 N 块，每步与邻居收发一块（环）", 16, first=" ✓ ").split("\n")
    assert lines[0].startswith(" ✓ ") and all(line.startswith("   ") for line in lines[1:])
    assert all(cell_len(line) <= 16 for line in lines)
    assert not any(line.strip()[:1] in "，。）" or line.rstrip().endswith("（") for line in lines)
    # a command such as ":edit" after a space is a word, not closing punctuation
    assert wrap_cjk("命令：:skip 跳过  :quit 结束  :edit 用编辑器", 30).split("\n") == ["命令：:skip 跳过  :quit 结束", ":edit 用编辑器"]
