"""`llmprep export`: the Markdown is parsed back with markdown-it-py (CommonMark) and its structure
checked; hostile text stays text; Anki TSV has Anki's header lines; -o writes atomically."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from llmprep.cli import app
from llmprep.export import _looks_like_code, clean, md_fenced, md_inline, md_text

QUIZ_BANK = Path(__file__).parent / "fixtures" / "quizbank"
QB = ["--no-builtin", "--bank", str(QUIZ_BANK)]
MD = MarkdownIt("commonmark")

HOSTILE_Q = """\
version: 1
questions:
  - id: evil
    topic: hostile
    kind: concept
    prompt: "# not a heading * [link](http://x) <script>alert(1)</script> | a | b |"
    answer: |
      1. not a list
      - not a bullet
      > not a quote
      ===
      <div>raw html</div> &amp; `code` **bold** \\ trailing backslash \\
      [ref]: http://evil.example
      | a | b |
  - id: evil-code
    topic: hostile
    kind: coding
    prompt: "Write `f` —\\x1b[31m red?"
    answer: |
      Use this:

          ```` nested fence
          print("#")
"""
HOSTILE_R = """\
version: 1
rubrics:
  evil:
    points:
      - id: p1
        text: "[x] all-reduce ]] [ ](#) <b>"
        keywords: [[list]]
  evil-code:
    points:
      - id: p1
        text: "*print*"
        keywords: [[print]]
"""


def run(*args, input=None, bank=QB):
    return CliRunner().invoke(app, [*bank, *args], input=input, catch_exceptions=False)


def blocks(tokens, kind: str) -> list:
    return [t for t in tokens if t.type == kind]


def headings(tokens) -> list[tuple[str, str]]:
    """(tag, inline text) of every heading."""
    out = []
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            out.append((t.tag, inline_text(tokens[i + 1])))
    return out


def inline_text(token) -> str:
    """The text a reader sees (escapes resolved)."""
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def all_text(tokens) -> str:
    """Every inline's visible text, one per line; hard and soft line breaks as newlines."""
    out = []
    for t in tokens:
        if t.type == "inline":
            kids = [c for c in t.children if c.type in ("text", "code_inline", "hardbreak", "softbreak")]
            out.append("".join("\n" if c.type in ("hardbreak", "softbreak") else c.content for c in kids))
    return "\n".join(out)


def wrapped(tokens, kind: str) -> list[str]:
    """The text inside every em/strong span."""
    out = []
    for t in tokens:
        kids = t.children or []
        for i, c in enumerate(kids):
            if c.type == f"{kind}_open":
                out.append(kids[i + 1].content)
    return out


def test_study_guide_structure(clock):
    result = run("export", "--lang", "en")
    assert result.exit_code == 0
    tokens = MD.parse(result.stdout)
    hs = headings(tokens)
    assert hs[0] == ("h1", "llmprep study guide")
    assert [h for h in hs if h[0] == "h2"] == [("h2", "distributed"), ("h2", "inference"), ("h2", "coding")]
    h3 = [h for h in hs if h[0] == "h3"]
    assert len(h3) == 5 and h3[0][1] == "1. What is ring all-reduce?"
    # The table of contents: one bullet per topic with a nested bullet per question, all links.
    toc = tokens[: next(i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2")]
    links = [c for t in toc if t.type == "inline" for c in t.children if c.type == "link_open"]
    assert len(links) == 3 + 5
    assert links[0].attrs["href"] == "#distributed" and links[1].attrs["href"] == "#1-what-is-ring-all-reduce"
    # Each question has its reference answer and a checklist of rubric points.
    items = [t for t in tokens if t.type == "inline" and t.content.startswith("[ ] ")]
    assert "[ ] neighbours on a ring" in [inline_text(i) for i in items]
    assert sum(1 for t in tokens if t.type == "inline" and inline_text(t) == "Reference answer") == 5
    # The coding answer keeps its indentation in a code block.
    code = [t for t in tokens if t.type in ("fence", "code_block")]
    assert any("z = x - x.max()" in t.content for t in code)
    assert not blocks(tokens, "html_block") and "<b>" not in MD.render(result.stdout).replace("&lt;b&gt;", "")


def test_practice_sheet_and_chinese(clock):
    result = run("export", "--no-answers", "--lang", "zh", "--topic", "distributed")
    tokens = MD.parse(result.stdout)
    hs = headings(tokens)
    assert hs[0] == ("h1", "llmprep 练习题")
    assert [h[1] for h in hs if h[0] == "h2"] == ["distributed"]
    assert [h[1] for h in hs if h[0] == "h3"][0] == "1. 什么是 Ring All-Reduce？"
    assert "参考答案" not in result.stdout and "[ ]" not in result.stdout


def test_both_languages(clock):
    out = all_text(MD.parse(run("export", "--lang", "both", "--topic", "inference").stdout))
    assert "KV cache 的作用？" in out and "What does the KV cache do?" in out
    assert "缓存之前 token" in out and "It stores the keys" in out
    assert "参考答案 · Reference answer" in out


def test_hostile_bank_text_stays_text(make_bank):
    bank = make_bank(HOSTILE_Q, HOSTILE_R)
    result = run("export", "--lang", "en", bank=["--no-builtin", "--bank", str(bank)])
    assert result.exit_code == 0
    tokens = MD.parse(result.stdout)
    hs = headings(tokens)
    assert [h[0] for h in hs] == ["h1", "h2", "h3", "h3"]  # nothing in the text became a heading
    assert not [t for t in tokens if t.type in ("html_block", "blockquote_open", "ordered_list_open", "hr")]
    inlines = [c for t in tokens if t.type == "inline" for c in t.children]
    assert not [c for c in inlines if c.type in ("html_inline", "code_inline", "image")]
    assert set(wrapped(tokens, "strong")) <= {"Contents", "Reference answer", "Rubric points"}  # our labels only
    assert all(e.startswith("evil") for e in wrapped(tokens, "em"))  # our id line only
    text = all_text(tokens)
    assert "1. not a list\n- not a bullet\n> not a quote\n===\n<div>raw html</div> &amp; `code` **bold**" in text
    assert "trailing backslash \\\n[ref]: http://evil.example\n| a | b |" in text
    links = [c.attrs["href"] for c in inlines if c.type == "link_open"]
    assert all(h.startswith("#") for h in links)  # only our table of contents links
    h3 = [t for i, t in enumerate(tokens) if i and tokens[i - 1].type == "heading_open" and tokens[i - 1].tag == "h3"]
    assert inline_text(h3[0]).startswith("1. # not a heading * [link](http://x) <script>")
    assert "\x1b" not in result.stdout and "\\\\x1b" in result.stdout
    # The coding answer's own ```` fence cannot close ours.
    fences = blocks(tokens, "fence")
    assert any('```` nested fence\n    print("#")' in f.content for f in fences)
    points = [inline_text(t) for t in tokens if t.type == "inline" and t.content.startswith("[ ] ")]
    assert "[ ] [x] all-reduce ]] [ ](#) <b>" in points


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_md_inline_is_always_one_literal_paragraph(s):
    md = md_inline(s)
    tokens = MD.parse(md)
    expected = " ".join(clean(s).split())
    if not expected:
        assert tokens == [] or all(t.type != "inline" or not t.content.strip() for t in tokens)
        return
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    kids = tokens[1].children
    assert all(c.type == "text" for c in kids), [c.type for c in kids]
    assert "".join(c.content for c in kids) == expected  # what a reader sees is exactly the text


MARKUP = st.text(alphabet=st.sampled_from("-+=>#*_`[]()!<>&|~.:1 a\\\n\u3000学"), max_size=50)


@settings(max_examples=200, deadline=None)
@given(MARKUP)
def test_md_text_paragraphs_are_literal(s):
    """Lines of markup characters stay paragraphs of text with hard breaks, never other blocks."""
    if _looks_like_code(s):
        return  # indented text or ``` goes into a fenced block (tested below)
    tokens = MD.parse(md_text(s))
    assert {t.type for t in tokens} <= {"paragraph_open", "inline", "paragraph_close"}
    for t in tokens:
        if t.type == "inline":
            assert {c.type for c in t.children} <= {"text", "hardbreak"}
    paragraphs = [p for p in re.split(r"\n\s*\n", s.strip()) if p.strip()]
    expected = ["\n".join(" ".join(line.split()) for line in p.split("\n") if line.strip()) for p in paragraphs]
    seen = ["".join("\n" if c.type == "hardbreak" else c.content for c in t.children) for t in tokens if t.type == "inline"]
    assert seen == expected


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("`~ \nab#*>-1."), max_size=40))
def test_fenced_block_holds_any_text(s):
    tokens = MD.parse(md_fenced(s))
    assert [t.type for t in tokens] == ["fence"]
    assert tokens[0].content == s + "\n"


def test_md_text_keeps_lines_and_paragraphs():
    tokens = MD.parse(md_text("line one\nline *two*\n\nsecond paragraph"))
    assert [t.type for t in tokens].count("paragraph_open") == 2
    assert [c.type for c in tokens[1].children] == ["text", "hardbreak", "text"]
    assert tokens[1].children[2].content == "line *two*"


# ---------------------------------------------------------------- --wrong


def test_wrong_export_has_my_last_answer_score_and_missed_points(clock, llmprep_home):
    answer = "Stage 1 shards the optimizer states.\n\n```\n# and then?\n```"
    run("quiz", "--topic", "distributed", "--count", "1", "--seed", "0", input=f"{answer}\n.\n")
    from llmprep.history import History

    (a,) = History(llmprep_home / "history.sqlite3").attempts()
    result = run("export", "--wrong", "--lang", "en")
    tokens = MD.parse(result.stdout)
    hs = headings(tokens)
    assert hs[0] == ("h1", "llmprep: my missed questions")
    assert len([h for h in hs if h[0] == "h3"]) == 1
    fences = blocks(tokens, "fence")
    assert fences[0].content == a.answer + "\n"  # my answer, verbatim
    text = all_text(tokens)
    assert f"(score {a.score:.0%}, 2025-01-06)" in text
    checklist = [inline_text(t) for t in tokens if t.type == "inline" and t.content[:4] in ("[ ] ", "[x] ")]
    assert checklist and any(c.startswith("[ ] ") for c in checklist)
    # Nothing missed → nothing exported.
    empty = MD.parse(run("export", "--wrong", "--topic", "inference").stdout)
    assert "No questions match." in all_text(empty)


# ---------------------------------------------------------------- Anki and -o


def test_anki_tsv(clock, tmp_path):
    out = tmp_path / "cards.txt"
    result = run("export", "--format", "anki", "--lang", "en", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[:3] == ["#separator:tab", "#html:true", "#tags column:3"]
    rows = [line.split("\t") for line in lines[3:] if line]
    assert len(rows) == 5 and all(len(r) == 3 for r in rows)
    softmax = next(r for r in rows if "softmax" in r[0])
    assert "&lt;b&gt;tags&lt;/b&gt;" in softmax[0]  # bank text is escaped, not HTML
    assert "<br>" in softmax[1] and "def softmax(x):" in softmax[1]
    assert softmax[2].split() == ["llmprep", "coding", "coding", "difficulty::1"]
    assert not list(tmp_path.glob(".cards.txt.*"))  # no temp file left behind


def test_output_file_is_replaced_atomically(clock, tmp_path):
    out = tmp_path / "guide.md"
    out.write_text("old contents")
    inode_before = os.stat(out).st_ino
    result = run("export", "--topic", "coding", "--lang", "en", "-o", str(out))
    assert result.exit_code == 0 and "wrote 1 question(s)" in result.stderr
    assert out.read_text().startswith("# llmprep study guide")
    assert os.stat(out).st_ino != inode_before  # a new file was renamed over the old one
    bad = CliRunner().invoke(app, [*QB, "export", "-o", str(tmp_path / "missing-dir" / "x.md")])
    assert bad.exit_code == 1 and "cannot write" in bad.stderr


def test_bad_format():
    assert CliRunner().invoke(app, [*QB, "export", "--format", "pdf"]).exit_code == 2


@pytest.mark.parametrize("fmt", ["md", "anki"])
def test_export_to_stdout_is_utf8(fmt, clock):
    result = run("export", "--format", fmt, "--lang", "zh")
    assert "什么是 Ring All" in result.stdout
