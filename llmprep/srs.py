"""Spaced repetition with FSRS (the `fsrs` package, py-fsrs ≥ 6): one card per question id.

Cards are stored as the JSON py-fsrs produces (`Card.to_json`), keyed by question id, so editing a
question's text keeps its schedule. All datetimes are timezone-aware UTC, as py-fsrs requires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
RATING_NAMES = {AGAIN: "Again", HARD: "Hard", GOOD: "Good", EASY: "Easy"}

# Fuzzing spreads due dates by a few percent so cards answered together do not stay bunched;
# tests turn it off (FUZZING = False, or Srs(fuzzing=False)) so due dates are exact.
FUZZING = True


def card_id(question_id: str) -> int:
    """A stable card id derived from the question id (48 bits of its SHA-256, always positive)."""
    return int.from_bytes(hashlib.sha256(question_id.encode("utf-8")).digest()[:6], "big")


def suggest_rating(score: float, passed: bool, pass_mark: float, over_time: bool = False) -> int:
    """The recall rating the grade suggests: a failed answer is Again, a bare pass Hard,
    a full-marks answer Easy, anything else Good. Over time in interview mode: at most Hard."""
    if not passed:
        return AGAIN
    if over_time:
        return HARD
    if score >= 0.999:
        return EASY
    if score < pass_mark + 0.15:
        return HARD
    return GOOD


@dataclass(frozen=True)
class Review:
    card_json: str
    due: datetime


class Srs:
    """Wraps one fsrs.Scheduler (imported on first use: it is only needed once an answer is rated)."""

    def __init__(self, fuzzing: bool | None = None):
        self.fuzzing = FUZZING if fuzzing is None else fuzzing
        self._scheduler = None

    @property
    def scheduler(self):
        if self._scheduler is None:
            from fsrs import Scheduler

            self._scheduler = Scheduler(enable_fuzzing=self.fuzzing)
        return self._scheduler

    def new_card(self, question_id: str, now: datetime):
        from fsrs import Card

        return Card(card_id=card_id(question_id), due=_utc(now))

    def review(self, question_id: str, card_json: str | None, rating: int, now: datetime) -> Review:
        """Apply a rating (1 Again … 4 Easy) given at `now`; return the new card and its due date."""
        from fsrs import Card, Rating

        card = Card.from_json(card_json) if card_json else self.new_card(question_id, now)
        card, _log = self.scheduler.review_card(card, Rating(rating), review_datetime=_utc(now))
        return Review(card.to_json(), _utc(card.due))


def _utc(dt: datetime) -> datetime:
    # py-fsrs insists on tzinfo == timezone.utc exactly (not merely an offset of zero).
    if dt.tzinfo is None:
        raise ValueError("naive datetime: use UTC")
    return dt.astimezone(timezone.utc)
