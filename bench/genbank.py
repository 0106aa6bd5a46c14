"""Generate banks shaped like the built-in one, for the scale benchmark (and for tests that need a big bank).

Each question has a Chinese and an English prompt (~150 characters), a Chinese and an English reference
answer (~600 characters each) and a hand-written rubric of 4–5 points, each point 3–4 keyword concepts
that list an English and a Chinese synonym (sometimes a spelling variant too). The reference answers
contain the keywords, so a bank generated here passes `llmprep validate`.

    python bench/genbank.py 1000 /tmp/bank-1k     # writes questions.yaml and rubrics.yaml
    python bench/genbank.py 1000 /tmp/bank-1k --answers 3000 /tmp/answers.jsonl
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TOPICS = ("fundamentals", "training", "distributed", "compression", "inference", "applications")

# (English, Chinese) technical terms; composed with MODIFIERS below into ~2,000 distinct concepts.
TERMS = [
    ("all-reduce", "全规约"), ("all-gather", "全收集"), ("reduce-scatter", "规约散射"), ("pipeline bubble", "流水线气泡"),
    ("tensor parallelism", "张量并行"), ("data parallelism", "数据并行"), ("expert parallelism", "专家并行"),
    ("sequence parallelism", "序列并行"), ("gradient accumulation", "梯度累积"), ("gradient checkpointing", "梯度检查点"),
    ("activation memory", "激活显存"), ("optimizer state", "优化器状态"), ("master weights", "主权重"),
    ("mixed precision", "混合精度"), ("loss scaling", "损失缩放"), ("learning rate warmup", "学习率预热"),
    ("weight decay", "权重衰减"), ("layer normalization", "层归一化"), ("residual connection", "残差连接"),
    ("attention head", "注意力头"), ("key value cache", "键值缓存"), ("paged attention", "分页注意力"),
    ("flash attention", "闪存注意力"), ("rotary embedding", "旋转位置编码"), ("positional encoding", "位置编码"),
    ("tokenizer", "分词器"), ("byte pair encoding", "字节对编码"), ("vocabulary", "词表"), ("embedding table", "嵌入表"),
    ("softmax", "归一化指数"), ("cross entropy", "交叉熵"), ("perplexity", "困惑度"), ("beam search", "束搜索"),
    ("speculative decoding", "投机解码"), ("draft model", "草稿模型"), ("continuous batching", "连续批处理"),
    ("prefill", "预填充"), ("decode step", "解码步"), ("time to first token", "首字延迟"), ("throughput", "吞吐量"),
    ("latency", "延迟"), ("bandwidth", "带宽"), ("interconnect", "互联"), ("memory wall", "内存墙"),
    ("quantization", "量化"), ("distillation", "蒸馏"), ("pruning", "剪枝"), ("low rank adapter", "低秩适配器"),
    ("instruction tuning", "指令微调"), ("reward model", "奖励模型"), ("preference data", "偏好数据"),
    ("policy gradient", "策略梯度"), ("value function", "价值函数"), ("kl penalty", "散度惩罚"),
    ("retrieval", "检索"), ("vector index", "向量索引"), ("reranker", "重排序器"), ("chunking", "文本切块"),
    ("hallucination", "幻觉"), ("evaluation harness", "评测框架"), ("benchmark contamination", "基准污染"),
    ("scaling law", "缩放定律"), ("compute budget", "算力预算"), ("token budget", "词元预算"),
    ("mixture of experts", "混合专家"), ("router", "路由器"), ("load balancing loss", "负载均衡损失"),
    ("capacity factor", "容量因子"), ("gating network", "门控网络"), ("sparse activation", "稀疏激活"),
    ("checkpoint sharding", "检查点分片"), ("fault tolerance", "容错"), ("elastic training", "弹性训练"),
    ("collective communication", "集合通信"), ("ring topology", "环形拓扑"), ("tree topology", "树形拓扑"),
    ("nvlink", "高速互联"), ("infiniband", "无限带宽网络"), ("overlap", "计算通信重叠"), ("bucket", "梯度桶"),
    ("zero redundancy", "零冗余"), ("parameter sharding", "参数分片"), ("offloading", "卸载"),
    ("recomputation", "重计算"), ("micro batch", "微批"), ("global batch", "全局批"), ("sequence length", "序列长度"),
    ("hidden size", "隐藏维度"), ("feed forward", "前馈网络"), ("gelu", "高斯误差线性单元"), ("dropout", "随机失活"),
    ("initialization", "初始化"), ("gradient clipping", "梯度裁剪"), ("exploding gradient", "梯度爆炸"),
    ("vanishing gradient", "梯度消失"), ("adam optimizer", "自适应矩估计"), ("momentum", "动量"),
    ("second moment", "二阶矩"), ("bias correction", "偏差修正"), ("cosine schedule", "余弦退火"),
    ("int8 inference", "八位推理"), ("weight only quantization", "仅权重量化"), ("outlier channel", "离群通道"),
    ("calibration set", "校准集"), ("kernel fusion", "算子融合"), ("memory bound", "访存受限"),
    ("compute bound", "计算受限"), ("arithmetic intensity", "算术强度"), ("roofline", "屋顶线模型"),
    ("prompt injection", "提示注入"), ("guardrail", "安全护栏"), ("function calling", "函数调用"),
    ("agent loop", "智能体循环"), ("tool use", "工具调用"), ("context window", "上下文窗口"),
    ("long context", "长上下文"), ("sliding window", "滑动窗口"), ("ring attention", "环形注意力"),
]
MODIFIERS = [
    ("", ""), ("fused", "融合"), ("sharded", "分片"), ("asynchronous", "异步"), ("synchronous", "同步"),
    ("hierarchical", "分层"), ("adaptive", "自适应"), ("dynamic", "动态"), ("static", "静态"),
    ("blockwise", "分块"), ("grouped", "分组"), ("streaming", "流式"), ("cached", "缓存"), ("local", "局部"),
    ("global", "全局"), ("lossless", "无损"), ("approximate", "近似"),
]
FILLER_EN = (
    "in practice this matters because the cluster is shared and every step waits for the slowest worker; "
    "the trade-off shows up in memory, bandwidth and wall-clock time; engineers usually measure it first; "
    "a common mistake is to tune it in isolation; the effect grows with model size and sequence length; "
    "which is why production systems combine several techniques rather than relying on one"
).split("; ")
FILLER_ZH = (
    "在实际系统中这一点很重要，因为集群是共享的，每一步都要等待最慢的节点；"
    "代价主要体现在显存、带宽和墙钟时间上；工程上通常先测量再优化；"
    "常见的错误是孤立地调整某一个参数；模型越大、序列越长，影响越明显；"
    "所以生产环境往往组合多种技术，而不是只依赖其中一种"
).split("；")


def concepts() -> list[tuple[str, str]]:
    out = []
    for m_en, m_zh in MODIFIERS:
        for en, zh in TERMS:
            out.append(((m_en + " " + en).strip(), m_zh + zh))
    return out


def _sentence_en(rng: random.Random, terms: list[tuple[str, str]]) -> str:
    names = [t[0] for t in terms]
    body = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return f"The key idea combines {body}; {rng.choice(FILLER_EN)}."


def _sentence_zh(rng: random.Random, terms: list[tuple[str, str]]) -> str:
    return f"关键在于结合{'、'.join(t[1] for t in terms)}，{rng.choice(FILLER_ZH)}。"


def _pad(text: str, target: int, filler: list[str], rng: random.Random, sep: str) -> str:
    while len(text) < target:
        text += sep + rng.choice(filler)
    return text


def question(rng: random.Random, k: int, vocab: list[tuple[str, str]]) -> tuple[dict, dict]:
    """One question and its rubric (as plain dicts)."""
    qid = f"gen-{k:05d}"
    n_points = rng.choice((4, 5))
    picked = rng.sample(vocab, n_points * 4 + 2)
    subject, other = picked[0], picked[1]
    points = []
    en_parts, zh_parts = [], []
    for p in range(n_points):
        terms = picked[2 + p * 4 : 2 + p * 4 + rng.choice((3, 4))]
        kws = []
        for en, zh in terms:
            syn = [en, zh]
            if "-" in en:
                syn.append(en.replace("-", " "))
            kws.append(syn)
        need = min(len(kws), rng.choice((1, 2, 2, 3)))
        points.append(
            {
                "id": f"p{p + 1}",
                "weight": rng.choice((1, 1, 2, 3)),
                "text": {"zh": "说明" + "、".join(t[1] for t in terms), "en": "Explains " + ", ".join(t[0] for t in terms)},
                "keywords": kws,
                "need": need,
            }
        )
        en_parts.append(_sentence_en(rng, terms))
        zh_parts.append(_sentence_zh(rng, terms))
    prompt_en = _pad(
        f"Explain how {subject[0]} interacts with {other[0]} when a large model is trained or served on many GPUs,",
        150, FILLER_EN, rng, " and why ",
    )[:160].rsplit(" ", 1)[0].rstrip(",") + "?"
    prompt_zh = _pad(
        f"请解释在多卡训练或部署大模型时，{subject[1]}如何与{other[1]}配合", 100, FILLER_ZH, rng, "，并说明"
    )[:150] + "？"
    answer_en = _pad(" ".join(en_parts), 600, FILLER_EN, rng, " Also, ")
    answer_zh = _pad("".join(zh_parts), 600, FILLER_ZH, rng, "。此外，") + "。"
    q = {
        "id": qid,
        "topic": TOPICS[k % len(TOPICS)],
        "kind": "concept",
        "difficulty": rng.choice((1, 2, 3)),
        "tags": ["generated", subject[0].split()[-1].replace("-", "")],
        "prompt": {"zh": prompt_zh, "en": prompt_en},
        "answer": {"zh": answer_zh, "en": answer_en},
    }
    return q, {"points": points}


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def write_bank(n: int, out: Path, seed: int = 0) -> Path:
    """Write a bank of `n` generated questions to `out` (created); returns `out`."""
    rng = random.Random(seed)
    vocab = concepts()
    out.mkdir(parents=True, exist_ok=True)
    ql = ["version: 1", "questions:"]
    rl = ["version: 1", "rubrics:"]
    for k in range(1, n + 1):
        q, r = question(rng, k, vocab)
        ql += [
            f"  - id: {q['id']}",
            f"    topic: {q['topic']}",
            f"    kind: {q['kind']}",
            f"    difficulty: {q['difficulty']}",
            f"    tags: [{', '.join(q['tags'])}]",
            "    prompt:",
            f"      zh: {_s(q['prompt']['zh'])}",
            f"      en: {_s(q['prompt']['en'])}",
            "    answer:",
            f"      zh: {_s(q['answer']['zh'])}",
            f"      en: {_s(q['answer']['en'])}",
        ]
        rl += [f"  {q['id']}:", "    points:"]
        for p in r["points"]:
            kws = ", ".join("[" + ", ".join(_s(s) for s in syn) + "]" for syn in p["keywords"])
            rl += [
                f"      - id: {p['id']}",
                f"        weight: {p['weight']}",
                f"        text: {{zh: {_s(p['text']['zh'])}, en: {_s(p['text']['en'])}}}",
                f"        keywords: [{kws}]",
                f"        need: {p['need']}",
            ]
    (out / "questions.yaml").write_text("\n".join(ql) + "\n", encoding="utf-8")
    (out / "rubrics.yaml").write_text("\n".join(rl) + "\n", encoding="utf-8")
    return out


def answers(n_questions: int, rows: int, length: int = 300, seed: int = 1) -> list[dict]:
    """`rows` batch rows of ~`length`-character answers to questions of a bank from write_bank(n_questions):
    a mix of English, Chinese and code-switched answers naming some of the rubric's keywords."""
    rng = random.Random(seed)
    vocab = concepts()
    gen = random.Random(0)
    # Re-create the questions' keywords cheaply: the same seed gives the same bank.
    keywords = []
    for k in range(1, n_questions + 1):
        _, r = question(gen, k, vocab)
        keywords.append([syn for p in r["points"] for syn in p["keywords"]])
    out = []
    for _ in range(rows):
        k = rng.randrange(n_questions)
        kws = rng.sample(keywords[k], max(1, len(keywords[k]) * 2 // 3))
        style = rng.random()
        parts = []
        for syn in kws:
            zh = style > 0.75 or (style > 0.5 and rng.random() < 0.5)
            word = syn[1] if zh else syn[0]
            neg = rng.random() < 0.08
            parts.append((("不是" if zh else "not ") if neg else "") + word)
        text = ""
        i = 0
        while len(text) < length:
            if i < len(parts):
                text += parts[i] + (", " if rng.random() < 0.7 else ". ")
                i += 1
            else:
                text += rng.choice(FILLER_ZH if style > 0.75 else FILLER_EN) + " "
        out.append({"id": f"gen-{k + 1:05d}", "answer": text[:length]})
    return out


def write_answers(n_questions: int, rows: int, path: Path) -> Path:
    """A `grade --batch` file of `rows` answers to a bank from write_bank(n_questions)."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in answers(n_questions, rows):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Write a generated bank (and optionally a batch of answers to it).")
    ap.add_argument("n", type=int, help="questions")
    ap.add_argument("out", type=Path, help="bank directory to write")
    ap.add_argument("--answers", nargs=2, metavar=("ROWS", "FILE"), help="also write ROWS batch answers to FILE")
    args = ap.parse_args()
    write_bank(args.n, args.out)
    if args.answers:
        write_answers(args.n, int(args.answers[0]), Path(args.answers[1]))
