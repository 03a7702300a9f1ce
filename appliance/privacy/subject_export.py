"""A candidate's own copy of their data and the explanation of how they were assessed.

GDPR Art. 15 (access) and 20 (portability), AI Act Art. 86 (explanation, EU-4) and PIPL
Art. 24/45 (explanation, copy; CN-2). The export is a ZIP produced as a stream of bytes: it is
never written to disk, and the recordings inside it are decrypted from the spool block by block
as the stream is read. It holds:

* `data.json`: the candidate, interviews, recordings' metadata, each report with its
  competencies, weights, AI and current scores, evidence quotes with their times in the
  recording, the human overrides (with reasons), evaluations, the human decisions, consents
  and other records that exist, resumes as read with the personalised interview questions and
  corrected answer times, a coding round's drafts and submissions with their results, the
  data-subject requests and the AI decision log;
* `media/`: the recordings, decrypted;
* `summary.html`: the same, readable (every value escaped).
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.hiring.report_views import ReportDetail, report_detail
from appliance.media.spool import Spool
from appliance.platform.clock import now_stamp, utcnow
from appliance.platform.errors import NotFoundError
from appliance.privacy.erasure import PrivacyError
from appliance.privacy.retention import request_deadline_sources
from appliance.security.permissions import WILDCARD, Action, Principal, Scope, Visibility, require
from appliance.store import Store
from appliance.store.data_requests import DataRequest, DataRequestRepository
from appliance.store.decision_log import DecisionLogRepository
from appliance.store.erasures import ErasureRepository
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate
from appliance.store.recordings import Recording

FORMAT = "interview-appliance.subject-export/1"
READ_BLOCK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
RIGHTS = (
    "GDPR Art. 15 (access) and Art. 20 (data portability)",
    "EU AI Act Art. 86 (explanation of a decision assisted by a high-risk AI system)",
    "GDPR Art. 22 and PIPL Art. 24: no decision is made by automated means alone",
    "PIPL Art. 45 (copy) and Art. 24 (explanation, refusal of automated decisions)",
)
HUMAN_DECISIONS = (
    "Every decision in this export was made and recorded by a person; the AI's scores are"
    " recommendations that people reviewed and could override (with a recorded reason)."
)


@dataclass(frozen=True)
class SubjectExport:
    """A ready export: its file name and the stream of its bytes."""

    filename: str
    chunks: Iterator[bytes]
    recordings: int
    reports: int


def _whole(principal: Principal) -> Visibility:
    # The data subject's right covers everything held about them, whichever team holds it:
    # the principal's own scope was checked on the candidate before this is used.
    return Visibility(Scope.ALL, principal.user_id, (WILDCARD,), (WILDCARD,))


def media_name(recording: Recording) -> str:
    """The recording's path inside the archive (ASCII, no folders)."""
    name = _UNSAFE.sub("_", recording.display_name).strip("._") or "recording"
    return f"media/{recording.id}-{name[:80]}"


def _report(detail: ReportDetail) -> dict[str, Any]:
    return {
        "id": detail.report.id,
        "drafted_at": detail.report.created_at,
        "status": detail.report.status,
        "model_version": detail.report.model_version,
        "competency_model": detail.model.label if detail.model else None,
        "competencies": [
            {
                "key": row.key,
                "name": row.name,
                "weight": row.weight,
                "ai_score": row.ai_score,
                "confidence": row.confidence,
                "current_score": row.current,
                "overridden": row.overridden,
                "evidence": [
                    {"quote": e.quote, "start_s": e.start, "end_s": e.end} for e in row.evidence
                ],
            }
            for row in detail.scores
        ],
        "overrides": [
            {
                "competency": view.override.dimension,
                "from": view.override.previous_score,
                "to": view.override.new_score,
                "reason": view.override.reason,
                "by": view.author,
                "at": view.override.overridden_at,
            }
            for view in detail.overrides
        ],
        "steps_run": detail.steps_run,
        "steps_skipped": detail.steps_skipped,
        "content": detail.report.content,
    }


def _resume_records(store: Store, candidate: Candidate) -> dict[str, Any]:
    """The candidate's resumes as read, their personalised questions, corrected answer times."""
    recordings = [
        rec.id
        for interview in store.interviews.for_candidate(candidate.id)
        for rec in store.recordings.for_interview(interview.id)
    ]
    return {
        "resumes": [
            {
                "file_name": r.display_name,
                "content_type": r.content_type,
                "size_bytes": r.size_bytes,
                "uploaded_at": r.created_at,
                "language": r.language,
                "read_from_it": {
                    key: r.extracted.get(key)
                    for key in ("skills", "positions", "roles", "employers", "years")
                },
            }
            for r in store.resumes.for_candidate(candidate.id)
        ],
        "interview_plan_questions": [
            {
                "job": q.requisition_id,
                "question": q.text,
                "competency": q.dimension_key,
                "source": q.source,
                "at": q.updated_at,
            }
            for q in store.personal_questions.for_candidate(candidate.id)
        ],
        "answer_boundaries": [
            {"recording": rec_id, "answers": c.spans, "at": c.corrected_at}
            for rec_id in recordings
            for c in store.segment_corrections.history(rec_id)
        ],
    }


class _UserNames:
    """Display names of the people named in the export, each read once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._names: dict[int, str] = {}

    def __call__(self, user_id: int) -> str:
        if user_id not in self._names:
            try:
                self._names[user_id] = self._store.users.get(user_id).display_name
            except NotFoundError:
                self._names[user_id] = f"#{user_id}"
        return self._names[user_id]


def _recording(rec: Recording) -> dict[str, Any]:
    return {
        "id": rec.id,
        "file_name": rec.display_name,
        "content_type": rec.content_type,
        "size_bytes": rec.size_bytes,
        "sha256": rec.sha256,
        "recorded_at": rec.created_at,
        "media": rec.media_info,
        "file": media_name(rec),
    }


def _coding_round(store: Store, interview: Interview) -> dict[str, Any]:
    """The candidate's code for the interview's coding tasks: every draft and submission, and
    each submission's result (hidden test cases by name and verdict only, as judged)."""
    tasks: dict[int, dict[str, Any]] = {}

    def task(task_id: int) -> dict[str, Any]:
        if task_id not in tasks:
            stored = store.coding_tasks.get(task_id)
            tasks[task_id] = {"key": stored.key, "version": stored.version, "title": stored.title}
        return tasks[task_id]

    return {
        "submissions": [
            {
                "task": task(s.task_id),
                "language": s.language,
                "submitted_at": s.submitted_at,
                "state": s.state,
                "judged_at": s.judged_at,
                "code": s.code,
                "result": s.result,
            }
            for s in store.coding_work.submissions(interview.id)
        ],
        "drafts": [
            {
                "task": task(d.task_id),
                "language": d.language,
                "saved_at": d.saved_at,
                "code": d.code,
            }
            for d in store.coding_work.drafts(interview.id)
        ],
    }


def _interview(
    store: Store, whole: Visibility, interview: Interview, job: Requisition, name: _UserNames
) -> dict[str, Any]:
    """One interview with its job, recordings' metadata, reports and evaluations."""
    return {
        "id": interview.id,
        "job": {
            "title": job.title,
            "department": job.department,
            "location": job.location,
            "region": job.region,
        },
        "kind": interview.kind,
        "round": interview.round,
        "language": interview.language,
        "status": interview.status,
        "scheduled_at": interview.scheduled_at,
        "recordings": [_recording(rec) for rec in store.recordings.for_interview(interview.id)],
        "reports": [
            _report(report_detail(store, whole, report.id))
            for report in store.reports.for_interview(interview.id)
        ],
        "evaluations": [
            {
                "kind": ev.kind,
                "rating": ev.rating,
                "summary": ev.summary,
                "ratings": dict(ev.ratings),
                "by": name(ev.author_id),
                "at": ev.created_at,
            }
            for ev in store.evaluations.for_interview(interview.id)
        ],
        "interview_overrides": [
            {
                "competency": change.dimension,
                "from": change.previous_score,
                "to": change.new_score,
                "reason": change.reason,
                "by": name(change.overridden_by),
                "at": change.overridden_at,
            }
            for change in store.interview_overrides.for_interview(interview.id)
        ],
        "coding_round": _coding_round(store, interview),
    }


def _candidate(candidate: Candidate) -> dict[str, Any]:
    return {
        "reference": candidate.pseudonym,
        "full_name": candidate.full_name,
        "email": candidate.email,
        "phone": candidate.phone,
        "residence_region": candidate.residence_region,
        "language": candidate.language,
        "created_at": candidate.created_at,
    }


def _decisions(
    store: Store, candidate: Candidate, titles: dict[int, str], name: _UserNames
) -> list[dict[str, Any]]:
    return [
        {
            "job": titles.get(decision.requisition_id),
            "kind": decision.kind,
            "reason": decision.reason,
            "made_by_a_person": True,
            "by": name(decision.decided_by),
            "at": decision.decided_at,
        }
        for decision in store.decisions.for_candidate(candidate.id)
    ]


def _data_requests(requests: list[DataRequest]) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "received_at": r.received_at,
            "due_at": r.due_at,
            "status": r.status,
            "closed_at": r.closed_at,
        }
        for r in requests
    ]


def collect(store: Store, principal: Principal, candidate: Candidate) -> dict[str, Any]:
    """Everything the appliance holds about a candidate, as JSON-ready data."""
    whole = _whole(principal)
    name = _UserNames(store)
    interviews = []
    titles: dict[int, str] = {}
    for interview in store.interviews.for_candidate(candidate.id):
        job = store.requisitions.get(interview.requisition_id)
        titles[job.id] = job.title
        interviews.append(_interview(store, whole, interview, job, name))
    asked = DataRequestRepository(store).visible(whole, candidate_id=candidate.id)
    regions = ErasureRepository(store).candidate_regions(candidate.id)
    return {
        "format": FORMAT,
        "generated_at": now_stamp(),
        "rights": list(RIGHTS),
        "automated_decisions": HUMAN_DECISIONS,
        "candidate": _candidate(candidate),
        "interviews": interviews,
        "decisions": _decisions(store, candidate, titles, name),
        **ErasureRepository(store).other_records(candidate.id),
        **_resume_records(store, candidate),
        "data_requests": _data_requests(asked),
        "request_deadlines": request_deadline_sources(regions),
        "ai_decision_log": [
            {"at": e.created_at, "model_version": e.model_version, "scores": e.scores}
            for e in DecisionLogRepository(store).for_pseudonym(candidate.pseudonym)
        ],
    }


# --- summary.html ------------------------------------------------------------------------------


def _e(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return html.escape(f"{value:g}")
    return html.escape(str(value))


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}:{seconds:02d}"


def summary_html(data: dict[str, Any]) -> str:
    """A readable page of the export (every value escaped)."""
    person = data["candidate"]
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>Your data</title></head><body>",
        f"<h1>Your data: {_e(person['full_name'])}</h1>",
        f"<p>Reference {_e(person['reference'])}; e-mail {_e(person['email'])};",
        f" phone {_e(person['phone'])}; generated {_e(data['generated_at'])}.</p>",
        f"<p>{_e(data['automated_decisions'])}</p>",
    ]
    for interview in data["interviews"]:
        job = interview["job"]
        out.append(
            f"<h2>{_e(job['title'])} ({_e(job['location'])}), round {_e(interview['round'])}</h2>"
        )
        for rec in interview["recordings"]:
            out.append(
                f"<p>Recording {_e(rec['file_name'])} ({_e(rec['size_bytes'])} bytes,"
                f" {_e(rec['recorded_at'])}): file {_e(rec['file'])}</p>"
            )
        for report in interview["reports"]:
            out.append(
                f"<h3>Assessment of {_e(report['drafted_at'])}"
                f" (model {_e(report['competency_model'] or report['model_version'])})</h3>"
                "<table border='1'><tr><th>Competency</th><th>Weight</th><th>AI score</th>"
                "<th>Score after review</th><th>Evidence (time in the recording)</th></tr>"
            )
            for row in report["competencies"]:
                quotes = "<br>".join(
                    f"&ldquo;{_e(q['quote'])}&rdquo;"
                    f" ({_seconds(q['start_s'])}&ndash;{_seconds(q['end_s'])})"
                    for q in row["evidence"]
                )
                out.append(
                    f"<tr><td>{_e(row['name'])}</td><td>{_e(row['weight'])}</td>"
                    f"<td>{_e(row['ai_score'])}</td><td>{_e(row['current_score'])}</td>"
                    f"<td>{quotes}</td></tr>"
                )
            out.append("</table>")
            for change in report["overrides"]:
                out.append(
                    f"<p>{_e(change['by'])} changed {_e(change['competency'])} from"
                    f" {_e(change['from'])} to {_e(change['to'])} on {_e(change['at'])}:"
                    f" {_e(change['reason'])}</p>"
                )
        for change in interview["interview_overrides"]:
            out.append(
                f"<p>{_e(change['by'])} changed {_e(change['competency'])} for the whole"
                f" interview from {_e(change['from'])} to {_e(change['to'])} on"
                f" {_e(change['at'])}: {_e(change['reason'])}</p>"
            )
        coding = interview.get("coding_round") or {}
        for sub in coding.get("submissions", []):
            result = sub["result"] or {}
            tests = result.get("tests", {})
            passed = "; ".join(
                f"{kind} tests passed {_e(tests[kind]['passed'])} of {_e(tests[kind]['total'])}"
                for kind in ("visible", "hidden")
                if kind in tests
            )
            out.append(
                f"<p>Coding round: {_e(sub['task']['title'])} (version"
                f" {_e(sub['task']['version'])}), {_e(sub['language'])}, submitted"
                f" {_e(sub['submitted_at'])}: {_e(result.get('verdict', sub['state']))}"
                f"{f'; {passed}' if passed else ''} (code and results in data.json)</p>"
            )
        if coding.get("drafts"):
            out.append(
                f"<p>Coding round: {len(coding['drafts'])} saved drafts of your code"
                " (in data.json).</p>"
            )
        for ev in interview["evaluations"]:
            ratings = ", ".join(f"{_e(key)} {_e(value)}" for key, value in ev["ratings"].items())
            out.append(
                f"<p>Evaluation by {_e(ev['by'])} ({_e(ev['at'])}), rating {_e(ev['rating'])}"
                f"{f' (per competency: {ratings})' if ratings else ''}: {_e(ev['summary'])}</p>"
            )
    out.append("<h2>Decisions (each made by a person)</h2><ul>")
    for decision in data["decisions"]:
        out.append(
            f"<li>{_e(decision['at'])}: {_e(decision['kind'])} for {_e(decision['job'])} by"
            f" {_e(decision['by'])}: {_e(decision['reason'])}</li>"
        )
    out.append("</ul><h2>Your rights</h2><ul>")
    out.extend(f"<li>{_e(right)}</li>" for right in data["rights"])
    out.append("</ul></body></html>")
    return "\n".join(out)


# --- the stream --------------------------------------------------------------------------------


class _Pipe:
    """A write-only, unseekable file: what the ZIP writer writes waits here to be yielded."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _entry(name: str, at: datetime, method: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=at.timetuple()[:6])
    info.compress_type = method
    info.external_attr = 0o600 << 16
    return info


def _stream(
    data: dict[str, Any], spool: Spool, key: bytes, recordings: list[Recording]
) -> Iterator[bytes]:
    at = utcnow()
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", allowZip64=True) as archive:  # type: ignore[call-overload]
        text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
        archive.writestr(_entry("data.json", at, zipfile.ZIP_DEFLATED), text)
        archive.writestr(_entry("summary.html", at, zipfile.ZIP_DEFLATED), summary_html(data))
        yield pipe.take()
        for recording in recordings:
            entry = _entry(media_name(recording), at, zipfile.ZIP_STORED)
            with (
                spool.open(recording.spool_name, recording.wrapped_data_key, key) as reader,
                archive.open(entry, "w", force_zip64=True) as out,
            ):
                while block := reader.read(READ_BLOCK):
                    out.write(block)
                    yield pipe.take()
    yield pipe.take()


def subject_export(
    store: Store,
    spool: Spool,
    principal: Principal,
    candidate_id: int,
    *,
    request_id: int | None = None,
) -> SubjectExport:
    """A candidate's export, ready to stream; the read is logged now (who, whom, which request)."""
    visibility = require(principal, Action.MANAGE_DATA_REQUESTS)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    if candidate.erased:
        raise PrivacyError("the candidate is erased: nothing is left to export")
    if request_id is not None:
        request = DataRequestRepository(store).get(request_id)
        if request.candidate_id != candidate.id:
            raise PrivacyError("the request is about another candidate")
    data = collect(store, principal, candidate)
    recordings = [
        rec
        for interview in store.interviews.for_candidate(candidate.id)
        for rec in store.recordings.for_interview(interview.id)
    ]
    key = store.vault.key_for(candidate.pseudonym)
    reports = sum(len(interview["reports"]) for interview in data["interviews"])
    with store.transaction():
        store.audit.append(
            principal.actor,
            "subject.exported",
            subject=candidate.pseudonym,
            details={"request": request_id, "recordings": len(recordings), "reports": reports},
        )
    return SubjectExport(
        f"{candidate.pseudonym}-export.zip",
        _stream(data, spool, key, recordings),
        len(recordings),
        reports,
    )
