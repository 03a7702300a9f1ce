"""The 1..10 grade of an on-topic answer: a linear function of its STAR findings.

The weights were fitted (ridge regression, `fit_weights`) on the development split of the
labelled evaluation set, `tests/data/scoring_eval/items_dev.jsonl`, and never on its test split;
`tests/test_scoring_grading.py` refits them and checks they are the ones below. They are part
of the scorer's version: changing them changes `SCORER`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from appliance.scoring.star import AnswerAnalysis

FEATURES = (
    "bias",
    "situation",
    "task",
    "action_own",
    "action",
    "result",
    "result_quantified",
    "ownership_we",
    "habitual",
    "reflection",
    "lasting",
    "failure",
    "specificity",
    "log_length",
)
# Ridge penalty of the fit (not applied to the bias); chosen by leave-one-out on the dev split.
RIDGE = 1.0
WEIGHTS: dict[str, float] = {
    "bias": -0.97,
    "situation": 0.27,
    "task": 0.07,
    "action_own": 1.01,
    "action": 0.15,
    "result": 0.58,
    "result_quantified": 1.14,
    "ownership_we": -0.86,
    "habitual": -0.21,
    "reflection": 0.13,
    "lasting": 0.83,
    "failure": 0.66,
    "specificity": 2.54,
    "log_length": 0.84,
}


def answer_length(analysis: AnswerAnalysis) -> float:
    """Words spoken (a Chinese answer's characters count as half a word each)."""
    text = analysis.text
    return len(text) / 2.0 if analysis.language == "zh" else float(len(text.split()))


def features(analysis: AnswerAnalysis) -> list[float]:
    """The answer's values of `FEATURES`, in order."""
    parts = analysis.parts
    return [
        1.0,
        float(parts["situation"]),
        float(parts["task"]),
        float(analysis.own_actions > 0),
        float(parts["action"]),
        float(parts["result"]),
        float(analysis.quantified_result),
        float(analysis.ownership_class == "we"),
        float(analysis.habitual > 0),
        float(analysis.reflection),
        float(analysis.lasting),
        float(analysis.failure),
        analysis.specificity,
        math.log1p(min(answer_length(analysis), LONGEST_FITTED_WORDS)),
    ]


# The longest answer of the dev split the weights were fitted on, in words. A linear fit says
# nothing beyond the lengths it saw: without this limit a monologue gained a point for every
# doubling of its length (a novel's passage read for 10 minutes graded 6 with no STAR part).
LONGEST_FITTED_WORDS = 222.0
# The highest label any dev answer got when no STAR part (situation, task, action, result) was
# found in it (8 such answers, labelled 3 or 4): with no story found, length and specificity
# alone may not lift an answer above that.
NO_STORY_CAP = 4.0


def grade(analysis: AnswerAnalysis) -> float:
    """The unrounded grade, clipped to 1..10 (and to `NO_STORY_CAP` without any STAR part)."""
    value = sum(WEIGHTS[name] * x for name, x in zip(FEATURES, features(analysis), strict=True))
    if not any(analysis.parts.values()):
        value = min(value, NO_STORY_CAP)
    return min(10.0, max(1.0, value))


def fit_weights(
    rows: Sequence[Sequence[float]], scores: Sequence[float], ridge: float = RIDGE
) -> dict[str, float]:
    """Ridge regression of labelled scores on feature rows (the bias is not penalised)."""
    x = np.asarray(rows, dtype=float)
    y = np.asarray(scores, dtype=float)
    penalty = ridge * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    solved = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    return {name: round(float(v), 2) for name, v in zip(FEATURES, solved, strict=True)}
