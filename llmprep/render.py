"""Human output with rich. Bank and user text is never interpreted: markup off, control characters escaped."""

from __future__ import annotations

import os
import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .bank import Question, Rubric, pick
from .grading import Grade
from .i18n import ui

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(s: str) -> str:
    """Show control characters (ANSI escapes, NUL …) as visible escapes instead of sending them."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


# Line breaking for Chinese: rich breaks lines only at spaces, so a run of Chinese that does not fit the
# rest of a line moves whole to the next one and leaves ragged short lines. Text with CJK in it is
# broken here instead: between any two CJK characters or at a space, never before closing punctuation
# (，。）) nor after opening punctuation (（“), with a hanging indent after a prefix such as " ✓ ".
_CLOSING = frozenset("，。、；：！？）」』】》〉”’,.;:!?)]}%…·")
_OPENING = frozenset("（「『【《〈“‘([{")


def _pieces(text: str) -> list[str]:
    """Units a line may break between."""
    from .text import is_cjk

    out: list[str] = []
    buf = ""
    for ch in text:
        if is_cjk(ch):
            if buf and all(c in _OPENING for c in buf):
                out.append(buf + ch)  # "（注" stays together
            else:
                if buf:
                    out.append(buf)
                out.append(ch)
            buf = ""
        elif ch in _CLOSING and not buf and out and not out[-1].endswith(" "):  # (" :edit" is a word)
            out[-1] += ch
        elif ch == " ":
            out.append(buf + ch)
            buf = ""
        else:
            buf += ch
    if buf:
        out.append(buf)
    return out


def wrap_cjk(text: str, width: int, first: str = "", rest: str | None = None) -> str:
    """`first` + text broken into lines of at most `width` cells (a piece longer than a line gets a line of
    its own); continuation lines start with `rest` (default: spaces as wide as `first`)."""
    from rich.cells import cell_len

    rest = " " * cell_len(first) if rest is None else rest
    lines: list[str] = []
    prefix = first
    for para in text.split("\n"):
        line, used = prefix, cell_len(prefix)
        for piece in _pieces(para):
            size = cell_len(piece.rstrip())
            if used > cell_len(prefix) and used + size > width:
                lines.append(line.rstrip())
                prefix = rest
                piece = piece.lstrip()
                line, used = prefix, cell_len(prefix)
            line += piece
            used += cell_len(piece)
        lines.append(line.rstrip())
        prefix = rest
    return "\n".join(lines)


def paragraph(console: Console, text: str, style: str | None = None, first: str = "", rest: str | None = None) -> Text:
    """A paragraph of bank or answer text as a Text: Chinese pre-broken to the console's width, other text
    left to rich (which breaks it at spaces)."""
    from .text import has_cjk

    if has_cjk(text):
        return Text(wrap_cjk(text, console.width, first, rest), style=style or "")
    return Text(first + text, style=style or "")


def make_console(no_color: bool = False, file=None) -> Console:
    no_color = no_color or bool(os.environ.get("NO_COLOR"))
    return Console(file=file, markup=False, highlight=False, emoji=False, no_color=no_color, soft_wrap=False)


def bar(score: float, width: int = 20) -> Text:
    filled = round(score * width)
    style = "green" if score >= 0.6 else ("yellow" if score >= 0.3 else "red")
    t = Text("█" * filled, style=style)
    t.append("░" * (width - filled), style="dim")
    t.append(f" {score * 100:3.0f}%")
    return t


def question_table(console: Console, questions: list[Question]) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", "topic", "kind", "diff", "source", "prompt"):
        table.add_column(col, overflow="fold" if col == "prompt" else "ellipsis", no_wrap=col != "prompt")
    for q in questions:
        table.add_row(safe(q.id), q.topic, q.kind, str(q.difficulty), safe(q.source or ""), safe(pick(q.prompt, "en")))
    console.print(table)
    console.print(f"{len(questions)} question(s)")


def show_question(console: Console, q: Question, rubric: Rubric, lang: str) -> None:
    console.print(Text(f"{q.id}  [{q.topic} · {q.kind} · difficulty {q.difficulty}]", style="bold"))
    console.print(paragraph(console, safe(pick(q.prompt, lang))))
    console.print()
    console.print(Text(ui("reference", lang), style="bold"))
    for alt in q.answers:
        console.print(paragraph(console, safe(pick(alt, lang))))
    console.print()
    title = ui("rubric", lang) + (" (derived from the reference answer)" if rubric.derived else "")
    console.print(Text(f"{title} — pass {rubric.pass_mark:.0%}", style="bold"))
    for p in rubric.points:
        head = Text(f"- {p.id} (weight {p.weight:g}" + (f", need {p.need}" if p.need > 1 else "") + "): ")
        head.append(safe(pick(p.text, lang)))
        console.print(head)
        kws = " | ".join(" / ".join(syns) for syns in p.keywords)
        console.print(Text("    " + safe(kws), style="dim"))


def grade_report(console: Console, q: Question, g: Grade, lang: str, show_reference: bool = True) -> None:
    """The per-point report shown after an answer: bar, ✓/✗ per point with evidence, missed points."""
    head = Text(f"{ui('score', lang)}: ")
    head.append_text(bar(g.score))
    head.append("  ")
    head.append(ui("passed", lang) if g.passed else ui("failed", lang), style="bold green" if g.passed else "bold red")
    console.print(head)
    for p in g.points:
        mark, style = ("✓", "green") if p.score >= 1 else (("◐", "yellow") if p.score > 0 else ("✗", "red"))
        pct = f"  ({p.score:.0%})" if 0 < p.score < 1 else ""
        line = paragraph(console, safe(pick(p.text, lang)) + pct, first=f" {mark} ")
        line.stylize(style, 0, 3)
        if pct:
            line.stylize("yellow", len(line) - len(pct.strip()), len(line))
        console.print(line)
        if p.matched:
            found = ", ".join(f"{safe(m.found)}" + (f" ≈ {safe(m.keyword)}" if m.fuzzy else "") for m in p.matched)
            console.print(paragraph(console, found, "dim", first=f"     {ui('matched', lang)}: "))
        if p.negated:
            neg = ", ".join(safe(m.found) for m in p.negated)
            console.print(paragraph(console, neg, "magenta", first=f"     {ui('negated', lang)}: "))
    missed = [p for p in g.points if p.score < 1]
    if missed:
        console.print(Text(ui("missed", lang), style="bold"))
        for p in missed:
            console.print(paragraph(console, safe(pick(p.text, lang)), first=" - "))
    if show_reference:
        console.print(Text(ui("reference", lang), style="bold"))
        console.print(paragraph(console, safe(pick(q.answers[0], lang))))


# ---------------------------------------------------------------- quiz, review, history, stats (issue 3)

from datetime import datetime  # noqa: E402

from .i18n import uif  # noqa: E402

SPARKS = "▁▂▃▄▅▆▇█"


def duration(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03."""
    if seconds is None:
        return "-"
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def percent(score: float | None) -> str:
    return "-" if score is None else f"{score * 100:.0f}%"


def rating_name(rating: int | None, lang: str) -> str:
    from .srs import RATING_NAMES

    if rating is None:
        return "-"
    name = RATING_NAMES[rating]
    return name if lang == "en" else f"{ui(name, lang)} {name}"


def until(due: datetime | None, now: datetime, lang: str) -> str:
    """When a card is due, relative to now: now, in 10 min, in 3 h, in 4 days."""
    if due is None:
        return "-"
    secs = (due - now).total_seconds()
    if secs < 60:
        return ui("now", lang)
    if secs < 3600:
        return uif("in_minutes", lang, n=round(secs / 60))
    if secs < 48 * 3600:
        return uif("in_hours", lang, n=round(secs / 3600))
    return uif("in_days", lang, n=round(secs / 86400))


def local_time(stamp: str | None) -> str:
    """A stored UTC timestamp in the machine's time zone, minutes precision."""
    if not stamp:
        return "-"
    from .history import parse_iso

    return parse_iso(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def sparkline(values: list[float | None]) -> Text:
    """One character per value in 0..1; a dim dot where there is no value."""
    t = Text()
    for v in values:
        if v is None:
            t.append("·", style="dim")
        else:
            t.append(SPARKS[min(len(SPARKS) - 1, int(v * len(SPARKS)))], style="cyan")
    return t


def _result(passed: bool | None, lang: str) -> Text:
    if passed is None:
        return Text("-")
    return Text(ui("passed", lang), style="green") if passed else Text(ui("failed", lang), style="red")


class QuizView:
    """Draws a quiz session (quiz.View) on a rich console. `interactive` adds the typing hint."""

    def __init__(self, console: Console, lang: str, interactive: bool = False):
        self.console = console
        self.lang = lang
        self.interactive = interactive

    def start(self, report) -> None:
        parts = [ui(report.mode, self.lang), uif("n_questions", self.lang, n=report.planned)]
        if report.seed is not None:
            parts.append(uif("seed", self.lang, seed=report.seed))
        if report.time_limit is not None:
            parts.append(uif("time_limit", self.lang, t=duration(report.time_limit)))
        self.console.print(Text(" · ".join(parts), style="bold"))

    def question(self, q: Question, index: int, total: int, *, time_limit: float | None, draft: bool) -> None:
        c = self.console
        c.print()
        c.rule(style="dim")
        head = Text(uif("question_n", self.lang, i=index, n=total), style="bold cyan")
        head.append(f"  {safe(q.id)} · {q.topic} · {q.kind} · {uif('difficulty', self.lang, d=q.difficulty)}", style="dim")
        c.print(head)
        c.print(paragraph(c, safe(pick(q.prompt, self.lang)), "bold"))
        if self.interactive:
            c.print(paragraph(c, ui("hint", self.lang), "dim"))
        if draft:
            c.print(Text(ui("draft_resumed", self.lang), style="yellow"))

    def note(self, key: str, **kw) -> None:
        self.console.print(Text(uif(key, self.lang, **kw), style="yellow"))

    def graded(self, q: Question, grade: Grade, *, time_taken: float, time_limit: float | None, over_time: bool) -> None:
        c = self.console
        c.print()
        grade_report(c, q, grade, self.lang, show_reference=True)
        line = Text(f"{ui('time', self.lang)}: {duration(time_taken)}")
        if time_limit is not None:
            line.append(f" / {duration(time_limit)}")
        if over_time:
            line.append(f"  {ui('over_time', self.lang)}", style="bold red")
        c.print(line)

    def rating_prompt(self, suggested: int) -> str:
        return uif("rating_prompt", self.lang, name=rating_name(suggested, self.lang))

    def rated(self, choice, suggested: int, due: datetime | None, now: datetime) -> None:
        c = self.console
        if choice.dispute:
            c.print(Text(ui("disputed", self.lang), style="magenta"))
        key = "rated" if choice.asked else "rated_suggested"
        line = Text(uif(key, self.lang, name=rating_name(choice.rating, self.lang)))
        line.append(" · " + uif("next_review", self.lang, when=until(due, now, self.lang)), style="dim")
        c.print(line)

    def report(self, report) -> None:
        session_report(self.console, report, self.lang)


def session_report(console: Console, report, lang: str) -> None:
    """The scored report at the end of a session: questions, per-topic breakdown, total, time."""
    from rich import box

    c = console
    c.print()
    c.rule(style="dim")
    title = Text(ui("report", lang), style="bold")
    done = len(report.answered)
    if report.status in ("quit", "eof", "interrupted"):
        title.append("  (" + uif(f"status_{report.status}", lang, done=done, planned=report.planned) + ")", style="yellow")
    c.print(title)
    if not report.items:
        c.print(ui("nothing_answered", lang))
    else:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("#", justify="right")
        for key in ("col_question", "col_topic"):
            table.add_column(ui(key, lang), overflow="fold")
        table.add_column(ui("col_score", lang), justify="right")
        table.add_column(ui("col_result", lang))
        table.add_column(ui("col_time", lang), justify="right")
        table.add_column(ui("col_rating", lang))
        for n, item in enumerate(report.items, 1):
            if item.status == "answered":
                result = _result(item.passed, lang)
                if item.dispute:
                    result.append(f" ({ui('disputed_short', lang)})", style="magenta")
            else:
                result = Text(ui(item.status, lang), style="yellow")
            t = Text(duration(item.time_taken))
            if item.over_time:
                t.append(f" {ui('over_time', lang)}", style="red")
            table.add_row(
                str(n), safe(item.question.id), item.question.topic, percent(item.score), result, t,
                rating_name(item.rating, lang) if item.status == "answered" else "",
            )
        c.print(table)
    topics = report.topics()
    if topics:
        c.print(Text(ui("by_topic", lang), style="bold"))
        tt = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        tt.add_column(ui("col_topic", lang))
        tt.add_column(ui("col_answered", lang), justify="right")
        tt.add_column(ui("passed", lang), justify="right")
        tt.add_column(ui("col_mean", lang))
        for line in topics:
            tt.add_row(line.topic, str(line.answered), str(line.passed), bar(line.mean_score or 0.0, 10))
        c.print(tt)
    c.print(
        Text(
            uif("total", lang, passed=report.passed, answered=done, mean=percent(report.mean_score), time=duration(report.elapsed)),
            style="bold",
        )
    )
    if report.status in ("quit", "interrupted"):
        c.print(Text(ui("saved", lang), style="dim"))


def review_list(console: Console, rows: list[dict], lang: str) -> None:
    """`review --list`: the queue as a table."""
    table = Table(show_edge=False, pad_edge=False)
    for key in ("col_id", "col_topic", "col_last_score", "col_last_attempted", "col_due_at"):
        table.add_column(ui(key, lang), justify="right" if key == "col_last_score" else "left")
    for r in rows:
        table.add_row(safe(r["id"]), r["topic"], percent(r["last_score"]), local_time(r["last_attempted"]), local_time(r["due"]))
    console.print(table)
    console.print(uif("n_listed", lang, n=len(rows)))


def history_table(console: Console, attempts, lang: str) -> None:
    """All attempts, newest last: when, question, score (and re-grade), result, rating, time."""
    table = Table(show_edge=False, pad_edge=False)
    for key in ("#", "col_when", "col_question", "col_score", "col_result", "col_rating", "col_time"):
        right = key in ("#", "col_score", "col_time")
        table.add_column(ui(key, lang), justify="right" if right else "left", overflow="fold")
    for a in attempts:
        table.add_row(str(a.id), local_time(a.created_at), safe(a.question_id), *_attempt_cells(a, lang))
    console.print(table)
    console.print(uif("n_attempts", lang, n=len(attempts)))


def _attempt_cells(a, lang: str) -> tuple:
    if a.draft:
        return "-", Text(ui("draft", lang), style="yellow"), "-", Text(duration(a.time_taken))
    score = percent(a.score)
    if a.regraded_at:
        score += f" → {percent(a.regrade_score)}"
    result = _result(a.effective_passed, lang)
    if a.override:
        result.append(f" ({ui('disputed_short', lang)})", style="magenta")
    t = Text(duration(a.time_taken))
    if a.over_time:
        t.append(f" {ui('over_time', lang)}", style="red")
    return score, result, rating_name(a.rating, lang), t


def history_detail(console: Console, q: Question | None, attempts, lang: str) -> None:
    """One question's attempts, each with the answer that was typed."""
    if q is not None:
        console.print(Text(f"{safe(q.id)} · {q.topic}", style="bold"))
        console.print(paragraph(console, safe(pick(q.prompt, lang))))
    for a in attempts:
        console.print()
        score, result, rating, t = _attempt_cells(a, lang)
        head = Text(f"#{a.id}  {local_time(a.created_at)}  {score}  ", style="bold")
        head.append_text(result)
        head.append(f"  {rating}  ")
        head.append_text(t)
        if a.grader_version:
            head.append(f"  grader v{safe(a.grader_version)}" + (f" → v{safe(a.regrade_version)}" if a.regrade_version else ""), style="dim")
        console.print(head)
        for line in a.answer.split("\n"):
            console.print(Text("    " + safe(line)))
    console.print()
    console.print(uif("n_attempts", lang, n=len(attempts)))


def regrade_summary(console: Console, changes: list[dict], total: int, skipped: int, version: str) -> None:
    """What `regrade` changed: old → new score per changed attempt."""
    if changes:
        table = Table(show_edge=False, pad_edge=False)
        for col in ("#", "question", "original", "new", "result"):
            table.add_column(col)
        for ch in changes:
            table.add_row(
                str(ch["attempt_id"]), safe(ch["question_id"]), percent(ch["original_score"]), percent(ch["new_score"]),
                ("pass" if ch["original_passed"] else "fail") + " → " + ("pass" if ch["new_passed"] else "fail"),
            )
        console.print(table)
    line = f"regraded {total} attempt(s) with grader v{version}: {len(changes)} changed"
    if skipped:
        line += f", {skipped} skipped (question no longer in the bank)"
    console.print(line)


def stats_view(console: Console, stats, lang: str) -> None:
    """Per-topic progress bars, the streak and a sparkline of the recent daily mean score."""
    table = Table(show_edge=False, pad_edge=False)
    numeric = ("col_questions", "col_attempted", "col_passed", "col_due")
    for key in ("col_topic", "col_questions", "col_attempted", "col_passed", "col_mean", "col_due", "col_progress"):
        table.add_column(ui(key, lang), justify="right" if key in numeric else "left")
    for t in stats.topics + [stats.total]:
        progress = bar(t.passed / t.questions if t.questions else 0.0, 16)
        progress.append(f" {t.passed}/{t.questions}", style="dim")
        name = Text(t.topic) if t.topic else Text(ui("total_row", lang), style="bold")
        table.add_row(name, str(t.questions), str(t.attempted), str(t.passed), percent(t.mean_score), str(t.due), progress)
    console.print(table)
    streak = Text(uif("streak", lang, n=stats.streak), style="bold")
    streak.append(" · " + uif("graded_answers", lang, n=stats.attempts), style="dim")
    console.print(streak)
    trend = Text(uif("last_days", lang, n=len(stats.trend)))
    trend.append_text(sparkline([p.mean_score for p in stats.trend]))
    scored = [p for p in stats.trend if p.mean_score is not None]
    if scored:
        trend.append("  " + uif("latest", lang, p=percent(scored[-1].mean_score)), style="dim")
    trend.append("  " + ui("per_day", lang), style="dim")
    console.print(trend)
