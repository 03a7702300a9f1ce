"""Reading an import source: size and encoding checks, then JSON or CSV into an ImportDocument."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from appliance.imports.problems import CsvLocator, ImportProblem, Locator, validation_problems
from appliance.imports.schema import (
    CSV_APPLICATION_COLUMNS,
    CSV_CANDIDATE_COLUMNS,
    CSV_COLUMNS,
    CSV_DECISION_COLUMNS,
    CSV_REQUIRED_COLUMNS,
    SCHEMA_ID,
    ImportDocument,
)
from appliance.platform import jsonlimits
from appliance.platform.words import said

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

MAX_SOURCE_BYTES = 4 << 20  # fits the web form's request limit (one upload piece + 1 MiB)


@dataclass(frozen=True)
class ImportSource:
    """The file to import: its name (for the format) and its bytes."""

    name: str
    data: bytes

    @classmethod
    def from_path(cls, path: Path) -> ImportSource:
        """Read a file (refusing one above the size limit without reading it all)."""
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
        return cls(path.name, data)

    @property
    def format(self) -> Literal["json", "csv"]:
        """`json` or `csv`, by the file name, else by the first character."""
        suffix = Path(self.name).suffix.lower()
        if suffix in (".json", ".csv"):
            return "json" if suffix == ".json" else "csv"
        return "json" if self.data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


@dataclass
class ParsedSource:
    """The document read from a source (None when it has problems) and how to locate paths."""

    document: ImportDocument | None
    problems: list[ImportProblem]
    locate: Locator


def parse_source(source: ImportSource) -> ParsedSource:
    """Read the source as JSON or CSV, by its format."""
    return _parse_json(source.data) if source.format == "json" else _parse_csv(source.data)


def _decode(data: bytes, locate: Locator) -> tuple[str | None, list[ImportProblem]]:
    if len(data) > MAX_SOURCE_BYTES:
        limit = MAX_SOURCE_BYTES // (1 << 20)
        return None, [
            locate.problem(
                (), said("the file is larger than the limit of %(limit)s MiB", limit=limit)
            )
        ]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [
            locate.problem(
                (), said("the file is not UTF-8 text (byte %(byte)s is not)", byte=exc.start + 1)
            )
        ]


def _validated(raw: dict[str, Any], locate: Locator) -> ParsedSource:
    try:
        document = ImportDocument.model_validate(raw)
    except ValidationError as exc:
        return ParsedSource(None, validation_problems(exc, locate), locate)
    return ParsedSource(document, [], locate)


# --- JSON --------------------------------------------------------------------------------------


def _noting_repeated_keys(repeated: list[str]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook that notes keys given twice (json keeps the last one silently)."""

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen[key] = value
        return seen

    return unique_keys


def _parse_json(data: bytes) -> ParsedSource:
    locate = Locator()
    text, problems = _decode(data, locate)
    if text is None:
        return ParsedSource(None, problems, locate)
    repeated: list[str] = []
    try:
        raw = jsonlimits.loads(
            text,
            max_bytes=MAX_SOURCE_BYTES,
            what="the file",
            object_pairs_hook=_noting_repeated_keys(repeated),
        )
    except jsonlimits.JsonLimitError as exc:
        return ParsedSource(None, [locate.problem((), str(exc))], locate)
    except json.JSONDecodeError as exc:
        problem = ImportProblem(
            f"{exc.lineno}:{exc.colno}", said("not valid JSON: %(reason)s", reason=exc.msg)
        )
        return ParsedSource(None, [problem], locate)
    if repeated:
        return ParsedSource(
            None,
            [
                locate.problem(
                    (), said("the key %(key)s appears twice in one object", key=repr(key))
                )
                for key in repeated[:20]
            ],
            locate,
        )
    if not isinstance(raw, dict):
        return ParsedSource(
            None, [locate.problem((), said("the file must hold one JSON object"))], locate
        )
    return _validated(raw, locate)


# --- CSV ---------------------------------------------------------------------------------------


def _parse_csv(data: bytes) -> ParsedSource:
    text, problems = _decode(data, Locator())
    if text is None:
        return ParsedSource(None, [ImportProblem("1", p.message) for p in problems], Locator())
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return ParsedSource(
            None,
            [ImportProblem("1", said("not valid CSV: %(reason)s", reason=str(exc)))],
            Locator(),
        )
    if header is None:
        return ParsedSource(None, [ImportProblem("1", said("the file is empty"))], Locator())
    names = [name.strip() for name in header]
    columns, problems = _csv_columns(names)
    locate = CsvLocator(columns)
    if problems:
        return ParsedSource(None, problems, locate)
    candidates, problems = _csv_candidates(reader, len(names), columns, locate)
    if problems:
        return ParsedSource(None, problems, locate)
    return _validated({"schema": SCHEMA_ID, "requisitions": [], "candidates": candidates}, locate)


def _csv_columns(names: list[str]) -> tuple[dict[str, int], list[ImportProblem]]:
    """The header's known columns (name -> 1-based index) and what is wrong with the header."""
    columns: dict[str, int] = {}
    problems = []
    for index, name in enumerate(names, start=1):
        if name not in CSV_COLUMNS:
            problems.append(ImportProblem(f"1:{index}", said("unknown column"), name or None))
        elif name in columns:
            problems.append(ImportProblem(f"1:{index}", said("the column appears twice"), name))
        else:
            columns[name] = index
    for name in CSV_REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(ImportProblem("1", said("the column %(name)s is missing", name=name)))
    if "requisition" not in columns and "requisition_title" not in columns:
        problems.append(
            ImportProblem("1", said("a column requisition or requisition_title is needed"))
        )
    return columns, problems


def _csv_candidates(
    reader: CsvReader, width: int, columns: dict[str, int], locate: CsvLocator
) -> tuple[list[dict[str, Any]], list[ImportProblem]]:
    """The rows after the header as import-v1 candidates, and the rows' problems.

    Rows with one external_id make one candidate with an application per row; `locate` learns
    the line of each candidate and application.
    """
    candidates: list[dict[str, Any]] = []
    first_cells: list[tuple[int, dict[str, str]]] = []
    by_key: dict[str, int] = {}
    problems: list[ImportProblem] = []
    line = reader.line_num
    try:
        for row in reader:
            start, line = line + 1, reader.line_num  # a quoted cell may span several lines
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != width:
                problems.append(
                    ImportProblem(
                        str(start),
                        said(
                            "%(cells)s cells where the header has %(width)s",
                            cells=len(row),
                            width=width,
                        ),
                    )
                )
                continue
            cells = {name: row[index - 1].strip() for name, index in columns.items()}
            key = cells["external_id"] or f"\x00{start}"  # a row without an id stands alone
            application = _csv_application(cells)
            if key not in by_key:
                by_key[key] = len(candidates)
                candidate: dict[str, Any] = {
                    c: cells[c] for c in CSV_CANDIDATE_COLUMNS if cells.get(c)
                }
                candidate["applications"] = [application]
                candidates.append(candidate)
                first_cells.append((start, cells))
                locate.candidate_lines.append(start)
                locate.application_lines.append([start])
                continue
            index = by_key[key]
            problems.extend(_csv_candidate_conflicts(start, cells, first_cells[index], columns))
            candidates[index]["applications"].append(application)
            locate.application_lines[index].append(start)
    except csv.Error as exc:
        problems.append(
            ImportProblem(str(line + 1), said("not valid CSV: %(reason)s", reason=str(exc)))
        )
    return candidates, problems


def _csv_application(cells: dict[str, str]) -> dict[str, Any]:
    """The application of one row, with the row's decision if it has one."""
    application: dict[str, Any] = {
        field_name: _csv_value(cells[column])
        for column, field_name in CSV_APPLICATION_COLUMNS.items()
        if cells.get(column)
    }
    decision = {
        field_name: cells[column]
        for column, field_name in CSV_DECISION_COLUMNS.items()
        if cells.get(column)
    }
    if decision:
        application["decisions"] = [decision]
    return application


def _csv_candidate_conflicts(
    start: int,
    cells: dict[str, str],
    first_row: tuple[int, dict[str, str]],
    columns: dict[str, int],
) -> list[ImportProblem]:
    """Candidate cells of a further row of a candidate that differ from its first row."""
    first_line, first = first_row
    return [
        ImportProblem(
            f"{start}:{columns[column]}",
            said("differs from line %(line)s, which has the same external_id", line=first_line),
            column,
        )
        for column in CSV_CANDIDATE_COLUMNS
        if column in columns and cells.get(column, "") != first.get(column, "")
    ]


def _csv_value(cell: str) -> Any:
    # Whole numbers are numbers (the round); everything else stays text for the model to check.
    return int(cell) if cell.isdigit() and len(cell) < 10 else cell
