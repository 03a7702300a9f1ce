"""Answer text as timed units: sentences (and Chinese clauses) built from transcript words.

A unit keeps the exact words it was built from, so every quote the scorer shows is the
transcript's own text with the first word's start and the last word's end as its times.
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from inference.interfaces import Word

# A pause this long ends a unit even without punctuation (engines without punctuation).
PAUSE_BREAK_S = 1.2
# Units longer than this many words (English) or characters (Chinese) are cut at a pause.
MAX_UNIT_WORDS = 45
MAX_UNIT_CHARS = 70
# A Chinese clause shorter than this stays joined to the next one at a comma.
MIN_ZH_CLAUSE = 6

_SENTENCE_END = re.compile(r"[.!?。！？；;…]+[\"'”’)）]*$")
_ZH_CLAUSE_END = re.compile(r"[，,、：:]$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Unit:
    """A sentence or clause of one answer, with its words and place in the recording."""

    index: int
    words: tuple[Word, ...]
    language: str

    @property
    def text(self) -> str:
        """The unit's words joined as the language writes them."""
        return join_words(self.words, self.language)

    @property
    def start(self) -> float:
        """Start of the first word, in seconds."""
        return self.words[0].start

    @property
    def end(self) -> float:
        """End of the last word, in seconds."""
        return self.words[-1].end

    @property
    def confidence(self) -> float | None:
        """Mean recogniser confidence of the words, if the engine gave any."""
        known = [w.confidence for w in self.words if w.confidence is not None]
        return sum(known) / len(known) if known else None


def join_words(words: Sequence[Word], language: str) -> str:
    """Words joined as the transcript shows them: no spaces in Chinese, spaces otherwise."""
    if language == "zh":
        out = ""
        for word in words:
            piece = word.text.strip()
            # Keep a space between two Latin tokens inside Chinese text ("Kafka 集群" stays).
            if out and piece and _LATIN.match(piece[0]) and _LATIN.search(out[-1]):
                out += " "
            out += piece
        return out
    return " ".join(w.text.strip() for w in words if w.text.strip())


def detect_language(text: str) -> str:
    """`zh` when most letters are Chinese characters, else `en` (the two scored languages)."""
    cjk = len(_CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]+", text))
    if cjk == 0 and latin == 0:
        return "en"
    return "zh" if cjk >= latin else "en"


def _unit_size(words: Sequence[Word], language: str) -> int:
    if language == "zh":
        return sum(len(w.text.strip()) for w in words)
    return len(words)


def split_units(words: Sequence[Word], language: str) -> list[Unit]:
    """Cut an answer's words into sentence units (Chinese: also at commas between clauses)."""
    units: list[list[Word]] = []
    current: list[Word] = []
    limit = MAX_UNIT_CHARS if language == "zh" else MAX_UNIT_WORDS
    for position, word in enumerate(words):
        if not word.text.strip():
            continue
        if current and word.start - current[-1].end >= PAUSE_BREAK_S:
            units.append(current)
            current = []
        current.append(word)
        text = word.text.strip()
        ends = bool(_SENTENCE_END.search(text))
        if language == "zh" and not ends and _ZH_CLAUSE_END.search(text):
            ends = _unit_size(current, language) >= MIN_ZH_CLAUSE
        if not ends and _unit_size(current, language) >= limit:
            nxt = words[position + 1] if position + 1 < len(words) else None
            ends = (
                nxt is None
                or nxt.start - word.end > 0.25
                or _unit_size(current, language) >= 2 * limit
            )
        if ends:
            units.append(current)
            current = []
    if current:
        units.append(current)
    return [Unit(i, tuple(ws), language) for i, ws in enumerate(units)]


@cache
def _jieba() -> object:
    import jieba

    # jieba announces its dictionary load on its own logger; keep the worker's log quiet.
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def zh_tokens(text: str) -> list[str]:
    """Chinese word segmentation (jieba, precise mode); deterministic for a given text."""
    import jieba

    _jieba()
    return [t for t in jieba.lcut(text, HMM=False) if t.strip()]


def zh_tagged(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech) pairs from jieba's tagger, for noun phrases in probes."""
    import jieba.posseg

    _jieba()
    return [(pair.word, pair.flag) for pair in jieba.posseg.lcut(text, HMM=False)]
