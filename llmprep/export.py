"""`llmprep export`: a Markdown study guide (or practice sheet, or my misses) and an Anki TSV file.

The Markdown is valid CommonMark whatever the bank or the user typed: characters that could start
markup are backslash-escaped (always for `*_[]<&#|~\\ and backticks; at the start of a line also
for - + = > and "1." / "1)"), and free text with indentation (code) goes into a fenced block whose
fence is longer than any backtick run inside. No rich, no typer: the CLI writes the returned string.
"""

from __future__ import annotations

import html
import os
import re
import stat
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .bank import Bank, Question, Rubric, pick
from .errors import LlmprepError
from .history import Attempt
from .i18n import ui

# Characters that can start markup anywhere in a line (emphasis, code, links, HTML, entities,
# closing heading sequences, GFM tables and strikethrough) ...
_ALWAYS = re.compile(r"([\\`*_\[\]<&#|~])")
# ... and those that do only at the start of a line (list items, block quotes, setext underlines).
_ORDERED = re.compile(r"(\d{1,9})([.)])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BACKTICKS = re.compile(r"`+")

def _label(key: str, lang: str) -> str:
    """An export label from i18n's table; `both` shows the Chinese and the English side by side."""
    if lang == "both":
        return f"{ui('export_' + key, 'zh')} · {ui('export_' + key, 'en')}"
    return ui("export_" + key, lang)


# ---------------------------------------------------------------- Markdown escaping


def clean(text: str) -> str:
    """Normalise line ends, expand tabs and make control characters visible (\\x1b, not an escape)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def md_inline(text: str) -> str:
    """One line of literal text: whitespace runs become one space, markup characters are escaped."""
    line = _ALWAYS.sub(r"\\\1", " ".join(clean(text).split()))
    m = _ORDERED.match(line)
    if m:
        return f"{m.group(1)}\\{line[m.end(1):]}"
    if line[:1] in ("-", "+", "=", ">"):
        return "\\" + line
    return line


def md_fenced(text: str, info: str = "") -> str:
    """A fenced code block that nothing inside can close."""
    body = clean(text)
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def _looks_like_code(text: str) -> bool:
    return any(line[:1] in (" ", "\t") for line in text.splitlines() if line.strip()) or "```" in text


def md_text(text: str, code: bool = False) -> str:
    """Free text as Markdown blocks: paragraphs (lines kept with hard breaks), or a fenced block for code."""
    if code or _looks_like_code(text):
        return md_fenced(text)
    paragraphs = re.split(r"\n\s*\n", clean(text).strip())
    out = []
    for para in paragraphs:
        lines = [md_inline(line) for line in para.split("\n") if line.strip()]
        if lines:
            out.append("\\\n".join(lines))  # backslash + newline: a hard line break
    return "\n\n".join(out)


def slug(text: str, seen: dict[str, int]) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to '-', duplicates numbered."""
    s = unicodedata.normalize("NFC", clean(text)).strip().lower()
    s = "".join(c for c in s if c.isalnum() or c in "-_ ").replace(" ", "-")
    n = seen.get(s, 0)
    seen[s] = n + 1
    return s if n == 0 else f"{s}-{n}"


# ---------------------------------------------------------------- the documents


@dataclass(frozen=True)
class Entry:
    """One exported question, with my latest attempt when exporting misses."""

    question: Question
    rubric: Rubric
    attempt: Attempt | None = None


def _texts(text, lang: str) -> list[tuple[str, str]]:
    """(language, text) pairs to show for `lang` (zh, en or both), falling back to what exists."""
    if lang != "both":
        return [(lang, pick(text, lang))]
    have = dict(text)
    got = [(code, have[code]) for code in ("zh", "en") if code in have]
    return got or [("", pick(text))]


def _point_text(text, lang: str) -> str:
    return " / ".join(t for _, t in _texts(text, lang))


def _stored_point_text(p: dict, rubric: Rubric, lang: str) -> str:
    """A stored per-point result's text: saved with the attempt, else looked up in today's rubric."""
    stored = p.get("text")
    if isinstance(stored, dict) and stored:
        return _point_text(tuple(stored.items()), lang)
    for variant in rubric.variants or (rubric.points,):
        for point in variant:
            if point.id == p.get("id"):
                return _point_text(point.text, lang)
    return str(p.get("id", "?"))


def _heading(q: Question, lang: str) -> str:
    return " ".join(pick(q.prompt, "zh" if lang == "both" else lang).split())


def to_markdown(entries: list[Entry], lang: str, answers: bool = True, wrong: bool = False) -> str:
    """The study guide: a table of contents, a level-2 heading per topic, a level-3 heading per
    question with its reference answer and its rubric points as a checklist. `answers=False` gives a
    practice sheet; `wrong=True` adds my last answer, its score and the points I missed."""
    title = "title_wrong" if wrong else ("title" if answers else "title_practice")
    out = [f"# {md_inline(_label(title, lang))}", ""]
    if not entries:
        out += [md_inline(_label("none", lang)), ""]
        return "\n".join(out)
    topics: dict[str, list[Entry]] = {}
    for e in entries:
        topics.setdefault(e.question.topic, []).append(e)
    seen: dict[str, int] = {}
    seen[slug(_label(title, lang), {})] = 1
    anchors: dict[str, str] = {}
    q_anchors: dict[str, str] = {}
    number = 0
    for topic, items in topics.items():
        anchors[topic] = slug(topic, seen)
        for e in items:
            number += 1
            q_anchors[e.question.id] = slug(f"{number}. {_heading(e.question, lang)}", seen)
    out += [f"**{md_inline(_label('contents', lang))}**", ""]
    number = 0
    for topic, items in topics.items():
        out.append(f"- [{md_inline(topic)}](#{anchors[topic]})")
        for e in items:
            number += 1
            out.append(f"  - [{number}\\. {md_inline(_heading(e.question, lang))}](#{q_anchors[e.question.id]})")
    out.append("")
    number = 0
    for topic, items in topics.items():
        out += [f"## {md_inline(topic)}", ""]
        for e in items:
            number += 1
            out += _question_md(e, number, lang, answers, wrong)
    return "\n".join(out).rstrip("\n") + "\n"


def _question_md(e: Entry, number: int, lang: str, answers: bool, wrong: bool) -> list[str]:
    q = e.question
    out = [f"### {number}\\. {md_inline(_heading(q, lang))}", ""]
    meta = f"{q.id} · {q.kind} · {_label('difficulty', 'en' if lang == 'both' else lang)} {q.difficulty}"
    out += [f"*{md_inline(meta)}*", ""]
    prompts = _texts(q.prompt, lang)
    for i, (_, text) in enumerate(prompts):
        if i == 0 and "\n" not in text.strip():
            continue  # the heading already shows it
        out += [md_text(text), ""]
    if wrong and e.attempt is not None:
        a = e.attempt
        score = a.effective_score if a.effective_score is not None else 0.0
        when = a.created_at[:10]
        detail = md_inline(f"{_label('score', lang)} {score:.0%}, {when}")
        out += [f"**{md_inline(_label('my_answer', lang))}** ({detail})", ""]
        out += [md_fenced(a.answer), ""]
        points = a.effective_points or []
        if points:
            out += [f"**{md_inline(_label('points', lang))}**", ""]
            for p in points:
                mark = "x" if (p.get("score") or 0) >= 1 else " "
                out.append(f"- [{mark}] {md_inline(_stored_point_text(p, e.rubric, lang))}")
            out.append("")
    if answers:
        out += [f"**{md_inline(_label('reference', lang))}**", ""]
        for alt in q.answers:
            for _, text in _texts(alt, lang):
                out += [md_text(text), ""]
        if not wrong:
            out += [f"**{md_inline(_label('rubric', lang))}**", ""]
            for p in e.rubric.points:
                out.append(f"- [ ] {md_inline(_point_text(p.text, lang))}")
            out.append("")
    return out


# ---------------------------------------------------------------- Anki


def _anki_field(text: str) -> str:
    """HTML for one TSV field: escaped, <br> for line breaks, no literal tab or newline."""
    s = html.escape(clean(text), quote=True).replace("\n", "<br>")
    if s.startswith("#"):
        s = "&#35;" + s[1:]  # a line starting with # is a header/comment to Anki
    return s


def _anki_tag(s: str) -> str:
    return re.sub(r"\s+", "_", s.strip()) or "_"


def to_anki(entries: list[Entry], lang: str, answers: bool = True, wrong: bool = False) -> str:
    """Anki's text import: tab-separated front, back, tags, after the header lines Anki reads."""
    lines = ["#separator:tab", "#html:true", "#tags column:3"]
    for e in entries:
        q = e.question
        front = "<br><br>".join(_anki_field(t) for _, t in _texts(q.prompt, lang))
        back: list[str] = []
        if wrong and e.attempt is not None:
            a = e.attempt
            score = a.effective_score if a.effective_score is not None else 0.0
            back.append(f"<b>{_anki_field(_label('my_answer', lang))}</b> ({score:.0%})<br>{_anki_field(a.answer)}")
            missed = [p for p in (a.effective_points or []) if (p.get("score") or 0) < 1]
            if missed:
                items = "".join(f"<li>{_anki_field(_stored_point_text(p, e.rubric, lang))}</li>" for p in missed)
                back.append(f"<b>{_anki_field(_label('missed', lang))}</b><ul>{items}</ul>")
        if answers:
            refs = "<br><br>".join(_anki_field(t) for alt in q.answers for _, t in _texts(alt, lang))
            back.append(f"<b>{_anki_field(_label('reference', lang))}</b><br>{refs}")
            items = "".join(f"<li>{_anki_field(_point_text(p.text, lang))}</li>" for p in e.rubric.points)
            back.append(f"<b>{_anki_field(_label('rubric', lang))}</b><ul>{items}</ul>")
        tags = ["llmprep", _anki_tag(q.topic), _anki_tag(q.kind), f"difficulty::{q.difficulty}"]
        tags += [_anki_tag(t) for t in q.tags]
        lines.append("\t".join([front, "<br>".join(back), _anki_field(" ".join(tags))]))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- selection and writing


def entries_for(bank: Bank, questions: list[Question], latest: dict[str, Attempt] | None = None) -> list[Entry]:
    return [Entry(q, bank.rubric(q.id), (latest or {}).get(q.id)) for q in questions]


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and os.replace: readers never see half a file.

    A device or pipe (/dev/stdout, /dev/full) is written in place: renaming over it would replace the
    device itself. Through a symlink, the file it points to is replaced and the link kept."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        except OSError as exc:
            raise LlmprepError(f"{path}: cannot write: {exc.strerror or exc}") from None
        return
    shown = path
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise LlmprepError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LlmprepError(f"{shown}: cannot write: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
