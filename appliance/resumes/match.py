"""A resume's profile against a job's competency model: what it evidences, what it lacks, and
the personalised questions that follow from both.

A dimension is evidenced by the job's own dictionary phrases found in the resume, and by
vocabulary skills whose themes name the dimension. Questions quote the line they are built on,
so an interviewer sees why each was suggested. Everything is deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from appliance.store.competency import DimensionSpec, ModelSpec

MAX_QUESTIONS = 5
QUOTE_CHARS = 90
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z]+")
# Question templates in Chinese (full-width punctuation is correct here).
ZH_EVIDENCED = (
    "您的简历提到{term}{where}：“{quote}”。请讲一个具体的例子："  # noqa: RUF001
    "当时的情况是什么，您本人做了什么，结果如何（最好有数据）？"  # noqa: RUF001
)
ZH_GAP = "您的简历中较少体现“{name}”。请讲一个您需要运用{name}的具体经历：您做了什么，结果如何？"  # noqa: RUF001


@dataclass(frozen=True)
class DimensionMatch:
    """How far a resume evidences one competency."""

    key: str
    name: str
    weight: float
    keywords: list[dict[str, str]]  # {"term", "quote"}
    skills: list[dict[str, str]]  # {"name", "term", "quote"}

    @property
    def covered(self) -> bool:
        """Whether anything in the resume speaks to the competency."""
        return bool(self.keywords or self.skills)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "name": self.name,
            "weight": self.weight,
            "covered": self.covered,
            "keywords": self.keywords,
            "skills": self.skills,
        }


def _phrase_in(phrase: str, line: str) -> bool:
    if _CJK.search(phrase):
        return phrase in line
    pattern = rf"(?<![A-Za-z0-9]){re.escape(phrase)}(?![A-Za-z0-9])"
    return re.search(pattern, line, re.IGNORECASE) is not None


def _themes_of(dimension: DimensionSpec) -> set[str]:
    words = " ".join(
        [dimension.key.replace("_", " ").replace("-", " "), dimension.name, dimension.description]
        + [k.phrase for k in dimension.keywords if k.language == "en"]
    ).lower()
    return {word[:6] for word in _WORD.findall(words) if len(word) >= 5}


def match_dimension(dimension: DimensionSpec, profile: dict[str, Any]) -> DimensionMatch:
    """The evidence for one competency in a resume profile."""
    lines = [str(line) for line in profile.get("lines", [])]
    keywords: list[dict[str, str]] = []
    for keyword in dimension.keywords:
        quote = next((line for line in lines if _phrase_in(keyword.phrase, line)), None)
        if quote is not None and all(k["term"] != keyword.phrase for k in keywords):
            keywords.append({"term": keyword.phrase, "quote": quote[: QUOTE_CHARS * 3]})
    themes = _themes_of(dimension)
    skills = [
        {
            "name": str(skill["name"]),
            "term": str(skill.get("term") or skill["name"]),
            "quote": str(skill["quote"]),
        }
        for skill in profile.get("skills", [])
        if themes & {str(theme)[:6] for theme in skill.get("themes", [])}
    ]
    return DimensionMatch(dimension.key, dimension.name, dimension.weight, keywords, skills)


def match_model(model: ModelSpec, profile: dict[str, Any]) -> dict[str, Any]:
    """The skills-match summary of a resume for a job's model version."""
    dimensions = [match_dimension(dimension, profile) for dimension in model.dimensions]
    total = sum(d.weight for d in dimensions) or 1.0
    return {
        "model": {"id": model.id, "name": model.name, "version": model.version},
        "dimensions": [d.to_dict() for d in dimensions],
        "coverage": round(sum(d.weight for d in dimensions if d.covered) / total, 3),
        "gaps": [d.key for d in dimensions if not d.covered],
        "skills": [str(skill["name"]) for skill in profile.get("skills", [])],
        "years": profile.get("years"),
        "roles": profile.get("roles", []),
        "employers": profile.get("employers", []),
    }


def _clip(text: str) -> str:
    # The quote's own full stop would clash with the sentence around it.
    text = " ".join(text.split()).rstrip(".;\u3002\uff1b")
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def _employer_on(quote: str, profile: dict[str, Any]) -> str:
    for employer in profile.get("employers", []):
        if employer and employer in quote:
            return str(employer)
    employers = [p for p in profile.get("positions", []) if p.get("employer")]
    # The most recent position, for a line that names no employer itself.
    latest = max(employers, key=lambda p: p.get("start") or 0, default=None)
    return str(latest["employer"]) if latest else ""


def _evidenced_question(match: dict[str, Any], profile: dict[str, Any], language: str) -> str:
    hit = match["keywords"][0] if match["keywords"] else match["skills"][0]
    term = hit["term"]
    quote = _clip(hit["quote"])
    employer = _employer_on(hit["quote"], profile)
    if language == "zh":
        where = f"（{employer}）" if employer else ""  # noqa: RUF001 - Chinese punctuation
        return ZH_EVIDENCED.format(term=term, where=where, quote=quote)
    where = f" at {employer}" if employer else ""
    return (
        f'Your resume mentions {term}{where}: "{quote}". Tell me about one specific time: '
        "what was the situation, what did you do yourself, and what was the measurable result?"
    )


def _gap_question(match: dict[str, Any], language: str) -> str:
    name = match["name"]
    if language == "zh":
        return ZH_GAP.format(name=name)
    return (
        f"Your resume says little about {name.lower()}. Tell me about a recent situation "
        "that needed it: what did you do, and what came of it?"
    )


def draft_questions(
    summary: dict[str, Any], profile: dict[str, Any], language: str
) -> list[dict[str, str]]:
    """Personalised questions: probe the strongest evidence and the gaps, heaviest first."""
    ranked = sorted(summary["dimensions"], key=lambda d: (-float(d["weight"]), d["key"]))
    evidenced = [d for d in ranked if d["covered"]]
    gaps = [d for d in ranked if not d["covered"]]
    chosen = evidenced[:3] + gaps[:2]
    chosen += [d for d in evidenced[3:] + gaps[2:]][: MAX_QUESTIONS - len(chosen)]
    return [
        {
            "dimension_key": d["key"],
            "text": _evidenced_question(d, profile, language)
            if d["covered"]
            else _gap_question(d, language),
        }
        for d in chosen[:MAX_QUESTIONS]
    ]
