"""Which language to show: --lang, else the locale (zh_* → zh), else en."""

from __future__ import annotations

import os

LANGS = ("zh", "en")


def resolve_lang(lang: str | None) -> str:
    from .errors import LlmprepError

    if lang:
        lang = lang.lower()
        if lang not in LANGS:
            raise LlmprepError(f"unknown language {lang!r} (use zh or en)")
        return lang
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def language_of(text: str) -> str | None:
    """zh or en for an answer written mostly in one of them (by its CJK characters against its latin
    letters: code and English terms in a Chinese answer do not make it English); None if unclear."""
    from .text import is_cjk

    cjk = sum(1 for c in text if c >= "\u3040" and is_cjk(c))
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    if cjk and cjk * 3 >= latin:  # a CJK character says as much as ~3 latin letters
        return "zh"
    if latin and not cjk:
        return "en"
    return None


# UI strings shown around bank text; bank text itself comes in its own languages.
_UI = {
    "score": {"zh": "得分", "en": "Score"},
    "passed": {"zh": "通过", "en": "pass"},
    "failed": {"zh": "未通过", "en": "fail"},
    "reference": {"zh": "参考答案", "en": "Reference answer"},
    "missed": {"zh": "遗漏的要点", "en": "Missed points"},
    "rubric": {"zh": "评分要点", "en": "Rubric"},
    "matched": {"zh": "命中", "en": "matched"},
    "negated": {"zh": "被否定", "en": "negated"},
}


def ui(key: str, lang: str) -> str:
    entry = _UI.get(key, {})
    return entry.get(lang) or entry.get("en") or key


# Quiz, review, history and stats (issue 3).
_UI.update(
    {
        "quiz": {"zh": "练习", "en": "Quiz"},
        "review-wrong": {"zh": "错题复习", "en": "Review (wrong answers)"},
        "review-due": {"zh": "间隔复习", "en": "Review (due)"},
        "n_questions": {"zh": "{n} 题", "en": "{n} question(s)"},
        "seed": {"zh": "随机种子 {seed}", "en": "seed {seed}"},
        "time_limit": {"zh": "每题限时 {t}", "en": "time limit {t} per question"},
        "question_n": {"zh": "第 {i}/{n} 题", "en": "Question {i}/{n}"},
        "difficulty": {"zh": "难度 {d}", "en": "difficulty {d}"},
        "hint": {
            "zh": "输入答案（空行不会提交）。提交：单独一行 . 或按 Ctrl-D；命令：:skip 跳过  :quit 结束  :edit 用编辑器",
            "en": "Type your answer (blank lines do not submit). Submit: a line with only . or Ctrl-D; "
            "commands: :skip  :quit  :edit (opens $EDITOR)",
        },
        "toolbar": {"zh": "提交：单独一行 . 或 Ctrl-D · :skip :quit :edit", "en": "submit: a line with only . or Ctrl-D · :skip :quit :edit"},
        "draft_resumed": {"zh": "已填入你上次未完成的草稿。", "en": "Your unfinished draft from last time is filled in."},
        "empty_answer": {"zh": "答案为空：请输入答案，或输入 :skip 跳过。", "en": "Empty answer: type something, or :skip."},
        "no_editor": {"zh": "请设置 $VISUAL 或 $EDITOR 后再用 :edit。", "en": "Set $VISUAL or $EDITOR to use :edit."},
        "editor_failed": {"zh": "编辑器出错：{error}", "en": "Editor failed: {error}"},
        "time": {"zh": "用时", "en": "Time"},
        "over_time": {"zh": "超时", "en": "over time"},
        "rating_prompt": {
            "zh": "记忆评级 — 回车={name}（建议） 1 重来 2 困难 3 良好 4 简单 · d 我答对了 [1-4]: ",
            "en": "Recall — Enter={name} (suggested) 1 Again 2 Hard 3 Good 4 Easy · d I was right [1-4]: ",
        },
        "rated": {"zh": "评级：{name}", "en": "Rated {name}"},
        "rated_suggested": {"zh": "评级：{name}（采用建议）", "en": "Rated {name} (suggested)"},
        "next_review": {"zh": "下次复习：{when}", "en": "next review {when}"},
        "disputed": {
            "zh": "已记录申诉：此题计为答对，自动评分保留在旁。",
            "en": "Disputed: counted as correct; the automatic grade is kept beside it.",
        },
        "report": {"zh": "本次练习报告", "en": "Session report"},
        "col_question": {"zh": "题目", "en": "question"},
        "col_topic": {"zh": "主题", "en": "topic"},
        "col_score": {"zh": "得分", "en": "score"},
        "col_result": {"zh": "结果", "en": "result"},
        "col_time": {"zh": "用时", "en": "time"},
        "col_rating": {"zh": "评级", "en": "rating"},
        "col_answered": {"zh": "作答", "en": "answered"},
        "col_mean": {"zh": "平均分", "en": "mean"},
        "skipped": {"zh": "跳过", "en": "skipped"},
        "draft": {"zh": "草稿", "en": "draft"},
        "disputed_short": {"zh": "申诉", "en": "disputed"},
        "by_topic": {"zh": "按主题", "en": "By topic"},
        "total": {
            "zh": "合计：{passed}/{answered} 通过 · 平均 {mean} · 用时 {time}",
            "en": "Total: {passed}/{answered} passed · mean {mean} · time {time}",
        },
        "status_quit": {"zh": "已退出，完成 {done}/{planned}", "en": "quit after {done} of {planned}"},
        "status_eof": {"zh": "输入结束，完成 {done}/{planned}", "en": "input ended after {done} of {planned}"},
        "status_interrupted": {"zh": "已中断，完成 {done}/{planned}", "en": "interrupted after {done} of {planned}"},
        "saved": {
            "zh": "所有已评分的答案均已保存；未完成的答案存为草稿。",
            "en": "Every graded answer is saved; an unfinished answer is kept as a draft.",
        },
        "nothing_answered": {"zh": "本次没有作答。", "en": "Nothing answered this time."},
        "Again": {"zh": "重来", "en": "Again"},
        "Hard": {"zh": "困难", "en": "Hard"},
        "Good": {"zh": "良好", "en": "Good"},
        "Easy": {"zh": "简单", "en": "Easy"},
        "now": {"zh": "现在", "en": "now"},
        "in_minutes": {"zh": "{n} 分钟后", "en": "in {n} min"},
        "in_hours": {"zh": "{n} 小时后", "en": "in {n} h"},
        "in_days": {"zh": "{n} 天后", "en": "in {n} days"},
    }
)


def uif(key: str, lang: str, **kw) -> str:
    """A UI string with {placeholders} filled in."""
    return ui(key, lang).format(**kw)

# Tables of `stats`, `history` and `review --list`.
_UI.update(
    {
        "col_id": {"zh": "题目", "en": "id"},
        "col_questions": {"zh": "题数", "en": "questions"},
        "col_attempted": {"zh": "已答", "en": "attempted"},
        "col_passed": {"zh": "通过", "en": "passed"},
        "col_due": {"zh": "待复习", "en": "due"},
        "col_progress": {"zh": "进度", "en": "progress"},
        "col_when": {"zh": "时间", "en": "when"},
        "col_last_score": {"zh": "上次得分", "en": "last score"},
        "col_last_attempted": {"zh": "上次作答", "en": "last attempted"},
        "col_due_at": {"zh": "到期", "en": "due"},
        "total_row": {"zh": "合计", "en": "total"},
        "streak": {"zh": "连续练习：{n} 天", "en": "streak: {n} day(s)"},
        "graded_answers": {"zh": "共 {n} 次评分作答", "en": "{n} graded answer(s)"},
        "last_days": {"zh": "最近 {n} 天 ", "en": "last {n} days "},
        "latest": {"zh": "最近一次 {p}", "en": "latest {p}"},
        "per_day": {"zh": "（每日平均分）", "en": "(mean score per day)"},
        "n_attempts": {"zh": "{n} 次作答", "en": "{n} attempt(s)"},
        "n_listed": {"zh": "{n} 题", "en": "{n} question(s)"},
    }
)

# Labels of `export` (Markdown study guide and Anki deck).
_UI.update(
    {
        "export_title": {"zh": "llmprep 学习指南", "en": "llmprep study guide"},
        "export_title_practice": {"zh": "llmprep 练习题", "en": "llmprep practice sheet"},
        "export_title_wrong": {"zh": "llmprep 我的错题", "en": "llmprep: my missed questions"},
        "export_contents": {"zh": "目录", "en": "Contents"},
        "export_reference": {"zh": "参考答案", "en": "Reference answer"},
        "export_rubric": {"zh": "评分要点", "en": "Rubric points"},
        "export_my_answer": {"zh": "我上次的答案", "en": "My last answer"},
        "export_missed": {"zh": "遗漏的要点", "en": "Points I missed"},
        "export_points": {"zh": "评分要点（[x] 已得分，[ ] 遗漏）", "en": "Rubric points ([x] earned, [ ] missed)"},
        "export_score": {"zh": "得分", "en": "score"},
        "export_difficulty": {"zh": "难度", "en": "difficulty"},
        "export_none": {"zh": "没有符合条件的题目。", "en": "No questions match."},
    }
)
