"""Post-hire outcomes: what HR records about a hired person, for analytics and score validity.

Only people with a hire decision (their job's latest decision is `hire`) can have an outcome.
Each outcome is linked to HR's own records by an employee id HR controls; every change is
audited with the candidate's pseudonym and the fields changed, never their values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from appliance.hiring.common import InvalidInputError
from appliance.platform.clock import utcnow
from appliance.platform.errors import NotFoundError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.db import IntegrityError
from appliance.store.hiring import Requisition
from appliance.store.outcomes import (
    PROBATION_RESULTS,
    RATING_SCALE,
    HireOutcome,
    OutcomeFields,
)
from appliance.store.people import Candidate

EMPLOYEE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
FINAL_DECISIONS = ("advance", "reject", "hire")


@dataclass(frozen=True)
class Hire:
    """A hired person and job, with the outcome recorded so far (None: nothing yet)."""

    candidate: Candidate
    requisition: Requisition
    hired_at: str
    outcome: HireOutcome | None


def clean_employee_id(value: str | None) -> str:
    """An employee id as HR wrote it, trimmed; InvalidInputError when it cannot be one."""
    text = (value or "").strip()
    if not EMPLOYEE_ID.match(text):
        raise InvalidInputError(
            [
                "an employee id is 1 to 64 letters, digits, '.', '_', '/' or '-',"
                " starting with a letter or digit"
            ]
        )
    return text


def _not_a_date(what: str, text: str) -> str:
    return said("%(what)s: %(text)s is not a date (YYYY-MM-DD)", what=what, text=repr(text))


def _not_a_rating(what: str, value: object) -> str:
    return said("%(what)s: %(value)s is not a number from 1 to 5", what=what, value=repr(value))


def parse_day(value: str | None, what: str, *, today: date | None = None) -> str | None:
    """An ISO date (YYYY-MM-DD) or None for an empty value; no date after `today` when given."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError([_not_a_date(what, text)]) from None
    if len(text) != 10:
        raise InvalidInputError([_not_a_date(what, text)])
    if today is not None and day > today:
        raise InvalidInputError([said("%(what)s: %(day)s is in the future", what=what, day=text)])
    return day.isoformat()


def check_fields(fields: OutcomeFields, *, today: date | None = None) -> list[str]:
    """Every fault of an outcome's fields (empty when they can be saved)."""
    today = today or utcnow().date()
    problems: list[str] = []
    if fields.probation not in PROBATION_RESULTS:
        problems.append(
            said("probation must be one of %(choices)s", choices=", ".join(PROBATION_RESULTS))
        )
    if (fields.left_on is None) != (fields.left_voluntarily is None):
        problems.append(
            said("a leaving date needs whether the person left voluntarily (yes or no), and back")
        )
    if fields.left_on is not None:
        if date.fromisoformat(fields.left_on) > today:
            problems.append(said("the leaving date %(day)s is in the future", day=fields.left_on))
        if fields.start_date is None:
            problems.append(said("a leaving date needs the start date"))
        elif fields.left_on < fields.start_date:
            problems.append(said("the leaving date is before the start date"))
    if fields.probation in ("passed", "failed") and fields.start_date is None:
        problems.append(said("a probation result needs the start date"))
    return problems


def check_rating(value: float | str, what: str = "rating") -> float:
    """A performance rating on the 1-5 scale; InvalidInputError otherwise."""
    low, high = RATING_SCALE
    try:
        rating = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise InvalidInputError([_not_a_rating(what, value)]) from None
    if not low <= rating <= high:
        raise InvalidInputError([_not_a_rating(what, value)])
    return rating


def hired_at(store: Store, candidate_id: int, requisition_id: int) -> str | None:
    """When the job's latest decision (a hire) was made; None when the person is not hired."""
    latest = None
    for decision in store.decisions.for_candidate(candidate_id):
        if decision.requisition_id == requisition_id and decision.kind in FINAL_DECISIONS:
            latest = decision
    return latest.decided_at if latest is not None and latest.kind == "hire" else None


def _visibility(principal: Principal) -> Visibility:
    return require(principal, Action.RECORD_OUTCOMES)


def hires(store: Store, principal: Principal) -> list[Hire]:
    """Everyone hired into a job the viewer may record outcomes for, newest hire first."""
    visibility = _visibility(principal)
    found = []
    for candidate_id, requisition_id, decided_at in store.outcomes.hires_visible(visibility):
        found.append(
            Hire(
                store.candidates.get(candidate_id),
                store.requisitions.get(requisition_id),
                decided_at,
                store.outcomes.for_hire(candidate_id, requisition_id),
            )
        )
    return found


def get_hire(store: Store, principal: Principal, candidate_id: int, requisition_id: int) -> Hire:
    """One hire the viewer may record outcomes for; NotFoundError otherwise."""
    visibility = _visibility(principal)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    decided = hired_at(store, candidate.id, requisition.id)
    if decided is None:
        raise NotFoundError("this person has not been hired into this job")
    return Hire(
        candidate, requisition, decided, store.outcomes.for_hire(candidate.id, requisition.id)
    )


def record_outcome(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    requisition_id: int,
    employee_id: str,
    fields: OutcomeFields,
) -> HireOutcome:
    """Create or change the outcome of a hire (audited: which fields changed, not to what)."""
    hire = get_hire(store, principal, candidate_id, requisition_id)
    employee = clean_employee_id(employee_id)
    problems = check_fields(fields)
    other = store.outcomes.by_employee(employee)
    if other is not None and (other.candidate_id, other.requisition_id) != (
        candidate_id,
        requisition_id,
    ):
        problems.append(said("the employee id %(id)s belongs to another hire", id=employee))
    if problems:
        raise InvalidInputError(problems)
    before = hire.outcome
    changed = changed_fields(before, employee, fields)
    try:
        with store.audited(
            principal.actor,
            "outcome.recorded",
            subject=hire.candidate.pseudonym,
            requisition=requisition_id,
            fields=changed,
        ):
            outcome_id = store.outcomes.save(
                candidate_id, requisition_id, employee, fields, principal.user_id
            )
    except IntegrityError:
        # Linked to another hire a moment ago, by someone else: nothing was written.
        raise InvalidInputError(
            [said("the employee id %(id)s belongs to another hire", id=employee)]
        ) from None
    return store.outcomes.get(outcome_id)


def changed_fields(
    before: HireOutcome | None, employee_id: str, fields: OutcomeFields
) -> list[str]:
    """The names of the fields that differ from the outcome as it was."""
    now = {
        "employee_id": employee_id,
        "start_date": fields.start_date,
        "probation": fields.probation,
        "left_on": fields.left_on,
        "left_voluntarily": fields.left_voluntarily,
    }
    if before is None:
        return sorted(key for key, value in now.items() if value not in (None, "pending"))
    was = {
        "employee_id": before.employee_id,
        "start_date": before.start_date,
        "probation": before.probation,
        "left_on": before.left_on,
        "left_voluntarily": before.left_voluntarily,
    }
    return sorted(key for key in now if now[key] != was[key])


def record_rating(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    requisition_id: int,
    rated_on: str,
    rating: float | str,
) -> HireOutcome:
    """Add (or replace) a performance rating of a hire whose outcome exists."""
    hire = get_hire(store, principal, candidate_id, requisition_id)
    if hire.outcome is None:
        raise InvalidInputError([said("record the employee id and start date before ratings")])
    day = parse_day(rated_on, "rating date", today=utcnow().date())
    if day is None:
        raise InvalidInputError([said("a rating needs its date")])
    value = check_rating(rating)
    if hire.outcome.start_date is not None and day < hire.outcome.start_date:
        raise InvalidInputError([said("the rating date is before the start date")])
    with store.audited(
        principal.actor,
        "outcome.rating_recorded",
        subject=hire.candidate.pseudonym,
        requisition=requisition_id,
    ):
        store.outcomes.put_rating(hire.outcome.id, candidate_id, day, value)
    return store.outcomes.get(hire.outcome.id)


def remove_rating(
    store: Store, principal: Principal, *, candidate_id: int, requisition_id: int, rated_on: str
) -> HireOutcome:
    """Delete the rating of a date (a mistake corrected); audited."""
    hire = get_hire(store, principal, candidate_id, requisition_id)
    day = parse_day(rated_on, "rating date")
    if hire.outcome is None or day is None:
        raise NotFoundError("no such rating")
    with store.audited(
        principal.actor,
        "outcome.rating_removed",
        subject=hire.candidate.pseudonym,
        requisition=requisition_id,
    ):
        if not store.outcomes.remove_rating(hire.outcome.id, day):
            raise NotFoundError("no such rating")
    return store.outcomes.get(hire.outcome.id)


__all__ = [
    "Hire",
    "changed_fields",
    "check_fields",
    "check_rating",
    "clean_employee_id",
    "get_hire",
    "hired_at",
    "hires",
    "parse_day",
    "record_outcome",
    "record_rating",
    "remove_rating",
]
