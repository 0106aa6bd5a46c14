"""Properties (hypothesis) of the grader and the loader that must hold for any input:
a score is within [0, 1]; grading is deterministic; naming one more rubric keyword never lowers a score;
the loader raises nothing but its own error for any YAML; and the speed-ups keep the exact results
(bit-parallel LCS = rapidfuzz's ratio; the NFKC fast path = normalising character by character)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from llmprep.bank import load_bank, load_bank_collecting
from llmprep.errors import LlmprepError
from llmprep.grading import FUZZY_CUTOFF, Grader, fuzzy_close
from llmprep.text import normalise, tokenise

FIXTURES = Path(__file__).parent / "fixtures"
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_BANK = load_bank([FIXTURES / "bank", FIXTURES / "quizbank"])
GRADER = Grader(_BANK)
QIDS = sorted(_BANK.questions)
KEYWORDS = {
    qid: sorted({kw for v in (r.variants or (r.points,)) for p in v for syns in p.keywords for kw in syns})
    for qid, r in _BANK.rubrics.items()
}
FILLER = ("the", "because", "we", "then", "so", "it", "training", "model", "fast", "因为", "所以", "模型", "然后",
          "not", "不", "without", "没有", "if", "如果", ",", ".", "。", "，", "(", ")")

# Text with the characters that matter here: both scripts, full-width forms, punctuation that ends clauses,
# negation cues, control characters and the odd surrogate-free astral character.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(list("abcxyz ABC-_/.,;:!?()（）。，、；：！？\n\t不没无非同步梯度环带宽ＡＢ１ﬁß記憶體伺服器演算法位元群峰著")),
    ),
    max_size=200,
)


@st.composite
def answers(draw, qid=None):
    """An answer to one of the fixture questions: free text, filler words and some of its keywords."""
    qid = qid or draw(st.sampled_from(QIDS))
    words = KEYWORDS[qid] + list(FILLER)
    parts = draw(st.lists(st.one_of(st.sampled_from(words), ANY_TEXT), max_size=12))
    return qid, draw(st.sampled_from([" ", "", "\n", ", "])).join(parts)


@FAST
@given(answers())
def test_score_is_within_0_and_1(case):
    qid, answer = case
    grade = GRADER.grade(qid, answer)
    assert 0.0 <= grade.score <= 1.0
    assert all(0.0 <= p.score <= 1.0 for p in grade.points)
    assert grade.passed == (grade.score >= grade.pass_mark - 1e-9)


@FAST
@given(answers())
def test_grading_is_deterministic(case):
    qid, answer = case
    first = GRADER.grade(qid, answer).to_dict()
    assert GRADER.grade(qid, answer).to_dict() == first
    assert Grader(_BANK).grade(qid, answer).to_dict() == first  # a fresh grader (nothing cached) agrees


def _bare_keyword_list(qid: str, answer: str) -> bool:
    """Whether every token of the answer belongs to one of the rubric's keywords."""
    vocab = {s for kw in KEYWORDS[qid] for s in tokenise(kw).stems}
    stems = tokenise(answer).stems
    return all(s in vocab for s in stems)


@FAST
@given(st.data())
def test_naming_one_more_keyword_never_lowers_the_score(data):
    qid, answer = data.draw(answers())
    assume(answer.strip() and not _bare_keyword_list(qid, answer))
    keyword = data.draw(st.sampled_from(KEYWORDS[qid]))
    before = GRADER.grade(qid, answer).score
    after = GRADER.grade(qid, answer + ". " + keyword).score
    assert after >= before - 1e-9, (answer, keyword, before, after)


# ---------------------------------------------------------------- the loader

YAML_PIECES = [
    "version: 1\n", "questions:\n", "rubrics:\n", "  - id: q1\n", "    topic: t\n", "    kind: concept\n",
    '    prompt: "p"\n', "    answer: a\n", "  q1:\n", "    points:\n", "      - id: p1\n", "        text: t\n",
    "        keywords: [[a, b], c]\n", "        need: 2\n", "        weight: -1\n", "difficulty: hard\n", "\t", "- ", ": ",
    "[", "]", "{", "}", "&a ", "*a", "<<: *a\n", "!!python/object/apply:os.system [x]\n", "!!int x", "!!binary ~~",
    "!!timestamp 2024-13-45", "!!set {a}", "!!omap [a: 1]", "? [k]\n: v\n", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! x\n",
    "\"\\x\"", "'", "|\n  x\n", ">-\n", "# c\n", "\ufeff", "\x00", "\x85", "\u2028", "~", "null", "1e999", "0o17", "0x1F",
]
YAML_TEXT = st.one_of(
    st.lists(st.sampled_from(YAML_PIECES), max_size=30).map("".join),
    st.text(max_size=300),
    st.binary(max_size=200),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions=YAML_TEXT, rubrics=st.one_of(st.none(), YAML_TEXT))
def test_the_loader_raises_only_its_own_error(tmp_path, questions, rubrics):
    bank = tmp_path / "bank"
    bank.mkdir(exist_ok=True)
    for name, body in (("questions.yaml", questions), ("rubrics.yaml", rubrics)):
        path = bank / name
        if body is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass"))
    try:
        load_bank([bank])
    except LlmprepError as exc:
        assert str(exc) and "\n" not in str(exc).split(" (and ")[0]
    _, problems = load_bank_collecting([bank])
    assert all(isinstance(p, str) and "\n" not in p for p in problems)


# ---------------------------------------------------------------- speed-ups keep the exact result


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="abcdefgh", max_size=24), st.text(alphabet="abcdefgh", max_size=24))
def test_fuzzy_close_is_rapidfuzz_ratio(a, b):
    from rapidfuzz.fuzz import ratio

    assume(a or b)
    assert fuzzy_close(a, b) == (ratio(a, b, score_cutoff=FUZZY_CUTOFF) >= FUZZY_CUTOFF)


def _normalise_by_character(text: str) -> tuple[str, list[int]]:
    """The documented pipeline, one character at a time: NFKC, OpenCC tw2sp, casefold."""
    from llmprep.text import _converter, _convert_aligned, _tw2sp, has_cjk

    out, origin = [], []
    for i, ch in enumerate(text):
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm)
        origin.extend([i] * len(norm))
    s = "".join(out)
    conv = _converter()
    if conv is not None and has_cjk(s):  # (always converts: the reference for the tw2sp_keys shortcut too)
        converted = _tw2sp(conv, s)  # tw2sp with its shielded words (文件 stays 文件)
        if len(converted) == len(s):
            s = converted
        else:
            s, origin = _convert_aligned(conv, s, origin)
    folded = s.casefold()
    if len(folded) != len(s):  # one character per character: ß stays ß, İ becomes i (text._fold_one)
        from llmprep.text import _fold_one

        folded = "".join(_fold_one(c) for c in s)
    return folded, origin


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_normalise_fast_paths_agree_with_the_character_by_character_pipeline(text):
    import llmprep.text

    llmprep.text._tw2sp_checked = 0  # (so that the tw2sp_keys shortcut is taken, not only OpenCC)
    assert normalise(text) == _normalise_by_character(text)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_tokens_point_back_into_the_text(text):
    tok = tokenise(text)
    n = len(tok.raw)
    assert len(tok.stems) == len(tok.clause) == len(tok.sentence) == len(tok.spans) == n
    assert list(tok.clause) == sorted(tok.clause) and list(tok.sentence) == sorted(tok.sentence)
    assert all(s <= c for s, c in zip(tok.sentence, tok.clause))
    for (start, end), raw in zip(tok.spans, tok.raw):
        assert 0 <= start <= end <= len(text)
        if end > start:
            assert normalise(text[start:end])[0].replace(" ", "") != "" or raw


@pytest.mark.parametrize("text", ["ＡｌｌＲｅｄｕｃｅ 伺服器", "ﬁne-grained ㎏", "İstanbul ẞ", "e\u0301 \u1100\u1161", "𠀀 A"])
def test_normalise_examples(text):
    assert normalise(text) == _normalise_by_character(text)
