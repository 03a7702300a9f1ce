"""Flags on an answer and probing questions built from the candidate's own words.

A probe names what the candidate talked about (their project, product or system, taken from
their noun phrases) so the interviewer can ask about that very thing.
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Sequence

from appliance.scoring.star import AnswerAnalysis
from appliance.scoring.text import Unit, zh_tagged

_EN_HEADS = (
    "project|system|migration|launch|campaign|release|platform|service|product|process|line|"
    "account|deal|client|customer|initiative|rollout|feature|app|pipeline|tool|redesign|plan|"
    "programme|program|audit|integration|contract|budget|tender|pilot|study|dashboard|"
    "strategy|change|outage|incident|reorganisation|reorganization|merger|shift|plant|store|"
    "website|report|model|database|api|backlog|roadmap|negotiation|partnership|event"
)
_EN_PHRASE = re.compile(
    rf"\b(the|our|my|a|an|this|that)\s+((?:[A-Za-z0-9][\w-]*\s+){{0,3}}(?:{_EN_HEADS}))s?\b",
    re.IGNORECASE,
)
_EN_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b([A-Z][\w-]+(?:\s+[A-Z][\w-]+)*)\b")
_EN_SKIP = frozenset({"I", "I'm", "I'd", "So", "Then", "And", "But", "We", "The", "OK", "It"})
_EN_STOP_MODIFIERS = frozenset(
    {"very", "whole", "same", "other", "new", "old", "big", "small", "first", "last", "next"}
)
_ZH_HEADS = (
    "项目",
    "系统",
    "平台",
    "活动",
    "产品",
    "客户",
    "产线",
    "流程",
    "方案",
    "功能",
    "版本",
    "模块",
    "服务",
    "门店",
    "渠道",
    "团队",
    "工厂",
    "车间",
    "合同",
    "预算",
    "改造",
    "计划",
    "接口",
    "数据库",
    "报表",
    "培训",
    "会议",
    "策略",
    "视频",
    "营销",
    "迁移",
    "重构",
)
_ZH_NOUN_TAGS = ("n", "nz", "nr", "ns", "nt", "eng", "vn", "nrt", "nw")

FLAG_MESSAGES: dict[str, dict[str, str]] = {
    "no_result": {
        "en": "No result stated: the answer does not say what came of the actions.",
        "zh": "没有说明结果：回答没有讲清行动带来了什么结果。",
    },
    "result_not_quantified": {
        "en": "The result is not quantified.",
        "zh": "结果没有量化。",
    },
    "vague_role": {
        "en": "Vague on own role: mostly 'we', little of what the candidate did personally.",
        "zh": "个人角色不清：多用“我们”，很少说明本人具体做了什么。",
    },
    "no_action": {
        "en": "No concrete actions described.",
        "zh": "没有描述具体行动。",
    },
    "hypothetical": {
        "en": "Hypothetical or general answer rather than a specific past example.",
        "zh": "回答偏假设或泛泛而谈，不是一个具体的过往经历。",
    },
    "off_topic": {
        "en": "The answer does not address the competency the question was asked for.",
        "zh": "回答没有针对该问题所考察的能力。",
    },
    "not_covered": {
        "en": "Competency not yet covered by any answer.",
        "zh": "该能力尚未被任何回答覆盖。",
    },
    "language_mismatch": {
        "en": "Answered in another language than the job's interview language: not scored.",
        "zh": "回答语言与该职位的面试语言不同：未评分。",
    },
    "empty": {
        "en": "Nothing was said in this answer.",
        "zh": "该回答中没有识别到讲话内容。",
    },
}


def _en_phrases(text: str) -> list[str]:
    found: list[str] = []
    for match in _EN_PHRASE.finditer(text):
        words = match.group(2).split()
        while len(words) > 1 and words[0].lower() in _EN_STOP_MODIFIERS:
            words = words[1:]
        # Spoken back to the candidate: "our platform" becomes "your platform".
        owner = "your" if match.group(1).lower() in {"our", "my"} else "the"
        found.append(f"{owner} {' '.join(words)}")
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        for match in _EN_PROPER.finditer(sentence):
            phrase = match.group(1)
            if match.start() > 0 and phrase not in _EN_SKIP:
                found.append(phrase)
    return found


def _zh_phrases(text: str) -> list[str]:
    found: list[str] = []
    run: list[tuple[str, str]] = []
    for word, flag in [*zh_tagged(text), ("。", "x")]:
        noun = flag.startswith(_ZH_NOUN_TAGS)
        # An adjective or distinguishing word may open a noun phrase (短视频, 大客户).
        if word not in {"我", "我们"} and (noun or (flag in {"a", "b", "an"} and not run)):
            run.append((word, flag))
            continue
        while run and not run[-1][1].startswith(_ZH_NOUN_TAGS):
            run.pop()
        phrase = "".join(w for w, _ in run[-4:])
        if phrase and (phrase.endswith(_ZH_HEADS) or (len(phrase) >= 4 and len(run) >= 2)):
            found.append(phrase)
        run = []
    return found


def noun_phrases(units: Sequence[Unit], language: str) -> list[str]:
    """The candidate's own noun phrases (projects, products, systems), first mention first."""
    seen: list[str] = []
    for unit in units:
        for phrase in _zh_phrases(unit.text) if language == "zh" else _en_phrases(unit.text):
            if phrase not in seen:
                seen.append(phrase)
    return seen


def topic_phrase(
    analysis: AnswerAnalysis, prefer: Sequence[str] = ("situation", "task", "action")
) -> str:
    """The most telling phrase of an answer: first from the preferred STAR parts, then anywhere."""
    for part in prefer:
        phrases = noun_phrases(analysis.units_with(part), analysis.language)
        if phrases:
            return phrases[0]
    phrases = noun_phrases(analysis.units, analysis.language)
    if phrases:
        return phrases[0]
    return "这件事" if analysis.language == "zh" else "that situation"


def probe(code: str, phrase: str, language: str, *, dimension: str = "") -> str:
    """A probing question for a flag, naming what the candidate talked about."""
    if language == "zh":
        texts = {
            "no_result": f"你提到了{phrase}。它最终带来了什么结果？有什么数据能说明？",
            "result_not_quantified": (
                f"关于{phrase}，能用数字说明效果吗？比如前后的时间、成本或质量对比。"
            ),
            "vague_role": f"在{phrase}中，哪些工作是你本人亲自做的？你做了哪些关键决定？",
            "no_action": f"在{phrase}中，你具体采取了哪些行动？请一步一步地讲。",
            "hypothetical": f"能举一个你亲身经历的具体例子吗？比如{phrase}，当时你具体做了什么？",
            "off_topic": f"我们回到“{dimension}”：请讲一个你亲身经历的具体例子。",
            "depth": f"{phrase}中最难克服的障碍是什么？如果重来一次，你会怎么做？",
        }
    else:
        texts = {
            "no_result": (
                f"You mentioned {phrase}. What was the outcome of {phrase}, and how did you "
                "measure it?"
            ),
            "result_not_quantified": (
                f"What numbers show the effect of {phrase}, for example time, cost or quality "
                "before and after?"
            ),
            "vague_role": (
                f"In {phrase}, which parts did you do yourself, and which decisions were yours?"
            ),
            "no_action": f"What did you personally do in {phrase}, step by step?",
            "hypothetical": (
                f"Can you describe one specific time this happened, such as {phrase}, and what "
                "you did then?"
            ),
            "off_topic": (
                f"Coming back to {dimension}: can you tell me about a specific time you showed "
                "it, and what you did?"
            ),
            "depth": (
                f"What was the hardest obstacle in {phrase}, and what would you do differently "
                "next time?"
            ),
        }
    return texts[code]


def flag(code: str, language: str, probe_text: str) -> dict[str, str]:
    """A flag as stored in the report: code, message in `language`, and the probe."""
    messages = FLAG_MESSAGES[code]
    return {"code": code, "message": messages.get(language, messages["en"]), "probe": probe_text}


def answer_flags(analysis: AnswerAnalysis, report_language: str) -> list[dict[str, str]]:
    """Content flags for one scorable answer (result, role, actions, hypothetical talk)."""
    flags: list[dict[str, str]] = []
    parts = analysis.parts
    lang = analysis.language
    if not parts["action"] and analysis.vague >= 2:
        flags.append(
            flag(
                "hypothetical", report_language, probe("hypothetical", topic_phrase(analysis), lang)
            )
        )
    elif not parts["action"]:
        flags.append(
            flag("no_action", report_language, probe("no_action", topic_phrase(analysis), lang))
        )
    if parts["action"] and not parts["result"]:
        flags.append(
            flag("no_result", report_language, probe("no_result", topic_phrase(analysis), lang))
        )
    elif parts["result"] and not analysis.quantified_result:
        phrase = topic_phrase(analysis, ("result", "action"))
        flags.append(
            flag(
                "result_not_quantified",
                report_language,
                probe("result_not_quantified", phrase, lang),
            )
        )
    if analysis.team_actions + 0.5 * sum(c.we_count for c in analysis.cues) > 0 and (
        analysis.ownership < 0.4
    ):
        flags.append(
            flag("vague_role", report_language, probe("vague_role", topic_phrase(analysis), lang))
        )
    return flags
