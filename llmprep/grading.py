"""Pure grading core: answer text + rubric → Grade with per-point evidence. No CLI imports.

Two kinds of rubric point:

* **Hand-written keywords** (what rubric authors are told): a point is a list of concepts, each concept a
  list of synonyms; point score = min(1, concepts found / need). A synonym is found when it occurs in the
  answer on token boundaries (see text.py), or, for latin words of six letters or more, within a small
  typo distance. A synonym that occurs in the question earns nothing.
* **Derived keywords** (a point given only as text, and every point of an auto-rubric built from the
  reference answers' sentences): the keywords are the text's content units (English content words,
  Chinese character bigrams), each weighted by how specific it is across the bank (IDF over every rubric
  point of the loaded bank, computed once per Grader), halved for light verbs and vague words, and matched
  with general-English near-synonyms too (autorubric.py). A unit that occurs in the question keeps DEMOTE
  of its credit. Point score = min(1, matched weight / (cover · weight)), continuous partial credit, with
  cover = COVER for an author's point text and COVER_REF for a reference-answer sentence. An author's point
  text may offer alternatives ("A or B", "a/b") and asides in parentheses (ASIDE of the weight).
* **Key elements** (a rubric whose points are an author's texts, as "You need to know what type of vinegar
  was used"): one phrase of the answer supports one point. Points whose heaviest evidence is the same
  answer word compete for it, and the one whose own neighbouring words stand near it in the answer keeps
  it (`_share_phrases`). A question word the point's text asks about ("what materials to test") earns its
  full weight where the answer asks about it too ("what the samples were"): asking is not restating.

Everywhere: a match right after a negation ("not", 不, 没有 …) in the same clause is reported under
`negated` and earns nothing. The constants below are one set for every bank; bench/accuracy.py measures
them against human graders (README, "Grader accuracy").
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable, Iterator

from .bank import Point, Question, Rubric, Text
from .text import Tokens, is_cjk, keyword_forms, tokenise

GRADER_VERSION = "4"

FUZZY_MIN_LEN = 6  # shorter latin words must match exactly (PS ≠ "steps", MoE ≠ "mode")
FUZZY_CUTOFF = 85.0
JOIN_MIN_LEN = 5  # a one-word latin keyword this long also matches two answer words written apart
NEG_WINDOW = 3  # tokens looked back for a negation cue, inside the same clause
COVER = 0.7  # share of a text-only point's weight that earns the point in full
COVER_REF = 0.4  # the same for a sentence of a reference answer (auto-rubric) and a Chinese point text
IDF_FLOOR = 0.2  # least weight of a derived unit
LIGHT = 0.5  # weight kept by a derived unit that is a light verb or vague word (make, new, thing)
ASIDE = 0.5  # weight kept by a derived unit that occurs only inside parentheses
ONE_TOKEN_ONE_UNIT = True  # one answer word serves one unit of a derived point
SLASH = True  # "a/b" in a point's prose: one concept with two synonyms
COMPOUNDS = True  # fold units the bank only ever uses side by side (amino acid)
DEMOTE = 0.3  # credit kept by a derived unit that also occurs in the question
DEMOTE_TOTAL = 0.5  # share of its weight such a unit still adds to its point's total
ONE_UNIT_MAX = 0.45  # most of an author's text point one unit can earn: one word alone never finds the point
PHRASE_NEAR = 5  # tokens around a contested answer word in which a point's other units count as its context
ASK_WORDS = frozenset({"what", "which", "哪", "什么"})  # "what materials": asks about the words after it ...
ASK_SPAN = 4  # ... up to this many tokens on (twice as many Chinese characters), in the same clause

_NEG_WORDS = {"not", "no", "never", "without", "cannot", "nor", "neither", "none", "nothing"}
# 别 is left out: it ends common words (识别, 区别, 类别, 分别) far more often than it negates.
_NEG_CHARS = {"不", "没", "未", "非", "无", "勿"}
# Cue + next character that is not a negation of what follows ("不同" different, "非常" very …).
_NOT_NEG = {"不仅", "不但", "不过", "不断", "不同", "不少", "不管", "非常", "无论", "未来", "无疑", "不错", "别的", "没想"}
_NOT_NEG_EN = {"only", "just", "merely", "simply", "necessarily"}
# Characters that may stand between a Chinese negation and what it denies: 没有使用X, 不是X, 无需X.
_NEG_BRIDGE = set("有使用是需要会能必采进行做了再太")
NEG_WINDOW_ZH = 4  # 没有使用X: the cue three characters back
_CONDITIONAL = {"如果", "若", "假如", "假设", "要是", "if", "unless", "whether"}


@dataclass(frozen=True)
class Match:
    """Evidence: `keyword` (as written in the rubric) matched `found` at answer[start:end]."""

    keyword: str
    found: str
    start: int
    end: int
    fuzzy: bool = False
    tok: int = field(default=-1, compare=False, repr=False)  # index of the first answer token (grading only)

    def to_dict(self) -> dict:
        d = {"keyword": self.keyword, "found": self.found, "start": self.start, "end": self.end}
        if self.fuzzy:
            d["fuzzy"] = True
        return d


@dataclass(frozen=True)
class PointGrade:
    id: str
    weight: float
    score: float
    need: int
    text: Text
    matched: tuple[Match, ...]
    negated: tuple[Match, ...]
    missing: tuple[str, ...]  # first synonym of each concept not found

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "weight": self.weight,
            "score": round(self.score, 4),
            "matched": [m.to_dict() for m in self.matched],
            "negated": [m.to_dict() for m in self.negated],
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class Grade:
    id: str
    score: float
    passed: bool
    pass_mark: float
    points: tuple[PointGrade, ...]
    grader_version: str = GRADER_VERSION

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "passed": self.passed,
            "pass": self.pass_mark,
            "points": [p.to_dict() for p in self.points],
        }


# ---------------------------------------------------------------- bank statistics


def unit_key(keyword: str) -> tuple[str, ...]:
    forms = keyword_forms(keyword)
    return forms[0] if forms else ()


def adjacent_pairs(point: Point, keys: set) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Pairs of the point's single-word latin units that stand next to each other in its text."""
    out = []
    for _, text in point.text:
        st = tokenise(text).stems
        for a, b in zip(st, st[1:]):
            if a != b and (a,) in keys and (b,) in keys and a.isalpha() and a.isascii() and b.isascii():
                out.append(((a,), (b,)))
    return out


class UnitStats:
    """Document frequency of keyword units over every rubric point of a bank (a point = a document)."""

    def __init__(self, points: Iterable[Point] = ()):
        self.df: Counter = Counter()
        self.pairs: Counter = Counter()  # adjacent pairs of units in a point's text ("amino acid")
        self.n = 0
        for p in points:
            self.add(p)

    def add(self, point: Point) -> None:
        keys = {unit_key(syns[0]) for syns in point.keywords if syns}
        self.df.update(keys)
        self.pairs.update(set(adjacent_pairs(point, keys)))
        self.n += 1

    def compound(self, a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        """Units that, across the bank, occur only side by side ("amino acid") count as one unit."""
        n = self.pairs.get((a, b), 0)
        return n >= 2 and n == self.df.get(a, 0) == self.df.get(b, 0)

    @classmethod
    def of_bank(cls, bank) -> "UnitStats":
        stats = cls()
        for rubric in bank.rubrics.values():
            for variant in rubric.variants or (rubric.points,):
                for p in variant:
                    stats.add(p)
        return stats

    def idf(self, key: tuple[str, ...]) -> float:
        # Robertson–Spärck Jones IDF: a unit in half the points of the bank or more tells them apart
        # poorly. The floor keeps every unit some weight (in a bank of one or two points all weigh alike).
        df = self.df.get(key, 0)
        n = max(self.n, df)
        return max(IDF_FLOOR, math.log((n - df + 0.5) / (df + 0.5)))


# ---------------------------------------------------------------- compiled rubrics


@dataclass(frozen=True)
class _Concept:
    synonyms: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]  # (keyword, forms)
    label: str
    weight: float = 1.0  # credit when found
    full: float = 1.0  # weight before demoting (what the point's total counts)
    asked_weight: float = 0.0  # credit where the answer asks about a demoted unit the point's text asks about
    at: int = -1  # token index in an author's point text (where it stands in the phrase), -1 unknown


@dataclass(frozen=True)
class _CompiledPoint:
    point: Point
    concepts: tuple[_Concept, ...]
    need: int
    coverage: bool = False  # derived keywords: score by weighted coverage
    cover: float = 1.0  # share of the weight that earns a coverage point in full
    weight: float = 1.0  # the point's weight in the grade
    total: float = 0.0  # sum of concept weights (coverage points)
    alts: tuple[tuple[int, ...], ...] = ()  # coverage points: concept indexes of each alternative
    authored: bool = False  # a coverage point from an author's text (not a reference-answer sentence)


def _position(form: tuple[str, ...], tokens: tuple[str, ...]) -> int:
    """Index of the first occurrence of a stem sequence in `tokens`, -1 if none."""
    n = len(form)
    first = form[0]
    for i, t in enumerate(tokens):
        if t == first and tokens[i : i + n] == form:
            return i
    return -1


def _occurs(form: tuple[str, ...], tokens: tuple[str, ...]) -> bool:
    return _position(form, tokens) >= 0


def _text_derived(p: Point) -> bool:
    """Whether a point's keywords were derived from its text (the author gave none): derived concepts
    are single words, so a point with any list of synonyms is hand-written (checked first: cheap)."""
    if p.need > 1 or any(len(c) != 1 for c in p.keywords):
        return False
    from .autorubric import keywords_from_text

    return p.keywords == keywords_from_text(p.text)


def compile_points(
    points: Iterable[Point],
    demote: tuple[str, ...] = (),
    stats: UnitStats | None = None,
    derived: bool = False,
) -> tuple[_CompiledPoint, ...]:
    """Prepare keyword forms once. Hand-written synonyms that occur in `demote` (the question's stems) are
    dropped; derived units are weighted by IDF (`stats`) and keep DEMOTE of their weight."""
    from .autorubric import alternatives, aside_units, is_light, related_words, slash_pairs

    out = []
    for p in points:
        coverage = derived or _text_derived(p)
        prose = " ".join(t for _, t in p.text) if coverage else ""
        aside = aside_units(prose) if coverage and not derived else set()
        asked: frozenset[int] = frozenset()  # token indexes of the point's text that it asks about
        pstems: tuple[str, ...] = ()
        if prose and not derived:
            ptok = tokenise(prose)
            pstems, asked = ptok.stems, asked_positions(ptok)
        concepts = []
        for syns in p.keywords:
            label = syns[0]
            if coverage and len(syns) == 1:
                syns = syns + related_words(syns[0])
            kept = []
            restates = False
            for kw in syns:
                forms = keyword_forms(kw)
                if demote and any(_occurs(f, demote) for f in forms):
                    restates = True
                    if not coverage:  # a hand-written synonym that restates the question earns nothing
                        forms = tuple(f for f in forms if not _occurs(f, demote))
                if forms:
                    kept.append((kw, forms))
            if not kept:
                continue
            w = full = 1.0
            if coverage:
                # as specific as its most common synonym: "brand" (~ type, kind) is no rarer than "type"
                w = full = min(stats.idf(unit_key(kw)) for kw, _ in kept) if stats is not None else 1.0
                if label in aside:
                    w *= ASIDE
                    full *= ASIDE
                if is_light(label):
                    w *= LIGHT
                    full *= LIGHT
                if restates:
                    w *= DEMOTE
                    full *= DEMOTE_TOTAL
                if full <= 0:
                    continue
            at = min((i for f in keyword_forms(label) if (i := _position(f, pstems)) >= 0), default=-1)
            asked_w = w / DEMOTE if restates and at in asked else 0.0
            concepts.append(_Concept(tuple(kept), label, w, full, asked_w, at))
        if coverage and stats is not None and COMPOUNDS:
            concepts = _merge_compounds(concepts, stats)
        if coverage and SLASH and not derived:
            concepts = _merge_slashes(concepts, slash_pairs(prose))
        if coverage:
            alts = []
            # Each language of the point's text is an alternative (a zh answer need not match the en
            # words), and so is each side of an "A or B" in it.
            prose_alts = [u for _, t in p.text for u in alternatives(t)] if prose and not derived else []
            for units in prose_alts:
                # (a merged concept, "amino acid" or "size/type", belongs where any of its words does)
                idx = tuple(i for i, c in enumerate(concepts) if any(u in units for u in c.label.replace("/", " ").split()))
                if idx:
                    alts.append(idx)
            if len(alts) < 2:
                alts = [tuple(range(len(concepts)))]
            total = sum(c.full for c in concepts)
            weight = total if derived else p.weight
            # A Chinese text's units are overlapping character bigrams: a paraphrase keeps far fewer of them
            # than an English one keeps words (one changed character breaks two bigrams), so a mostly
            # Chinese point text is covered at a reference sentence's rate.
            chinese = sum(is_cjk(c.label) for c in concepts) * 2 > len(concepts)
            cover = COVER_REF if derived or chinese else COVER
            out.append(_CompiledPoint(p, tuple(concepts), 1, True, cover, weight, total, tuple(alts), not derived))
        else:
            need = min(p.need, len(concepts)) if concepts else p.need
            out.append(_CompiledPoint(p, tuple(concepts), need, coverage=False, weight=p.weight, total=float(len(concepts))))
    return tuple(out)


def _merge_compounds(concepts: list[_Concept], stats: UnitStats) -> list[_Concept]:
    """Fold "amino" + "acid" into the one concept "amino acid" when the bank never uses them apart."""
    keys = [unit_key(c.label) for c in concepts]
    out: list[_Concept] = []
    skip = set()
    for i, c in enumerate(concepts):
        if i in skip:
            continue
        for j in range(len(concepts)):
            if j != i and j not in skip and stats.compound(keys[i], keys[j]):
                phrase = f"{c.label} {concepts[j].label}"
                forms = keyword_forms(phrase)
                o = concepts[j]
                c = replace(c, synonyms=((phrase, forms),), label=phrase, weight=max(c.weight, o.weight), full=max(c.full, o.full),
                            asked_weight=max(c.asked_weight, o.asked_weight), at=min(c.at, o.at))
                skip.add(j)
                break
        out.append(c)
    return out


def _merge_slashes(concepts: list[_Concept], pairs: list[tuple[str, str]]) -> list[_Concept]:
    """"size/type": the unit after the slash becomes a synonym of the one before it."""
    for a, b in pairs:
        ka, kb = unit_key(a), unit_key(b)
        ia = next((i for i, c in enumerate(concepts) if unit_key(c.label) == ka), None)
        ib = next((i for i, c in enumerate(concepts) if unit_key(c.label) == kb), None)
        if ia is None or ib is None or ia == ib:
            continue
        ca, cb = concepts[ia], concepts[ib]
        merged = replace(ca, synonyms=ca.synonyms + cb.synonyms, label=f"{ca.label}/{cb.label}", weight=max(ca.weight, cb.weight),
                         full=max(ca.full, cb.full), asked_weight=max(ca.asked_weight, cb.asked_weight), at=min(ca.at, cb.at))
        concepts = [merged if i == ia else c for i, c in enumerate(concepts) if i != ib]
    return concepts


def asked_positions(tok: Tokens) -> frozenset[int]:
    """Tokens a "what"/"which" asks about: up to ASK_SPAN tokens after it in its clause ("what the four
    samples were" asks about the samples; "how much vinegar" asks about an amount, not about vinegar)."""
    out: set[int] = set()
    for i, w in enumerate(tok.raw):
        if w in ASK_WORDS or (w == "么" and i and tok.raw[i - 1] + w in ASK_WORDS):
            span = 2 * ASK_SPAN if is_cjk(w) else ASK_SPAN
            for j in range(i + 1, min(len(tok.raw), i + 1 + span)):
                if tok.clause[j] != tok.clause[i]:
                    break
                out.add(j)
            if w == "么" and i >= 2 and tok.raw[i - 2] == "是":  # 材料分别是什么: asks about what precedes
                for j in range(i - 3, max(-1, i - 3 - span), -1):
                    if tok.clause[j] != tok.clause[i]:
                        break
                    out.add(j)
    return frozenset(out)


def question_tokens(question: Question | None) -> tuple[str, ...]:
    """All stems of the question's prompt in every language (used for demoting)."""
    if question is None:
        return ()
    stems: list[str] = []
    for _, s in question.prompt:
        stems += tokenise(s).stems
        stems.append("\x00")  # separator: no match across two languages
    return tuple(stems)


# ---------------------------------------------------------------- matching


def fuzzy_close(a: str, b: str) -> bool:
    """rapidfuzz's `fuzz.ratio(a, b) >= FUZZY_CUTOFF`, exactly, without importing rapidfuzz (~25 ms of
    start-up): ratio = 200·LCS(a, b) / (len a + len b)."""
    return 200 * _lcs_length(a, b) >= FUZZY_CUTOFF * (len(a) + len(b))


@lru_cache(maxsize=65536)  # a batch meets the same (keyword, answer word) pairs again and again
def _lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence, by Hyyrö's bit-parallel algorithm (the one rapidfuzz
    uses): one big-int step per character of b."""
    masks: dict[str, int] = {}
    bit = 1
    for ch in a:
        masks[ch] = masks.get(ch, 0) | bit
        bit <<= 1
    full = bit - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


class _Answer:
    """An answer prepared for matching: token index and lazily computed fuzzy neighbours."""

    def __init__(self, text: str):
        self.tok: Tokens = tokenise(text)
        index: defaultdict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(self.tok.stems):
            index[s].append(i)
        self.index: dict[str, list[int]] = dict(index)
        self._fuzzy: dict[str, set[str]] = {}
        self._by_first: dict[str, list[str]] | None = None
        self._heads: set[str] | None = None
        self._found: dict[tuple[str, ...], tuple[int, int, bool, bool] | None] = {}
        self._asked: frozenset[int] | None = None
        self._all: dict[tuple[str, ...], list[tuple[int, int, bool]]] = {}

    def split_at(self, stem: str) -> list[int]:
        """Starts of two adjacent answer stems that spell `stem` together ("warm" "up" for "warmup"):
        tried at each split of the keyword, so the cost follows the keyword, not the answer."""
        if self._heads is None:  # first two letters of every answer stem: most keywords stop here
            self._heads = {s[:2] for s in self.index}
        if stem[:2] not in self._heads:
            return []
        out: list[int] = []
        st = self.tok.stems
        for k in range(2, len(stem) - 1):
            first = self.index.get(stem[:k])
            if first and stem[k:] in self.index:
                rest = stem[k:]
                out.extend(i for i in first if i + 1 < len(st) and st[i + 1] == rest)
        return out

    def similar(self, stem: str) -> set[str]:
        """Answer stems within typo distance of a long latin keyword stem (same first letter)."""
        if stem in self._fuzzy:
            return self._fuzzy[stem]
        found: set[str] = set()
        if len(stem) >= FUZZY_MIN_LEN and stem.isascii() and stem.isalpha():
            if self._by_first is None:  # latin answer stems by first letter, built once per answer
                self._by_first = {}
                for cand in self.index:
                    if cand.isascii():
                        self._by_first.setdefault(cand[:1], []).append(cand)
            n = len(stem)
            for cand in self._by_first.get(stem[0], ()):
                if cand != stem and abs(len(cand) - n) <= 2 and fuzzy_close(stem, cand):
                    found.add(cand)
        self._fuzzy[stem] = found
        return found

    def positions(self, stem: str) -> list[tuple[int, bool]]:
        exact = [(i, False) for i in self.index.get(stem, ())]
        fuzzy = [(i, True) for c in self.similar(stem) for i in self.index[c]]
        return exact + fuzzy

    def token_matches(self, i: int, stem: str) -> bool | None:
        """None: no match at i; else whether the match at i is fuzzy."""
        if i >= len(self.tok.stems):
            return None
        got = self.tok.stems[i]
        if got == stem:
            return False
        if got in self.similar(stem):
            return True
        return None

    def negated(self, i: int) -> bool:
        """Whether the token at i follows a negation cue in its clause: a latin cue ("not", "without",
        "don't") up to NEG_WINDOW tokens back; a Chinese cue (不 没 未 非 无 …) right before it or
        bridged only by light verbs (没有使用X, 不是X, 无需X, 并非X)."""
        tok = self.tok
        clause = tok.clause[i]
        for j in range(i - 1, max(-1, i - 1 - NEG_WINDOW_ZH), -1):
            if tok.clause[j] != clause:
                break
            w = tok.raw[j]
            cue = False
            if i - j <= NEG_WINDOW and w in _NEG_WORDS:
                end = tok.spans[j][1]
                if tok.source[end : end + 1] in ("_", "-"):  # an identifier or compound: no_sync, no-op
                    continue
                nxt = tok.raw[j + 1] if j + 1 < i else ""
                cue = nxt not in _NOT_NEG_EN  # "not only", "not just"
            elif i - j <= NEG_WINDOW and w == "t" and j > 0 and tok.raw[j - 1].endswith("n"):  # don't, isn't
                cue = True
            elif w in _NEG_CHARS and all(tok.raw[k] in _NEG_BRIDGE for k in range(j + 1, i)):
                nxt = tok.raw[j + 1] if j + 1 < len(tok.raw) else ""
                # 不同 (different) is no negation, but 不同步 with the keyword 同步 is: the pair
                # borrows the keyword's own first character.
                cue = j + 1 == i or (w + nxt) not in _NOT_NEG
            if cue:
                # "如果不用混合精度…" / "if you do not …": a condition, not a denial.
                before = tok.raw[max(0, j - 4) : j]
                joined = "".join(before)
                if any(c in before or (is_cjk(c[0]) and c in joined) for c in _CONDITIONAL):
                    return False
                return True
        return False

    def _starts(self, form: tuple[str, ...]) -> Iterator[tuple[int, int, bool]]:
        """Candidate (start, end, fuzzy) of a stem sequence, in answer order, before the negation check.
        A generator: `find` stops at the first good one (a 1 MB answer may hold a word 100,000 times)."""
        head = form[0]
        exact = self.index.get(head)
        close = self.similar(head) if len(head) >= FUZZY_MIN_LEN else None
        if not exact and not close:
            return  # the common case: the answer does not contain the keyword's first word
        if close:
            from heapq import merge

            lists = [[(i, False) for i in exact or ()]] + [[(i, True) for i in self.index[c]] for c in close]
            cands: Iterable[tuple[int, bool]] = merge(*lists)
        else:
            cands = ((i, False) for i in exact)  # index lists are in answer order
        n = len(form)
        stems = self.tok.stems
        for start, fz in cands:
            if n == 1:
                yield (start, start + 1, fz)
                continue
            fuzzy = fz
            ok = True
            for k in range(1, n):
                s = form[k]
                i = start + k
                if i < len(stems) and stems[i] == s:
                    continue
                r = self.token_matches(i, s)
                if r is None:
                    ok = False
                    break
                fuzzy = fuzzy or r
            if ok:
                yield (start, start + n, fuzzy)

    @property
    def asked(self) -> frozenset[int]:
        if self._asked is None:
            self._asked = asked_positions(self.tok)
        return self._asked

    def occurrences(self, form: tuple[str, ...]) -> list[tuple[int, int, bool]]:
        """Every occurrence of a stem sequence outside a negation, (start, end, fuzzy) in answer order,
        then its spellings as two words ("warm up"). Key-element grading asks for these again and again."""
        got = self._all.get(form)
        if got is None:
            got = [(start, end, fuzzy) for start, end, fuzzy in self._starts(form) if not self.negated(start)]
            if len(form) == 1 and len(form[0]) >= JOIN_MIN_LEN and form[0].isascii():
                got += [(start, start + 2, False) for start in self.split_at(form[0]) if not self.negated(start)]
            self._all[form] = got
        return got

    def find(self, form: tuple[str, ...]) -> tuple[int, int, bool, bool] | None:
        """First occurrence of a stem sequence: (start, end, fuzzy, negated); prefers a non-negated one.
        A one-word latin keyword is also looked for written as two words ("warmup" in "warms up")."""
        if form in self._found:
            return self._found[form]
        best = None
        for start, end, fuzzy in self._starts(form):
            if not self.negated(start):
                best = (start, end, fuzzy, False)
                break
            best = best or (start, end, fuzzy, True)
        if (best is None or best[3]) and len(form) == 1 and len(form[0]) >= JOIN_MIN_LEN and form[0].isascii():
            for start in self.split_at(form[0]):
                if not self.negated(start):
                    best = (start, start + 2, False, False)
                    break
                best = best or (start, start + 2, False, True)
        self._found[form] = best
        return best


def _match(answer: _Answer, kw: str, hit: tuple[int, int, bool, bool]) -> Match:
    start, end, fuzzy, _ = hit
    s0, e0 = answer.tok.spans[start][0], answer.tok.spans[end - 1][1]
    # A keyword ending in a closing bracket ("2(N-1)") shows it in the evidence too, though brackets are
    # not tokens: "2(N-1)", not "2(N-1".
    tail = kw[len(kw.rstrip(")]}）】")) :]
    if tail and answer.tok.source.startswith(tail, e0):
        e0 += len(tail)
    return Match(kw, answer.tok.source[s0:e0], s0, e0, fuzzy, start)


def _find_concept(answer: _Answer, concept: _Concept) -> tuple[Match | None, Match | None]:
    """(match, negated match) of a concept: the first synonym found outside a negation wins."""
    hit_neg = None
    for kw, forms in concept.synonyms:
        for form in forms:
            r = answer.find(form)
            if r is None:
                continue
            if not r[3]:
                return _match(answer, kw, r), None
            hit_neg = hit_neg or _match(answer, kw, r)
    return None, hit_neg


def _locate(answer: _Answer, concept: _Concept, used: frozenset[int]) -> tuple[Match | None, bool]:
    """(first occurrence of a concept outside `used`, whether the answer asks about it there). A unit
    the point's text asks about ("what materials") that the question also uses is looked for first
    where the answer asks about it too ("what the samples were"): there it is no restatement."""
    first = None
    for kw, forms in concept.synonyms:
        for form in forms:
            for start, end, fuzzy in answer.occurrences(form):
                if start in used:
                    continue
                if concept.asked_weight and start in answer.asked:
                    return _match(answer, kw, (start, end, fuzzy, False)), True
                if first is None:
                    first = _match(answer, kw, (start, end, fuzzy, False))
                if not concept.asked_weight:
                    break
    return first, False


def _coverage(answer: _Answer, cp: "_CompiledPoint", used: frozenset[int] = frozenset()) -> tuple:
    """Weighted coverage of a derived point (best alternative): (score, matched, negated, missing,
    evidence), evidence = (credit, match) of each unit found in the best alternative. Answer tokens in
    `used` serve another point and count nothing here."""
    hits: list[Match | None] = []
    credit: list[float] = []
    negated: list[Match] = []
    taken: dict[int, int] = {}  # answer offset -> concept it already serves
    for k, c in enumerate(cp.concepts):
        hit, neg = _find_concept(answer, c)
        asked = False
        if hit is not None and (hit.tok in used or c.asked_weight):
            hit, asked = _locate(answer, c, used)
        if hit is not None and ONE_TOKEN_ONE_UNIT:
            # one word of the answer serves one unit of the point ("starts" is not also "beginning")
            other = taken.get(hit.start)
            if other is not None:
                if credit[other] >= c.weight:
                    hit = None
                else:
                    hits[other] = None
            if hit is not None:
                taken[hit.start] = k
        hits.append(hit)
        credit.append(c.asked_weight if asked else c.weight)
        if neg:
            negated.append(neg)
    best, best_alt = 0.0, cp.alts[0] if cp.alts else ()
    # An author's point text (not a reference-answer sentence) of two units or more is not found on one
    # word alone: "how long each sample was rinsed" is not "how long it dried" (ONE_UNIT_MAX).
    one_max = ONE_UNIT_MAX if cp.authored else None
    for alt in cp.alts:
        total = sum(cp.concepts[i].full for i in alt)
        need = cp.cover * total
        if one_max is not None and len(alt) > 1:
            got = sum(min(credit[i], one_max * need) for i in alt if hits[i])
        else:
            got = sum(credit[i] for i in alt if hits[i])
        score = min(1.0, got / need) if total > 0 else 0.0
        if score > best:
            best, best_alt = score, alt
    found = [i for i in best_alt if hits[i]]
    matched = _merge_evidence(answer, [hits[i] for i in found])
    missing = [cp.concepts[i].label for i in best_alt if not hits[i]]
    return best, matched, negated, missing, [(credit[i], hits[i]) for i in found]


def _share_phrases(answer: _Answer, compiled: tuple[_CompiledPoint, ...]) -> dict[int, tuple]:
    """Coverage of an author's text points where one phrase of the answer supports one point.

    Points whose heaviest evidence is the same answer word ("type" in "what type of container", wanted
    by "type of vinegar" and "type of container") compete for it: the point with more of its other units
    within PHRASE_NEAR tokens of the word (as a share of what it needs) keeps it, and the others are
    graded again without it. Humans count pieces of information this way."""
    texts = [k for k, cp in enumerate(compiled) if cp.authored]
    results = {k: _coverage(answer, compiled[k]) for k in texts}
    used: dict[int, set[int]] = {k: set() for k in texts}
    for _ in range(len(texts)):
        claims: dict[int, list[tuple[int, Match]]] = {}
        for k, r in results.items():
            if r[0] > 0 and r[4]:
                head = max(r[4], key=lambda e: e[0])[1]
                claims.setdefault(head.tok, []).append((k, head))
        contested = [(tok, c) for tok, c in claims.items() if len(c) > 1]
        if not contested:
            break
        for tok, claimants in contested:
            # most context first, then the higher score, then the earlier point
            ranked = sorted(claimants, key=lambda c: (-_context(answer, compiled[c[0]], c[1]), -results[c[0]][0], c[0]))
            for k, _ in ranked[1:]:
                used[k].add(tok)
                results[k] = _coverage(answer, compiled[k], frozenset(used[k]))
    return results


def _context(answer: _Answer, cp: _CompiledPoint, head: Match) -> float:
    """Weight of a point's other units found within PHRASE_NEAR tokens of `head`, over what it needs."""
    near = 0.0
    own = next((c for c in cp.concepts if any(kw == head.keyword for kw, _ in c.synonyms)), None)
    for c in cp.concepts:
        if c is own or (own is not None and own.at >= 0 and c.at >= 0 and abs(c.at - own.at) > PHRASE_NEAR):
            continue  # (only units that stand near the word in the point's own text: "type of flour")
        if any(0 < abs(start - head.tok) <= PHRASE_NEAR for _, forms in c.synonyms for f in forms for start, _, _ in answer.occurrences(f)):
            near += c.weight
    need = cp.cover * cp.total
    return near / need if need else 0.0


def _merge_evidence(answer: _Answer, matches: list[Match]) -> list[Match]:
    """Derived units that touch in the answer are shown as one stretch of evidence: Chinese bigrams
    同步 步训 训练 → 同步训练 (not three overlapping pieces)."""
    if len(matches) < 2:
        return matches
    out: list[Match] = []
    for m in sorted(matches, key=lambda m: (m.start, m.end)):
        prev = out[-1] if out else None
        gap = answer.tok.source[prev.end : m.start] if prev is not None and m.start >= prev.end else ""
        if prev is not None and (m.start < prev.end or (m.start >= prev.end and not gap.strip() and _cjk_edge(prev, m))):
            start, end = prev.start, max(prev.end, m.end)
            text = answer.tok.source[start:end]
            out[-1] = Match(text, text, start, end, prev.fuzzy or m.fuzzy)
        else:
            out.append(m)
    return out


def _cjk_edge(a: Match, b: Match) -> bool:
    return bool(a.found) and bool(b.found) and is_cjk(a.found[-1]) and is_cjk(b.found[0])


def _grade_points(answer: _Answer, compiled: tuple[_CompiledPoint, ...]) -> tuple[float, tuple[PointGrade, ...]]:
    results = []
    total_w = 0.0
    total = 0.0
    shared = _share_phrases(answer, compiled) if any(cp.authored for cp in compiled) else {}
    for k, cp in enumerate(compiled):
        matched: list[Match] = []
        negated: list[Match] = []
        missing: list[str] = []
        if cp.coverage:
            score, matched, negated, missing, _ = shared[k] if k in shared else _coverage(answer, cp)
        else:
            for concept in cp.concepts:
                hit, hit_neg = _find_concept(answer, concept)
                if hit:
                    matched.append(hit)
                else:
                    missing.append(concept.label)
                    if hit_neg:
                        negated.append(hit_neg)
            score = min(1.0, len(matched) / cp.need) if cp.concepts and cp.need else 0.0
        w = cp.weight
        total_w += w
        total += w * score
        results.append(
            PointGrade(cp.point.id, w, score, cp.need, cp.point.text, tuple(matched), tuple(negated), tuple(missing))
        )
    return (total / total_w if total_w else 0.0), tuple(results)


UNPICKLED_KEPT = 512  # cached compiled rubrics kept unpickled at once (see Grader.compiled)


class Grader:
    """Grades answers against a bank's rubrics; compiles each rubric once and reuses it.

    The IDF of derived keyword units is a statistic of the whole bank, computed on first use."""

    def __init__(self, bank, stats: UnitStats | None = None, blobs: dict[str, bytes] | None = None):
        self.bank = bank
        self._compiled: dict[str, tuple[tuple[_CompiledPoint, ...], ...]] = {}
        self._stats: UnitStats | None = stats
        # Rubrics compiled by an earlier run (pickled, from loader's cache): unpickled on first use.
        self.blobs: dict[str, bytes] = blobs or {}
        self.fresh: set[str] = set()  # qids compiled by this Grader (what the cache does not hold yet)
        self._unpickled: dict[str, tuple[tuple[_CompiledPoint, ...], ...]] = {}  # from blobs, most recent last

    @property
    def stats(self) -> UnitStats:
        if self._stats is None:
            self._stats = UnitStats.of_bank(self.bank)
        return self._stats

    def compiled(self, qid: str) -> tuple[tuple[_CompiledPoint, ...], ...]:
        got = self._unpickled.get(qid)
        if got is not None:
            return got
        if qid not in self._compiled:
            blob = self.blobs.get(qid)
            if blob is not None:
                from _pickle import loads  # (not `import pickle`: ~1 ms more start-up)

                compiled = loads(blob)
                # A batch over a big bank meets thousands of rubrics (~30 kB each unpickled): keep the
                # most recent ones only; the others are unpickled again if asked for (never recompiled).
                self._unpickled[qid] = compiled
                if len(self._unpickled) > UNPICKLED_KEPT:
                    self._unpickled.pop(next(iter(self._unpickled)))
                return compiled
            rubric: Rubric = self.bank.rubric(qid)
            demote = question_tokens(self.bank.question(qid))
            variants = rubric.variants or (rubric.points,)
            # The bank's IDF weighs derived units only: hand-written rubrics never pay for computing it.
            needs_stats = rubric.derived or any(_text_derived(p) for v in variants for p in v)
            stats = self.stats if needs_stats else None
            self._compiled[qid] = tuple(compile_points(v, demote, stats, rubric.derived) for v in variants)
            self.fresh.add(qid)
        return self._compiled[qid]

    def grade(self, qid: str, answer: str) -> Grade:
        rubric: Rubric = self.bank.rubric(qid)
        return grade_compiled(qid, answer, self.compiled(qid), rubric.pass_mark)


def grade_compiled(qid: str, answer: str, variants, pass_mark: float) -> Grade:
    prepared = _Answer(answer)
    best = None
    for compiled in variants:
        score, points = _grade_points(prepared, compiled)
        if best is None or score > best[0]:
            best = (score, points)
    score, points = best if best else (0.0, ())
    score = max(0.0, min(1.0, score))
    return Grade(qid, score, score >= pass_mark - 1e-9, pass_mark, points)


def grade(answer: str, rubric: Rubric, question: Question | None = None, stats: UnitStats | None = None) -> Grade:
    """Grade one answer against one rubric (convenience for tests and library users).

    Without `stats`, IDF is computed over this rubric's own points."""
    demote = question_tokens(question)
    variants = rubric.variants or (rubric.points,)
    if stats is None:
        stats = UnitStats(p for v in variants for p in v)
    compiled = tuple(compile_points(v, demote, stats, rubric.derived) for v in variants)
    return grade_compiled(rubric.qid, answer, compiled, rubric.pass_mark)


def match_case(answer: str, keyword, question: str = "") -> bool:
    """Whether a hand-written keyword (a string or a list of synonyms) earns credit in `answer`
    (found on token boundaries and not negated); `question` demotes as a prompt does."""
    syns = (keyword,) if isinstance(keyword, str) else tuple(keyword)
    point = Point(id="p", text=(("", "-"),), keywords=(syns,), need=1)  # hand-written, not text-derived
    demote = tuple(tokenise(question).stems) if question else ()
    (cp,) = compile_points((point,), demote)
    if not cp.concepts:
        return False
    hit, _ = _find_concept(_Answer(answer), cp.concepts[0])
    return hit is not None
