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
