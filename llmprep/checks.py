"""`validate --strict`: the bank grades its own reference answers as an interviewer would.

Each reference answer, each language alone, must score ≥ OWN_MIN on its own rubric and ≤ OTHER_MAX on
every other question's rubric (unless the two questions list each other in `related`); an unrelated
answer must score ≤ UNRELATED_MAX everywhere; and no keyword may merely restate the question.
"""

from __future__ import annotations

from .bank import Bank
from .grading import Grader, _Answer, _grade_points, _occurs
from .text import keyword_forms, tokenise

OWN_MIN = 0.9
OTHER_MAX = 0.3
UNRELATED_MAX = 0.2
UNRELATED_ANSWERS = ("I like turtles.", "我喜欢乌龟。")


def strict_problems(bank: Bank) -> list[str]:
    grader = Grader(bank)
    problems: list[str] = []
    qids = list(bank.questions)
    compiled = {qid: grader.compiled(qid) for qid in qids}

    def best(prepared, qid) -> float:
        return max(_grade_points(prepared, variant)[0] for variant in compiled[qid])

    for qid in qids:
        q = bank.questions[qid]
        rubric = bank.rubrics[qid]
        where = f"{q.file}:{q.line}: question {qid}"
        # Keywords that restate the prompt earn nothing: the author should know.
        if not rubric.derived:
            prompt_stems = [tokenise(s).stems for _, s in q.prompt]
            for p in rubric.points:
                for syns in p.keywords:
                    for kw in syns:
                        forms = keyword_forms(kw)
                        if forms and any(_occurs(forms[0], st) for st in prompt_stems):
                            problems.append(f"{where}: point {p.id}: keyword {kw!r} restates the question (earns nothing)")
        for alt in q.answers:
            for lang, text in alt:
                prepared = _Answer(text)
                label = f"reference answer ({lang or 'text'})"
                own = best(prepared, qid)
                if own < OWN_MIN:
                    missed = _missed(prepared, compiled[qid])
                    problems.append(f"{where}: {label} scores {own:.2f} < {OWN_MIN} on its own rubric (missed: {missed})")
                for other in qids:
                    if other == qid:
                        continue
                    if other in q.related and qid in bank.questions[other].related:
                        continue
                    s = best(prepared, other)
                    if s > OTHER_MAX:
                        problems.append(
                            f"{where}: {label} scores {s:.2f} > {OTHER_MAX} on the rubric of {other} "
                            "(make the keywords more specific, or list each other in `related`)"
                        )
        for text in UNRELATED_ANSWERS:
            s = best(_Answer(text), qid)
            if s > UNRELATED_MAX:
                problems.append(f"{where}: unrelated answer {text!r} scores {s:.2f} > {UNRELATED_MAX}")
    for q in bank.questions.values():
        for rel in q.related:
            other = bank.questions.get(rel)
            if other is not None and q.id not in other.related:
                problems.append(f"{q.file}:{q.line}: question {q.id}: related {rel!r} does not list {q.id!r} back")
    return problems


def _missed(prepared, variants) -> str:
    score, points = max((_grade_points(prepared, v) for v in variants), key=lambda r: r[0])
    parts = [f"{p.id}: {', '.join(p.missing)}" for p in points if p.score < 1]
    return "; ".join(parts) or "-"
