"""`score_recording`: STAR analysis, relevance and scores per competency, with evidence.

Every score is backed by quoted spans of the transcript (exact words, times from the words);
an answer in another language than the job's is flagged and left unscored. The same input and
model version always give the same section (no randomness, embeddings rounded).
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from appliance.scoring.cues import STAR_PARTS
from appliance.scoring.followups import answer_flags, flag, probe, topic_phrase
from appliance.scoring.grading import grade
from appliance.scoring.relevance import ON_TOPIC, Embedder, Relevance, relevance
from appliance.scoring.star import AnswerAnalysis, analyse_words
from appliance.scoring.text import Unit, detect_language, join_words
from appliance.store.competency import DimensionSpec, ModelSpec
from inference.interfaces import TextEncoder, Transcript, Word

SCORER = "star-v2"
# The highest score an answer about another competency can get.
OFF_TOPIC_CAP = 2.0
MAX_EVIDENCE = 8
# Confidence kept for an answer given in another language than the job's.
FOREIGN_CONFIDENCE = 0.6
LANGUAGE_NAMES = {
    "en": {"en": "English", "zh": "Chinese"},
    "zh": {"en": "英语", "zh": "中文"},
}
# Cues in the order they are worth showing as evidence.
CUE_ORDER = (
    "result_quantified",
    "result",
    "action_own",
    "task",
    "action_team",
    "situation",
    "keyword",
    "relevant",
    "vague",
    "off_topic",
)


def evidence_order(span: dict[str, Any]) -> tuple[int, int, float]:
    """Sort key of evidence spans: the strongest cue first, then by answer and time."""
    return (CUE_ORDER.index(span["cue"]), span["answer"], span["start"])


class SpanLike(Protocol):
    """What the scorer needs of `appliance.analysis.segmentation.AnswerSpan`."""

    @property
    def index(self) -> int:
        """Position of the answer in its recording."""

    @property
    def question_id(self) -> int | None:
        """The planned question's id, if known."""

    @property
    def question_text(self) -> str:
        """The question as asked."""

    @property
    def dimension_key(self) -> str | None:
        """The competency the question was asked for, if known."""

    @property
    def start(self) -> float:
        """Start of the answer in the recording, in seconds."""

    @property
    def end(self) -> float:
        """End of the answer in the recording, in seconds."""


@dataclass(frozen=True)
class Assessment:
    """One answer judged against one dimension."""

    answer: int
    dimension: str
    score: int
    confidence: float
    relevance: float
    evidence: tuple[dict[str, Any], ...]
    asked: bool
    on_topic: bool = True


def span_of(unit: Unit, answer: int, cue: str) -> dict[str, Any]:
    """An evidence span: the unit's exact words with their start and end."""
    return {
        "quote": join_words(unit.words, unit.language),
        "start": round(unit.start, 3),
        "end": round(unit.end, 3),
        "answer": answer,
        "cue": cue,
    }


def _evidence(
    analysis: AnswerAnalysis, rel: Relevance, answer: int, on_topic: bool
) -> list[dict[str, Any]]:
    by_unit = {u.index: u for u in analysis.units}
    picked: dict[int, str] = {}
    if on_topic:
        for unit, cues in zip(analysis.units, analysis.cues, strict=True):
            labels = [label for part in STAR_PARTS for label in cues.parts.get(part, [])]
            if labels:
                picked[unit.index] = min(labels, key=CUE_ORDER.index)
        for index, _phrase in rel.keyword_hits:
            picked.setdefault(index, "keyword")
        if rel.best_unit is not None:
            picked.setdefault(rel.best_unit, "relevant")
        vague = [u.index for u, c in zip(analysis.units, analysis.cues, strict=True) if c.vague]
        for index in vague[:2]:
            picked.setdefault(index, "vague")
    else:
        best = rel.best_unit if rel.best_unit is not None else analysis.units[0].index
        picked[best] = "off_topic"
    ranked = sorted(picked.items(), key=lambda item: (CUE_ORDER.index(item[1]), item[0]))
    chosen = sorted(ranked[:MAX_EVIDENCE], key=lambda item: item[0])
    return [span_of(by_unit[index], answer, cue) for index, cue in chosen]


def score_value(analysis: AnswerAnalysis, rel: Relevance) -> int:
    """The 1..10 score: the graded STAR findings, capped low when off the competency."""
    raw = grade(analysis)
    if not rel.on_topic:
        raw = min(raw, OFF_TOPIC_CAP)
    return int(min(10, max(1, int(raw + 0.5))))


def confidence_value(analysis: AnswerAnalysis, rel: Relevance, score: int, evidence: int) -> float:
    """0..1: how much evidence there is, how sure the recogniser was, and whether the anchors
    (by embedding) agree with the lexical score."""
    known = [u.confidence for u in analysis.units if u.confidence is not None]
    asr = sum(known) / len(known) if known else 0.8
    agreement = 0.5 if rel.anchor_level is None else 1.0 - abs(rel.anchor_level - score) / 9.0
    clarity = abs(rel.value - ON_TOPIC) * 2.0
    value = 0.35 * min(1.0, evidence / 4.0) + 0.2 * asr + 0.2 * clarity + 0.25 * agreement
    return round(min(1.0, max(0.0, value)), 2)


def assess(
    analysis: AnswerAnalysis,
    dim: DimensionSpec,
    answer: int,
    embedder: Embedder,
    *,
    asked: bool,
    siblings: Sequence[DimensionSpec] = (),
) -> Assessment:
    """Judge one answer against one dimension (and, given them, its sibling dimensions)."""
    rel = relevance(analysis.units, dim, analysis.language, embedder, siblings)
    evidence = _evidence(analysis, rel, answer, rel.on_topic)
    score = score_value(analysis, rel)
    conf = confidence_value(analysis, rel, score, len(evidence))
    return Assessment(answer, dim.key, score, conf, rel.value, tuple(evidence), asked, rel.on_topic)


def anchor_for(dim: DimensionSpec, score: int, language: str) -> dict[str, Any]:
    """The level anchor (3, 6 or 9) nearest a score, in the report's language."""
    level = 3 if score <= 4 else (6 if score <= 7 else 9)
    return {"level": level, "text": dim.anchor(level, language)}


def _words_in(transcript: Transcript, start: float, end: float) -> list[Word]:
    return [
        w
        for w in transcript.words()
        if w.text.strip() and w.start >= start - 0.05 and w.end <= end + 0.05
    ]


def _rationale(
    dim_assessments: Sequence[Assessment], answers: list[dict[str, Any]], language: str
) -> str:
    notes: list[str] = []
    for item in dim_assessments:
        entry = answers[item.answer]
        if entry["language"] != language:
            names = LANGUAGE_NAMES.get(language, LANGUAGE_NAMES["en"])
            given = names.get(entry["language"], entry["language"])
            wanted = names.get(language, language)
            notes.append(
                f"回答{item.answer + 1}是用{given}而不是{wanted}作答的：按原语言评分，置信度降低。"
                if language == "zh"
                else f"Answer {item.answer + 1} was given in {given}, not {wanted}: scored in "
                "the language it was given in, with lower confidence."
            )
        present = [part for part in STAR_PARTS if entry["star"][part]]
        if language == "zh":
            names = {"situation": "情境", "task": "任务", "action": "行动", "result": "结果"}
            parts = "、".join(names[p] for p in present) or "无"
            notes.append(
                f"回答{item.answer + 1}：STAR要素 {parts}；"
                f"{'结果有量化' if entry['quantified_result'] else '结果未量化'}；"
                f"个人主导 {entry['ownership']:.0%}；具体性 {entry['specificity']:.0%}；"
                f"相关度 {item.relevance:.0%}。"
            )
        else:
            parts = ", ".join(present) or "none"
            notes.append(
                f"Answer {item.answer + 1}: STAR parts {parts}; result "
                f"{'quantified' if entry['quantified_result'] else 'not quantified'}; "
                f"ownership {entry['ownership']:.0%}; specificity {entry['specificity']:.0%}; "
                f"relevance {item.relevance:.0%}."
            )
    return " ".join(notes)


def dimension_entries(
    model: ModelSpec,
    assessments: Sequence[Assessment],
    answers: list[dict[str, Any]],
    language: str,
) -> list[dict[str, Any]]:
    """Per-dimension results: the asked (or, unasked, on-topic) answers' scores combined."""
    entries = []
    for dim in model.dimensions:
        mine = [a for a in assessments if a.dimension == dim.key]
        used = [a for a in mine if a.asked] or [a for a in mine if a.on_topic]
        used = [a for a in used if a.evidence]
        if not used:
            entries.append(
                {
                    "key": dim.key,
                    "name": dim.label(language),
                    "weight": dim.weight,
                    "score": None,
                    "confidence": 0.0,
                    "anchor": {"level": None, "text": ""},
                    "evidence": [],
                    "rationale": (
                        "没有回答涉及该能力。"
                        if language == "zh"
                        else "No answer addressed this competency."
                    ),
                }
            )
            continue
        score = int(sum(a.score for a in used) / len(used) + 0.5)
        coverage = min(1.0, 0.7 + 0.15 * len(used))
        confidence = round(sum(a.confidence for a in used) / len(used) * coverage, 2)
        evidence = sorted(
            (span for a in used for span in a.evidence),
            key=evidence_order,
        )[:MAX_EVIDENCE]
        evidence.sort(key=lambda s: (s["answer"], s["start"]))
        entries.append(
            {
                "key": dim.key,
                "name": dim.label(language),
                "weight": dim.weight,
                "score": score,
                "confidence": confidence,
                "anchor": anchor_for(dim, score, language),
                "evidence": evidence,
                "rationale": _rationale(used, answers, language),
            }
        )
    return entries


def overall_score(dimensions: Sequence[dict[str, Any]]) -> float | None:
    """Weighted mean of the assessed dimensions (weights renormalised), or None."""
    scored = [d for d in dimensions if d["score"] is not None]
    total = sum(float(d["weight"]) for d in scored)
    if not scored or total <= 0:
        return None
    weighted = sum(float(d["weight"]) * float(d["score"]) for d in scored)
    return round(weighted / total, 1)


def summaries(
    dimensions: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]], language: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Strengths, areas to probe and follow-up questions, written from the evidence."""
    strengths: list[dict[str, Any]] = []
    to_probe: list[dict[str, Any]] = []
    followups: list[dict[str, Any]] = []
    for dim in dimensions:
        if dim["score"] is None or dim["score"] < 7:
            continue
        best = [
            s for s in dim["evidence"] if s["cue"] in {"result_quantified", "result", "action_own"}
        ][:2]
        if not best:
            continue
        quote = best[0]["quote"]
        text = f"{dim['name']}：{quote}" if language == "zh" else f"{dim['name']}: “{quote}”"
        strengths.append({"text": text, "evidence": best})
    for answer in answers:
        spans = answer.get("_units", [])
        for item in answer["flags"]:
            if item["code"] in {"language_mismatch", "empty"}:
                continue
            based_on = spans[0] if spans else None
            for candidate in spans:
                if item["code"] == "no_result" and candidate["cue"] in {
                    "action_own",
                    "action_team",
                }:
                    based_on = candidate
                if item["code"] == "vague_role" and candidate["cue"] == "action_team":
                    based_on = candidate
            evidence = [based_on] if based_on else []
            to_probe.append(
                {
                    "text": item["message"],
                    "evidence": evidence,
                    "code": item["code"],
                    "dimension": item.get("dimension") or answer["dimension_key"],
                }
            )
            if based_on is not None:
                followups.append(
                    {
                        "dimension": answer["dimension_key"] or item.get("dimension", ""),
                        "question": item["probe"],
                        "based_on": based_on,
                    }
                )
    return strengths, to_probe, followups


def _answer_entry(span: SpanLike, language: str) -> dict[str, Any]:
    return {
        "index": span.index,
        "question_id": span.question_id,
        "question_text": span.question_text,
        "dimension_key": span.dimension_key,
        "start": round(span.start, 3),
        "end": round(span.end, 3),
        "language": language,
        "star": {part: [] for part in STAR_PARTS},
        "quantified_result": False,
        "ownership": 0.5,
        "ownership_class": "none",
        "specificity": 0.5,
        "flags": [],
        "assessments": [],
    }


@dataclass
class _Scored:
    """The answers of one recording, their analyses and their assessments, in order."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    analyses: dict[int, AnswerAnalysis] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)
    mismatch: bool = False


def _mismatch_flag(language: str) -> dict[str, Any]:
    """The flag of an answer in another language, asking for one in the job's `language`."""
    wanted = {"en": "English", "zh": "中文"}.get(language, language)
    return flag(
        "language_mismatch",
        language,
        f"请用{wanted}回答这个问题。"
        if language == "zh"
        else f"Could you please answer this question in {wanted}?",
    )


def _describe(
    entry: dict[str, Any], analysis: AnswerAnalysis, position: int, language: str
) -> None:
    """Fill an answer's STAR spans, measures, flags and `_units` (spans for follow-ups)."""
    for part in STAR_PARTS:
        entry["star"][part] = [
            span_of(u, position, label)
            for u, c in zip(analysis.units, analysis.cues, strict=True)
            for label in c.parts.get(part, [])[:1]
        ]
    entry["quantified_result"] = analysis.quantified_result
    entry["ownership"] = round(analysis.ownership, 3)
    entry["ownership_class"] = analysis.ownership_class
    entry["specificity"] = round(analysis.specificity, 3)
    entry["flags"].extend(answer_flags(analysis, language))
    entry["_units"] = sorted(
        (s for part in STAR_PARTS for s in entry["star"][part]),
        key=lambda s: s["start"],
    ) or [span_of(analysis.units[0], position, "relevant")]


def _assess_answer(
    entry: dict[str, Any],
    analysis: AnswerAnalysis,
    model: ModelSpec,
    span: SpanLike,
    embedder: Embedder,
    language: str,
) -> list[Assessment]:
    """Judge an answer against its asked dimension (or, not known, every dimension); an asked
    dimension it misses flags the answer off-topic."""
    position = entry["index"]
    asked = bool(span.dimension_key and model.dimension(span.dimension_key))
    targets = (
        [d for d in model.dimensions if d.key == span.dimension_key]
        if asked
        else list(model.dimensions)
    )
    assessments: list[Assessment] = []
    for dim in targets:
        siblings = [d for d in model.dimensions if d.key != dim.key]
        item = assess(analysis, dim, position, embedder, asked=asked, siblings=siblings)
        if analysis.language != language:
            item = replace(item, confidence=round(item.confidence * FOREIGN_CONFIDENCE, 2))
        assessments.append(item)
        entry["assessments"].append(
            {
                "dimension_key": dim.key,
                "score": item.score,
                "confidence": item.confidence,
                "relevance": item.relevance,
                "asked": asked,
                "evidence": list(item.evidence),
            }
        )
        if asked and not item.on_topic:
            name = dim.label(language)
            entry["flags"].append(
                flag(
                    "off_topic",
                    language,
                    probe("off_topic", "", analysis.language, dimension=name),
                )
            )
    return assessments


def _score_answers(
    model: ModelSpec,
    transcript: Transcript,
    spans: Sequence[SpanLike],
    embedder: Embedder,
    language: str,
) -> _Scored:
    """Each span's answer entry: flagged when empty or in another language, else analysed
    and assessed."""
    scored = _Scored()
    for position, span in enumerate(spans):
        words = _words_in(transcript, span.start, span.end)
        spoken = join_words(words, "zh" if transcript.language == "zh" else "en")
        answer_language = detect_language(spoken) if words else language
        entry = _answer_entry(span, answer_language)
        entry["index"] = position
        scored.answers.append(entry)
        if not words:
            entry["flags"].append(flag("empty", language, ""))
            continue
        if answer_language != language:
            # Scored in the language it was given in (the cues and the encoder read both), with
            # lower confidence; the flag asks for an answer in the job's language.
            scored.mismatch = True
            entry["flags"].append(_mismatch_flag(language))
        analysis = analyse_words(words, answer_language)
        scored.analyses[position] = analysis
        _describe(entry, analysis, position, language)
        scored.assessments.extend(_assess_answer(entry, analysis, model, span, embedder, language))
    return scored


def score_recording(
    model: ModelSpec,
    transcript: Transcript,
    spans: Sequence[SpanLike],
    encoder: TextEncoder,
    language: str,
) -> dict[str, Any]:
    """The `sections["scoring"]` of one recording (see the scoring contract)."""
    scored = _score_answers(model, transcript, spans, Embedder(encoder), language)
    answers = scored.answers
    dimensions = dimension_entries(model, scored.assessments, answers, language)
    # A recording of one asked question (the interview room) says nothing about the others:
    # coverage is judged over the whole interview (`aggregate_interview`) instead.
    whole_interview = len(spans) > 1 or any(span.dimension_key is None for span in spans)
    if whole_interview:
        _flag_not_covered(model, dimensions, answers, language)
    strengths, to_probe, followups = summaries(dimensions, answers, language)
    _depth_followups(answers, scored.analyses, followups)
    for entry in answers:
        entry.pop("_units", None)
    return {
        "scorer": SCORER,
        "model": {"id": model.id, "name": model.name, "version": model.version},
        "language": language,
        "language_mismatch": scored.mismatch,
        "answers": answers,
        "dimensions": dimensions,
        "overall": overall_score(dimensions),
        "strengths": strengths,
        "to_probe": to_probe,
        "followups": followups,
    }


def _flag_not_covered(
    model: ModelSpec,
    dimensions: Sequence[dict[str, Any]],
    answers: list[dict[str, Any]],
    language: str,
) -> None:
    """Put a `not_covered` flag, with a question from the model, on the last scored answer."""
    scored = [a for a in answers if a.get("_units")]
    if not scored:
        return
    last = scored[-1]
    for dim_entry in dimensions:
        if dim_entry["score"] is not None:
            continue
        dim = model.dimension(dim_entry["key"])
        if dim is None:
            continue
        bank = dim.questions_in(language) or dim.questions_in("en") or dim.questions_in("zh")
        question = bank[0] if bank else dim.label(language)
        item = flag("not_covered", language, question)
        item["message"] = f"{item['message']} ({dim.label(language)})"
        item["dimension"] = dim.key
        last["flags"].append(item)


def _depth_followups(
    answers: Sequence[dict[str, Any]],
    analyses: dict[int, AnswerAnalysis],
    followups: list[dict[str, Any]],
) -> None:
    """For a complete, unflagged answer, ask about obstacles in the candidate's own project."""
    for answer in answers:
        star = answer["star"]
        analysis = analyses.get(answer["index"])
        if analysis is None or not (star["action"] and star["result"]) or answer["flags"]:
            continue
        followups.append(
            {
                "dimension": answer["dimension_key"] or "",
                "question": probe("depth", topic_phrase(analysis), analysis.language),
                "based_on": star["result"][0],
            }
        )


__all__ = ["SCORER", "score_recording", "topic_phrase"]
