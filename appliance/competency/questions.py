"""Behavioural interview questions generated from a competency, per role, in English and Chinese.

The questions are drafts: they fill the model editor, where HR rewrites or deletes them before
the model is saved and used. Generation is deterministic (same competency, same questions).
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuestionSource:
    """What a question is generated from."""

    name: str
    name_zh: str
    description: str
    keywords_en: tuple[str, ...]
    keywords_zh: tuple[str, ...]


def _lower_name(name: str) -> str:
    # "Cross-team collaboration" reads "cross-team collaboration" inside a sentence; keep
    # acronyms ("OEE", "P&L") as written.
    words = name.split()
    return " ".join(w if w.isupper() else w[:1].lower() + w[1:] for w in words)


def _article(role: str) -> str:
    return "an" if role[:1].lower() in "aeiou" else "a"


def generate_questions(
    source: QuestionSource, *, role: str = "", role_zh: str = "", per_language: int = 3
) -> dict[str, list[str]]:
    """`per_language` "tell me about a time" questions per language, with role variants."""
    name = _lower_name(source.name)
    name_zh = source.name_zh or source.name
    kw_en = list(source.keywords_en) or [name]
    kw_zh = list(source.keywords_zh) or [name_zh]
    as_role = f" as {_article(role)} {role}" if role else ""
    in_role = f"{role_zh}工作中" if role_zh else "工作中"
    english = [
        f"Tell me about a time{as_role} when your {name} made a real difference. What was the "
        "situation, what did you do yourself, and what was the result?",
        f"Describe a specific situation{as_role} where {kw_en[0]} was critical. What did you "
        "personally do, and how did you know it worked?",
        f"Give me an example involving {kw_en[1 % len(kw_en)]} that did not go as planned. What "
        "did you do, and what did you learn?",
        f"Tell me about the most difficult challenge you faced in {name}. What obstacles did "
        "you meet, and what was the outcome?",
    ]
    chinese = [
        f"请讲一个你在{in_role}体现{name_zh}的具体经历：当时是什么情况？你本人做了什么？结果如何？",
        f"请描述一次在{in_role}“{kw_zh[0]}”非常关键的具体情况。你亲自做了什么？怎么知道有效果？",
        f"请举一个与“{kw_zh[1 % len(kw_zh)]}”有关、但进展不顺利的例子。你是怎么做的？学到了什么？",
        f"请讲你在{name_zh}方面遇到过的最大挑战。你遇到了哪些障碍？最终结果如何？",
    ]
    count = max(1, min(per_language, len(english)))
    return {"en": english[:count], "zh": chinese[:count]}
