"""A coding task as the round uses it: statement, starter code, languages, test cases, limits,
reference solutions (one or one per language) and an optional input generator; and its JSON
form (the file's form too, docs/coding-tasks.md), which is what the store keeps per version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appliance.coding.judge import TestCase
from appliance.coding.model import MIB, Limits

SCHEMA = "coding-task/1"
TEXT_LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Generator:
    """A program that prints a test input for a size n read from stdin (for growth estimates)."""

    language: str
    code: str
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class CodingTask:
    """One coding task; `tests` holds visible and hidden cases with their expected outputs.

    `reference_language`/`reference_code` is the main reference solution; `other_references`
    holds solutions in further languages (language -> code). A submission is measured beside
    the reference in its own language, else beside the main one.
    """

    key: str
    title: Mapping[str, str]
    statement: Mapping[str, str]
    languages: tuple[str, ...]
    tests: tuple[TestCase, ...]
    limits: Limits
    reference_language: str
    reference_code: str
    starter: Mapping[str, str] = field(default_factory=dict)
    generator: Generator | None = None
    other_references: Mapping[str, str] = field(default_factory=dict)

    @property
    def references(self) -> dict[str, str]:
        """Every reference solution by language, the main one first."""
        found = {self.reference_language: self.reference_code}
        for language, code in self.other_references.items():
            found.setdefault(language, code)
        return found

    def reference_for(self, language: str) -> tuple[str, str]:
        """The reference a submission in `language` is compared with: (language, code)."""
        if language != self.reference_language and language in self.other_references:
            return language, self.other_references[language]
        return self.reference_language, self.reference_code

    def title_in(self, language: str) -> str:
        """The title in `language` ("en" or "zh"), else in the other one."""
        return _in(self.title, language)

    def statement_in(self, language: str) -> str:
        """The statement in `language` ("en" or "zh"), else in the other one."""
        return _in(self.statement, language)

    @property
    def visible_tests(self) -> tuple[TestCase, ...]:
        """The cases a candidate may see and run."""
        return tuple(test for test in self.tests if not test.hidden)

    @property
    def hidden_count(self) -> int:
        """How many hidden cases the task has."""
        return sum(1 for test in self.tests if test.hidden)


def _in(texts: Mapping[str, str], language: str) -> str:
    other = "zh" if language == "en" else "en"
    return texts.get(language) or texts.get(other) or ""


def task_to_json(task: CodingTask) -> dict[str, Any]:
    """The task in its file form (without `schema`): what is stored and exported."""
    data: dict[str, Any] = {
        "key": task.key,
        "title": dict(task.title),
        "statement": dict(task.statement),
        "languages": list(task.languages),
        "limits": {
            "cpu_seconds": task.limits.cpu_s,
            "wall_seconds": task.limits.wall_s,
            "memory_mb": task.limits.memory_bytes // MIB,
        },
        "starter": dict(task.starter),
        # One reference keeps the original form (files of old versions read back the same).
        "reference": (
            [{"language": name, "code": code} for name, code in task.references.items()]
            if len(task.references) > 1
            else {"language": task.reference_language, "code": task.reference_code}
        ),
        "tests": [
            {"name": test.name, "input": test.input, "output": test.expected, "hidden": test.hidden}
            for test in task.tests
        ],
    }
    if task.generator is not None:
        data["generator"] = {
            "language": task.generator.language,
            "code": task.generator.code,
            "sizes": list(task.generator.sizes),
        }
    return data


def task_from_json(data: Mapping[str, Any]) -> CodingTask:
    """A task from its stored JSON form (checked when it was imported)."""
    limits = data.get("limits") or {}
    generator = data.get("generator")
    reference = data["reference"]
    # One mapping (every version stored before per-language references), or a list of them.
    references = [reference] if isinstance(reference, Mapping) else list(reference)
    main, others = references[0], references[1:]
    return CodingTask(
        key=str(data["key"]),
        title=dict(data.get("title") or {}),
        statement=dict(data.get("statement") or {}),
        languages=tuple(data.get("languages") or ()),
        tests=tuple(
            TestCase(
                input=str(test.get("input", "")),
                expected=str(test.get("output", "")),
                hidden=bool(test.get("hidden", False)),
                name=str(test.get("name") or f"case {index + 1}"),
            )
            for index, test in enumerate(data.get("tests") or ())
        ),
        limits=Limits(
            cpu_s=float(limits.get("cpu_seconds", 2.0)),
            wall_s=float(limits.get("wall_seconds", 5.0)),
            memory_bytes=int(limits.get("memory_mb", 256)) * MIB,
        ),
        reference_language=str(main["language"]),
        reference_code=str(main["code"]),
        starter=dict(data.get("starter") or {}),
        generator=(
            Generator(
                str(generator["language"]),
                str(generator["code"]),
                tuple(int(n) for n in generator["sizes"]),
            )
            if isinstance(generator, Mapping)
            else None
        ),
        other_references={str(item["language"]): str(item["code"]) for item in others},
    )
