"""Progress numbers for `llmprep stats`: computed here, drawn by render.py, printed as JSON by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo

from .bank import Question
from .history import QuestionState, parse_iso
from .quiz import is_due


@dataclass(frozen=True)
class TopicStats:
    topic: str
    questions: int
    attempted: int
    passed: int  # latest attempt passed (after disputes and re-grades)
    mean_score: float | None  # mean of the latest scores of the attempted questions
    due: int


@dataclass(frozen=True)
class DayPoint:
    date: str  # local calendar day, YYYY-MM-DD
    attempts: int
    mean_score: float | None


@dataclass(frozen=True)
class Stats:
    topics: list[TopicStats]
    total: TopicStats
    attempts: int
    streak: int  # consecutive days with a graded answer, ending today (or yesterday)
    trend: list[DayPoint]

    def to_dict(self) -> dict:
        def topic(t: TopicStats) -> dict:
            d = asdict(t)
            d["mean_score"] = None if t.mean_score is None else round(t.mean_score, 4)
            return d

        return {
            "topics": [topic(t) for t in self.topics],
            "total": {k: v for k, v in topic(self.total).items() if k != "topic"},
            "attempts": self.attempts,
            "streak": self.streak,
            "trend": [
                {"date": p.date, "attempts": p.attempts, "mean_score": None if p.mean_score is None else round(p.mean_score, 4)}
                for p in self.trend
            ],
        }


def _topic_stats(topic: str, questions: list[Question], states: dict[str, QuestionState], now: datetime) -> TopicStats:
    tried = [states[q.id] for q in questions if q.id in states and states[q.id].attempts > 0]
    scores = [s.last_score for s in tried if s.last_score is not None]
    return TopicStats(
        topic=topic,
        questions=len(questions),
        attempted=len(tried),
        passed=sum(1 for s in tried if s.last_passed),
        mean_score=sum(scores) / len(scores) if scores else None,
        due=sum(1 for q in questions if q.id in states and is_due(states[q.id], now)),
    )


def _local_day(stamp: str, tz: tzinfo | None) -> date:
    dt = parse_iso(stamp)
    return (dt.astimezone(tz) if tz is not None else dt.astimezone()).date()


def compute_stats(
    questions: list[Question], states: dict[str, QuestionState], scores: list[tuple[str, str, float | None, bool]],
    now: datetime, days: int = 14, tz: tzinfo | None = None,
) -> Stats:
    """Per-topic progress, the overall streak and the mean score per day over the last `days` days.

    `scores` holds (question id, created_at, score, passed) of every graded attempt. The streak counts
    every attempt; the trend only the questions given. Days are local calendar days (`tz`, default
    the machine's zone): practising at 7:00 in Beijing counts for that day, not yesterday in UTC.
    """
    by_topic: dict[str, list[Question]] = {}
    for q in questions:
        by_topic.setdefault(q.topic, []).append(q)
    topics = [_topic_stats(t, qs, states, now) for t, qs in by_topic.items()]
    total = _topic_stats("", questions, states, now)
    qids = {q.id for q in questions}
    active: set[date] = set()
    per_day: dict[date, list[float]] = {}
    for qid, stamp, score, _passed in scores:
        day = _local_day(stamp, tz)
        active.add(day)
        if qid in qids:
            per_day.setdefault(day, []).append(score if score is not None else 0.0)
    today = (now.astimezone(tz) if tz is not None else now.astimezone()).date()
    day = today if today in active else today - timedelta(days=1)
    streak = 0
    while day in active:
        streak += 1
        day -= timedelta(days=1)
    trend = []
    for k in range(days - 1, -1, -1):
        d = today - timedelta(days=k)
        got = per_day.get(d, [])
        trend.append(DayPoint(d.isoformat(), len(got), sum(got) / len(got) if got else None))
    return Stats(topics, total, sum(1 for r in scores if r[0] in qids), streak, trend)
