"""The grade's weights are what ridge regression on the dev split gives, and nothing else:
refit here from `tests/data/scoring_eval/items_dev.jsonl` (never from the test split)."""

from __future__ import annotations

import json
from pathlib import Path

from appliance.scoring.grading import FEATURES, WEIGHTS, features, fit_weights, grade
from appliance.scoring.star import analyse_words
from appliance.scoring.synthetic import transcript_from_text

DATA = Path(__file__).resolve().parent / "data" / "scoring_eval"


def _dev_rows() -> tuple[list[list[float]], list[float]]:
    rows: list[list[float]] = []
    scores: list[float] = []
    for line in (DATA / "items_dev.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["off_topic"]:
            continue  # capped by relevance, not graded
        transcript = transcript_from_text(item["answer"], item["lang"])
        rows.append(features(analyse_words(transcript.words(), item["lang"])))
        scores.append(float(item["score"]))
    return rows, scores


def test_weights_are_the_ridge_fit_on_the_dev_split() -> None:
    rows, scores = _dev_rows()
    assert len(rows) >= 80
    assert fit_weights(rows, scores) == WEIGHTS
    assert tuple(WEIGHTS) == FEATURES


def test_the_fit_is_not_blind() -> None:
    rows, scores = _dev_rows()
    # Shuffled labels give other weights: the comparison above can fail.
    assert fit_weights(rows, scores[1:] + scores[:1]) != WEIGHTS


def test_grade_orders_a_story_above_buzzwords() -> None:
    def graded(text: str) -> float:
        transcript = transcript_from_text(text, "en")
        return grade(analyse_words(transcript.words(), "en"))

    story = (
        "Last March our claims backlog hit nine hundred files. I was the team lead, so I "
        "split the queue by claim type and I paired each new adjuster with a senior one. "
        "Within six weeks the backlog went from nine hundred to about two hundred, and the "
        "other branches now use the same split."
    )
    buzz = "I'm a very results-driven person and I always think outside the box with synergy."
    assert graded(story) >= 7 > 4 >= graded(buzz)
