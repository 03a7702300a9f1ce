"""Candidates and their interviews: adding a candidate, planning further rounds and
assigning interviewers and technical experts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.hiring.common import (
    DUTIES,
    REGIONS,
    InvalidInputError,
    clean_text,
    reaches,
)
from appliance.hiring.requisitions import visible_requisitions
from appliance.platform.errors import NotFoundError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, Scope, Visibility, require
from appliance.store import Store
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate

INTERVIEW_KINDS = ("upload", "async", "live")
CANDIDATE_LANGUAGES = ("en", "zh")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./\- ]{3,40}$")


@dataclass(frozen=True)
class CandidateInput:
    """The fields of the new-candidate form."""

    full_name: str
    email: str
    phone: str
    residence_region: str
    language: str
    requisition_id: int | None


def open_requisitions(store: Store, visibility: Visibility) -> list[Requisition]:
    """Requisitions a candidate can be added to (visible, not closed)."""
    return [req for req in visible_requisitions(store, visibility) if req.status != "closed"]


def _requisition_for(
    store: Store, visibility: Visibility, requisition_id: int | None, problems: list[str]
) -> Requisition | None:
    # An id outside the visibility reads as "not in the list", exactly like an unknown one.
    if requisition_id is None:
        problems.append(said("choose a job"))
        return None
    try:
        requisition = store.requisitions.get_visible(requisition_id, visibility)
    except NotFoundError:
        problems.append(said("choose a job from the list"))
        return None
    if requisition.status == "closed":
        problems.append(said("the job is closed"))
    return requisition


def create_candidate(
    store: Store, principal: Principal, data: CandidateInput
) -> tuple[Candidate, Interview]:
    """A new candidate with their first interview for a requisition the principal can see."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    problems: list[str] = []
    full_name = clean_text(data.full_name, said("the name"), problems)
    email = clean_text(data.email, said("the e-mail address"), problems, required=False)
    if email and not _EMAIL.match(email):
        problems.append(said("the e-mail address is not valid"))
    phone = clean_text(data.phone, said("the phone number"), problems, required=False, limit=40)
    if phone and not _PHONE.match(phone):
        problems.append(said("the phone number may hold digits, spaces and + ( ) . / -"))
    if data.residence_region not in REGIONS:
        problems.append(said("choose a region of residence from the list"))
    if data.language not in CANDIDATE_LANGUAGES:
        problems.append(said("choose an interview language from the list"))
    requisition = _requisition_for(store, visibility, data.requisition_id, problems)
    if problems or requisition is None:
        raise InvalidInputError(problems)
    with store.audited(principal.actor, "candidate.created", requisition=requisition.id) as entry:
        candidate = store.candidates.create(
            full_name,
            email=email or None,
            phone=phone or None,
            residence_region=data.residence_region,
            language=data.language,
        )
        interview = store.interviews.create(candidate.id, requisition.id, language=data.language)
        entry.subject = candidate.pseudonym
        entry.details["interview"] = interview.id
    return candidate, interview


def plan_interview(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    requisition_id: int,
    kind: str,
    language: str,
) -> Interview:
    """Another interview round of a visible candidate for a visible requisition."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    problems = []
    if candidate.erased:
        problems.append(said("the candidate's data was erased"))
    if kind not in INTERVIEW_KINDS:
        problems.append(said("choose a kind of interview from the list"))
    if language not in CANDIDATE_LANGUAGES:
        problems.append(said("choose an interview language from the list"))
    if requisition.status == "closed":
        problems.append(said("the job is closed"))
    if problems:
        raise InvalidInputError(problems)
    rounds = [
        i.round
        for i in store.interviews.for_candidate(candidate.id)
        if i.requisition_id == requisition.id
    ]
    with store.audited(principal.actor, "interview.planned", subject=candidate.pseudonym) as entry:
        interview = store.interviews.create(
            candidate.id,
            requisition.id,
            kind=kind,
            round_no=max(rounds, default=0) + 1,
            language=language,
        )
        entry.details.update(interview=interview.id, requisition=requisition.id)
    return interview


@dataclass(frozen=True)
class Person:
    """Someone who can be assigned to an interview."""

    id: int
    display_name: str
    role: str


def assignable_people(store: Store, requisition: Requisition) -> list[Person]:
    """Active interviewers and technical experts whose departments and regions cover a job."""
    found = []
    for user in store.users.all():
        if not user.active or user.role not in DUTIES:
            continue
        covers = Visibility(Scope.DEPARTMENT, user.id, tuple(user.departments), tuple(user.regions))
        if reaches(covers, region=requisition.region, department=requisition.department):
            found.append(Person(user.id, user.display_name, user.role))
    return sorted(found, key=lambda person: (person.role, person.display_name.lower()))


def assign_interview(
    store: Store, principal: Principal, *, interview_id: int, user_id: int, duty: str
) -> None:
    """Give an interviewer an interview, or a technical expert its technical round."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    interview = store.interviews.get_visible(interview_id, visibility)
    requisition = store.requisitions.get(interview.requisition_id)
    if duty not in DUTIES:
        raise InvalidInputError([said("choose a duty from the list")])
    if user_id not in {
        person.id for person in assignable_people(store, requisition) if person.role == duty
    }:
        raise InvalidInputError([said("choose a person from the list")])
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        principal.actor,
        "interview.assigned",
        subject=candidate.pseudonym,
        interview=interview.id,
        user=user_id,
        duty=duty,
    ):
        store.interviews.assign(interview.id, user_id, duty)


__all__ = [
    "CANDIDATE_LANGUAGES",
    "INTERVIEW_KINDS",
    "CandidateInput",
    "Person",
    "assign_interview",
    "assignable_people",
    "create_candidate",
    "open_requisitions",
    "plan_interview",
]
