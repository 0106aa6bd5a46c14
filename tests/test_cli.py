"""The non-interactive commands through CliRunner: list, show, grade (single and batch), validate."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmprep import __version__
from llmprep.cli import app

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "bank"

FIX = ["--no-builtin", "--bank", str(FIXTURE_BANK)]


def run(*args, input=None, env=None):
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False, env=env)


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"llmprep {__version__}\n"


@pytest.mark.parametrize("command", ["list", "show", "grade", "validate", "quiz", "review", "history", "regrade", "stats", "export"])
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    if result.exit_code == 2 and "No such command" in result.output:
        pytest.skip(f"{command} not implemented in this build")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_list_json_has_the_contract_fields():
    result = run(*FIX, "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == ["dist-ring-allreduce", "dist-sync"]
    assert rows[0] == {
        "id": "dist-ring-allreduce", "topic": "distributed", "kind": "concept", "difficulty": 2,
        "source": None, "languages": ["zh", "en"], "tags": ["collectives"], "prompt": "What is ring all-reduce?",
    }


def test_list_unknown_topic_is_a_user_error():
    result = run(*FIX, "list", "--topic", "cooking")
    assert result.exit_code == 1
    assert result.stderr.startswith("llmprep: error: unknown topic 'cooking'")


def test_show_prints_question_reference_and_rubric_in_chinese():
    result = run(*FIX, "show", "dist-ring-allreduce", "--lang", "zh")
    assert result.exit_code == 0
    out = result.stdout
    assert "什么是 Ring All-Reduce？" in out and "参考答案" in out and "每个 GPU 只与环上相邻的两个节点通信" in out
    assert "- ring (weight 2): 环上相邻节点通信" in out
    assert "reduce-scatter / 规约散射 | all-gather / 全收集" in out


def test_grade_json_contract_and_evidence():
    answer = "Each GPU exchanges chunks with its neighbours in a ring: reduce-scatter, then all-gather."
    result = run(*FIX, "grade", "dist-ring-allreduce", "--answer", answer, "--json")
    assert result.exit_code == 0
    g = json.loads(result.stdout)
    assert set(g) == {"id", "score", "passed", "pass", "points"}
    assert g["id"] == "dist-ring-allreduce" and g["pass"] == 0.6
    assert g["score"] == 0.75 and g["passed"] is True  # (2·1 + 1·1 + 1·0) / 4
    ring, phases, volume = g["points"]
    assert ring == {"id": "ring", "weight": 2.0, "score": 1.0, "negated": [], "missing": [],
                    "matched": [{"keyword": "neighbour", "found": "neighbours", "start": 35, "end": 45}]}
    assert answer[35:45] == "neighbours"
    assert [m["found"] for m in phases["matched"]] == ["reduce-scatter", "all-gather"]
    assert volume["score"] == 0.0 and volume["missing"] == ["2(N-1)/N", "带宽最优"]


def test_grade_reads_stdin_and_answer_file(tmp_path):
    from_stdin = run(*FIX, "grade", "dist-ring-allreduce", "--json", input="先 reduce-scatter 再 all-gather")
    f = tmp_path / "a.txt"
    f.write_text("先 reduce-scatter 再 all-gather", encoding="utf-8")
    from_file = run(*FIX, "grade", "dist-ring-allreduce", "--json", "--answer-file", str(f))
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)
    assert json.loads(from_file.stdout)["score"] == 0.25


def test_grade_negation_is_flagged_not_credited():
    result = run(*FIX, "grade", "dist-ring-allreduce", "--answer", "这不是带宽最优的", "--json")
    volume = json.loads(result.stdout)["points"][2]
    assert volume["score"] == 0.0
    assert volume["negated"] == [{"keyword": "带宽最优", "found": "带宽最优", "start": 3, "end": 7}]


def test_grade_human_report_escapes_markup_and_ansi():
    answer = "[bold]neighbour[/bold] \x1b[31mred\x1b[0m reduce-scatter all-gather"
    result = run(*FIX, "grade", "dist-ring-allreduce", "--answer", answer)
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout
    assert "Score:" in result.stdout and "✓ neighbours on a ring" in result.stdout
    assert "✗ 2(N-1)/N·M per GPU, independent of N" in result.stdout
    assert "Missed points" in result.stdout and "Reference answer" in result.stdout


def test_grade_reports_in_the_answers_language_unless_told(tmp_path):
    env = {"LANG": "en_US.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": ""}
    zh = run(*FIX, "grade", "dist-ring-allreduce", "--answer", "环上相邻节点通信，先 reduce-scatter 再 all-gather", env=env)
    assert "得分" in zh.stdout and "参考答案" in zh.stdout and "Score:" not in zh.stdout
    en = run(*FIX, "grade", "dist-ring-allreduce", "--answer", "neighbours on a ring", env={**env, "LANG": "zh_CN.UTF-8"})
    assert "Score:" in en.stdout and "得分" not in en.stdout
    told = run(*FIX, "grade", "dist-ring-allreduce", "--lang", "en", "--answer", "环上相邻节点通信", env=env)
    assert "Score:" in told.stdout


def test_evidence_keeps_a_keywords_closing_bracket():
    from llmprep.bank import Point, Rubric
    from llmprep.grading import grade

    r = Rubric(qid="q", points=(Point(id="p", text=(("en", "-"),), keywords=(("2(N-1)",),)),))
    (m,) = grade("it takes 2(N-1) steps", r).points[0].matched
    assert (m.found, m.start, m.end) == ("2(N-1)", 9, 15)


def test_grade_unknown_id_is_one_line_exit_1():
    result = run(*FIX, "grade", "nope", "--answer", "x")
    assert result.exit_code == 1
    assert result.stderr == "llmprep: error: unknown question id 'nope' (see `llmprep list`)\n"


def test_grade_usage_errors_exit_2():
    assert run(*FIX, "grade").exit_code == 2
    assert run(*FIX, "grade", "dist-sync", "--answer", "a", "--answer-file", "b").exit_code == 2
    assert run(*FIX, "grade", "--bogus").exit_code == 2


def test_grade_binary_and_huge_answers(tmp_path):
    f = tmp_path / "bin"
    f.write_bytes(b"\x00\xff\xfe neighbour \x00 reduce-scatter")
    result = run(*FIX, "grade", "dist-ring-allreduce", "--answer-file", str(f), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["points"][0]["score"] == 1.0
    big = ("lorem ipsum dolor sit amet " * 40000) + " neighbour"
    result = run(*FIX, "grade", "dist-ring-allreduce", "--answer", big, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["points"][0]["score"] == 1.0


def test_batch_grades_in_order_and_reports_bad_lines(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "\n".join([
            json.dumps({"id": "dist-ring-allreduce", "answer": "neighbour ring"}),
            "{not json",
            json.dumps({"id": "nope", "answer": "x"}),
            json.dumps({"id": "dist-sync", "answer": 3}),
            json.dumps({"id": "dist-ring-allreduce", "answer": "reduce-scatter all-gather 相邻"}, ensure_ascii=False),
        ]) + "\n",
        encoding="utf-8",
    )
    result = run(*FIX, "grade", "--batch", str(rows))
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["id"] == "dist-ring-allreduce" and out[0]["score"] == 0.5
    assert out[1]["line"] == 2 and out[1]["error"].startswith("invalid JSON")
    assert out[2] == {"line": 3, "error": "unknown question id 'nope' (see `llmprep list`)"}
    assert out[3] == {"line": 4, "error": 'missing string "answer"'}
    assert out[4]["score"] == 0.75
    assert all(" " not in line.split('"')[0] for line in result.stdout.splitlines())  # compact
    assert "3 bad row(s)" in result.stderr


def test_batch_missing_file_is_user_error(tmp_path):
    result = run(*FIX, "grade", "--batch", str(tmp_path / "none.jsonl"))
    assert result.exit_code == 1 and "cannot read" in result.stderr


def test_grade_never_writes_history(llmprep_home):
    run(*FIX, "grade", "dist-sync", "--answer", "waits for all workers")
    assert not (llmprep_home / "history.sqlite3").exists()


def test_validate_strict_on_fixture_bank():
    result = run(*FIX, "validate", "--strict")
    # The fixture's tiny derived rubric for dist-sync is deliberately loose: strict mode reports it.
    assert result.exit_code == 1
    assert re.search(r"question dist-ring-allreduce: reference answer \(en\) scores 0\.\d\d > 0\.3 on the rubric of dist-sync", result.stdout)


def test_validate_builtin_bank_strict_is_clean():
    result = run("validate", "--strict")
    assert result.exit_code == 0, result.stdout[-3000:]
    assert result.stdout.startswith("ok: ")


def test_unrelated_answer_scores_low_on_every_builtin_rubric():
    from llmprep.grading import Grader
    from llmprep.loader import load
    from llmprep.paths import builtin_bank_dir

    bank = load([builtin_bank_dir()])
    grader = Grader(bank)
    for qid in bank.questions:
        for text in ("I like turtles.", "我喜欢乌龟。"):
            assert grader.grade(qid, text).score <= 0.2, qid


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "llmprep", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout == f"llmprep {__version__}\n"


def test_installed_script_finds_builtin_bank_from_another_directory(tmp_path):
    """CI installs with `pip install .` (not -e): the wheel must carry the bank."""
    script = Path(sys.executable).with_name("llmprep")
    if not script.exists():
        script = shutil.which("llmprep")
        if not script:
            pytest.skip("llmprep is not installed in this environment")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(script), "list", "--json"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) >= 1
