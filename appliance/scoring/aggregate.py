"""`aggregate_interview`: one scoring section over all analysed recordings of an interview.

Answers are numbered across recordings (each keeps `recording`, its position in the input);
every evidence span is renumbered with them. Dimension scores are combined from the answers'
own assessments exactly as within one recording, and coverage is judged over the whole
interview, so a competency asked in another recording is not reported as missing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
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


def aggregate_interview(sections: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The scoring section of a whole interview from its recordings' sections, in order."""
    usable = [s for s in sections if isinstance(s, dict) and s.get("scorer") == SCORER]
    if not usable:
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
    language = str(usable[-1].get("language") or "en")
    answers: list[dict[str, Any]] = []
    to_probe: list[dict[str, Any]] = []
    followups: list[dict[str, Any]] = []
    order: list[str] = []
    meta: dict[str, dict[str, Any]] = {}
    anchors: dict[str, dict[int, str]] = {}
    assessed: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
    for recording, section in enumerate(usable):
        mapping: dict[int, int] = {}
        for answer in section.get("answers", []):
            mapping[int(answer["index"])] = len(answers)
            moved = copy.deepcopy(answer)
            moved["index"] = len(answers)
            moved["recording"] = recording
            for part, spans in moved.get("star", {}).items():
                moved["star"][part] = [_renumber(s, mapping, recording) for s in spans]
            moved["flags"] = [f for f in moved.get("flags", []) if f.get("code") != "not_covered"]
            for item in moved.get("assessments", []):
                item["evidence"] = [_renumber(s, mapping, recording) for s in item["evidence"]]
                assessed.setdefault(item["dimension_key"], []).append((item, item["evidence"]))
            answers.append(moved)
        for dim in section.get("dimensions", []):
            if dim["key"] not in meta:
                order.append(dim["key"])
            meta[dim["key"]] = {"name": dim["name"], "weight": dim["weight"]}
            anchor = dim.get("anchor") or {}
            if anchor.get("level") in (3, 6, 9) and anchor.get("text"):
                anchors.setdefault(dim["key"], {})[int(anchor["level"])] = anchor["text"]
        for item in section.get("to_probe", []):
            if item.get("code") == "not_covered":
                continue
            to_probe.append(
                {**item, "evidence": [_renumber(s, mapping, recording) for s in item["evidence"]]}
            )
        for item in section.get("followups", []):
            followups.append({**item, "based_on": _renumber(item["based_on"], mapping, recording)})
    dimensions: list[dict[str, Any]] = []
    for key in order:
        items = assessed.get(key, [])
        used = [i for i, _ in items if i.get("asked")] or [
            i for i, _ in items if float(i.get("relevance", 0)) >= ON_TOPIC
        ]
        used = [i for i in used if i["evidence"] and i.get("score") is not None]
        entry: dict[str, Any] = {"key": key, **meta[key]}
        if not used:
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
            to_probe.append(
                {
                    "text": f"{message} ({meta[key]['name']})",
                    "evidence": [],
                    "code": "not_covered",
                    "dimension": key,
                }
            )
        else:
            score = int(sum(int(i["score"]) for i in used) / len(used) + 0.5)
            coverage = min(1.0, 0.7 + 0.15 * len(used))
            evidence = sorted(
                (span for i in used for span in i["evidence"]),
                key=evidence_order,
            )[:MAX_EVIDENCE]
            evidence.sort(key=lambda s: (s["answer"], s["start"]))
            entry.update(
                score=score,
                confidence=round(
                    sum(float(i["confidence"]) for i in used) / len(used) * coverage, 2
                ),
                anchor=_anchor(anchors.get(key, {}), score),
                evidence=evidence,
                rationale=(
                    f"由{len(used)}个回答综合得出。"
                    if language == "zh"
                    else f"Combined from {len(used)} answer(s) across the interview."
                ),
            )
        dimensions.append(entry)
    strengths = summaries(dimensions, [], language)[0]
    first_model = usable[0].get("model")
    versions = sorted(
        {
            (str(s["model"].get("name")), int(s["model"].get("version") or 0))
            for s in usable
            if isinstance(s.get("model"), dict)
        }
    )
    return {
        "scorer": SCORER,
        "model": usable[-1].get("model") or first_model,
        "model_versions": [{"name": name, "version": version} for name, version in versions],
        "language": language,
        "language_mismatch": any(bool(s.get("language_mismatch")) for s in usable),
        "answers": answers,
        "dimensions": dimensions,
        "overall": overall_score(dimensions),
        "strengths": strengths,
        "to_probe": to_probe,
        "followups": followups,
        "recordings": len(usable),
    }
