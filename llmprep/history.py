"""The history database: stdlib sqlite3, ordered named migrations, one short transaction per write.

Every graded attempt is committed the moment it is graded, so a crash loses at most the answer being
typed. The automatic grade is never rewritten: a dispute ("I was right") and a re-grade are stored
beside it, and the *effective* result of an attempt is override > re-grade > original grade.

The connection is opened on first use, never at import. A file that is not an llmprep database, or one
written by a newer llmprep, raises HistoryError naming the file; this module never deletes or
overwrites a user's file.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .errors import HistoryError

BUSY_TIMEOUT_MS = 5000

# Ordered, named migrations. Append only: never edit or reorder one that has shipped.
MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "0001_sessions_attempts",
        (
            """CREATE TABLE sessions (
                id INTEGER PRIMARY KEY,
                mode TEXT NOT NULL,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                status TEXT NOT NULL DEFAULT 'running',
                lang TEXT,
                seed INTEGER,
                time_limit REAL,
                filters TEXT NOT NULL DEFAULT '{}',
                planned TEXT NOT NULL DEFAULT '[]'
            )""",
            """CREATE TABLE attempts (
                id INTEGER PRIMARY KEY,
                session_id INTEGER REFERENCES sessions(id),
                question_id TEXT NOT NULL,
                answer TEXT NOT NULL,
                draft INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1)),
                score REAL,
                passed INTEGER,
                pass_mark REAL,
                points TEXT,
                grader_version TEXT,
                suggested_rating INTEGER CHECK (suggested_rating BETWEEN 1 AND 4),
                rating INTEGER CHECK (rating BETWEEN 1 AND 4),
                override TEXT CHECK (override IN ('correct')),
                override_at TEXT,
                time_taken REAL,
                time_limit REAL,
                over_time INTEGER NOT NULL DEFAULT 0,
                started_at TEXT,
                created_at TEXT NOT NULL,
                rated_at TEXT
            )""",
            "CREATE INDEX attempts_question ON attempts(question_id, id)",
            "CREATE INDEX attempts_session ON attempts(session_id)",
        ),
    ),
    (
        "0002_cards",
        (
            """CREATE TABLE cards (
                question_id TEXT PRIMARY KEY,
                card TEXT NOT NULL,
                due TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX cards_due ON cards(due)",
        ),
    ),
    (
        "0003_regrade",
        (
            "ALTER TABLE attempts ADD COLUMN regrade_score REAL",
            "ALTER TABLE attempts ADD COLUMN regrade_passed INTEGER",
            "ALTER TABLE attempts ADD COLUMN regrade_points TEXT",
            "ALTER TABLE attempts ADD COLUMN regrade_version TEXT",
            "ALTER TABLE attempts ADD COLUMN regraded_at TEXT",
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Effective result of an attempt: a dispute wins, then the latest re-grade, then the original grade.
_EFF_PASSED = "(CASE WHEN a.override = 'correct' THEN 1 ELSE coalesce(a.regrade_passed, a.passed) END)"
_EFF_SCORE = "coalesce(a.regrade_score, a.score)"


def utc_iso(dt: datetime) -> str:
    """A UTC timestamp as stored and printed: 2024-05-01T12:00:00Z (sorts as text)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: llmprep stores UTC only")
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Attempt:
    """One stored attempt (or draft) as read back from the database."""

    id: int
    session_id: int | None
    question_id: str
    answer: str
    draft: bool
    score: float | None
    passed: bool | None
    pass_mark: float | None
    points: list | None
    grader_version: str | None
    suggested_rating: int | None
    rating: int | None
    override: str | None
    time_taken: float | None
    time_limit: float | None
    over_time: bool
    started_at: str | None
    created_at: str
    regrade_score: float | None
    regrade_passed: bool | None
    regrade_points: list | None
    regrade_version: str | None
    regraded_at: str | None

    @property
    def effective_passed(self) -> bool:
        if self.override == "correct":
            return True
        if self.regrade_passed is not None:
            return self.regrade_passed
        return bool(self.passed)

    @property
    def effective_score(self) -> float | None:
        return self.regrade_score if self.regrade_score is not None else self.score

    @property
    def effective_points(self) -> list | None:
        return self.regrade_points if self.regrade_points is not None else self.points

    def to_dict(self) -> dict:
        regrade = None
        if self.regraded_at:
            regrade = {
                "score": self.regrade_score, "passed": self.regrade_passed, "points": self.regrade_points,
                "grader_version": self.regrade_version, "regraded_at": self.regraded_at,
            }
        return {
            "id": self.id, "session_id": self.session_id, "question_id": self.question_id, "answer": self.answer,
            "draft": self.draft, "score": self.score, "passed": self.passed, "pass": self.pass_mark,
            "points": self.points, "grader_version": self.grader_version,
            "suggested_rating": self.suggested_rating, "rating": self.rating, "override": self.override,
            "effective_passed": None if self.draft else self.effective_passed,
            "time_taken": self.time_taken, "time_limit": self.time_limit, "over_time": self.over_time,
            "started_at": self.started_at, "created_at": self.created_at, "regrade": regrade,
        }


@dataclass(frozen=True)
class QuestionState:
    """What the history knows about one question: its latest graded attempt and its card."""

    question_id: str
    attempts: int
    last_score: float | None
    last_passed: bool | None
    last_attempted: str | None
    due: str | None  # ISO UTC; None when the question has no card yet


def _bool(v) -> bool | None:
    return None if v is None else bool(v)


def _json(v) -> Any:
    return None if v is None else json.loads(v)


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        id=row["id"], session_id=row["session_id"], question_id=row["question_id"], answer=row["answer"],
        draft=bool(row["draft"]), score=row["score"], passed=_bool(row["passed"]), pass_mark=row["pass_mark"],
        points=_json(row["points"]), grader_version=row["grader_version"],
        suggested_rating=row["suggested_rating"], rating=row["rating"], override=row["override"],
        time_taken=row["time_taken"], time_limit=row["time_limit"], over_time=bool(row["over_time"]),
        started_at=row["started_at"], created_at=row["created_at"], regrade_score=row["regrade_score"],
        regrade_passed=_bool(row["regrade_passed"]), regrade_points=_json(row["regrade_points"]),
        regrade_version=row["regrade_version"], regraded_at=row["regraded_at"],
    )


class _Unwritable(HistoryError):
    """The database (or its directory) cannot be written."""


class History:
    """The attempts, sessions and cards of one user. Opens (and migrates) the database on first use.

    `create=False` is for read-only commands: when the file does not exist yet they see an empty
    history instead of creating files as a side effect of `stats` or `history`.
    """

    def __init__(self, path: Path | str, create: bool = True):
        self.path = Path(path)
        self.create = create
        self._db: sqlite3.Connection | None = None

    # ------------------------------------------------------------ connection and migrations

    def _problem(self, what: str) -> HistoryError:
        return HistoryError(f"{self.path}: {what}")

    def _broken(self, exc: Exception) -> HistoryError:
        return self._problem(
            f"not a usable llmprep history database ({exc}); it was left untouched: move it aside "
            f"(e.g. `mv {self.path} {self.path}.broken`) to start a new history, or restore a backup"
        )

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        if not self.path.exists() and not self.create:
            target = ":memory:"
        else:
            target = str(self.path)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._problem(f"cannot create the data directory: {exc.strerror or exc}") from None
            if self.path.exists() and not self.path.is_file():
                raise self._problem("exists but is not a file")
        try:
            return self._connect(target)
        except _Unwritable:
            if self.create or target == ":memory:":
                raise
            # A read-only command in a directory it cannot write to (SQLite could not create the -shm file
            # beside the database): read the file as it is. Nobody can be writing to it there either.
            from urllib.parse import quote

            return self._connect(f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1", read_only=True)

    def _connect(self, target: str, read_only: bool = False) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; every write is an explicit short one.
            db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, uri=read_only)
        except sqlite3.Error as exc:
            raise self._problem(f"cannot open: {exc}") from None
        db.row_factory = sqlite3.Row
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._check_ours(db)
            if read_only:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    raise self._problem(
                        f"needs an upgrade (schema {version} to {SCHEMA_VERSION}) but {self.path.parent} is not "
                        "writable: run llmprep once where it can write, or fix the directory's permissions"
                    )
                return db
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
        except HistoryError:
            db.close()
            raise
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._problem(f"database is locked by another process ({exc}); try again") from None
            if "readonly" in str(exc) or "read-only" in str(exc) or "unable to open" in str(exc):
                raise _Unwritable(
                    f"{self.path}: cannot write ({exc}): llmprep writes the database and its -wal/-shm files in "
                    f"{self.path.parent}; make it writable, or set LLMPREP_HOME to a directory you can write to"
                ) from None
            raise self._broken(exc) from None
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._broken(exc) from None
        return db

    def _check_ours(self, db: sqlite3.Connection) -> None:
        """Refuse a database that llmprep did not create, or that a newer llmprep migrated."""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "migrations" not in tables:
            raise self._problem(
                "is an SQLite database but not an llmprep history (no 'migrations' table); "
                "it was left untouched: point LLMPREP_HOME at another directory or move the file aside"
            )
        version = db.execute("PRAGMA user_version").fetchone()[0]
        known = {name for name, _ in MIGRATIONS}
        applied = {r[0] for r in db.execute("SELECT name FROM migrations")} if tables else set()
        if version > SCHEMA_VERSION or applied - known:
            raise self._problem(
                f"was written by a newer llmprep (schema {max(version, len(applied))}, this llmprep knows "
                f"{SCHEMA_VERSION}); upgrade llmprep (pip install -U llmprep), or set LLMPREP_HOME to another directory"
            )

    def _migrate(self, db: sqlite3.Connection) -> list[str]:
        """Apply the migrations not yet recorded, each in its own transaction; return their names."""
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r[0] for r in db.execute("SELECT name FROM migrations")}
        applied = []
        for i, (name, statements) in enumerate(MIGRATIONS, 1):
            if name in done:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                # Re-check inside the write lock: another process may have just migrated.
                if db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    db.execute("COMMIT")
                    continue
                for stmt in statements:
                    db.execute(stmt)
                db.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    (name, utc_iso(datetime.now(timezone.utc))),
                )
                db.execute(f"PRAGMA user_version = {i}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            applied.append(name)
        return applied

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self._guard():
            return [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn an sqlite error in the middle of a session into one HistoryError naming the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._problem(f"database is locked by another process ({exc}); try again") from None
            raise self._problem(f"cannot use the history database ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise self._broken(exc) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (BEGIN IMMEDIATE … COMMIT)."""
        with self._guard():
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------ sessions

    def start_session(
        self, mode: str, started_at: datetime, *, lang: str | None = None, seed: int | None = None,
        time_limit: float | None = None, filters: dict | None = None, planned: list[str] | None = None,
    ) -> int:
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO sessions (mode, started_at, lang, seed, time_limit, filters, planned) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mode, utc_iso(started_at), lang, seed, time_limit,
                 json.dumps(filters or {}, ensure_ascii=False), json.dumps(planned or [], ensure_ascii=False)),
            )
            return int(cur.lastrowid)

    def end_session(self, session_id: int, ended_at: datetime, status: str) -> None:
        with self._write() as db:
            db.execute("UPDATE sessions SET ended_at = ?, status = ? WHERE id = ?", (utc_iso(ended_at), status, session_id))

    def sessions(self) -> list[dict]:
        with self._guard():
            return [dict(r) for r in self.db.execute("SELECT * FROM sessions ORDER BY id")]

    # ------------------------------------------------------------ attempts

    def record_attempt(
        self, *, session_id: int | None, question_id: str, answer: str, grade: dict, grader_version: str,
        suggested_rating: int, started_at: datetime, created_at: datetime, time_taken: float | None,
        time_limit: float | None = None, over_time: bool = False,
    ) -> int:
        """Store a graded attempt and commit it at once. `grade` is `Grade.to_dict()`."""
        with self._write() as db:
            cur = db.execute(
                """INSERT INTO attempts (session_id, question_id, answer, draft, score, passed, pass_mark, points,
                       grader_version, suggested_rating, time_taken, time_limit, over_time, started_at, created_at)
                   VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    session_id, question_id, answer, grade["score"], int(bool(grade["passed"])), grade.get("pass"),
                    json.dumps(grade["points"], ensure_ascii=False), grader_version, suggested_rating,
                    time_taken, time_limit, int(over_time), utc_iso(started_at), utc_iso(created_at),
                ),
            )
            return int(cur.lastrowid)

    def save_draft(
        self, *, session_id: int | None, question_id: str, answer: str, started_at: datetime, created_at: datetime,
        time_taken: float | None = None,
    ) -> int:
        """Keep an unfinished answer (Ctrl-C, :quit) as an ungraded draft."""
        with self._write() as db:
            cur = db.execute(
                """INSERT INTO attempts (session_id, question_id, answer, draft, time_taken, started_at, created_at)
                   VALUES (?, ?, ?, 1, ?, ?, ?)""",
                (session_id, question_id, answer, time_taken, utc_iso(started_at), utc_iso(created_at)),
            )
            return int(cur.lastrowid)

    def rate(
        self, attempt_id: int, rating: int, rated_at: datetime, *, override: bool = False,
        card: str | None = None, due: datetime | None = None,
    ) -> None:
        """Store the chosen rating (and a dispute) and the question's updated card, in one transaction."""
        with self._write() as db:
            row = db.execute("SELECT question_id FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row is None:
                raise HistoryError(f"{self.path}: no attempt #{attempt_id}")
            at = utc_iso(rated_at)
            db.execute(
                "UPDATE attempts SET rating = ?, rated_at = ?, override = ?, override_at = ? WHERE id = ?",
                (rating, at, "correct" if override else None, at if override else None, attempt_id),
            )
            if card is not None and due is not None:
                db.execute(
                    """INSERT INTO cards (question_id, card, due, updated_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT(question_id) DO UPDATE SET card = excluded.card, due = excluded.due,
                       updated_at = excluded.updated_at""",
                    (row["question_id"], card, utc_iso(due), at),
                )

    def set_regrade(self, attempt_id: int, grade: dict, grader_version: str, regraded_at: datetime) -> None:
        """Store a new grade beside the original one (which is never changed)."""
        with self._write() as db:
            db.execute(
                """UPDATE attempts SET regrade_score = ?, regrade_passed = ?, regrade_points = ?, regrade_version = ?,
                       regraded_at = ? WHERE id = ? AND draft = 0""",
                (grade["score"], int(bool(grade["passed"])), json.dumps(grade["points"], ensure_ascii=False),
                 grader_version, utc_iso(regraded_at), attempt_id),
            )

    def attempts(self, question_id: str | None = None, *, drafts: bool = True) -> list[Attempt]:
        """Attempts in the order they were made (oldest first)."""
        sql = "SELECT * FROM attempts"
        cond, args = [], []
        if question_id is not None:
            cond.append("question_id = ?")
            args.append(question_id)
        if not drafts:
            cond.append("draft = 0")
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        with self._guard():
            return [_attempt(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def latest_attempts(self) -> dict[str, Attempt]:
        """The latest graded attempt of each question."""
        with self._guard():
            rows = self.db.execute(
                """SELECT a.* FROM attempts a JOIN (SELECT max(id) AS id FROM attempts WHERE draft = 0
                   GROUP BY question_id) last ON a.id = last.id ORDER BY a.id"""
            )
            return {r["question_id"]: _attempt(r) for r in rows}

    def latest_draft(self, question_id: str) -> str | None:
        """The newest draft of a question, if it is newer than its newest graded attempt."""
        with self._guard():
            row = self.db.execute(
                """SELECT answer FROM attempts WHERE question_id = ? AND draft = 1 AND id > coalesce(
                   (SELECT max(id) FROM attempts WHERE question_id = ? AND draft = 0), 0) ORDER BY id DESC LIMIT 1""",
                (question_id, question_id),
            ).fetchone()
            return row["answer"] if row else None

    def question_states(self) -> dict[str, QuestionState]:
        """Per question: number of graded attempts, latest effective score/pass, time, and card due date."""
        with self._guard():
            rows = self.db.execute(
                f"""SELECT a.question_id AS qid, n.cnt AS cnt, {_EFF_SCORE} AS score, {_EFF_PASSED} AS passed,
                       a.created_at AS at, c.due AS due
                    FROM attempts a
                    JOIN (SELECT question_id, max(id) AS last_id, count(*) AS cnt FROM attempts WHERE draft = 0
                          GROUP BY question_id) n ON a.id = n.last_id
                    LEFT JOIN cards c ON c.question_id = a.question_id"""
            ).fetchall()
            states = {
                r["qid"]: QuestionState(r["qid"], r["cnt"], r["score"], _bool(r["passed"]), r["at"], r["due"]) for r in rows
            }
            for r in self.db.execute("SELECT question_id, due FROM cards"):
                if r["question_id"] not in states:
                    states[r["question_id"]] = QuestionState(r["question_id"], 0, None, None, None, r["due"])
            return states

    def card(self, question_id: str) -> str | None:
        with self._guard():
            row = self.db.execute("SELECT card FROM cards WHERE question_id = ?", (question_id,)).fetchone()
            return row["card"] if row else None

    def scores_by_time(self) -> list[tuple[str, str, float | None, bool]]:
        """(question id, created_at, effective score, effective pass) of every graded attempt, oldest first."""
        with self._guard():
            rows = self.db.execute(
                f"SELECT a.question_id AS qid, a.created_at AS at, {_EFF_SCORE} AS score, {_EFF_PASSED} AS passed "
                "FROM attempts a WHERE a.draft = 0 ORDER BY a.id"
            )
            return [(r["qid"], r["at"], r["score"], bool(r["passed"])) for r in rows]
