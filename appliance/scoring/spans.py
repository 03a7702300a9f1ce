"""Where an answer lies in a recording and which question it answers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerSpan:
    """One answer in a recording: where it lies and which question it answers."""

    index: int
    question_id: int | None
    question_text: str
    dimension_key: str | None
    start: float
    end: float
