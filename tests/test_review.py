"""`review --wrong` / `review --due` and the FSRS scheduling behind them (fuzzing off: exact dates)."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from llmprep.cli import app
from llmprep.loader import load
from llmprep.quiz import Filters, filter_questions, select_questions
from llmprep.srs import AGAIN, EASY, GOOD, HARD, Srs, card_id, suggest_rating

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
QB = ["--no-builtin", "--bank", str(QUIZ_BANK)]
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
RING_EN = "Each GPU talks to its ring neighbours: reduce-scatter, then all-gather. It is bandwidth-optimal."
ZERO_FULL = "Stage 1 shards optimizer states, stage 2 gradients, stage 3 parameters."


def run(*args, input=None):
    return CliRunner().invoke(app, [*QB, *args], input=input, catch_exceptions=False)


def rows(home, sql: str) -> list[tuple]:
    db = sqlite3.connect(home / "history.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _answer_all_distributed(answers: dict[str, str]) -> list[str]:
    """Quiz the 3 distributed questions once, answering each from `answers` (else "no idea")."""
    pool = filter_questions(load([QUIZ_BANK]), Filters(("distributed",)))
    order = [q.id for q in select_questions(pool, {}, 3, random.Random(9), T0)]
    script = "".join(f"{answers.get(qid, 'no idea')}\n.\n" for qid in order)
    run("quiz", "--topic", "distributed", "--count", "3", "--seed", "9", "--lang", "en", input=script)
    return order


# ---------------------------------------------------------------- FSRS


def test_fsrs_due_dates_are_exact_without_fuzzing():
    srs = Srs(fuzzing=False)
    good = srs.review("q", None, GOOD, T0)
    assert good.due == T0 + timedelta(minutes=10)  # second learning step
    again = srs.review("q", None, AGAIN, T0)
    assert again.due == T0 + timedelta(minutes=1)
    easy = srs.review("q", None, EASY, T0)
    assert easy.due == T0 + timedelta(days=8)
    later = srs.review("q", easy.card_json, GOOD, easy.due)
    assert later.due > easy.due + timedelta(days=8)  # a recalled review card's interval grows
    assert json.loads(later.card_json)["card_id"] == card_id("q")


def test_card_id_is_stable_and_distinct():
    assert card_id("dist-ring") == int(hashlib.sha256(b"dist-ring").hexdigest()[:12], 16)
    assert card_id("dist-ring") != card_id("dist-zero")
    assert 0 < card_id("x") < 2**48


def test_suggested_rating():
    assert suggest_rating(0.3, False, 0.6) == AGAIN
    assert suggest_rating(0.62, True, 0.6) == HARD
    assert suggest_rating(0.9, True, 0.6) == GOOD
    assert suggest_rating(1.0, True, 0.6) == EASY
    assert suggest_rating(1.0, True, 0.6, over_time=True) == HARD


# ---------------------------------------------------------------- review --wrong


def test_review_wrong_lists_and_quizzes_the_failed_questions(clock, llmprep_home):
    _answer_all_distributed({"dist-ring": RING_EN})
    listed = json.loads(run("review", "--wrong", "--list", "--json").stdout)
    assert sorted(r["id"] for r in listed) == ["dist-pipeline", "dist-zero"]
    assert set(listed[0]) == {"id", "topic", "last_score", "last_attempted", "due"}
    assert listed[0]["topic"] == "distributed" and listed[0]["last_score"] == 0.0
    assert listed[0]["last_attempted"] == "2025-01-06T09:00:00Z"
    assert listed[0]["due"] == "2025-01-06T09:01:00Z"  # rated Again: one minute
    human = run("review", "--wrong", "--list")
    assert "dist-zero" in human.stdout and "2 question(s)" in human.stdout
    # Quiz the queue: pass dist-zero this time; it leaves the queue, dist-pipeline stays.
    order = [r["id"] for r in listed]
    script = "".join(f"{ZERO_FULL if qid == 'dist-zero' else 'still no idea'}\n.\n" for qid in order)
    clock.advance(minutes=5)
    result = run("review", "--wrong", "--lang", "en", input=script)
    assert result.exit_code == 0 and "Review (wrong answers) · 2 question(s)" in result.stdout
    assert [r["id"] for r in json.loads(run("review", "--wrong", "--list", "--json").stdout)] == ["dist-pipeline"]
    modes = rows(llmprep_home, "SELECT mode FROM sessions ORDER BY id")
    assert modes[-1] == ("review-wrong",)


def test_review_wrong_filters_and_count(clock, llmprep_home):
    _answer_all_distributed({})
    assert len(json.loads(run("review", "--wrong", "--list", "--json", "--count", "1").stdout)) == 1
    assert json.loads(run("review", "--wrong", "--list", "--json", "--topic", "inference").stdout) == []
    result = run("review", "--wrong", "--topic", "inference")
    assert result.exit_code == 0 and "Nothing to review" in result.stdout


# ---------------------------------------------------------------- review --due


def test_review_due_follows_the_cards(clock, llmprep_home):
    order = _answer_all_distributed({"dist-ring": RING_EN})
    assert json.loads(run("review", "--due", "--list", "--json").stdout) == []  # nothing due yet at 09:00
    due = dict(rows(llmprep_home, "SELECT question_id, due FROM cards"))
    assert due == {"dist-ring": "2025-01-14T09:00:00Z", "dist-zero": "2025-01-06T09:01:00Z",
                   "dist-pipeline": "2025-01-06T09:01:00Z"}
    result = run("review", "--due")
    assert "Nothing is due. Next: dist-pipeline at 2025-01-06T09:01:00Z." in result.stdout
    clock.advance(minutes=2)
    listed = json.loads(run("review", "--due", "--list", "--json").stdout)
    assert sorted(r["id"] for r in listed) == ["dist-pipeline", "dist-zero"]
    # Answer both well now: the cards move on (learning step of 10 min for Good/Hard, days for Easy).
    script = "".join(f"{ZERO_FULL if r['id'] == 'dist-zero' else 'idle while filling; more micro-batches'}\n.\n" for r in listed)
    result = run("review", "--due", "--lang", "en", input=script)
    assert result.exit_code == 0 and "Review (due) · 2 question(s)" in result.stdout
    assert json.loads(run("review", "--due", "--list", "--json").stdout) == []
    ratings = rows(llmprep_home, "SELECT question_id, rating FROM attempts ORDER BY id DESC LIMIT 2")
    assert {r[1] for r in ratings} == {EASY}
    clock.advance(days=8)
    listed = json.loads(run("review", "--due", "--list", "--json").stdout)
    assert "dist-ring" in [r["id"] for r in listed]
    assert [r["due"] for r in listed] == sorted(r["due"] for r in listed)  # most overdue first
    assert sorted(order) == ["dist-pipeline", "dist-ring", "dist-zero"]


def test_review_needs_exactly_one_queue():
    assert CliRunner().invoke(app, [*QB, "review"]).exit_code == 2
    assert CliRunner().invoke(app, [*QB, "review", "--wrong", "--due"]).exit_code == 2
