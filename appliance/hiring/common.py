"""What the hiring rule modules share: their input error, the vocabulary of regions, interview
states and duties, region and department reach, form-text cleaning and per-request lookups."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from appliance.platform.config import RegionEnum
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.platform.words import said
from appliance.security.permissions import WILDCARD, Scope, Visibility
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Requisition

REGIONS = tuple(region.value for region in RegionEnum)
INTERVIEW_STATUSES = ("planned", "recorded", "analysing", "analysed", "failed", "cancelled")
DUTIES = ("interviewer", "tech_expert")

MAX_TEXT = 200
MAX_DESCRIPTION = 2000


class InvalidInputError(RefusedError):
    """A form was incomplete or wrong; `problems` lists every fault found (answered with 422)."""

    exit_code = 44

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def reaches(visibility: Visibility, *, region: str, department: str) -> bool:
    """Whether a visibility covers a requisition in `region` and `department`."""
    if visibility.scope is Scope.ALL:
        return True
    if visibility.scope is Scope.OWN:
        return False
    if WILDCARD not in visibility.regions and region not in visibility.regions:
        return False
    return not (
        visibility.scope is Scope.DEPARTMENT
        and WILDCARD not in visibility.departments
        and department not in visibility.departments
    )


def allowed_regions(visibility: Visibility) -> list[str]:
    """The regions a visibility lets one create records in."""
    if visibility.scope is Scope.ALL or WILDCARD in visibility.regions:
        return list(REGIONS)
    return [region for region in REGIONS if region in visibility.regions]


def clean_text(
    value: str | None,
    label: str,
    problems: list[str],
    *,
    required: bool = True,
    limit: int = MAX_TEXT,
    multiline: bool = False,
) -> str:
    """A form field stripped; a missing, over-long or control-character value adds a problem
    naming `label` (line breaks and tabs only where `multiline`)."""
    cleaned = (value or "").strip()
    allowed = "\n\r\t" if multiline else ""
    if required and not cleaned:
        problems.append(said("%(label)s is required", label=label))
    elif len(cleaned) > limit:
        problems.append(
            said("%(label)s is longer than %(limit)s characters", label=label, limit=limit)
        )
    elif any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in cleaned):
        # A name or title ends up in e-mail headers, calendar lines and file names, where a
        # line break would split the header (and the message could never be composed).
        problems.append(
            said("%(label)s may not contain control characters", label=label)
            if multiline
            else said("%(label)s must be one line without control characters", label=label)
        )
    return cleaned


def competency_model_of(store: Store, requisition: Requisition) -> ModelSpec | None:
    """The competency-model version a requisition uses, if it has one."""
    if requisition.competency_model_id is None:
        return None
    return store.competency.spec(requisition.competency_model_id)


class NameLookup:
    """Display names of accounts, looked up once per request."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[int, str] = {}

    def __call__(self, user_id: int) -> str:
        if user_id not in self._cache:
            try:
                self._cache[user_id] = self._store.users.get(user_id).display_name
            except NotFoundError:
                self._cache[user_id] = f"#{user_id}"
        return self._cache[user_id]


class RequisitionLookup:
    """Requisitions by id, looked up once per request."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[int, Requisition] = {}

    def __call__(self, requisition_id: int) -> Requisition:
        if requisition_id not in self._cache:
            self._cache[requisition_id] = self._store.requisitions.get(requisition_id)
        return self._cache[requisition_id]


__all__ = [
    "DUTIES",
    "INTERVIEW_STATUSES",
    "MAX_DESCRIPTION",
    "MAX_TEXT",
    "REGIONS",
    "InvalidInputError",
    "NameLookup",
    "RequisitionLookup",
    "allowed_regions",
    "clean_text",
    "competency_model_of",
    "reaches",
]
