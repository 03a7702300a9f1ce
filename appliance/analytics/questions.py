"""Does each interview question's score predict how hires did? Per question (by its text, so
it is the same question across model versions), the rank correlation of the AI's score for the
answer with the hire's mean performance rating, Holm-corrected over the questions tested.

A question is said to "predict nothing" only with enough people to say so: its correlation's
95 % interval (Fisher z) lies wholly inside a weak relation (|rho| < 0.3: a structured
interview as a whole correlates about 0.3 or more with later performance before any correction).
With few hires no question can be said to predict nothing; the page says how many are needed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.analysis.interview_scores import latest_per_recording, sections_of
from appliance.platform.stats import Correlation, holm, permutations_for, spearman
from appliance.store import Store

MIN_N = 10  # fewer people with an answer and a rating: not tested
WEAK = 0.3  # a relation weaker than this is of little use for choosing people
Z95 = 1.959963984540054
SPEARMAN_VARIANCE = 1.06


@dataclass(frozen=True)
class QuestionRow:
    """One question's validity among the people hired."""

    key: str  # a stable short hash of the question's text, for links
    text: str
    dimension_key: str
    n: int
    correlation: Correlation | None
    p_adjusted: float | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % interval of rho (Fisher z), None when not tested."""
        if self.correlation is None or self.correlation.n < 4:
            return None
        rho = max(-0.999999, min(0.999999, self.correlation.rho))
        # Spearman's rho: the Fisher-z standard error is about sqrt(1.06 / (n - 3)) (Fieller,
        # Hartley and Pearson 1957), wider than Pearson's 1 / sqrt(n - 3).
        half = Z95 * math.sqrt(SPEARMAN_VARIANCE / (self.correlation.n - 3))
        centre = math.atanh(rho)
        return math.tanh(centre - half), math.tanh(centre + half)

    @property
    def predicts(self) -> bool | None:
        """Holm-adjusted p < 0.05 (None when not tested)."""
        return None if self.p_adjusted is None else self.p_adjusted < 0.05

    @property
    def predicts_nothing(self) -> bool:
        """Whether the data show, with 95 % confidence, at most a weak relation."""
        interval = self.interval
        return interval is not None and interval[0] > -WEAK and interval[1] < WEAK


def question_key(text: str) -> str:
    """A short stable key of a question's text (whitespace and case folded)."""
    folded = " ".join(text.split()).casefold()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:12]


def answer_scores(store: Store, interview_id: int) -> dict[str, tuple[str, str, list[float]]]:
    """Per question key: (text, competency key, the AI's scores of the answers to it)."""
    found: dict[str, tuple[str, str, list[float]]] = {}
    for report in latest_per_recording(store.reports.for_interview(interview_id)):
        scoring = sections_of(report).get("scoring")
        if not isinstance(scoring, dict):
            continue
        for answer in scoring.get("answers") or []:
            if not isinstance(answer, dict):
                continue
            text = str(answer.get("question_text") or "").strip()
            if not text:
                continue
            for item in answer.get("assessments") or []:
                score = item.get("score") if isinstance(item, dict) else None
                if isinstance(item, dict) and item.get("asked") and isinstance(score, int | float):
                    key = question_key(text)
                    entry = found.setdefault(key, (text, str(item.get("dimension_key", "")), []))
                    entry[2].append(float(score))
    return found


def question_validity(pairs: Iterable[tuple[int, float]], store: Store) -> list[QuestionRow]:
    """From (analysed interview, mean performance) of each hire: one row per question."""
    by_question: dict[str, tuple[str, str, list[tuple[float, float]]]] = {}
    for interview_id, rating in pairs:
        for key, (text, dimension, scores) in answer_scores(store, interview_id).items():
            entry = by_question.setdefault(key, (text, dimension, []))
            entry[2].append((sum(scores) / len(scores), rating))
    rows = []
    permutations = permutations_for(sum(len(p[2]) >= MIN_N for p in by_question.values()))
    for key, (text, dimension, points) in sorted(by_question.items(), key=lambda i: i[1][0]):
        correlation = (
            spearman([p[0] for p in points], [p[1] for p in points], permutations=permutations)
            if len(points) >= MIN_N
            else None
        )
        rows.append(QuestionRow(key, text, dimension, len(points), correlation))
    return _adjusted(rows)


def _adjusted(rows: Sequence[QuestionRow]) -> list[QuestionRow]:
    tested = [i for i, row in enumerate(rows) if row.correlation is not None]
    adjusted = holm([rows[i].correlation.p_value for i in tested])  # type: ignore[union-attr]
    result = list(rows)
    for index, p in zip(tested, adjusted, strict=True):
        row = result[index]
        result[index] = QuestionRow(row.key, row.text, row.dimension_key, row.n, row.correlation, p)
    return result


def people_needed(rho: float = 0.0) -> int:
    """How many hires it takes before a question with this true rho can be shown to predict
    nothing (its interval's half-width under WEAK - |rho|)."""
    room = WEAK - abs(rho)
    if room <= 0:
        return 0
    return math.ceil(SPEARMAN_VARIANCE * (Z95 / math.atanh(room)) ** 2 + 3)


def suggestions_for(rows: Sequence[QuestionRow], texts: Iterable[str]) -> list[QuestionRow]:
    """The questions among `texts` (a model's) that the data show predict nothing."""
    wanted = {question_key(text) for text in texts}
    return [row for row in rows if row.key in wanted and row.predicts_nothing]


def as_json(row: QuestionRow) -> dict[str, Any]:
    """A question row, JSON-ready."""
    interval = row.interval
    return {
        "question": row.text,
        "competency": row.dimension_key,
        "n": row.n,
        "rho": None if row.correlation is None else round(row.correlation.rho, 4),
        "interval": None if interval is None else [round(interval[0], 4), round(interval[1], 4)],
        "p_holm": None if row.p_adjusted is None else round(row.p_adjusted, 4),
        "predicts_nothing": row.predicts_nothing,
    }


__all__ = [
    "MIN_N",
    "QuestionRow",
    "answer_scores",
    "as_json",
    "people_needed",
    "question_key",
    "question_validity",
    "suggestions_for",
]
