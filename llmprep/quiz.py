"""Question selection and the quiz session loop. All I/O is injected (reader, view, clock, editor),
so tests script whole sessions; nothing here imports typer, rich or prompt_toolkit.

An answer is read line by line and ends with a line holding only `.` or with EOF; blank lines do not
submit (coding answers contain them). `:skip`, `:quit` and `:edit` alone on a line are commands.
Each graded attempt is committed before its report is shown; the rating chosen afterwards updates the
attempt and the question's FSRS card in one more short transaction.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Protocol

from .bank import KINDS, Question
from .errors import LlmprepError
from .history import History, QuestionState, parse_iso, utc_iso
from .srs import GOOD, Srs, suggest_rating

COMMANDS = {".": "submit", ":skip": "skip", ":quit": "quit", ":edit": "edit"}


# ---------------------------------------------------------------- I/O seams


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """Wall clock in UTC (whole seconds, as stored) and a monotonic clock for durations."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(microsecond=0)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class AnswerInput:
    """What a reader returns: the text typed so far and why reading stopped.

    action: submit (a `.` line), eof (end of input / Ctrl-D), skip, quit, edit.
    """

    text: str
    action: str


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while typing; carries the unfinished answer so it can be kept as a draft."""

    def __init__(self, partial: str = ""):
        super().__init__()
        self.partial = partial


class Reader(Protocol):
    def read_answer(self, default: str = "", started: float | None = None, time_limit: float | None = None) -> AnswerInput: ...

    def read_rating(self, prompt: str) -> str: ...


def classify(line: str) -> str | None:
    """The command a line holds alone (`.`, :skip, :quit, :edit), else None."""
    return COMMANDS.get(line.strip())


def tidy(text: str) -> str:
    """Drop leading blank lines and trailing whitespace; keep the first line's indentation (code)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


def split_answer(text: str) -> AnswerInput:
    """Interpret a whole typed buffer: a last line holding a command ends the answer there."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        action = classify(lines[-1])
        if action:
            return AnswerInput("\n".join(lines[:-1]), action)
    return AnswerInput("\n".join(lines), "submit")


class LineReader:
    """Reads answers from a text stream (piped stdin, or tests): `.` line or EOF ends an answer.

    It never asks for a rating: in a pipe the suggested rating is taken.
    """

    interactive = False

    def __init__(self, stream):
        self.stream = stream

    def read_answer(self, default: str = "", started: float | None = None, time_limit: float | None = None) -> AnswerInput:
        lines = default.split("\n") if default else []
        while True:
            try:
                line = self.stream.readline()
            except KeyboardInterrupt:
                raise Interrupted("\n".join(lines)) from None
            if line == "":
                return AnswerInput("\n".join(lines), "eof")
            line = line.rstrip("\n").rstrip("\r")
            action = classify(line)
            if action:
                return AnswerInput("\n".join(lines), action)
            lines.append(line)

    def read_rating(self, prompt: str) -> str:  # pragma: no cover - never asked in a pipe
        return ""


# ---------------------------------------------------------------- selection


@dataclass(frozen=True)
class Filters:
    topics: tuple[str, ...] = ()
    kind: str | None = None
    difficulty: int | None = None

    def to_dict(self) -> dict:
        return {"topics": list(self.topics), "kind": self.kind, "difficulty": self.difficulty}


def filter_questions(bank, filters: Filters) -> list[Question]:
    """The bank's questions matching the filters; an unknown topic or kind is a user error."""
    known = bank.topics()
    unknown = [t for t in filters.topics if t not in known]
    if unknown:
        raise LlmprepError(f"unknown topic {unknown[0]!r} (topics: {', '.join(sorted(known))})")
    if filters.kind is not None and filters.kind not in KINDS:
        raise LlmprepError(f"unknown kind {filters.kind!r} (use {' or '.join(KINDS)})")
    return [
        q
        for q in bank.questions.values()
        if (not filters.topics or q.topic in filters.topics)
        and (filters.kind is None or q.kind == filters.kind)
        and (filters.difficulty is None or q.difficulty == filters.difficulty)
    ]


def is_due(state: QuestionState, now: datetime) -> bool:
    """A question tried but never rated has no card yet: it counts as due."""
    due = parse_iso(state.due)
    return due is None or due <= now


def select_questions(
    questions: list[Question], states: dict[str, QuestionState], count: int, rng: random.Random, now: datetime
) -> list[Question]:
    """Never-seen questions first (shuffled), then weak or overdue ones (most overdue, lowest score
    first), then the rest by due date. Distinct questions; the same rng seed gives the same pick."""
    unseen = [q for q in questions if q.id not in states or states[q.id].attempts == 0]
    seen = [q for q in questions if q.id in states and states[q.id].attempts > 0]
    rng.shuffle(unseen)
    rng.shuffle(seen)

    def urgency(q: Question):
        s = states[q.id]
        weak = s.last_passed is False
        due = is_due(s, now)
        tier = 0 if (weak and due) else (1 if (weak or due) else 2)
        return (tier, s.due or "", s.last_score if s.last_score is not None else 0.0)

    seen.sort(key=urgency)  # stable: ties keep the seeded shuffle order
    return (unseen + seen)[:count]


def wrong_queue(questions: list[Question], states: dict[str, QuestionState]) -> list[Question]:
    """Questions whose latest graded attempt failed (after disputes and re-grades), lowest score first."""
    out = [q for q in questions if q.id in states and states[q.id].attempts > 0 and states[q.id].last_passed is False]
    out.sort(key=lambda q: (states[q.id].last_score or 0.0, states[q.id].last_attempted or ""))
    return out


def due_queue(questions: list[Question], states: dict[str, QuestionState], now: datetime) -> list[Question]:
    """Questions tried before whose FSRS card is due at `now`, most overdue first."""
    out = [q for q in questions if q.id in states and is_due(states[q.id], now)]
    out.sort(key=lambda q: states[q.id].due or "")
    return out


def next_due(questions: list[Question], states: dict[str, QuestionState]) -> tuple[str, str] | None:
    """(question id, due) of the next card to come due, for "nothing is due" messages."""
    dated = [(states[q.id].due, q.id) for q in questions if q.id in states and states[q.id].due]
    if not dated:
        return None
    due, qid = min(dated)
    return qid, due


def queue_rows(queue: list[Question], states: dict[str, QuestionState]) -> list[dict]:
    """The rows `review --list --json` prints."""
    rows = []
    for q in queue:
        s = states.get(q.id)
        rows.append(
            {
                "id": q.id,
                "topic": q.topic,
                "last_score": None if s is None or s.last_score is None else round(s.last_score, 4),
                "last_attempted": s.last_attempted if s else None,
                "due": s.due if s else None,
            }
        )
    return rows


# ---------------------------------------------------------------- the session


def grade_record(grade) -> dict:
    """`Grade.to_dict()` plus each point's text in every language, so a stored attempt still explains
    itself after the bank's rubric changes."""
    record = grade.to_dict()
    for stored, point in zip(record["points"], grade.points):
        stored["text"] = {code: text for code, text in point.text}
    return record


@dataclass(frozen=True)
class RatingChoice:
    rating: int
    dispute: bool = False
    asked: bool = True


def parse_rating_key(key: str, suggested: int) -> RatingChoice | None:
    """Enter accepts the suggestion, 1–4 choose, `d` disputes ("I was right": at least Good)."""
    k = key.strip().lower()
    if k == "":
        return RatingChoice(suggested)
    if k in ("1", "2", "3", "4"):
        return RatingChoice(int(k))
    if k == "d":
        return RatingChoice(max(suggested, GOOD), dispute=True)
    return None


@dataclass
class ItemResult:
    """One question of a session, as the report shows it."""

    question: Question
    status: str  # answered | skipped | draft
    grade: object | None = None  # grading.Grade
    attempt_id: int | None = None
    time_taken: float | None = None
    over_time: bool = False
    suggested: int | None = None
    rating: int | None = None
    dispute: bool = False

    @property
    def passed(self) -> bool | None:
        if self.grade is None:
            return None
        return True if self.dispute else bool(self.grade.passed)

    @property
    def score(self) -> float | None:
        return None if self.grade is None else self.grade.score


@dataclass(frozen=True)
class TopicLine:
    topic: str
    answered: int
    passed: int
    mean_score: float | None


@dataclass
class SessionReport:
    session_id: int | None
    mode: str
    planned: int
    started_at: datetime
    lang: str
    time_limit: float | None = None
    seed: int | None = None
    items: list[ItemResult] = field(default_factory=list)
    status: str = "running"  # finished | quit | eof | interrupted (| crashed, in the database only)
    ended_at: datetime | None = None
    elapsed: float = 0.0

    @property
    def answered(self) -> list[ItemResult]:
        return [i for i in self.items if i.status == "answered"]

    @property
    def passed(self) -> int:
        return sum(1 for i in self.answered if i.passed)

    @property
    def mean_score(self) -> float | None:
        scores = [i.score for i in self.answered]
        return sum(scores) / len(scores) if scores else None

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    def topics(self) -> list[TopicLine]:
        by: dict[str, list[ItemResult]] = {}
        for i in self.answered:
            by.setdefault(i.question.topic, []).append(i)
        return [
            TopicLine(t, len(items), sum(1 for i in items if i.passed), sum(i.score for i in items) / len(items))
            for t, items in by.items()
        ]

    def to_dict(self) -> dict:
        return {
            "session_id": self.session_id, "mode": self.mode, "status": self.status, "planned": self.planned,
            "answered": len(self.answered), "passed": self.passed,
            "mean_score": None if self.mean_score is None else round(self.mean_score, 4),
            "elapsed": round(self.elapsed, 1), "started_at": utc_iso(self.started_at),
            "items": [
                {
                    "id": i.question.id, "topic": i.question.topic, "status": i.status,
                    "score": None if i.score is None else round(i.score, 4), "passed": i.passed,
                    "time_taken": None if i.time_taken is None else round(i.time_taken, 1),
                    "over_time": i.over_time, "rating": i.rating, "dispute": i.dispute,
                }
                for i in self.items
            ],
            "topics": [t.__dict__ for t in self.topics()],
        }


class View(Protocol):
    """What the session shows; render.QuizView draws it with rich, tests may record it."""

    def start(self, report: SessionReport) -> None: ...

    def question(self, q: Question, index: int, total: int, *, time_limit: float | None, draft: bool) -> None: ...

    def note(self, key: str, **kw) -> None: ...

    def graded(self, q: Question, grade, *, time_taken: float, time_limit: float | None, over_time: bool) -> None: ...

    def rating_prompt(self, suggested: int) -> str: ...

    def rated(self, choice: RatingChoice, suggested: int, due: datetime | None, now: datetime) -> None: ...

    def report(self, report: SessionReport) -> None: ...


class _Stop(Exception):
    """End the session after the current question (quit or end of input)."""

    def __init__(self, status: str, item: ItemResult | None = None):
        super().__init__(status)
        self.status = status
        self.item = item


@contextmanager
def _ctrl_c_held():
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block ends; yields a function
    telling whether one came. A second Ctrl-C interrupts at once, as usual."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    pressed: list[int] = []

    def hold(signum, frame):
        pressed.append(signum)
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, hold) or signal.default_int_handler
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


class QuizSession:
    """Runs one quiz or review session over a list of questions, recording as it goes."""

    def __init__(
        self, *, grader, history: History, reader: Reader, view: View, clock: Clock | None = None,
        srs: Srs | None = None, editor: Callable[[str], str] | None = None, lang: str = "en", mode: str = "quiz",
        ask_rating: bool = False, resume_drafts: bool = False, time_limit: float | None = None,
        seed: int | None = None, filters: Filters | None = None,
    ):
        self.grader = grader
        self.history = history
        self.reader = reader
        self.view = view
        self.clock = clock or SystemClock()
        self.srs = srs or Srs()
        self.editor = editor
        self.lang = lang
        self.mode = mode
        self.ask_rating = ask_rating
        self.resume_drafts = resume_drafts
        self.time_limit = time_limit
        self.seed = seed
        self.filters = filters or Filters()
        # The answer being worked on, so a Ctrl-C anywhere can keep it as a draft.
        self._current: tuple[Question, str, datetime, float] | None = None
        self.session_id: int | None = None
        self._unrated: ItemResult | None = None

    def run(self, questions: list[Question]) -> SessionReport:
        """Ask every question (until :quit, EOF or Ctrl-C) and return the session report.

        Ctrl-C does not propagate: the report says `interrupted` and the caller decides the exit code.
        """
        t0 = self.clock.monotonic()
        started = self.clock.now()
        report = SessionReport(
            None, self.mode, len(questions), started, self.lang, self.time_limit, self.seed,
        )
        report.session_id = self.session_id = self.history.start_session(
            self.mode, started, lang=self.lang, seed=self.seed, time_limit=self.time_limit,
            filters=self.filters.to_dict(), planned=[q.id for q in questions],
        )
        self.view.start(report)
        status = "crashed"  # what the session row says if an unexpected error escapes
        try:
            for index, q in enumerate(questions, 1):
                try:
                    item = self._ask(q, index, len(questions))
                except _Stop as stop:
                    status = stop.status
                    if stop.item is not None:
                        report.items.append(stop.item)
                    break
                report.items.append(item)
            else:
                status = "finished"
        except KeyboardInterrupt as exc:
            status = "interrupted"
            if self._unrated is not None:  # graded and saved; only the rating is missing
                report.items.append(self._unrated)
            draft = self._keep_draft(getattr(exc, "partial", None))
            if draft is not None:
                report.items.append(draft)
        finally:
            report.status = status
            report.ended_at = self.clock.now()
            report.elapsed = self.clock.monotonic() - t0
            try:
                self.history.end_session(report.session_id, report.ended_at, status)
            except KeyboardInterrupt:  # a second Ctrl-C: the attempts are already safe
                pass
        with _ctrl_c_held() as pressed:  # the report is printed whole
            self.view.report(report)
        if pressed():
            report.status = "interrupted"  # (the stored session keeps how it really ended)
        return report

    def _keep_draft(self, partial: str | None) -> ItemResult | None:
        """Store the unfinished answer of the current question (if any text was typed) as a draft."""
        if self._current is None:
            return None
        q, text, started, t0 = self._current
        text = tidy(partial if partial is not None else text)
        self._current = None
        if not text.strip():
            return None
        elapsed = self.clock.monotonic() - t0
        self.history.save_draft(
            session_id=self.session_id, question_id=q.id, answer=text,
            started_at=started, created_at=self.clock.now(), time_taken=elapsed,
        )
        return ItemResult(q, "draft", time_taken=elapsed)

    def _ask(self, q: Question, index: int, total: int) -> ItemResult:
        draft = self.history.latest_draft(q.id) if self.resume_drafts else None
        self.view.question(q, index, total, time_limit=self.time_limit, draft=bool(draft))
        started = self.clock.now()
        t0 = self.clock.monotonic()
        text = draft or ""
        self._current = (q, text, started, t0)
        while True:
            got = self.reader.read_answer(text, started=t0, time_limit=self.time_limit)
            text = got.text
            self._current = (q, text, started, t0)
            if got.action == "edit":
                text = self._edit(text)
                continue
            if got.action == "submit" and not text.strip():
                self.view.note("empty_answer")
                continue
            break
        elapsed = self.clock.monotonic() - t0
        if got.action == "skip":
            self._current = None
            return ItemResult(q, "skipped", time_taken=elapsed)
        if got.action == "quit":
            raise _Stop("quit", self._keep_draft(text))
        if got.action == "eof" and not text.strip():
            self._current = None
            raise _Stop("eof")
        item = self._grade(q, tidy(text), started, elapsed)
        if got.action == "eof":  # the input ended with this answer: grade it, then stop
            raise _Stop("eof", item)
        return item

    def _edit(self, text: str) -> str:
        if self.editor is None:
            self.view.note("no_editor")
            return text
        try:
            return self.editor(text)
        except LlmprepError as exc:
            self.view.note("editor_failed", error=str(exc))
            return text

    def _grade(self, q: Question, text: str, started: datetime, elapsed: float) -> ItemResult:
        from .grading import GRADER_VERSION

        grade = self.grader.grade(q.id, text)
        over = self.time_limit is not None and elapsed > self.time_limit
        suggested = suggest_rating(grade.score, grade.passed, grade.pass_mark, over)
        attempt_id = self.history.record_attempt(
            session_id=self.session_id, question_id=q.id, answer=text, grade=grade_record(grade),
            grader_version=getattr(grade, "grader_version", GRADER_VERSION), suggested_rating=suggested,
            started_at=started, created_at=self.clock.now(), time_taken=round(elapsed, 3),
            time_limit=self.time_limit, over_time=over,
        )
        self._current = None  # committed: nothing left to keep as a draft
        item = self._unrated = ItemResult(q, "answered", grade, attempt_id, elapsed, over, suggested)
        self.view.graded(q, grade, time_taken=elapsed, time_limit=self.time_limit, over_time=over)
        choice = self._choose_rating(suggested)
        now = self.clock.now()
        review = self.srs.review(q.id, self.history.card(q.id), choice.rating, now)
        self.history.rate(attempt_id, choice.rating, now, override=choice.dispute, card=review.card_json, due=review.due)
        item.rating = choice.rating
        item.dispute = choice.dispute
        self._unrated = None
        self.view.rated(choice, suggested, review.due, now)
        return item

    def _choose_rating(self, suggested: int) -> RatingChoice:
        if not self.ask_rating:
            return RatingChoice(suggested, asked=False)
        prompt = self.view.rating_prompt(suggested)
        while True:
            choice = parse_rating_key(self.reader.read_rating(prompt), suggested)
            if choice is not None:
                return choice


# ---------------------------------------------------------------- regrade


@dataclass(frozen=True)
class RegradeResult:
    total: int
    skipped: int  # attempts whose question is no longer in the bank
    changes: list[dict]
    grader_version: str

    def to_dict(self) -> dict:
        return {"regraded": self.total, "skipped": self.skipped, "grader_version": self.grader_version, "changes": self.changes}


def regrade(history: History, bank, grader, now: datetime, question_id: str | None = None) -> RegradeResult:
    """Re-score stored attempts with the current grader. The original grade stays; the new one is
    stored beside it and becomes the attempt's effective grade (unless the user disputed it)."""
    from .grading import GRADER_VERSION

    total = skipped = 0
    changes = []
    for a in history.attempts(question_id, drafts=False):
        if a.question_id not in bank.questions:
            skipped += 1
            continue
        grade = grader.grade(a.question_id, a.answer)
        history.set_regrade(a.id, grade_record(grade), getattr(grade, "grader_version", GRADER_VERSION), now)
        total += 1
        old = a.effective_score if a.effective_score is not None else 0.0
        old_passed = bool(a.regrade_passed if a.regrade_passed is not None else a.passed)
        if round(old, 4) != round(grade.score, 4) or old_passed != grade.passed:
            changes.append(
                {
                    "attempt_id": a.id, "question_id": a.question_id, "original_score": a.score,
                    "previous_score": round(old, 4), "new_score": round(grade.score, 4),
                    "original_passed": a.passed, "new_passed": grade.passed,
                }
            )
    return RegradeResult(total, skipped, changes, GRADER_VERSION)
