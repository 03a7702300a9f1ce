"""The report of an interview as one document: what the HTML view, the PDF and the JSON export
show, and the narrower explanation a candidate receives.

Built from the `scoring` sections of the interview's reports (the scoring helper's contract),
with every human override applied and named, each answer with its own words (the transcript,
and its machine translation, cut at the answer's boundaries; the segmentation's answers where
nothing was scored), the human decisions, delivery metrics, visual observations where policy
allowed them, and the versions of the models that produced it all.
Reading one is a read of candidate data: the caller logs it (see `log_document_read`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from appliance.analysis.answer_transcripts import answer_words, player_kind
from appliance.analysis.interview_scores import (
    SCOPE_ANSWER,
    SCOPE_INTERVIEW,
    AppliedOverride,
    InterviewScores,
    latest_per_recording,
    score_overrides,
    sections_of,
)
from appliance.analysis.report_facts import (
    answer_delivery,
    answer_visual,
    delivery_facts,
    dimension_labels,
    timed_words,
    visual_facts,
)
from appliance.analysis.report_steps import language_check, scoring_state, step_states
from appliance.analysis.segmentation import answer_spans
from appliance.compliance.common import regions_of
from appliance.compliance.policy import PolicyAction, decide_for_interview
from appliance.hiring.report_views import ReportDetail, report_detail
from appliance.hiring.review import log_candidate_read
from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate
from appliance.store.recordings import Recording
from appliance.store.reports import Report
from appliance.store.review import Evaluation, ScoreOverride
from inference.interfaces import Transcript, Word

FORMAT = "interview-appliance/report-1"
EXPLANATION_FORMAT = "interview-appliance/explanation-1"


@dataclass(frozen=True)
class _Names:
    """Display names of accounts, each looked up once per document."""

    store: Store
    known: dict[int, str] = field(default_factory=dict)

    def __call__(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        if user_id not in self.known:
            try:
                self.known[user_id] = self.store.users.get(user_id).display_name
            except Exception:  # a removed account still shows who it was, by id
                self.known[user_id] = f"user {user_id}"
        return self.known[user_id]


@dataclass(frozen=True)
class _Read:
    """What the caller has read already for a document (the report page: its detail), so
    nothing is read or opened twice."""

    candidate: Candidate
    requisition: Requisition
    overrides: dict[int, list[ScoreOverride]]  # report id -> its overrides, oldest first
    recordings: dict[int, Recording]


class _Once:
    """A value worked out on the first call and kept for the next ones."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make: Callable[[], Any] | None = make
        self._value: Any = None

    def __call__(self) -> Any:
        if self._make is not None:
            self._value, self._make = self._make(), None
        return self._value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


_sections = sections_of


def _place_evidence(document: dict[str, Any], recordings: list[int | None]) -> None:
    """Name the recording of every evidence span (timestamps are within that recording)."""
    spans = [e for d in document["dimensions"] for e in d["evidence"]]
    spans += [e for f in document["strengths"] + document["to_probe"] for e in f["evidence"]]
    spans += [f["based_on"] for f in document["followups"] if f["based_on"]]
    for span in spans:
        position = span.pop("recording", None)
        if len(recordings) == 1:
            span["recording_id"] = recordings[0]
        elif isinstance(position, int) and 0 <= position < len(recordings):
            span["recording_id"] = recordings[position]
        else:
            span["recording_id"] = None


def _weighted(dimensions: list[dict[str, Any]], field: str) -> float | None:
    scored = [
        (float(d["weight"]), float(d[field]))
        for d in dimensions
        if _number(d.get(field)) is not None and _number(d.get("weight"))
    ]
    total = sum(weight for weight, _ in scored)
    if not scored or total <= 0:
        return None
    return round(sum(weight * value for weight, value in scored) / total, 2)


def _span(span: Any) -> dict[str, Any] | None:
    span = _dict(span)
    if not span.get("quote"):
        return None
    return {
        "quote": str(span["quote"]),
        "start": _number(span.get("start")),
        "end": _number(span.get("end")),
        "answer": span.get("answer"),
        "cue": str(span.get("cue") or ""),
        "recording": span.get("recording"),
    }


def _spans(value: Any) -> list[dict[str, Any]]:
    return [s for s in (_span(item) for item in _list(value)) if s is not None]


def _named(name: str) -> tuple[str, str]:
    """How a finding's text opens when it names a competency (English or Chinese colon)."""
    return f"{name}:", f"{name}\uff1a"


def _findings(value: Any, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Strengths or areas to probe: the scorer's text, evidence, flag code and competency key.

    A strength names its competency only in its text (`name: quote`, a full-width colon in
    Chinese): `names` (scored name -> key) finds the key, so the page can name the competency in
    the viewer's language."""
    found = []
    for item in _list(value):
        if not isinstance(item, dict) or not item.get("text"):
            continue
        text = str(item["text"])
        key = item.get("dimension") or next(
            (k for name, k in (names or {}).items() if text.startswith(_named(name))), None
        )
        found.append(
            {
                "text": text,
                "evidence": _spans(item.get("evidence")),
                "code": str(item.get("code") or ""),
                "dimension": str(key) if key else None,
            }
        )
    return found


def _model_spec(
    store: Store, scoring: dict[str, Any], requisition: Requisition
) -> ModelSpec | None:
    """The model version the scores came from: the source of both languages' names and anchors
    (the job's model where the scores name none)."""
    named = _dict(scoring.get("model"))
    model_id = named.get("id") if named else requisition.competency_model_id
    if not isinstance(model_id, int) or isinstance(model_id, bool):
        return None
    try:
        spec = store.competency.spec(model_id)
    except NotFoundError:
        return None
    if named and (spec.name, spec.version) != (named.get("name"), named.get("version")):
        return None  # not the version that scored: its labels could say something else
    return spec


def _dimensions(
    scores: InterviewScores,
    names: _Names,
    spec: ModelSpec | None = None,
    scorecards: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    rows = []
    labels = dimension_labels(spec)
    for dim in _list((scores.scoring or {}).get("dimensions")):
        if not isinstance(dim, dict) or not dim.get("key"):
            continue
        key = str(dim["key"])
        ai = _number(dim.get("score"))
        applied = scores.applied.get(key)
        anchor = _dict(dim.get("anchor"))
        label = labels.get(key, {})
        name = str(dim.get("name") or key)
        people = _people(key, ai, scorecards or [])
        rows.append(
            {
                "key": key,
                "name": name,
                "names": label.get("names") or {"en": name, "zh": name},
                "weight": _number(dim.get("weight")) or 0.0,
                "ai_score": ai,
                "score": scores.current.get(key),
                "confidence": _number(dim.get("confidence")),
                "anchor": {
                    "level": anchor.get("level"),
                    "text": str(anchor.get("text") or ""),
                    "texts": _dict(label.get("anchors")).get(str(anchor.get("level"))),
                }
                if anchor
                else None,
                "evidence": _spans(dim.get("evidence")),
                "rationale": str(dim.get("rationale") or ""),
                "override": _applied(applied, names) if applied else None,
                "people": people,
                "disagreement": any(p["disagrees"] for p in people),
            }
        )
    return rows


def _applied(applied: AppliedOverride, names: _Names) -> dict[str, Any]:
    override = applied.override
    return {
        "from": override.previous_score,
        "to": override.new_score,
        "reason": override.reason,
        "by": names(override.overridden_by),
        "at": override.overridden_at,
        "scope": applied.scope,
        "report_id": applied.report_id,
    }


# A person's rating this far from the machine's score is shown as a disagreement.
DISAGREEMENT = 3


def _people(key: str, ai: float | None, scorecards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ratings people gave this competency on their scorecards, oldest first."""
    found = []
    for card in scorecards:
        rating = card["ratings"].get(key)
        if rating is None:
            continue
        found.append(
            {
                "by": card["by"],
                "kind": card["kind"],
                "rating": rating,
                "disagrees": ai is not None and abs(rating - ai) >= DISAGREEMENT,
            }
        )
    return found


def _scorecards(evaluations: list[Evaluation], names: _Names) -> list[dict[str, Any]]:
    """The interviewers' and experts' evaluations: overall rating, notes, per-competency."""
    return [
        {
            "id": ev.id,
            "kind": ev.kind,
            "by": names(ev.author_id),
            "at": ev.created_at,
            "rating": ev.rating,
            "summary": ev.summary,
            "ratings": dict(ev.ratings),
        }
        for ev in evaluations
    ]


def _spans_of(store: Store, report: Report) -> list[dict[str, Any]]:
    """A report's answers: the scorer's, else (not scored) the segmentation of its transcript."""
    sections = _sections(report)
    scored = [
        a for a in _list(_dict(sections.get("scoring")).get("answers")) if isinstance(a, dict)
    ]
    if scored or report.recording_id is None:
        return scored
    stored = sections.get("transcript")
    if not isinstance(stored, dict):
        return []
    try:
        transcript = Transcript.from_dict(stored)
        spans = answer_spans(store, report.recording_id, transcript)
    except (KeyError, TypeError, ValueError, NotFoundError):  # an older shape, or gone
        return []
    return [
        {
            "index": span.index,
            "question_text": span.question_text,
            "dimension_key": span.dimension_key,
            "start": span.start,
            "end": span.end,
        }
        for span in spans
    ]


# Each answer's delivery figures, worked out from the report's words (a real interview's
# transcript: most of a report page's own work) and kept per process: by report, sealing of
# its content (`Report.content_version`: resealed content, say with its transcript removed,
# is a new version) and the answer's boundaries (a person may correct them). A report whose
# content was not opened with its candidate's key has no version and is never kept. The
# figures are numbers about the speech, never its words.
_DELIVERY_KEPT = 1024
_delivery_kept: dict[tuple[int, str, float, float], dict[str, Any] | None] = {}
_delivery_lock = threading.Lock()


def _copied(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A kept answer's figures as a fresh dict each time (the page's document owns its own)."""
    if found is None:
        return None
    return {key: list(value) if isinstance(value, list) else value for key, value in found.items()}


def _answer_delivery(
    report: Report,
    sections: dict[str, Any],
    spoken: Callable[[], tuple[list[Word], str] | None],
    start: float | None,
    end: float | None,
) -> dict[str, Any] | None:
    """`answer_delivery` of one answer of `report`, worked out once per version of its content
    and boundaries (`spoken`: the report's timed words, read only when they are needed)."""
    if report.content_version is None or start is None or end is None:
        return answer_delivery(sections, spoken(), start, end)
    key = (report.id, report.content_version, start, end)
    with _delivery_lock:
        if key in _delivery_kept:
            return _copied(_delivery_kept[key])
    found = answer_delivery(sections, spoken(), start, end)
    with _delivery_lock:
        if len(_delivery_kept) >= _DELIVERY_KEPT:
            _delivery_kept.clear()
        _delivery_kept[key] = _copied(found)
    return found


def _answers(
    store: Store,
    reports: list[Report],
    names: _Names,
    players: dict[int, str],
    cues_allowed: bool = False,
) -> list[dict[str, Any]]:
    """Every answer with its question, flags, boundaries, words, the player of its recording,
    and its delivery and visual observations where the analysis made them (and may show them)."""
    found = []
    for report in reports:
        sections = _sections(report)
        spoken = _Once(partial(timed_words, sections))
        cues = _dict(sections.get("visual_cues"))
        cues = cues if cues_allowed and cues.get("status", "done") == "done" else {}
        correction = (
            store.segment_corrections.latest(report.recording_id)
            if report.recording_id is not None
            else None
        )
        for answer in _spans_of(store, report):
            start, end = _number(answer.get("start")), _number(answer.get("end"))
            found.append(
                {
                    "report_id": report.id,
                    "recording_id": report.recording_id,
                    "player": players.get(report.recording_id)
                    if report.recording_id is not None
                    else None,
                    "index": answer.get("index"),
                    "question_text": str(answer.get("question_text") or ""),
                    "dimension_key": answer.get("dimension_key"),
                    "start": start,
                    "end": end,
                    "flags": [
                        {
                            "code": str(f.get("code", "")),
                            "message": str(f.get("message", "")),
                            "probe": str(f.get("probe", "")),
                            "dimension": f.get("dimension"),
                        }
                        for f in _list(answer.get("flags"))
                        if isinstance(f, dict)
                    ],
                    "boundaries": {
                        "set_by": names(correction.corrected_by),
                        "at": correction.corrected_at,
                    }
                    if correction is not None and correction.spans
                    else None,
                    **answer_words(sections, start, end, answer.get("language")),
                    "delivery": _answer_delivery(report, sections, spoken, start, end),
                    "visual": answer_visual(cues, answer.get("index")) if cues else None,
                }
            )
    return found


def _players(
    store: Store, reports: list[Report], known: dict[int, Recording] | None = None
) -> dict[int, str]:
    """Recording id -> `audio` or `video`: the element that plays each recording (`known`:
    recordings read already)."""
    found: dict[int, str] = {}
    for report in reports:
        if report.recording_id is None or report.recording_id in found:
            continue
        try:
            recording = (known or {}).get(report.recording_id) or store.recordings.get(
                report.recording_id
            )
        except NotFoundError:
            continue
        found[report.recording_id] = player_kind(recording, _dict(report.content).get("media"))
    return found


def _scalars(value: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """The printable entries of a metrics section, nested ones as dotted keys (lists left out)."""
    found: dict[str, Any] = {}
    for key, item in sorted(_dict(value).items()):
        name = f"{prefix}{key}"
        if isinstance(item, dict) and depth < 2:
            found.update(_scalars(item, f"{name}.", depth + 1))
        elif isinstance(item, str | int | float | bool) or item is None:
            found[name] = item
    return found


def _delivery(reports: list[Report]) -> list[dict[str, Any]]:
    found = []
    for report in reports:
        value = _sections(report).get("delivery")
        if isinstance(value, dict) and value:
            found.append(
                {
                    "recording_id": report.recording_id,
                    "report_id": report.id,
                    "values": _scalars(value),
                    "summary": delivery_facts(value),
                }
            )
    return found


def visual_cues_allowed_now(
    store: Store,
    interview: Interview,
    *,
    candidate: Candidate | None = None,
    requisition: Requisition | None = None,
) -> bool:
    """Whether the region policy and the candidate's consent still allow visual cues.

    Asked again when a report is shown: a consent withdrawn or a region setting turned off
    after the analysis withholds the observations from then on (a preview: nothing logged).
    `candidate` and `requisition`: the interview's, where the caller has read them already
    (their regions are the policy's; the consents, notices and settings are always read).
    """
    regions = (
        regions_of(requisition.region, candidate.residence_region)
        if candidate is not None
        and requisition is not None
        and candidate.id == interview.candidate_id
        and requisition.id == interview.requisition_id
        else None
    )
    decision = decide_for_interview(
        store, PolicyAction.RUN_VISUAL_CUES, interview.id, extra={"dry_run": True}, regions=regions
    )
    return decision.allowed


def _visual(reports: list[Report]) -> list[dict[str, Any]]:
    """Visual observations of the recordings where the step ran (policy allowed it)."""
    found = []
    for report in reports:
        value = _dict(_sections(report).get("visual_cues"))
        if not value or value.get("status", "done") != "done":
            continue  # skipped by policy or consent, or failed: nothing observed
        overall = value.get(
            "overall", {k: v for k, v in value.items() if k not in ("answers", "status")}
        )
        found.append(
            {
                "recording_id": report.recording_id,
                "report_id": report.id,
                "values": _scalars(overall),
                "summary": visual_facts(overall),
            }
        )
    return found


def _models(reports: list[Report], scoring: dict[str, Any] | None) -> dict[str, Any]:
    speech = sorted(
        {
            f"{t.get('engine')} {t.get('model')}".strip()
            for t in (_dict(_sections(r).get("transcript")) for r in reports)
            if t.get("engine")
        }
    )
    cues = [_dict(_sections(r).get("visual_cues")) for r in reports]
    vision = sorted(
        {
            str(c.get("model") or c.get("backend"))
            for c in cues
            if (c.get("model") or c.get("backend")) and c.get("status", "done") == "done"
        }
    )
    scoring = scoring or {}
    model = _dict(scoring.get("model"))
    return {
        "competency_model": {
            "id": model.get("id"),
            "name": model.get("name"),
            "version": model.get("version"),
        }
        if model
        else None,
        "competency_model_label": next((r.model_version for r in reports if r.model_version), None),
        "scorer": scoring.get("scorer"),
        "speech": speech,
        "vision": vision,
        "steps": sorted(
            {str(s) for r in reports for s in _list(_dict(r.content).get("steps_run"))}
        ),
    }


def _decisions(store: Store, interview: Interview, names: _Names) -> list[dict[str, Any]]:
    return [
        {"kind": d.kind, "reason": d.reason, "by": names(d.decided_by), "at": d.decided_at}
        for d in store.decisions.for_candidate(interview.candidate_id)
        if d.requisition_id == interview.requisition_id
    ]


def _notes(reports: list[Report]) -> dict[str, str]:
    """The reports' notes merged (a later report's note wins over an earlier one's key)."""
    notes: dict[str, str] = {}
    for report in reports:
        notes.update({str(k): str(v) for k, v in _dict(_dict(report.content).get("notes")).items()})
    return notes


def _heading(
    interview: Interview,
    reports: list[Report],
    candidate: Candidate,
    requisition: Requisition,
    players: dict[int, str],
) -> dict[str, Any]:
    """The document's format, time and what it is about: reports, candidate, job, interview."""
    return {
        "format": FORMAT,
        "generated_at": now_stamp(),
        "reports": [
            {
                "id": r.id,
                "recording_id": r.recording_id,
                "player": players.get(r.recording_id) if r.recording_id is not None else None,
                "status": r.status,
                "created_at": r.created_at,
                "steps": step_states(_dict(r.content)),
            }
            for r in reports
        ],
        "candidate": {
            "id": candidate.id,
            "pseudonym": candidate.pseudonym,
            "name": candidate.full_name,
        },
        "job": {
            "id": requisition.id,
            "title": requisition.title,
            "department": requisition.department,
            "location": requisition.location,
            "region": requisition.region,
        },
        "interview": {
            "id": interview.id,
            "round": interview.round,
            "kind": interview.kind,
            "language": interview.language,
            "status": interview.status,
        },
    }


def _scores(
    scoring: dict[str, Any] | None, dimensions: list[dict[str, Any]], reports: list[Report]
) -> dict[str, Any]:
    """The scoring part: competencies with overrides applied, totals, findings, follow-ups;
    why nothing was scored; whether the answers are in the interview's language."""
    found = scoring or {}
    return {
        "scored": scoring is not None,
        "not_scored": None if scoring is not None else scoring_state(reports),
        "language": found.get("language"),
        "language_mismatch": bool(found.get("language_mismatch")),
        "language_check": language_check(reports, scoring),
        "dimensions": dimensions,
        "overall_ai": _number(found.get("overall")),
        "overall": _weighted(dimensions, "score"),
        "strengths": _findings(found.get("strengths"), {d["name"]: d["key"] for d in dimensions}),
        "to_probe": _findings(found.get("to_probe")),
        "followups": [
            {
                "dimension": str(f.get("dimension", "")),
                "question": str(f.get("question", "")),
                "based_on": _span(f.get("based_on")),
            }
            for f in _list(found.get("followups"))
            if isinstance(f, dict) and f.get("question")
        ],
    }


def _override_history(scores: InterviewScores, names: _Names) -> list[dict[str, Any]]:
    """Every override of the reports and of the interview, oldest first, with who made it."""
    changes = [
        (o.overridden_at, o.id, SCOPE_ANSWER, r.id, o) for r, o in scores.answer_overrides
    ] + [(o.overridden_at, o.id, SCOPE_INTERVIEW, None, o) for o in scores.interview_overrides]
    return [
        {
            "report_id": report_id,
            "scope": scope,
            "dimension": o.dimension,
            "from": o.previous_score,
            "to": o.new_score,
            "reason": o.reason,
            "by": names(o.overridden_by),
            "at": o.overridden_at,
        }
        for _at, _id, scope, report_id, o in sorted(changes, key=lambda c: (c[0], c[2], c[1]))
    ]


def _document(
    store: Store,
    interview: Interview,
    reports: list[Report],
    *,
    whole: bool,
    read: _Read | None = None,
) -> dict[str, Any]:
    """The document of these reports; `whole`: of the whole interview (its own overrides and
    the people's scorecards apply), else of one report. `read`: what the caller has read."""
    names = _Names(store)
    candidate = read.candidate if read else store.candidates.get(interview.candidate_id)
    requisition = read.requisition if read else store.requisitions.get(interview.requisition_id)
    overrides = (
        read.overrides if read else {r.id: store.overrides.for_report(r.id) for r in reports}
    )
    scores = score_overrides(
        reports,
        [(r, o) for r in reports for o in overrides[r.id]],
        store.interview_overrides.for_interview(interview.id) if whole else [],
    )
    scoring, recordings = scores.scoring, scores.recordings
    observed = _visual(reports)
    players = _players(store, reports, read.recordings if read else None)
    # Asked whenever there is video to watch: people may watch it for their own review even
    # where the machine may not analyse it, and the page says which applies.
    visual_allowed = (bool(observed) or "video" in players.values()) and visual_cues_allowed_now(
        store, interview, candidate=candidate, requisition=requisition
    )
    cues_allowed = bool(observed) and visual_allowed
    scorecards = _scorecards(store.evaluations.for_interview(interview.id), names)
    spec = _model_spec(store, scoring or {}, requisition)
    dimensions = _dimensions(scores, names, spec, scorecards)
    notes = _notes(reports)
    document = {
        **_heading(interview, reports, candidate, requisition, players),
        **_scores(scoring, dimensions, reports),
        "answers": _answers(store, reports, names, players, cues_allowed),
        "delivery": _delivery(reports),
        "visual_cues": observed if cues_allowed else [],
        "visual_cues_withheld": bool(observed) and not cues_allowed,
        "video_analysis_allowed": visual_allowed,
        "models": _models(reports, scoring),
        "overrides": _override_history(scores, names),
        "decisions": _decisions(store, interview, names),
        "scorecards": scorecards,
        "notes": notes,
    }
    _place_evidence(document, recordings)
    return document


def _visible_interview(store: Store, visibility: Visibility, interview_id: int) -> Interview:
    return store.interviews.get_visible(interview_id, visibility)


def report_document(store: Store, principal: Principal, report_id: int) -> dict[str, Any]:
    """The document of one report (one recording's analysis)."""
    visibility = require(principal, Action.VIEW_REPORTS)
    report = store.reports.get_visible(report_id, visibility)
    return _document(store, store.interviews.get(report.interview_id), [report], whole=False)


def report_page(
    store: Store, principal: Principal, report_id: int
) -> tuple[ReportDetail, dict[str, Any]]:
    """What the report page shows of one report: its detail (`report_detail`) and its document
    (`report_document`), with the report, interview, candidate, job, recording and overrides
    read and opened once for both. The caller logs the read."""
    visibility = require(principal, Action.VIEW_REPORTS)
    detail = report_detail(store, visibility, report_id)
    read = _Read(
        detail.candidate,
        detail.requisition,
        {detail.report.id: [view.override for view in detail.overrides]},
        {detail.recording.id: detail.recording} if detail.recording is not None else {},
    )
    document = _document(store, detail.interview, [detail.report], whole=False, read=read)
    return detail, document


def interview_document(store: Store, principal: Principal, interview_id: int) -> dict[str, Any]:
    """The document of an interview: the newest report of each of its recordings together."""
    visibility = require(principal, Action.VIEW_REPORTS)
    interview = _visible_interview(store, visibility, interview_id)
    reports = latest_per_recording(store.reports.for_interview(interview.id))
    return _document(store, interview, reports, whole=True)


def explanation(document: dict[str, Any]) -> dict[str, Any]:
    """What the candidate receives: competencies, weights, evidence, overrides, who decided.

    Left out: internal probes and follow-up questions, delivery metrics and visual
    observations (never an input to a score), and anything about other candidates.
    """
    return {
        "format": EXPLANATION_FORMAT,
        "generated_at": document["generated_at"],
        "candidate": {
            "pseudonym": document["candidate"]["pseudonym"],
            "name": document["candidate"]["name"],
        },
        "job": {"title": document["job"]["title"], "region": document["job"]["region"]},
        "interview": {"id": document["interview"]["id"], "round": document["interview"]["round"]},
        "how_it_works": (
            "Your recorded answers were transcribed on premises. For each competency of the "
            "job, the system looked for the situation, task, action and result in your "
            "answers and compared them with written level descriptions; it quotes the words "
            "that drove each score. The scores assisted the people who decided; a person can "
            "change any score, giving a reason, and every decision was taken by a person."
        ),
        "competencies": [
            {
                "name": d["name"],
                "weight": d["weight"],
                "ai_score": d["ai_score"],
                "final_score": d["score"],
                "level_description": (d["anchor"] or {}).get("text", ""),
                "evidence": [
                    {"quote": e["quote"], "start": e["start"], "end": e["end"]}
                    for e in d["evidence"]
                ],
                "changed_by_a_person": d["override"],
            }
            for d in document["dimensions"]
        ],
        "overall": document["overall"],
        "overall_ai": document["overall_ai"],
        "models": {
            "competency_model": document["models"]["competency_model"],
            "competency_model_label": document["models"]["competency_model_label"],
            "scorer": document["models"]["scorer"],
            "speech": document["models"]["speech"],
        },
        "overrides": [
            {k: o[k] for k in ("dimension", "from", "to", "reason", "by", "at")}
            for o in document["overrides"]
        ],
        "decisions": document["decisions"],
        "decided_by_people": True,
    }


def log_document_read(
    store: Store, principal: Principal, document: dict[str, Any], what: str
) -> None:
    """Log a person's read (view or export) of a report document (ALL-3)."""
    log_candidate_read(store, principal, document["candidate"]["pseudonym"], what)


def log_explanation_export(store: Store, principal: Principal, document: dict[str, Any]) -> None:
    """An explanation export is a disclosure to the candidate: logged as its own action."""
    require(principal, Action.EXPORT_EXPLANATION)
    with store.transaction():
        store.audit.append(
            principal.actor,
            "explanation.exported",
            subject=document["candidate"]["pseudonym"],
            details={
                "interview": document["interview"]["id"],
                "reports": [r["id"] for r in document["reports"]],
            },
        )
