"""`llmprep stats`: per-topic numbers, streak and trend, as JSON and drawn."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from llmprep.cli import app
from llmprep.history import QuestionState
from llmprep.loader import load
from llmprep.stats import compute_stats

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
QB = ["--no-builtin", "--bank", str(QUIZ_BANK)]
RING_EN = "Each GPU talks to its ring neighbours: reduce-scatter, then all-gather. It is bandwidth-optimal."
KV_EN = "It caches keys and values of earlier tokens, reused while decoding."


def run(*args, input=None):
    return CliRunner().invoke(app, [*QB, *args], input=input, catch_exceptions=False)


def test_stats_json_after_three_days_of_practice(clock, llmprep_home):
    # Day 1: the three distributed questions, each answered with the ring answer (one pass);
    # day 2: the inference one (right); day 3: the coding one (wrong).
    run("quiz", "--topic", "distributed", "--count", "3", input=f"{RING_EN}\n.\n" * 3)
    clock.advance(days=1)
    run("quiz", "--topic", "inference", "--count", "1", input=f"{KV_EN}\n.\n")
    clock.advance(days=1)
    run("quiz", "--topic", "coding", "--count", "1", input="no idea\n.\n")
    data = json.loads(run("stats", "--json").stdout)
    topics = {t["topic"]: t for t in data["topics"]}
    assert set(topics) == {"distributed", "inference", "coding"}
    d = topics["distributed"]
    assert d["questions"] == 3 and d["attempted"] == 3 and d["passed"] == 1
    assert d["mean_score"] == 0.3333
    assert topics["inference"] == {"topic": "inference", "questions": 1, "attempted": 1, "passed": 1,
                                   "mean_score": 1.0, "due": 0}
    assert topics["coding"]["passed"] == 0 and topics["coding"]["due"] == 0  # due in 1 minute
    assert data["total"]["questions"] == 5 and data["total"]["attempted"] == 5 and data["total"]["passed"] == 2
    assert data["streak"] == 3 and data["attempts"] == 5
    trend = data["trend"]
    assert len(trend) == 14 and trend[-1]["date"] == "2025-01-08"
    assert [p["attempts"] for p in trend[-3:]] == [3, 1, 1]
    assert trend[-2]["mean_score"] == 1.0 and trend[-1]["mean_score"] == 0.0
    assert trend[0]["mean_score"] is None
    # Two days later the streak is broken, and the failed coding question is due.
    clock.advance(days=2)
    data = json.loads(run("stats", "--json", "--topic", "coding").stdout)
    assert data["streak"] == 0 and [t["due"] for t in data["topics"]] == [1]
    assert data["attempts"] == 1


def test_stats_is_drawn(clock, llmprep_home):
    run("quiz", "--topic", "inference", "--count", "1", input=f"{KV_EN}\n.\n")
    out = run("stats", "--lang", "en").stdout
    assert "inference" in out and "total" in out
    assert "█" in out and "1/1" in out  # progress bar
    assert "streak: 1 day(s)" in out
    assert "last 14 days ·············█" in out  # sparkline: no data, then today's mean
    assert "\x1b[" not in out


def test_stats_with_no_history(clock, llmprep_home):
    out = run("stats").stdout
    assert "streak: 0 day(s)" in out and "0/5" in out


def test_streak_uses_local_days():
    """An answer at 23:30 UTC is the next morning in Beijing (UTC+8)."""
    bank = load([QUIZ_BANK])
    qs = list(bank.questions.values())
    beijing = timezone(timedelta(hours=8))
    now = datetime(2025, 1, 7, 1, 0, tzinfo=timezone.utc)  # 09:00 in Beijing on the 7th
    scores = [("dist-ring", "2025-01-05T23:30:00Z", 1.0, True), ("dist-ring", "2025-01-06T12:00:00Z", 0.5, False)]
    states = {"dist-ring": QuestionState("dist-ring", 2, 0.5, False, "2025-01-06T12:00:00Z", None)}
    s = compute_stats(qs, states, scores, now, days=3, tz=beijing)
    assert [(p.date, p.attempts) for p in s.trend] == [("2025-01-05", 0), ("2025-01-06", 2), ("2025-01-07", 0)]
    assert s.streak == 1  # both answers fall on the 6th in Beijing; nothing yet today keeps the streak
    s_utc = compute_stats(qs, states, scores, now, days=3, tz=timezone.utc)
    assert [(p.date, p.attempts) for p in s_utc.trend] == [("2025-01-05", 1), ("2025-01-06", 1), ("2025-01-07", 0)]
    assert s_utc.streak == 2


def test_colour_follows_no_color_and_the_option(clock, llmprep_home):
    run("quiz", "--topic", "inference", "--count", "1", input=f"{KV_EN}\n.\n")
    green = "\x1b[32m"
    forced = CliRunner().invoke(app, [*QB, "stats"], env={"FORCE_COLOR": "1"})
    assert green in forced.stdout  # a terminal would get colour
    assert green not in CliRunner().invoke(app, [*QB, "stats"], env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert green not in CliRunner().invoke(app, [*QB, "--no-color", "stats"], env={"FORCE_COLOR": "1"}).stdout
