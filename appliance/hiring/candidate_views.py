"""What the candidate pages show: a candidate's profile with interviews, reports, evaluations,
decisions and timeline, and the rows of candidate lists and searches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from appliance.hiring.common import (
    INTERVIEW_STATUSES,
    MAX_TEXT,
    NameLookup,
    RequisitionLookup,
    competency_model_of,
)
from appliance.security.permissions import Visibility
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate
from appliance.store.recordings import Recording
from appliance.store.reports import Report
from appliance.store.review import Decision, Evaluation, ScoreOverride


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
    model: ModelSpec | None = None  # the job's competency model: what a scorecard rates


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
    names = NameLookup(store)
    requisitions = RequisitionLookup(store)
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
                competency_model_of(store, requisitions(interview.requisition_id)),
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
    names: NameLookup,
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
    """List rows for candidates (their visible interviews with each job): two queries for the
    whole list, not one per candidate."""
    listed = list(candidates)
    interviews = store.interviews.for_candidates_visible([c.id for c in listed], visibility)
    jobs = store.requisitions.many(
        {interview.requisition_id for found in interviews.values() for interview in found}
    )
    return [
        CandidateRow(
            candidate,
            [
                (interview, jobs[interview.requisition_id])
                for interview in interviews.get(candidate.id, [])
            ],
        )
        for candidate in listed
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


__all__ = [
    "Assignee",
    "CandidateProfile",
    "CandidateRow",
    "DecisionView",
    "EvaluationView",
    "InterviewDetail",
    "TimelineEvent",
    "candidate_profile",
    "candidate_rows",
    "search_candidates",
]
