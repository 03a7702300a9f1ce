"""Plain facts for the report pages: delivery and visual observations as a few numbers with
their units (per answer and per recording), and the competency model's labels in both languages.

The pages put these into sentences in the viewer's language; the stored sections keep every
metric, and the JSON export shows them as they are.
"""

from __future__ import annotations

import math
from typing import Any

from inference.delivery import delivery_metrics
from inference.interfaces import Transcript, Word

# What most interview speech falls within, as a reader's yardstick, not a norm: English
# conversation runs at about 120-160 words a minute; Mandarin at about 150-250 characters.
TYPICAL_RATE = {"words": (120, 160), "characters": (150, 250)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def delivery_facts(metrics: Any) -> dict[str, Any] | None:
    """Pace (with its typical range), share of time paused, fillers, hesitations, long pauses."""
    found = _dict(metrics)
    if not found:
        return None
    unit = "characters" if found.get("unit") == "characters" else "words"
    fillers = _count(found.get("filler_count"))
    if fillers is None:  # an older section counts them by filler only
        fillers = sum(_count(v) or 0 for v in _dict(found.get("fillers")).values())
    long_pauses = _count(found.get("long_pause_count"))
    if long_pauses is None and isinstance(found.get("long_pauses"), list):
        long_pauses = len(found["long_pauses"])
    return {
        "unit": unit,
        "rate_per_min": _number(found.get("speaking_rate_per_min")),
        "typical_rate": list(TYPICAL_RATE[unit]),
        "pause_share": _number(found.get("pause_ratio")),
        "fillers": fillers,
        "hesitations": _count(found.get("hesitation_count")),
        "long_pauses": long_pauses,
    }


def timed_words(sections: dict[str, Any]) -> tuple[list[Word], str] | None:
    """The transcript's words and language, where the delivery step measured them (policy
    allowed it); None otherwise."""
    stored = sections.get("transcript")
    if not _dict(sections.get("delivery")) or not isinstance(stored, dict):
        return None
    try:
        transcript = Transcript.from_dict(stored)
    except (KeyError, TypeError, ValueError):  # an older or damaged shape: nothing to measure
        return None
    return transcript.words(), transcript.language


def answer_delivery(
    sections: dict[str, Any],
    spoken: tuple[list[Word], str] | None,
    start: float | None,
    end: float | None,
) -> dict[str, Any] | None:
    """The delivery of one answer: the step's measures over the words said within it (a word
    belongs where its middle lies), with the step's own pause settings."""
    if spoken is None or start is None or end is None:
        return None
    words, language = spoken
    inside = [w for w in words if start <= (w.start + w.end) / 2 < end]
    if not inside:
        return None
    settings = _dict(_dict(sections.get("delivery")).get("settings"))
    shortest = _number(settings.get("min_pause_s")) or 0.25
    longest = max(_number(settings.get("long_pause_s")) or 2.0, shortest)
    return delivery_facts(
        delivery_metrics(inside, language, min_pause_s=shortest, long_pause_s=longest)
    )


def visual_facts(summary: Any) -> dict[str, Any] | None:
    """Shares of the sampled frames (face in view, looking at the camera, smiling, eyes closed),
    the longest look away and how often someone else was in frame; None where nothing was seen."""
    found = _dict(summary)
    face = _number(found.get("face_visible_share"))
    if face is None:
        return None
    events = found.get("multiple_people_events")
    return {
        "face": face,
        "camera": _number(found.get("looking_at_camera_share")),
        "smile": _number(found.get("smile_share")),
        "eyes_closed": _number(found.get("eyes_closed_share")),
        "longest_look_away_s": _number(found.get("longest_look_away_s")),
        "others_in_frame": len(events) if isinstance(events, list) else 0,
    }


def answer_visual(section: Any, index: Any) -> dict[str, Any] | None:
    """The visual observations of one answer (the step keys them by the answer's index)."""
    if isinstance(index, bool) or not isinstance(index, int):
        return None
    return visual_facts(_dict(_dict(section).get("answers")).get(str(index)))


def dimension_labels(spec: Any) -> dict[str, dict[str, Any]]:
    """Key -> the competency's names and anchor texts in English and Chinese, from a saved
    model version (`ModelSpec`; an empty mapping without one)."""
    found: dict[str, dict[str, Any]] = {}
    for dim in getattr(spec, "dimensions", ()):
        found[dim.key] = {
            "names": {"en": dim.label("en"), "zh": dim.label("zh")},
            "anchors": {
                str(anchor.level): {
                    "en": dim.anchor(anchor.level, "en"),
                    "zh": dim.anchor(anchor.level, "zh"),
                }
                for anchor in dim.anchors
            },
        }
    return found


__all__ = [
    "TYPICAL_RATE",
    "answer_delivery",
    "answer_visual",
    "delivery_facts",
    "dimension_labels",
    "timed_words",
    "visual_facts",
]
