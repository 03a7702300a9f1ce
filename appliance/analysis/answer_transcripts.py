"""The words of each answer: a report's transcript (and its machine translation) cut at the
answers' boundaries into timed lines, and how a recording can be played back.

A line is one segment of the speech engine (a sentence or a pause-bounded run). A segment that
straddles an answer's boundary is split by its timed words: each word belongs to the answer in
which its middle lies, so no word is shown twice and none is lost at a person's correction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from appliance.store.recordings import Recording

# Languages written without spaces between words (as the speech engines return them).
UNSPACED = frozenset({"zh", "ja"})


def base_language(language: Any) -> str | None:
    """`zh-CN` -> `zh`; nothing usable -> None."""
    if not isinstance(language, str) or not language.strip():
        return None
    found = language.replace("_", "-").split("-")[0].strip().lower()
    return found if found and found != "und" else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _inside(moment: float, start: float, end: float) -> bool:
    return start <= moment < end


def _line(start: float, end: float, text: str) -> dict[str, Any]:
    return {"start": round(start, 3), "end": round(max(end, start), 3), "text": text}


def _words(segment: dict[str, Any]) -> list[tuple[float, float, str]]:
    found = []
    for word in segment.get("words") or ():
        if not isinstance(word, dict):
            continue
        start, end = _seconds(word.get("start")), _seconds(word.get("end"))
        text = str(word.get("text") or "").strip()
        if start is not None and end is not None and text:
            found.append((start, end, text))
    return found


def _segment_lines(
    segment: dict[str, Any], start: float, end: float, joiner: str
) -> Iterable[dict[str, Any]]:
    """The part of one segment inside [start, end), as at most one line."""
    seg_start, seg_end = _seconds(segment.get("start")), _seconds(segment.get("end"))
    text = str(segment.get("text") or "").strip()
    if seg_start is None or seg_end is None:
        return
    words = _words(segment)
    if not words:
        if text and _inside((seg_start + seg_end) / 2, start, end):
            yield _line(seg_start, seg_end, text)
        return
    kept = [w for w in words if _inside((w[0] + w[1]) / 2, start, end)]
    if not kept:
        return
    if len(kept) == len(words) and text:
        yield _line(seg_start, seg_end, text)  # the engine's own text keeps its punctuation
    else:
        yield _line(kept[0][0], kept[-1][1], joiner.join(w[2] for w in kept))


def transcript_lines(
    transcript: Any, start: float | None = None, end: float | None = None
) -> list[dict[str, Any]]:
    """The lines of a stored transcript (its `to_dict` form) between `start` and `end`
    (seconds; None: from the beginning, to the end), in time order."""
    if not isinstance(transcript, dict):
        return []
    joiner = "" if base_language(transcript.get("language")) in UNSPACED else " "
    low = start if start is not None else -math.inf
    high = end if end is not None else math.inf
    lines = [
        line
        for segment in transcript.get("segments") or ()
        if isinstance(segment, dict)
        for line in _segment_lines(segment, low, high, joiner)
    ]
    return sorted(lines, key=lambda line: (line["start"], line["end"]))


def answer_words(
    sections: dict[str, Any], start: float | None, end: float | None, language: Any = None
) -> dict[str, Any]:
    """An answer's own transcript lines, the language it was spoken in (`language`, the
    scorer's, when the transcript names none), and the machine translation's lines where the
    analysis made one (None otherwise)."""
    transcript = sections.get("transcript")
    # What the engine heard comes first: the scorer's language is the one it scored in.
    spoken = base_language(
        transcript.get("language") if isinstance(transcript, dict) else None
    ) or base_language(language)
    translated = sections.get("translation")
    translation = None
    if isinstance(translated, dict):
        lines = transcript_lines(translated, start, end)
        if lines:
            translation = {
                "language": base_language(translated.get("language")) or "en",
                "source_language": base_language(translated.get("source_language")) or spoken,
                "lines": lines,
            }
    return {
        "language": spoken,
        "transcript": transcript_lines(transcript, start, end),
        "translation": translation,
    }


def player_kind(recording: Recording, media: Any = None) -> str:
    """`audio` or `video`: which element plays the recording (the probe's finding first)."""
    info = media if isinstance(media, dict) else recording.media_info or {}
    has_video = info.get("has_video")
    if isinstance(has_video, bool):
        return "video" if has_video else "audio"
    streams = info.get("streams")
    if isinstance(streams, list) and streams:
        kinds = {s.get("kind") for s in streams if isinstance(s, dict)}
        if kinds and "video" not in kinds:
            return "audio"
        if "video" in kinds:
            return "video"
    return "audio" if (recording.content_type or "").lower().startswith("audio/") else "video"


__all__ = ["answer_words", "base_language", "player_kind", "transcript_lines"]
