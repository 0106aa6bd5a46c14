"""The typer app: parse options, call the core, render, map errors. No logic lives here."""

from __future__ import annotations

import json
import os
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
            try:
                return super().invoke(ctx)
            finally:
                _save_caches(ctx)
        except LlmprepError as exc:
            typer.echo(f"llmprep: error: {exc}", err=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            typer.echo("llmprep: interrupted", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:  # `llmprep list | head`
            raise typer.Exit(0) from None


def _save_caches(ctx) -> None:
    """Keep the rubrics this command compiled for the next run (not after Ctrl-C: exit at once)."""
    if isinstance(sys.exc_info()[1], KeyboardInterrupt):
        return
    state = ctx.obj
    if isinstance(state, State) and state._grader is not None:
        from .loader import save_grader

        try:
            save_grader(state._grader)
        except Exception:  # pragma: no cover - the cache is an optimisation only
            pass


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
            from .loader import make_grader

            self._grader = make_grader(self.bank())
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
    lang: Optional[str] = typer.Option(
        None, "--lang", help="Language of the report: zh or en (default: the answer's, else the locale's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the grade as JSON."),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=1, help="Processes for --batch (default: one per CPU, up to 8, for 400 rows or more)."
    ),
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

        bad = grade_batch(state.grader(), batch, sys.stdout, jobs)
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

    from .i18n import language_of

    report_lang = _lang(lang) if lang else (language_of(answer) or _lang(None))
    grade_report(_console(ctx), question, result, report_lang, show_reference=True)


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
    if strict:
        from .loader import load_collecting

        bank, problems = load_collecting(state.bank_dirs())
        problems = list(problems)
        if bank.questions:
            from .checks import strict_problems

            problems += strict_problems(bank)
        n, topics = len(bank.questions), len(bank.topics())
    else:  # from the cache header when the files are unchanged: no YAML, no unpickled bank
        from .loader import summary

        result, _ = summary(state.bank_dirs())
        problems, n, topics = result.problems, result.questions, result.topics
    for p in problems:
        typer.echo(p)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {n} question(s)", err=True)
        raise typer.Exit(int(ExitCode.USER_ERROR))
    typer.echo(f"ok: {n} questions, {topics} topics" + (" (strict)" if strict else ""))


# ---------------------------------------------------------------- quiz / review (issue 3)


def _history(create: bool = True):
    """The user's history database (opened on first use, not here)."""
    from .history import History
    from .paths import db_path

    return History(db_path(), create=create)


def _clock():
    from .quiz import SystemClock

    return SystemClock()


def _interactive() -> bool:
    """A real terminal on both ends: use the line editor and ask for ratings."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _check_kind(kind: Optional[str]) -> None:
    from .bank import KINDS

    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(f"use {' or '.join(KINDS)}", param_hint="--kind")


def _run_session(ctx: typer.Context, questions, *, mode: str, lang: str, seed, time_limit, filters, clock) -> None:
    from .i18n import ui
    from .quiz import LineReader, QuizSession
    from .render import QuizView
    from .terminal import edit_text

    state = _state(ctx)
    interactive = _interactive()
    if interactive:
        from .terminal import PromptReader

        reader = PromptReader(monotonic=clock.monotonic, toolbar_hint=ui("toolbar", lang))
    else:
        if hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(errors="replace")  # a stray byte must not end the session
        reader = LineReader(sys.stdin)
    session = QuizSession(
        grader=state.grader(), history=_history(), reader=reader, view=QuizView(_console(ctx), lang, interactive),
        clock=clock, editor=edit_text if (os.environ.get("VISUAL") or os.environ.get("EDITOR")) else None, lang=lang, mode=mode, ask_rating=interactive, resume_drafts=interactive,
        time_limit=time_limit, seed=seed, filters=filters,
    )
    report = session.run(questions)
    if report.interrupted:
        typer.echo("llmprep: interrupted (answers so far are saved)", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED))


@app.command()
def quiz(
    ctx: typer.Context,
    topic: List[str] = typer.Option([], "--topic", "-t", help="Only these topics (repeatable)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="concept or coding."),
    difficulty: Optional[int] = typer.Option(None, "--difficulty", min=1, max=3, help="Only this difficulty (1-3)."),
    count: int = typer.Option(5, "--count", "-n", min=1, help="How many questions."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh or en (default: from the locale)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed: the same seed picks the same questions."),
    time_limit: Optional[float] = typer.Option(
        None, "--time-limit", min=1, metavar="SECONDS", help="Interview mode: time per answer; over-time answers are marked."
    ),
) -> None:
    """Answer questions and see each answer graded point by point; every graded answer is saved.

    New questions come first, then weak or overdue ones. End an answer with a line holding only "."
    or Ctrl-D; :skip, :quit and :edit on a line of their own. After each answer, Enter accepts the
    suggested recall rating, 1-4 choose another, d disputes the grade ("I was right"). When stdin is
    not a terminal the suggested rating is taken, so answers can be piped in.

    \b
    Examples:
      llmprep quiz --topic distributed --count 5 --lang zh
      llmprep quiz --time-limit 180 --seed 7
      printf 'first answer\\n.\\nsecond answer\\n.\\n' | llmprep quiz --count 2
    """
    _check_kind(kind)
    state = _state(ctx)
    lang = _lang(lang)
    import random

    from .quiz import Filters, filter_questions, select_questions

    filters = Filters(tuple(topic), kind, difficulty)
    pool = filter_questions(state.bank(), filters)
    if not pool:
        raise LlmprepError("no question matches these filters (see `llmprep list`)")
    if seed is None:
        seed = random.SystemRandom().randrange(1_000_000)  # shown and stored, so the session can be replayed
    clock = _clock()
    history = _history()
    questions = select_questions(pool, history.question_states(), count, random.Random(seed), clock.now())
    history.close()
    _run_session(ctx, questions, mode="quiz", lang=lang, seed=seed, time_limit=time_limit, filters=filters, clock=clock)


@app.command()
def review(
    ctx: typer.Context,
    wrong: bool = typer.Option(False, "--wrong", help="Questions whose latest answer failed (after disputes)."),
    due: bool = typer.Option(False, "--due", help="Spaced repetition: questions whose FSRS card is due."),
    list_: bool = typer.Option(False, "--list", help="Print the queue instead of quizzing."),
    as_json: bool = typer.Option(False, "--json", help="With --list: one JSON array (id, topic, last_score, last_attempted, due)."),
    topic: List[str] = typer.Option([], "--topic", "-t", help="Only these topics (repeatable)."),
    count: Optional[int] = typer.Option(None, "--count", "-n", min=1, help="At most this many (default: the whole queue)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh or en (default: from the locale)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", min=1, metavar="SECONDS", help="Interview mode, as in quiz."),
) -> None:
    """Quiz again what you got wrong (--wrong) or what spaced repetition says is due (--due).

    The rating you choose after each answer reschedules the question (FSRS).

    \b
    Examples:
      llmprep review --due
      llmprep review --wrong --topic distributed --list --json
    """
    if wrong == due:
        raise typer.BadParameter("give exactly one of --wrong or --due")
    state = _state(ctx)
    from .quiz import Filters, due_queue, filter_questions, next_due, queue_rows, wrong_queue

    filters = Filters(tuple(topic))
    pool = filter_questions(state.bank(), filters)
    clock = _clock()
    now = clock.now()
    history = _history(create=False)
    states = history.question_states()
    history.close()
    queue = wrong_queue(pool, states) if wrong else due_queue(pool, states, now)
    if count is not None:
        queue = queue[:count]
    if as_json:
        _print_json(queue_rows(queue, states))
        return
    if not queue:
        if wrong:
            typer.echo("Nothing to review: no question's latest answer failed.")
        else:
            nxt = next_due(pool, states)
            typer.echo("Nothing is due." + (f" Next: {nxt[0]} at {nxt[1]}." if nxt else " Answer some questions with `llmprep quiz` first."))
        return
    if list_:
        from .render import review_list

        review_list(_console(ctx), queue_rows(queue, states), _lang(lang))
        return
    lang = _lang(lang)
    _run_session(
        ctx, queue, mode="review-wrong" if wrong else "review-due", lang=lang, seed=None, time_limit=time_limit,
        filters=filters, clock=clock,
    )


@app.command("history")
def history_cmd(
    ctx: typer.Context,
    qid: Optional[str] = typer.Argument(None, metavar="[QID]", help="Only this question, with the answers typed."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of attempts."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh or en (default: from the locale)."),
) -> None:
    """List past attempts: all of them, or one question's with the answers you typed.

    The database is history.sqlite3 in the data directory ($LLMPREP_HOME, else the user data dir).

    \b
    Examples:
      llmprep history
      llmprep history dist-ring-allreduce --json
    """
    history = _history(create=False)
    attempts = history.attempts(qid)
    if as_json:
        _print_json([a.to_dict() for a in attempts])
        return
    lang = _lang(lang)
    from .render import history_detail, history_table

    if qid is None:
        history_table(_console(ctx), attempts, lang)
        return
    q = _state(ctx).bank().questions.get(qid)
    if q is None and not attempts:
        _state(ctx).bank().question(qid)  # raises "unknown question id"
    history_detail(_console(ctx), q, attempts, lang)


@app.command()
def regrade(
    ctx: typer.Context,
    qid: Optional[str] = typer.Argument(None, metavar="[QID]", help="Only this question's attempts."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Re-score stored attempts with the current grader, keeping the original score beside the new one.

    Example:  llmprep regrade
    """
    state = _state(ctx)
    from .quiz import regrade as regrade_attempts

    history = _history(create=False)
    result = regrade_attempts(history, state.bank(), state.grader(), _clock().now(), qid)
    if as_json:
        _print_json(result.to_dict())
        return
    from .render import regrade_summary

    regrade_summary(_console(ctx), result.changes, result.total, result.skipped, result.grader_version)


@app.command()
def stats(
    ctx: typer.Context,
    topic: List[str] = typer.Option([], "--topic", "-t", help="Only these topics (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh or en (default: from the locale)."),
) -> None:
    """Your progress per topic (questions, attempted, passed, mean latest score, due now), streak and trend.

    Example:  llmprep stats --topic distributed
    """
    from .quiz import Filters, filter_questions
    from .stats import compute_stats

    pool = filter_questions(_state(ctx).bank(), Filters(tuple(topic)))
    history = _history(create=False)
    result = compute_stats(pool, history.question_states(), history.scores_by_time(), _clock().now())
    if as_json:
        _print_json(result.to_dict())
        return
    from .render import stats_view

    stats_view(_console(ctx), result, _lang(lang))


@app.command()
def export(
    ctx: typer.Context,
    topic: List[str] = typer.Option([], "--topic", "-t", help="Only these topics (repeatable)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh, en or both (default: from the locale)."),
    no_answers: bool = typer.Option(False, "--no-answers", help="A practice sheet: questions only."),
    wrong: bool = typer.Option(False, "--wrong", help="My missed questions, with my last answer, its score and the points I missed."),
    fmt: str = typer.Option("md", "--format", help="md (Markdown study guide) or anki (tab-separated, for Anki's importer)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout."),
) -> None:
    """Export a Markdown study guide (contents, a section per topic, answers and rubric checklists) or Anki cards.

    \b
    Examples:
      llmprep export --topic distributed --lang both -o distributed.md
      llmprep export --wrong --format anki -o misses.txt
    """
    if fmt not in ("md", "anki"):
        raise typer.BadParameter("use md or anki", param_hint="--format")
    if lang is None or lang.lower() != "both":
        lang = _lang(lang)
    else:
        lang = "both"
    state = _state(ctx)
    bank = state.bank()
    from .export import entries_for, to_anki, to_markdown, write_atomic
    from .quiz import Filters, filter_questions, wrong_queue

    questions = filter_questions(bank, Filters(tuple(topic)))
    latest = None
    if wrong:
        history = _history(create=False)
        missed = {q.id for q in wrong_queue(questions, history.question_states())}
        questions = [q for q in questions if q.id in missed]
        latest = history.latest_attempts()
    entries = entries_for(bank, questions, latest)
    render = to_anki if fmt == "anki" else to_markdown
    text = render(entries, lang, answers=not no_answers, wrong=wrong)
    if output is None:
        sys.stdout.write(text)
        return
    write_atomic(output, text)
    typer.echo(f"wrote {len(entries)} question(s) to {output}", err=True)


def _keep_only_invoked_command(argv: list[str]) -> None:
    """Typer builds the parser of every command on every run (inspecting each signature, ~4 ms for the
    ten); a run uses one. Keep only the command named on the command line. When in doubt (no command,
    --help/--version before it, a name that matches none) all are kept, so help and errors are unchanged."""
    from typer.main import get_command_name

    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help", "--version"):
            return
        if arg == "--bank":  # the only global option that takes a value
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            break
    else:
        return
    keep = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == argv[i]]
    if len(keep) == 1:
        app.registered_commands[:] = keep


def main() -> None:
    """Console-script entry point."""
    commands = list(app.registered_commands)
    try:
        _keep_only_invoked_command(sys.argv[1:])
        app(prog_name="llmprep")
    except KeyboardInterrupt:  # raised outside a command (e.g. during start-up)
        sys.stderr.write("llmprep: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    finally:
        app.registered_commands[:] = commands
