"""Fault drills, each in a real process: Ctrl-C, EOF and kill -9 in the middle of a session, two sessions
at once on one data dir, corrupt / truncated / newer-schema databases, read-only and missing data dirs,
and exports that cannot be written. After each: nothing graded is lost, the user's files are untouched,
and the user sees one line saying what happened and what to do (never a traceback)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
from pexpect.popen_spawn import PopenSpawn  # noqa: E402

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
ROOT = Path(__file__).parent.parent
TIMEOUT = 30


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPREP_")}
    env.update(LLMPREP_HOME=str(home), LANG="C.UTF-8", PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="100")
    env.pop("VISUAL", None)
    env.pop("EDITOR", None)
    env.update(extra)
    return env


def _cmd(*args: str, bank: Path = QUIZ_BANK, prelude: str = "") -> list[str]:
    """`python -m llmprep --no-builtin --bank BANK ARGS`, optionally after some Python (a fault injector)."""
    cli = ["--no-builtin", "--bank", str(bank), *args]
    if prelude:
        return [sys.executable, "-c", textwrap.dedent(prelude) + "\nfrom llmprep.cli import main\nmain()\n", *cli]
    return [sys.executable, "-m", "llmprep", *cli]


def run(home: Path, *args: str, input: str | None = None, bank: Path = QUIZ_BANK, prelude: str = "", **kw):
    return subprocess.run(
        _cmd(*args, bank=bank, prelude=prelude), input=input, capture_output=True, text=True,
        env=_env(home), cwd=ROOT, timeout=TIMEOUT, **kw,
    )


def spawn(home: Path, *args: str, bank: Path = QUIZ_BANK) -> PopenSpawn:
    """A session on pipes (stdin not a terminal: answers end with a "." line, ratings are not asked)."""
    return PopenSpawn(_cmd(*args, bank=bank), env=_env(home), cwd=str(ROOT), encoding="utf-8", timeout=TIMEOUT)


def rows(home: Path, sql: str = "SELECT question_id, answer, draft, score IS NOT NULL FROM attempts ORDER BY id"):
    db = sqlite3.connect(home / "history.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def one_line_error(stderr: str) -> str:
    """The whole of stderr must be one `llmprep: error: ...` line (no traceback)."""
    assert "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith("llmprep: error: ")
    return line


# ---------------------------------------------------------------- Ctrl-C, EOF, kill -9


def test_ctrl_c_while_typing_an_answer_on_a_pipe(tmp_path):
    child = spawn(tmp_path, "quiz", "--count", "3", "--seed", "1", "--lang", "en")
    child.expect("Question 1/3")
    child.sendline("idle time while the pipeline fills and drains\n.")
    child.expect("Question 2/3")
    child.send("keys and values of earlier tokens\nsecond line\n")  # no "." yet: still typing
    child.expect("What does the KV cache do")
    child.kill(signal.SIGINT)
    child.expect("Session report")
    child.expect("Total:")
    child.expect(pexpect.EOF)
    assert child.wait() == 130
    assert rows(tmp_path) == [
        ("dist-pipeline", "idle time while the pipeline fills and drains", 0, 1),
        ("inf-kv-cache", "keys and values of earlier tokens\nsecond line", 1, 0),  # kept as a draft
    ]
    assert rows(tmp_path, "SELECT status FROM sessions") == [("interrupted",)]


# Sends SIGINT to the process itself right after the session report's first line is printed.
CTRL_C_IN_REPORT = """
    import os, signal
    import llmprep.render as render
    original = render.session_report
    def session_report(console, report, lang):
        real_print = console.print
        def print_then_ctrl_c(*args, **kwargs):
            real_print(*args, **kwargs)
            console.print = real_print
            os.kill(os.getpid(), signal.SIGINT)
        console.print = print_then_ctrl_c
        return original(console, report, lang)
    render.session_report = session_report
"""


def test_ctrl_c_while_the_report_prints(tmp_path):
    result = run(tmp_path, "quiz", "--count", "2", "--seed", "1", "--lang", "en",
                 input="idle time while the pipeline fills and drains\n.\nkeys and values\n.\n", prelude=CTRL_C_IN_REPORT)
    assert result.returncode == 130
    assert "Session report" in result.stdout and "Total: " in result.stdout  # printed whole
    assert result.stderr.strip() == "llmprep: interrupted (answers so far are saved)"
    assert [r[:3] for r in rows(tmp_path)] == [("dist-pipeline", "idle time while the pipeline fills and drains", 0),
                                                ("inf-kv-cache", "keys and values", 0)]
    assert rows(tmp_path, "SELECT status FROM sessions") == [("finished",)]


def test_eof_in_the_middle_of_a_session(tmp_path):
    # The input ends inside the second answer (no "." line): that answer is graded and the session stops.
    result = run(tmp_path, "quiz", "--count", "3", "--seed", "1", "--lang", "en",
                 input="idle time while the pipeline fills and drains\n.\nkeys and values of earlier")
    assert result.returncode == 0, result.stderr
    assert "input ended after 2 of 3" in result.stdout
    assert rows(tmp_path) == [("dist-pipeline", "idle time while the pipeline fills and drains", 0, 1),
                              ("inf-kv-cache", "keys and values of earlier", 0, 1)]
    assert rows(tmp_path, "SELECT status FROM sessions") == [("eof",)]
    # ... and right after a finished answer: nothing more to grade, nothing lost.
    result = run(tmp_path, "quiz", "--count", "3", "--seed", "2", "--lang", "en", input="an answer\n.\n")
    assert result.returncode == 0 and len(rows(tmp_path)) == 3


def test_kill_9_mid_session_loses_nothing_graded(tmp_path):
    child = spawn(tmp_path, "quiz", "--count", "3", "--seed", "1", "--lang", "en")
    child.expect("Question 1/3")
    child.sendline("idle time while the pipeline fills and drains\n.")
    child.expect("Question 2/3")
    child.sendline("keys and values of earlier tokens\n.")
    child.expect("Question 3/3")
    child.send("subtract the max then exp")  # being typed when the process dies
    child.expect("softmax")
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF)
    assert child.wait() == -signal.SIGKILL
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    assert rows(tmp_path) == [("dist-pipeline", "idle time while the pipeline fills and drains", 0, 1),
                              ("inf-kv-cache", "keys and values of earlier tokens", 0, 1)]
    # The next run opens the database cleanly and sees both attempts (and the dead session as running).
    result = run(tmp_path, "history", "--json")
    assert result.returncode == 0, result.stderr
    assert '"question_id": "dist-pipeline"' in result.stdout and '"question_id": "inf-kv-cache"' in result.stdout
    result = run(tmp_path, "quiz", "--count", "1", "--seed", "3", input="another\n.\n")
    assert result.returncode == 0, result.stderr
    assert len(rows(tmp_path)) == 3


def _bank_of(n: int, root: Path) -> Path:
    d = root / "bank"
    d.mkdir()
    lines = ["version: 1", "questions:"]
    for i in range(n):
        lines += [f"  - id: q{i:02d}", "    topic: training", "    kind: concept",
                  f'    prompt: "What is concept number {i}?"', f'    answer: "Concept {i} means alpha{i} beta{i} gamma."']
    (d / "questions.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def test_concurrent_sessions_on_one_data_dir_lose_nothing(tmp_path):
    bank = _bank_of(20, tmp_path)
    home = tmp_path / "home"  # does not exist yet: the processes race to create and migrate it too
    answers = "".join(f"alpha{i} beta{i} answer from process\n.\n" for i in range(20))
    procs = [
        subprocess.Popen(_cmd("quiz", "--count", "20", "--seed", str(k), bank=bank), stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(home), cwd=ROOT)
        for k in range(4)
    ]
    for p in procs:
        p.stdin.write(answers)
        p.stdin.close()
    errors = [p.stderr.read() for p in procs]
    codes = [p.wait(timeout=TIMEOUT * 4) for p in procs]
    assert codes == [0, 0, 0, 0], errors
    assert not any("locked" in e or "Traceback" in e for e in errors), errors
    assert rows(home, "SELECT count(*), count(DISTINCT session_id), sum(rating IS NOT NULL) FROM attempts") == [(80, 4, 80)]
    assert rows(home, "SELECT status, count(*) FROM sessions GROUP BY status") == [("finished", 4)]
    assert rows(home, "SELECT count(*) FROM cards") == [(20,)]


# ---------------------------------------------------------------- broken databases


def _make_history(home: Path) -> Path:
    result = run(home, "quiz", "--count", "2", "--seed", "1", input="first answer\n.\nsecond answer\n.\n")
    assert result.returncode == 0, result.stderr
    db = home / "history.sqlite3"
    sqlite3.connect(db).close()  # the last connection to close checkpoints the WAL into the file
    assert not (home / "history.sqlite3-wal").exists() or (home / "history.sqlite3-wal").stat().st_size == 0
    return db


@pytest.mark.parametrize("damage", ["garbage", "truncated", "newer"])
@pytest.mark.parametrize("command", [["quiz", "--count", "1"], ["history"], ["stats"]])
def test_a_broken_database_is_named_and_left_untouched(tmp_path, damage, command):
    home = tmp_path / "home"
    db = _make_history(home)
    if damage == "garbage":
        db.write_bytes(os.urandom(4096) + b"not a database" * 100)
    elif damage == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2 + 100])
    else:
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 99")
        con.execute("INSERT INTO migrations VALUES ('0099_from_the_future', '2030-01-01T00:00:00Z')")
        con.commit()
        con.close()
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    before = db.read_bytes()
    result = run(home, *command, input="an answer\n.\n")
    line = one_line_error(result.stderr)
    assert result.returncode == 1
    assert str(db) in line
    if damage == "newer":
        assert "newer llmprep" in line and "upgrade llmprep" in line
    else:
        assert "move it aside" in line and "backup" in line
    assert db.read_bytes() == before  # never overwritten (nor deleted)


# ---------------------------------------------------------------- data dir


class ReadOnly:
    """Make a directory (and what is in it) unwritable, for root too: chmod for a normal user,
    `chattr +i` for root (root ignores permission bits). Skips when neither works here."""

    def __init__(self, path: Path):
        self.path = path
        self.items = [path, *sorted(path.rglob("*"))]
        self.root = os.geteuid() == 0
        self.modes: dict[Path, int] = {}

    def __enter__(self):
        if self.root:
            if not shutil.which("chattr"):
                pytest.skip("running as root without chattr: cannot make a directory read-only")
            done = subprocess.run(["chattr", "+i", *map(str, self.items)], capture_output=True)
            if done.returncode != 0:
                subprocess.run(["chattr", "-i", *map(str, self.items)], capture_output=True)
                pytest.skip(f"chattr +i not supported here: {done.stderr.decode().strip()}")
        else:
            for p in reversed(self.items):
                self.modes[p] = p.stat().st_mode
                p.chmod(stat.S_IMODE(self.modes[p]) & ~0o222)
        return self

    def __exit__(self, *exc):
        if self.root:
            subprocess.run(["chattr", "-i", *map(str, self.items)], capture_output=True)
        else:
            for p, mode in self.modes.items():
                p.chmod(stat.S_IMODE(mode))


def test_read_only_data_dir(tmp_path):
    home = tmp_path / "home"
    db = _make_history(home)
    (home / "history.sqlite3-shm").unlink(missing_ok=True)
    (home / "history.sqlite3-wal").unlink(missing_ok=True)
    before = db.read_bytes()
    with ReadOnly(home):
        # A session needs to write: it stops before the first question, naming the file and the fix.
        result = run(home, "quiz", "--count", "1", input="an answer\n.\n")
        line = one_line_error(result.stderr)
        assert result.returncode == 1 and str(home) in line
        assert "Question 1" not in result.stdout
        # Grading records nothing: it works (the bank cache is an optimisation, skipped when unwritable).
        result = run(home, "grade", "dist-ring", "--answer", "ring neighbours", "--json")
        assert result.returncode == 0, result.stderr
        assert '"id": "dist-ring"' in result.stdout
        # Reading the history needs no write either.
        result = run(home, "history", "--json")
        assert result.returncode == 0, result.stderr
        assert result.stdout.count('"question_id"') == 2
    assert db.read_bytes() == before


def test_missing_data_dir_is_created_only_when_something_is_saved(tmp_path):
    home = tmp_path / "does" / "not" / "exist"
    for command in (["history"], ["stats", "--json"], ["review", "--due", "--list"]):
        result = run(home, *command)
        assert result.returncode == 0, result.stderr
    assert not (home / "history.sqlite3").exists()
    result = run(home, "quiz", "--count", "1", "--seed", "1", input="an answer\n.\n")
    assert result.returncode == 0, result.stderr
    assert len(rows(home)) == 1


def test_data_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run(blocker / "home", "quiz", "--count", "1", input="an answer\n.\n")
    line = one_line_error(result.stderr)
    assert result.returncode == 1 and "cannot create the data directory" in line and str(blocker) in line
    assert blocker.read_text() == "not a directory"


# ---------------------------------------------------------------- exports that cannot be written


def _no_temp_files(d: Path) -> bool:
    return not [p for p in d.iterdir() if p.name.endswith(".tmp")]


def test_export_to_a_full_disk_leaves_the_old_file(tmp_path):
    out = tmp_path / "guide.md"
    out.write_text("the previous guide\n")

    def small_files():  # every file this process writes is cut at 2 kB: a disk that fills up
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    result = run(tmp_path / "home", "export", "-o", str(out), preexec_fn=small_files)
    line = one_line_error(result.stderr)
    assert result.returncode == 1 and str(out) in line and "cannot write" in line
    assert out.read_text() == "the previous guide\n"  # not half of a new one
    assert _no_temp_files(tmp_path)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_export_to_dev_full(tmp_path):
    result = run(tmp_path / "home", "export", "-o", "/dev/full")
    line = one_line_error(result.stderr)
    assert result.returncode == 1 and "/dev/full" in line and "No space left on device" in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # still the device, not a file renamed over it


def test_export_to_an_unwritable_place(tmp_path):
    result = run(tmp_path / "home", "export", "-o", str(tmp_path / "no-such-dir" / "guide.md"))
    line = one_line_error(result.stderr)
    assert result.returncode == 1 and "no-such-dir" in line and "cannot write" in line
    locked = tmp_path / "locked"
    locked.mkdir()
    with ReadOnly(locked):
        result = run(tmp_path / "home", "export", "-o", str(locked / "guide.md"))
        line = one_line_error(result.stderr)
        assert result.returncode == 1 and "cannot write" in line
    assert list(locked.iterdir()) == []
