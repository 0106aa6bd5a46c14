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
    console.print(Text(safe(pick(q.prompt, lang))))
    console.print()
    console.print(Text(ui("reference", lang), style="bold"))
    for alt in q.answers:
        console.print(Text(safe(pick(alt, lang))))
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
        line = Text(f" {mark} ", style=style)
        line.append(safe(pick(p.text, lang)))
        if 0 < p.score < 1:
            line.append(f"  ({p.score:.0%})", style="yellow")
        console.print(line)
        if p.matched:
            found = ", ".join(f"{safe(m.found)}" + (f" ≈ {safe(m.keyword)}" if m.fuzzy else "") for m in p.matched)
            console.print(Text(f"     {ui('matched', lang)}: {found}", style="dim"))
        if p.negated:
            neg = ", ".join(safe(m.found) for m in p.negated)
            console.print(Text(f"     {ui('negated', lang)}: {neg}", style="magenta"))
    missed = [p for p in g.points if p.score < 1]
    if missed:
        console.print(Text(ui("missed", lang), style="bold"))
        for p in missed:
            console.print(Text(f" - {safe(pick(p.text, lang))}"))
    if show_reference:
        console.print(Text(ui("reference", lang), style="bold"))
        console.print(Text(safe(pick(q.answers[0], lang))))
