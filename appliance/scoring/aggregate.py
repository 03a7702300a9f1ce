"""`aggregate_interview`: one scoring section over all analysed recordings of an interview.

Answers are numbered across recordings (each keeps `recording`, its position in the input);
every evidence span is renumbered with them. Dimension scores are combined from the answers'
own assessments exactly as within one recording, and coverage is judged over the whole
interview, so a competency asked in another recording is not reported as missing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.scoring.followups import FLAG_MESSAGES
from appliance.scoring.relevance import ON_TOPIC
from appliance.scoring.scorer import SCORER, evidence_order, overall_score, summaries

MAX_EVIDENCE = 8


def _renumber(span: dict[str, Any], mapping: dict[int, int], recording: int) -> dict[str, Any]:
    moved = dict(span)
    moved["answer"] = mapping.get(int(span.get("answer", 0)), 0)
    moved["recording"] = recording
    return moved


def _anchor(texts: dict[int, str], score: int) -> dict[str, Any]:
    level = 3 if score <= 4 else (6 if score <= 7 else 9)
    if level in texts:
        return {"level": level, "text": texts[level]}
    if not texts:
        return {"level": level, "text": ""}
    nearest = min(texts, key=lambda known: (abs(known - level), known))
    return {"level": nearest, "text": texts[nearest]}


_Assessed = list[tuple[dict[str, Any], list[dict[str, Any]]]]


@dataclass
class _Collected:
    """What the recordings' sections add up to, before the dimensions are combined."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    to_probe: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    anchors: dict[str, dict[int, str]] = field(default_factory=dict)
    assessed: dict[str, _Assessed] = field(default_factory=dict)


def _empty_section() -> dict[str, Any]:
    """The section of an interview without any recording scored by this scorer."""
    return {
        "scorer": SCORER,
        "model": None,
        "language": None,
        "language_mismatch": False,
        "answers": [],
        "dimensions": [],
        "overall": None,
        "strengths": [],
        "to_probe": [],
        "followups": [],
        "recordings": 0,
    }


def _add_answers(found: _Collected, section: dict[str, Any], recording: int) -> dict[int, int]:
    """Append a recording's answers, renumbered; returns its old-to-new answer numbers."""
    mapping: dict[int, int] = {}
    for answer in section.get("answers", []):
        # Filled as the answers go: an answer's spans point at the answer itself.
        mapping[int(answer["index"])] = len(found.answers)
        moved = copy.deepcopy(answer)
        moved["index"] = len(found.answers)
        moved["recording"] = recording
        for part, spans in moved.get("star", {}).items():
            moved["star"][part] = [_renumber(s, mapping, recording) for s in spans]
        # Coverage is judged again over the whole interview.
        moved["flags"] = [f for f in moved.get("flags", []) if f.get("code") != "not_covered"]
        for item in moved.get("assessments", []):
            item["evidence"] = [_renumber(s, mapping, recording) for s in item["evidence"]]
            found.assessed.setdefault(item["dimension_key"], []).append((item, item["evidence"]))
        found.answers.append(moved)
    return mapping


def _add_dimensions(found: _Collected, section: dict[str, Any]) -> None:
    """Note a recording's dimensions (first-seen order, latest name and weight) and anchors."""
    for dim in section.get("dimensions", []):
        if dim["key"] not in found.meta:
            found.order.append(dim["key"])
        found.meta[dim["key"]] = {"name": dim["name"], "weight": dim["weight"]}
        anchor = dim.get("anchor") or {}
        if anchor.get("level") in (3, 6, 9) and anchor.get("text"):
            found.anchors.setdefault(dim["key"], {})[int(anchor["level"])] = anchor["text"]


def _add_probes(
    found: _Collected, section: dict[str, Any], mapping: dict[int, int], recording: int
) -> None:
    """Append a recording's areas to probe (but `not_covered`) and follow-ups, renumbered."""
    for item in section.get("to_probe", []):
        if item.get("code") == "not_covered":
            continue
        found.to_probe.append(
            {**item, "evidence": [_renumber(s, mapping, recording) for s in item["evidence"]]}
        )
    for item in section.get("followups", []):
        found.followups.append(
            {**item, "based_on": _renumber(item["based_on"], mapping, recording)}
        )


def _collect(usable: Sequence[dict[str, Any]]) -> _Collected:
    """Answers, probes, follow-ups and dimension data of all recordings, in order."""
    found = _Collected()
    for recording, section in enumerate(usable):
        mapping = _add_answers(found, section, recording)
        _add_dimensions(found, section)
        _add_probes(found, section, mapping, recording)
    return found


def _used(items: _Assessed) -> list[dict[str, Any]]:
    """The assessments a dimension is scored from: the asked (or, unasked, on-topic) answers'
    that have evidence and a score."""
    used = [i for i, _ in items if i.get("asked")] or [
        i for i, _ in items if float(i.get("relevance", 0)) >= ON_TOPIC
    ]
    return [i for i in used if i["evidence"] and i.get("score") is not None]


def _not_covered(entry: dict[str, Any], language: str) -> dict[str, Any]:
    """Mark a dimension entry unscored; returns its `not_covered` area to probe."""
    entry.update(
        score=None,
        confidence=0.0,
        anchor={"level": None, "text": ""},
        evidence=[],
        rationale=(
            "没有回答涉及该能力。"
            if language == "zh"
            else "No answer in this interview addressed this competency."
        ),
    )
    message = FLAG_MESSAGES["not_covered"][language if language == "zh" else "en"]
    return {
        "text": f"{message} ({entry['name']})",
        "evidence": [],
        "code": "not_covered",
        "dimension": entry["key"],
    }


def _combine(
    entry: dict[str, Any], used: list[dict[str, Any]], texts: dict[int, str], language: str
) -> None:
    """Score a dimension entry from its used assessments, as within one recording."""
    score = int(sum(int(i["score"]) for i in used) / len(used) + 0.5)
    coverage = min(1.0, 0.7 + 0.15 * len(used))
    evidence = sorted(
        (span for i in used for span in i["evidence"]),
        key=evidence_order,
    )[:MAX_EVIDENCE]
    evidence.sort(key=lambda s: (s["answer"], s["start"]))
    entry.update(
        score=score,
        confidence=round(sum(float(i["confidence"]) for i in used) / len(used) * coverage, 2),
        anchor=_anchor(texts, score),
        evidence=evidence,
        rationale=(
            f"由{len(used)}个回答综合得出。"
            if language == "zh"
            else f"Combined from {len(used)} answer(s) across the interview."
        ),
    )


def _dimensions(found: _Collected, language: str) -> list[dict[str, Any]]:
    """Every dimension combined over the interview; uncovered ones add to `found.to_probe`."""
    dimensions: list[dict[str, Any]] = []
    for key in found.order:
        used = _used(found.assessed.get(key, []))
        entry: dict[str, Any] = {"key": key, **found.meta[key]}
        if not used:
            found.to_probe.append(_not_covered(entry, language))
        else:
            _combine(entry, used, found.anchors.get(key, {}), language)
        dimensions.append(entry)
    return dimensions


def _model_versions(usable: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct (name, version) of the models the recordings were scored with, sorted."""
    versions = sorted(
        {
            (str(s["model"].get("name")), int(s["model"].get("version") or 0))
            for s in usable
            if isinstance(s.get("model"), dict)
        }
    )
    return [{"name": name, "version": version} for name, version in versions]


def aggregate_interview(sections: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The scoring section of a whole interview from its recordings' sections, in order."""
    usable = [s for s in sections if isinstance(s, dict) and s.get("scorer") == SCORER]
    if not usable:
        return _empty_section()
    language = str(usable[-1].get("language") or "en")
    found = _collect(usable)
    dimensions = _dimensions(found, language)
    strengths = summaries(dimensions, [], language)[0]
    return {
        "scorer": SCORER,
        "model": usable[-1].get("model") or usable[0].get("model"),
        "model_versions": _model_versions(usable),
        "language": language,
        "language_mismatch": any(bool(s.get("language_mismatch")) for s in usable),
        "answers": found.answers,
        "dimensions": dimensions,
        "overall": overall_score(dimensions),
        "strengths": strengths,
        "to_probe": found.to_probe,
        "followups": found.followups,
        "recordings": len(usable),
    }
