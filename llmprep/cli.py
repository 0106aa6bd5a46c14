"""The typer app: parse options, call the core, render, map errors. No logic lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import ExitCode, LlmprepError


class _Group(TyperGroup):
    """The single error boundary: a domain error becomes one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LlmprepError as exc:
            typer.echo(f"llmprep: error: {exc}", err=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            typer.echo("llmprep: interrupted", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:  # `llmprep list | head`
            raise typer.Exit(0) from None


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="llmprep: practise LLM and ML-infrastructure interview questions, graded point by point.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    """Options given before the subcommand; the bank is loaded on first use only."""

    def __init__(self, banks: list[str], no_builtin: bool, no_color: bool):
        self.banks = banks
        self.no_builtin = no_builtin
        self.no_color = no_color
        self._bank = None
        self._grader = None

    def bank(self):
        if self._bank is None:
            from .loader import load

            self._bank = load(self.bank_dirs())
        return self._bank

    def bank_dirs(self) -> list[Path]:
        from .paths import bank_dirs

        return bank_dirs(self.banks, self.no_builtin)

    def grader(self):
        if self._grader is None:
            from .grading import Grader

            self._grader = Grader(self.bank())
        return self._grader


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmprep {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    bank: List[str] = typer.Option([], "--bank", metavar="DIR", help="Add a bank directory (repeatable)."),
    no_builtin: bool = typer.Option(False, "--no-builtin", help="Do not load the built-in bank."),
    no_color: bool = typer.Option(False, "--no-color", help="Plain output without colour (also: NO_COLOR=1)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """llmprep: practise LLM and ML-infrastructure interview questions, graded point by point.

    Example:  llmprep quiz --topic distributed
    """
    ctx.obj = State(bank, no_builtin, no_color)


def _state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State) if ctx.obj is None else ctx.obj


def _console(ctx: typer.Context):
    from .render import make_console

    return make_console(no_color=_state(ctx).no_color)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- list / show


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    topic: List[str] = typer.Option([], "--topic", "-t", help="Only these topics (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List the questions in the bank(s).

    Example:  llmprep list --topic distributed
    """
    bank = _state(ctx).bank()
    from .bank import pick

    rows = [q for q in bank.questions.values() if not topic or q.topic in topic]
    if topic:
        _check_topics(bank, topic)
    if as_json:
        _print_json(
            [
                {
                    "id": q.id, "topic": q.topic, "kind": q.kind, "difficulty": q.difficulty,
                    "source": q.source, "languages": q.languages(), "tags": list(q.tags),
                    "prompt": pick(q.prompt, "en"),
                }
                for q in rows
            ]
        )
        return
    from .render import question_table

    question_table(_console(ctx), rows)


def _check_topics(bank, topics: list[str]) -> None:
    known = set(bank.topics())
    unknown = [t for t in topics if t not in known]
    if unknown:
        raise LlmprepError(f"unknown topic {unknown[0]!r} (topics: {', '.join(sorted(known))})")


@app.command()
def show(
    ctx: typer.Context,
    qid: str = typer.Argument(..., metavar="QID", help="Question id (see `llmprep list`)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh or en (default: from the locale)."),
) -> None:
    """Show a question, its reference answer and its rubric.

    Example:  llmprep show dist-ring-allreduce --lang en
    """
    state = _state(ctx)
    bank = state.bank()
    q = bank.question(qid)
    from .render import show_question

    show_question(_console(ctx), q, bank.rubric(qid), _lang(lang))


def _lang(lang: Optional[str]) -> str:
    from .i18n import resolve_lang

    return resolve_lang(lang)


# ---------------------------------------------------------------- grade


@app.command()
def grade(
    ctx: typer.Context,
    qid: Optional[str] = typer.Argument(None, metavar="[QID]", help="Question id to grade against."),
    answer: Optional[str] = typer.Option(None, "--answer", "-a", help="The answer text."),
    answer_file: Optional[Path] = typer.Option(None, "--answer-file", "-f", help="Read the answer from a file."),
    batch: Optional[Path] = typer.Option(None, "--batch", help='JSON Lines file of {"id": QID, "answer": TEXT} rows.'),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the report: zh or en."),
    as_json: bool = typer.Option(False, "--json", help="Print the grade as JSON."),
) -> None:
    """Grade an answer (from --answer, --answer-file or stdin) without recording it.

    Examples:
      llmprep grade dist-ring-allreduce --answer "each GPU talks to its ring neighbours ..." --json
      llmprep grade --batch answers.jsonl > grades.jsonl
    """
    state = _state(ctx)
    if batch is not None:
        if qid or answer is not None or answer_file is not None:
            raise typer.BadParameter("--batch takes no QID, --answer or --answer-file")
        from .batch import grade_batch

        bad = grade_batch(state.grader(), batch, sys.stdout)
        if bad:
            typer.echo(f"llmprep: error: {batch}: {bad} bad row(s), see the 'error' objects in the output", err=True)
            raise typer.Exit(int(ExitCode.USER_ERROR))
        return
    if not qid:
        raise typer.BadParameter("give a QID (or --batch FILE)")
    if answer is not None and answer_file is not None:
        raise typer.BadParameter("give --answer or --answer-file, not both")
    bank = state.bank()
    question = bank.question(qid)
    if answer is None:
        from .batch import read_answer_file

        answer = read_answer_file(answer_file) if answer_file is not None else read_answer_file(None)
    result = state.grader().grade(qid, answer)
    if as_json:
        _print_json(result.to_dict())
        return
    from .render import grade_report

    grade_report(_console(ctx), question, result, _lang(lang), show_reference=True)


# ---------------------------------------------------------------- validate


@app.command()
def validate(
    ctx: typer.Context,
    strict: bool = typer.Option(False, "--strict", help="Also grade every reference answer against every rubric."),
) -> None:
    """Check the bank(s) and print every problem; exit 0 only when clean.

    Example:  llmprep --bank ./mybank validate --strict
    """
    state = _state(ctx)
    from .loader import load_collecting

    bank, problems = load_collecting(state.bank_dirs())
    if strict and bank.questions:
        from .checks import strict_problems

        problems += strict_problems(bank)
    for p in problems:
        typer.echo(p)
    n = len(bank.questions)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {n} question(s)", err=True)
        raise typer.Exit(int(ExitCode.USER_ERROR))
    typer.echo(f"ok: {n} questions, {len(bank.topics())} topics" + (" (strict)" if strict else ""))


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="llmprep")
    except KeyboardInterrupt:  # raised outside a command (e.g. during start-up)
        sys.stderr.write("llmprep: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
