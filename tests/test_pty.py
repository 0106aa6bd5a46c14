"""`llmprep quiz` in a real pseudo-terminal (pexpect): prompt_toolkit editing in Chinese, the single
rating prompt, :quit and Ctrl-C, and what ends up in the database."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
TIMEOUT = 20


def spawn(home: Path, *args: str):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LLMPREP_HOME": str(home),
        "LANG": "C.UTF-8", "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    child = pexpect.spawn(
        sys.executable, ["-m", "llmprep", "--no-builtin", "--bank", str(QUIZ_BANK), "quiz", *args],
        env=env, encoding="utf-8", timeout=TIMEOUT, dimensions=(40, 120), cwd=str(Path(__file__).parent.parent),
    )
    return child


def attempts(home: Path) -> list[tuple]:
    db = sqlite3.connect(home / "history.sqlite3")
    try:
        return db.execute(
            "SELECT question_id, answer, draft, suggested_rating, rating, override FROM attempts ORDER BY id"
        ).fetchall()
    finally:
        db.close()


def test_chinese_answer_in_a_terminal(tmp_path):
    child = spawn(tmp_path, "--topic", "distributed", "--count", "2", "--seed", "5", "--lang", "zh")
    child.expect("第 1/2 题")
    child.expect("Ctrl-D")  # the hint names Ctrl-D and the "." line
    child.expect("›")
    child.send("每个 GPU 只和环上相邻的节点通信X")
    child.send("\x7f")  # backspace deletes the wide-character line's last char, not half of one
    child.send("\r")  # Enter: a new line, not a submit
    child.send("先 reduce-scatter 再 all-gather，带宽最优。\r")
    child.send(".\r")
    child.expect(r"\[1-4\]")  # the one prompt after an answer
    child.send("\r")  # Enter accepts the suggested rating
    child.expect("第 2/2 题")
    child.expect("›")
    child.send(":quit\r")
    child.expect("本次练习报告")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    (row,) = attempts(tmp_path)
    qid, answer, draft, suggested, rating, override = row
    assert answer == "每个 GPU 只和环上相邻的节点通信\n先 reduce-scatter 再 all-gather，带宽最优。"
    assert draft == 0 and rating == suggested and override is None
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    assert db.execute("SELECT status FROM sessions").fetchone() == ("quit",)
    assert db.execute("SELECT count(*) FROM cards").fetchone() == (1,)


def test_ctrl_c_keeps_a_draft_and_exits_130(tmp_path):
    child = spawn(tmp_path, "--count", "3", "--seed", "1", "--lang", "en")
    child.expect("Question 1/3")
    child.expect("›")
    child.send("first answer\r.\r")
    child.expect(r"\[1-4\]")
    child.send("d")  # dispute: "I was right"
    child.expect("Disputed")
    child.expect("Question 2/3")
    child.expect("›")
    child.send("half-typed 答案\rsecond line")
    child.sendintr()
    child.expect("Session report")
    child.expect("interrupted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    rows = attempts(tmp_path)
    assert rows[0][1:] == ("first answer", 0, 1, 3, "correct")
    assert rows[1][1:3] == ("half-typed 答案\nsecond line", 1)
