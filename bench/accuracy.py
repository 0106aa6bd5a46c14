"""Grader accuracy against human scores, next to two untrained peers.

Reads graded answers in the format of ../shared/eval/*.jsonl (one JSON object per line: set, qid, lang,
question, references, [key_elements, count_to_score], answer, score, max_score). For each input file it
writes a bank as a user would (questions.yaml + rubrics.yaml in a temp dir: the question as prompt, the
references as reference answers, no hand-written rubric; for key-element sets one rubric point per key
element, written as prose without keywords) and loads it through the real loader, then grades every
answer with `Grader.grade`. The grader never sees the human score.

Reports per set: n, Pearson r of the grade's score against the human score, the same for the peers
(tf-idf cosine to the references, fitted per question; rapidfuzz token_set_ratio to the best reference),
and for key-element sets the quadratic weighted kappa of `count_to_score(points with score >= 0.5)`.
Also: answers/second of batch grading on the key-element set(s), a long-answer timing, and precision /
recall of the keyword matcher on tests/data/matching_cases.jsonl.

    pip install -e '.[bench]'
    python bench/accuracy.py                      # all files in ../shared/eval
    python bench/accuracy.py path/to/set.jsonl    # any file(s) of that format
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import OrderedDict, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llmprep.bank import load_bank  # noqa: E402
from llmprep.grading import Grader  # noqa: E402

DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
MATCHING_CASES = ROOT / "tests" / "data" / "matching_cases.jsonl"
KEEP_LANGS = re.compile(r"^[a-z]{2,3}$")


# ---------------------------------------------------------------- data


def read_rows(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _qid(raw: str, taken: dict[str, str]) -> str:
    """A bank id (lowercase letters, digits, . _ -) for a dataset question id."""
    base = re.sub(r"[^a-z0-9._-]+", "-", str(raw).lower()).strip("-._") or "q"
    if not base[0].isalnum():
        base = "q" + base
    qid, k = base, 1
    while qid in taken.values() and taken.get(raw) != qid:
        k += 1
        qid = f"{base}-{k}"
    taken[raw] = qid
    return qid


def reference_text(row: dict) -> list[str]:
    """Reference answers of a row; for key-element sets, the key elements joined by newlines."""
    if row.get("key_elements"):
        return ["\n".join(row["key_elements"])]
    return [r for r in row.get("references") or [] if r and r.strip()]


def write_bank(rows: list[dict], where: Path) -> dict[str, str]:
    """Write questions.yaml / rubrics.yaml for the questions in `rows`; return dataset qid -> bank id."""
    import yaml

    ids: dict[str, str] = {}
    questions = []
    rubrics: dict[str, dict] = {}
    seen: OrderedDict[str, dict] = OrderedDict()
    for r in rows:
        seen.setdefault(r["qid"], r)
    for raw, r in seen.items():
        qid = _qid(raw, ids)
        lang = r.get("lang") or "en"
        lang = lang if KEEP_LANGS.match(lang) else "en"
        refs = reference_text(r) or [r["question"]]
        questions.append(
            {
                "id": qid,
                "topic": "eval",
                "kind": "concept",
                "prompt": {lang: r["question"]},
                "answer": [{lang: ref} for ref in refs] if len(refs) > 1 else {lang: refs[0]},
            }
        )
        if r.get("key_elements"):
            rubrics[qid] = {
                "points": [{"id": f"k{i}", "text": {lang: ke}} for i, ke in enumerate(r["key_elements"], 1)]
            }
    where.mkdir(parents=True, exist_ok=True)
    dump = lambda obj: yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=10_000)  # noqa: E731
    (where / "questions.yaml").write_text(dump({"version": 1, "questions": questions}), encoding="utf-8")
    if rubrics:
        (where / "rubrics.yaml").write_text(dump({"version": 1, "rubrics": rubrics}), encoding="utf-8")
    return ids


def count_to_score(table, found: int) -> float:
    for need, score in sorted(table, key=lambda t: -t[0]):
        if found >= need:
            return float(score)
    return 0.0


# ---------------------------------------------------------------- metrics


def pearson(x, y) -> float:
    import numpy as np

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def qwk(a, b) -> float:
    """Quadratic weighted kappa of two integer ratings (as sklearn's cohen_kappa_score(weights="quadratic"))."""
    import numpy as np

    a = np.rint(np.asarray(a, float)).astype(int)
    b = np.rint(np.asarray(b, float)).astype(int)
    labels = np.union1d(a, b)
    k = len(labels)
    if k < 2:
        return float("nan")
    ia, ib = np.searchsorted(labels, a), np.searchsorted(labels, b)
    observed = np.zeros((k, k))
    np.add.at(observed, (ia, ib), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    w = (np.arange(k)[:, None] - np.arange(k)[None, :]) ** 2
    return float(1 - (w * observed).sum() / (w * expected).sum())


# ---------------------------------------------------------------- peers


def tfidf_scores(rows: list[dict]) -> list[float]:
    """Cosine of each answer to its best reference; tf-idf fitted per question (refs + answers)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    by_q: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_q[r["qid"]].append(i)
    out = [0.0] * len(rows)
    for idx in by_q.values():
        first = rows[idx[0]]
        refs = reference_text(first) or [first["question"]]
        answers = [rows[i]["answer"] for i in idx]
        if (first.get("lang") or "en").startswith("zh"):
            vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2))
        else:
            vec = TfidfVectorizer()
        try:
            m = vec.fit_transform(refs + answers)
        except ValueError:  # empty vocabulary
            continue
        sims = cosine_similarity(m[len(refs) :], m[: len(refs)]).max(axis=1)
        for i, s in zip(idx, sims):
            out[i] = float(s)
    return out


def token_set_scores(rows: list[dict]) -> list[float]:
    from rapidfuzz import fuzz

    out = []
    for r in rows:
        refs = reference_text(r) or [r["question"]]
        out.append(max(fuzz.token_set_ratio(r["answer"], ref) for ref in refs))
    return out


# ---------------------------------------------------------------- our grader


def grade_file(rows: list[dict], repeat: int = 0) -> tuple[list, float]:
    """Grade every row through a bank written to a temp dir and loaded by the real loader; returns
    (grades, seconds of the fastest of `repeat` runs of `grade --batch` over the same rows)."""
    with tempfile.TemporaryDirectory(prefix="llmprep-bench-") as tmp:
        ids = write_bank(rows, Path(tmp) / "bank")
        bank = load_bank([Path(tmp) / "bank"])
        grader = Grader(bank)
        grades = [grader.grade(ids[r["qid"]], r["answer"]) for r in rows]
        secs = float("inf")
        if repeat:
            import io

            from llmprep.batch import grade_batch

            batch = Path(tmp) / "rows.jsonl"
            with open(batch, "w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps({"id": ids[r["qid"]], "answer": r["answer"]}, ensure_ascii=False) + "\n")
            for _ in range(repeat):  # the fastest run: the machine may be busy with other work
                fresh = Grader(bank)  # compiling the rubrics is part of a batch run
                t0 = time.perf_counter()
                grade_batch(fresh, batch, io.StringIO())
                secs = min(secs, time.perf_counter() - t0)
    return grades, secs


def evaluate(files: list[Path], peers: bool = True, timing: bool = True) -> list[dict]:
    results = []
    for path in files:
        rows = read_rows(path)
        grades, secs = grade_file(rows, repeat=3 if timing else 0)
        tfidf = tfidf_scores(rows) if peers else None
        tset = token_set_scores(rows) if peers else None
        by_set: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            by_set[r.get("set") or path.stem].append(i)
        chars = sum(len(r["answer"]) for r in rows)
        for name, idx in by_set.items():
            human = [rows[i]["score"] for i in idx]
            res = {
                "set": name,
                "file": path.name,
                "n": len(idx),
                "ours": pearson([grades[i].score for i in idx], human),
            }
            if peers:
                res["tfidf"] = pearson([tfidf[i] for i in idx], human)
                res["token_set"] = pearson([tset[i] for i in idx], human)
            if rows[idx[0]].get("count_to_score"):
                pred = []
                for i in idx:
                    found = sum(1 for p in grades[i].points if p.score >= 0.5)
                    pred.append(count_to_score(rows[i]["count_to_score"], found))
                res["qwk"] = qwk(pred, human)
                res["r_count"] = pearson(pred, human)
            results.append(res)
        results.append({"file": path.name, "n": len(rows), "secs": secs, "chars": chars,
                        "key_elements": any(r.get("key_elements") for r in rows)})
    return results


# ---------------------------------------------------------------- matching set, speed


def matching_pr(path: Path = MATCHING_CASES) -> dict | None:
    """Precision / recall of the keyword matcher on the labelled cases used by tests/test_matching.py."""
    if not path.is_file():
        return None
    from llmprep.grading import match_case

    tp = fp = fn = tn = 0
    wrong = []
    for case in read_rows(path):
        got = match_case(case["answer"], case["keyword"], case.get("question", ""))
        want = case["expected"]
        tp += got and want
        fp += got and not want
        fn += want and not got
        tn += not got and not want
        if got != want:
            wrong.append(case)
    return {
        "n": tp + fp + fn + tn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "wrong": wrong,
    }


def speed() -> dict:
    """Answers/s for 300-character answers on 5-point rubrics, and the time for a 1 MB answer."""
    import random

    from llmprep.bank import Point, Question
    from llmprep.grading import grade_compiled, compile_points

    rnd = random.Random(5)
    words = ("gradient tensor pipeline parallel all-reduce bandwidth latency memory optimizer shard "
             "activation checkpoint 梯度 张量 并行 通信 带宽 显存 同步 异步 流水线 the of and is to").split()
    points = tuple(
        Point(id=f"p{i}", text=(("en", "x"),), keywords=tuple((w, w.upper()) for w in rnd.sample(words, 3)), need=2)
        for i in range(5)
    )
    q = Question(id="q", topic="t", kind="concept", difficulty=1, prompt=(("en", "What is tensor parallelism?"),),
                 answers=((("en", "x"),),))
    from llmprep.grading import question_tokens

    compiled = (compile_points(points, question_tokens(q)),)
    answers = []
    for _ in range(2000):
        s = ""
        while len(s) < 300:
            s += rnd.choice(words) + rnd.choice([" ", ", ", ". "])
        answers.append(s[:300])
    best = float("inf")
    for _ in range(3):  # the fastest of three runs: the machine may be busy with other work
        t0 = time.perf_counter()
        for a in answers:
            grade_compiled("q", a, compiled, 0.6)
        best = min(best, time.perf_counter() - t0)
    rate = len(answers) / best
    big = (" ".join(rnd.choice(words) for _ in range(200_000)))[: 1_000_000]
    zh_words = [w for w in words if not w.isascii()]
    big_zh = "".join(rnd.choice(zh_words) + rnd.choice(["", "", "，", "。"]) for _ in range(400_000))[:1_000_000]
    secs = {}
    for name, text in (("big_secs", big), ("big_zh_secs", big_zh)):
        secs[name] = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            grade_compiled("q", text, compiled, 0.6)
            secs[name] = min(secs[name], time.perf_counter() - t0)
    return {"rate": rate, **secs}


# ---------------------------------------------------------------- report


def fmt(v) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, help="JSONL files (default: all in ../shared/eval)")
    ap.add_argument("--no-peers", action="store_true", help="skip the tf-idf and token_set peers")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    files = args.files or sorted(DEFAULT_EVAL.glob("*.jsonl"))
    if not files:
        print(f"no input files (looked in {DEFAULT_EVAL})", file=sys.stderr)
        return 1
    results = evaluate(files, peers=not args.no_peers)
    match = matching_pr()
    spd = speed()
    if args.json:
        if match:
            match = {k: v for k, v in match.items() if k != "wrong"}
        print(json.dumps({"sets": results, "matching": match, "speed": spd}, indent=2))
        return 0
    print("Pearson r against the human score (QWK: key elements found -> count_to_score)\n")
    head = f"{'set':<10} {'n':>5}  {'ours r':>7} {'tf-idf r':>8} {'tok_set r':>9} {'margin':>7}  {'ours QWK':>8}"
    print(head)
    print("-" * len(head))
    for r in results:
        if "set" not in r:
            continue
        peers = [v for v in (r.get("tfidf"), r.get("token_set")) if v is not None]
        margin = r["ours"] - max(peers) if peers else None
        print(f"{r['set']:<10} {r['n']:>5}  {fmt(r['ours']):>7} {fmt(r.get('tfidf')):>8} {fmt(r.get('token_set')):>9} "
              f"{fmt(margin):>7}  {fmt(r.get('qwk')):>8}")
    print()
    for r in results:
        if "secs" in r:
            print(f"grade --batch on {r['file']}: {r['n']} answers (mean {r['chars'] / max(1, r['n']):.0f} chars) "
                  f"in {r['secs']:.2f} s = {r['n'] / r['secs']:.0f} answers/s (fastest of 3 runs)")
    print(f"synthetic: {spd['rate']:.0f} answers/s (300-char answers, 5-point rubric); "
          f"1 MB answer graded in {spd['big_secs']:.2f} s (mixed), {spd['big_zh_secs']:.2f} s (Chinese)")
    if match:
        print(f"matching set: {match['n']} cases, precision {match['precision']:.3f}, recall {match['recall']:.3f}")
        for c in match["wrong"]:
            print(f"  wrong: {c['keyword']!r} in {c['answer']!r} (expected {c['expected']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
