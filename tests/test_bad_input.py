"""Bad input through the real CLI (a subprocess, as a user runs it): every bad bank, bad answer and bad
batch row gives one line naming file:line or the id, the documented exit code (1 for a user error,
2 for a bad command line) and never a traceback; hostile text is shown, never interpreted.

The loader's own checks (every message, in process) are in test_bank.py; grading edge cases in
test_cli.py; Markdown escaping in test_export.py. This file proves the same holds end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bank import GOOD_Q, GOOD_R

ROOT = Path(__file__).parent.parent
FIXTURE_BANK = Path(__file__).parent / "fixtures" / "bank"
TIMEOUT = 60


def llmprep(home: Path, *args: str, input: str | bytes | None = None, banks: tuple[Path, ...] = (FIXTURE_BANK,)):
    cmd = [sys.executable, "-m", "llmprep", "--no-builtin"]
    for b in banks:
        cmd += ["--bank", str(b)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPREP_")}
    env.update(LLMPREP_HOME=str(home), LANG="C.UTF-8", NO_COLOR="1", COLUMNS="120")
    text = not isinstance(input, bytes)
    result = subprocess.run(cmd + list(args), input=input, capture_output=True, env=env, cwd=ROOT, timeout=TIMEOUT, text=text)
    if not text:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    return result


def one_line_error(result, code: int = 1) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == code, (result.returncode, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("llmprep: error: ") or code == 2
    return line


# ---------------------------------------------------------------- bad banks


BAD_BANKS = {
    # name: (questions.yaml, rubrics.yaml, what the one-line error says)
    "malformed YAML": ("version: 1\nquestions:\n  - id: a\n    topic: [unclosed\n", None, "questions.yaml:5: "),
    "tab indentation": ("version: 1\nquestions:\n\t- id: a\n", None, "questions.yaml:3: tab character in indentation"),
    "unknown key": (GOOD_Q.replace("    tags: [collectives]\n", "    tags: [collectives]\n    colour: red\n"), GOOD_R,
                    "questions.yaml:8: question q-one: unknown key 'colour'"),
    "difficulty 'hard'": (GOOD_Q.replace("difficulty: 2", 'difficulty: "hard"'), GOOD_R,
                          "questions.yaml:6: question q-one: 'difficulty' must be an integer in 1..3, got 'hard'"),
    "weight -1": (GOOD_Q, GOOD_R.replace("weight: 2", "weight: -1"),
                  "rubrics.yaml:7: rubric q-one point ring: 'weight' must be a number"),
    "need > concepts": (GOOD_Q, GOOD_R.replace("need: 2", "need: 3"),
                        "rubrics.yaml:10: rubric q-one point ring: need 3 is larger than its 2 keyword concept(s)"),
    "rubric for an unknown question": (GOOD_Q, GOOD_R.replace("q-one:", "q-nine:"),
                                       "rubrics.yaml:3: rubric q-nine: no question with this id"),
    "empty keywords": (GOOD_Q, GOOD_R.replace("keywords: [[相邻, neighbour], [环, ring]]", "keywords: []"),
                       "rubrics.yaml:9: rubric q-one point ring: 'keywords' must be a non-empty list"),
    "empty keyword": (GOOD_Q, GOOD_R.replace("keywords: [[相邻, neighbour], [环, ring]]", 'keywords: [["", " "]]'),
                      "rubric q-one point ring: each keyword must be a non-empty string"),
    "empty text": (GOOD_Q.replace('prompt: "Write a loop."', 'prompt: "  "'), GOOD_R,
                   "questions.yaml:15: question q-two: 'prompt' is empty"),
    "non-UTF-8": (GOOD_Q.encode().replace(b"Write a loop.", b"Write \xff loop."), GOOD_R,
                  "questions.yaml:15: not valid UTF-8"),
    "empty file": ("", None, "questions.yaml:1: expected a mapping with 'version: 1' and 'questions:'"),
    "no questions": ("version: 1\nquestions: []\n", None, "the bank holds no questions"),
    "!!int that is no int": (GOOD_Q.replace("difficulty: 2", "difficulty: !!int two"), GOOD_R,
                             "questions.yaml:6: 'two' is not a valid !!int"),
    "bad date": (GOOD_Q.replace('source: "seed:9"', "source: !!timestamp 2024-13-45"), GOOD_R,
                 "questions.yaml:8: '2024-13-45' is not a valid !!timestamp"),
    "two documents": (GOOD_Q + "---\nversion: 1\n", GOOD_R, "but found another document"),
    "undefined alias": (GOOD_Q.replace("tags: [collectives]", "tags: *nowhere"), GOOD_R,
                        "questions.yaml:7: found undefined alias 'nowhere'"),
    "merge key": (GOOD_Q.replace("    tags: [collectives]\n", "    <<: {tags: [x]}\n"), GOOD_R,
                  "questions.yaml:7: could not determine a constructor for the tag 'tag:yaml.org,2002:merge'"),
    "nested too deeply": ("version: 1\nquestions: " + "[" * 3000 + "]" * 3000 + "\n", None, "questions.yaml"),
}


@pytest.mark.parametrize("case", list(BAD_BANKS), ids=list(BAD_BANKS))
def test_a_bad_bank_is_one_line_naming_file_and_line(tmp_path, make_bank, case):
    questions, rubrics, expected = BAD_BANKS[case]
    bank = make_bank(questions, rubrics)
    result = llmprep(tmp_path / "home", "list", banks=(bank,))
    line = one_line_error(result)
    assert expected in line, line
    assert str(bank) in line or "the bank holds no questions" in line
    assert result.stdout == ""


def test_validate_lists_every_problem_of_several_files_with_exit_1(tmp_path, make_bank):
    bank = make_bank(
        GOOD_Q.replace("difficulty: 2", 'difficulty: "hard"').replace("    tags: [collectives]\n", "    tags: [c]\n    colour: red\n"),
        GOOD_R.replace("weight: 2", "weight: -1").replace("q-one:", "q-nine:"),
    )
    result = llmprep(tmp_path / "home", "validate", banks=(bank,))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    problems = result.stdout.strip().splitlines()
    assert len(problems) == 4 and all(f"{bank}{os.sep}" in p for p in problems), problems
    assert result.stderr.strip() == "4 problem(s) in 2 question(s)"
    # Unchanged files, second run: the same answer, now from the cache.
    again = llmprep(tmp_path / "home", "validate", banks=(bank,))
    assert (again.returncode, again.stdout, again.stderr) == (1, result.stdout, result.stderr)


def test_a_python_tag_is_never_run(tmp_path, make_bank):
    marker = tmp_path / "pwned"
    for tag in ("!!python/object/apply:os.system", "!!python/object/new:os.system", "!python/object/apply:os.system"):
        evil = GOOD_Q.replace('prompt: "Write a loop."', f'prompt: {tag} ["touch {marker}"]')
        for command in ("list", "validate"):
            result = llmprep(tmp_path / "home", command, banks=(make_bank(evil, name=f"b{len(list(tmp_path.iterdir()))}"),))
            assert result.returncode == 1 and "Traceback" not in result.stderr
            assert "questions.yaml:15:" in (result.stderr + result.stdout)
    assert not marker.exists()


def test_duplicate_ids_across_two_banks(tmp_path, make_bank):
    a, b = make_bank(GOOD_Q, name="a"), make_bank(GOOD_Q, name="b")
    line = one_line_error(llmprep(tmp_path / "home", "list", banks=(a, b)))
    assert f"{b}{os.sep}questions.yaml:3: question q-one: duplicate id (first defined at {a}{os.sep}questions.yaml:3)" in line


def test_billion_laughs_is_not_expanded(tmp_path, make_bank):
    lol = "version: 1\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        lol += f"lol{i}: &l{i} [*l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}]\n"
    lol += "questions:\n  - id: a\n    topic: t\n    kind: concept\n    tags: *l9\n    prompt: *l9\n    answer: x\n"
    result = llmprep(tmp_path / "home", "validate", banks=(make_bank(lol),))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown key 'lol0'" in result.stdout and "'prompt' must be a string" in result.stdout


def test_unreadable_bank_paths(tmp_path):
    line = one_line_error(llmprep(tmp_path / "home", "list", banks=(tmp_path / "nope",)))
    assert f"{tmp_path / 'nope'}: bank directory not found" in line
    (tmp_path / "empty").mkdir()
    line = one_line_error(llmprep(tmp_path / "home", "list", banks=(tmp_path / "empty",)))
    assert "questions.yaml: missing (a bank directory needs questions.yaml)" in line
    odd = tmp_path / "odd"
    (odd / "questions.yaml").mkdir(parents=True)  # a directory where the file should be
    line = one_line_error(llmprep(tmp_path / "home", "list", banks=(odd,)))
    assert "questions.yaml" in line


# ---------------------------------------------------------------- bad answers and ids


def test_unknown_question_id(tmp_path):
    for command in (["grade", "nope", "--answer", "x"], ["show", "nope"], ["history", "nope"]):
        line = one_line_error(llmprep(tmp_path / "home", *command))
        assert line == "llmprep: error: unknown question id 'nope' (see `llmprep list`)"


def test_usage_errors_exit_2(tmp_path):
    for command in (["grade"], ["grade", "dist-sync", "--answer", "a", "--answer-file", "b"], ["frobnicate"],
                    ["quiz", "--count", "0"], ["export", "--format", "pdf"], ["review"]):
        result = llmprep(tmp_path / "home", *command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (command, result.stderr)


def test_a_batch_with_bad_lines_still_grades_the_good_ones(tmp_path):
    good = {"id": "dist-ring-allreduce", "answer": "each GPU talks to its ring neighbours: reduce-scatter then all-gather"}
    bad = ["{not json", json.dumps({"id": "nope", "answer": "x"}), json.dumps({"id": "dist-sync"}), '"a string"']
    lines = []
    for i in range(600):  # big enough to be graded by several processes
        lines.append(bad[i // 100] if i % 100 == 7 and i // 100 < len(bad) else json.dumps(good))
    lines.insert(300, "")  # a blank line is skipped, not an error
    # A lone surrogate is valid JSON but no UTF-8: graded (as U+FFFD), and the output stays UTF-8.
    lines[450] = json.dumps({"id": "dist-ring-allreduce", "answer": "reduce\ud800scatter \udcff all-gather"})
    lines.append("\xff")  # not UTF-8 once encoded below
    path = tmp_path / "rows.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8").replace(b"\xc3\xbf", b"\xff") + b"\n")
    for jobs in ("1", "2"):
        result = llmprep(tmp_path / "home", "grade", "--batch", str(path), "--jobs", jobs)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip() == f"llmprep: error: {path}: 5 bad row(s), see the 'error' objects in the output"
        out = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(out) == 601  # one output line per non-blank input line, in order
        errors = [(o["line"], o["error"].split(":")[0].split(" (")[0]) for o in out if "error" in o]
        assert errors == [(8, "invalid JSON"), (108, "unknown question id 'nope'"), (208, 'missing string "answer"'),
                          (309, "expected an object {\"id\""), (602, "not valid UTF-8")], errors
        assert sum(1 for o in out if o.get("id") == "dist-ring-allreduce" and o["score"] > 0.5) == 595
        surrogate = out[449]["points"][1]["matched"][0]
        assert surrogate["found"] == "reduce?scatter"


def test_huge_binary_and_nul_answers(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(("all-reduce ring neighbours 带宽最优 " * 40000)[:1_000_000], encoding="utf-8")
    result = llmprep(tmp_path / "home", "grade", "dist-ring-allreduce", "--answer-file", str(big), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["score"] > 0
    binary = b"\x00\xff\xfe\x1b[2J neighbour \x00\x00 reduce-scatter all-gather \xc3"
    result = llmprep(tmp_path / "home", "grade", "dist-ring-allreduce", "--json", input=binary)  # from stdin
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["points"][0]["score"] == 1.0
    (tmp_path / "too-big").write_bytes(b"x" * (16 * 1024 * 1024 + 1))
    line = one_line_error(llmprep(tmp_path / "home", "grade", "dist-sync", "--answer-file", str(tmp_path / "too-big")))
    assert "answer larger than 16 MB" in line
    line = one_line_error(llmprep(tmp_path / "home", "grade", "dist-sync", "--answer-file", str(tmp_path / "none")))
    assert "none: cannot read" in line


# ---------------------------------------------------------------- hostile text is shown, not interpreted

# Sequences a terminal would act on (clear the screen, set the title, a hyperlink), rich markup and Markdown.
ESC = "\x1b[2J\x1b]0;PWNED\x07\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"
HOSTILE_Q = f"""\
version: 1
questions:
  - id: evil
    topic: hostile
    kind: concept
    prompt: "[bold red]Prompt[/bold red] [link=http://evil.example]x[/link] {ESC.encode('unicode_escape').decode()} # heading"
    answer: "[blink]reference[/blink] {ESC.encode('unicode_escape').decode()} <script>x</script>"
"""
HOSTILE_R = f"""\
version: 1
rubrics:
  evil:
    points:
      - id: p1
        text: "[x] all-reduce [/] {ESC.encode('unicode_escape').decode()}"
        keywords: [[all-reduce], ["[red]ring[/red]"]]
"""
ANSWER = f"[bold]all-reduce[/bold] over a [red]ring[/red] {ESC} <b>**done**</b>"
WRONG_ANSWER = f"# [bold]no idea[/bold]\n> {ESC} <b>**done**</b>\n1. | a | b |"


def _shown_not_interpreted(out: str) -> None:
    for raw in ("\x1b[2J", "\x1b]0;", "\x1b]8;", "\x07"):
        assert raw not in out
    assert "\\x1b[2J" in out  # shown as visible text instead


def test_hostile_text_in_show_grade_and_quiz(tmp_path, make_bank):
    bank = make_bank(HOSTILE_Q, HOSTILE_R)
    home = tmp_path / "home"
    show = llmprep(home, "show", "evil", "--lang", "en", banks=(bank,))
    assert show.returncode == 0, show.stderr
    _shown_not_interpreted(show.stdout)
    assert "[bold red]Prompt[/bold red] [link=http://evil.example]x[/link]" in show.stdout
    assert "[blink]reference[/blink]" in show.stdout and "[x] all-reduce [/]" in show.stdout
    grade = llmprep(home, "grade", "evil", "--answer", ANSWER, "--lang", "en", banks=(bank,))
    assert grade.returncode == 0, grade.stderr
    _shown_not_interpreted(grade.stdout)
    assert "[bold red]Prompt[/bold red]" in show.stdout
    quiz = llmprep(home, "quiz", "--count", "1", "--lang", "en", input=ANSWER + "\n.\n", banks=(bank,))
    assert quiz.returncode == 0, quiz.stderr
    _shown_not_interpreted(quiz.stdout)
    assert "[bold red]Prompt[/bold red] [link=http://evil.example]x[/link]" in quiz.stdout
    history = llmprep(home, "history", "evil", "--lang", "en", banks=(bank,))
    assert history.returncode == 0, history.stderr
    _shown_not_interpreted(history.stdout)
    assert "[bold]all-reduce[/bold] over a [red]ring[/red]" in history.stdout  # my answer, as typed


def test_hostile_text_in_exports(tmp_path, make_bank):
    from markdown_it import MarkdownIt

    bank = make_bank(HOSTILE_Q, HOSTILE_R)
    home = tmp_path / "home"
    assert llmprep(home, "quiz", "--count", "1", input=WRONG_ANSWER + "\n.\n", banks=(bank,)).returncode == 0
    md = llmprep(home, "export", "--wrong", "--lang", "en", banks=(bank,))  # includes my last answer
    assert md.returncode == 0, md.stderr
    assert "no idea" in md.stdout
    assert "\x1b" not in md.stdout and "\x07" not in md.stdout
    tokens = MarkdownIt("commonmark").enable("table").parse(md.stdout)
    assert not [t for t in tokens if t.type in ("html_block", "blockquote_open", "table_open")]
    inline = [c for t in tokens if t.type == "inline" for c in t.children]
    assert not [c for c in inline if c.type == "html_inline"]
    assert all(c.attrs["href"].startswith("#") for c in inline if c.type == "link_open")
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2", "h3"]
    anki = llmprep(home, "export", "--format", "anki", "--lang", "en", banks=(bank,))
    assert anki.returncode == 0, anki.stderr
    assert "\x1b" not in anki.stdout
    cards = [line for line in anki.stdout.splitlines() if line and not line.startswith("#")]
    assert len(cards) == 1 and cards[0].count("\t") >= 1


def test_hostile_bank_text_in_a_terminal(tmp_path, make_bank):
    """The same in a real terminal, where rich writes its own escape codes: the bank's never get through."""
    import io

    pexpect = pytest.importorskip("pexpect")
    bank = make_bank(HOSTILE_Q, HOSTILE_R)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LLMPREP_HOME": str(tmp_path / "home"),
           "LANG": "C.UTF-8", "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "llmprep", "--no-builtin", "--bank", str(bank), "quiz", "--count", "1",
                                           "--lang", "en"], env=env, encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(40, 200), cwd=str(ROOT))
    child.logfile_read = output = io.StringIO()
    child.expect("›")
    child.send("all-reduce on a ring\r.\r")
    child.expect(r"\[1-4\]")
    child.send("\r")
    child.expect("Total:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    out = output.getvalue()
    _shown_not_interpreted(out)
    assert "[bold red]Prompt[/bold red]" in out and "[blink]reference[/blink]" in out
