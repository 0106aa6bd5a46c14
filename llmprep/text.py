"""Text normalisation and tokenisation shared by the grader, the auto-rubric and the bank checks.

Pipeline (see docs in README, "How grading works"):
NFKC (full-width → ASCII) → traditional → simplified Chinese (OpenCC tw2sp, if installed) → casefold,
then tokens: every CJK character is a token, every run of letters/digits is a token, the rest separates.
Latin tokens are stemmed (Snowball) so "gradients" ~ "gradient". No segmenter: jieba costs ~0.9 s start-up.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate


class _LazyRe:
    """A regex compiled on first use. A character class spanning the CJK blocks takes 2–5 ms to
    compile (re builds a 64K-entry table), and an English answer never needs one."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def __getattr__(self, name: str):
        compiled = re.compile(self.pattern)
        for attr in ("match", "search", "finditer", "findall", "sub", "split", "fullmatch"):
            setattr(self, attr, getattr(compiled, attr))  # later calls skip __getattr__
        return getattr(compiled, name)


# CJK ideographs (incl. extensions and compatibility), kana and hangul: one token per character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
# Latin-1 letters skip × (U+00D7) and ÷ (U+00F7), which are tokens of their own: "b×s×h" is
# b × s × h, and "5×" (a speed-up) stays distinct from a bare 5.
_SYMBOLS = "\u00d7\u00f7"
_LATIN = "0-9a-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
_TOKEN_RE = _LazyRe(rf"[{_CJK}]|[{_LATIN}]+|[{_SYMBOLS}]")
# The same tokens, a CJK run matched whole (and split into characters in Python): far fewer matches.
_RUN_RE = _LazyRe(rf"([{_CJK}]+)|[{_LATIN}]+|[{_SYMBOLS}]")
_ASCII_RUN_RE = re.compile(r"[0-9a-z]+")  # the same on lower-case ASCII text
# Punctuation that ends a clause: negation never reaches across it.
_CLAUSE_RE = re.compile(r"[.;:!?,。；：！？，、\n()（）—]")  # an em dash (— or ——) starts a new clause too
# Punctuation that ends a sentence: a derived rubric point is looked for within a few sentences.
_SENTENCE_RE = re.compile(r"[.;!?。；！？\n]")


# The same blocks as _CJK, as code-point ranges: testing one character (or finding the first CJK one)
# needs no regex, whose 40,000-code-point class takes ~3 ms to compile in every process.
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))


def is_cjk(token: str) -> bool:
    """Whether a token (its first character) is CJK."""
    if not token:
        return False
    o = ord(token[0])
    return o >= 0x3040 and any(lo <= o <= hi for lo, hi in _CJK_RANGES)


def has_cjk(text: str) -> bool:
    return not text.isascii() and any(is_cjk(c) for c in text if c >= "\u3040")


@lru_cache(maxsize=1)
def _converter():
    """OpenCC tw2sp maps 伺服器/記憶體/資料 to 服务器/内存/数据 (t2s leaves them); optional dependency."""
    try:
        import opencc

        return opencc.OpenCC("tw2sp")
    except Exception:  # pragma: no cover - opencc missing or broken: grade without it
        return None


# tw2sp also rewrites Taiwan *vocabulary* that is ordinary simplified Chinese with another meaning
# (序列 sequence → 串行 serial, 程序 program → 进程 process, 文件 → 文档, 核心 → 内核 …). These words are
# shielded from it (swapped for private-use characters of the same length, then swapped back).
_SHIELD = ("序列", "程序", "文件", "核心", "批次", "向量")
_SHIELD_PUA = {w: "".join(chr(0xE000 + 8 * k + i) for i in range(len(w))) for k, w in enumerate(_SHIELD)}


_TW2SP_CHECKS = 32  # texts checked per process before OpenCC is simply loaded
_tw2sp_checked = 0


def tw2sp_could_change(s: str) -> bool:
    """Whether OpenCC tw2sp could change `s`: it holds a character or phrase listed in tw2sp_keys.py.
    (`c in CHARS` searches a 5,000-character string: a set of it would cost 3 ms to build.)"""
    from .tw2sp_keys import CHARS, PHRASES

    return any(c in CHARS for c in set(s) if c >= "\u3040") or any(p in s for p in PHRASES)


def _needs_tw2sp(s: str) -> bool:
    """Whether to run OpenCC on `s`. Most simplified Chinese tw2sp leaves alone, and then OpenCC is never
    loaded (~20 ms of start-up). The check costs ~0.1 ms for a short answer, so a batch, a quiz or a long
    text loads OpenCC instead: cheaper there, and the same result."""
    global _tw2sp_checked
    _tw2sp_checked += 1
    return _tw2sp_checked > _TW2SP_CHECKS or len(s) > 4096 or tw2sp_could_change(s)


def _tw2sp(conv, s: str) -> str:
    hits = [w for w in _SHIELD if w in s]
    for w in hits:
        s = s.replace(w, _SHIELD_PUA[w])
    s = conv.convert(s)
    for w in hits:
        s = s.replace(_SHIELD_PUA[w], w)
    return s


class _NfkcChars(dict):
    """str.translate table: code point → NFKC of that one character, filled in as characters are met
    (full-width punctuation in Chinese text makes most of it not NFKC already)."""

    def __missing__(self, code: int) -> str:
        norm = unicodedata.normalize("NFKC", chr(code))
        if len(self) < 20000:
            self[code] = norm
        return norm


_NFKC_CHARS = _NfkcChars()


def normalise(text: str) -> tuple[str, list[int]]:
    """Return the normalised text and, for each of its characters, the index in `text` it came from."""
    folded, origin = _normalise(text)
    return folded, list(range(len(text))) if origin is None else origin


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """normalise(), with None for the origin when it is the identity (no list of a million ints for
    a 1 MB answer). Text already in NFKC (all ASCII, most CJK) skips the per-character pass: a string
    is NFKC-normalised only if NFKC leaves each of its characters alone."""
    if text.isascii():
        return text.lower(), None  # casefold on ASCII is lower(); no CJK to convert
    origin: list[int] | None = None
    s = text if unicodedata.is_normalized("NFKC", text) else text.translate(_NFKC_CHARS)
    if len(s) != len(text):  # a character became several (ﬁ → fi, ㎏ → kg): track where each came from
        out: list[str] = []
        origin = []
        for i, ch in enumerate(text):
            if ch.isascii():
                out.append(ch)
                origin.append(i)
                continue
            norm = unicodedata.normalize("NFKC", ch)
            out.append(norm)
            origin.extend([i] * len(norm))
        s = "".join(out)
    if has_cjk(s) and _needs_tw2sp(s):
        conv = _converter()
        if conv is not None:
            converted = _tw2sp(conv, s)
            if len(converted) == len(s):
                s = converted
            else:  # a phrase changed length (記憶體 → 内存): convert run by run, re-aligning offsets
                s, origin = _convert_aligned(conv, s, list(range(len(s))) if origin is None else origin)
    folded = s.casefold()
    if len(folded) != len(s):  # e.g. ß → ss: keep offsets aligned by folding per character
        folded = "".join(map(_fold_one, s))
    return folded, origin


def _fold_one(c: str) -> str:
    """Casefold one character to one character: ß stays ß (not ss), İ becomes i (not i + combining dot)."""
    f = c.casefold()
    if len(f) == 1:
        return f
    low = c.lower()
    if len(low) == 1:
        return low
    return f[0] if all(unicodedata.combining(x) for x in f[1:]) else c


_CJK_RUN_RE = _LazyRe(rf"[{_CJK}]+")
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
        conv_run = _tw2sp(conv, run)
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


def _english_stemmer():
    """snowballstemmer.stemmer("english") without `import snowballstemmer`, which imports all of its ~35
    languages (~15 ms): the English module is loaded from the package's directory under a private
    package name. PyStemmer, which snowballstemmer itself prefers when installed, is used the same way."""
    try:
        import Stemmer  # type: ignore[import-not-found]

        return Stemmer.Stemmer("english")
    except ImportError:
        pass
    try:
        import importlib
        import sys
        import types
        from importlib.util import find_spec

        name = "_llmprep_snowball"
        if name not in sys.modules:
            spec = find_spec("snowballstemmer")
            pkg = types.ModuleType(name)
            pkg.__path__ = list(spec.submodule_search_locations)  # type: ignore[union-attr]
            sys.modules[name] = pkg
        return importlib.import_module(name + ".english_stemmer").EnglishStemmer()
    except Exception:  # pragma: no cover - an unusual install: the documented way
        import snowballstemmer

        return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball English stem of a lower-case latin token; CJK and digits pass through."""
    global _stemmer
    if not word.isascii() or not word.isalpha() or len(word) < 3:
        return word
    if _stemmer is None:
        _stemmer = _english_stemmer()
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
    spans: "Sequence[tuple[int, int]]"  # (start, end) in the original text, per token
    source: str
    sentence: tuple[int, ...] = ()

    def snippet(self, i: int, j: int) -> str:
        """Original text covered by tokens i..j-1."""
        return self.source[self.spans[i][0] : self.spans[j - 1][1]]


def _numbering(norm: str, starts: list[int], pattern: re.Pattern) -> tuple[int, ...]:
    """For each token, how many gaps before it (up to its own) hold a character of `pattern`: the
    clause or sentence number. Punctuation is never part of a token, so each match falls in the gap
    before the first token that starts after it."""
    n = len(starts)
    marks = bytearray(n + 1)
    for m in pattern.finditer(norm):
        marks[bisect_left(starts, m.start())] = 1
    return tuple(accumulate(marks[:n]))


def tokenise(text: str) -> Tokens:
    norm, origin = _normalise(text)
    raw: list[str] = []
    starts: list[int] = []  # (a token ends at its start + its length: see _Spans)
    for m in (_ASCII_RUN_RE if norm.isascii() else _RUN_RE).finditer(norm):  # = _TOKEN_RE's tokens
        if m.lastindex:  # a run of CJK characters: one token each
            a, b = m.span()
            raw.extend(m.group())
            starts.extend(range(a, b))
        else:
            raw.append(m.group())
            starts.append(m.start())
    stems = tuple(map(stem, raw))
    clauses = _numbering(norm, starts, _CLAUSE_RE)
    sentences = _numbering(norm, starts, _SENTENCE_RE)  # its characters all end a clause too
    if origin is None and len(norm) != len(text):  # (casefolding İ makes two characters of one)
        origin = list(range(len(text)))
    raw_t = tuple(raw)
    return Tokens(stems, raw_t, clauses, _Spans(starts, raw_t, origin, len(text)), text, sentences)


class _Spans(Sequence):
    """Token spans in the original text, computed on access: a 1 MB Chinese answer has ~750,000 tokens,
    and building a tuple per token up front costs more than grading it (only matched tokens are asked)."""

    __slots__ = ("_starts", "_raw", "_origin", "_n")

    def __init__(self, starts: list[int], raw: tuple[str, ...], origin: list[int] | None, n: int):
        self._starts, self._raw, self._origin, self._n = starts, raw, origin, n

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        a = self._starts[i]
        b = a + len(self._raw[i])  # in the normalised text, which a token never spans differently
        origin = self._origin
        if origin is None:
            return (a, b)
        m = len(origin)  # positions past the origin (casefolding grew the text) map to the end
        return (origin[a] if a < m else self._n, origin[b - 1] + 1 if b - 1 < m else self._n)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"_Spans({list(self)!r})"


@lru_cache(maxsize=65536)  # a bank repeats its keywords: tokenise each once
def keyword_forms(keyword: str) -> tuple[tuple[str, ...], ...]:
    """Token sequences a keyword matches: its stems, plus (for several latin words of two letters or
    more) their concatenation, so "all-reduce" also matches "allreduce"."""
    toks = tokenise(keyword).raw
    if not toks:
        return ()
    forms = [tuple(stem(t) for t in toks)]
    # Only words (and numbers: ZeRO-3 → zero3) join: "O(N)" must not become "on", nor "double S" "doubles".
    if len(toks) > 1 and all(not is_cjk(t) and (len(t) >= 2 or t.isdigit()) for t in toks):
        forms.append((stem("".join(toks)),))
    return tuple(forms)
