"""Naive signals the scorer must beat: answer length, how many numbers an answer holds, and
how many of the competency's dictionary keywords it uses. A scorer that ranks answers no
better than their length is measuring length, not competency."""

# Chinese numerals and punctuation are matched on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re

from appliance.scoring.relevance import keyword_hits
from appliance.scoring.text import Unit
from appliance.store.competency import LANGUAGES, DimensionSpec
from inference.interfaces import Transcript

BASELINES = ("length", "numbers", "keywords")
BASELINE_NAMES = {
    "length": "answer length",
    "numbers": "count of numbers",
    "keywords": "keyword hits",
}

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_RUN = re.compile(r"[A-Za-z0-9]+")
# Digits (1,200 / 3.5, full-width too) or a run of Chinese numerals, with a percentage prefix
# and a trailing magnitude ("3万") kept inside the one number.
_NUMERAL = re.compile(
    r"(?:百分之|千分之)?"
    r"(?:[0-9０-９]+(?:[.,．][0-9０-９]+)*|[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?)"
    r"[十百千万亿]*"
)
# Words holding a numeral that are not quantities ("together", "very", "a kind of", ...).
_ZH_NOT_NUMBERS = re.compile(
    "一起|一些|一直|一般|一定|一样|一下|一切|一旦|一致|一边|一同|一向|一再|一味|一律|一方面|"
    "一开始|一点|一个|一种|统一|唯一|同一|进一步|万一|十分|千万|有一次"
)
_EN_WORD = re.compile(r"[a-z]+")
_EN_SCALES = frozenset(
    {"hundred", "thousand", "million", "billion", "hundreds", "thousands", "millions", "billions"}
)
_EN_NUMBERS = frozenset(
    {
        *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
        *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
        *("seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty"),
        *("sixty", "seventy", "eighty", "ninety", "dozen", "dozens", "half"),
        *_EN_SCALES,
    }
)
_JOINS_NUMBER_WORDS = re.compile(r"^[\s-]*$")


def answer_length(text: str, language: str) -> int:
    """Words of an English answer; Chinese characters (plus Latin words) of a Chinese one."""
    if language == "zh":
        return len(_CJK.findall(text)) + len(_LATIN_RUN.findall(text))
    return len(text.split())


def _spelled_out(text: str) -> int:
    """English numbers written as words, each run one number ("three hundred and forty")."""
    count = 0
    previous: str | None = None  # the last word of the current run, if one is open
    end = 0
    for match in _EN_WORD.finditer(text.lower()):
        word, joined = match.group(), _JOINS_NUMBER_WORDS.match(text[end : match.start()])
        if word in _EN_NUMBERS:
            if previous is None or not joined:
                count += 1
            previous = word
        elif word == "and" and previous in _EN_SCALES and joined:
            previous = "and"  # "hundred and forty" goes on; "two and three" are two numbers
        else:
            previous = None
        end = match.end()
    return count


def number_count(text: str) -> int:
    """Numbers in an answer: digits, Chinese numerals ("百分之二十", "两个") and English ones
    written as words ("three hundred", "twenty-five")."""
    masked = _ZH_NOT_NUMBERS.sub(" ", text)
    return len(_NUMERAL.findall(masked)) + _spelled_out(masked)


def keyword_count(transcript: Transcript, language: str, dim: DimensionSpec) -> int:
    """Distinct dictionary keywords of the competency (either language) found in the answer,
    matched as the scorer matches them."""
    words = tuple(w for w in transcript.words() if w.text.strip())
    phrases = [phrase for lang in LANGUAGES for phrase in dim.keywords_in(lang)]
    if not words or not phrases:
        return 0
    return len(
        {phrase for _, phrase in keyword_hits([Unit(0, words, language)], phrases, language)}
    )


def baseline_values(
    text: str, language: str, dim: DimensionSpec, transcript: Transcript
) -> dict[str, float]:
    """Each baseline's value for one answer."""
    return {
        "length": float(answer_length(text, language)),
        "numbers": float(number_count(text)),
        "keywords": float(keyword_count(transcript, language, dim)),
    }
