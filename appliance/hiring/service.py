"""Hiring rules behind the web pages: requisitions, competency-model versions, candidates,
assignments, the candidate timeline, dashboard figures and report views.

Every function takes the acting principal (or the visibility a view was granted), checks the
permission table, validates its input and writes the audit entry in the same transaction as
the change. The web layer only parses forms and renders what these functions return.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from appliance.hiring.review import DECISIONS, ReviewError, current_scores
from appliance.platform.config import RegionEnum
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import (
    WILDCARD,
    Action,
    Principal,
    Scope,
    Visibility,
    allowed,
    require,
)
from appliance.store import Store
from appliance.store.competency import ORIGINS as MODEL_ORIGINS
from appliance.store.competency import Anchor, DimensionSpec, Keyword, ModelSpec
from appliance.store.hiring import CompetencyModel, Interview, Question, Requisition
from appliance.store.people import Candidate
from appliance.store.recordings import Recording
from appliance.store.reports import Report
from appliance.store.review import Decision, Evaluation, ScoreOverride

REGIONS = tuple(region.value for region in RegionEnum)
REQUISITION_STATUSES = ("draft", "open", "closed")
INTERVIEW_STATUSES = ("planned", "recorded", "analysing", "analysed", "failed", "cancelled")
INTERVIEW_KINDS = ("upload", "async", "live")
QUESTION_LANGUAGES = ("en", "zh")
CANDIDATE_LANGUAGES = ("en", "zh")
DUTIES = ("interviewer", "tech_expert")

MAX_TEXT = 200
MAX_DESCRIPTION = 2000
MAX_QUESTION = 1000
MAX_DIMENSIONS = 30
MAX_QUESTIONS_PER_LANGUAGE = 20
MAX_KEYWORDS_PER_LANGUAGE = 60
MAX_KEYWORD = 80
ANCHOR_LEVELS = (3, 6, 9)
LATEST_CANDIDATES = 10
AWAITING_SCAN = 200

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KEYWORD_SPLIT = re.compile(r"[,;\n\uff0c\uff1b\u3001]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./\- ]{3,40}$")


class InvalidInputError(ReviewError):
    """A form was incomplete or wrong; `problems` lists every fault found (answered with 422)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


# --- helpers -----------------------------------------------------------------------------------


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


def _text(
    value: str | None,
    label: str,
    problems: list[str],
    *,
    required: bool = True,
    limit: int = MAX_TEXT,
) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        problems.append(f"{label} is required")
    elif len(cleaned) > limit:
        problems.append(f"{label} is longer than {limit} characters")
    return cleaned


class _Names:
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


class _Requisitions:
    """Requisitions by id, looked up once per request."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[int, Requisition] = {}

    def __call__(self, requisition_id: int) -> Requisition:
        if requisition_id not in self._cache:
            self._cache[requisition_id] = self._store.requisitions.get(requisition_id)
        return self._cache[requisition_id]


def visible_requisitions(store: Store, visibility: Visibility) -> list[Requisition]:
    """Requisitions a visibility reaches; for OWN scopes, those of the person's assignments."""
    if visibility.scope is not Scope.OWN:
        return store.requisitions.visible(visibility)
    ids = sorted(
        {
            interview.requisition_id
            for duty in DUTIES
            for interview in store.interviews.assigned_to(visibility.user_id, duty)
        }
    )
    return [store.requisitions.get(requisition_id) for requisition_id in ids]


# --- requisitions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequisitionInput:
    """The fields of the requisition form."""

    title: str
    department: str
    location: str
    region: str
    status: str
    competency_model_id: int | None = None


def _check_requisition(data: RequisitionInput, visibility: Visibility) -> RequisitionInput:
    problems: list[str] = []
    title = _text(data.title, "the title", problems)
    department = _text(data.department, "the department", problems)
    location = _text(data.location, "the location", problems)
    if data.region not in REGIONS:
        problems.append("choose a region from the list")
    if data.status not in REQUISITION_STATUSES:
        problems.append("choose a status from the list")
    if not problems and not reaches(visibility, region=data.region, department=department):
        problems.append("you may not manage jobs in that region or department")
    if problems:
        raise InvalidInputError(problems)
    return RequisitionInput(
        title, department, location, data.region, data.status, data.competency_model_id
    )


def create_requisition(store: Store, principal: Principal, data: RequisitionInput) -> Requisition:
    """A new requisition inside the principal's regions (and departments), optionally with a
    competency model taken from a requisition they can already see."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    checked = _check_requisition(data, visibility)
    if checked.competency_model_id is not None and checked.competency_model_id not in {
        model.id for model in models_in_use(store, visibility)
    }:
        raise InvalidInputError(["choose a competency model from the list"])
    with store.transaction():
        requisition = store.requisitions.create(
            checked.title,
            checked.department,
            checked.location,
            checked.region,
            competency_model_id=checked.competency_model_id,
            created_by=principal.user_id,
            status=checked.status,
        )
        store.audit.append(
            f"user:{principal.user_id}",
            "requisition.created",
            details={"requisition": requisition.id, "region": requisition.region},
        )
    return requisition


def update_requisition(
    store: Store, principal: Principal, requisition_id: int, data: RequisitionInput
) -> Requisition:
    """Change a visible requisition's details; its competency model is changed by the editor."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    current = store.requisitions.get_visible(requisition_id, visibility)
    checked = _check_requisition(data, visibility)
    with store.transaction():
        updated = store.requisitions.update(
            current.id,
            title=checked.title,
            department=checked.department,
            location=checked.location,
            region=checked.region,
            status=checked.status,
            competency_model_id=current.competency_model_id,
        )
        store.audit.append(
            f"user:{principal.user_id}",
            "requisition.updated",
            details={"requisition": updated.id, "region": updated.region},
        )
    return updated


def models_in_use(store: Store, visibility: Visibility) -> list[CompetencyModel]:
    """The competency-model versions used by the requisitions a visibility reaches."""
    ids = {
        req.competency_model_id
        for req in visible_requisitions(store, visibility)
        if req.competency_model_id is not None
    }
    return [store.competency_models.get(model_id) for model_id in sorted(ids)]


# --- competency models -------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionInput:
    """One row of the competency-model editor, as typed (questions: one per line; keywords:
    separated by commas or lines; anchors keyed `3-en`, `6-zh`, ...)."""

    key: str = ""
    name: str = ""
    weight: str = ""
    description: str = ""
    questions: dict[str, str] = field(default_factory=dict)
    remove: bool = False
    name_zh: str = ""
    anchors: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)

    def is_blank(self) -> bool:
        """Whether nothing was typed into this row."""
        return not any(
            part.strip()
            for part in (
                self.key,
                self.name,
                self.weight,
                self.description,
                self.name_zh,
                *self.questions.values(),
                *self.anchors.values(),
                *self.keywords.values(),
            )
        )


def dimension_rows(model: ModelSpec | None) -> list[DimensionInput]:
    """Editor rows pre-filled from a saved model version (or an unsaved draft)."""
    if model is None:
        return []
    return [
        DimensionInput(
            dim.key,
            dim.name,
            f"{dim.weight:g}",
            dim.description,
            {
                language: "\n".join(q.text for q in dim.questions if q.language == language)
                for language in QUESTION_LANGUAGES
            },
            name_zh=dim.name_zh,
            anchors={
                f"{a.level}-{a.language}": a.text for a in dim.anchors
            },
            keywords={
                language: ", ".join(dim.keywords_in(language)) for language in QUESTION_LANGUAGES
            },
        )
        for dim in model.dimensions
    ]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]


def _keywords(row: DimensionInput, where: str, problems: list[str]) -> tuple[Keyword, ...]:
    found: list[Keyword] = []
    for language in QUESTION_LANGUAGES:
        phrases = [
            p.strip() for p in _KEYWORD_SPLIT.split(row.keywords.get(language, "")) if p.strip()
        ]
        if len(phrases) > MAX_KEYWORDS_PER_LANGUAGE:
            problems.append(f"{where}: at most {MAX_KEYWORDS_PER_LANGUAGE} keywords per language")
        if any(len(p) > MAX_KEYWORD for p in phrases):
            problems.append(f"{where}: a keyword is longer than {MAX_KEYWORD} characters")
        found.extend(Keyword(language, p) for p in dict.fromkeys(phrases))
    return tuple(found)


def _anchors(row: DimensionInput, where: str, problems: list[str]) -> tuple[Anchor, ...]:
    found: list[Anchor] = []
    for level in ANCHOR_LEVELS:
        for language in QUESTION_LANGUAGES:
            text = _text(
                row.anchors.get(f"{level}-{language}"),
                f"{where}: the level-{level} anchor",
                problems,
                required=False,
                limit=MAX_DESCRIPTION,
            )
            if text:
                found.append(Anchor(level, language, text))
    return tuple(found)


def parse_dimensions(rows: Sequence[DimensionInput]) -> list[DimensionSpec]:
    """Validated dimensions with weights normalised to sum to 1, or InvalidInputError."""
    problems: list[str] = []
    parsed: list[DimensionSpec] = []
    keys: set[str] = set()
    kept = [row for row in rows if not row.remove and not row.is_blank()]
    if not kept:
        raise InvalidInputError(["a competency model needs at least one dimension"])
    if len(kept) > MAX_DIMENSIONS:
        raise InvalidInputError([f"a competency model has at most {MAX_DIMENSIONS} dimensions"])
    for number, row in enumerate(kept, start=1):
        where = f"dimension {number}"
        name = _text(row.name, f"{where}: the name", problems)
        name_zh = _text(row.name_zh, f"{where}: the Chinese name", problems, required=False)
        key = row.key.strip() or _slug(name)
        if not _KEY.match(key):
            problems.append(
                f"{where}: the key must start with a-z and hold only a-z, 0-9 and _ (at most 40)"
            )
        elif key in keys:
            problems.append(f"{where}: the key {key!r} is used twice")
        keys.add(key)
        description = _text(
            row.description,
            f"{where}: the description",
            problems,
            required=False,
            limit=MAX_DESCRIPTION,
        )
        try:
            weight = float(row.weight.strip().replace(",", "."))
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight) or weight <= 0:
            problems.append(f"{where}: the weight must be a number above 0")
        questions: list[Question] = []
        for language in row.questions:
            if language not in QUESTION_LANGUAGES:
                problems.append(f"{where}: questions may be in {', '.join(QUESTION_LANGUAGES)}")
        for language in QUESTION_LANGUAGES:
            lines = [
                line.strip()
                for line in row.questions.get(language, "").splitlines()
                if line.strip()
            ]
            if len(lines) > MAX_QUESTIONS_PER_LANGUAGE:
                problems.append(
                    f"{where}: at most {MAX_QUESTIONS_PER_LANGUAGE} questions per language"
                )
            if any(len(line) > MAX_QUESTION for line in lines):
                problems.append(f"{where}: a question is longer than {MAX_QUESTION} characters")
            questions.extend(Question(language, line) for line in lines)
        if not questions:
            problems.append(f"{where}: add at least one question in English or Chinese")
        parsed.append(
            DimensionSpec(
                key,
                name,
                weight,
                description,
                name_zh,
                tuple(questions),
                _anchors(row, where, problems),
                _keywords(row, where, problems),
            )
        )
    if problems:
        raise InvalidInputError(problems)
    total = sum(dim.weight for dim in parsed)
    dimensions = []
    for dim in parsed:
        share = round(dim.weight / total, 6)
        if share <= 0:
            problems.append(f"the weight of {dim.key!r} is too small next to the others")
        dimensions.append(replace(dim, weight=share))
    if problems:
        raise InvalidInputError(problems)
    return dimensions


def save_competency_model(
    store: Store,
    principal: Principal,
    requisition_id: int,
    rows: Sequence[DimensionInput],
    *,
    name: str = "",
    description: str = "",
    origin: str = "editor",
) -> ModelSpec:
    """Save the edited dimensions as a NEW model version and point the requisition to it.

    A saved version never changes, so every report keeps naming the version it was scored
    with; other requisitions that use an earlier version keep it. `origin` records whether the
    rows came from the editor, a built-in starter model or an imported dictionary.
    """
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    problems: list[str] = []
    previous = (
        store.competency_models.get(requisition.competency_model_id)
        if requisition.competency_model_id is not None
        else None
    )
    model_name = (
        previous.name if previous else _text(name or requisition.title, "the model name", problems)
    )
    model_description = _text(
        description, "the model description", problems, required=False, limit=MAX_DESCRIPTION
    )
    if origin not in MODEL_ORIGINS:
        problems.append("unknown model origin")
    try:
        dimensions = parse_dimensions(rows)
    except InvalidInputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInputError(problems)
    with store.transaction():
        model = store.competency.save(
            ModelSpec(model_name, tuple(dimensions), model_description, origin=origin),
            created_by=principal.user_id,
        )
        assert model.id is not None
        store.requisitions.set_competency_model(requisition.id, model.id)
        store.audit.append(
            f"user:{principal.user_id}",
            "competency_model.saved",
            details={
                "model": model.id,
                "name": model.name,
                "version": model.version,
                "origin": model.origin,
                "requisition": requisition.id,
            },
        )
    return model


# --- candidates and interviews -----------------------------------------------------------------


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


def create_candidate(
    store: Store, principal: Principal, data: CandidateInput
) -> tuple[Candidate, Interview]:
    """A new candidate with their first interview for a requisition the principal can see."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    problems: list[str] = []
    full_name = _text(data.full_name, "the name", problems)
    email = _text(data.email, "the e-mail address", problems, required=False)
    if email and not _EMAIL.match(email):
        problems.append("the e-mail address is not valid")
    phone = _text(data.phone, "the phone number", problems, required=False, limit=40)
    if phone and not _PHONE.match(phone):
        problems.append("the phone number may hold digits, spaces and + ( ) . / -")
    if data.residence_region not in REGIONS:
        problems.append("choose a region of residence from the list")
    if data.language not in CANDIDATE_LANGUAGES:
        problems.append("choose an interview language from the list")
    requisition: Requisition | None = None
    if data.requisition_id is None:
        problems.append("choose a job")
    else:
        try:
            requisition = store.requisitions.get_visible(data.requisition_id, visibility)
        except NotFoundError:
            problems.append("choose a job from the list")
        else:
            if requisition.status == "closed":
                problems.append("the job is closed")
    if problems or requisition is None:
        raise InvalidInputError(problems)
    with store.transaction():
        candidate = store.candidates.create(
            full_name,
            email=email or None,
            phone=phone or None,
            residence_region=data.residence_region,
            language=data.language,
        )
        interview = store.interviews.create(candidate.id, requisition.id, language=data.language)
        store.audit.append(
            f"user:{principal.user_id}",
            "candidate.created",
            subject=candidate.pseudonym,
            details={"requisition": requisition.id, "interview": interview.id},
        )
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
        problems.append("the candidate's data was erased")
    if kind not in INTERVIEW_KINDS:
        problems.append("choose a kind of interview from the list")
    if language not in CANDIDATE_LANGUAGES:
        problems.append("choose an interview language from the list")
    if requisition.status == "closed":
        problems.append("the job is closed")
    if problems:
        raise InvalidInputError(problems)
    rounds = [
        i.round
        for i in store.interviews.for_candidate(candidate.id)
        if i.requisition_id == requisition.id
    ]
    with store.transaction():
        interview = store.interviews.create(
            candidate.id,
            requisition.id,
            kind=kind,
            round_no=max(rounds, default=0) + 1,
            language=language,
        )
        store.audit.append(
            f"user:{principal.user_id}",
            "interview.planned",
            subject=candidate.pseudonym,
            details={"interview": interview.id, "requisition": requisition.id},
        )
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
        raise InvalidInputError(["choose a duty from the list"])
    if user_id not in {
        person.id for person in assignable_people(store, requisition) if person.role == duty
    }:
        raise InvalidInputError(["choose a person from the list"])
    candidate = store.candidates.get(interview.candidate_id)
    with store.transaction():
        store.interviews.assign(interview.id, user_id, duty)
        store.audit.append(
            f"user:{principal.user_id}",
            "interview.assigned",
            subject=candidate.pseudonym,
            details={"interview": interview.id, "user": user_id, "duty": duty},
        )


# --- views of a candidate ----------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationView:
    """An evaluation with its author's name."""

    evaluation: Evaluation
    author: str


@dataclass(frozen=True)
class Assignee:
    """A person assigned to an interview."""

    user_id: int
    display_name: str
    duty: str


@dataclass(frozen=True)
class InterviewDetail:
    """One visible interview of a candidate with what hangs off it."""

    interview: Interview
    requisition: Requisition
    recordings: list[Recording]
    reports: list[Report]
    evaluations: list[EvaluationView]
    assignees: list[Assignee]


@dataclass(frozen=True)
class DecisionView:
    """A decision or recommendation with its author's name and the job's title."""

    decision: Decision
    author: str
    requisition_title: str


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event of a candidate's history."""

    at: str
    kind: str
    detail: str = ""
    who: str = ""
    report_id: int | None = None


@dataclass(frozen=True)
class CandidateProfile:
    """Everything the profile page shows, limited to what the visibility reaches."""

    candidate: Candidate
    interviews: list[InterviewDetail]
    decisions: list[DecisionView]
    timeline: list[TimelineEvent]

    @property
    def requisitions(self) -> list[Requisition]:
        """The distinct jobs of the candidate's visible interviews."""
        seen: dict[int, Requisition] = {}
        for detail in self.interviews:
            seen.setdefault(detail.requisition.id, detail.requisition)
        return list(seen.values())


def candidate_profile(store: Store, visibility: Visibility, candidate_id: int) -> CandidateProfile:
    """A visible candidate's details, interviews, reports, evaluations, decisions, timeline."""
    candidate = store.candidates.get_visible(candidate_id, visibility)
    names = _Names(store)
    requisitions = _Requisitions(store)
    details = []
    for interview in store.interviews.for_candidate_visible(candidate.id, visibility):
        details.append(
            InterviewDetail(
                interview,
                requisitions(interview.requisition_id),
                store.recordings.for_interview(interview.id),
                store.reports.for_interview(interview.id),
                [
                    EvaluationView(evaluation, names(evaluation.author_id))
                    for evaluation in store.evaluations.for_interview(interview.id)
                ],
                [
                    Assignee(user_id, names(user_id), duty)
                    for user_id, duty in store.interviews.assignees(interview.id)
                ],
            )
        )
    job_ids = {detail.requisition.id for detail in details}
    decisions = [
        DecisionView(
            decision, names(decision.decided_by), requisitions(decision.requisition_id).title
        )
        for decision in store.decisions.for_candidate(candidate.id)
        if decision.requisition_id in job_ids
    ]
    overrides = [
        (override, report)
        for detail in details
        for report in detail.reports
        for override in store.overrides.for_report(report.id)
    ]
    return CandidateProfile(
        candidate, details, decisions, _timeline(candidate, details, decisions, overrides, names)
    )


def _timeline(
    candidate: Candidate,
    details: list[InterviewDetail],
    decisions: list[DecisionView],
    overrides: list[tuple[ScoreOverride, Report]],
    names: _Names,
) -> list[TimelineEvent]:
    events = [TimelineEvent(candidate.created_at, "candidate.created")]
    for detail in details:
        interview, title = detail.interview, detail.requisition.title
        if interview.scheduled_at:
            events.append(
                TimelineEvent(
                    interview.scheduled_at,
                    "interview.scheduled",
                    f"{title} · {interview.round}",
                )
            )
        events.extend(
            TimelineEvent(rec.created_at, "recording.added", rec.display_name)
            for rec in detail.recordings
        )
        events.extend(
            TimelineEvent(report.created_at, "report.drafted", title, report_id=report.id)
            for report in detail.reports
        )
        events.extend(
            TimelineEvent(
                view.evaluation.created_at,
                f"evaluation.{view.evaluation.kind}",
                f"{title} · {view.evaluation.rating}/10",
                view.author,
            )
            for view in detail.evaluations
        )
    events.extend(
        TimelineEvent(
            view.decision.decided_at,
            f"decision.{view.decision.kind}",
            view.requisition_title,
            view.author,
        )
        for view in decisions
    )
    events.extend(
        TimelineEvent(
            override.overridden_at,
            "score.overridden",
            f"{override.dimension}: {_score_text(override.previous_score)} → "
            f"{_score_text(override.new_score)}",
            names(override.overridden_by),
            report_id=report.id,
        )
        for override, report in overrides
    )
    return sorted(events, key=lambda event: event.at)


def _score_text(score: float | None) -> str:
    return "-" if score is None else f"{score:g}"


@dataclass(frozen=True)
class CandidateRow:
    """A candidate in a list, with the jobs and states of their visible interviews."""

    candidate: Candidate
    interviews: list[tuple[Interview, Requisition]]


def candidate_rows(
    store: Store, visibility: Visibility, candidates: Iterable[Candidate]
) -> list[CandidateRow]:
    """List rows for candidates (their visible interviews with each job)."""
    requisitions = _Requisitions(store)
    return [
        CandidateRow(
            candidate,
            [
                (interview, requisitions(interview.requisition_id))
                for interview in store.interviews.for_candidate_visible(candidate.id, visibility)
            ],
        )
        for candidate in candidates
    ]


def search_candidates(
    store: Store,
    visibility: Visibility,
    *,
    text: str = "",
    requisition_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 25,
) -> tuple[list[CandidateRow], bool]:
    """One page of visible candidates matching the filters, and whether a next page exists."""
    if status is not None and status not in INTERVIEW_STATUSES:
        status = None
    page = max(1, page)
    found = store.candidates.visible(
        visibility,
        text=text.strip()[:MAX_TEXT],
        requisition_id=requisition_id,
        status=status,
        limit=page_size + 1,
        offset=(page - 1) * page_size,
    )
    return candidate_rows(store, visibility, found[:page_size]), len(found) > page_size


# --- technical rounds --------------------------------------------------------------------------


@dataclass(frozen=True)
class TechRound:
    """What a technical expert sees of an interview assigned to them: nothing else."""

    interview: Interview
    candidate_name: str
    candidate_pseudonym: str
    requisition: Requisition
    model: CompetencyModel | None
    evaluations: list[Evaluation]


def tech_rounds(store: Store, principal: Principal) -> list[TechRound]:
    """The technical rounds assigned to the principal."""
    require(principal, Action.VIEW_TECH_ROUND)
    return [
        _tech_round(store, principal, interview)
        for interview in store.interviews.assigned_to(principal.user_id, "tech_expert")
    ]


def tech_round(store: Store, principal: Principal, interview_id: int) -> TechRound:
    """One technical round assigned to the principal; any other id is not found."""
    visibility = require(principal, Action.VIEW_TECH_ROUND)
    if (principal.user_id, "tech_expert") not in store.interviews.assignees(interview_id):
        raise NotFoundError(f"no interview {interview_id}")
    return _tech_round(store, principal, store.interviews.get_visible(interview_id, visibility))


def _tech_round(store: Store, principal: Principal, interview: Interview) -> TechRound:
    candidate = store.candidates.get(interview.candidate_id)
    requisition = store.requisitions.get(interview.requisition_id)
    model = (
        store.competency_models.get(requisition.competency_model_id)
        if requisition.competency_model_id is not None
        else None
    )
    own = [
        evaluation
        for evaluation in store.evaluations.for_interview(interview.id)
        if evaluation.author_id == principal.user_id and evaluation.kind == "technical"
    ]
    return TechRound(interview, candidate.full_name, candidate.pseudonym, requisition, model, own)


# --- dashboard ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwaitingReport:
    """A report with no decision recorded for its job since it was drafted."""

    report: Report
    candidate: Candidate
    requisition: Requisition


@dataclass(frozen=True)
class AssignedInterview:
    """An interview assigned to the viewer."""

    interview: Interview
    duty: str
    candidate_name: str
    candidate_id: int
    requisition: Requisition


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's figures, each limited to what the viewer's role reaches."""

    status_counts: dict[str, int] | None = None
    latest: list[CandidateRow] = field(default_factory=list)
    awaiting: list[AwaitingReport] = field(default_factory=list)
    assigned: list[AssignedInterview] = field(default_factory=list)


def _scope(principal: Principal, action: Action) -> Visibility | None:
    return require(principal, action) if allowed(principal, action) is not None else None


def dashboard(store: Store, principal: Principal) -> Dashboard:
    """Counts by interview status, the newest candidates, reports awaiting a decision, and the
    viewer's own assignments: each scoped by the viewer's own permissions."""
    require(principal, Action.VIEW_DASHBOARD)
    candidates_scope = _scope(principal, Action.VIEW_CANDIDATES)
    counts: dict[str, int] | None = None
    latest: list[CandidateRow] = []
    if candidates_scope is not None:
        counts = {
            status: store.candidates.count_visible(candidates_scope, status=status)
            for status in INTERVIEW_STATUSES
        }
        latest = candidate_rows(
            store,
            candidates_scope,
            store.candidates.visible(candidates_scope, limit=LATEST_CANDIDATES),
        )
    reports_scope = _scope(principal, Action.VIEW_REPORTS)
    awaiting = (
        awaiting_decision(store, reports_scope)
        if reports_scope is not None and candidates_scope is not None
        else []
    )
    requisitions = _Requisitions(store)
    assigned = []
    for duty, action in (
        ("interviewer", Action.ADD_EVALUATION),
        ("tech_expert", Action.VIEW_TECH_ROUND),
    ):
        if allowed(principal, action) is None:
            continue
        for interview in store.interviews.assigned_to(principal.user_id, duty):
            candidate = store.candidates.get(interview.candidate_id)
            assigned.append(
                AssignedInterview(
                    interview,
                    duty,
                    candidate.full_name,
                    candidate.id,
                    requisitions(interview.requisition_id),
                )
            )
    return Dashboard(counts, latest, awaiting, assigned)


def awaiting_decision(store: Store, visibility: Visibility) -> list[AwaitingReport]:
    """Visible reports of analysed interviews with no decision on that job since the report."""
    requisitions = _Requisitions(store)
    found = []
    for candidate in store.candidates.visible(visibility, status="analysed", limit=AWAITING_SCAN):
        decided: dict[int, str] = {}
        for decision in store.decisions.for_candidate(candidate.id):
            if decision.kind in DECISIONS:
                decided[decision.requisition_id] = max(
                    decided.get(decision.requisition_id, ""), decision.decided_at
                )
        for interview in store.interviews.for_candidate_visible(candidate.id, visibility):
            if interview.status != "analysed":
                continue
            for report in store.reports.for_interview(interview.id):
                if decided.get(interview.requisition_id, "") < report.created_at:
                    found.append(
                        AwaitingReport(report, candidate, requisitions(interview.requisition_id))
                    )
    return sorted(found, key=lambda item: item.report.created_at, reverse=True)


# --- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """A quote from the answer with its place in the recording, if known."""

    quote: str
    start: float | None
    end: float | None


@dataclass(frozen=True)
class ScoreRow:
    """One competency's AI score, the current score after overrides, and the evidence."""

    key: str
    name: str
    weight: float | None
    ai_score: float | None
    confidence: float | None
    current: float | None
    overridden: bool
    evidence: list[Evidence]


@dataclass(frozen=True)
class OverrideView:
    """An override with its author's name."""

    override: ScoreOverride
    author: str


@dataclass(frozen=True)
class ReportDetail:
    """Everything the report page shows."""

    report: Report
    interview: Interview
    candidate: Candidate
    requisition: Requisition
    model: CompetencyModel | None
    recording: Recording | None
    media: dict[str, Any] | None
    steps_run: list[str]
    steps_skipped: list[str]
    scores: list[ScoreRow]
    overrides: list[OverrideView]

    @property
    def scored(self) -> bool:
        """Whether the analysis produced any score."""
        return any(row.ai_score is not None for row in self.scores)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _evidence(value: Any) -> list[Evidence]:
    if not isinstance(value, list):
        return []
    return [
        Evidence(str(item["quote"]), _number(item.get("start")), _number(item.get("end")))
        for item in value
        if isinstance(item, dict) and item.get("quote")
    ]


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def report_detail(store: Store, visibility: Visibility, report_id: int) -> ReportDetail:
    """A visible report with its scores (after overrides), evidence and override history."""
    report = store.reports.get_visible(report_id, visibility)
    interview = store.interviews.get(report.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    requisition = store.requisitions.get(interview.requisition_id)
    model = (
        store.competency_models.get(requisition.competency_model_id)
        if requisition.competency_model_id is not None
        else None
    )
    recording = (
        store.recordings.get(report.recording_id) if report.recording_id is not None else None
    )
    content = report.content if isinstance(report.content, dict) else {}
    media = content.get("media")
    if not isinstance(media, dict):
        media = recording.media_info if recording is not None else None
    dimensions = {dim.key: dim for dim in model.dimensions} if model else {}
    # Weights belong to a model version: shown only when the job still uses the version the
    # report names (names of dimensions are kept as labels either way).
    same_version = model is not None and report.model_version == model.label
    raw = content.get("scores")
    raw_scores: dict[str, Any] = raw if isinstance(raw, dict) else {}
    current = current_scores(store, report.id)
    overrides = store.overrides.for_report(report.id)
    overridden = {override.dimension for override in overrides}
    keys = list(raw_scores) + [key for key in dimensions if key not in raw_scores]
    rows = []
    for key in keys:
        entry = raw_scores.get(key)
        entry = entry if isinstance(entry, dict) else {}
        dim = dimensions.get(key)
        rows.append(
            ScoreRow(
                key,
                dim.name if dim else key,
                dim.weight if dim and same_version else None,
                _number(entry.get("score")),
                _number(entry.get("confidence")),
                current.get(key),
                key in overridden,
                _evidence(entry.get("evidence")),
            )
        )
    names = _Names(store)
    return ReportDetail(
        report,
        interview,
        candidate,
        requisition,
        model,
        recording,
        media,
        _strings(content.get("steps_run")),
        _strings(content.get("steps_skipped")),
        rows,
        [OverrideView(override, names(override.overridden_by)) for override in overrides],
    )


__all__ = [
    "CANDIDATE_LANGUAGES",
    "INTERVIEW_KINDS",
    "INTERVIEW_STATUSES",
    "QUESTION_LANGUAGES",
    "REGIONS",
    "REQUISITION_STATUSES",
    "CandidateInput",
    "DimensionInput",
    "InvalidInputError",
    "RequisitionInput",
    "assign_interview",
    "assignable_people",
    "candidate_profile",
    "create_candidate",
    "create_requisition",
    "dashboard",
    "parse_dimensions",
    "plan_interview",
    "report_detail",
    "save_competency_model",
    "search_candidates",
    "tech_round",
    "tech_rounds",
    "update_requisition",
]
