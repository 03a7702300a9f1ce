"""People correcting how a recording splits into answers (boundaries and question assignment).

The correction is stored sealed; the next analysis of the recording reads it through
`appliance.analysis.segmentation.answer_spans`, and the report names who set the boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.analysis.segmentation import (
    SegmentationError,
    automatic_spans,
    span_rows,
    spans_from_rows,
)
from appliance.hiring.review import log_candidate_read
from appliance.scoring.spans import AnswerSpan
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.hiring import Interview
from appliance.store.queue import Job
from appliance.store.recordings import Recording
from appliance.store.reports import Report
from appliance.store.segments import SegmentCorrection
from inference.interfaces import Transcript


@dataclass(frozen=True)
class QuestionChoice:
    """A question a span can be assigned to (`value` is what the form sends)."""

    value: str
    question_id: int | None
    text: str
    dimension_key: str | None


@dataclass(frozen=True)
class SegmentView:
    """What the correction page shows for one recording."""

    recording: Recording
    interview: Interview
    report: Report | None
    duration: float | None
    spans: list[AnswerSpan]
    source: str  # "corrected", "automatic" or "unanalysed"
    correction: SegmentCorrection | None
    corrected_by: str
    choices: list[QuestionChoice]

    def choice_of(self, span: AnswerSpan) -> str:
        """The form value of the question a span is assigned to."""
        for choice in self.choices:
            if choice.question_id is not None and choice.question_id == span.question_id:
                return choice.value
        for choice in self.choices:
            if choice.question_id is None and choice.text == span.question_text:
                return choice.value
        return ""


def _recording(
    store: Store, visibility: Visibility, recording_id: int
) -> tuple[Recording, Interview]:
    recording = store.recordings.get(recording_id)
    return recording, store.interviews.get_visible(recording.interview_id, visibility)


def _latest_report(store: Store, recording: Recording) -> Report | None:
    reports = [
        r
        for r in store.reports.for_interview(recording.interview_id)
        if r.recording_id == recording.id
    ]
    return reports[-1] if reports else None


def _transcript(report: Report | None) -> Transcript | None:
    if report is None:
        return None
    sections = report.content.get("sections") if isinstance(report.content, dict) else None
    data = sections.get("transcript") if isinstance(sections, dict) else None
    if not isinstance(data, dict) or "segments" not in data:
        return None
    try:
        return Transcript.from_dict(data)
    except (KeyError, TypeError, ValueError):  # a report of an older shape: no split shown
        return None


def _duration(recording: Recording, transcript: Transcript | None) -> float | None:
    if transcript is not None:
        return max(transcript.duration_s, max((s.end for s in transcript.segments), default=0.0))
    info = recording.media_info or {}
    value = info.get("duration_s")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def choices(store: Store, recording: Recording, interview: Interview) -> list[QuestionChoice]:
    """The planned questions of the job and the candidate's personalised ones."""
    requisition = store.requisitions.get(interview.requisition_id)
    found = []
    if requisition.competency_model_id is not None:
        for q in store.interview_plan.planned_questions(requisition.competency_model_id):
            found.append(QuestionChoice(f"p{q.id}", q.id, q.text, q.dimension_key))
    for pq in store.personal_questions.for_plan(recording.candidate_id, requisition.id):
        found.append(QuestionChoice(f"c{pq.id}", None, pq.text, pq.dimension_key))
    return found


def segment_view(store: Store, principal: Principal, recording_id: int) -> SegmentView:
    """The answers of a recording as they stand, and what they may be assigned to."""
    recording, interview = _recording(store, require(principal, Action.VIEW_REPORTS), recording_id)
    report = _latest_report(store, recording)
    transcript = _transcript(report)
    duration = _duration(recording, transcript)
    correction = store.segment_corrections.latest(recording.id)
    if correction is not None and correction.spans:
        spans, source = spans_from_rows(correction.spans, None), "corrected"
    elif transcript is not None:
        spans, source = automatic_spans(store, recording.id, transcript), "automatic"
    else:
        spans, source = [], "unanalysed"
    corrected_by = ""
    if correction is not None and correction.corrected_by is not None:
        corrected_by = store.users.get(correction.corrected_by).display_name
    candidate = store.candidates.get(recording.candidate_id)
    log_candidate_read(store, principal, candidate.pseudonym, f"segments:{recording.id}")
    return SegmentView(
        recording,
        interview,
        report,
        duration,
        spans,
        source,
        correction,
        corrected_by,
        choices(store, recording, interview),
    )


def rows_from_form(
    starts: list[str], ends: list[str], questions: list[str], available: list[QuestionChoice]
) -> list[dict[str, Any]]:
    """Correction rows from the form's parallel lists (blank rows are skipped)."""
    by_value = {choice.value: choice for choice in available}
    rows = []
    for number, (start, end, question) in enumerate(
        zip(starts, ends, questions, strict=False), start=1
    ):
        if not start.strip() and not end.strip():
            continue
        try:
            start_s = float(start.replace(",", "."))
            end_s = float(end.replace(",", "."))
        except ValueError:
            raise SegmentationError(
                f"answer {number}: start and end are numbers of seconds"
            ) from None
        choice = by_value.get(question) if question else None
        if question and choice is None:
            raise SegmentationError(f"answer {number}: unknown question")
        rows.append(
            {
                "start": start_s,
                "end": end_s,
                "question_id": choice.question_id if choice else None,
                "question_text": choice.text if choice else "",
                "dimension_key": choice.dimension_key if choice else None,
            }
        )
    return rows


def save_correction(
    store: Store,
    principal: Principal,
    recording_id: int,
    rows: list[dict[str, Any]],
    *,
    reanalyse: bool = False,
    max_open: int = 1000,
    max_attempts: int = 3,
) -> tuple[SegmentCorrection, Job | None]:
    """Store a person's answer boundaries (an empty list returns to the automatic split).

    With `reanalyse`, an analysis of the recording is queued in the same transaction so the
    scores follow the new boundaries.
    """
    recording, _interview = _recording(
        store, require(principal, Action.CORRECT_SEGMENTS), recording_id
    )
    view_duration = _duration(recording, _transcript(_latest_report(store, recording)))
    spans = spans_from_rows(rows, view_duration)
    candidate = store.candidates.get(recording.candidate_id)
    job = None
    with store.audited(
        principal.actor,
        "segments.corrected",
        subject=candidate.pseudonym,
        recording=recording.id,
        answers=len(spans),
    ) as entry:
        correction = store.segment_corrections.add(
            recording.id, span_rows(spans), principal.user_id
        )
        if reanalyse:
            job = store.jobs.enqueue(
                "analyse",
                subject_type="recording",
                subject_id=recording.id,
                max_open=max_open,
                max_attempts=max_attempts,
            )
        entry.details["job"] = job.id if job else None
    return correction, job
