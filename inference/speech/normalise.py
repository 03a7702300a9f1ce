# ruff: noqa: RUF001 - full-width punctuation and CJK numerals are what this module handles
"""Text normalisation of transcripts: simplified Mandarin, numbers as digits, punctuation.

* Whisper often writes Mandarin in traditional characters; everything the appliance stores and
  scores is simplified (`zhconv`, a character/phrase table, so word timings stay aligned).
* Numbers: Chinese numerals become digits where they are clearly numbers (`cn2an` on guarded
  runs): a lone 一 in 一些/一下 stays as it is, so do approximations such as 三四个 and idioms
  such as 万一/千万; 百分之三十 becomes 30%.  Full-width digits become ASCII.  English engines
  already write digits, so English text is left alone.
* Punctuation: engines such as vosk return none.  We restore it by rule from the pauses between
  timed words (a long pause ends a sentence, a shorter one is a comma) -- a rule-based
  approach, not a trained punctuation model; good enough to make a transcript readable and to
  give the scoring step sentence boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from inference.interfaces import Segment, Transcript, Word

# Languages written without spaces between words.
_UNSPACED = frozenset({"zh", "ja"})
_PUNCTUATION = frozenset(".,?!;:。，？！；：、…")
_DIGITS = "零〇一二两三四五六七八九"
_UNITS = "十百千万亿"
_NUMERAL_RUN = re.compile(rf"(百分之)?([{_DIGITS}{_UNITS}][{_DIGITS}{_UNITS}点]*)")
_DIGIT_VALUE = {ch: str(i) for i, ch in enumerate("零一二三四五六七八九")} | {"〇": "0", "两": "2"}


def is_mandarin(language: str | None) -> bool:
    """Whether `language` names Mandarin/Chinese (zh, zh-CN, zh-Hans, cmn...)."""
    return bool(language) and str(language).lower().split("-")[0].split("_")[0] in {"zh", "cmn"}


def to_simplified(text: str) -> str:
    """Mandarin text in simplified characters (mainland usage)."""
    import zhconv  # imported on first use: it costs a quarter second at start-up

    return str(zhconv.convert(text, "zh-cn"))


def _convert_run(prefix: str | None, run: str) -> str | None:
    """Digits for one run of Chinese numerals, or None where it is not clearly a number."""
    core = run.rstrip("点")  # 一点 ("a little") is not a decimal
    if not core or (core[0] in _UNITS and core[0] != "十"):
        return None  # 万一, 千万, 百...: words, not numbers
    if prefix is None and len(core) < 2:
        return None  # 一些, 一下, 三个人: leave single numerals as words
    if all(ch in _DIGIT_VALUE for ch in core):
        if len(core) == 2 and "零" not in core and "〇" not in core:
            return None  # 三四个, 一两天, 一一: approximations and idioms
        value = "".join(_DIGIT_VALUE[ch] for ch in core)  # years, phone numbers: digit by digit
    else:
        import cn2an  # imported on first use, like zhconv

        try:
            value = str(cn2an.cn2an(core, "smart"))
        except (ValueError, KeyError):
            return None
        if value.endswith(".0"):
            value = value[:-2]
    tail = run[len(core) :]
    return f"{value}%{tail}" if prefix else value + tail


def normalise_numbers(text: str) -> str:
    """Chinese numerals that are clearly numbers as digits; full-width digits as ASCII."""
    text = "".join(unicodedata.normalize("NFKC", ch) if "０" <= ch <= "９" else ch for ch in text)

    def swap(match: re.Match[str]) -> str:
        converted = _convert_run(match.group(1), match.group(2))
        return match.group(0) if converted is None else converted

    return _NUMERAL_RUN.sub(swap, text)


def normalise_text(text: str, language: str | None) -> str:
    """Text as scoring compares it: simplified Mandarin with digit numbers; others unchanged."""
    if is_mandarin(language):
        return normalise_numbers(to_simplified(text))
    return text


def has_punctuation(transcript: Transcript) -> bool:
    """Whether the engine put any punctuation in the transcript."""
    return any(ch in _PUNCTUATION for seg in transcript.segments for ch in seg.text)


def _marks(language: str) -> tuple[str, str]:
    return ("。", "，") if is_mandarin(language) or language == "ja" else (".", ",")


def punctuate_words(
    words: tuple[Word, ...] | list[Word],
    language: str,
    *,
    comma_pause_s: float = 0.3,
    sentence_pause_s: float = 0.7,
) -> str:
    """Text of timed words with a full stop after long pauses and a comma after short ones."""
    stop, comma = _marks(language)
    unspaced = is_mandarin(language) or language in _UNSPACED
    pieces: list[str] = []
    new_sentence = True
    for index, word in enumerate(words):
        spoken = word.text.strip()
        if not spoken:
            continue
        if new_sentence and not unspaced:
            spoken = spoken[:1].upper() + spoken[1:]
        elif spoken == "i" and language == "en":
            spoken = spoken.upper()
        pieces.append(spoken)
        new_sentence = False
        following = words[index + 1] if index + 1 < len(words) else None
        if following is None:
            pieces.append(stop)
        else:
            gap = following.start - word.end
            if gap >= sentence_pause_s:
                pieces.append(stop)
                new_sentence = True
            elif gap >= comma_pause_s:
                pieces.append(comma)
        if following is not None and not unspaced:
            pieces.append(" ")
    text = "".join(pieces)
    return re.sub(r" ([.,])", r"\1", text).strip()


# A digit the recogniser wrote alone ("1," "0," "0," "1."): part of a code or phone number
# spoken digit by digit.
_LONE_DIGIT = re.compile(r"^\s*(\d)([,.;:!?]?)$")
# Fewer lone digits in a row than this are left alone ("2, 3 times").
MIN_DIGIT_RUN = 3


def join_digit_runs(words: tuple[Word, ...]) -> tuple[Word, ...]:
    """Runs of lone digits become one word, a digit string ("1001"), spanning their times."""
    out: list[Word] = []
    run: list[tuple[Word, str, str]] = []

    def flush() -> None:
        if len(run) >= MIN_DIGIT_RUN:
            first, last = run[0][0], run[-1][0]
            lead = first.text[: len(first.text) - len(first.text.lstrip())]
            digits = "".join(digit for _, digit, _ in run)
            out.append(
                replace(
                    first,
                    text=f"{lead}{digits}{run[-1][2]}",
                    end=last.end,
                    confidence=min(
                        (w.confidence for w, _, _ in run if w.confidence is not None),
                        default=None,
                    ),
                )
            )
        else:
            out.extend(w for w, _, _ in run)
        run.clear()

    for word in words:
        found = _LONE_DIGIT.match(word.text)
        if found:
            run.append((word, found.group(1), found.group(2)))
            if found.group(2) in {".", "!", "?"}:
                flush()  # a sentence ends the code
            continue
        flush()
        out.append(word)
    flush()
    return tuple(out)


def _joined_digits(segment: Segment) -> Segment:
    words = join_digit_runs(segment.words)
    if len(words) == len(segment.words):
        return segment
    spaced = all(w.text.startswith(" ") for w in words[1:])
    text = "".join(w.text for w in words) if spaced else " ".join(w.text.strip() for w in words)
    return replace(segment, words=words, text=text.strip())


def normalise_transcript(transcript: Transcript) -> Transcript:
    """The transcript in simplified characters (Mandarin), punctuated where the engine was not;
    digits spoken one by one kept as one digit string."""
    segments = [_joined_digits(seg) for seg in transcript.segments]
    if is_mandarin(transcript.language):
        segments = [
            replace(
                seg,
                text=to_simplified(seg.text),
                words=tuple(replace(w, text=to_simplified(w.text)) for w in seg.words),
            )
            for seg in segments
        ]
    probe = replace(transcript, segments=segments)
    if not has_punctuation(probe):
        segments = [
            replace(seg, text=punctuate_words(seg.words, transcript.language)) if seg.words else seg
            for seg in segments
        ]
    return replace(transcript, segments=list(segments))
