"""Delivery metrics from timed words: pace, pauses, fillers, hesitations and talk-time share.

Definitions (kept simple and documented, since HR reads them):
* units are words, or characters for Mandarin (a Mandarin "word" from the engine may span
  several characters, and characters per minute is the usual measure there);
* the speech span runs from the first word's start to the last word's end;
* a pause is a silence of at least `min_pause_s` between two consecutive words, a long pause
  one of at least `long_pause_s`;
* speaking rate = units per minute of the speech span; articulation rate = units per minute of
  the span without its pauses; pause ratio = pause time / span;
* fillers come from fixed English and Mandarin lists (note: Whisper tends to leave "um"/"uh"
  out of its transcripts, so on Whisper output the filler count is a lower bound);
* hesitations are repetitions ("I I think", "we did we did") and false starts (a cut-off word
  the engine writes with a trailing hyphen, e.g. "prob- probably");
* talk-time share is given when words carry two or more speaker labels.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from inference.interfaces import Transcript, Word

ENGLISH_FILLERS = frozenset({"um", "umm", "uh", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm"})
ENGLISH_FILLER_PHRASES = (("you", "know"), ("i", "mean"))
MANDARIN_FILLERS = ("嗯", "呃", "额", "唔", "就是说")
# Mandarin reduplication (看看, 谢谢) is grammar, not hesitation; only these repeat by stumbling.
_MANDARIN_STUMBLE_CHARS = frozenset("我你他她它这那就")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class _Token:
    """A word as the metrics see it: normalised text and time."""

    key: str
    raw: str
    start: float
    end: float
    speaker: str | None


def _is_mandarin(language: str) -> bool:
    return language.lower().split("-")[0] in {"zh", "cmn"}


def _key(text: str) -> str:
    """Lower-case text without surrounding punctuation (inner hyphens and apostrophes kept)."""
    stripped = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return stripped.lower().strip()


def _tokens(words: Sequence[Word]) -> list[_Token]:
    """Words with punctuation-only tokens dropped and hyphen continuations merged."""
    tokens: list[_Token] = []
    for w in words:
        raw = w.text.strip()
        if not raw:
            continue
        if raw.startswith("-") and tokens and not tokens[-1].raw.endswith("-"):
            # Whisper splits "ill-disposed" into "ill" + "-disposed": one word.
            tokens[-1] = replace(
                tokens[-1], raw=tokens[-1].raw + raw, key=_key(tokens[-1].raw + raw), end=w.end
            )
            continue
        key = _key(raw)
        if not key and not raw.endswith("-"):
            continue
        tokens.append(_Token(key, raw, w.start, w.end, w.speaker))
    return tokens


def _units(tokens: Sequence[_Token], mandarin: bool) -> int:
    if mandarin:
        return sum(len(_CJK.findall(t.key)) or 1 for t in tokens)
    return len(tokens)


def _fillers(tokens: Sequence[_Token], mandarin: bool) -> Counter[str]:
    found: Counter[str] = Counter()
    if mandarin:
        text = "".join(t.key for t in tokens)
        for filler in MANDARIN_FILLERS:
            found[filler] += text.count(filler)
        return +found
    keys = [t.key for t in tokens]
    for key in keys:
        if key in ENGLISH_FILLERS:
            found[key] += 1
    for first, second in ENGLISH_FILLER_PHRASES:
        found[f"{first} {second}"] += sum(1 for a, b in pairwise(keys) if (a, b) == (first, second))
    return +found


def _hesitations(tokens: Sequence[_Token], mandarin: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.raw.endswith(("-", "—")) and index + 1 < len(tokens):
            found.append(_event("false_start", tokens[index : index + 2]))
            index += 1
            continue
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            nxt is not None
            and token.key
            and token.key == nxt.key
            and token.key not in ENGLISH_FILLERS
            and (not mandarin or len(token.key) > 1 or token.key in _MANDARIN_STUMBLE_CHARS)
        ):
            found.append(_event("repetition", tokens[index : index + 2]))
            index += 2
            continue
        if index + 3 < len(tokens) and not mandarin:
            first = (token.key, tokens[index + 1].key)
            again = (tokens[index + 2].key, tokens[index + 3].key)
            if first == again and all(first):
                found.append(_event("repetition", tokens[index : index + 4]))
                index += 4
                continue
        index += 1
    return found


def _event(kind: str, tokens: Sequence[_Token]) -> dict[str, Any]:
    return {
        "kind": kind,
        "text": " ".join(t.raw for t in tokens),
        "start": tokens[0].start,
        "end": tokens[-1].end,
    }


def _talk_time(tokens: Sequence[_Token]) -> dict[str, Any] | None:
    speakers = {t.speaker for t in tokens if t.speaker}
    if len(speakers) < 2:
        return None
    spoken: dict[str, float] = {}
    turns: Counter[str] = Counter()
    previous: str | None = None
    for t in tokens:
        if not t.speaker:
            continue
        spoken[t.speaker] = spoken.get(t.speaker, 0.0) + max(0.0, t.end - t.start)
        if t.speaker != previous:
            turns[t.speaker] += 1
            previous = t.speaker
    total = sum(spoken.values()) or 1.0
    return {
        "share": {s: round(spoken[s] / total, 4) for s in sorted(speakers)},
        "seconds": {s: round(spoken[s], 2) for s in sorted(speakers)},
        "turns": {s: turns[s] for s in sorted(speakers)},
    }


def delivery_metrics(
    words: Sequence[Word],
    language: str,
    *,
    min_pause_s: float = 0.25,
    long_pause_s: float = 2.0,
) -> dict[str, Any]:
    """Pace, pauses, fillers, hesitations and talk-time share of timed words (JSON-ready)."""
    if not 0 < min_pause_s <= long_pause_s:
        raise ValueError("need 0 < min_pause_s <= long_pause_s")
    mandarin = _is_mandarin(language)
    tokens = _tokens(sorted(words, key=lambda w: (w.start, w.end)))
    units = _units(tokens, mandarin)
    span = tokens[-1].end - tokens[0].start if tokens else 0.0
    pauses = [(a.end, b.start) for a, b in pairwise(tokens) if b.start - a.end >= min_pause_s]
    pause_total = sum(end - start for start, end in pauses)
    speaking = max(span - pause_total, 0.0)
    fillers = _fillers(tokens, mandarin)
    hesitations = _hesitations(tokens, mandarin)
    minutes = span / 60 if span > 0 else 0.0
    long = [(s, e) for s, e in pauses if e - s >= long_pause_s]
    return {
        "language": language,
        "unit": "characters" if mandarin else "words",
        "units": units,
        "speech_span_s": round(span, 3),
        "speaking_rate_per_min": round(units / minutes, 1) if minutes else None,
        "articulation_rate_per_min": round(units / (speaking / 60), 1) if speaking > 0 else None,
        "pause_count": len(pauses),
        "pause_total_s": round(pause_total, 3),
        "pause_ratio": round(pause_total / span, 4) if span > 0 else None,
        "mean_pause_s": round(pause_total / len(pauses), 3) if pauses else None,
        "long_pause_count": len(long),
        "long_pauses": [
            {"start": round(s, 3), "end": round(e, 3), "duration_s": round(e - s, 3)}
            for s, e in long
        ],
        "filler_count": sum(fillers.values()),
        "fillers": dict(sorted(fillers.items())),
        "fillers_per_min": round(sum(fillers.values()) / minutes, 2) if minutes else None,
        "hesitation_count": len(hesitations),
        "hesitations": hesitations,
        "talk_time": _talk_time(tokens),
        "settings": {"min_pause_s": min_pause_s, "long_pause_s": long_pause_s},
    }


def transcript_delivery(transcript: Transcript, **settings: float) -> dict[str, Any]:
    """Delivery metrics of a whole transcript (segment speakers passed on to their words)."""
    words = [
        w if w.speaker or not seg.speaker else replace(w, speaker=seg.speaker)
        for seg in transcript.segments
        for w in seg.words
    ]
    return delivery_metrics(words, transcript.language, **settings)
