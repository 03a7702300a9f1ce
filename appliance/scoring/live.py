"""`live_alerts`: flags with probing questions from what a candidate has said so far.

Live assist calls this every few seconds with the words recognised up to now, so it is cheap
and lexical only (no embeddings): STAR gaps, a vague role, hypothetical talk, competencies whose
dictionary words have not come up yet, and an answer in the wrong language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from appliance.scoring.followups import answer_flags, flag
from appliance.scoring.relevance import keyword_hits
from appliance.scoring.scorer import span_of
from appliance.scoring.star import analyse_words
from appliance.scoring.text import detect_language, join_words
from appliance.store.competency import ModelSpec
from inference.interfaces import Word

# Below this much speech an answer is still being set up: no content flags yet.
MIN_WORDS_EN = 30
MIN_CHARS_ZH = 60


def _long_enough(words: Sequence[Word], language: str) -> bool:
    if language == "zh":
        return sum(len(w.text.strip()) for w in words) >= MIN_CHARS_ZH
    return len(words) >= MIN_WORDS_EN


def live_alerts(model: ModelSpec, words: list[Word], language: str) -> list[dict[str, Any]]:
    """Alerts for the interviewer: `code`, `message`, `probe`, `dimension` and `based_on`."""
    spoken = [w for w in words if w.text.strip()]
    if not spoken:
        return []
    heard = detect_language(join_words(spoken, "zh" if language == "zh" else "en"))
    if heard != language:
        wanted = {"en": "English", "zh": "中文"}.get(language, language)
        item = flag(
            "language_mismatch",
            language,
            f"请用{wanted}回答这个问题。"
            if language == "zh"
            else f"Could you please answer this question in {wanted}?",
        )
        return [{**item, "dimension": None, "based_on": None}]
    if not _long_enough(spoken, language):
        return []
    analysis = analyse_words(spoken, language)
    alerts: list[dict[str, Any]] = []
    anchor_unit = analysis.units[-1]
    for item in answer_flags(analysis, language):
        based = anchor_unit
        if item["code"] == "no_result" and analysis.units_with("action"):
            based = analysis.units_with("action")[-1]
        alerts.append({**item, "dimension": None, "based_on": span_of(based, 0, "live")})
    for dim in model.dimensions:
        phrases = dim.keywords_in(language) or dim.keywords_in("en")
        if keyword_hits(analysis.units, phrases, language):
            continue
        bank = dim.questions_in(language) or dim.questions_in("en") or dim.questions_in("zh")
        item = flag("not_covered", language, bank[0] if bank else dim.label(language))
        item["message"] = f"{item['message']} ({dim.label(language)})"
        alerts.append({**item, "dimension": dim.key, "based_on": None})
    return alerts
