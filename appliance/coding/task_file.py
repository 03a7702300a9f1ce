"""Coding-task files (YAML or JSON): parsed, checked with line-precise errors, and written back.

The schema is docs/coding-tasks.md (example: examples/coding-task.yaml). Nothing is imported
unless the whole file is valid; every fault found is listed with its line and field. A task
made in a form is checked by the same rules (`check_task_data`: the file's fields as data,
its faults named by field alone).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml

from appliance.coding.judge import TestCase
from appliance.coding.languages import LANGUAGES, available
from appliance.coding.model import MIB, Limits
from appliance.coding.sandbox import MAX_SOURCE_BYTES
from appliance.coding.task import SCHEMA, TEXT_LANGUAGES, CodingTask, Generator, task_to_json
from appliance.platform import jsonlimits
from appliance.platform.problems import Problem
from appliance.platform.words import said
from appliance.platform.yamllimits import yaml_shape_problem

FORMATS = ("yaml", "json")
MAX_BYTES = 2 * MIB  # as a competency dictionary; fits an API body as JSON text
MAX_TITLE = 200
MAX_STATEMENT = 20_000
MAX_TESTS = 100
MAX_CASE_BYTES = 512 * 1024
MAX_CASE_NAME = 100
MAX_STARTER_BYTES = 64 * 1024
MAX_PROBLEMS = 50
CPU_RANGE = (0.1, 10.0)
WALL_MAX = 30.0
MEMORY_MB_RANGE = (16, 1024)
SIZES_COUNT = (3, 8)
MAX_SIZE = 10_000_000
DEFAULTS = {"cpu_seconds": 2.0, "memory_mb": 256}
KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_TOP = ("schema", "key", "title", "statement", "languages", "limits", "starter", "reference")
TOP_FIELDS = frozenset({*_TOP, "tests", "generator"})
LIMIT_FIELDS = frozenset({"cpu_seconds", "wall_seconds", "memory_mb"})
CASE_FIELDS = frozenset({"name", "input", "output", "hidden"})
PROGRAM_FIELDS = frozenset({"language", "code"})
GENERATOR_FIELDS = frozenset({"language", "code", "sizes"})


@dataclass(frozen=True)
class FieldProblem(Problem):
    """A fault with the path of its field (`tests[1].output`, `limits.cpu_seconds`, or empty
    for the whole task), so a form can show it beside the field it is about."""

    field: str = ""


class TaskFileError(ValueError):
    """The file cannot be imported; `problems` lists every fault found (up to a limit)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:5]))
        self.problems = problems


class _Checker:
    """Walks the composed YAML nodes, collecting problems with their lines."""

    def __init__(self, offered: list[str]) -> None:
        self.problems: list[Problem] = []
        self.offered = offered

    def add(self, node: yaml.Node | None, path: str, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            return
        # Nodes made from data (a form) have no line.
        where = f"line {_line(node)}" if node is not None and node.start_mark else ""
        if path:
            where = f"{where}, field {path}" if where else f"field {path}"
        self.problems.append(FieldProblem(where, message, path))

    def mapping(
        self, node: yaml.Node, path: str, known: frozenset[str]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.add(node, path, said("must be a mapping of fields"))
            return None
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value in node.value:
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            inner = f"{path}.{name}" if path else name
            if name not in known:
                known_text = ", ".join(sorted(known))
                self.add(
                    key_node, inner, said("unknown field (known: %(known)s)", known=known_text)
                )
            elif name in found:
                self.add(key_node, inner, said("appears twice"))
            else:
                found[name] = (key_node, value)
        return found

    def text(
        self,
        node: yaml.Node,
        path: str,
        *,
        limit: int,
        required: bool = True,
        in_bytes: bool = False,
    ) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.add(node, path, said("must be text"))
            return None
        value = "" if node.tag == "tag:yaml.org,2002:null" else str(node.value)
        size = len(value.encode("utf-8")) if in_bytes else len(value)
        if required and not value.strip():
            self.add(node, path, said("is empty"))
            return None
        if size > limit:
            if in_bytes:
                self.add(node, path, said("is longer than %(limit)s bytes", limit=limit))
            else:
                self.add(node, path, said("is longer than %(limit)s characters", limit=limit))
            return None
        return value

    def number(self, node: yaml.Node, path: str, low: float, high: float) -> float | None:
        value = _plain(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(node, path, said("must be a number"))
            return None
        if not math.isfinite(value) or not low <= value <= high:
            bounds = {"low": format(low, "g"), "high": format(high, "g")}
            self.add(node, path, said("must be between %(low)s and %(high)s", **bounds))
            return None
        return float(value)

    def language(self, node: yaml.Node, path: str) -> str | None:
        name = self.text(node, path, limit=20)
        if name is None:
            return None
        if name not in LANGUAGES:
            known = ", ".join(LANGUAGES)
            self.add(
                node,
                path,
                said("unknown language %(name)s (known: %(known)s)", name=repr(name), known=known),
            )
            return None
        if name not in self.offered:
            runs = ", ".join(self.offered)
            self.add(
                node,
                path,
                said(
                    "this box has no toolchain for %(name)s (it runs: %(runs)s)",
                    name=name,
                    runs=runs,
                ),
            )
            return None
        return name

    def texts_by_language(self, node: yaml.Node, path: str, limit: int) -> dict[str, str]:
        """`title` and `statement`: text per language (en, zh), or one text taken as English."""
        if isinstance(node, yaml.ScalarNode):
            value = self.text(node, path, limit=limit)
            return {"en": value} if value is not None else {}
        fields = self.mapping(node, path, frozenset(TEXT_LANGUAGES))
        if fields is None:
            return {}
        found = {}
        for lang, (_key, value_node) in fields.items():
            value = self.text(value_node, f"{path}.{lang}", limit=limit)
            if value is not None:
                found[lang] = value.strip() if path == "title" else value
        if not fields:
            self.add(node, path, said("needs an English (en) or Chinese (zh) text"))
        return found


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _plain(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def detect_format(filename: str, data: bytes) -> str:
    """`json` or `yaml`, from the name's extension, else from the first character."""
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    if suffix in ("yaml", "yml"):
        return "yaml"
    if suffix == "json":
        return "json"
    return "json" if data.lstrip()[:1] in (b"{", b"[") else "yaml"


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TaskFileError([Problem(f"line {line}", "the file is not valid UTF-8 text")]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TaskFileError([Problem(f"line {line}", "the file holds binary data")])
    return text


def _compose(text: str, fmt: str) -> yaml.Node:
    if fmt == "json":
        try:
            jsonlimits.loads(text, max_bytes=MAX_BYTES, what="the file")
        except jsonlimits.JsonLimitError as exc:
            raise TaskFileError([Problem("", str(exc))]) from None
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise TaskFileError([Problem(where, f"invalid JSON: {exc.msg}")]) from None
    try:
        misshapen = yaml_shape_problem(text)
        if misshapen is not None:
            where = f"line {misshapen.line}, column {misshapen.column}"
            raise TaskFileError([Problem(where, misshapen.message)])
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TaskFileError([Problem(where, f"invalid {fmt.upper()}: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise TaskFileError([Problem("", f"invalid {fmt.upper()}: {exc}")]) from None
    if root is None:
        raise TaskFileError([Problem("line 1", "the file is empty")])
    return root


def _limits(check: _Checker, node: yaml.Node | None) -> Limits:
    fields = check.mapping(node, "limits", LIMIT_FIELDS) if node is not None else {}
    values: dict[str, float] = {}
    for name, (low, high) in (
        ("cpu_seconds", CPU_RANGE),
        ("memory_mb", (float(MEMORY_MB_RANGE[0]), float(MEMORY_MB_RANGE[1]))),
    ):
        if fields and name in fields:
            found = check.number(fields[name][1], f"limits.{name}", low, high)
            if found is not None:
                values[name] = found
    cpu = values.get("cpu_seconds", DEFAULTS["cpu_seconds"])
    wall = max(5.0, 2 * cpu)
    if fields and "wall_seconds" in fields:
        wall = check.number(fields["wall_seconds"][1], "limits.wall_seconds", cpu, WALL_MAX) or wall
    memory_mb = int(values.get("memory_mb", DEFAULTS["memory_mb"]))
    return Limits(cpu_s=cpu, wall_s=wall, memory_bytes=memory_mb * MIB)


def _program(
    check: _Checker, node: yaml.Node, path: str, known: frozenset[str]
) -> tuple[dict[str, tuple[yaml.Node, yaml.Node]], str | None, str | None] | None:
    fields = check.mapping(node, path, known)
    if fields is None:
        return None
    for name in ("language", "code"):
        if name not in fields:
            check.add(node, f"{path}.{name}", said("is required"))
    language = (
        check.language(fields["language"][1], f"{path}.language") if "language" in fields else None
    )
    code = (
        check.text(fields["code"][1], f"{path}.code", limit=MAX_SOURCE_BYTES, in_bytes=True)
        if "code" in fields
        else None
    )
    return fields, language, code


def _tests(check: _Checker, node: yaml.Node) -> tuple[TestCase, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        check.add(node, "tests", said("must be a non-empty list of cases"))
        return ()
    if len(node.value) > MAX_TESTS:
        check.add(node, "tests", said("at most %(count)s cases", count=MAX_TESTS))
        return ()
    cases: list[TestCase] = []
    names: dict[str, int] = {}
    for index, item in enumerate(node.value):
        path = f"tests[{index}]"
        fields = check.mapping(item, path, CASE_FIELDS)
        if fields is None:
            continue
        for name in ("input", "output"):
            if name not in fields:
                check.add(item, f"{path}.{name}", said("is required"))
        texts = {
            name: check.text(
                fields[name][1],
                f"{path}.{name}",
                limit=MAX_CASE_BYTES,
                required=False,
                in_bytes=True,
            )
            for name in ("input", "output")
            if name in fields
        }
        label = f"case {index + 1}"
        if "name" in fields:
            label = check.text(fields["name"][1], f"{path}.name", limit=MAX_CASE_NAME) or label
            label = label.strip()
            if label in names:
                check.add(
                    fields["name"][1],
                    f"{path}.name",
                    said(
                        "%(name)s is taken by tests[%(index)s]",
                        name=repr(label),
                        index=names[label],
                    ),
                )
            names[label] = index
        hidden = False
        if "hidden" in fields:
            flag = _plain(fields["hidden"][1])
            if not isinstance(flag, bool):
                check.add(fields["hidden"][1], f"{path}.hidden", said("must be true or false"))
            hidden = flag is True
        if texts.get("input") is not None and texts.get("output") is not None:
            cases.append(TestCase(str(texts["input"]), str(texts["output"]), hidden, label))
    if cases and all(case.hidden for case in cases):
        check.add(node, "tests", said("at least one case must be visible (hidden: false)"))
    return tuple(cases)


def _sizes(check: _Checker, node: yaml.Node, path: str) -> tuple[int, ...]:
    value = _plain(node)
    low, high = SIZES_COUNT
    if (
        not isinstance(value, list)
        or not low <= len(value) <= high
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
    ):
        check.add(
            node,
            path,
            said("must be a list of %(low)s to %(high)s whole numbers", low=low, high=high),
        )
        return ()
    if any(not 1 <= n <= MAX_SIZE for n in value) or value != sorted(set(value)):
        check.add(node, path, said("sizes must grow, each between 1 and %(most)s", most=MAX_SIZE))
        return ()
    return tuple(value)


def _task(check: _Checker, root: yaml.Node) -> CodingTask | None:
    top = check.mapping(root, "", TOP_FIELDS)
    if top is None:
        return None
    for name in ("key", "title", "statement", "reference", "tests"):
        if name not in top:
            check.add(root, name, said("is required"))
    if "schema" in top:
        schema = _plain(top["schema"][1])
        if schema != SCHEMA:
            check.add(
                top["schema"][1],
                "schema",
                said("must be %(schema)s, not %(given)s", schema=repr(SCHEMA), given=repr(schema)),
            )
    key = check.text(top["key"][1], "key", limit=40) if "key" in top else None
    if key is not None and not KEY.match(key):
        check.add(top["key"][1], "key", said("starts with a-z, then a-z, 0-9, _ or - (at most 40)"))
        key = None
    title = check.texts_by_language(top["title"][1], "title", MAX_TITLE) if "title" in top else {}
    statement = (
        check.texts_by_language(top["statement"][1], "statement", MAX_STATEMENT)
        if "statement" in top
        else {}
    )
    languages = list(check.offered)
    if "languages" in top:
        node = top["languages"][1]
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            check.add(node, "languages", said("must be a non-empty list"))
        else:
            named = [check.language(item, f"languages[{i}]") for i, item in enumerate(node.value)]
            languages = list(dict.fromkeys(name for name in named if name is not None))
    limits = _limits(check, top["limits"][1] if "limits" in top else None)
    starter: dict[str, str] = {}
    if "starter" in top:
        fields = check.mapping(top["starter"][1], "starter", frozenset(LANGUAGES))
        for lang, (lang_node, code_node) in (fields or {}).items():
            if lang not in languages:
                # With the languages left to the box, a starter for one it lacks just goes
                # unused (the same file imports on boxes with other toolchains).
                if "languages" in top:
                    check.add(
                        lang_node, f"starter.{lang}", said("is not one of the task's languages")
                    )
                continue
            code = check.text(
                code_node, f"starter.{lang}", limit=MAX_STARTER_BYTES, required=False, in_bytes=True
            )
            if code is not None:
                starter[lang] = code
    references = _references(check, top["reference"][1]) if "reference" in top else None
    tests = _tests(check, top["tests"][1]) if "tests" in top else ()
    generator = None
    if "generator" in top:
        found = _program(check, top["generator"][1], "generator", GENERATOR_FIELDS)
        if found is not None:
            fields, language, code = found
            if "sizes" not in fields:
                check.add(top["generator"][1], "generator.sizes", "is required")
            sizes = (
                _sizes(check, fields["sizes"][1], "generator.sizes") if "sizes" in fields else ()
            )
            if language and code and sizes:
                generator = Generator(language, code, sizes)
    if check.problems or key is None or not references:
        return None
    (ref_language, ref_code), *others = references.items()
    return CodingTask(
        key=key,
        title=title,
        statement=statement,
        languages=tuple(languages),
        tests=tests,
        limits=limits,
        reference_language=ref_language,
        reference_code=ref_code,
        starter=starter,
        generator=generator,
        other_references=dict(others),
    )


def _references(check: _Checker, node: yaml.Node) -> dict[str, str] | None:
    """`reference`: one {language, code}, or a list of them (one per language, the main one
    first); None when a fault was found."""
    if not isinstance(node, yaml.SequenceNode):
        found = _program(check, node, "reference", PROGRAM_FIELDS)
        if found is None or found[1] is None or found[2] is None:
            return None
        return {found[1]: found[2]}
    if not node.value:
        check.add(node, "reference", said("must be a non-empty list"))
        return None
    references: dict[str, str] = {}
    complete = True
    for index, item in enumerate(node.value):
        path = f"reference[{index}]"
        found = _program(check, item, path, PROGRAM_FIELDS)
        if found is None:
            complete = False
            continue
        fields, language, code = found
        if language is None or code is None:
            complete = False
            continue
        if language in references:
            check.add(
                fields["language"][1],
                f"{path}.language",
                said("a second reference in %(language)s (one per language)", language=language),
            )
            complete = False
            continue
        references[language] = code
    return references if complete else None


def check_task_data(data: Mapping[str, Any], *, offered: list[str] | None = None) -> CodingTask:
    """Check a task given as data in the file's form (a form's fields) by the rules of the
    file; TaskFileError lists every fault, each a FieldProblem named by its field."""
    root = yaml.representer.SafeRepresenter(sort_keys=False).represent_data(dict(data))
    check = _Checker(offered if offered is not None else available())
    task = _task(check, root)
    if check.problems or task is None:
        raise TaskFileError(check.problems or [Problem("", said("the task is incomplete"))])
    return task


def parse_task_file(
    data: bytes, filename: str = "", *, offered: list[str] | None = None
) -> CodingTask:
    """Parse and check a task file; TaskFileError lists every fault with its line and field.

    `offered`: the languages a task may use (those this box has the toolchain for).
    """
    if len(data) > MAX_BYTES:
        size = f"{len(data) / MIB:.1f} MB"
        raise TaskFileError(
            [Problem("", f"the file is {size}; a task file may be at most {MAX_BYTES // MIB} MB")]
        )
    if not data.strip():
        raise TaskFileError([Problem("line 1", "the file is empty")])
    fmt = detect_format(filename, data)
    root = _compose(_decode(data), fmt)
    check = _Checker(offered if offered is not None else available())
    task = _task(check, root)
    if check.problems or task is None:
        raise TaskFileError(check.problems or [Problem("", "the file holds no task")])
    return task


class _BlockDumper(yaml.SafeDumper):
    """Multi-line text as `|` blocks, so code and test cases read as they are."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_text)


def dump_task_file(task: CodingTask, fmt: str = "yaml") -> bytes:
    """The task as a file of `fmt` (yaml or json) that `parse_task_file` reads back the same."""
    data = {"schema": SCHEMA, **task_to_json(task)}
    if fmt == "json":
        return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    text = yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
    return text.encode("utf-8")
