"""The import-v1 format: its records, their limits, and the columns of its CSV flavour.

The source is an `interview-appliance/import-v1` document (JSON: requisitions and candidates
with their applications and human decisions) or its CSV flavour (candidates only, one row per
candidate-application; see docs/import-format.md).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
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
    model_validator,
)

from appliance.hiring.review import MAX_REASON_CHARS
from appliance.platform.clock import to_stamp
from appliance.platform.words import said

SCHEMA_ID = "interview-appliance/import-v1"
MAX_TEXT = 200  # as the web forms: names, titles, departments, locations, e-mail addresses
MAX_EXTERNAL_ID = 100
MAX_REQUISITIONS = 10_000
MAX_CANDIDATES = 50_000
MAX_APPLICATIONS = 50
MAX_DECISIONS = 50
MAX_ROUND = 100
ENTITIES = ("requisitions", "candidates", "interviews", "decisions")

Region = Literal["EU", "US-NYC", "US-IL", "US-MD", "CN", "default"]
Language = Literal["en", "zh"]
RequisitionStatus = Literal["draft", "open", "closed"]
InterviewStatus = Literal["planned", "recorded", "analysing", "analysed", "failed", "cancelled"]
InterviewKind = Literal["upload", "async", "live"]
DecisionKind = Literal[
    "advance", "reject", "hire", "recommend_hire", "recommend_reject", "recommend_hold"
]


# --- checks of single values -------------------------------------------------------------------


def _no_control(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError(said("control characters are not allowed"))
    return value


def _no_control_but_lines(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" and char not in "\n\r\t" for char in value):
        raise ValueError(said("control characters other than line breaks and tabs are not allowed"))
    return value


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # as the web forms and accounts
_PHONE = re.compile(r"[0-9+()./\- ]{3,40}")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(said("not a valid e-mail address"))
    return value


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError(said("a phone number holds 3 to 40 digits, spaces and + ( ) . / -"))
    return value


def _external_id(value: str) -> str:
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise ValueError(said("an external id holds no spaces or control characters"))
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


# --- the records -------------------------------------------------------------------------------


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
            raise ValueError(said("give either requisition (an external id) or requisition_title"))
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


# --- the CSV flavour ---------------------------------------------------------------------------


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


# --- moments -----------------------------------------------------------------------------------


def stamp_or_none(moment: datetime | None) -> str | None:
    """An optional moment as the store and the canonical form write it (None stays None)."""
    return None if moment is None else to_stamp(moment)
