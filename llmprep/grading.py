"""Pure grading core: answer text + rubric → Grade with per-point evidence. No CLI imports.

Score = weighted mean over rubric points of min(1, concepts found / need). A concept is found when
one of its synonyms occurs in the answer on token boundaries (see text.py), or, for latin words of
six letters or more, within a small typo distance. A match right after a negation ("not", 不, 没有 …)
in the same clause is reported under `negated` and earns nothing. Keywords that occur in the
question itself are demoted: restating the question earns no credit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .bank import Point, Question, Rubric, Text
from .text import Tokens, is_cjk, keyword_forms, tokenise

GRADER_VERSION = "1"

FUZZY_MIN_LEN = 6  # shorter latin words must match exactly (PS ≠ "steps", MoE ≠ "mode")
FUZZY_CUTOFF = 85.0
NEG_WINDOW = 3  # tokens looked back for a negation cue, inside the same clause

_NEG_WORDS = {"not", "no", "never", "without", "cannot", "nor", "neither", "none", "nothing"}
_NEG_CHARS = {"不", "没", "未", "非", "无", "勿", "别"}
# Cue + next character that is not a negation of what follows ("不同" different, "非常" very …).
_NOT_NEG = {"不仅", "不但", "不过", "不断", "不同", "不少", "不管", "非常", "无论", "未来", "无疑", "不错", "别的", "没想"}
_CONDITIONAL = {"如果", "若", "假如", "假设", "要是", "if", "unless", "whether"}


@dataclass(frozen=True)
class Match:
    """Evidence: `keyword` (as written in the rubric) matched `found` at answer[start:end]."""

    keyword: str
    found: str
    start: int
    end: int
    fuzzy: bool = False

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


# ---------------------------------------------------------------- compiled rubrics


@dataclass(frozen=True)
class _Concept:
    synonyms: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]  # (keyword, forms)
    label: str


@dataclass(frozen=True)
class _CompiledPoint:
    point: Point
    concepts: tuple[_Concept, ...]
    need: int


def _occurs(form: tuple[str, ...], tokens: tuple[str, ...]) -> bool:
    n = len(form)
    first = form[0]
    for i, t in enumerate(tokens):
        if t == first and tokens[i : i + n] == form:
            return True
    return False


def compile_points(points: Iterable[Point], demote: tuple[str, ...] = ()) -> tuple[_CompiledPoint, ...]:
    """Prepare keyword forms once; drop synonyms that occur in `demote` (the question's tokens)."""
    out = []
    for p in points:
        concepts = []
        for syns in p.keywords:
            kept = []
            for kw in syns:
                forms = tuple(f for f in keyword_forms(kw) if not (demote and _occurs(f, demote)))
                if forms:
                    kept.append((kw, forms))
            if kept:
                concepts.append(_Concept(tuple(kept), syns[0]))
        need = min(p.need, len(concepts)) if concepts else p.need
        out.append(_CompiledPoint(p, tuple(concepts), need))
    return tuple(out)


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


class _Answer:
    """An answer prepared for matching: token index and lazily computed fuzzy neighbours."""

    def __init__(self, text: str):
        self.tok: Tokens = tokenise(text)
        self.index: dict[str, list[int]] = {}
        for i, s in enumerate(self.tok.stems):
            self.index.setdefault(s, []).append(i)
        self._fuzzy: dict[str, set[str]] = {}

    def similar(self, stem: str) -> set[str]:
        """Answer stems within typo distance of a long latin keyword stem (same first letter)."""
        if stem in self._fuzzy:
            return self._fuzzy[stem]
        found: set[str] = set()
        if len(stem) >= FUZZY_MIN_LEN and stem.isascii() and stem.isalpha():
            from rapidfuzz.fuzz import ratio

            for cand in self.index:
                if (
                    cand != stem
                    and cand[:1] == stem[:1]
                    and abs(len(cand) - len(stem)) <= 2
                    and cand.isascii()
                    and ratio(stem, cand, score_cutoff=FUZZY_CUTOFF)
                ):
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
        tok = self.tok
        clause = tok.clause[i]
        for j in range(i - 1, max(-1, i - 1 - NEG_WINDOW), -1):
            if tok.clause[j] != clause:
                break
            w = tok.raw[j]
            cue = False
            if w in _NEG_WORDS:
                cue = True
            elif w == "t" and j > 0 and tok.raw[j - 1].endswith("n"):  # don't, isn't, can't
                cue = True
            elif w in _NEG_CHARS and i - j <= 2:
                nxt = tok.raw[j + 1] if j + 1 < len(tok.raw) else ""
                cue = (w + nxt) not in _NOT_NEG
            if cue:
                # "如果不用混合精度…" / "if you do not …": a condition, not a denial.
                before = tok.raw[max(0, j - 4) : j]
                joined = "".join(before)
                if any(c in before or (is_cjk(c[0]) and c in joined) for c in _CONDITIONAL):
                    return False
                return True
        return False

    def find(self, form: tuple[str, ...]) -> tuple[int, int, bool, bool] | None:
        """First occurrence of a stem sequence: (start, end, fuzzy, negated); prefers a non-negated one."""
        best = None
        for start, fz in sorted(self.positions(form[0])):
            fuzzy = fz
            ok = True
            for k, s in enumerate(form[1:], 1):
                r = self.token_matches(start + k, s)
                if r is None:
                    ok = False
                    break
                fuzzy = fuzzy or r
            if not ok:
                continue
            neg = self.negated(start)
            hit = (start, start + len(form), fuzzy, neg)
            if not neg:
                return hit
            best = best or hit
        return best


def _grade_points(answer: _Answer, compiled: tuple[_CompiledPoint, ...]) -> tuple[float, tuple[PointGrade, ...]]:
    results = []
    total_w = 0.0
    total = 0.0
    for cp in compiled:
        matched: list[Match] = []
        negated: list[Match] = []
        missing: list[str] = []
        for concept in cp.concepts:
            hit_neg = None
            hit = None
            for kw, forms in concept.synonyms:
                for form in forms:
                    r = answer.find(form)
                    if r is None:
                        continue
                    start, end, fuzzy, neg = r
                    s0, e0 = answer.tok.spans[start][0], answer.tok.spans[end - 1][1]
                    m = Match(kw, answer.tok.source[s0:e0], s0, e0, fuzzy)
                    if neg:
                        hit_neg = hit_neg or m
                    else:
                        hit = m
                        break
                if hit:
                    break
            if hit:
                matched.append(hit)
            else:
                missing.append(concept.label)
                if hit_neg:
                    negated.append(hit_neg)
        score = min(1.0, len(matched) / cp.need) if cp.concepts and cp.need else 0.0
        w = cp.point.weight
        total_w += w
        total += w * score
        results.append(
            PointGrade(cp.point.id, w, score, cp.need, cp.point.text, tuple(matched), tuple(negated), tuple(missing))
        )
    return (total / total_w if total_w else 0.0), tuple(results)


class Grader:
    """Grades answers against a bank's rubrics; compiles each rubric once and reuses it."""

    def __init__(self, bank):
        self.bank = bank
        self._compiled: dict[str, tuple[tuple[_CompiledPoint, ...], ...]] = {}

    def compiled(self, qid: str) -> tuple[tuple[_CompiledPoint, ...], ...]:
        if qid not in self._compiled:
            rubric: Rubric = self.bank.rubric(qid)
            demote = question_tokens(self.bank.question(qid))
            variants = rubric.variants or (rubric.points,)
            self._compiled[qid] = tuple(compile_points(v, demote) for v in variants)
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


def grade(answer: str, rubric: Rubric, question: Question | None = None) -> Grade:
    """Grade one answer against one rubric (convenience for tests and library users)."""
    demote = question_tokens(question)
    variants = tuple(compile_points(v, demote) for v in (rubric.variants or (rubric.points,)))
    return grade_compiled(rubric.qid, answer, variants, rubric.pass_mark)
