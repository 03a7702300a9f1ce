"""Message texts per purpose, recipient and language, and what to prepare per role family.

The texts live in `texts/<language>.toml` (one file per language, so translators edit data,
not code). Placeholders are filled with `str.format_map`; every time in them was written by
`appliance.scheduling.render.render_time` in the recipient's zone and language.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh_CN")
ROLE_FAMILIES = ("technical", "sales", "executive", "general")
TEXTS = Path(__file__).with_name("texts")


@dataclass(frozen=True)
class Template:
    """A subject line and a body."""

    subject: str
    body: str


@dataclass(frozen=True)
class Texts:
    """One language's texts."""

    prepare: dict[str, str]
    messages: dict[str, Template]


@cache
def texts(language: str) -> Texts:
    """The texts of a supported language (read once per process)."""
    with open(TEXTS / f"{language}.toml", "rb") as handle:
        data = tomllib.load(handle)
    return Texts(
        prepare={key: str(value) for key, value in data["prepare"].items()},
        messages={
            purpose: Template(str(item["subject"]), str(item["body"]))
            for purpose, item in data["messages"].items()
        },
    )


def language_of(language: str) -> str:
    """A supported template language for a person's language (English otherwise)."""
    if language in LANGUAGES:
        return language
    return "zh_CN" if language.lower().startswith("zh") else "en"


def prepare_text(role_family: str, language: str) -> str:
    """What a candidate should prepare, for the role family, in their language."""
    family = role_family if role_family in ROLE_FAMILIES else "general"
    return texts(language_of(language)).prepare[family]


def render(purpose: str, language: str, values: dict[str, object]) -> tuple[str, str]:
    """(subject, body) of a purpose's template in a language, placeholders filled."""
    template = texts(language_of(language)).messages[purpose]
    filled = {key: str(value) for key, value in values.items()}
    return template.subject.format_map(filled), template.body.format_map(filled)
