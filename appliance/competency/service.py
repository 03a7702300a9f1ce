"""Competency-model work behind the web pages and the API: starter models and dictionaries as
drafts for HR to edit, saving a draft as a new model version, and the JSON form of a spec.

A draft is never stored: it is shown in the model editor (or returned by the API), and only
saving it (`save_competency_model`, which checks every field again) creates a version.
"""

from __future__ import annotations

from typing import Any

from appliance.competency import (
    dictionary_to_spec,
    parse_dictionary,
    starter_dictionary,
    starter_keys,
)
from appliance.hiring.common import InvalidInputError
from appliance.hiring.competency_models import (
    QUESTION_LANGUAGES,
    DimensionInput,
    dimension_rows,
    save_competency_model,
)
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.competency import ModelSpec

MAX_ROLE = 100


def starter_choices() -> list[tuple[str, str, str]]:
    """(key, English name, Chinese name) of every built-in starter model."""
    choices = []
    for key in starter_keys():
        found = starter_dictionary(key)
        choices.append((key, found.name, found.name_zh))
    return choices


def starter_draft(principal: Principal, key: str) -> ModelSpec:
    """A built-in starter model as an unsaved draft."""
    require(principal, Action.EDIT_REQUISITIONS)
    if key not in starter_keys():
        raise InvalidInputError(["choose a starter model from the list"])
    return dictionary_to_spec(starter_dictionary(key), origin="starter")


def dictionary_draft(
    principal: Principal, data: bytes, filename: str, *, role: str = "", role_zh: str = ""
) -> ModelSpec:
    """An uploaded dictionary as an unsaved draft with generated questions (DictionaryError
    lists every fault with its line when the file is not valid)."""
    require(principal, Action.EDIT_REQUISITIONS)
    role, role_zh = role.strip(), role_zh.strip()
    if len(role) > MAX_ROLE or len(role_zh) > MAX_ROLE:
        raise InvalidInputError([f"the role is longer than {MAX_ROLE} characters"])
    parsed = parse_dictionary(data, filename)
    return dictionary_to_spec(parsed, role=role, role_zh=role_zh, origin="import")


def spec_json(spec: ModelSpec) -> dict[str, Any]:
    """A model spec as JSON (the API's shape; also the dictionary schema's nested form)."""
    return {
        "id": spec.id,
        "name": spec.name,
        "version": spec.version,
        "origin": spec.origin,
        "description": spec.description,
        "created_at": spec.created_at or None,
        "competencies": [
            {
                "id": dim.key,
                "name": dim.name,
                "name_zh": dim.name_zh,
                "weight": dim.weight,
                "description": dim.description,
                "anchors": {
                    str(level): {a.language: a.text for a in dim.anchors if a.level == level}
                    for level in sorted({a.level for a in dim.anchors})
                },
                "keywords": {
                    language: dim.keywords_in(language) for language in QUESTION_LANGUAGES
                },
                "questions": {
                    language: dim.questions_in(language) for language in QUESTION_LANGUAGES
                },
            }
            for dim in spec.dimensions
        ],
    }


def _strings(value: Any, label: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{label} must be a list of strings")
        return []
    return value


def rows_from_json(body: dict[str, Any]) -> list[DimensionInput]:
    """Editor rows from the API's JSON shape (`competencies`), or InvalidInputError."""
    items = body.get("competencies")
    if not isinstance(items, list) or not items:
        raise InvalidInputError(["competencies must be a non-empty list"])
    problems: list[str] = []
    rows: list[DimensionInput] = []
    for number, item in enumerate(items, start=1):
        where = f"competencies[{number - 1}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object")
            continue
        anchors_in = item.get("anchors") or {}
        anchors: dict[str, str] = {}
        if not isinstance(anchors_in, dict):
            problems.append(f"{where}.anchors must map 3, 6 and 9 to texts")
        else:
            for level, texts in anchors_in.items():
                if str(level) not in {"3", "6", "9"} or not isinstance(texts, dict):
                    problems.append(f"{where}.anchors: levels are 3, 6 and 9, each en/zh texts")
                    continue
                for language, text in texts.items():
                    if language in QUESTION_LANGUAGES and isinstance(text, str):
                        anchors[f"{level}-{language}"] = text
                    else:
                        problems.append(f"{where}.anchors.{level}: en and zh texts only")
        keywords = item.get("keywords") or {}
        questions = item.get("questions") or {}
        if not isinstance(keywords, dict) or not isinstance(questions, dict):
            problems.append(f"{where}: keywords and questions map en and zh to lists")
            continue
        weight = item.get("weight")
        rows.append(
            DimensionInput(
                key=str(item.get("id") or ""),
                name=str(item.get("name") or ""),
                weight="" if weight is None else str(weight),
                description=str(item.get("description") or ""),
                questions={
                    lang: "\n".join(_strings(questions.get(lang), f"{where}.questions", problems))
                    for lang in QUESTION_LANGUAGES
                },
                name_zh=str(item.get("name_zh") or ""),
                anchors=anchors,
                keywords={
                    lang: "\n".join(_strings(keywords.get(lang), f"{where}.keywords", problems))
                    for lang in QUESTION_LANGUAGES
                },
            )
        )
    if problems:
        raise InvalidInputError(problems)
    return rows


def save_from_json(
    store: Store, principal: Principal, requisition_id: int, body: dict[str, Any]
) -> ModelSpec:
    """Save a model sent as JSON as the job's next model version (all editor checks apply)."""
    origin = str(body.get("origin") or "api")
    if origin not in {"api", "starter", "import"}:
        raise InvalidInputError(["origin must be api, starter or import"])
    return save_competency_model(
        store,
        principal,
        requisition_id,
        rows_from_json(body),
        name=str(body.get("name") or ""),
        description=str(body.get("description") or ""),
        origin=origin,
    )


__all__ = [
    "dictionary_draft",
    "dimension_rows",
    "rows_from_json",
    "save_from_json",
    "spec_json",
    "starter_choices",
    "starter_draft",
]
