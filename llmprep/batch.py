"""`grade --batch`: JSON Lines in, one compact JSON object per row out, in order.

A big batch is graded by several processes (fork, so each starts with the loaded bank and compiled
rubrics): rows go out in chunks, results come back and are written in input order. A few hundred rows,
`--jobs 1`, or a platform without fork: one process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterator, TextIO

from .errors import LlmprepError

MAX_ANSWER_BYTES = 16 * 1024 * 1024
PARALLEL_MIN_ROWS = 400  # below this, starting workers costs more than it saves
CHUNK_ROWS = 128
MAX_JOBS = 8


def read_answer_file(path: Path | None) -> str:
    """Read an answer from a file (or stdin when path is None) as UTF-8 text; NUL bytes are dropped."""
    try:
        if path is None:
            data = sys.stdin.buffer.read(MAX_ANSWER_BYTES + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_ANSWER_BYTES + 1)
    except OSError as exc:
        raise LlmprepError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_ANSWER_BYTES:
        raise LlmprepError(f"{path or 'stdin'}: answer larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB")
    return data.decode("utf-8", errors="replace").replace("\x00", "")


def default_jobs() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_JOBS, cpus))


def grade_batch(grader, path: Path, out: TextIO, jobs: int | None = None) -> int:
    """Grade every row of `path`, writing one line per input row; returns the number of bad rows.

    jobs: worker processes (None: one per CPU, up to MAX_JOBS, for batches of PARALLEL_MIN_ROWS rows
    or more; 1: this process only)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise LlmprepError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        lines = _numbered(fh)
        first = _take(lines, PARALLEL_MIN_ROWS)
        if jobs is None:
            jobs = default_jobs() if len(first) >= PARALLEL_MIN_ROWS else 1
        if jobs > 1 and _can_fork():
            return _grade_parallel(grader, _chain(first, lines), out, jobs)
        bad = 0
        for chunk in _chunks(_chain(first, lines), CHUNK_ROWS):
            text, n_bad = _grade_rows(grader, chunk)
            out.write(text)
            bad += n_bad
        return bad


def _numbered(fh) -> Iterator[tuple[int, bytes]]:
    for lineno, raw in enumerate(fh, 1):
        if raw.strip():
            yield lineno, raw


def _take(it: Iterator, n: int) -> list:
    out = []
    for item in it:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _grade_rows(grader, rows) -> tuple[str, int]:
    """(output lines, number of bad rows) for (line number, raw bytes) rows."""
    parts = []
    bad = 0
    for lineno, raw in rows:
        try:
            row = _parse_row(raw)
            result = grader.grade(row["id"], row["answer"]).to_dict()
        except (ValueError, LlmprepError) as exc:
            bad += 1
            result = {"line": lineno, "error": str(exc)}
        parts.append(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
    return "".join(parts), bad


def _parse_row(raw: bytes) -> dict:
    try:
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(row, dict):
        raise ValueError('expected an object {"id": ..., "answer": ...}')
    if not isinstance(row.get("id"), str):
        raise ValueError('missing string "id"')
    if not isinstance(row.get("answer"), str):
        raise ValueError('missing string "answer"')
    answer = row["answer"].replace("\x00", "")
    if not answer.isascii():  # JSON can spell a lone surrogate ("\ud800"), which UTF-8 output cannot carry
        answer = answer.encode("utf-8", "replace").decode("utf-8")
    row["answer"] = answer
    return row


# ---------------------------------------------------------------- several processes


_WORKER_GRADER = None  # set in the parent just before the fork; each worker inherits it


def _can_fork() -> bool:
    import multiprocessing

    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _worker_chunk(rows: list[tuple[int, bytes]]) -> tuple[str, int, dict[str, bytes]]:
    """Grade a chunk; also hand back (pickled) the rubrics this worker had to compile, so the parent
    can cache them for the next run."""
    grader = _WORKER_GRADER
    text, bad = _grade_rows(grader, rows)
    fresh = {}
    if grader.fresh:
        from _pickle import dumps

        fresh = {qid: dumps(grader.compiled(qid), protocol=5) for qid in grader.fresh}
        grader.fresh = set()
    return text, bad, fresh


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _grade_parallel(grader, rows: Iterator, out: TextIO, jobs: int) -> int:
    import multiprocessing
    from collections import deque

    global _WORKER_GRADER
    if not getattr(grader, "blobs", None):
        grader.stats  # a cold cache: the bank statistics once here, not once per worker
    _WORKER_GRADER = grader
    bad = 0
    pending: deque = deque()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, initializer=_worker_init) as pool:
        for chunk in _chunks(rows, CHUNK_ROWS):
            pending.append(pool.apply_async(_worker_chunk, (chunk,)))
            if len(pending) >= jobs * 4:  # bounded look-ahead: a huge file is never all in memory
                bad += _collect(grader, pending.popleft().get(), out)
        while pending:
            bad += _collect(grader, pending.popleft().get(), out)
    _WORKER_GRADER = None
    return bad


def _collect(grader, result: tuple[str, int, dict[str, bytes]], out: TextIO) -> int:
    text, bad, fresh = result
    out.write(text)
    if fresh:
        blobs = getattr(grader, "blobs", None)
        if blobs is not None:
            for qid, blob in fresh.items():
                if qid not in blobs:
                    blobs[qid] = blob
                    grader.new_blobs = getattr(grader, "new_blobs", 0) + 1
    return bad
