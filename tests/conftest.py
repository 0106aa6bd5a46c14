"""Shared fixtures: every test gets its own data dir, and banks are built from small YAML texts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "bank"


@pytest.fixture(autouse=True)
def llmprep_home(tmp_path, monkeypatch):
    """Point LLMPREP_HOME at a temp dir and clear bank/locale env so tests never touch real user data."""
    home = tmp_path / "home"
    monkeypatch.setenv("LLMPREP_HOME", str(home))
    monkeypatch.delenv("LLMPREP_BANK", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.delenv("LANGUAGE", raising=False)
    return home


@pytest.fixture
def make_bank(tmp_path):
    """make_bank(questions_yaml, rubrics_yaml=None, name="bank") -> Path of a bank directory."""

    def make(questions: str | bytes, rubrics: str | bytes | None = None, name: str = "bank") -> Path:
        d = tmp_path / name
        d.mkdir()
        for fname, body in (("questions.yaml", questions), ("rubrics.yaml", rubrics)):
            if body is None:
                continue
            if isinstance(body, str):
                body = textwrap.dedent(body).encode("utf-8")
            (d / fname).write_bytes(body)
        return d

    return make


# ---------------------------------------------------------------- quiz, history, review (issue 3)

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"


@pytest.fixture(autouse=True)
def exact_fsrs(monkeypatch):
    """FSRS without fuzzing, so due dates are exact."""
    import llmprep.srs

    monkeypatch.setattr(llmprep.srs, "FUZZING", False)


class FakeClock:
    """A UTC wall clock that moves only when told, and a monotonic clock that advances `step`
    seconds each time it is read (so every answer in a scripted session takes exactly `step`)."""

    def __init__(self, start, step: float = 0.0):
        self.t = start
        self.m = 1000.0
        self.step = step

    def now(self):
        return self.t

    def monotonic(self) -> float:
        value = self.m
        self.m += self.step
        return value

    def advance(self, **delta):
        from datetime import timedelta

        self.t = self.t + timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """Freeze the quiz clock at 2025-01-06 09:00 UTC (the CLI builds its clock via quiz.SystemClock)."""
    import time
    from datetime import datetime, timezone

    import llmprep.quiz

    fake = FakeClock(datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc))
    monkeypatch.setattr(llmprep.quiz, "SystemClock", lambda: fake)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield fake
    monkeypatch.undo()
    time.tzset()
