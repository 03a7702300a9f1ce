"""The competency model of a job: editor rows, their validation into dimensions, and saving
them as a new model version of a requisition."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from appliance.hiring.common import (
    MAX_DESCRIPTION,
    InvalidInputError,
    clean_text,
    competency_model_of,
)
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.competency import ORIGINS as MODEL_ORIGINS
from appliance.store.competency import Anchor, DimensionSpec, Keyword, ModelSpec, Question

QUESTION_LANGUAGES = ("en", "zh")
ANCHOR_LEVELS = (3, 6, 9)

MAX_QUESTION = 1000
MAX_DIMENSIONS = 30
MAX_QUESTIONS_PER_LANGUAGE = 20
MAX_KEYWORDS_PER_LANGUAGE = 60
MAX_KEYWORD = 80

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KEYWORD_SPLIT = re.compile(r"[,;\n\uff0c\uff1b\u3001]")


@dataclass(frozen=True)
class DimensionInput:
    """One row of the competency-model editor, as typed (questions: one per line; keywords:
    separated by commas or lines; anchors keyed `3-en`, `6-zh`, ...)."""

    key: str = ""
    name: str = ""
    weight: str = ""
    description: str = ""
    questions: dict[str, str] = field(default_factory=dict)
    remove: bool = False
    name_zh: str = ""
    anchors: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)

    def is_blank(self) -> bool:
        """Whether nothing was typed into this row."""
        return not any(
            part.strip()
            for part in (
                self.key,
                self.name,
                self.weight,
                self.description,
                self.name_zh,
                *self.questions.values(),
                *self.anchors.values(),
                *self.keywords.values(),
            )
        )


def dimension_rows(model: ModelSpec | None) -> list[DimensionInput]:
    """Editor rows pre-filled from a saved model version (or an unsaved draft)."""
    if model is None:
        return []
    return [
        DimensionInput(
            dim.key,
            dim.name,
            f"{dim.weight:g}",
            dim.description,
            {
                language: "\n".join(q.text for q in dim.questions if q.language == language)
                for language in QUESTION_LANGUAGES
            },
            name_zh=dim.name_zh,
            anchors={f"{a.level}-{a.language}": a.text for a in dim.anchors},
            keywords={
                language: ", ".join(dim.keywords_in(language)) for language in QUESTION_LANGUAGES
            },
        )
        for dim in model.dimensions
    ]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]


def _key(row: DimensionInput, name: str, where: str, keys: set[str], problems: list[str]) -> str:
    # A row without a key gets one made from its name; `keys` collects those seen so far.
    key = row.key.strip() or _slug(name)
    if not _KEY.match(key):
        problems.append(
            f"{where}: the key must start with a-z and hold only a-z, 0-9 and _ (at most 40)"
        )
    elif key in keys:
        problems.append(f"{where}: the key {key!r} is used twice")
    keys.add(key)
    return key


def _weight(row: DimensionInput, where: str, problems: list[str]) -> float:
    try:
        weight = float(row.weight.strip().replace(",", "."))
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight) or weight <= 0:
        problems.append(f"{where}: the weight must be a number above 0")
    return weight


def _questions(row: DimensionInput, where: str, problems: list[str]) -> tuple[Question, ...]:
    questions: list[Question] = []
    for language in row.questions:
        if language not in QUESTION_LANGUAGES:
            problems.append(f"{where}: questions may be in {', '.join(QUESTION_LANGUAGES)}")
    for language in QUESTION_LANGUAGES:
        lines = [
            line.strip() for line in row.questions.get(language, "").splitlines() if line.strip()
        ]
        if len(lines) > MAX_QUESTIONS_PER_LANGUAGE:
            problems.append(f"{where}: at most {MAX_QUESTIONS_PER_LANGUAGE} questions per language")
        if any(len(line) > MAX_QUESTION for line in lines):
            problems.append(f"{where}: a question is longer than {MAX_QUESTION} characters")
        questions.extend(Question(language, line) for line in lines)
    if not questions:
        problems.append(f"{where}: add at least one question in English or Chinese")
    return tuple(questions)


def _keywords(row: DimensionInput, where: str, problems: list[str]) -> tuple[Keyword, ...]:
    found: list[Keyword] = []
    for language in QUESTION_LANGUAGES:
        phrases = [
            p.strip() for p in _KEYWORD_SPLIT.split(row.keywords.get(language, "")) if p.strip()
        ]
        if len(phrases) > MAX_KEYWORDS_PER_LANGUAGE:
            problems.append(f"{where}: at most {MAX_KEYWORDS_PER_LANGUAGE} keywords per language")
        if any(len(p) > MAX_KEYWORD for p in phrases):
            problems.append(f"{where}: a keyword is longer than {MAX_KEYWORD} characters")
        found.extend(Keyword(language, p) for p in dict.fromkeys(phrases))
    return tuple(found)


def _anchors(row: DimensionInput, where: str, problems: list[str]) -> tuple[Anchor, ...]:
    found: list[Anchor] = []
    for level in ANCHOR_LEVELS:
        for language in QUESTION_LANGUAGES:
            text = clean_text(
                row.anchors.get(f"{level}-{language}"),
                f"{where}: the level-{level} anchor",
                problems,
                required=False,
                limit=MAX_DESCRIPTION,
                multiline=True,
            )
            if text:
                found.append(Anchor(level, language, text))
    return tuple(found)


def _dimension(
    row: DimensionInput, where: str, keys: set[str], problems: list[str]
) -> DimensionSpec:
    # The order of the checks is the order in which the problems are reported.
    name = clean_text(row.name, f"{where}: the name", problems)
    name_zh = clean_text(row.name_zh, f"{where}: the Chinese name", problems, required=False)
    key = _key(row, name, where, keys, problems)
    description = clean_text(
        row.description,
        f"{where}: the description",
        problems,
        required=False,
        limit=MAX_DESCRIPTION,
        multiline=True,
    )
    weight = _weight(row, where, problems)
    questions = _questions(row, where, problems)
    return DimensionSpec(
        key,
        name,
        weight,
        description,
        name_zh,
        questions,
        _anchors(row, where, problems),
        _keywords(row, where, problems),
    )


def _normalised(parsed: list[DimensionSpec]) -> list[DimensionSpec]:
    # Shares are rounded to 6 places, so a tiny weight next to large ones can round to 0.
    problems: list[str] = []
    total = sum(dim.weight for dim in parsed)
    dimensions = []
    for dim in parsed:
        share = round(dim.weight / total, 6)
        if share <= 0:
            problems.append(f"the weight of {dim.key!r} is too small next to the others")
        dimensions.append(replace(dim, weight=share))
    if problems:
        raise InvalidInputError(problems)
    return dimensions


def parse_dimensions(rows: Sequence[DimensionInput]) -> list[DimensionSpec]:
    """Validated dimensions with weights normalised to sum to 1, or InvalidInputError."""
    kept = [row for row in rows if not row.remove and not row.is_blank()]
    if not kept:
        raise InvalidInputError(["a competency model needs at least one dimension"])
    if len(kept) > MAX_DIMENSIONS:
        raise InvalidInputError([f"a competency model has at most {MAX_DIMENSIONS} dimensions"])
    problems: list[str] = []
    keys: set[str] = set()
    parsed = [
        _dimension(row, f"dimension {number}", keys, problems)
        for number, row in enumerate(kept, start=1)
    ]
    if problems:
        raise InvalidInputError(problems)
    return _normalised(parsed)


def save_competency_model(
    store: Store,
    principal: Principal,
    requisition_id: int,
    rows: Sequence[DimensionInput],
    *,
    name: str = "",
    description: str = "",
    origin: str = "editor",
) -> ModelSpec:
    """Save the edited dimensions as a NEW model version and point the requisition to it.

    A saved version never changes, so every report keeps naming the version it was scored
    with; other requisitions that use an earlier version keep it. `origin` records whether the
    rows came from the editor, a built-in starter model or an imported dictionary.
    """
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    problems: list[str] = []
    previous = competency_model_of(store, requisition)
    model_name = (
        previous.name
        if previous
        else clean_text(name or requisition.title, "the model name", problems)
    )
    model_description = clean_text(
        description,
        "the model description",
        problems,
        required=False,
        limit=MAX_DESCRIPTION,
        multiline=True,
    )
    if origin not in MODEL_ORIGINS:
        problems.append("unknown model origin")
    try:
        dimensions = parse_dimensions(rows)
    except InvalidInputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInputError(problems)
    with store.audited(principal.actor, "competency_model.saved") as entry:
        model = store.competency.save(
            ModelSpec(model_name, tuple(dimensions), model_description, origin=origin),
            created_by=principal.user_id,
        )
        assert model.id is not None
        store.requisitions.set_competency_model(requisition.id, model.id)
        entry.details.update(
            model=model.id,
            name=model.name,
            version=model.version,
            origin=model.origin,
            requisition=requisition.id,
        )
    return model


__all__ = [
    "ANCHOR_LEVELS",
    "QUESTION_LANGUAGES",
    "DimensionInput",
    "dimension_rows",
    "parse_dimensions",
    "save_competency_model",
]
