"""Problems with an import source, where they are in the file, and the errors that carry them.

Each problem names its place as a JSON path (`$.candidates[2].email`) or, for the CSV flavour,
as line:column; messages never repeat the offending value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from appliance.imports.schema import (
    CSV_APPLICATION_COLUMNS,
    CSV_CANDIDATE_COLUMNS,
    CSV_DECISION_COLUMNS,
)
from appliance.platform.errors import ApplianceError
from appliance.platform.words import Said, said

# --- problems and where they are ---------------------------------------------------------------


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with the source: where (JSON path or CSV line:column) and what."""

    location: str
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"{self.location} ({self.column})" if self.column else self.location
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the message never repeats the offending value)."""
        return {"location": self.location, "column": self.column, "message": self.message}


DocPath = tuple[str | int, ...]


class Locator:
    """Turns a path inside the document into a location in the source file."""

    def __call__(self, path: DocPath) -> tuple[str, str | None]:
        text = "$"
        for part in path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text, None

    def problem(self, path: DocPath, message: str) -> ImportProblem:
        """A problem at `path`."""
        location, column = self(path)
        return ImportProblem(location, message, column)


class CsvLocator(Locator):
    """Turns a path inside a document read from CSV into the line:column it came from."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.columns = columns
        self.candidate_lines: list[int] = []
        self.application_lines: list[list[int]] = []

    def _cell(self, line: int, column: str | None) -> tuple[str, str | None]:
        if column is None:
            return str(line), None
        index = self.columns.get(column)
        return (f"{line}:{index}" if index else str(line)), column

    def __call__(self, path: DocPath) -> tuple[str, str | None]:
        parts = list(path)
        if len(parts) < 2 or parts[0] != "candidates" or not isinstance(parts[1], int):
            return "1", None
        i, rest = parts[1], parts[2:]
        if len(rest) >= 2 and rest[0] == "applications" and isinstance(rest[1], int):
            line, tail = self.application_lines[i][rest[1]], rest[2:]
            if len(tail) >= 3 and tail[0] == "decisions":
                by_field = {value: key for key, value in CSV_DECISION_COLUMNS.items()}
                return self._cell(line, by_field.get(str(tail[2])))
            by_field = {value: key for key, value in CSV_APPLICATION_COLUMNS.items()}
            return self._cell(line, by_field.get(str(tail[0])) if tail else None)
        line = self.candidate_lines[i]
        if rest and rest[0] in CSV_CANDIDATE_COLUMNS:
            return self._cell(line, str(rest[0]))
        return str(line), None


_MESSAGES = {
    "missing": said("this field is required"),
    "extra_forbidden": said("unknown field (not part of import-v1)"),
    "string_too_short": said("must not be empty"),
}


def _message(error: Any) -> str:
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "string_too_long":
        return said("too long: the limit is %(limit)s characters", limit=context.get("max_length"))
    if kind == "too_long":
        return said("too many entries: the limit is %(limit)s", limit=context.get("max_length"))
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    cause = context.get("error")  # a check of schema.py that said its sentence
    if isinstance(cause, ValueError) and cause.args and isinstance(cause.args[0], Said):
        return cause.args[0]
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def validation_problems(exc: ValidationError, locate: Locator) -> list[ImportProblem]:
    """The model's validation errors as problems at their places in the source."""
    return [locate.problem(tuple(error["loc"]), _message(error)) for error in exc.errors()]


# --- the errors --------------------------------------------------------------------------------


class ImportRejectedError(ApplianceError):
    """The source has problems (or the batch cannot be imported); nothing was written."""

    exit_code = 31

    def __init__(self, message: str, problems: Sequence[ImportProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class ImportFailedError(ApplianceError):
    """The import failed part-way or did not verify; it was rolled back entirely."""

    exit_code = 32

    def __init__(
        self,
        message: str,
        *,
        batch_id: int,
        reason: str,
        report: dict[str, Any] | None = None,
        problems: Sequence[ImportProblem] = (),
    ) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.reason = reason
        self.report = report
        self.problems = list(problems)
