"""Error rates of a transcript against a reference, with both sides normalised one way.

A reference written "three hundred and forty" and a transcript reading "340" (or "1,001"
against "one thousand and one") are the same words to a listener; counted raw, each would be
an error. Both sides therefore go through the same normalisation before counting:

* English: Whisper's own English normaliser (the `whisper-normalizer` package, MIT): spelled-out
  numbers become digits ("twenty-one percent" -> "21%"), digit groupings drop their commas,
  "Mr." becomes "mister", British spellings American, punctuation and case go. Word error rate.
* Mandarin: simplified characters and Chinese numerals as digits (the transcripts' own
  normalisation, `normalise.normalise_text`, then every numeral it leaves for a reader, such as
  the 三 of 三个月, converted too: both sides alike, so 一些 against 1些 is no error),
  full-width forms folded, then every character that is not a letter or a digit dropped.
  Character error rate, as usual for Chinese.
* Other languages: Whisper's basic normaliser (case, punctuation, diacritics kept). Word error
  rate.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import jiwer

from inference.speech.normalise import is_mandarin, normalise_text


@cache
def _english() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


@cache
def _basic() -> Any:
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer()


def _all_numerals(text: str) -> str:
    import warnings

    import cn2an

    with warnings.catch_warnings():  # cn2an warns about every run it leaves as it is
        warnings.simplefilter("ignore")
        return str(cn2an.transform(text, "cn2an"))


def comparable_text(text: str, language: str | None) -> str:
    """`text` as error rates compare it in `language` (see the module's docstring)."""
    base = (language or "").lower().split("-")[0].split("_")[0]
    if is_mandarin(language):
        folded = unicodedata.normalize("NFKC", _all_numerals(normalise_text(text, "zh")))
        return "".join(ch for ch in folded if ch.isalnum()).lower()
    if base == "en":
        return " ".join(str(_english()(text)).split())
    return " ".join(str(_basic()(text)).split())


@dataclass(frozen=True)
class ErrorRate:
    """An error rate with what it counted."""

    kind: str  # "wer" (words) or "cer" (characters)
    value: float
    reference_units: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def unit(self) -> str:
        """What was counted, in words."""
        return "characters" if self.kind == "cer" else "words"


def error_rate(reference: str, hypothesis: str, language: str | None) -> ErrorRate:
    """Word (or, for Mandarin, character) error rate of `hypothesis` against `reference`."""
    ref = comparable_text(reference, language)
    hyp = comparable_text(hypothesis, language)
    if not ref:
        raise ValueError("the reference has no words to compare with")
    if is_mandarin(language):
        chars = jiwer.process_characters(ref, hyp)
        return ErrorRate(
            "cer", chars.cer, len(ref), chars.substitutions, chars.deletions, chars.insertions
        )
    words = jiwer.process_words(ref, hyp)
    return ErrorRate(
        "wer",
        words.wer,
        len(ref.split()),
        words.substitutions,
        words.deletions,
        words.insertions,
    )
