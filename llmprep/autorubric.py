"""Derive rubrics where the bank gives none: from a point's text, or from a question's reference answers.

A derived rubric has one point per sentence of a reference answer; a point's concepts are the
sentence's content units (English content words; Chinese character bigrams of the runs between
function characters). Each reference answer (and each language of it) is one alternative; the grade
takes the best alternative. How derived units are weighted and scored (IDF, demoting, partial credit)
is grading.py's business; the word lists it uses (synonyms, light words) and the readers of a point's
prose (alternatives, asides, slashes) live here.
"""

from __future__ import annotations

import math
import re

from .bank import Point, Question, Rubric, Text
from .text import is_cjk, tokenise

NEED_FRACTION = 0.5  # `need` recorded on a derived point (informative: derived points are scored by coverage)

STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as is are was were be been being
    it its this that these those there here which who whom whose what when where why how than so such
    can could may might must shall should will would do does did done has have had having not no nor
    into onto over under about above below between through during before after again further once
    each every all any both few more most other some own same very just also only too i me my we our
    you your he him his she her they them their one two use used using e g eg ie etc via per
    """.split()
)
# Light verbs and vague words: content words that say little about what an answer knows ("make a
# new copy"). A derived unit that is one of them weighs LIGHT (grading.py) of its IDF.
LIGHT_WORDS = frozenset(
    """make makes made making get gets got getting put puts take takes taken took give gives gave given
    go goes went gone going come comes came coming call called calls say says said tell tells thing things
    stuff lot lots new old good bad like really actually basically able help helps want wants think thinks
    try tries""".split()
)
# Chinese function characters: split points between content runs.
_ZH_STOP = set("的了和是在与及或等并将对为把被也就都而其这那个中上下之以于由从到让使得着过吗呢吧啊即则且如")
_SENTENCE_RE = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")


# General-English near-synonyms (one group a line), then the ML terms a Chinese answer often writes in
# English (a Chinese unit is a character bigram: 前向 ~ forward, and the other way round) that a derived unit also matches: "how much vinegar"
# ~ "the amount of vinegar". Derived units only: hand-written concepts list their own synonyms.
SYNONYM_GROUPS = """
amount much quantity volume many number
type kind sort variety brand
size big large small dimension dimensions
long duration
method way technique approach procedure
container cup beaker jar vessel
exit exits leave leaves leaving
enter enters entering
travel travels transport transported carry carries bring brings deliver move moves arrive arrives proceed proceeds reach reaches
link linked bond bonded join joined connect connected attach attached bind bound
make makes made form forms create creates produce produces build builds
begin begins start starts initiate
end ends stop stops finish finishes terminate
add added adds
read reads decode decodes translate translated
recognize recognizes match matches pair pairs
show shows display
increase increases raise grow
decrease decreases reduce reduces lower shrink
fast quick quickly rapid
slow slowly
error errors mistake mistakes bug bugs fault
change changes modify modifies alter
find finds locate search
store stores save saves
remove removes delete deletes
copy copies duplicate
part parts piece pieces portion component components
whole entire complete
same identical equal
different distinct
example instance
advantage advantages benefit benefits
disadvantage disadvantages drawback drawbacks
goal purpose aim objective
test tests testing check verify
result results outcome outcomes
material materials substance substances sample samples specimen specimens
前向 forward
反向 backward backprop
梯度 gradient gradients grad grads
模型 model models
参数 parameter parameters params weights 权重
数据 data
损失 loss
训练 training train
推理 inference
显存 memory vram
通信 communication
同步 sync synchronize synchronous
平均 average mean averaged
更新 update updates updated
批次 batch batches
""".strip().splitlines()

USE_SYNONYMS = True
_SYN_INDEX: dict[str, tuple[str, ...]] | None = None


def related_words(unit: str) -> tuple[str, ...]:
    """Other members of the synonym groups of a single latin word (matched by stem) or Chinese bigram."""
    global _SYN_INDEX
    if not USE_SYNONYMS:
        return ()
    if _SYN_INDEX is None:
        from .text import stem

        index: dict[str, list[str]] = {}
        for line in SYNONYM_GROUPS:
            words = line.split()
            for w in words:
                lst = index.setdefault(stem(w), [])
                lst.extend(x for x in words if x not in lst)
        _SYN_INDEX = {k: tuple(v) for k, v in index.items()}
    from .text import stem

    st = stem(unit.lower())
    return tuple(w for w in _SYN_INDEX.get(st, ()) if stem(w) != st)


_LIGHT_STEMS: frozenset | None = None


def is_light(unit: str) -> bool:
    """Whether a derived unit is a light verb or vague word (by stem)."""
    global _LIGHT_STEMS
    if _LIGHT_STEMS is None:
        from .text import stem

        _LIGHT_STEMS = frozenset(stem(w) for w in LIGHT_WORDS)
    from .text import stem

    return unit.isascii() and stem(unit.lower()) in _LIGHT_STEMS


def content_units(text: str) -> list[str]:
    """Content units of a text, in order, without duplicates (by stem)."""
    tok = tokenise(text)
    units: list[str] = []
    seen: set[str] = set()
    run: list[int] = []

    def flush_run() -> None:
        chars = [tok.raw[i] for i in run]
        if len(chars) == 1:
            return  # a lone character carries too little meaning to grade on
        for k in range(len(chars) - 1):
            unit = chars[k] + chars[k + 1]
            if unit not in seen:
                seen.add(unit)
                units.append(unit)
        run.clear()

    for i, (raw, st) in enumerate(zip(tok.raw, tok.stems)):
        if is_cjk(raw):
            if raw in _ZH_STOP or (run and tok.clause[run[-1]] != tok.clause[i]):
                flush_run()
                run.clear()
            if raw not in _ZH_STOP:
                run.append(i)
            continue
        flush_run()
        run.clear()
        if raw in STOPWORDS or (len(raw) < 2 and not raw.isdigit()):
            continue
        if st not in seen:
            seen.add(st)
            units.append(raw)
    flush_run()
    return units


def keywords_from_text(text: Text) -> tuple[tuple[str, ...], ...]:
    """Keywords for a hand-written point that gives only its text: its content units, one concept each."""
    units: list[str] = []
    for _, s in text:
        for u in content_units(s):
            if u not in units:
                units.append(u)
    return tuple((u,) for u in units)


_PAREN_RE = re.compile(r"[(（]([^()（）]*)[)）]")
_OR_RE = re.compile(r"\s+or\s+|或者|或")


_SLASH_RE = re.compile(r"(\w+)\s*/\s*(\w+)")


def slash_pairs(text: str) -> list[tuple[str, str]]:
    """Words a point's prose gives as alternatives with a slash ("size/type"): one concept."""
    return [(m.group(1), m.group(2)) for m in _SLASH_RE.finditer(text)]


def aside_units(text: str) -> set[str]:
    """Content units that occur only inside parentheses: an aside, not the point itself."""
    inside = {u for m in _PAREN_RE.finditer(text) for u in content_units(m.group(1))}
    outside = set(content_units(_PAREN_RE.sub(" ", text)))
    return inside - outside


def alternatives(text: str) -> list[set[str]]:
    """Unit sets of the alternatives a point's prose offers ("A does X or B does Y"): split at "or" when
    each side has two content units or more; otherwise one alternative with every unit."""
    sides = _OR_RE.split(_PAREN_RE.sub(" ", text))
    if len(sides) > 1:
        units = [content_units(side) for side in sides]
        if all(len(u) >= 2 for u in units):
            return [set(u) for u in units]
    return [set(content_units(text))]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]


def points_from_answer(answer: str, prefix: str = "s") -> tuple[Point, ...]:
    points = []
    for k, sent in enumerate(sentences(answer), 1):
        units = content_units(sent)
        if not units:
            continue
        need = max(1, math.ceil(NEED_FRACTION * len(units)))
        points.append(
            Point(id=f"{prefix}{k}", text=(("", sent),), keywords=tuple((u,) for u in units), weight=float(len(units)), need=need)
        )
    return tuple(points)


def derive_rubric(question: Question, bank=None) -> Rubric:
    """A rubric from the reference answer(s): one alternative per answer and language."""
    variants = []
    for alt in question.answers:
        for _, text in alt:
            pts = points_from_answer(text)
            if pts:
                variants.append(pts)
    if not variants:  # an answer with no content words: grade on the whole text
        variants.append((Point(id="s1", text=question.answers[0], keywords=((question.answers[0][0][1],),)),))
    return Rubric(qid=question.id, points=variants[0], derived=True, variants=tuple(variants))
