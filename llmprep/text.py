"""Text normalisation and tokenisation shared by the grader, the auto-rubric and the bank checks.

Pipeline (see docs in README, "How grading works"):
NFKC (full-width → ASCII) → traditional → simplified Chinese (OpenCC tw2sp, if installed) → casefold,
then tokens: every CJK character is a token, every run of letters/digits is a token, the rest separates.
Latin tokens are stemmed (Snowball) so "gradients" ~ "gradient". No segmenter: jieba costs ~0.9 s start-up.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# CJK ideographs (incl. extensions and compatibility), kana and hangul: one token per character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[0-9a-z\u00b5\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+")
# Punctuation that ends a clause: negation never reaches across it.
_CLAUSE_RE = re.compile(r"[.;:!?,。；：！？，、\n()（）]")
# Punctuation that ends a sentence: a derived rubric point is looked for within a few sentences.
_SENTENCE_RE = re.compile(r"[.;!?。；！？\n]")
_HAS_CJK = re.compile(rf"[{_CJK}]")


def is_cjk(token: str) -> bool:
    return bool(_HAS_CJK.match(token))


@lru_cache(maxsize=1)
def _converter():
    """OpenCC tw2sp maps 伺服器/記憶體/資料 to 服务器/内存/数据 (t2s leaves them); optional dependency."""
    try:
        import opencc

        return opencc.OpenCC("tw2sp")
    except Exception:  # pragma: no cover - opencc missing or broken: grade without it
        return None


def normalise(text: str) -> tuple[str, list[int]]:
    """Return the normalised text and, for each of its characters, the index in `text` it came from."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            out.append(ch)
            origin.append(i)
            continue
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm)
        origin.extend([i] * len(norm))
    s = "".join(out)
    if _HAS_CJK.search(s):
        conv = _converter()
        if conv is not None:
            converted = conv.convert(s)
            if len(converted) == len(s):
                s = converted
            else:  # a phrase changed length (記憶體 → 内存): convert run by run, re-aligning offsets
                s, origin = _convert_aligned(conv, s, origin)
    folded = s.casefold()
    if len(folded) != len(s):  # e.g. ß → ss: keep offsets aligned by folding per character
        folded = "".join(c.casefold() if len(c.casefold()) == 1 else c.lower() for c in s)
    return folded, origin


_CJK_RUN_RE = re.compile(rf"[{_CJK}]+")
_ALIGN_MAX = 2000  # longer runs of CJK are aligned character by character (no quadratic work)


def _convert_aligned(conv, s: str, origin: list[int]) -> tuple[str, list[int]]:
    """Convert each CJK run of `s`; where a run changes length, map its characters back to the
    original with difflib (equal blocks one to one, a replaced phrase spread over the original one)."""
    from difflib import SequenceMatcher

    out: list[str] = []
    new_origin: list[int] = []
    last = 0
    for m in _CJK_RUN_RE.finditer(s):
        out.append(s[last : m.start()])
        new_origin.extend(origin[last : m.start()])
        run = m.group()
        conv_run = conv.convert(run)
        base = m.start()
        if len(conv_run) == len(run):
            out.append(conv_run)
            new_origin.extend(origin[base : m.end()])
        elif len(run) > _ALIGN_MAX:
            chars = [conv.convert(c) if len(conv.convert(c)) == 1 else c for c in run]
            out.append("".join(chars))
            new_origin.extend(origin[base : m.end()])
        else:
            out.append(conv_run)
            for tag, i1, i2, j1, j2 in SequenceMatcher(None, run, conv_run, autojunk=False).get_opcodes():
                if tag == "equal":
                    new_origin.extend(origin[base + i1 : base + i2])
                elif j2 > j1:  # replaced phrase: spread its characters over the original phrase
                    lo, hi = base + min(i1, len(run) - 1), base + max(min(i2, len(run)) - 1, min(i1, len(run) - 1))
                    n = j2 - j1
                    for k in range(n):
                        new_origin.append(origin[hi] if k == n - 1 else origin[lo + (k * (hi - lo + 1)) // n])
        last = m.end()
    out.append(s[last:])
    new_origin.extend(origin[last:])
    return "".join(out), new_origin


# British spellings folded to American before stemming, in keywords and answers alike:
# optimise/optimiser/optimisation → -iz-, analyse → analyze, neighbour/behaviour → -or.
_BRIT_IS = re.compile(r"^([a-z]{3,})(is|ys)(e|ed|es|ing|er|ers|ation|ations)$")
_BRIT_OUR = re.compile(r"^([a-z]{3,})our(s|ed|ing|hood|hoods|ite|ites|able)?$")

_stemmer = None


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball English stem of a lower-case latin token; CJK and digits pass through."""
    global _stemmer
    if not word.isascii() or not word.isalpha() or len(word) < 3:
        return word
    if _stemmer is None:
        import snowballstemmer

        _stemmer = snowballstemmer.stemmer("english")
    if len(word) >= 6:
        word = _BRIT_IS.sub(lambda m: m.group(1) + ("iz" if m.group(2) == "is" else "yz") + m.group(3), word)
        word = _BRIT_OUR.sub(r"\1or\2", word)
    return _stemmer.stemWord(word)


@dataclass(frozen=True)
class Tokens:
    """A tokenised text: stems, raw lower-case forms, clause numbers and spans in the original text."""

    stems: tuple[str, ...]
    raw: tuple[str, ...]
    clause: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    source: str
    sentence: tuple[int, ...] = ()

    def snippet(self, i: int, j: int) -> str:
        """Original text covered by tokens i..j-1."""
        return self.source[self.spans[i][0] : self.spans[j - 1][1]]


def tokenise(text: str) -> Tokens:
    norm, origin = normalise(text)
    stems: list[str] = []
    raw: list[str] = []
    clauses: list[int] = []
    spans: list[tuple[int, int]] = []
    sentences: list[int] = []
    clause = 0
    sentence = 0
    last = 0
    for m in _TOKEN_RE.finditer(norm):
        if _CLAUSE_RE.search(norm, last, m.start()):
            clause += 1
            if _SENTENCE_RE.search(norm, last, m.start()):
                sentence += 1
        sentences.append(sentence)
        last = m.end()
        word = m.group()
        raw.append(word)
        stems.append(stem(word))
        clauses.append(clause)
        start = origin[m.start()] if m.start() < len(origin) else len(text)
        end = origin[m.end() - 1] + 1 if m.end() - 1 < len(origin) else len(text)
        spans.append((start, end))
    return Tokens(tuple(stems), tuple(raw), tuple(clauses), tuple(spans), text, tuple(sentences))


def keyword_forms(keyword: str) -> tuple[tuple[str, ...], ...]:
    """Token sequences a keyword matches: its stems, plus (for several latin tokens) their
    concatenation, so "all-reduce" also matches "allreduce"."""
    toks = tokenise(keyword).raw
    if not toks:
        return ()
    forms = [tuple(stem(t) for t in toks)]
    if len(toks) > 1 and all(not is_cjk(t) for t in toks):
        forms.append((stem("".join(toks)),))
    return tuple(forms)
