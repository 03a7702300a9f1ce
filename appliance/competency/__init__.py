"""Competency models: built-in starter models, dictionary import and question generation."""

from __future__ import annotations

from pathlib import Path

from appliance.competency.dictionary import (
    Competency,
    Dictionary,
    DictionaryError,
    parse_dictionary,
)
from appliance.competency.questions import QuestionSource, generate_questions
from appliance.platform.problems import Problem
from appliance.store.competency import Anchor, DimensionSpec, Keyword, ModelSpec, Question

STARTER_DIR = Path(__file__).resolve().parent / "starter"


def _dimension(entry: Competency, role: str, role_zh: str, generate: bool) -> DimensionSpec:
    questions = {lang: list(entry.questions.get(lang, ())) for lang in ("en", "zh")}
    if generate and not (questions["en"] and questions["zh"]):
        drafted = generate_questions(
            QuestionSource(
                entry.name,
                entry.name_zh,
                entry.description,
                entry.keywords.get("en", ()),
                entry.keywords.get("zh", ()),
            ),
            role=role,
            role_zh=role_zh,
        )
        for lang in ("en", "zh"):
            questions[lang] = questions[lang] or drafted[lang]
    return DimensionSpec(
        entry.id,
        entry.name,
        entry.weight,
        entry.description,
        entry.name_zh,
        tuple(Question(lang, text) for lang in ("en", "zh") for text in questions[lang]),
        tuple(Anchor(level, lang, text) for (level, lang), text in sorted(entry.anchors.items())),
        tuple(
            Keyword(lang, phrase)
            for lang in ("en", "zh")
            for phrase in entry.keywords.get(lang, ())
        ),
    )


def dictionary_to_spec(
    dictionary: Dictionary,
    *,
    name: str = "",
    role: str = "",
    role_zh: str = "",
    origin: str = "import",
    generate: bool = True,
) -> ModelSpec:
    """A model spec from a dictionary, weights normalised to sum to 1; questions generated for
    competencies that have none (drafts for HR to edit)."""
    role = role or dictionary.role
    role_zh = role_zh or dictionary.role_zh
    dims = [_dimension(entry, role, role_zh, generate) for entry in dictionary.competencies]
    total = sum(d.weight for d in dims)
    normalised = tuple(
        DimensionSpec(
            d.key,
            d.name,
            round(d.weight / total, 6),
            d.description,
            d.name_zh,
            d.questions,
            d.anchors,
            d.keywords,
        )
        for d in dims
    )
    return ModelSpec(
        name or dictionary.name or role or "Imported model",
        normalised,
        dictionary.description,
        origin=origin,
    )


def starter_keys() -> list[str]:
    """The built-in starter models, by file name."""
    return sorted(path.stem for path in STARTER_DIR.glob("*.yaml"))


def starter_dictionary(key: str) -> Dictionary:
    """One built-in starter model as a validated dictionary."""
    if key not in starter_keys():
        raise KeyError(f"no starter model {key!r}")
    path = STARTER_DIR / f"{key}.yaml"
    return parse_dictionary(path.read_bytes(), path.name)


def starter_spec(key: str) -> ModelSpec:
    """One built-in starter model as an unsaved spec."""
    return dictionary_to_spec(starter_dictionary(key), origin="starter")


__all__ = [
    "STARTER_DIR",
    "Dictionary",
    "DictionaryError",
    "Problem",
    "dictionary_to_spec",
    "generate_questions",
    "parse_dictionary",
    "starter_dictionary",
    "starter_keys",
    "starter_spec",
]
