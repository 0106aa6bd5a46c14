"""`grade --batch`: JSON Lines in, one compact JSON object per row out, in order."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from .errors import LlmprepError

MAX_ANSWER_BYTES = 16 * 1024 * 1024


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


def grade_batch(grader, path: Path, out: TextIO) -> int:
    """Grade every row of `path`, writing one line per input row; returns the number of bad rows."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise LlmprepError(f"{path}: cannot read: {exc.strerror or exc}") from None
    bad = 0
    with fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = _parse_row(raw)
                result = grader.grade(row["id"], row["answer"]).to_dict()
            except (ValueError, LlmprepError) as exc:
                bad += 1
                result = {"line": lineno, "error": str(exc)}
            out.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
    return bad


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
    row["answer"] = row["answer"].replace("\x00", "")
    return row
