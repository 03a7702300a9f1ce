"""Importing post-hire outcomes from HR's systems: a CSV or XLSX file, checked line by line.

The file's columns (docs/outcome-import.md): `employee_id` (required), `candidate` (the
candidate's reference on the box, needed the first time an employee id is linked), `job` (the
job's number, needed when the person was hired into more than one job), `start_date`,
`probation`, `left_on`, `left_voluntarily`, `rating_date`, `rating`. An empty cell leaves the
field as it is. Several lines may name the same employee (one per rating); they must agree on
the other fields. Nothing is written unless the whole file is right; a dry run only plans.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from appliance.hiring.common import InvalidInputError
from appliance.hiring.outcomes import (
    changed_fields,
    check_fields,
    check_rating,
    clean_employee_id,
    parse_day,
)
from appliance.platform.clock import utcnow
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.db import IntegrityError
from appliance.store.outcomes import PROBATION_RESULTS, HireOutcome, OutcomeFields

MAX_BYTES = 4 << 20
MAX_LINES = 20_000
COLUMNS = (
    "employee_id",
    "candidate",
    "job",
    "start_date",
    "probation",
    "left_on",
    "left_voluntarily",
    "rating_date",
    "rating",
)
FIELD_COLUMNS = ("start_date", "probation", "left_on", "left_voluntarily")
YES = {"yes", "y", "true", "1", "voluntary"}
NO = {"no", "n", "false", "0", "involuntary"}


class OutcomeImportError(RefusedError):
    """The file cannot be read as an outcome import at all (format, size, header)."""

    exit_code = 51


@dataclass(frozen=True)
class LineProblem:
    """One fault, where it is: the line (1 is the header) and the column when known."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class _Hire:
    """What the file says about one hire, gathered over its lines."""

    candidate_id: int
    requisition_id: int
    pseudonym: str
    employee_id: str
    existing: HireOutcome | None
    values: dict[str, Any] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, tuple[float, int]] = field(default_factory=dict)
    faulty: bool = False  # a line of this hire has a fault: its merged fields are not checked


@dataclass(frozen=True)
class OutcomePlan:
    """What an import would do (dry run) or did: counts, and every problem found."""

    source_sha256: str
    lines: int
    problems: tuple[LineProblem, ...]
    linked: int  # new outcomes (an employee id linked to a hire for the first time)
    updated: int  # existing outcomes with a field changed
    unchanged: int
    ratings: int  # ratings added or replaced
    applied: bool = False

    @property
    def ok(self) -> bool:
        """Whether the file can be imported as it is."""
        return not self.problems


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise OutcomeImportError(
            f"the file is not UTF-8 text (byte {error.start}); save it as CSV UTF-8"
        ) from None
    if "\x00" in text:
        raise OutcomeImportError("the file holds NUL characters: it is not a CSV file")
    try:
        yield from csv.reader(io.StringIO(text, newline=""), strict=True)
    except csv.Error as error:
        raise OutcomeImportError(f"the CSV file is malformed: {error}") from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise OutcomeImportError(f"the XLSX file cannot be read: {error}") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(value) for value in row]
    except (SyntaxError, ValueError, KeyError, zipfile.BadZipFile, OSError) as error:
        # A damaged sheet shows itself only while its rows are read (ParseError is a
        # SyntaxError).
        raise OutcomeImportError(f"the XLSX file cannot be read: {error}") from None
    finally:
        book.close()


def read_rows(name: str, data: bytes) -> list[list[str]]:
    """The file's rows as text cells (CSV by default, XLSX by name or content)."""
    if len(data) > MAX_BYTES:
        raise OutcomeImportError(f"the file is larger than {MAX_BYTES >> 20} MiB")
    if not data.strip():
        raise OutcomeImportError("the file is empty")
    xlsx = Path(name).suffix.lower() == ".xlsx" or data[:4] == b"PK\x03\x04"
    if Path(name).suffix.lower() not in ("", ".csv", ".txt", ".xlsx"):
        raise OutcomeImportError("outcomes are imported from a .csv or .xlsx file")
    rows: list[list[str]] = []
    for row in _xlsx_rows(data) if xlsx else _csv_rows(data):
        rows.append([_cell(value) for value in row])
        if len(rows) > MAX_LINES + 1:
            raise OutcomeImportError(f"the file has more than {MAX_LINES} lines")
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise OutcomeImportError("the file is empty")
    return rows


def _header(row: list[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in row]
    unknown = [name for name in names if name and name not in COLUMNS]
    if unknown:
        raise OutcomeImportError(
            f"line 1: unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}"
        )
    if "employee_id" not in names:
        raise OutcomeImportError("line 1: the column employee_id is required")
    doubled = sorted({name for name in names if name and names.count(name) > 1})
    if doubled:
        raise OutcomeImportError(f"line 1: the column {doubled[0]} appears twice")
    return {name: index for index, name in enumerate(names) if name}


class _Planner:
    """Reads the lines against the store: which hire each names and what it changes."""

    def __init__(self, store: Store, visibility: Visibility) -> None:
        self.store = store
        self.visibility = visibility
        self.today = utcnow().date()
        self.problems: list[LineProblem] = []
        self.hires: dict[tuple[int, int], _Hire] = {}
        self.by_employee: dict[str, tuple[int, int]] = {}
        # The hires this person may record outcomes for: an employee id of any other hire is
        # treated as unknown (never changed, and its existence never told).
        self.reach: set[tuple[int, int]] = {
            (candidate, job) for candidate, job, _ in store.outcomes.hires_visible(visibility)
        }

    def fault(self, line: int, column: str | None, message: str) -> None:
        self.problems.append(LineProblem(line, column, message))

    def _candidate(self, reference: str, line: int) -> int | None:
        try:
            candidate = self.store.candidates.get_by_pseudonym(reference)
            self.store.candidates.get_visible(candidate.id, self.visibility)
        except NotFoundError:
            self.fault(line, "candidate", f"no candidate {reference!r} in your reach")
            return None
        return candidate.id

    def _job(self, candidate_id: int, job: str, line: int) -> int | None:
        hired = sorted(job_id for cid, job_id in self.reach if cid == candidate_id)
        if job:
            if not job.isdigit() or int(job) not in hired:
                self.fault(line, "job", f"the candidate was not hired into job {job!r}")
                return None
            return int(job)
        if len(hired) == 1:
            return hired[0]
        if not hired:
            self.fault(line, "candidate", "this candidate has no hire decision")
        else:
            self.fault(line, "job", "the candidate was hired into several jobs: name the job")
        return None

    def hire_of(self, cells: dict[str, str], line: int) -> _Hire | None:
        try:
            employee = clean_employee_id(cells.get("employee_id"))
        except InvalidInputError as error:
            self.fault(line, "employee_id", error.problems[0])
            return None
        known = self.store.outcomes.by_employee(employee)
        reference = cells.get("candidate", "")
        if known is not None and (known.candidate_id, known.requisition_id) not in self.reach:
            if not reference:
                self.fault(
                    line,
                    "candidate",
                    f"the employee id {employee} is new: give the candidate's reference",
                )
            else:
                self.fault(line, "employee_id", f"the employee id {employee} cannot be used")
            return None
        earlier = self.by_employee.get(employee)
        if earlier is not None and not reference and not cells.get("job"):
            return self.hires[earlier]  # named on an earlier line of this file
        if known is not None:
            key = (known.candidate_id, known.requisition_id)
            if reference:
                candidate_id = self._candidate(reference, line)
                if candidate_id is not None and candidate_id != known.candidate_id:
                    self.fault(
                        line, "candidate", f"the employee id {employee} belongs to another hire"
                    )
                    return None
            # In reach means the hire stands: hires_visible lists only standing hires.
        else:
            if not reference:
                self.fault(
                    line,
                    "candidate",
                    f"the employee id {employee} is new: give the candidate's reference",
                )
                return None
            candidate_id = self._candidate(reference, line)
            if candidate_id is None:
                return None
            job = self._job(candidate_id, cells.get("job", ""), line)
            if job is None:
                return None
            key = (candidate_id, job)
        seen = self.by_employee.get(employee)
        if seen is not None and seen != key:
            self.fault(line, "employee_id", f"the employee id {employee} names two hires")
            return None
        hire = self.hires.get(key)
        if hire is not None and hire.employee_id != employee:
            self.fault(line, "employee_id", "two employee ids for the same hire")
            return None
        if hire is None:
            # A hire linked already under another id gets the new id (a change HR made).
            existing = self.store.outcomes.for_hire(*key)
            hire = _Hire(
                key[0],
                key[1],
                self.store.candidates.get(key[0]).pseudonym,
                employee,
                existing,
            )
            self.hires[key] = hire
            self.by_employee[employee] = key
        return hire

    def value(self, column: str, text: str, line: int) -> tuple[bool, Any]:
        try:
            if column in ("start_date", "left_on"):
                return True, parse_day(
                    text, column, today=self.today if column == "left_on" else None
                )
            if column == "probation":
                word = text.lower()
                if word not in PROBATION_RESULTS:
                    raise InvalidInputError(
                        [f"{text!r} is not one of {', '.join(PROBATION_RESULTS)}"]
                    )
                return True, word
            word = text.lower()
            if word in YES:
                return True, True
            if word in NO:
                return True, False
            raise InvalidInputError([f"{text!r} is not yes or no"])
        except InvalidInputError as error:
            message = error.problems[0].removeprefix(f"{column}: ")
            self.fault(line, column, message)
            return False, None

    def read_line(self, cells: dict[str, str], line: int) -> None:
        hire = self.hire_of(cells, line)
        if hire is None:
            return
        before = len(self.problems)
        self._read_values(hire, cells, line)
        hire.faulty = hire.faulty or len(self.problems) > before

    def _read_values(self, hire: _Hire, cells: dict[str, str], line: int) -> None:
        for column in FIELD_COLUMNS:
            text = cells.get(column, "")
            if not text:
                continue
            ok, value = self.value(column, text, line)
            if not ok:
                continue
            if column in hire.values and hire.values[column] != value:
                self.fault(
                    line,
                    column,
                    f"{text} differs from line {hire.first_line[column]} for the same employee",
                )
                continue
            hire.values[column] = value
            hire.first_line.setdefault(column, line)
        day_text, rating_text = cells.get("rating_date", ""), cells.get("rating", "")
        if bool(day_text) != bool(rating_text):
            self.fault(
                line,
                "rating" if day_text else "rating_date",
                "a rating needs both its date and its value",
            )
            return
        if day_text:
            try:
                day = parse_day(day_text, "rating_date", today=self.today)
                value = check_rating(rating_text)
            except InvalidInputError as error:
                column = "rating_date" if "date" in error.problems[0] else "rating"
                self.fault(line, column, error.problems[0].removeprefix(f"{column}: "))
                return
            assert day is not None
            if day in hire.ratings and hire.ratings[day][0] != value:
                self.fault(
                    line,
                    "rating",
                    f"a different rating for {day} is on line {hire.ratings[day][1]}",
                )
                return
            hire.ratings[day] = (value, line)

    def fields_of(self, hire: _Hire) -> OutcomeFields:
        base = hire.existing or OutcomeFields()
        values = hire.values
        return OutcomeFields(
            values.get("start_date", base.start_date),
            values.get("probation", base.probation),
            values.get("left_on", base.left_on),
            values.get("left_voluntarily", base.left_voluntarily),
        )

    def finish(self) -> None:
        for hire in self.hires.values():
            if hire.faulty:
                continue  # its own faults are reported; what follows from them would be noise
            fields = self.fields_of(hire)
            line = min(hire.first_line.values(), default=None)
            for problem in check_fields(fields, today=self.today):
                self.fault(line or 0, None, f"employee {hire.employee_id}: {problem}")
            other = self.store.outcomes.by_employee(hire.employee_id)
            if other is not None and (other.candidate_id, other.requisition_id) != (
                hire.candidate_id,
                hire.requisition_id,
            ):
                self.fault(line or 0, "employee_id", f"{hire.employee_id} belongs to another hire")
            start = fields.start_date
            for day, (_, rating_line) in hire.ratings.items():
                if start is not None and day < start:
                    self.fault(rating_line, "rating_date", "the rating is before the start date")
                if start is None:
                    self.fault(rating_line, "rating_date", "a rating needs the start date")


def plan_outcomes(
    store: Store, principal: Principal, name: str, data: bytes, *, apply: bool = False
) -> OutcomePlan:
    """Check an outcome file line by line; with `apply`, write it (all of it, or nothing)."""
    visibility = require(principal, Action.RECORD_OUTCOMES)
    rows = read_rows(name, data)
    columns = _header(rows[0])
    planner = _Planner(store, visibility)
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell for cell in row):
            continue
        if len(row) > len(rows[0]):
            planner.fault(number, None, f"{len(row)} cells under {len(rows[0])} columns")
            continue
        cells = {
            column: row[index] if index < len(row) else "" for column, index in columns.items()
        }
        planner.read_line(cells, number)
    planner.finish()
    linked = updated = unchanged = ratings = 0
    changes: list[tuple[_Hire, OutcomeFields, list[str], list[tuple[str, float]]]] = []
    for hire in planner.hires.values():
        fields = planner.fields_of(hire)
        changed = changed_fields(hire.existing, hire.employee_id, fields)
        new_ratings = [
            (day, value)
            for day, (value, _) in sorted(hire.ratings.items())
            if hire.existing is None
            or all(r.rated_on != day or r.rating != value for r in hire.existing.ratings)
        ]
        if hire.existing is None:
            linked += 1
        elif changed:
            updated += 1
        elif not new_ratings:
            unchanged += 1
        ratings += len(new_ratings)
        changes.append((hire, fields, changed, new_ratings))
    digest = hashlib.sha256(data).hexdigest()
    problems = tuple(sorted(planner.problems, key=lambda p: (p.line, p.column or "")))
    plan = OutcomePlan(digest, len(rows) - 1, problems, linked, updated, unchanged, ratings)
    if not apply or problems:
        return plan
    try:
        _apply(store, principal, changes, digest, plan, linked, updated, ratings)
    except IntegrityError:
        # Someone linked one of these employee ids in the meantime: nothing was written.
        raise OutcomeImportError(
            "an employee id of the file was linked to another hire meanwhile: check it again"
        ) from None
    return OutcomePlan(digest, plan.lines, (), linked, updated, unchanged, ratings, applied=True)


def _apply(
    store: Store,
    principal: Principal,
    changes: list[tuple[_Hire, OutcomeFields, list[str], list[tuple[str, float]]]],
    digest: str,
    plan: OutcomePlan,
    linked: int,
    updated: int,
    ratings: int,
) -> None:
    with store.transaction():
        for hire, fields, changed, new_ratings in changes:
            if not changed and not new_ratings and hire.existing is not None:
                continue
            outcome_id = store.outcomes.save(
                hire.candidate_id, hire.requisition_id, hire.employee_id, fields, principal.user_id
            )
            for day, value in new_ratings:
                store.outcomes.put_rating(outcome_id, hire.candidate_id, day, value)
            store.audit.append(
                principal.actor,
                "outcome.recorded",
                subject=hire.pseudonym,
                details={
                    "requisition": hire.requisition_id,
                    "fields": changed,
                    "ratings": len(new_ratings),
                    "import": digest,
                },
            )
        store.audit.append(
            principal.actor,
            "outcome.imported",
            details={
                "sha256": digest,
                "lines": plan.lines,
                "linked": linked,
                "updated": updated,
                "ratings": ratings,
            },
        )


__all__ = [
    "COLUMNS",
    "LineProblem",
    "OutcomeImportError",
    "OutcomePlan",
    "plan_outcomes",
    "read_rows",
]
