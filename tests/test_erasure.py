"""Erasure, retention and the rights of data subjects, over a real provisioned appliance.

Rules of shared/compliance/REGIONS.md: EU-4 (explanation export), EU-5 (AI decision logs kept
six months, a pseudonymous stub outlives the erasure), IL-3 (deadline tracked, overdue shown,
crypto-shredding reaches backups), CN-2 (explanation and objection requests), CN-4 (three
years), ALL-2 (retention erases what expired, logged). Also: field-level encryption of
candidate text (what makes a backup unreadable once the key is gone), search over sealed
names, legal holds, tombstones in list pages, and the privacy pages.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from appliance.accounts.auth import principal_of
from appliance.analysis.segment_service import save_correction
from appliance.hiring.review import add_evaluation, override_score, record_decision
from appliance.media.recordings import ingest_recording
from appliance.media.spool import unwrap_data_key
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.errors import NotFoundError, SpoolIntegrityError
from appliance.privacy import retention, retention_job
from appliance.privacy.erasure import (
    LegalHoldError,
    PrivacyError,
    close_request,
    erase_candidate,
    list_requests,
    open_request,
    override_log_retention,
    place_hold,
    release_hold,
)
from appliance.privacy.retention import Category, Rule, effective_rule, request_due
from appliance.privacy.retention_job import run_retention
from appliance.privacy.subject_export import subject_export
from appliance.resumes.service import upload_resume
from appliance.security.permissions import Action, PermissionDeniedError, Principal, require
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from appliance.store.db import Database
from appliance.store.decision_log import DecisionLogRepository
from appliance.store.fieldcrypt import (
    ERASED,
    SealedFieldError,
    is_sealed,
    open_sealed,
)
from appliance.store.migrate import backup
from appliance.store.sealed import SEALED_COLUMNS, seal_existing_rows

from .conftest import Appliance, csrf_token_from, login, make_user, write_wav

DAY = timedelta(days=1)


@dataclass
class Case:
    """One candidate with everything the appliance can hold about them."""

    store: Store
    hr: Principal
    candidate_id: int
    pseudonym: str
    interview_id: int
    requisition_id: int
    recording_id: int
    report_id: int
    canary: str
    marker: bytes
    media: bytes
    spool_name: str


def _principal(store: Store, username: str, role: str = "hr_admin") -> Principal:
    return principal_of(
        store.users.get(make_user(store, username, role, regions=["*"], departments=["*"]))
    )


def make_case(
    appliance: Appliance,
    store: Store,
    tmp_path: Path,
    *,
    region: str = "EU",
    residence: str = "default",
    hr: Principal | None = None,
) -> Case:
    """A candidate with a recording, a scored report, an override, an evaluation, a decision."""
    canary = "Canary" + secrets.token_hex(6)
    marker = b"MEDIAMARK" + secrets.token_bytes(23)
    hr = hr or _principal(store, f"hr{secrets.token_hex(3)}")
    with store.transaction():
        model = store.competency.save(
            ModelSpec(
                f"Model {canary[-4:]}",
                (
                    DimensionSpec(
                        "ownership", "Ownership", 2.0, questions=(Question("en", "An outage?"),)
                    ),
                    DimensionSpec(
                        "teamwork", "Teamwork", 1.0, questions=(Question("en", "A conflict?"),)
                    ),
                ),
            )
        )
        job = store.requisitions.create(
            "Engineer", "Engineering", "Somewhere", region, competency_model_id=model.id
        )
    candidate = store.candidates.create(
        f"{canary} Doe",
        email=f"{canary.lower()}@example.invalid",
        phone="+1 555 0100",
        residence_region=residence,
    )
    interview = store.interviews.create(candidate.id, job.id)
    wav = write_wav(tmp_path / f"{canary}.wav", 0.5, marker=marker)
    media = wav.read_bytes()
    wav.unlink()
    ingested = ingest_recording(
        store,
        appliance.spool(),
        appliance.config,
        interview_id=interview.id,
        source=io.BytesIO(media),
        filename=f"{canary}.wav",
        content_type="audio/wav",
        actor="test",
    )
    content = {
        "sections": [{"question": "An outage?", "transcript": f"{canary} restarted the cluster"}],
        "scores": {
            "ownership": {
                "score": 8,
                "confidence": 0.9,
                "evidence": [{"quote": f"{canary} took the pager", "start": 12.5, "end": 15.0}],
            },
            "teamwork": {
                "score": 5,
                "confidence": 0.6,
                "evidence": [{"quote": "we split the work", "start": 40.0, "end": 42.25}],
            },
        },
    }
    with store.transaction():
        job_row = store.jobs.enqueue("analyse", max_open=1000, max_attempts=1)
        report = store.reports.create(
            interview.id,
            job_row.id,
            content,
            recording_id=ingested.recording.id,
            model_version=model.label,
        )
    override_score(
        store,
        hr,
        report_id=report.id,
        dimension="teamwork",
        new_score=6,
        reason=f"{canary} led the retro",
    )
    interviewer = _principal(store, f"iv{secrets.token_hex(3)}", "interviewer")
    with store.transaction():
        store.interviews.assign(interview.id, interviewer.user_id, "interviewer")
    add_evaluation(
        store,
        interviewer,
        interview_id=interview.id,
        kind="interview",
        rating=7,
        summary=f"{canary} was calm",
        ratings={"ownership": 8, "teamwork": 6},
    )
    # An override of the whole interview's score (the store's part: this report's older shape
    # has no interview score for the review rule to check against).
    with store.transaction():
        store.interview_overrides.add(
            interview.id, "teamwork", 5.0, 7.0, f"{canary} mediated", hr.user_id
        )
    record_decision(
        store,
        hr,
        candidate_id=candidate.id,
        requisition_id=job.id,
        kind="advance",
        reason=f"{canary} fits the team",
    )
    # A resume (with its drafted questions) and corrected answer boundaries: sealed rows too.
    upload_resume(
        store,
        hr,
        candidate_id=candidate.id,
        filename=f"{canary}.txt",
        data=f"{canary} Doe\nTeam lead at {canary} GmbH 2019 - 2024\nLed a team of four.".encode(),
    )
    save_correction(
        store,
        hr,
        ingested.recording.id,
        [{"start": 0.0, "end": 0.4, "question_text": f"{canary} question"}],
    )
    # A coding round: an autosaved draft and a judged submission of the candidate's code.
    with store.transaction():
        task = store.coding_tasks.save(
            job.id, "sum", "Sum", {"key": "sum"}, origin="api", created_by=hr.user_id
        )
        store.coding_work.add_draft(interview.id, task.id, "python", f"# {canary} draft")
        submitted = store.coding_work.add_submission(
            interview.id, task.id, "python", f"# {canary} final", "candidate"
        )
        store.coding_work.record_result(submitted.id, "judged", {"verdict": "ok", "note": canary})
    return Case(
        store,
        hr,
        candidate.id,
        candidate.pseudonym,
        interview.id,
        job.id,
        ingested.recording.id,
        report.id,
        canary,
        marker,
        media,
        ingested.recording.spool_name,
    )


def dump(path: Path, key: bytes) -> tuple[str, list[bytes]]:
    """Every value of every table of an encrypted database, opened with its key."""
    conn = Database.open(path, key).connect()
    try:
        texts: list[str] = []
        blobs: list[bytes] = []
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in tuple(row):
                    if isinstance(value, bytes):
                        blobs.append(value)
                    else:
                        texts.append(str(value))
        return "\n".join(texts), blobs
    finally:
        conn.close()


def traces(text: str, blobs: list[bytes], case: Case) -> list[str]:
    """What of the candidate is readable in a database dump."""
    found = [
        label
        for label, needle in (("name", case.canary), ("e-mail", case.canary.lower()))
        if needle in text
    ]
    if any(case.marker in blob for blob in blobs):
        found.append("media")
    return found


def sealed_name_in(path: Path, key: bytes, pseudonym: str) -> str:
    """A candidate's stored (sealed) name in a database file."""
    conn = Database.open(path, key).connect()
    try:
        row = conn.execute(
            "SELECT full_name FROM candidates WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        return str(row[0])
    finally:
        conn.close()


def all_vault_keys(store: Store) -> list[bytes]:
    rows = store.vault_conn.execute("SELECT data_key FROM candidate_keys")
    return [bytes(row[0]) for row in rows]


def with_privacy(app: Flask) -> Flask:
    """The app with the privacy blueprint (registered by create_app once the lead wires it)."""
    if "privacy" not in app.blueprints:
        from webui.views import privacy

        app.register_blueprint(privacy.bp)
    return app


# --- field-level encryption --------------------------------------------------------------------


def test_candidate_text_is_sealed_in_the_database_and_reads_back(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path)
    open_request(
        store, case.hr, candidate_id=case.candidate_id, kind="access", note=f"{case.canary} called"
    )
    with store.transaction():
        store.uploads.create(
            "up-1",
            case.interview_id,
            None,
            f"{case.canary}.webm",
            "video/webm",
            10,
            "x" * 32 + ".spool",
            b"k" * 60,
        )
    for column in SEALED_COLUMNS:
        values = [
            row[0]
            for row in store.conn.execute(
                f"SELECT {column.column} FROM {column.table} WHERE {column.column} IS NOT NULL"
            )
        ]
        assert values, f"{column.table}.{column.column} has no row to check"
        for value in values:
            sealed = json.loads(value) if column.json else value
            assert is_sealed(sealed), f"{column.table}.{column.column} holds clear text"
            assert case.canary not in value
    candidate = store.candidates.get(case.candidate_id)
    assert candidate.full_name == f"{case.canary} Doe" and candidate.phone == "+1 555 0100"
    report = store.reports.get(case.report_id)
    assert report.content["scores"]["ownership"]["evidence"][0]["quote"].startswith(case.canary)
    assert store.recordings.get(case.recording_id).display_name == f"{case.canary}.wav"
    assert store.uploads.get("up-1").display_name == f"{case.canary}.webm"
    assert store.decisions.for_candidate(case.candidate_id)[0].reason.startswith(case.canary)
    assert store.overrides.for_report(case.report_id)[0].reason.startswith(case.canary)
    evaluation = store.evaluations.for_interview(case.interview_id)[0]
    assert evaluation.summary.startswith(case.canary)
    assert evaluation.ratings == {"ownership": 8, "teamwork": 6}
    whole = store.interview_overrides.for_interview(case.interview_id)[0]
    assert whole.reason.startswith(case.canary) and whole.new_score == 7.0


def test_a_sealed_value_moved_to_another_row_does_not_open(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path)
    record_decision(
        store,
        case.hr,
        candidate_id=case.candidate_id,
        requisition_id=case.requisition_id,
        kind="reject",
        reason="second thoughts",
    )
    first, second = (row[0] for row in store.conn.execute("SELECT id FROM decisions ORDER BY id"))
    store.conn.execute(
        "UPDATE decisions SET reason = (SELECT reason FROM decisions WHERE id = ?) WHERE id = ?",
        (first, second),
    )
    with pytest.raises(SealedFieldError, match=r"decisions\.reason"):
        store.decisions.for_candidate(case.candidate_id)


def test_encrypt_existing_seals_rows_stored_in_clear_and_is_idempotent(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path)
    # Rows as a version-5 appliance wrote them: clear text (and one candidate with no key).
    store.conn.execute(
        "UPDATE candidates SET full_name = 'Legacy Person', email = 'legacy@example.invalid'"
        " WHERE id = ?",
        (case.candidate_id,),
    )
    store.conn.execute("UPDATE decisions SET reason = 'legacy reason'")
    store.conn.execute("UPDATE reports SET content = ?", (json.dumps({"scores": {}, "t": "x"}),))
    store.conn.execute(
        "INSERT INTO candidates (pseudonym, full_name, residence_region, language, created_at,"
        " updated_at) VALUES ('cand-nokey', 'Keyless Person', 'EU', 'en', 'x', 'x')"
    )
    counts = seal_existing_rows(store)
    assert counts["candidates.full_name"] == 2 and counts["keys_created"] == 1
    assert counts["decisions.reason"] == 1 and counts["reports.content"] == 1
    assert store.candidates.get(case.candidate_id).full_name == "Legacy Person"
    assert store.decisions.for_candidate(case.candidate_id)[0].reason == "legacy reason"
    assert store.reports.get(case.report_id).content == {"scores": {}, "t": "x"}
    assert "Legacy" not in " ".join(
        str(tuple(row)) for row in store.conn.execute("SELECT * FROM candidates")
    )
    assert [e.action for e in store.audit.entries(action="data.sealed")] == ["data.sealed"]
    again = seal_existing_rows(store)
    assert sum(again.values()) == 0


def test_search_opens_sealed_names_with_substring_semantics(store: Store) -> None:
    with store.transaction():
        job = store.requisitions.create("Engineer", "Engineering", "Berlin", "EU")
    people = ["Anna Smith", "JOHANNA Doe", "Bob 100%_sure", "Carl Jones"]
    ids = []
    for name in people:
        candidate = store.candidates.create(name, email=f"{name.split()[0].lower()}@corp.example")
        store.interviews.create(candidate.id, job.id)
        ids.append(candidate.id)
    everything = require(Principal(1, "admin", "hr_admin", ("*",), ("*",)), Action.VIEW_CANDIDATES)
    visible = store.candidates.visible
    assert [c.full_name for c in visible(everything, text="anna")] == ["JOHANNA Doe", "Anna Smith"]
    assert [c.full_name for c in store.candidates.search("ANNA")] == ["Anna Smith", "JOHANNA Doe"]
    assert [c.full_name for c in visible(everything, text="%_")] == ["Bob 100%_sure"]
    assert visible(everything, text="a_s") == []  # `_` is itself, not "any character"
    assert visible(everything, text="%") != [] and visible(everything, text="a%b") == []
    assert [c.id for c in visible(everything, text="carl@corp")] == [ids[3]]
    # limit and offset count matches, newest first, as before.
    assert [c.full_name for c in visible(everything, text="n", limit=2)] == [
        "Carl Jones",
        "JOHANNA Doe",
    ]
    assert [c.full_name for c in visible(everything, text="n", limit=2, offset=2)] == ["Anna Smith"]
    assert store.candidates.count_visible(everything) == 4
    assert store.candidates.search("", limit=2) == store.candidates.search()[:2]


# --- legal holds, tombstones -------------------------------------------------------------------


def test_legal_hold_blocks_erasure_and_retention(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path)
    spool = appliance.spool()
    hold = place_hold(
        store, case.hr, candidate_id=case.candidate_id, reason="Litigation 2026-17, court order"
    )
    with pytest.raises(LegalHoldError, match="Litigation 2026-17"):
        erase_candidate(store, spool, case.hr, case.candidate_id, "asked to be forgotten")
    summary = run_retention(store, spool, utcnow() + 400 * DAY)
    assert summary.nothing_done and summary.skipped_on_hold > 0
    assert store.candidates.get(case.candidate_id).full_name.startswith(case.canary)
    assert store.recordings.get(case.recording_id)
    assert DecisionLogRepository(store).for_pseudonym(case.pseudonym)
    recruiter = _principal(store, "recruiter1", "recruiter")
    with pytest.raises(PermissionDeniedError):
        release_hold(store, recruiter, hold.id)
    release_hold(store, case.hr, hold.id)
    erased = erase_candidate(store, spool, case.hr, case.candidate_id, "asked to be forgotten")
    assert erased.completed_at is not None
    with pytest.raises(PrivacyError, match="already erased"):
        erase_candidate(store, spool, case.hr, case.candidate_id, "again")
    with pytest.raises(PrivacyError, match="already erased"):
        place_hold(store, case.hr, candidate_id=case.candidate_id, reason="too late")


def test_list_pages_show_erased_candidates_as_tombstones(
    appliance: Appliance, web: tuple[Flask, Store], tmp_path: Path
) -> None:
    app, store = web
    case = make_case(appliance, store, tmp_path)
    kept = store.candidates.create("Visible Person", residence_region="EU")
    store.interviews.create(kept.id, case.requisition_id)
    erase_candidate(store, appliance.spool(), case.hr, case.candidate_id, "request by e-mail")
    tombstone = store.candidates.get(case.candidate_id)
    assert tombstone.erased and tombstone.full_name == ERASED and tombstone.email is None
    assert store.reports.get(case.report_id).content == {"erased": True}
    assert store.decisions.for_candidate(case.candidate_id)[0].reason == ERASED
    assert store.overrides.for_report(case.report_id)[0].reason == ERASED
    assert store.evaluations.for_interview(case.interview_id) == []
    make_user(store, "lister", "hr_admin", regions=["*"], departments=["*"])
    client = with_privacy(app).test_client()
    assert login(client, "lister").status_code == 302
    for url in (
        "/candidates",
        f"/candidates/{case.candidate_id}",
        "/",
        "/privacy",
        f"/privacy/candidates/{case.candidate_id}",
        f"/reports/{case.report_id}",
    ):
        page = client.get(url)
        body = page.get_data(as_text=True)
        assert page.status_code == 200, url
        assert case.canary not in body, url
    listing = client.get("/candidates").get_data(as_text=True)
    assert ERASED in listing and "Visible Person" in listing
    assert client.get("/candidates?q=visible").get_data(as_text=True).count("candidate-row") == 1
    export = client.get(f"/privacy/candidates/{case.candidate_id}/export")
    assert export.status_code == 422  # nothing left to export


# --- EU ----------------------------------------------------------------------------------------


def test_EU_4_explanation_export_lists_competencies_weights_quotes_decision_and_overrides(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path)
    before = {p for p in tmp_path.parent.rglob("*") if p.is_file()}
    made = subject_export(store, appliance.spool(), case.hr, case.candidate_id)
    archive_bytes = b"".join(made.chunks)
    after = {p for p in tmp_path.parent.rglob("*") if p.is_file()}
    assert after - before == set(), "the export touched the disk"
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[:2] == ["data.json", "summary.html"]
    data = json.loads(archive.read("data.json"))
    assert data["candidate"]["full_name"] == f"{case.canary} Doe"
    [interview] = data["interviews"]
    [report] = interview["reports"]
    competencies = {row["key"]: row for row in report["competencies"]}
    assert competencies["ownership"]["weight"] == 2.0 and competencies["teamwork"]["weight"] == 1.0
    assert competencies["ownership"]["ai_score"] == 8.0
    assert competencies["teamwork"]["ai_score"] == 5.0
    assert competencies["teamwork"]["current_score"] == 6.0
    assert competencies["teamwork"]["overridden"] is True
    assert competencies["ownership"]["evidence"] == [
        {"quote": f"{case.canary} took the pager", "start_s": 12.5, "end_s": 15.0}
    ]
    [override] = report["overrides"]
    assert override["from"] == 5.0 and override["to"] == 6.0
    assert override["reason"] == f"{case.canary} led the retro"
    [decision] = data["decisions"]
    assert decision["kind"] == "advance" and decision["made_by_a_person"] is True
    assert decision["reason"] == f"{case.canary} fits the team" and decision["by"]
    assert interview["evaluations"][0]["summary"] == f"{case.canary} was calm"
    assert interview["evaluations"][0]["ratings"] == {"ownership": 8, "teamwork": 6}
    [whole] = interview["interview_overrides"]
    assert (whole["from"], whole["to"]) == (5.0, 7.0) and whole["reason"].endswith("mediated")
    assert "consents" in data and "candidate_demographics" in data  # tables of 0004
    assert data["ai_decision_log"][0]["scores"] == {"ownership": 8.0, "teamwork": 5.0}
    [resume] = data["resumes"]  # what was read from the resume, and what followed from it
    assert resume["file_name"] == f"{case.canary}.txt"
    assert resume["read_from_it"]["employers"] == [f"{case.canary} GmbH"]
    assert data["interview_plan_questions"]
    assert data["answer_boundaries"][0]["answers"][0]["question_text"] == f"{case.canary} question"
    [recording] = interview["recordings"]
    assert archive.read(recording["file"]) == case.media
    summary = archive.read("summary.html").decode()
    assert "Ownership" in summary and "0:12" in summary and "led the retro" in summary
    assert "for the whole interview" in summary and "per competency: ownership 8" in summary
    exported = store.audit.entries(action="subject.exported")
    assert [e.subject for e in exported] == [case.pseudonym]
    assert case.canary not in json.dumps(exported[0].details)


def test_EU_4_export_escapes_html_in_the_summary(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path)
    record_decision(
        store,
        case.hr,
        candidate_id=case.candidate_id,
        requisition_id=case.requisition_id,
        kind="hire",
        reason="<script>alert(1)</script>",
    )
    made = subject_export(store, appliance.spool(), case.hr, case.candidate_id)
    summary = zipfile.ZipFile(io.BytesIO(b"".join(made.chunks))).read("summary.html").decode()
    assert "<script>" not in summary and "&lt;script&gt;alert(1)&lt;/script&gt;" in summary
    other = _principal(store, "lead1", "business_lead")
    with pytest.raises(PermissionDeniedError):
        subject_export(store, appliance.spool(), other, case.candidate_id)


def test_EU_5_decision_logs_younger_than_183_days_stay_and_outlive_the_erasure(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path, region="EU", residence="EU")
    spool, logs = appliance.spool(), DecisionLogRepository(store)
    erase_candidate(store, spool, case.hr, case.candidate_id, "GDPR Art. 17 request")
    [stub] = logs.for_pseudonym(case.pseudonym)
    assert stub.scores == {"ownership": 8.0, "teamwork": 5.0} and stub.regions == ["EU"]
    assert stub.report_id == case.report_id
    # The pseudonymous audit trail stays too, and the chain still verifies.
    actions = [e.action for e in store.audit.entries() if e.subject == case.pseudonym]
    assert {"score.overridden", "decision.advance", "candidate.erased"} <= set(actions)
    assert store.audit.first_broken_link() is None

    run_retention(store, spool, utcnow() + 182 * DAY)
    assert len(logs.for_pseudonym(case.pseudonym)) == 1
    assert effective_rule(Category.DECISION_LOGS, ["EU", "US-MD"]).min_days == 183
    with pytest.raises(ValueError, match="under its minimum"):
        Rule(30, 183, "a profile cannot keep EU logs shorter")
    summary = run_retention(store, spool, utcnow() + 184 * DAY)
    assert logs.for_pseudonym(case.pseudonym) == []
    assert summary.counts["decision_logs"] == 1
    purged = store.audit.entries(action="decision_log.purged")
    assert purged[-1].subject == case.pseudonym and purged[-1].actor == "retention"

    # Earlier only by an explicit legal-hold override, by a person allowed to, with a reason.
    young = make_case(appliance, store, tmp_path, region="EU", hr=case.hr)
    recruiter = _principal(store, "recruiter2", "recruiter")
    with pytest.raises(PermissionDeniedError):
        override_log_retention(store, recruiter, young.candidate_id, "court order")
    with pytest.raises(PrivacyError, match="reason"):
        override_log_retention(store, case.hr, young.candidate_id, " ")
    assert override_log_retention(store, case.hr, young.candidate_id, "court order 12/2026") == 1
    assert logs.for_pseudonym(young.pseudonym) == []
    record = logs.purges(limit=1)[0]
    assert record["override"] == 1 and record["purged_by"] == case.hr.user_id
    assert store.audit.entries(action="decision_log.purged")[-1].details == {
        "entries": 1,
        "override": True,
    }
    assert store.audit.first_broken_link() is None


# --- US-IL -------------------------------------------------------------------------------------


def test_IL_3_deadline_overdue_and_crypto_shredding_reaches_a_backup(
    appliance: Appliance, web: tuple[Flask, Store], tmp_path: Path
) -> None:
    app, store = web
    case = make_case(appliance, store, tmp_path, region="US-IL", residence="US-IL")
    spool = appliance.spool()
    received = utcnow() - 31 * DAY
    request = open_request(
        store, case.hr, candidate_id=case.candidate_id, kind="erasure", received_at=received
    )
    assert request.due_at == to_stamp(
        datetime.combine((received + 30 * DAY).date(), datetime.max.time(), UTC)
    )
    [row] = list_requests(store, case.hr)
    assert row.overdue
    make_user(store, "desk", "hr_admin", regions=["*"], departments=["*"])
    client = with_privacy(app).test_client()
    login(client, "desk")
    page = client.get("/privacy").get_data(as_text=True)
    assert 'id="overdue-summary"' in page
    assert f'class="request overdue" id="request-{request.id}"' in page

    # A backup taken before the erasure, and a copy of the recording's spool file: the DB key
    # opens the backup, and before the erasure the candidate's key still opens what is in it.
    taken = backup(
        store.database,
        store.conn,
        appliance.keyset.db,
        appliance.config.paths.backups,
        "pre-erasure",
    )
    sealed_name = sealed_name_in(taken, appliance.keyset.db, case.pseudonym)
    key = store.vault.key_for(case.pseudonym)
    assert (
        open_sealed(key, sealed_name, table="candidates", column="full_name", row=case.pseudonym)
        == f"{case.canary} Doe"
    )
    copy = tmp_path / "copied.spool"
    shutil.copy(spool.path_of(case.spool_name), copy)
    del key

    erase_candidate(
        store, spool, case.hr, case.candidate_id, "IL-3 deletion request", request_id=request.id
    )
    assert list_requests(store, case.hr)[0].request.status == "done"
    assert not spool.path_of(case.spool_name).exists()

    # The backup opens with the DB key, yet nothing of the candidate in it can be read.
    text, blobs = dump(taken, appliance.keyset.db)
    assert case.pseudonym in text  # it is the right backup
    assert traces(text, blobs, case) == []
    assert "restarted the cluster" not in text and "took the pager" not in text
    with pytest.raises(NotFoundError):
        store.vault.key_for(case.pseudonym)
    old = Database.open(taken, appliance.keyset.db).connect()
    wrapped = bytes(
        old.execute(
            "SELECT wrapped_data_key FROM recordings WHERE id = ?", (case.recording_id,)
        ).fetchone()[0]
    )
    old.close()
    for other in all_vault_keys(store):  # no key left opens the name or the recording copy
        with pytest.raises(SealedFieldError):
            open_sealed(
                other, sealed_name, table="candidates", column="full_name", row=case.pseudonym
            )
        with pytest.raises(SpoolIntegrityError):
            unwrap_data_key(other, wrapped, case.spool_name)
    live_text, live_blobs = dump(appliance.config.paths.database, appliance.keyset.db)
    assert traces(live_text, live_blobs, case) == []
    assert store.audit.first_broken_link() is None
    erased = store.audit.entries(action="candidate.erased")[-1]
    assert erased.subject == case.pseudonym and erased.details["request"] == request.id
    page = client.get("/privacy").get_data(as_text=True)
    assert 'id="overdue-summary"' not in page


# --- CN ----------------------------------------------------------------------------------------


def test_CN_2_explanation_and_objection_requests_are_due_the_same_day(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    case = make_case(appliance, store, tmp_path, region="CN", residence="CN")
    received = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    for kind in ("explanation", "objection"):
        request = open_request(
            store, case.hr, candidate_id=case.candidate_id, kind=kind, received_at=received
        )
        assert request.due_at.startswith("2026-03-02T23:59:59")
    with pytest.raises(PrivacyError):
        open_request(store, case.hr, candidate_id=case.candidate_id, kind="gossip")
    with pytest.raises(PrivacyError, match="future"):
        open_request(
            store,
            case.hr,
            candidate_id=case.candidate_id,
            kind="access",
            received_at=utcnow() + 2 * DAY,
        )
    closed = close_request(store, case.hr, list_requests(store, case.hr)[0].request.id)
    assert closed.status == "done" and closed.closed_by == case.hr.user_id


def test_CN_4_decision_logs_of_china_are_kept_three_years(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    china = make_case(appliance, store, tmp_path, region="CN", residence="CN")
    elsewhere = make_case(appliance, store, tmp_path, region="default", hr=china.hr)
    spool, logs = appliance.spool(), DecisionLogRepository(store)
    rule = retention.PROFILES["CN"].rules[Category.DECISION_LOGS]
    assert rule.min_days >= 3 * 365 and "PIPL" in rule.source and "CN-4" in rule.source
    erase_candidate(store, spool, china.hr, china.candidate_id, "without delay")
    run_retention(store, spool, utcnow() + 2 * 365 * DAY)
    assert len(logs.for_pseudonym(china.pseudonym)) == 1
    assert logs.for_pseudonym(elsewhere.pseudonym) == []  # six months elsewhere
    run_retention(store, spool, utcnow() + (3 * 365 + 2) * DAY)
    assert logs.for_pseudonym(china.pseudonym) == []


# --- everywhere --------------------------------------------------------------------------------


def test_ALL_2_retention_erases_each_category_when_it_expires_and_logs_it(
    appliance: Appliance, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = retention.RegionRetention(
        "default",
        {
            Category.RECORDINGS: Rule(10, 0, "test"),
            Category.TRANSCRIPTS: Rule(30, 0, "test"),
            Category.SCORES: Rule(60, 0, "test"),
            Category.DECISION_LOGS: Rule(90, 0, "test"),
            Category.CANDIDATE: Rule(1000, 0, "test"),
        },
        retention.PROFILES["default"].request_deadline,
    )
    monkeypatch.setitem(retention.PROFILES, "default", profile)
    case = make_case(appliance, store, tmp_path, region="default")
    spool, now = appliance.spool(), utcnow()

    assert run_retention(store, spool, now + 5 * DAY).nothing_done

    summary = run_retention(store, spool, now + 20 * DAY)
    assert dict(summary.counts) == {"recordings": 1}
    assert not spool.path_of(case.spool_name).exists()
    with pytest.raises(NotFoundError):
        store.recordings.get(case.recording_id)
    assert store.reports.get(case.report_id).recording_id is None

    assert dict(run_retention(store, spool, now + 40 * DAY).counts) == {"transcripts": 1}
    content = store.reports.get(case.report_id).content
    assert content["scores"]["ownership"] == {"score": 8, "confidence": 0.9}
    assert case.canary not in json.dumps(content) and "sections" not in content

    # The coding round's draft and submission (code and results) go with the scores.
    assert dict(run_retention(store, spool, now + 70 * DAY).counts) == {
        "scores": 2,
        "coding_work": 2,
    }
    with pytest.raises(NotFoundError):
        store.reports.get(case.report_id)
    assert store.evaluations.for_interview(case.interview_id) == []
    assert store.coding_work.submissions(case.interview_id) == []

    assert dict(run_retention(store, spool, now + 100 * DAY).counts) == {"decision_logs": 1}
    assert not store.candidates.get(case.candidate_id).erased

    summary = run_retention(store, spool, now + 1001 * DAY)
    assert summary.erased_candidates == [case.pseudonym]
    assert store.candidates.get(case.candidate_id).erased
    logged = [e for e in store.audit.entries() if e.actor == "retention"]
    assert [e.details.get("category") for e in logged if e.action == "retention.erased"] == [
        "recordings",
        "transcripts",
        "scores",
        "scores",
    ]
    assert {e.action for e in logged} == {
        "retention.erased",
        "decision_log.purged",
        "candidate.erased",
    }
    assert all(e.subject == case.pseudonym for e in logged)
    assert store.audit.first_broken_link() is None


def test_ALL_2_interrupted_erasure_is_finished_by_retention_or_a_retry(
    appliance: Appliance, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = make_case(appliance, store, tmp_path)
    retried = make_case(appliance, store, tmp_path, hr=case.hr)
    spool = appliance.spool()

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(store.candidates, "mark_erased", crash)
    for interrupted in (case, retried):
        with pytest.raises(RuntimeError):
            erase_candidate(store, spool, case.hr, interrupted.candidate_id, "asked")
    monkeypatch.undo()
    assert store.candidates.get(case.candidate_id).erased  # the key is gone already
    assert spool.path_of(case.spool_name).exists()
    with pytest.raises(PrivacyError, match="already erased"):
        place_hold(store, case.hr, candidate_id=case.candidate_id, reason="too late")

    done = erase_candidate(store, spool, case.hr, retried.candidate_id, "asked, again")
    assert done.completed_at is not None and done.reason == "asked"
    assert not spool.path_of(retried.spool_name).exists()

    summary = run_retention(store, spool)
    assert summary.counts["erasures_finished"] == 1
    assert not spool.path_of(case.spool_name).exists()
    erased = [e.subject for e in store.audit.entries(action="candidate.erased")]
    assert erased == [retried.pseudonym, case.pseudonym]


def test_retention_chore_reports_overdue_requests_by_id_only(
    appliance: Appliance, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = make_case(appliance, store, tmp_path, region="US-IL")
    late = open_request(
        store,
        case.hr,
        candidate_id=case.candidate_id,
        kind="erasure",
        received_at=utcnow() - 40 * DAY,
    )
    summary = retention_job.retention_chore(store, appliance.config, appliance.spool())
    assert summary.nothing_done
    assert f"overdue: {late.id}" in caplog.text and case.canary not in caplog.text
    assert retention.RETENTION_INTERVAL_S > 0


def test_request_deadlines_follow_the_strictest_region() -> None:
    jan31 = datetime(2026, 1, 31, 18, 0, tzinfo=UTC)
    assert request_due(jan31, ["EU"]).date().isoformat() == "2026-02-28"  # one calendar month
    assert request_due(datetime(2028, 1, 31, tzinfo=UTC), ["EU"]).date().isoformat() == (
        "2028-02-29"
    )
    assert request_due(jan31, ["US-IL"]).date().isoformat() == "2026-03-02"  # 30 days
    assert request_due(jan31, ["default"]).date().isoformat() == "2026-03-02"
    assert request_due(jan31, ["CN"]).date().isoformat() == "2026-01-31"  # without delay
    assert request_due(jan31, ["EU", "US-IL", "CN"]).date().isoformat() == "2026-01-31"
    assert request_due(jan31, ["EU", "US-IL"]).date().isoformat() == "2026-02-28"
    assert request_due(jan31, []).time().isoformat() == "23:59:59.999999"
    assert request_due(jan31, ["Atlantis"]) == request_due(jan31, ["default"])


def test_retention_profiles_are_data_with_sources() -> None:
    from appliance.compliance.policy import PROFILES as POLICY

    for region, profile in retention.PROFILES.items():
        assert set(profile.rules) == set(Category), region
        assert all(rule.source for rule in profile.rules.values()), region
        assert profile.request_deadline.source, region
        # The region policy table states the same minimum for AI decision logs.
        minimum = POLICY[region].decision_log_min_days
        if minimum is not None:
            assert profile.rules[Category.DECISION_LOGS].min_days == minimum, region


# --- the privacy pages -------------------------------------------------------------------------


def test_privacy_pages_record_requests_hold_export_and_erase(
    appliance: Appliance, web: tuple[Flask, Store], tmp_path: Path
) -> None:
    app, store = web
    case = make_case(appliance, store, tmp_path)
    make_user(store, "privacy.officer", "hr_admin", regions=["*"], departments=["*"])
    client = with_privacy(app).test_client()
    login(client, "privacy.officer")
    page = client.get(f"/privacy/candidates/{case.candidate_id}")
    assert page.status_code == 200
    token = csrf_token_from(page.get_data(as_text=True))

    found = client.get(f"/privacy?q={case.canary.lower()}").get_data(as_text=True)
    assert f"/privacy/candidates/{case.candidate_id}" in found

    made = client.post(
        "/privacy/requests",
        data={
            "csrf_token": token,
            "candidate_id": str(case.candidate_id),
            "kind": "erasure",
            "received": "2026-01-31",
            "note": "by letter",
        },
    )
    assert made.status_code == 303
    assert client.post("/privacy/requests", data={"csrf_token": token}).status_code == 422

    export = client.get(f"/privacy/candidates/{case.candidate_id}/export")
    assert export.status_code == 200 and export.mimetype == "application/zip"
    assert export.is_streamed
    assert "attachment" in export.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(export.get_data()))
    assert json.loads(archive.read("data.json"))["data_requests"][0]["kind"] == "erasure"

    assert (
        client.post(
            "/privacy/holds",
            data={
                "csrf_token": token,
                "candidate_id": str(case.candidate_id),
                "reason": "Audit by the labour inspectorate",
            },
        ).status_code
        == 303
    )
    refused = client.post(
        f"/privacy/candidates/{case.candidate_id}/erase",
        data={"csrf_token": token, "confirm": case.pseudonym, "reason": "asked"},
    )
    assert refused.status_code == 422
    assert "labour inspectorate" in refused.get_data(as_text=True)
    hold_id = store.conn.execute("SELECT id FROM legal_holds").fetchone()[0]
    assert (
        client.post(f"/privacy/holds/{hold_id}/release", data={"csrf_token": token}).status_code
        == 303
    )

    unconfirmed = client.post(
        f"/privacy/candidates/{case.candidate_id}/erase",
        data={"csrf_token": token, "confirm": "yes", "reason": "asked"},
    )
    assert unconfirmed.status_code == 422
    assert not store.candidates.get(case.candidate_id).erased
    request_id = store.conn.execute("SELECT id FROM data_requests").fetchone()[0]
    done = client.post(
        f"/privacy/candidates/{case.candidate_id}/erase",
        data={
            "csrf_token": token,
            "confirm": case.pseudonym,
            "reason": "asked by letter",
            "request_id": str(request_id),
        },
    )
    assert done.status_code == 303
    assert store.candidates.get(case.candidate_id).erased
    page = client.get(f"/privacy/candidates/{case.candidate_id}").get_data(as_text=True)
    assert 'id="erasure"' in page and case.canary not in page

    interviewer = make_user(store, "plain.interviewer", "interviewer")
    assert interviewer
    other = app.test_client()
    login(other, "plain.interviewer")
    assert other.get("/privacy").status_code == 403
    assert other.get(f"/privacy/candidates/{case.candidate_id}/export").status_code == 403
