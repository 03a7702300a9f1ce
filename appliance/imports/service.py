"""Data migration from another HR system: dry run, all-or-nothing import, verification.

The source is an `interview-appliance/import-v1` document (JSON: requisitions and candidates
with their applications and human decisions) or its CSV flavour (candidates only, one row per
candidate-application; see docs/import-format.md). Every step takes the acting principal and
needs the IMPORT_DATA permission.

* `plan_import` is the dry run: it validates the file (each problem with its JSON path or CSV
  line:column), resolves references against the store, and reports what would be created and
  which records already exist (same external id, or a candidate with the same e-mail) and
  would be skipped. It logs the batch and writes `import.dry_run` to the audit log.
* `run_import` imports everything in ONE transaction on the main database: any failure rolls
  all of it back (and the vault keys made for the rolled-back candidates are shredded). Before
  committing it verifies the result three ways: (a) counts per entity in the source, imported
  and re-read from the store, (b) the SHA-256 of each record's canonical form in the source
  and re-exported from the store, (c) a round trip: the imported records exported back into
  import-v1, parsed again and compared with the (normalised) source. A mismatch fails the
  import like any other error. The verification report holds locations, ids, counts and
  hashes, never names or e-mail addresses.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from appliance.hiring.review import MAX_REASON_CHARS
from appliance.hiring.service import reaches
from appliance.platform.clock import now_stamp, to_stamp, utcnow
from appliance.platform.errors import ApplianceError, NotFoundError
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.base import dumps
from appliance.store.hiring import Requisition
from appliance.store.imports import ImportBatch, ImportRepository

logger = logging.getLogger(__name__)

SCHEMA_ID = "interview-appliance/import-v1"
MAX_SOURCE_BYTES = 4 << 20  # fits the web form's request limit (one upload piece + 1 MiB)
MAX_TEXT = 200  # as the web forms: names, titles, departments, locations, e-mail addresses
MAX_EXTERNAL_ID = 100
MAX_REQUISITIONS = 10_000
MAX_CANDIDATES = 50_000
MAX_APPLICATIONS = 50
MAX_DECISIONS = 50
MAX_ROUND = 100
STAGE_TTL_S = 3600  # an uploaded file waits at most this long for its confirmation
ENTITIES = ("requisitions", "candidates", "interviews", "decisions")

Region = Literal["EU", "US-NYC", "US-IL", "US-MD", "CN", "default"]
Language = Literal["en", "zh"]
RequisitionStatus = Literal["draft", "open", "closed"]
InterviewStatus = Literal["planned", "recorded", "analysing", "analysed", "failed", "cancelled"]
InterviewKind = Literal["upload", "async", "live"]
DecisionKind = Literal[
    "advance", "reject", "hire", "recommend_hire", "recommend_reject", "recommend_hold"
]


class ImportRejectedError(ApplianceError):
    """The source has problems (or the batch cannot be imported); nothing was written."""

    exit_code = 30

    def __init__(self, message: str, problems: Sequence[ImportProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class ImportFailedError(ApplianceError):
    """The import failed part-way or did not verify; it was rolled back entirely."""

    exit_code = 31

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


# --- the import-v1 format ----------------------------------------------------------------------


def _no_control(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("control characters are not allowed")
    return value


def _no_control_but_lines(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" and char not in "\n\r\t" for char in value):
        raise ValueError("control characters other than line breaks and tabs are not allowed")
    return value


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # as the web forms and accounts
_PHONE = re.compile(r"[0-9+()./\- ]{3,40}")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("not a valid e-mail address")
    return value


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError("a phone number holds 3 to 40 digits, spaces and + ( ) . / -")
    return value


def _external_id(value: str) -> str:
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("an external id holds no spaces or control characters")
    return value


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
    AfterValidator(_no_control),
]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_EXTERNAL_ID),
    AfterValidator(_external_id),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_TEXT),
    AfterValidator(_email),
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_phone)
]
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON_CHARS),
    AfterValidator(_no_control_but_lines),
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionRecord(_Record):
    """A person's decision or recommendation, as made in the other system."""

    kind: DecisionKind
    reason: Reason
    decided_at: AwareDatetime
    decided_by: Username


class ApplicationRecord(_Record):
    """A candidate's application to a requisition: its interview and the decisions on it."""

    requisition: ExternalId | None = None
    requisition_title: Text | None = None
    round: StrictInt = Field(1, ge=1, le=MAX_ROUND)
    status: InterviewStatus = "planned"
    kind: InterviewKind = "upload"
    language: Annotated[Language | None, BeforeValidator(_empty_is_none)] = None
    scheduled_at: Annotated[AwareDatetime | None, BeforeValidator(_empty_is_none)] = None
    decisions: list[DecisionRecord] = Field(default_factory=list, max_length=MAX_DECISIONS)

    @model_validator(mode="after")
    def _one_reference(self) -> ApplicationRecord:
        if (self.requisition is None) == (self.requisition_title is None):
            raise ValueError("give either requisition (an external id) or requisition_title")
        return self


class CandidateRecord(_Record):
    """A candidate with the applications to import."""

    external_id: ExternalId
    full_name: Text
    email: Annotated[Email | None, BeforeValidator(_empty_is_none)] = None
    phone: Annotated[Phone | None, BeforeValidator(_empty_is_none)] = None
    residence_region: Region
    language: Language
    applications: list[ApplicationRecord] = Field(min_length=1, max_length=MAX_APPLICATIONS)


class RequisitionRecord(_Record):
    """A requisition to create."""

    external_id: ExternalId
    title: Text
    department: Text
    location: Text
    region: Region
    status: RequisitionStatus = "open"


class ImportDocument(_Record):
    """A whole import-v1 document."""

    schema_id: Literal["interview-appliance/import-v1"] = Field(alias="schema")
    requisitions: list[RequisitionRecord] = Field(default_factory=list, max_length=MAX_REQUISITIONS)
    candidates: list[CandidateRecord] = Field(default_factory=list, max_length=MAX_CANDIDATES)


CSV_CANDIDATE_COLUMNS = (
    "external_id",
    "full_name",
    "email",
    "phone",
    "residence_region",
    "language",
)
# CSV column -> field of the application
CSV_APPLICATION_COLUMNS = {
    "requisition": "requisition",
    "requisition_title": "requisition_title",
    "round": "round",
    "status": "status",
    "kind": "kind",
    "interview_language": "language",
    "scheduled_at": "scheduled_at",
}
# CSV column -> field of the (single) decision of a row
CSV_DECISION_COLUMNS = {
    "decision_kind": "kind",
    "decision_reason": "reason",
    "decided_at": "decided_at",
    "decided_by": "decided_by",
}
CSV_COLUMNS = (*CSV_CANDIDATE_COLUMNS, *CSV_APPLICATION_COLUMNS, *CSV_DECISION_COLUMNS)
CSV_REQUIRED_COLUMNS = ("external_id", "full_name", "residence_region", "language")


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


class _Locator:
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


class _CsvLocator(_Locator):
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
    "missing": "this field is required",
    "extra_forbidden": "unknown field (not part of import-v1)",
    "string_too_short": "must not be empty",
}


def _message(error: Any) -> str:
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"too long: the limit is {context.get('max_length')} characters"
    if kind == "too_long":
        return f"too many entries: the limit is {context.get('max_length')}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _validation_problems(exc: ValidationError, locate: _Locator) -> list[ImportProblem]:
    return [locate.problem(tuple(error["loc"]), _message(error)) for error in exc.errors()]


# --- reading the source ------------------------------------------------------------------------


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
class _Parsed:
    document: ImportDocument | None
    problems: list[ImportProblem]
    locate: _Locator


def _decode(data: bytes, locate: _Locator) -> tuple[str | None, list[ImportProblem]]:
    if len(data) > MAX_SOURCE_BYTES:
        limit = MAX_SOURCE_BYTES // (1 << 20)
        return None, [locate.problem((), f"the file is larger than the limit of {limit} MiB")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [
            locate.problem((), f"the file is not UTF-8 text (byte {exc.start + 1} is not)")
        ]


def _parse_json(data: bytes) -> _Parsed:
    locate = _Locator()
    text, problems = _decode(data, locate)
    if text is None:
        return _Parsed(None, problems, locate)
    repeated: list[str] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen[key] = value
        return seen

    try:
        raw = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        problem = ImportProblem(f"{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")
        return _Parsed(None, [problem], locate)
    if repeated:
        return _Parsed(
            None,
            [
                locate.problem((), f"the key {key!r} appears twice in one object")
                for key in repeated[:20]
            ],
            locate,
        )
    if not isinstance(raw, dict):
        return _Parsed(None, [locate.problem((), "the file must hold one JSON object")], locate)
    try:
        document = ImportDocument.model_validate(raw)
    except ValidationError as exc:
        return _Parsed(None, _validation_problems(exc, locate), locate)
    return _Parsed(document, [], locate)


def _parse_csv(data: bytes) -> _Parsed:
    text, problems = _decode(data, _Locator())
    if text is None:
        return _Parsed(None, [ImportProblem("1", p.message) for p in problems], _Locator())
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return _Parsed(None, [ImportProblem("1", f"not valid CSV: {exc}")], _Locator())
    if header is None:
        return _Parsed(None, [ImportProblem("1", "the file is empty")], _Locator())
    names = [name.strip() for name in header]
    columns: dict[str, int] = {}
    problems = []
    for index, name in enumerate(names, start=1):
        if name not in CSV_COLUMNS:
            problems.append(ImportProblem(f"1:{index}", "unknown column", name or None))
        elif name in columns:
            problems.append(ImportProblem(f"1:{index}", "the column appears twice", name))
        else:
            columns[name] = index
    for name in CSV_REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(ImportProblem("1", f"the column {name} is missing"))
    if "requisition" not in columns and "requisition_title" not in columns:
        problems.append(ImportProblem("1", "a column requisition or requisition_title is needed"))
    locate = _CsvLocator(columns)
    if problems:
        return _Parsed(None, problems, locate)

    candidates: list[dict[str, Any]] = []
    first_cells: list[tuple[int, dict[str, str]]] = []
    by_key: dict[str, int] = {}
    line = reader.line_num
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                problems.append(
                    ImportProblem(str(start), f"{len(row)} cells where the header has {len(names)}")
                )
                continue
            cells = {name: row[index - 1].strip() for name, index in columns.items()}
            key = cells["external_id"] or f"\x00{start}"
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
            first_line, first = first_cells[index]
            for column in CSV_CANDIDATE_COLUMNS:
                if column in columns and cells.get(column, "") != first.get(column, ""):
                    problems.append(
                        ImportProblem(
                            f"{start}:{columns[column]}",
                            f"differs from line {first_line}, which has the same external_id",
                            column,
                        )
                    )
            candidates[index]["applications"].append(application)
            locate.application_lines[index].append(start)
    except csv.Error as exc:
        problems.append(ImportProblem(str(line + 1), f"not valid CSV: {exc}"))
    if problems:
        return _Parsed(None, problems, locate)
    try:
        document = ImportDocument.model_validate(
            {"schema": SCHEMA_ID, "requisitions": [], "candidates": candidates}
        )
    except ValidationError as exc:
        return _Parsed(None, _validation_problems(exc, locate), locate)
    return _Parsed(document, [], locate)


def _csv_value(cell: str) -> Any:
    # Whole numbers are numbers (the round); everything else stays text for the model to check.
    return int(cell) if cell.isdigit() and len(cell) < 10 else cell


def _parse(source: ImportSource) -> _Parsed:
    return _parse_json(source.data) if source.format == "json" else _parse_csv(source.data)


def _check_document(document: ImportDocument, locate: _Locator) -> list[ImportProblem]:
    """What is wrong inside the file itself, whatever the store holds."""
    problems: list[ImportProblem] = []
    if not document.requisitions and not document.candidates:
        problems.append(locate.problem((), "the file holds no requisitions and no candidates"))
    seen: dict[str, int] = {}
    for i, requisition in enumerate(document.requisitions):
        if requisition.external_id in seen:
            first, _ = locate(("requisitions", seen[requisition.external_id]))
            problems.append(
                locate.problem(
                    ("requisitions", i, "external_id"),
                    f"the external id is used twice in the file (first at {first})",
                )
            )
        seen.setdefault(requisition.external_id, i)
    seen_candidates: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    now = utcnow()
    for i, candidate in enumerate(document.candidates):
        if candidate.external_id in seen_candidates:
            first, _ = locate(("candidates", seen_candidates[candidate.external_id]))
            problems.append(
                locate.problem(
                    ("candidates", i, "external_id"),
                    f"the external id is used twice in the file (first at {first})",
                )
            )
        seen_candidates.setdefault(candidate.external_id, i)
        if candidate.email:
            email = candidate.email.casefold()
            if email in seen_emails:
                first, _ = locate(("candidates", seen_emails[email]))
                problems.append(
                    locate.problem(
                        ("candidates", i, "email"),
                        f"another candidate in the file has this e-mail address ({first})",
                    )
                )
            seen_emails.setdefault(email, i)
        targets: set[tuple[str, str]] = set()
        for j, application in enumerate(candidate.applications):
            target = (
                ("requisition", application.requisition)
                if application.requisition is not None
                else ("requisition_title", application.requisition_title or "")
            )
            if target in targets:
                problems.append(
                    locate.problem(
                        ("candidates", i, "applications", j, target[0]),
                        "the candidate applies to this requisition twice (one application per "
                        "requisition)",
                    )
                )
            targets.add(target)
            for k, decision in enumerate(application.decisions):
                if decision.decided_at > now:
                    problems.append(
                        locate.problem(
                            ("candidates", i, "applications", j, "decisions", k, "decided_at"),
                            "a decision cannot be dated in the future",
                        )
                    )
    return problems


# --- resolving the file against the store ------------------------------------------------------


@dataclass(frozen=True)
class Duplicate:
    """A record of the file that already exists in the store: reported and skipped."""

    entity: str
    location: str
    reason: Literal["external_id", "email"]
    existing_id: int
    external_id: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the external id."""
        return {
            "entity": self.entity,
            "location": self.location,
            "reason": self.reason,
            "existing_id": self.existing_id,
        }


@dataclass(frozen=True)
class _Ref:
    """Where an application's requisition comes from: the file (index) or the store (id)."""

    in_file: bool
    value: int


@dataclass(frozen=True)
class _Resolution:
    problems: tuple[ImportProblem, ...]
    requisitions: tuple[int | None, ...]  # per file requisition: the existing id, or None
    candidates: tuple[tuple[str, int] | None, ...]  # per candidate: (reason, existing id)
    references: tuple[tuple[_Ref | None, ...], ...]  # per candidate, per application
    users: tuple[tuple[str, int], ...]  # username -> id, sorted


def _imports(store: Store) -> ImportRepository:
    """The store's import repository (wired as `store.imports`, or made here until it is)."""
    wired = getattr(store, "imports", None)
    return wired if isinstance(wired, ImportRepository) else ImportRepository(store)


def _existing_emails(store: Store) -> dict[str, int]:
    found: dict[str, int] = {}
    for candidate_id in _imports(store).candidate_ids():
        try:
            email = store.candidates.get(candidate_id).email
        except ApplianceError:  # gone, or erased (its data key shredded)
            continue
        if email:
            found.setdefault(email.strip().casefold(), candidate_id)
    return found


def _resolve(
    store: Store, visibility: Visibility, document: ImportDocument, locate: _Locator
) -> _Resolution:
    """Requisitions, duplicates and accounts of the file, as the store holds them now."""
    imports = _imports(store)
    problems: list[ImportProblem] = []
    visible = {req.id: req for req in store.requisitions.visible(visibility)}

    known_requisitions = imports.local_ids(
        "requisition",
        sorted(
            {r.external_id for r in document.requisitions}
            | {
                a.requisition
                for c in document.candidates
                for a in c.applications
                if a.requisition is not None
            }
        ),
    )
    file_requisitions: dict[str, int] = {}
    requisitions: list[int | None] = []
    for i, record in enumerate(document.requisitions):
        file_requisitions.setdefault(record.external_id, i)
        existing = known_requisitions.get(record.external_id)
        requisitions.append(existing)
        if existing is None and not reaches(
            visibility, region=record.region, department=record.department
        ):
            problems.append(
                locate.problem(
                    ("requisitions", i, "region"),
                    "you may not import requisitions into this region",
                )
            )

    known_candidates = imports.local_ids(
        "candidate", sorted({c.external_id for c in document.candidates})
    )
    emails = _existing_emails(store) if any(c.email for c in document.candidates) else {}
    candidates: list[tuple[str, int] | None] = []
    references: list[tuple[_Ref | None, ...]] = []
    usernames: dict[str, list[DocPath]] = {}
    for i, candidate in enumerate(document.candidates):
        skip: tuple[str, int] | None = None
        if candidate.external_id in known_candidates:
            skip = ("external_id", known_candidates[candidate.external_id])
        elif candidate.email and candidate.email.casefold() in emails:
            skip = ("email", emails[candidate.email.casefold()])
        candidates.append(skip)
        if skip is not None:
            references.append(tuple(None for _ in candidate.applications))
            continue
        refs: list[_Ref | None] = []
        for j, application in enumerate(candidate.applications):
            refs.append(
                _reference(
                    application,
                    ("candidates", i, "applications", j),
                    file_requisitions,
                    requisitions,
                    known_requisitions,
                    visible,
                    locate,
                    problems,
                )
            )
            for k, decision in enumerate(application.decisions):
                usernames.setdefault(decision.decided_by, []).append(
                    ("candidates", i, "applications", j, "decisions", k, "decided_by")
                )
        references.append(tuple(refs))

    users: dict[str, int] = {}
    for username, paths in usernames.items():
        user = store.users.by_username(username)
        if user is None:
            problems.extend(
                locate.problem(path, "there is no account with this user name") for path in paths
            )
        else:
            users[username] = user.id
    return _Resolution(
        tuple(problems),
        tuple(requisitions),
        tuple(candidates),
        tuple(references),
        tuple(sorted(users.items())),
    )


def _reference(
    application: ApplicationRecord,
    path: DocPath,
    file_requisitions: dict[str, int],
    requisitions: list[int | None],
    known: dict[str, int],
    visible: dict[int, Requisition],
    locate: _Locator,
    problems: list[ImportProblem],
) -> _Ref | None:
    if application.requisition is not None:
        external_id = application.requisition
        if external_id in file_requisitions:
            index = file_requisitions[external_id]
            existing = requisitions[index]
            if existing is None:
                return _Ref(True, index)
            if existing in visible:
                return _Ref(False, existing)
        elif known.get(external_id) in visible:
            return _Ref(False, known[external_id])
        problems.append(
            locate.problem(
                (*path, "requisition"),
                "no requisition with this external id in the file or imported before "
                "(within your regions)",
            )
        )
        return None
    title = application.requisition_title or ""
    matches = [req.id for req in visible.values() if req.title == title]
    if len(matches) == 1:
        return _Ref(False, matches[0])
    problems.append(
        locate.problem(
            (*path, "requisition_title"),
            "no requisition within your regions has this title"
            if not matches
            else f"{len(matches)} requisitions have this title: use the external id",
        )
    )
    return None


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRecord:
    """One record of the file and what the import would do with it (shown to the importer)."""

    entity: str
    location: str
    external_id: str
    label: str
    action: Literal["create", "skip"]
    applications: int = 0
    decisions: int = 0
    reason: str = ""
    existing_id: int | None = None


@dataclass
class ImportPlan:
    """The dry run's result; `run_import` imports exactly this plan, or nothing."""

    batch_id: int
    source_format: Literal["json", "csv"]
    source_sha256: str
    source_bytes: int
    problems: list[ImportProblem]
    duplicates: list[Duplicate]
    counts: dict[str, dict[str, int]]
    document: ImportDocument | None = field(default=None, repr=False)
    locate: _Locator = field(default_factory=_Locator, repr=False)
    resolution: _Resolution | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the file can be imported as it is."""
        return not self.problems and self.document is not None and self.resolution is not None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: counts, problems and duplicates by location (no personal data)."""
        return {
            "batch": self.batch_id,
            "format": self.source_format,
            "source_sha256": self.source_sha256,
            "source_bytes": self.source_bytes,
            "ok": self.ok,
            "counts": self.counts,
            "problems": [problem.as_dict() for problem in self.problems],
            "duplicates": [duplicate.as_dict() for duplicate in self.duplicates],
        }

    def records(self) -> list[PlannedRecord]:
        """Every requisition and candidate of the file with the planned action."""
        if self.document is None or self.resolution is None:
            return []
        found = []
        for i, req in enumerate(self.document.requisitions):
            existing = self.resolution.requisitions[i]
            found.append(
                PlannedRecord(
                    "requisition",
                    self.locate(("requisitions", i))[0],
                    req.external_id,
                    req.title,
                    "create" if existing is None else "skip",
                    reason="" if existing is None else "external_id",
                    existing_id=existing,
                )
            )
        for i, cand in enumerate(self.document.candidates):
            skip = self.resolution.candidates[i]
            found.append(
                PlannedRecord(
                    "candidate",
                    self.locate(("candidates", i))[0],
                    cand.external_id,
                    cand.full_name,
                    "create" if skip is None else "skip",
                    len(cand.applications),
                    sum(len(a.decisions) for a in cand.applications),
                    "" if skip is None else skip[0],
                    None if skip is None else skip[1],
                )
            )
        return found


def _counts(document: ImportDocument, resolution: _Resolution) -> dict[str, dict[str, int]]:
    counts = {entity: {"source": 0, "create": 0, "skipped": 0} for entity in ENTITIES}

    def add(entity: str, created: bool, n: int = 1) -> None:
        counts[entity]["source"] += n
        counts[entity]["create" if created else "skipped"] += n

    for i in range(len(document.requisitions)):
        add("requisitions", resolution.requisitions[i] is None)
    for i, candidate in enumerate(document.candidates):
        created = resolution.candidates[i] is None
        add("candidates", created)
        add("interviews", created, len(candidate.applications))
        add("decisions", created, sum(len(a.decisions) for a in candidate.applications))
    return counts


def _duplicates(
    document: ImportDocument, resolution: _Resolution, locate: _Locator
) -> list[Duplicate]:
    found = [
        Duplicate(
            "requisition", locate(("requisitions", i))[0], "external_id", existing, r.external_id
        )
        for i, (r, existing) in enumerate(
            zip(document.requisitions, resolution.requisitions, strict=True)
        )
        if existing is not None
    ]
    for i, (candidate, skip) in enumerate(
        zip(document.candidates, resolution.candidates, strict=True)
    ):
        if skip is not None:
            reason: Literal["external_id", "email"] = (
                "external_id" if skip[0] == "external_id" else "email"
            )
            found.append(
                Duplicate(
                    "candidate",
                    locate(("candidates", i))[0],
                    reason,
                    skip[1],
                    candidate.external_id,
                )
            )
    return found


def _flat_counts(counts: dict[str, dict[str, int]], key: str) -> dict[str, int]:
    return {entity: values.get(key, 0) for entity, values in counts.items()}


def _analyse(
    store: Store,
    visibility: Visibility,
    source: ImportSource,
    batch_id: int,
) -> ImportPlan:
    parsed = _parse(source)
    problems = list(parsed.problems)
    resolution = None
    counts: dict[str, dict[str, int]] = {}
    duplicates: list[Duplicate] = []
    if parsed.document is not None:
        problems.extend(_check_document(parsed.document, parsed.locate))
        resolution = _resolve(store, visibility, parsed.document, parsed.locate)
        problems.extend(resolution.problems)
        counts = _counts(parsed.document, resolution)
        duplicates = _duplicates(parsed.document, resolution, parsed.locate)
    return ImportPlan(
        batch_id,
        source.format,
        hashlib.sha256(source.data).hexdigest(),
        len(source.data),
        problems,
        duplicates,
        counts,
        parsed.document,
        parsed.locate,
        resolution,
    )


def plan_import(
    store: Store,
    principal: Principal,
    source: ImportSource | Path,
    *,
    stage: bool = False,
) -> ImportPlan:
    """The dry run: validate, resolve and count; log the batch and audit `import.dry_run`.

    With `stage`, an importable file is kept with the batch (for at most STAGE_TTL_S) so that
    `staged_plan` can rebuild the plan when the importer confirms it.
    """
    visibility = require(principal, Action.IMPORT_DATA)
    if isinstance(source, Path):
        source = ImportSource.from_path(source)
    plan = _analyse(store, visibility, source, 0)
    imports = _imports(store)
    with store.transaction():
        imports.expire_staged(now_stamp(-STAGE_TTL_S))
        batch = imports.create_batch(
            principal.user_id,
            source_format=plan.source_format,
            source_sha256=plan.source_sha256,
            source_bytes=plan.source_bytes,
            status="planned" if plan.ok else "rejected",
            counts=plan.counts,
            report={"plan": {k: v for k, v in plan.summary().items() if k != "batch"}},
            staged_source=source.data if stage and plan.ok else None,
        )
        plan.batch_id = batch.id
        store.audit.append(
            f"user:{principal.user_id}",
            "import.dry_run",
            details={
                "batch": batch.id,
                "format": plan.source_format,
                "ok": plan.ok,
                "problems": len(plan.problems),
                "duplicates": len(plan.duplicates),
                "create": _flat_counts(plan.counts, "create"),
                "skipped": _flat_counts(plan.counts, "skipped"),
            },
        )
    return plan


def _own_batch(store: Store, principal: Principal, batch_id: int) -> ImportBatch:
    batch = _imports(store).get(batch_id)
    if batch.created_by != principal.user_id:
        raise NotFoundError(f"no import batch {batch_id}")
    return batch


def staged_plan(store: Store, principal: Principal, batch_id: int) -> ImportPlan:
    """The plan of a staged batch, rebuilt from its file against the store as it is now."""
    visibility = require(principal, Action.IMPORT_DATA)
    batch = _own_batch(store, principal, batch_id)
    data = _imports(store).staged_source(batch.id)
    if batch.status != "planned" or data is None:
        raise ImportRejectedError(
            f"batch {batch.id} has no file waiting for confirmation ({batch.status}): "
            "upload the file again"
        )
    name = f"staged.{batch.source_format}"
    return _analyse(store, visibility, ImportSource(name, data), batch.id)


def discard_batch(store: Store, principal: Principal, batch_id: int) -> None:
    """Drop the file of a batch that waits for confirmation."""
    require(principal, Action.IMPORT_DATA)
    batch = _own_batch(store, principal, batch_id)
    if batch.status != "planned":
        return
    with store.transaction():
        _imports(store).finish(batch.id, "discarded")


def recent_batches(store: Store, principal: Principal, *, limit: int = 50) -> list[ImportBatch]:
    """The newest import batches (counts and status only)."""
    require(principal, Action.IMPORT_DATA)
    imports = _imports(store)
    with store.transaction():
        imports.expire_staged(now_stamp(-STAGE_TTL_S))
    return imports.recent(limit)


def get_batch(store: Store, principal: Principal, batch_id: int) -> ImportBatch:
    """One import batch with its plan summary or verification report."""
    require(principal, Action.IMPORT_DATA)
    return _imports(store).get(batch_id)


# --- importing ---------------------------------------------------------------------------------


@dataclass
class _Created:
    requisitions: dict[int, int] = field(default_factory=dict)  # file index -> id
    candidates: dict[int, int] = field(default_factory=dict)  # file index -> id
    interviews: int = 0
    decisions: int = 0


class _VerificationMismatchError(Exception):
    pass


class _LateProblemError(Exception):
    def __init__(self, problem: ImportProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else to_stamp(moment)


def _write(
    store: Store,
    principal: Principal,
    plan: ImportPlan,
    resolution: _Resolution,
    pseudonyms: list[str],
) -> _Created:
    document = plan.document
    assert document is not None
    imports = _imports(store)
    created = _Created()
    requisition_ids: list[int] = []
    for i, req_record in enumerate(document.requisitions):
        existing = resolution.requisitions[i]
        if existing is not None:
            requisition_ids.append(existing)
            continue
        requisition = store.requisitions.create(
            req_record.title,
            req_record.department,
            req_record.location,
            req_record.region,
            created_by=principal.user_id,
            status=req_record.status,
        )
        imports.map_record(plan.batch_id, "requisition", req_record.external_id, requisition.id, i)
        requisition_ids.append(requisition.id)
        created.requisitions[i] = requisition.id
    planned_users = dict(resolution.users)
    users: dict[str, int] = {}
    for i, record in enumerate(document.candidates):
        if resolution.candidates[i] is not None:
            continue
        candidate = store.candidates.create(
            record.full_name,
            email=record.email,
            phone=record.phone,
            residence_region=record.residence_region,
            language=record.language,
        )
        pseudonyms.append(candidate.pseudonym)
        imports.map_record(plan.batch_id, "candidate", record.external_id, candidate.id, i)
        created.candidates[i] = candidate.id
        for j, application in enumerate(record.applications):
            ref = resolution.references[i][j]
            if ref is None:
                raise _LateProblemError(
                    plan.locate.problem(("candidates", i, "applications", j), "no requisition")
                )
            requisition_id = requisition_ids[ref.value] if ref.in_file else ref.value
            interview = store.interviews.create(
                candidate.id,
                requisition_id,
                kind=application.kind,
                round_no=application.round,
                language=application.language or record.language,
                scheduled_at=_stamp(application.scheduled_at),
            )
            if application.status != "planned":
                store.interviews.set_status(interview.id, application.status)
            created.interviews += 1
            for k, decision in enumerate(application.decisions):
                if decision.decided_by not in users:
                    user = store.users.by_username(decision.decided_by)
                    if user is None or planned_users.get(decision.decided_by) != user.id:
                        path = ("candidates", i, "applications", j, "decisions", k, "decided_by")
                        raise _LateProblemError(
                            plan.locate.problem(path, "there is no account with this user name")
                        )
                    users[decision.decided_by] = user.id
                added = store.decisions.add(
                    candidate.id,
                    requisition_id,
                    decision.kind,
                    decision.reason,
                    users[decision.decided_by],
                )
                imports.restore_decided_at(added.id, to_stamp(decision.decided_at))
                created.decisions += 1
        store.audit.append(
            f"user:{principal.user_id}",
            "candidate.imported",
            subject=candidate.pseudonym,
            details={"batch": plan.batch_id},
        )
    return created


def run_import(store: Store, principal: Principal, plan: ImportPlan) -> ImportReport:
    """Import the plan in one transaction, verify it three ways, and commit only if it matches.

    Raises ImportRejectedError (nothing written) for a plan with problems or a batch that is
    no longer waiting, and ImportFailedError after rolling everything back.
    """
    visibility = require(principal, Action.IMPORT_DATA)
    if not plan.ok or plan.document is None or plan.resolution is None:
        raise ImportRejectedError(
            f"the file has {len(plan.problems)} problem(s); nothing was imported", plan.problems
        )
    imports = _imports(store)
    current = _own_batch(store, principal, plan.batch_id)
    if current.status != "planned":
        raise ImportRejectedError(
            f"batch {current.id} is {current.status}, not waiting for import: run the dry run again"
        )
    actor = f"user:{principal.user_id}"
    pseudonyms: list[str] = []
    report: dict[str, Any] | None = None
    try:
        with store.transaction():
            resolution = _resolve(store, visibility, plan.document, plan.locate)
            if resolution != plan.resolution:
                raise ImportFailedError(
                    "the store changed since the dry run (new duplicates, requisitions or "
                    "accounts): run the dry run again",
                    batch_id=plan.batch_id,
                    reason="conflict",
                    problems=resolution.problems,
                )
            created = _write(store, principal, plan, resolution, pseudonyms)
            report = _verify(store, plan, resolution, created)
            if not report["ok"]:
                raise _VerificationMismatchError()
            counts = {
                entity: {**plan.counts.get(entity, {}), **report["counts"][entity]}
                for entity in ENTITIES
            }
            imports.finish(plan.batch_id, "completed", counts=counts, report=report)
            store.audit.append(
                actor,
                "import.completed",
                details={
                    "batch": plan.batch_id,
                    "format": plan.source_format,
                    "imported": {e: report["counts"][e]["imported"] for e in ENTITIES},
                    "skipped": {e: report["counts"][e]["skipped"] for e in ENTITIES},
                    "records_verified": report["records_matching"],
                },
            )
    except BaseException as exc:
        reason = _reason(exc)
        _forget_keys(store, pseudonyms)
        _record_failure(store, actor, plan, reason, report)
        if isinstance(exc, ImportFailedError):
            raise
        if not isinstance(exc, Exception):
            raise
        problems = [exc.problem] if isinstance(exc, _LateProblemError) else []
        what = (
            "the imported records did not verify"
            if reason == "verification_mismatch"
            else f"the import failed ({reason})"
        )
        raise ImportFailedError(
            f"{what}; everything was rolled back and nothing was imported (batch {plan.batch_id})",
            batch_id=plan.batch_id,
            reason=reason,
            report=report,
            problems=problems,
        ) from exc
    return ImportReport(plan.batch_id, report)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportFailedError):
        return exc.reason
    if isinstance(exc, _VerificationMismatchError):
        return "verification_mismatch"
    if isinstance(exc, _LateProblemError):
        return "reference_failed"
    return f"error:{type(exc).__name__}"


def _forget_keys(store: Store, pseudonyms: list[str]) -> None:
    """Shred the vault keys made for candidates whose rows were rolled back."""
    for pseudonym in pseudonyms:
        try:
            store.vault.shred(pseudonym)
        except Exception:  # an orphan key is harmless; the failure must still be reported
            logger.exception("could not shred the vault key of a rolled-back import")


def _record_failure(
    store: Store, actor: str, plan: ImportPlan, reason: str, report: dict[str, Any] | None
) -> None:
    try:
        with store.transaction():
            _imports(store).finish(
                plan.batch_id,
                "failed",
                report=report or {"ok": False, "batch": plan.batch_id, "error": reason},
            )
            store.audit.append(
                actor,
                "import.failed",
                details={
                    "batch": plan.batch_id,
                    "format": plan.source_format,
                    "reason": reason,
                    "planned": _flat_counts(plan.counts, "create"),
                },
            )
    except Exception:
        logger.exception("could not record the failure of import batch %s", plan.batch_id)


# --- verification ------------------------------------------------------------------------------


def canonical_hash(record: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON (sorted keys, compact, UTF-8)."""
    return hashlib.sha256(dumps(record).encode("utf-8")).hexdigest()


def _canonical_requisition(record: RequisitionRecord) -> dict[str, Any]:
    return {
        "external_id": record.external_id,
        "title": record.title,
        "department": record.department,
        "location": record.location,
        "region": record.region,
        "status": record.status,
    }


def _canonical_candidate(
    record: CandidateRecord, reference: Callable[[int, ApplicationRecord], dict[str, Any]]
) -> dict[str, Any]:
    return {
        "external_id": record.external_id,
        "full_name": record.full_name,
        "email": record.email,
        "phone": record.phone,
        "residence_region": record.residence_region,
        "language": record.language,
        "applications": [
            {
                **reference(j, application),
                "round": application.round,
                "status": application.status,
                "kind": application.kind,
                "language": application.language or record.language,
                "scheduled_at": _stamp(application.scheduled_at),
                "decisions": [
                    {
                        "kind": decision.kind,
                        "reason": decision.reason,
                        "decided_at": to_stamp(decision.decided_at),
                        "decided_by": decision.decided_by,
                    }
                    for decision in application.decisions
                ],
            }
            for j, application in enumerate(record.applications)
        ],
    }


class _Exporter:
    """Reads imported records back from the store, in import-v1's canonical form."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.imports = _imports(store)
        self._refs: dict[int, dict[str, Any]] = {}
        self._usernames: dict[int, str] = {}

    def reference(self, requisition_id: int) -> dict[str, Any]:
        """How import-v1 names a requisition: its external id, else its title."""
        if requisition_id not in self._refs:
            external = self.imports.external_ids("requisition", [requisition_id])
            if requisition_id in external:
                ref = {"requisition": external[requisition_id], "requisition_title": None}
            else:
                title = self.store.requisitions.get(requisition_id).title
                ref = {"requisition": None, "requisition_title": title}
            self._refs[requisition_id] = ref
        return self._refs[requisition_id]

    def username(self, user_id: int) -> str:
        """The user name of an account."""
        if user_id not in self._usernames:
            self._usernames[user_id] = self.store.users.get(user_id).username
        return self._usernames[user_id]

    def requisition(self, requisition_id: int, external_id: str) -> dict[str, Any]:
        """A requisition in canonical form."""
        req = self.store.requisitions.get(requisition_id)
        return {
            "external_id": external_id,
            "title": req.title,
            "department": req.department,
            "location": req.location,
            "region": req.region,
            "status": req.status,
        }

    def candidate(self, candidate_id: int, external_id: str) -> tuple[dict[str, Any], int, int]:
        """A candidate in canonical form, with how many interviews and decisions it has."""
        candidate = self.store.candidates.get(candidate_id)
        interviews = self.store.interviews.for_candidate(candidate_id)
        decisions = self.store.decisions.for_candidate(candidate_id)
        applications = [
            {
                **self.reference(interview.requisition_id),
                "round": interview.round,
                "status": interview.status,
                "kind": interview.kind,
                "language": interview.language,
                "scheduled_at": interview.scheduled_at,
                "decisions": [
                    {
                        "kind": decision.kind,
                        "reason": decision.reason,
                        "decided_at": decision.decided_at,
                        "decided_by": self.username(decision.decided_by),
                    }
                    for decision in decisions
                    if decision.requisition_id == interview.requisition_id
                ],
            }
            for interview in interviews
        ]
        record = {
            "external_id": external_id,
            "full_name": candidate.full_name,
            "email": candidate.email,
            "phone": candidate.phone,
            "residence_region": candidate.residence_region,
            "language": candidate.language,
            "applications": applications,
        }
        return record, len(interviews), len(decisions)


def _differences(source: Any, exported: Any, path: str) -> list[str]:
    """Paths where two JSON values differ (never the values themselves)."""
    if isinstance(source, dict) and isinstance(exported, dict):
        found = []
        for key in sorted(set(source) | set(exported)):
            if key not in exported:
                found.append(f"{path}.{key}: missing from the export")
            elif key not in source:
                found.append(f"{path}.{key}: not in the source")
            else:
                found.extend(_differences(source[key], exported[key], f"{path}.{key}"))
        return found
    if isinstance(source, list) and isinstance(exported, list):
        found = [
            item
            for index, (left, right) in enumerate(zip(source, exported, strict=False))
            for item in _differences(left, right, f"{path}[{index}]")
        ]
        if len(source) != len(exported):
            found.append(f"{path}: {len(source)} in the source, {len(exported)} in the export")
        return found
    if source != exported or type(source) is not type(exported):
        return [f"{path}: differs"]
    return []


def _reparsed(document: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The exported document read back as import-v1, in canonical form (or its problems)."""
    try:
        parsed = ImportDocument.model_validate(document)
    except ValidationError as exc:
        return None, [str(p) for p in _validation_problems(exc, _Locator())]

    def as_written(_: int, application: ApplicationRecord) -> dict[str, Any]:
        return {
            "requisition": application.requisition,
            "requisition_title": application.requisition_title,
        }

    return {
        "schema": SCHEMA_ID,
        "requisitions": [_canonical_requisition(r) for r in parsed.requisitions],
        "candidates": [_canonical_candidate(c, as_written) for c in parsed.candidates],
    }, []


def _verify(
    store: Store, plan: ImportPlan, resolution: _Resolution, created: _Created
) -> dict[str, Any]:
    """The three-way verification of an import (run inside its transaction).

    (a) counts per entity: in the source, skipped as duplicates, imported, re-read from the
    store; (b) per record, the SHA-256 of its canonical form in the source and re-exported from
    the store; (c) the re-exported records as an import-v1 document, parsed again and compared
    with the normalised source. Returns the JSON report (locations, ids, counts and hashes).
    """
    document = plan.document
    assert document is not None
    exporter = _Exporter(store)
    imports = exporter.imports
    locate = plan.locate

    # What the store holds for this batch, found through the batch's external-id map.
    stored_reqs = dict(imports.records(plan.batch_id, "requisition"))
    stored_cands = dict(imports.records(plan.batch_id, "candidate"))
    records: list[dict[str, Any]] = []
    mismatches: list[str] = []
    source_doc: dict[str, Any] = {"schema": SCHEMA_ID, "requisitions": [], "candidates": []}
    export_doc: dict[str, Any] = {"schema": SCHEMA_ID, "requisitions": [], "candidates": []}
    stored = dict.fromkeys(ENTITIES, 0)

    for i, req_record in enumerate(document.requisitions):
        if resolution.requisitions[i] is not None:
            continue
        location = locate(("requisitions", i))[0]
        source_form = _canonical_requisition(req_record)
        source_doc["requisitions"].append(source_form)
        local_id = stored_reqs.get(req_record.external_id)
        store_form: dict[str, Any] | None = None
        if local_id is not None:
            try:
                store_form = exporter.requisition(local_id, req_record.external_id)
            except NotFoundError:
                store_form = None
        if store_form is not None:
            stored["requisitions"] += 1
            export_doc["requisitions"].append(store_form)
        records.append(_record_entry("requisition", location, local_id, source_form, store_form))

    def source_reference(i: int) -> Callable[[int, ApplicationRecord], dict[str, Any]]:
        def reference(j: int, _: ApplicationRecord) -> dict[str, Any]:
            ref = resolution.references[i][j]
            assert ref is not None
            requisition_id = created.requisitions[ref.value] if ref.in_file else ref.value
            return exporter.reference(requisition_id)

        return reference

    for i, record in enumerate(document.candidates):
        if resolution.candidates[i] is not None:
            continue
        location = locate(("candidates", i))[0]
        source_form = _canonical_candidate(record, source_reference(i))
        source_doc["candidates"].append(source_form)
        local_id = stored_cands.get(record.external_id)
        store_form = None
        if local_id is not None:
            try:
                store_form, interviews, decisions = exporter.candidate(local_id, record.external_id)
            except NotFoundError:
                store_form = None
            else:
                stored["candidates"] += 1
                stored["interviews"] += interviews
                stored["decisions"] += decisions
                export_doc["candidates"].append(store_form)
        records.append(_record_entry("candidate", location, local_id, source_form, store_form))

    # (a) counts
    imported = {
        "requisitions": len(created.requisitions),
        "candidates": len(created.candidates),
        "interviews": created.interviews,
        "decisions": created.decisions,
    }
    counts: dict[str, dict[str, Any]] = {}
    for entity in ENTITIES:
        planned = plan.counts.get(entity, {})
        source_n = planned.get("source", 0)
        skipped = planned.get("skipped", 0)
        expected = source_n - skipped
        match = expected == imported[entity] == stored[entity]
        counts[entity] = {
            "source": source_n,
            "skipped": skipped,
            "expected": expected,
            "imported": imported[entity],
            "stored": stored[entity],
            "match": match,
        }
        if not match:
            mismatches.append(
                f"counts of {entity}: expected {expected}, imported {imported[entity]}, "
                f"re-read {stored[entity]}"
            )

    # (b) per-record hashes
    for entry in records:
        if not entry["match"]:
            mismatches.append(
                f"{entry['entity']} at {entry['location']} (id {entry['id']}): the store's "
                "canonical form has another SHA-256 than the source's"
                if entry["store_sha256"]
                else f"{entry['entity']} at {entry['location']}: not found in the store"
            )

    # (c) the round trip: export -> import-v1 -> canonical, against the normalised source
    reparsed, export_problems = _reparsed(export_doc)
    differences = export_problems or _differences(source_doc, reparsed, "$")
    mismatches.extend(f"round trip: {difference}" for difference in differences)

    return {
        "schema": SCHEMA_ID,
        "batch": plan.batch_id,
        "format": plan.source_format,
        "source_sha256": plan.source_sha256,
        "verified_at": now_stamp(),
        "ok": not mismatches,
        "counts": counts,
        "records": records,
        "records_matching": sum(1 for entry in records if entry["match"]),
        "duplicates": [duplicate.as_dict() for duplicate in plan.duplicates],
        "round_trip": {
            "match": not differences,
            "export_valid": not export_problems,
            "source_sha256": canonical_hash(source_doc),
            "export_sha256": canonical_hash(reparsed) if reparsed is not None else None,
            "differences": differences,
        },
        "mismatches": mismatches,
    }


def _record_entry(
    entity: str,
    location: str,
    local_id: int | None,
    source_form: dict[str, Any],
    store_form: dict[str, Any] | None,
) -> dict[str, Any]:
    source_hash = canonical_hash(source_form)
    store_hash = canonical_hash(store_form) if store_form is not None else None
    return {
        "entity": entity,
        "location": location,
        "id": local_id,
        "source_sha256": source_hash,
        "store_sha256": store_hash,
        "match": source_hash == store_hash,
    }


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """The verification report of a completed import."""

    batch_id: int
    data: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether counts, hashes and the round trip all matched."""
        return bool(self.data.get("ok"))

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False)

    def summary(self) -> str:
        """A readable summary of the report."""
        return summary_text(self.data)


def summary_text(report: dict[str, Any]) -> str:
    """A readable summary of a verification report (counts, hashes, round trip, mismatches)."""
    lines = [
        f"import batch {report.get('batch')} ({report.get('format')}, source SHA-256 "
        f"{str(report.get('source_sha256', ''))[:16]}…): "
        + ("verified" if report.get("ok") else "NOT verified")
    ]
    counts = report.get("counts") or {}
    if counts:
        lines.append(
            f"  {'entity':<13}{'source':>8}{'skipped':>9}{'expected':>10}{'imported':>10}"
            f"{'re-read':>9}"
        )
        for entity in (e for e in ENTITIES if e in counts):
            row = counts[entity]
            lines.append(
                f"  {entity:<13}{row['source']:>8}{row['skipped']:>9}{row['expected']:>10}"
                f"{row['imported']:>10}{row['stored']:>9}  {'ok' if row['match'] else 'MISMATCH'}"
            )
    records = report.get("records") or []
    if records or counts:
        lines.append(
            f"  per-record SHA-256: {report.get('records_matching', 0)} of {len(records)} match"
        )
    round_trip = report.get("round_trip") or {}
    if round_trip:
        differences = round_trip.get("differences") or []
        lines.append(
            "  round trip (re-export as import-v1): "
            + ("identical" if round_trip.get("match") else f"{len(differences)} difference(s)")
        )
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    for mismatch in report.get("mismatches") or []:
        lines.append(f"  mismatch: {mismatch}")
    return "\n".join(lines)


def plan_text(plan: ImportPlan) -> str:
    """A readable summary of a dry run."""
    lines = [
        f"dry run, batch {plan.batch_id} ({plan.source_format}, {plan.source_bytes} bytes, "
        f"SHA-256 {plan.source_sha256[:16]}…): "
        + ("ready to import" if plan.ok else f"{len(plan.problems)} problem(s)")
    ]
    for entity, row in plan.counts.items():
        lines.append(
            f"  {entity:<13} in file {row['source']:>6}   to create {row['create']:>6}   "
            f"skipped {row['skipped']:>6}"
        )
    for duplicate in plan.duplicates:
        lines.append(
            f"  duplicate {duplicate.entity} at {duplicate.location}: same "
            f"{'external id' if duplicate.reason == 'external_id' else 'e-mail address'} as "
            f"{duplicate.entity} {duplicate.existing_id}; skipped"
        )
    lines.extend(f"  problem {problem}" for problem in plan.problems)
    return "\n".join(lines)
