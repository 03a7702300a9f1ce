"""Checking the scorer against a customer's own labelled answers: reading the items (every
problem with its line, nothing scored unless all are valid), turning each answer's text into a
transcript, and scoring it through the production scorer for the competency it was asked for.

The figures over the scored items are in `appliance.scoring.evaluation_report`; the format
and how to read them are in docs/scoring-evaluation.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.platform.errors import ApplianceError
from appliance.scoring.baselines import baseline_values
from appliance.scoring.cues import STAR_PARTS
from appliance.scoring.scorer import score_recording
from appliance.scoring.spans import AnswerSpan
from appliance.scoring.synthetic import transcript_from_text
from appliance.scoring.text import detect_language
from appliance.store.competency import ModelSpec
from inference.interfaces import TextEncoder, Transcript

LANGUAGES = ("en", "zh")
OWNERSHIP = ("i", "we", "mixed", "none")
REQUIRED = ("id", "job_lang", "competency", "question", "answer")
BOOLEAN_LABELS = ("result_quantified", "off_topic", "wrong_language")
# The numeric ownership share that counts as the candidate's own story, or the team's.
OWN_SHARE = 0.7
TEAM_SHARE = 0.3


class EvaluationInputError(ApplianceError):
    """The dictionary or the labelled items cannot be used; `problems` lists every fault
    with its line, and nothing was scored."""

    exit_code = 46

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""))
        self.problems = list(problems)


@dataclass(frozen=True)
class Labels:
    """A person's labels of one answer; None (or a missing STAR part) where not labelled."""

    score: float | None = None
    star: dict[str, bool] = field(default_factory=dict)
    result_quantified: bool | None = None
    ownership: str | None = None
    off_topic: bool | None = None
    wrong_language: bool | None = None


@dataclass(frozen=True)
class Item:
    """One labelled answer of the items file, with the line it came from."""

    line: int
    id: str | int
    job_lang: str
    competency: str
    question: str
    answer: str
    lang: str | None
    labels: Labels
    pair: str | None = None

    @property
    def language(self) -> str:
        """The answer's own language: the item's `lang`, else detected from its text."""
        return self.lang or detect_language(self.answer)


@dataclass(frozen=True)
class Scored:
    """An item with the scorer's prediction (one output line) and its baseline values."""

    item: Item
    prediction: dict[str, Any]
    baselines: dict[str, float]


# --- reading the items ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _labels(record: dict[str, Any], problems: list[str], where: str) -> Labels:
    score = record.get("score")
    if score is not None and not (_is_number(score) and math.isfinite(score) and 1 <= score <= 10):
        problems.append(f"{where}: score must be a number from 1 to 10, not {score!r}")
        score = None
    star: dict[str, bool] = {}
    raw_star = record.get("star")
    if raw_star is not None:
        if not isinstance(raw_star, dict):
            problems.append(f"{where}: star must map situation, task, action, result to booleans")
        else:
            for part, value in raw_star.items():
                if part not in STAR_PARTS:
                    problems.append(
                        f"{where}: unknown STAR part {part!r} (known: {', '.join(STAR_PARTS)})"
                    )
                elif not isinstance(value, bool):
                    problems.append(f"{where}: star.{part} must be true or false, not {value!r}")
                else:
                    star[part] = value
    flags: dict[str, bool | None] = {}
    for name in BOOLEAN_LABELS:
        value = record.get(name)
        if value is not None and not isinstance(value, bool):
            problems.append(f"{where}: {name} must be true or false, not {value!r}")
            value = None
        flags[name] = value
    ownership = record.get("ownership")
    if ownership is not None and ownership not in OWNERSHIP:
        problems.append(
            f"{where}: ownership must be one of {', '.join(OWNERSHIP)}, not {ownership!r}"
        )
        ownership = None
    return Labels(
        float(score) if score is not None else None,
        star,
        flags["result_quantified"],
        ownership,
        flags["off_topic"],
        flags["wrong_language"],
    )


def _item(record: Any, line: int, model: ModelSpec, problems: list[str]) -> Item | None:
    where = f"line {line}"
    if not isinstance(record, dict):
        problems.append(f"{where}: each line must be one JSON object")
        return None
    before = len(problems)
    for name in REQUIRED:
        if name not in record or record[name] is None:
            problems.append(f"{where}: missing field {name!r}")
    item_id = record.get("id")
    if item_id is not None and not (
        (isinstance(item_id, str) and item_id.strip()) or type(item_id) is int
    ):
        problems.append(f"{where}: id must be a non-empty string or a whole number")
    for name in ("job_lang", "lang"):
        value = record.get(name)
        if value is not None and value not in LANGUAGES:
            problems.append(f"{where}: {name} must be en or zh, not {value!r}")
    competency = record.get("competency")
    if competency is not None and (
        not isinstance(competency, str) or model.dimension(competency) is None
    ):
        known = ", ".join(d.key for d in model.dimensions)
        problems.append(f"{where}: unknown competency {competency!r} (known: {known})")
    if record.get("question") is not None and not isinstance(record["question"], str):
        problems.append(f"{where}: question must be text")
    answer = record.get("answer")
    if answer is not None and not isinstance(answer, str):
        problems.append(f"{where}: answer must be text")
    elif isinstance(answer, str) and not answer.strip():
        problems.append(f"{where}: the answer is empty")
    pair = record.get("pair")
    if pair is not None and not (isinstance(pair, str | int) and not isinstance(pair, bool)):
        problems.append(f"{where}: pair must be a string or a whole number")
    labels = _labels(record, problems, where)
    if len(problems) > before:
        return None
    return Item(
        line,
        record["id"],
        record["job_lang"],
        record["competency"],
        record["question"],
        record["answer"].strip(),
        record.get("lang"),
        labels,
        None if pair is None else str(pair),
    )


def _check_pairs(items: Sequence[Item], problems: list[str]) -> None:
    """A pair id names exactly two items, both with a labelled score, and different ones."""
    pairs: dict[str, list[Item]] = {}
    for item in items:
        if item.pair is not None:
            pairs.setdefault(item.pair, []).append(item)
    for pair, members in pairs.items():
        lines = ", ".join(str(m.line) for m in members)
        if len(members) == 1:
            problems.append(
                f"line {members[0].line}: pair {pair!r} has no second item; "
                "a minimal pair has exactly two"
            )
            continue
        if len(members) > 2:
            problems.append(
                f"line {members[-1].line}: pair {pair!r} has {len(members)} items "
                f"(lines {lines}); a minimal pair has exactly two"
            )
            continue
        unlabelled = [m for m in members if m.labels.score is None]
        for member in unlabelled:
            problems.append(f"line {member.line}: an item of pair {pair!r} needs a score label")
        if not unlabelled and members[0].labels.score == members[1].labels.score:
            problems.append(
                f"line {members[1].line}: the two items of pair {pair!r} (lines {lines}) have "
                "the same score label; a minimal pair needs a better and a worse answer"
            )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EvaluationInputError([f"line {line}: the file is not valid UTF-8 text"]) from None


def read_items(data: bytes, model: ModelSpec) -> list[Item]:
    """The labelled items of a JSONL file; EvaluationInputError lists every fault by line."""
    problems: list[str] = []
    items: list[Item] = []
    first_line: dict[str, int] = {}
    for number, text in enumerate(_decode(data).splitlines(), start=1):
        if not text.strip():
            continue  # blank lines (a trailing newline, spacing) carry nothing
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}, column {exc.colno}: invalid JSON: {exc.msg}")
            continue
        item = _item(record, number, model, problems)
        if item is None:
            continue
        key = str(item.id)
        if key in first_line:
            problems.append(
                f"line {number}: duplicate id {item.id!r} (first at line {first_line[key]})"
            )
            continue
        first_line[key] = number
        items.append(item)
    if not items and not problems:
        problems.append("line 1: the file holds no items")
    _check_pairs(items, problems)
    if problems:
        raise EvaluationInputError(problems)
    return items


# --- scoring -------------------------------------------------------------------------------------


def ownership_class(answer: dict[str, Any]) -> str:
    """i, we, mixed or none: the scorer's own class, else its numeric share of "I" actions."""
    if "ownership_class" in answer:
        return str(answer["ownership_class"])
    if not answer["star"]["action"]:
        return "none"
    share = float(answer["ownership"])
    return "i" if share >= OWN_SHARE else ("we" if share <= TEAM_SHARE else "mixed")


def prediction(item: Item, section: dict[str, Any]) -> dict[str, Any]:
    """One output line: what the scorer's section says about the item's asked competency."""
    answer = section["answers"][0]
    codes = {flag["code"] for flag in answer["flags"]}
    dim = next(d for d in section["dimensions"] if d["key"] == item.competency)
    return {
        "id": item.id,
        "score": dim["score"],
        "star": {part: bool(answer["star"][part]) for part in STAR_PARTS},
        "result_quantified": bool(answer["quantified_result"]),
        "ownership": ownership_class(answer),
        "off_topic": "off_topic" in codes,
        "wrong_language": "language_mismatch" in codes,
        "evidence": [
            {key: span[key] for key in ("quote", "start", "end", "cue")} for span in dim["evidence"]
        ],
    }


def score_item(
    item: Item, model: ModelSpec, encoder: TextEncoder, transcript: Transcript | None = None
) -> Scored:
    """Score one item through the production scorer, as one answer to its asked question
    (from its text read at an even pace, or from a recogniser's `transcript` of it spoken)."""
    language = item.language
    transcript = transcript or transcript_from_text(item.answer, language)
    span = AnswerSpan(0, None, item.question, item.competency, 0.0, transcript.duration_s)
    section = score_recording(model, transcript, [span], encoder, item.job_lang)
    dim = model.dimension(item.competency)
    assert dim is not None  # read_items refused unknown competencies
    return Scored(
        item, prediction(item, section), baseline_values(item.answer, language, dim, transcript)
    )


def score_items(items: Sequence[Item], model: ModelSpec, encoder: TextEncoder) -> list[Scored]:
    """Every item scored, in file order."""
    return [score_item(item, model, encoder) for item in items]
