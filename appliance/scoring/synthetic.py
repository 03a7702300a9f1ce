"""Answer text as a transcript, as if spoken at an even pace: for checking the scorer on
written answers (`scoring evaluate`) and in the scoring tests, without any recording."""

# Chinese punctuation is matched on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re

from appliance.scoring.text import zh_tokens
from inference.interfaces import Segment, Transcript, Word

# Seconds per word (per two Chinese characters), the gap between words and the extra pause
# after a sentence: a calm speaker's pace, so the scorer's pause rules see ordinary speech.
WORD_S = 0.32
GAP_S = 0.06
SENTENCE_PAUSE_S = 0.45
_PUNCT = re.compile(r"^[，。！？；：、,.!?;:“”\"'（）()]+$")


def answer_tokens(text: str, language: str) -> list[str]:
    """Words as a recogniser would emit them: punctuation stays on the word before it."""
    raw = zh_tokens(text) if language == "zh" else text.split()
    out: list[str] = []
    for token in raw:
        if out and _PUNCT.match(token):
            out[-1] += token
        else:
            out.append(token)
    return out


def transcript_from_text(
    text: str, language: str, *, offset: float = 0.0, tail: float = 0.5
) -> Transcript:
    """A transcript of `text` with evenly paced word times (a longer pause after sentences)."""
    words: list[Word] = []
    t = offset
    for token in answer_tokens(text, language):
        length = WORD_S * (max(1, len(token)) / 2 if language == "zh" else 1.0)
        words.append(Word(token, round(t, 3), round(t + length, 3), 0.9))
        t += length + GAP_S
        if token[-1] in ".!?。！？":
            t += SENTENCE_PAUSE_S
    joiner = "" if language == "zh" else " "
    segment = Segment(
        joiner.join(w.text for w in words), words[0].start, words[-1].end, tuple(words)
    )
    return Transcript(language, [segment], "synthetic", "eval", round(t + tail, 3))
