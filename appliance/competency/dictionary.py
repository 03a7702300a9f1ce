"""Competency dictionaries from CSV, XLSX, JSON or YAML: parsed, validated with line-precise
errors, and turned into a model spec. Nothing is imported unless the whole file is valid.

The schema is documented in docs/competency-dictionary.md (examples in examples/). Table
formats (CSV, XLSX) have one competency per row; JSON and YAML have a `competencies` list.
"""

# Chinese separators are accepted in lists on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

from appliance.platform import jsonlimits
from appliance.platform.jsonlimits import MAX_DEPTH
from appliance.platform.problems import Problem
from appliance.store.competency import LANGUAGES, LEVELS

SCHEMA = "competency-dictionary/1"
FORMATS = ("csv", "xlsx", "json", "yaml")
MAX_BYTES = 2 * 1024 * 1024
MAX_COMPETENCIES = 30
MAX_TEXT = 2000
MAX_NAME = 200
MAX_KEYWORDS = 60
MAX_KEYWORD = 80
MAX_QUESTIONS = 20
MAX_QUESTION = 1000
MAX_PROBLEMS = 50

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
REQUIRED = ("id", "name", "weight")
OPTIONAL = (
    "name_zh",
    "description",
    *(f"anchor_{level}_{lang}" for level in LEVELS for lang in LANGUAGES),
    *(f"keywords_{lang}" for lang in LANGUAGES),
    *(f"questions_{lang}" for lang in LANGUAGES),
)
COLUMNS = (*REQUIRED, *OPTIONAL)
_LIST_SPLIT = {
    "keywords": re.compile(r"[;；,，、\n]"),
    "questions": re.compile(r"[|\n]"),
}
_TOP_KEYS = frozenset(
    {"schema", "name", "name_zh", "role", "role_zh", "description", "competencies"}
)
_NESTED_KEYS = frozenset({*COLUMNS, "anchors", "keywords", "questions"})


class DictionaryError(ValueError):
    """The file cannot be imported; `problems` lists every fault found (up to a limit)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class Competency:
    """One validated competency of a dictionary."""

    id: str
    name: str
    weight: float
    name_zh: str = ""
    description: str = ""
    anchors: dict[tuple[int, str], str] = field(default_factory=dict)
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    questions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True)
class Dictionary:
    """A validated dictionary: the model's name and role plus its competencies."""

    name: str
    competencies: tuple[Competency, ...]
    name_zh: str = ""
    role: str = ""
    role_zh: str = ""
    description: str = ""


Locate = Callable[[str | None], str]


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DictionaryError(self.problems)


def detect_format(filename: str, data: bytes) -> str:
    """The format from the file name's extension, else from the first bytes."""
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    if suffix == "yml":
        suffix = "yaml"
    if suffix in FORMATS:
        return suffix
    head = data[:512].lstrip()
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if head[:1] in (b"{", b"["):
        return "json"
    if head.startswith((b"schema:", b"name:", b"competencies:", b"#", b"---")):
        return "yaml"
    return "csv"


def decode_text(data: bytes) -> str:
    """UTF-8 text (a BOM is allowed), or an error naming the line of the first bad byte."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DictionaryError(
            [
                Problem(
                    f"line {line}, character {column}",
                    "the file is not valid UTF-8 text (save it as UTF-8, for example "
                    "'CSV UTF-8' in a spreadsheet program)",
                )
            ]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DictionaryError([Problem(f"line {line}", "the file holds binary data")])
    return text


def _split(kind: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in _LIST_SPLIT[kind].split(str(value)) if part.strip()]


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _competency(record: dict[str, Any], locate: Locate, problems: _Collector) -> Competency | None:
    before = len(problems.problems)
    for column in REQUIRED:
        if _text_value(record.get(column)) == "":
            problems.add(locate(column), f"{column} is required")
    key = _text_value(record.get("id"))
    if key and not KEY.match(key):
        problems.add(
            locate("id"),
            f"id {key!r} must start with a-z and hold only a-z, 0-9 and _ (at most 40)",
        )
    name = _text_value(record.get("name"))
    if len(name) > MAX_NAME:
        problems.add(locate("name"), f"name is longer than {MAX_NAME} characters")
    weight = math.nan
    raw_weight = _text_value(record.get("weight"))
    if raw_weight:
        try:
            weight = float(raw_weight.replace(",", "."))
        except ValueError:
            problems.add(locate("weight"), f"weight {raw_weight!r} is not a number")
        else:
            if not math.isfinite(weight) or weight <= 0:
                problems.add(locate("weight"), "weight must be a number above 0")
    texts: dict[str, str] = {}
    for column in ("name_zh", "description", *(c for c in OPTIONAL if c.startswith("anchor_"))):
        texts[column] = _text_value(record.get(column))
        if len(texts[column]) > MAX_TEXT:
            problems.add(locate(column), f"{column} is longer than {MAX_TEXT} characters")
    lists: dict[str, list[str]] = {}
    for kind, limit, length in (
        ("keywords", MAX_KEYWORDS, MAX_KEYWORD),
        ("questions", MAX_QUESTIONS, MAX_QUESTION),
    ):
        for lang in LANGUAGES:
            column = f"{kind}_{lang}"
            items = _split(kind, record.get(column))
            if len(items) > limit:
                problems.add(locate(column), f"at most {limit} {kind} per language")
            if any(len(item) > length for item in items):
                problems.add(locate(column), f"an entry is longer than {length} characters")
            lists[column] = items
    if len(problems.problems) > before:
        return None
    return Competency(
        key,
        name,
        weight,
        texts["name_zh"],
        texts["description"],
        {
            (level, lang): texts[f"anchor_{level}_{lang}"]
            for level in LEVELS
            for lang in LANGUAGES
            if texts[f"anchor_{level}_{lang}"]
        },
        {lang: tuple(lists[f"keywords_{lang}"]) for lang in LANGUAGES},
        {lang: tuple(lists[f"questions_{lang}"]) for lang in LANGUAGES},
        locate(None),
    )


def _check_duplicates(entries: list[Competency], problems: _Collector) -> None:
    first: dict[str, str] = {}
    for entry in entries:
        if entry.id in first:
            problems.add(entry.where, f"duplicate id {entry.id!r} (first at {first[entry.id]})")
        else:
            first[entry.id] = entry.where


# --- tables ------------------------------------------------------------------------------------


def _check_header(header: list[str], where: Callable[[int], str], problems: _Collector) -> None:
    seen: set[str] = set()
    for index, column in enumerate(header):
        if column not in COLUMNS:
            problems.add(
                where(index),
                f"unknown column {column!r} (known: {', '.join(COLUMNS)})",
            )
        elif column in seen:
            problems.add(where(index), f"column {column!r} appears twice")
        seen.add(column)
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        problems.add(where(-1), f"missing required column(s): {', '.join(missing)}")


def _parse_csv(text: str) -> list[Competency]:
    problems = _Collector()
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    entries: list[Competency] = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if not any(header):
            raise DictionaryError([Problem("line 1", "the file is empty (expected a header row)")])
        _check_header(
            header,
            lambda i: "line 1" if i < 0 else f"line 1, column {i + 1} ({header[i]!r})",
            problems,
        )
        problems.raise_if_any()
        start = reader.line_num + 1
        for row in reader:
            line = start
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.add(
                    f"line {line}",
                    f"{len(row)} cells but the header has {len(header)} columns",
                )
                continue
            record = dict(zip(header, row, strict=False))

            def locate(column: str | None, line: int = line) -> str:
                return f"line {line}" + (f", column {column}" if column else "")

            entry = _competency(record, locate, problems)
            if entry is not None:
                entries.append(entry)
            if len(entries) > MAX_COMPETENCIES:
                problems.add(f"line {line}", f"at most {MAX_COMPETENCIES} competencies")
                break
    except csv.Error as exc:
        problems.add(f"line {reader.line_num}", f"not readable as CSV: {exc}")
    _check_duplicates(entries, problems)
    problems.raise_if_any()
    return entries


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _parse_xlsx(data: bytes) -> list[Competency]:
    from openpyxl import load_workbook

    problems = _Collector()
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise DictionaryError(
            [Problem("", f"not a readable XLSX workbook ({type(exc).__name__})")]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        header = [_text_value(h).lower() for h in (first or ())]
        while header and not header[-1]:
            header.pop()
        title = sheet.title
        if not header:
            raise DictionaryError([Problem(f"sheet {title!r}, row 1", "expected a header row")])
        _check_header(
            header,
            lambda i: (
                f"sheet {title!r}, row 1"
                + ("" if i < 0 else f", column {_column_letter(i)} ({header[i]!r})")
            ),
            problems,
        )
        problems.raise_if_any()
        entries: list[Competency] = []
        for number, row in enumerate(rows, start=2):
            cells = list(row)
            if not any(_text_value(c) for c in cells):
                continue
            record = dict(zip(header, cells, strict=False))

            def locate(column: str | None, number: int = number) -> str:
                where = f"sheet {title!r}, row {number}"
                if column and column in header:
                    where += f", column {_column_letter(header.index(column))} ({column})"
                elif column:
                    where += f", column {column}"
                return where

            entry = _competency(record, locate, problems)
            if entry is not None:
                entries.append(entry)
            if len(entries) > MAX_COMPETENCIES:
                problems.add(f"row {number}", f"at most {MAX_COMPETENCIES} competencies")
                break
    finally:
        workbook.close()
    _check_duplicates(entries, problems)
    problems.raise_if_any()
    return entries


# --- JSON and YAML -----------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    assert isinstance(node, yaml.MappingNode)
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _plain(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _flatten(node: yaml.Node, problems: _Collector) -> tuple[dict[str, Any], dict[str, int]] | None:
    """A competency mapping as the flat columns of the table formats, with each one's line."""
    if not isinstance(node, yaml.MappingNode):
        problems.add(f"line {_line(node)}", "each competency must be a mapping of fields")
        return None
    record: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key, (key_node, value) in _mapping(node).items():
        if key not in _NESTED_KEYS:
            problems.add(f"line {_line(key_node)}", f"unknown field {key!r}")
            continue
        if key == "anchors":
            if not isinstance(value, yaml.MappingNode):
                problems.add(f"line {_line(value)}", "anchors must map 3, 6 and 9 to texts")
                continue
            for level_key, (level_node, by_lang) in _mapping(value).items():
                if level_key not in {"3", "6", "9"}:
                    problems.add(f"line {_line(level_node)}", "anchor levels are 3, 6 and 9")
                    continue
                if not isinstance(by_lang, yaml.MappingNode):
                    problems.add(f"line {_line(by_lang)}", "an anchor maps en and zh to texts")
                    continue
                for lang, (lang_node, text) in _mapping(by_lang).items():
                    if lang not in LANGUAGES:
                        problems.add(f"line {_line(lang_node)}", "languages are en and zh")
                        continue
                    record[f"anchor_{level_key}_{lang}"] = _plain(text)
                    lines[f"anchor_{level_key}_{lang}"] = _line(text)
        elif key in {"keywords", "questions"}:
            if not isinstance(value, yaml.MappingNode):
                problems.add(f"line {_line(value)}", f"{key} must map en and zh to lists")
                continue
            for lang, (lang_node, items) in _mapping(value).items():
                if lang not in LANGUAGES:
                    problems.add(f"line {_line(lang_node)}", "languages are en and zh")
                    continue
                record[f"{key}_{lang}"] = _plain(items)
                lines[f"{key}_{lang}"] = _line(items)
        else:
            record[key] = _plain(value)
            lines[key] = _line(value)
    return record, lines


def _where(mark: Any) -> str:
    # A PyYAML mark (the pure-Python or the C parser's), or None.
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _shape_problem(text: str) -> Problem | None:
    """Where the text nests collections deeper than MAX_DEPTH or uses an alias, if it does.

    Walks PyYAML's events (its parser keeps an explicit stack) before `compose`, which recurses
    once per level and would end a hundred thousand `[` in RecursionError. Aliases (`*name`)
    are refused: a dictionary has no use for them, and a few lines of them stand for any depth
    (each anchor one level more) or for billions of values once loaded.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            return Problem(_where(event.start_mark), "aliases (*name) are not allowed")
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return Problem(
                    _where(event.start_mark), f"nested more than {MAX_DEPTH} levels deep"
                )
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
    return None


def _parse_tree(text: str, fmt: str) -> tuple[dict[str, Any], list[Competency]]:
    problems = _Collector()
    if fmt == "json":
        try:
            jsonlimits.loads(text, max_bytes=MAX_BYTES, what="the file")
        except jsonlimits.JsonLimitError as exc:
            raise DictionaryError([Problem("", str(exc))]) from None
        except json.JSONDecodeError as exc:
            raise DictionaryError(
                [Problem(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")]
            ) from None
    try:
        misshapen = _shape_problem(text)
        if misshapen is not None:
            raise DictionaryError([misshapen])
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        where = _where(exc.problem_mark or exc.context_mark)
        raise DictionaryError([Problem(where, f"invalid {fmt.upper()}: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise DictionaryError([Problem("", f"invalid {fmt.upper()}: {exc}")]) from None
    if not isinstance(root, yaml.MappingNode):
        raise DictionaryError(
            [Problem("line 1", "the file must hold a mapping with name and competencies")]
        )
    top = _mapping(root)
    header: dict[str, Any] = {}
    for key, (key_node, value) in top.items():
        if key not in _TOP_KEYS:
            problems.add(f"line {_line(key_node)}", f"unknown field {key!r}")
        elif key != "competencies":
            header[key] = _text_value(_plain(value))
    if "schema" in header and header["schema"] != SCHEMA:
        problems.add(
            f"line {_line(top['schema'][1])}",
            f"schema must be {SCHEMA!r}, not {header['schema']!r}",
        )
    if "competencies" not in top:
        problems.add("line 1", "missing field 'competencies' (a list)")
        problems.raise_if_any()
    listing = top["competencies"][1]
    if not isinstance(listing, yaml.SequenceNode) or not listing.value:
        problems.add(f"line {_line(listing)}", "competencies must be a non-empty list")
        problems.raise_if_any()
    assert isinstance(listing, yaml.SequenceNode)
    if len(listing.value) > MAX_COMPETENCIES:
        problems.add(f"line {_line(listing)}", f"at most {MAX_COMPETENCIES} competencies")
        problems.raise_if_any()
    entries: list[Competency] = []
    for item in listing.value:
        flat = _flatten(item, problems)
        if flat is None:
            continue
        record, lines = flat
        start = _line(item)

        def locate(column: str | None, lines: dict[str, int] = lines, start: int = start) -> str:
            if column is None:
                return f"line {start}"
            return f"line {lines.get(column, start)}, field {column}"

        entry = _competency(record, locate, problems)
        if entry is not None:
            entries.append(entry)
    _check_duplicates(entries, problems)
    problems.raise_if_any()
    return header, entries


def parse_dictionary(data: bytes, filename: str = "", *, fmt: str | None = None) -> Dictionary:
    """Parse and validate a dictionary file; DictionaryError lists every fault with its place."""
    if len(data) > MAX_BYTES:
        raise DictionaryError(
            [
                Problem(
                    "",
                    f"the file is {len(data) / 1048576:.1f} MB; a dictionary may be at most "
                    f"{MAX_BYTES // 1048576} MB",
                )
            ]
        )
    if not data.strip():
        raise DictionaryError([Problem("line 1", "the file is empty")])
    chosen = fmt or detect_format(filename, data)
    if chosen not in FORMATS:
        raise DictionaryError(
            [Problem("", f"unknown format {chosen!r} (use {', '.join(FORMATS)})")]
        )
    header: dict[str, Any] = {}
    if chosen == "xlsx":
        entries = _parse_xlsx(data)
    elif chosen == "csv":
        entries = _parse_csv(decode_text(data))
    else:
        header, entries = _parse_tree(decode_text(data), chosen)
    if not entries:
        raise DictionaryError([Problem("", "the file holds no competencies")])
    return Dictionary(
        header.get("name", ""),
        tuple(entries),
        header.get("name_zh", ""),
        header.get("role", ""),
        header.get("role_zh", ""),
        header.get("description", ""),
    )
