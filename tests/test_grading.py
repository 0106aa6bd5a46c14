"""Grader semantics: hand-written rubrics keep the rules authors were told; derived rubrics give partial,
IDF-weighted credit; evidence, negation, demoting; speed."""

from __future__ import annotations

import random
import time

import pytest

from llmprep.bank import Point, Question, Rubric, load_bank
from llmprep.grading import GRADER_VERSION, Grader, UnitStats, grade, grade_compiled, compile_points, question_tokens

Q = Question(id="q", topic="t", kind="concept", difficulty=1, prompt=(("en", "What is ring all-reduce?"),),
             answers=((("en", "x"),),))


def hand(*concepts, need=1, pid="p"):
    return Point(id=pid, text=(("en", "-"),), keywords=tuple(tuple(c) for c in concepts), need=need)


def rubric(*points, derived=False):
    return Rubric(qid="q", points=tuple(points), variants=(tuple(points),), derived=derived)


def test_version_bumped():
    assert GRADER_VERSION == "4"


def test_need_counts_concepts_and_caps_at_one():
    r = rubric(hand(["reduce-scatter"], ["all-gather"], ["ring"], need=2))
    assert grade("a reduce-scatter", r).score == pytest.approx(0.5)
    assert grade("reduce-scatter then all-gather", r).score == 1.0
    assert grade("reduce-scatter, all-gather and a ring", r).score == 1.0


def test_any_synonym_counts_once():
    r = rubric(hand(["neighbour", "相邻"], ["ring"], need=2))
    g = grade("相邻 neighbour", r)
    assert g.score == pytest.approx(0.5)
    assert len(g.points[0].matched) == 1


def test_keyword_in_the_question_earns_nothing():
    r = rubric(hand(["ring"], ["neighbour"], need=1))
    assert grade("ring", r, Q).score == 0.0
    assert grade("neighbour", r, Q).score == 1.0


def test_negated_match_is_reported_and_earns_nothing():
    r = rubric(hand(["mixed precision", "混合精度"]))
    g = grade("We do not use mixed precision.", r)
    assert g.score == 0.0
    assert [m.found for m in g.points[0].negated] == ["mixed precision"]
    assert grade("如果不用混合精度，显存翻倍", r).score == 1.0
    assert grade("没有使用混合精度", r).score == 0.0


def test_evidence_points_into_the_original_answer():
    answer = "模型放进記憶體，用 ＡｌｌＲｅｄｕｃｅ 同步"
    r = rubric(hand(["内存"], ["all-reduce"], need=2))
    g = grade(answer, r)
    assert g.score == 1.0
    found = {m.keyword: answer[m.start : m.end] for m in g.points[0].matched}
    assert found == {"内存": "記憶體", "all-reduce": "ＡｌｌＲｅｄｕｃｅ"}
    assert all(m.found == answer[m.start : m.end] for m in g.points[0].matched)


def test_to_dict_shape():
    d = grade("reduce-scatter", rubric(hand(["reduce-scatter"]))).to_dict()
    assert set(d) == {"id", "score", "passed", "pass", "points"}
    assert set(d["points"][0]) == {"id", "weight", "score", "matched", "negated", "missing"}


def test_text_only_point_gives_continuous_partial_credit():
    text = (("en", "Each GPU exchanges gradient chunks with its ring neighbours in bandwidth-optimal steps"),)
    from llmprep.autorubric import keywords_from_text

    p = Point(id="k", text=text, keywords=keywords_from_text(text))
    r = rubric(p)
    none = grade("I like turtles.", r, Q).score
    some = grade("chunks go to the neighbours", r, Q).score
    full = grade(text[0][1], r, Q).score
    assert none == 0.0 < some < full == 1.0


def test_restating_the_question_earns_little_on_a_derived_rubric(make_bank):
    d = make_bank(
        """
        version: 1
        questions:
          - id: q1
            topic: t
            kind: concept
            prompt: "Why does ring all-reduce scale with the number of GPUs?"
            answer: "Each GPU sends only to its neighbour, so the bytes per GPU stay constant as GPUs are added."
          - id: q2
            topic: t
            kind: concept
            prompt: "What does a KV cache store?"
            answer: "The keys and values of past tokens, so decoding does not recompute attention over the prefix."
        """
    )
    g = Grader(load_bank([d]))
    assert g.grade("q1", "Each GPU sends only to its neighbour, so the bytes per GPU stay constant.").score >= 0.9
    assert g.grade("q1", "Ring all-reduce scales with the number of GPUs.").score <= 0.2
    assert g.grade("q2", "keys and values of past tokens").score > g.grade("q2", "it stores past stuff").score
    for qid in ("q1", "q2"):
        assert g.grade(qid, "I like turtles.").score <= 0.2
        assert g.grade(qid, "我喜欢乌龟。").score <= 0.2


KEY_ELEMENTS_QUESTIONS = """
    version: 1
    questions:
      - id: bread
        topic: t
        kind: concept
        prompt: "Students mixed flour and water in four containers, added a different ingredient to each container, left them for two hours and weighed each loaf. What more would you need to know to repeat their experiment?"
        answer: "How much flour, what type of flour, what ingredients to test and what size of container."
    """
KEY_ELEMENTS_RUBRIC = """
    version: 1
    rubrics:
      bread:
        points:
          - {id: amount, text: "You need to know how much flour was used in each container."}
          - {id: flour, text: "You need to know what type of flour was used in each container."}
          - {id: what, text: "You need to know what ingredients to test."}
          - {id: box, text: "You need to know what size/type of container to use."}
          - {id: rise, text: "You need to know how long the dough was left to rise."}
          - {id: oven, text: "You need to know what oven temperature to bake at."}
          - {id: scale, text: "You need to know how the loaves were weighed."}
    """


def _found(grader, answer, qid="bread"):
    """The key elements found (point score ≥ 0.5, as bench/accuracy.py counts them)."""
    return {p.id for p in grader.grade(qid, answer).points if p.score >= 0.5}


def test_one_phrase_of_the_answer_supports_one_key_element(make_bank):
    # "type" is wanted by "type of flour" and by "type of container"; in the answer it stands next to
    # "container", as it does in the box point's own text: only that point gets it.
    g = Grader(load_bank([make_bank(KEY_ELEMENTS_QUESTIONS, KEY_ELEMENTS_RUBRIC)]))
    assert _found(g, "I need to know what type of container they used and how much flour.") == {"amount", "box"}
    assert _found(g, "I need to know what type of flour and how much flour.") == {"amount", "flour"}
    assert _found(g, "I would need to know how big the containers were.") == {"box"}
    assert _found(g, "what kind of flour, which oven temperature") == {"flour", "oven"}


def test_a_synonym_of_a_common_word_is_no_rarer_than_it(make_bank):
    # "type (brand) of fertilizer": "brand" is rare in the rubric but stands for type/kind, which every
    # "type of ..." point shares; "the kind of soil" is the soil point, not the fertilizer one.
    q = """
        version: 1
        questions:
          - id: beans
            topic: t
            kind: concept
            prompt: "Students planted beans in four pots of soil, added 0, 5, 10 or 15 g of fertilizer, watered them every day near a window and measured them after two weeks. What more would you need to know to repeat the experiment?"
            answer: "How much water, what type of soil, what type of fertilizer, what size of pot, how much light and the room temperature."
        """
    r = """
        version: 1
        rubrics:
          beans:
            points:
              - {id: water, text: "You need to know how much water was given to each plant."}
              - {id: soil, text: "You need to know what type of soil was used."}
              - {id: pot, text: "You need to know what size (or type) of pots were used."}
              - {id: fert, text: "You need to know what type (brand) of fertilizer was used."}
              - {id: light, text: "You need to know how much light the plants received."}
              - {id: temp, text: "You need to know the temperature of the room where the plants were kept."}
        """
    g = Grader(load_bank([make_bank(q, r)]))
    assert _found(g, "I would need to know the kind of soil and the temperature of the room.", "beans") == {"soil", "temp"}
    assert _found(g, "what brand of fertilizer and how big the pots were", "beans") == {"fert", "pot"}
    assert _found(g, "the type of soil or fertilizer", "beans") == {"soil", "fert"}


def test_asking_about_a_word_of_the_question_is_no_restatement(make_bank):
    # "ingredients" is in the question: restating it earns little, asking what they were is the point.
    g = Grader(load_bank([make_bank(KEY_ELEMENTS_QUESTIONS, KEY_ELEMENTS_RUBRIC)]))
    assert _found(g, "I need to know what the four ingredients were.") == {"what"}
    assert _found(g, "You need to know which ingredients they added.") == {"what"}
    assert _found(g, "Add the ingredients to the containers and weigh them.") == set()
    got = g.grade("bread", "I need to know what the four ingredients were.").points[2]
    assert [m.found for m in got.matched] == ["need", "know", "ingredients"]


def test_asking_about_a_question_word_in_chinese(make_bank):
    q = """
        version: 1
        questions:
          - id: cu
            topic: t
            kind: concept
            prompt: "学生把四种材料分别放进装有醋的容器里，24 小时后取出冲洗、晾干并称重。要重复这个实验，还需要知道哪些信息？"
            answer: "醋的用量、醋的种类、测试哪些材料、容器的大小。"
        """
    r = """
        version: 1
        rubrics:
          cu:
            points:
              - {id: amount, text: "需要知道每个容器里倒了多少醋。"}
              - {id: kind, text: "需要知道用的是哪种醋。"}
              - {id: what, text: "需要知道测试的是哪些材料。"}
              - {id: box, text: "需要知道容器的大小和类型。"}
              - {id: rinse, text: "需要知道每个样品冲洗了多长时间。"}
        """
    g = Grader(load_bank([make_bank(q, r)]))
    assert _found(g, "我想知道他们用的是哪些材料", "cu") == {"what"}
    assert _found(g, "用的是哪种醋，白醋还是米醋？", "cu") == {"kind"}
    assert _found(g, "把材料放进容器里冲洗", "cu") == set()
    # a Chinese point text is found on a shorter paraphrase (covered at the reference-sentence rate)
    assert _found(g, "每个容器倒多少醋，容器的大小", "cu") == {"amount", "box"}
    assert _found(g, "冲洗", "cu") == set()
    # "材料分别是什么" asks about 材料 too (the question word comes after it in Chinese): partial credit
    assert g.grade("cu", "材料分别是什么").points[2].score > g.grade("cu", "把材料放进去").points[2].score


def test_general_synonyms_of_a_derived_unit():
    from llmprep.autorubric import keywords_from_text

    text = (("en", "mRNA travels through the cytoplasm to the ribosome."),)
    r = rubric(Point(id="k", text=text, keywords=keywords_from_text(text)))
    assert grade("The mRNA reaches the ribosome.", r, Q).score >= 0.5
    assert grade("Blood sugar goes down.", r, Q).score == 0.0  # "go" is too vague to stand for travel
    assert grade("The ribosome.", r, Q).score < 0.5


def test_a_chinese_unit_also_matches_the_english_term():
    from llmprep.autorubric import keywords_from_text

    text = (("zh", "每张卡独立进行前向传播和反向传播，得到本地梯度。"),)
    r = rubric(Point(id="k", text=text, keywords=keywords_from_text(text)))
    mixed = grade("每张卡各自 forward、backward，算出本地 gradient", r, Q).score
    assert mixed > grade("每张卡各自算一下", r, Q).score and mixed >= 0.5


def test_idf_weighs_shared_units_less():
    pts = [Point(id=f"k{i}", text=(("", t),), keywords=tuple((w,) for w in t.split()))
           for i, t in enumerate(["know vinegar", "know container", "know size", "know rinse"])]
    stats = UnitStats(pts)
    assert stats.idf(("know",)) < stats.idf(("vinegar",))


def test_fixture_bank_reference_answers_score_high(llmprep_home):
    from pathlib import Path

    bank = load_bank([Path(__file__).parent / "fixtures" / "bank"])
    g = Grader(bank)
    for qid, q in bank.questions.items():
        for alt in q.answers:
            for _, text in alt:
                assert g.grade(qid, text).score >= 0.9, (qid, text)


def _five_point_rubric():
    words = "gradient tensor pipeline all-reduce bandwidth latency memory optimizer shard activation 梯度 张量 并行 通信".split()
    rnd = random.Random(1)
    pts = tuple(hand(*[[w] for w in rnd.sample(words, 3)], need=2, pid=f"p{i}") for i in range(5))
    return (compile_points(pts, question_tokens(Q)),), words


def test_batch_speed_300_char_answers():
    compiled, words = _five_point_rubric()
    rnd = random.Random(2)
    answers = []
    for _ in range(600):
        s = ""
        while len(s) < 300:
            s += rnd.choice(words + ["the", "of", "and"]) + rnd.choice([" ", ", ", ". "])
        answers.append(s[:300])
    t0 = time.perf_counter()
    for a in answers:
        grade_compiled("q", a, compiled, 0.6)
    rate = len(answers) / (time.perf_counter() - t0)
    assert rate >= 1000  # the benchmark prints the real figure (≥ 3,000/s on an idle machine)


def test_one_megabyte_answer_is_linear():
    compiled, words = _five_point_rubric()
    rnd = random.Random(3)
    big = " ".join(rnd.choice(words) for _ in range(150_000))[:1_000_000]
    t0 = time.perf_counter()
    grade_compiled("q", big, compiled, 0.6)
    assert time.perf_counter() - t0 < 3.0


def test_derived_chinese_evidence_is_shown_as_whole_stretches():
    q = Question(id="q", topic="t", kind="concept", difficulty=1, prompt=(("zh", "什么是梯度累积？"),),
                 answers=((("zh", "把多个小批次的梯度相加后再更新参数。"),),))
    from llmprep.autorubric import derive_rubric

    answer = "先把多个小批次的梯度相加，然后更新参数"
    g = grade(answer, derive_rubric(q), q)
    found = [m.found for p in g.points for m in p.matched]
    assert found == ["小批次", "梯度相加", "更新参数"]
    assert all(answer[m.start : m.end] == m.found for p in g.points for m in p.matched)
    assert g.score >= 0.9


def test_prose_alternatives_keep_merged_units():
    from llmprep.autorubric import keywords_from_text

    text = (("en", "mRNA travels through the cytoplasm to the ribosome or enters the size/type of reticulum"),)
    p = Point(id="k", text=text, keywords=keywords_from_text(text))
    (cp,) = compile_points((p,), question_tokens(Q), UnitStats([p]))
    labels = [{cp.concepts[i].label for i in alt} for alt in cp.alts]
    assert len(labels) == 2
    assert "size/type" in labels[1] and "ribosome" in labels[0]
    assert grade("the mRNA enters the reticulum, whatever its size", rubric(p), Q).score == 1.0


def test_bilingual_text_only_point_is_earned_in_either_language():
    from llmprep.autorubric import keywords_from_text

    text = (("zh", "每个 GPU 只与环上相邻节点通信"), ("en", "each GPU talks only to its ring neighbours"))
    p = Point(id="k", text=text, keywords=keywords_from_text(text))
    r = rubric(p)
    assert grade("每个 GPU 只与环上相邻节点通信", r).score == 1.0
    assert grade("each GPU talks only to its ring neighbours", r).score == 1.0
    assert grade("I like turtles.", r).score == 0.0
