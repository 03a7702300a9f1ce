"""The JSON API: bearer tokens, scopes (guessed ids get 404), strict bodies, uploads, audit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from appliance.accounts.auth import issue_api_token
from appliance.store import Store

from .conftest import Appliance, login, make_appliance, make_user, write_wav

PREFIX = "/api/v1"
CHUNK = 64 * 1024  # small spool chunks: a three-piece upload stays small


@pytest.fixture
def appliance(tmp_path: Path) -> Appliance:
    """This module's appliance: small spool chunks, so pieces are 64 KiB."""
    return make_appliance(tmp_path, media={"spool_chunk_bytes": CHUNK})


@dataclass
class World:
    """An app over a store with people in several departments and regions."""

    app: Any
    store: Store
    appliance: Appliance
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str | None, path: str, **query: Any) -> Any:
        return self.client.get(PREFIX + path, headers=self.headers(who), query_string=query)

    def post(self, who: str | None, path: str, body: Any) -> Any:
        return self.client.post(PREFIX + path, headers=self.headers(who), json=body)

    def put(self, who: str | None, path: str, data: bytes, **query: Any) -> Any:
        return self.client.put(
            PREFIX + path,
            headers={**self.headers(who), "Content-Type": "application/octet-stream"},
            data=data,
            query_string=query,
        )

    def reads(self) -> list[str | None]:
        """Subjects of the `candidate.read` audit entries so far."""
        return [entry.subject for entry in self.store.audit.entries(action="candidate.read")]


def _person(world: World, name: str, role: str, departments: list[str], regions: list[str]) -> int:
    user_id = make_user(world.store, name, role, departments=departments, regions=regions)
    world.users[name] = user_id
    world.tokens[name] = issue_api_token(world.store, user_id, user_id, f"{name} token").secret
    return user_id


@pytest.fixture
def world(web, appliance: Appliance) -> Iterator[World]:  # type: ignore[no-untyped-def]
    app, store = web
    w = World(app, store, appliance)
    with store.transaction():
        eng_eu = store.requisitions.create("Backend dev", "Engineering", "Berlin", "EU")
        sales_eu = store.requisitions.create("Account exec", "Sales", "Paris", "EU")
        eng_us = store.requisitions.create("SRE", "Engineering", "Chicago", "US-IL")
    for key, name, requisition in (
        ("ana", "Ana Example", eng_eu),
        ("bo", "Bo Other", sales_eu),
        ("cy", "Cy Faraway", eng_us),
    ):
        candidate = store.candidates.create(name, email=f"{key}@example.invalid")
        interview = store.interviews.create(candidate.id, requisition.id)
        w.ids[key] = candidate.id
        w.ids[f"{key}_interview"] = interview.id
        w.ids[f"{key}_requisition"] = requisition.id
        with store.transaction():
            recording = store.recordings.create(
                interview.id,
                candidate.id,
                f"{key}{'0' * 29}.spool",
                "a.wav",
                "audio/wav",
                10,
                "0" * 64,
                b"k" * 60,
            )
            job = store.jobs.enqueue(
                "analyse",
                subject_type="recording",
                subject_id=recording.id,
                max_open=100,
                max_attempts=1,
            )
            report = store.reports.create(
                interview.id,
                job.id,
                {"scores": {"ownership": {"score": 6, "confidence": 0.8, "evidence": []}}},
                recording_id=recording.id,
            )
        w.ids[f"{key}_job"] = job.id
        w.ids[f"{key}_report"] = report.id
    _person(w, "hr", "hr_admin", ["*"], ["EU"])
    _person(w, "rec", "recruiter", ["Engineering"], ["EU"])
    _person(w, "lead", "business_lead", ["Engineering"], ["EU"])
    _person(w, "svc", "service", [], ["EU"])
    _person(w, "int", "interviewer", ["Engineering"], ["EU"])
    _person(w, "tech", "tech_expert", ["Engineering"], ["EU"])
    _person(w, "aud", "auditor", [], ["*"])
    with store.transaction():
        store.interviews.assign(w.ids["ana_interview"], w.users["int"], "interviewer")
        store.interviews.assign(w.ids["ana_interview"], w.users["tech"], "tech_expert")
    yield w


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code
    return dict(body["error"])


# --- Authentication ---------------------------------------------------------------------------


def test_no_bad_revoked_or_expired_token_gets_401_with_the_envelope(world: World) -> None:
    _error(world.get(None, "/candidates"), 401, "unauthorized")
    bad = world.client.get(PREFIX + "/candidates", headers={"Authorization": "Bearer iat_nope"})
    _error(bad, 401, "unauthorized")
    svc = world.users["svc"]
    revoked = issue_api_token(world.store, svc, svc, "revoked")
    assert (
        world.client.get(
            PREFIX + "/candidates", headers={"Authorization": f"Bearer {revoked.secret}"}
        ).status_code
        == 200
    )
    with world.store.transaction():
        world.store.api_tokens.revoke(revoked.id)
    gone = world.client.get(
        PREFIX + "/candidates", headers={"Authorization": f"Bearer {revoked.secret}"}
    )
    _error(gone, 401, "unauthorized")
    expired = issue_api_token(world.store, svc, svc, "old", valid_days=0)
    late = world.client.get(
        PREFIX + "/candidates", headers={"Authorization": f"Bearer {expired.secret}"}
    )
    assert "expired" in _error(late, 401, "unauthorized")["message"]


def test_a_session_cookie_can_read_but_never_change_through_the_api(world: World) -> None:
    browser = world.app.test_client()
    assert login(browser, "rec").status_code == 302
    assert browser.get(PREFIX + "/candidates").status_code == 200
    attempt = browser.post(
        PREFIX + "/candidates",
        json={"full_name": "Via Cookie", "requisition_id": world.ids["ana_requisition"]},
    )
    assert "Bearer" in _error(attempt, 401, "unauthorized")["message"]
    upload = browser.post(
        PREFIX + f"/interviews/{world.ids['ana_interview']}/uploads",
        json={"filename": "a.wav", "content_type": "audio/wav", "total_bytes": 10},
    )
    _error(upload, 401)
    assert world.store.candidates.search("Via Cookie") == []


def test_me_shows_the_account_and_its_permissions(world: World) -> None:
    response = world.get("rec", "/me")
    assert response.status_code == 200
    me = response.get_json()
    assert me["username"] == "rec" and me["role"] == "recruiter"
    assert me["permissions"]["candidates.view"] == "department"
    assert "scores.override" in me["permissions"] and "users.manage" not in me["permissions"]
    assert "password_hash" not in me
    # Service accounts see their own account (account.view) but have nothing to change.
    service = world.get("svc", "/me").get_json()
    assert service["role"] == "service" and service["permissions"]["account.view"] == "own"
    assert "account.change" not in service["permissions"]


def test_unknown_api_paths_and_methods_answer_with_the_envelope(world: World) -> None:
    _error(world.get("rec", "/no-such-thing"), 404, "not_found")
    _error(world.get("rec", "/candidates/abc"), 404)
    deleted = world.client.delete(PREFIX + "/candidates", headers=world.headers("hr"))
    _error(deleted, 405)


# --- Requisitions -----------------------------------------------------------------------------


def test_requisitions_are_scoped_and_created_under_the_rules(world: World) -> None:
    listed = world.get("rec", "/requisitions").get_json()
    assert [r["id"] for r in listed["items"]] == [world.ids["ana_requisition"]]
    hr_ids = {r["id"] for r in world.get("hr", "/requisitions").get_json()["items"]}
    assert hr_ids == {world.ids["ana_requisition"], world.ids["bo_requisition"]}
    assert world.get("rec", f"/requisitions/{world.ids['ana_requisition']}").status_code == 200
    outside = world.get("rec", f"/requisitions/{world.ids['cy_requisition']}")
    missing = world.get("rec", "/requisitions/99999")
    assert _error(outside, 404) == _error(missing, 404)
    _error(world.get("int", "/requisitions"), 403, "forbidden")

    body = {"title": "QA lead", "department": "Engineering", "location": "Rome", "region": "EU"}
    created = world.post("hr", "/requisitions", body)
    assert created.status_code == 201, created.get_data(as_text=True)
    requisition = created.get_json()
    assert requisition["status"] == "open" and requisition["region"] == "EU"
    assert created.headers["Location"].endswith(f"/requisitions/{requisition['id']}")
    _error(world.post("rec", "/requisitions", body), 403, "forbidden")
    _error(world.post("hr", "/requisitions", {**body, "region": "US-IL"}), 422, "invalid_request")
    _error(world.post("hr", "/requisitions", {**body, "region": "Mars"}), 422)
    _error(world.post("hr", "/requisitions", {**body, "title": 5}), 422)
    _error(world.post("hr", "/requisitions", {**body, "title": "  "}), 422)
    _error(world.post("hr", "/requisitions", {**body, "extra": 1}), 422)
    _error(world.post("hr", "/requisitions", {**body, "competency_model_id": "1"}), 422)
    _error(world.post("hr", "/requisitions", [body]), 422)
    raw = world.client.post(
        PREFIX + "/requisitions",
        headers={**world.headers("hr"), "Content-Type": "application/json"},
        data=b"{not json",
    )
    _error(raw, 422)
    form = world.client.post(PREFIX + "/requisitions", headers=world.headers("hr"), data=body)
    _error(form, 415)


# --- Candidates -------------------------------------------------------------------------------


def test_a_service_token_lists_the_candidates_of_its_region_only(world: World) -> None:
    before = len(world.reads())
    response = world.get("svc", "/candidates")
    assert response.status_code == 200
    listed = response.get_json()
    assert {c["id"] for c in listed["items"]} == {world.ids["ana"], world.ids["bo"]}
    assert listed["limit"] == 50 and listed["offset"] == 0
    # Each candidate listed is an audited read, by pseudonym only.
    subjects = world.reads()[before:]
    assert sorted(subjects) == sorted(c["pseudonym"] for c in listed["items"])
    _error(world.get("svc", f"/candidates/{world.ids['cy']}"), 404)


def test_candidate_list_filters_and_bounded_pagination(world: World) -> None:
    def ids(**query: Any) -> list[int]:
        response = world.get("hr", "/candidates", **query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [c["id"] for c in response.get_json()["items"]]

    assert ids() == [world.ids["bo"], world.ids["ana"]]  # newest first
    assert ids(q="Ana") == [world.ids["ana"]]
    assert ids(q="bo@example") == [world.ids["bo"]]
    assert ids(requisition_id=world.ids["bo_requisition"]) == [world.ids["bo"]]
    assert ids(requisition_id=world.ids["cy_requisition"]) == []
    assert ids(status="planned") == [world.ids["bo"], world.ids["ana"]]
    assert ids(status="analysed") == []
    assert ids(limit=1) == [world.ids["bo"]]
    assert ids(limit=1, offset=1) == [world.ids["ana"]]
    assert ids(limit=200, offset=5) == []
    for bad in (
        {"limit": 201},
        {"limit": 0},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": "1e3"},
        {"requisition_id": "x"},
        {"status": "hired"},
        {"q": "x" * 201},
    ):
        _error(world.get("hr", "/candidates", **bad), 422, "invalid_request")


@pytest.mark.parametrize(
    "text",
    [
        "' OR '1'='1",
        "'; DROP TABLE candidates; --",
        '" OR 1=1 --',
        "Ana' UNION SELECT * FROM users --",
        "') OR EXISTS(SELECT 1 FROM api_tokens) --",
        "\\'; SELECT 1; --",
    ],
)
def test_sql_injection_in_q_finds_nothing_and_breaks_nothing(world: World, text: str) -> None:
    response = world.get("hr", "/candidates", q=text)
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    assert world.store.candidates.count() == 3
    assert len(world.get("hr", "/candidates").get_json()["items"]) == 2


def test_candidate_profile_is_scoped_and_audited(world: World) -> None:
    before = len(world.reads())
    response = world.get("rec", f"/candidates/{world.ids['ana']}")
    assert response.status_code == 200
    profile = response.get_json()
    assert profile["full_name"] == "Ana Example"
    assert [i["id"] for i in profile["interviews"]] == [world.ids["ana_interview"]]
    assert profile["report_ids"] == [world.ids["ana_report"]]
    assert profile["decisions"] == []
    assert world.reads()[before:] == [profile["pseudonym"]]
    entry = world.store.audit.entries(action="candidate.read")[-1]
    assert entry.actor == f"user:{world.users['rec']}" and "Ana" not in str(entry.details)
    # Another department, another region, and no such id: the same 404, nothing logged.
    before = len(world.reads())
    other_department = _error(world.get("rec", f"/candidates/{world.ids['bo']}"), 404)
    other_region = _error(world.get("rec", f"/candidates/{world.ids['cy']}"), 404)
    nobody = _error(world.get("rec", "/candidates/99999"), 404)
    assert other_department == other_region == nobody
    assert len(world.reads()) == before
    # The interviewer sees only the interview assigned to them.
    assert world.get("int", f"/candidates/{world.ids['ana']}").status_code == 200
    _error(world.get("int", f"/candidates/{world.ids['bo']}"), 404)
    _error(world.get("aud", f"/candidates/{world.ids['ana']}"), 403, "forbidden")


def test_creating_a_candidate_makes_an_interview_for_a_visible_requisition(world: World) -> None:
    body = {
        "full_name": "Dee New",
        "email": "dee@example.invalid",
        "residence_region": "EU",
        "language": "en",
        "requisition_id": world.ids["ana_requisition"],
    }
    created = world.post("rec", "/candidates", body)
    assert created.status_code == 201, created.get_data(as_text=True)
    candidate = created.get_json()
    assert candidate["interview"]["requisition_id"] == world.ids["ana_requisition"]
    assert candidate["pseudonym"].startswith("cand-")
    assert world.get("rec", f"/candidates/{candidate['id']}").status_code == 200
    assert (
        world.store.audit.entries(action="candidate.created")[-1].subject == candidate["pseudonym"]
    )
    # Outside the recruiter's department, or no such requisition: the same 422.
    outside = world.post(
        "rec", "/candidates", {**body, "requisition_id": world.ids["bo_requisition"]}
    )
    missing = world.post("rec", "/candidates", {**body, "requisition_id": 99999})
    assert _error(outside, 422) == _error(missing, 422)
    _error(world.post("rec", "/candidates", {**body, "requisition_id": True}), 422)
    _error(world.post("rec", "/candidates", {**body, "email": ["x"]}), 422)
    _error(world.post("rec", "/candidates", {**body, "email": "not-an-address"}), 422)
    _error(world.post("rec", "/candidates", {"full_name": "No Job"}), 422)
    _error(world.post("lead", "/candidates", body), 403, "forbidden")
    _error(world.post("svc", "/candidates", body), 403, "forbidden")


# --- Interviews: assignments and evaluations --------------------------------------------------


def test_assignments_take_people_of_the_duty_in_scope(world: World) -> None:
    other = make_user(
        world.store, "int2", "interviewer", departments=["Engineering"], regions=["EU"]
    )
    path = f"/interviews/{world.ids['ana_interview']}/assignments"
    response = world.post("rec", path, {"user_id": other, "duty": "interviewer"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert {"user_id": other, "duty": "interviewer"} in response.get_json()["assignees"]
    assert world.store.audit.entries(action="interview.assigned")
    _error(world.post("rec", path, {"user_id": world.users["lead"], "duty": "interviewer"}), 422)
    _error(world.post("rec", path, {"user_id": other, "duty": "boss"}), 422)
    _error(world.post("rec", path, {"user_id": str(other), "duty": "interviewer"}), 422)
    for guessed in (world.ids["bo_interview"], world.ids["cy_interview"], 99999):
        _error(
            world.post(
                "rec",
                f"/interviews/{guessed}/assignments",
                {"user_id": other, "duty": "interviewer"},
            ),
            404,
        )
    _error(world.post("lead", path, {"user_id": other, "duty": "interviewer"}), 403)


def test_evaluations_by_assigned_interviewers_and_experts_only(world: World) -> None:
    interview = world.ids["ana_interview"]
    body = {"rating": 7, "summary": "Clear, structured answers"}
    done = world.post("int", f"/interviews/{interview}/evaluations", body)
    assert done.status_code == 201, done.get_data(as_text=True)
    assert done.get_json()["kind"] == "interview"
    tech = world.post("tech", f"/interviews/{interview}/technical-evaluations", body)
    assert tech.status_code == 201 and tech.get_json()["kind"] == "technical"
    _error(world.post("int", f"/interviews/{interview}/technical-evaluations", body), 403)
    _error(world.post("tech", f"/interviews/{interview}/evaluations", body), 403)
    _error(world.post("rec", f"/interviews/{interview}/evaluations", body), 403)
    _error(world.post("int", f"/interviews/{world.ids['bo_interview']}/evaluations", body), 404)
    _error(world.post("int", "/interviews/99999/evaluations", body), 404)
    _error(world.post("int", f"/interviews/{interview}/evaluations", {**body, "rating": 11}), 422)
    _error(world.post("int", f"/interviews/{interview}/evaluations", {**body, "rating": 7.5}), 422)
    _error(world.post("int", f"/interviews/{interview}/evaluations", {**body, "summary": ""}), 422)


# --- Decisions and recommendations ------------------------------------------------------------


def test_decisions_and_recommendations_need_their_own_permission(world: World) -> None:
    ana = world.ids["ana"]
    decision = {
        "requisition_id": world.ids["ana_requisition"],
        "kind": "advance",
        "reason": "Strong ownership",
    }
    recommendation = {**decision, "kind": "recommend_hire"}
    done = world.post("rec", f"/candidates/{ana}/decisions", decision)
    assert done.status_code == 201, done.get_data(as_text=True)
    assert done.get_json()["decided_by"] == world.users["rec"]
    _error(world.post("rec", f"/candidates/{ana}/recommendations", recommendation), 403)
    _error(world.post("lead", f"/candidates/{ana}/decisions", decision), 403)
    advised = world.post("lead", f"/candidates/{ana}/recommendations", recommendation)
    assert advised.status_code == 201 and advised.get_json()["kind"] == "recommend_hire"
    # Each endpoint takes only its own kinds; a reason is required.
    _error(world.post("rec", f"/candidates/{ana}/decisions", recommendation), 422)
    _error(world.post("lead", f"/candidates/{ana}/recommendations", decision), 422)
    _error(world.post("rec", f"/candidates/{ana}/decisions", {**decision, "reason": " "}), 422)
    _error(world.post("rec", f"/candidates/{ana}/decisions", {**decision, "reason": None}), 422)
    profile = world.get("rec", f"/candidates/{ana}").get_json()
    assert [d["kind"] for d in profile["decisions"]] == ["advance", "recommend_hire"]
    for guessed in (world.ids["bo"], world.ids["cy"], 99999):
        _error(world.post("rec", f"/candidates/{guessed}/decisions", decision), 404)


# --- Jobs and reports -------------------------------------------------------------------------


def test_jobs_are_scoped_through_their_recordings_interview(world: World) -> None:
    response = world.get("rec", f"/jobs/{world.ids['ana_job']}")
    assert response.status_code == 200
    job = response.get_json()
    assert job["state"] == "queued" and job["progress"] == 0 and job["error"] is None
    assert job["report_id"] == world.ids["ana_report"]
    assert world.get("svc", f"/jobs/{world.ids['bo_job']}").status_code == 200
    for guessed in (world.ids["bo_job"], world.ids["cy_job"], 99999):
        _error(world.get("rec", f"/jobs/{guessed}"), 404)
    _error(world.get("svc", f"/jobs/{world.ids['cy_job']}"), 404)
    _error(world.get("int", f"/jobs/{world.ids['ana_job']}"), 403)


def test_business_lead_reads_reports_but_cannot_override(world: World) -> None:
    report_id = world.ids["ana_report"]
    before = len(world.reads())
    response = world.get("lead", f"/reports/{report_id}")
    assert response.status_code == 200
    report = response.get_json()
    assert report["current_scores"] == {"ownership": 6.0} and report["overrides"] == []
    assert len(world.reads()) == before + 1
    override = {"dimension": "ownership", "score": 8, "reason": "Second answer shows it"}
    _error(world.post("lead", f"/reports/{report_id}/overrides", override), 403, "forbidden")
    assert world.store.overrides.for_report(report_id) == []


def test_overrides_change_the_current_score_with_a_reason(world: World) -> None:
    report_id = world.ids["ana_report"]
    override = {"dimension": "ownership", "score": 8.5, "reason": "Second answer shows it"}
    done = world.post("rec", f"/reports/{report_id}/overrides", override)
    assert done.status_code == 201, done.get_data(as_text=True)
    assert done.get_json()["previous_score"] == 6 and done.get_json()["current_scores"] == {
        "ownership": 8.5
    }
    report = world.get("rec", f"/reports/{report_id}").get_json()
    assert report["current_scores"] == {"ownership": 8.5}
    assert [o["reason"] for o in report["overrides"]] == ["Second answer shows it"]
    path = f"/reports/{report_id}/overrides"
    _error(world.post("rec", path, {**override, "score": "8"}), 422)
    _error(world.post("rec", path, {**override, "score": 11}), 422)
    _error(world.post("rec", path, {**override, "score": True}), 422)
    _error(world.post("rec", path, {**override, "dimension": "charm"}), 422)
    _error(world.post("rec", path, {**override, "reason": ""}), 422)
    _error(world.post("rec", path, {"dimension": "ownership", "score": 7}), 422)
    for guessed in (world.ids["bo_report"], world.ids["cy_report"], 99999):
        _error(world.post("rec", f"/reports/{guessed}/overrides", override), 404)


def test_guessed_report_ids_get_the_same_404(world: World) -> None:
    answers = [
        _error(world.get(who, f"/reports/{report}"), 404)
        for who, report in (
            ("rec", world.ids["bo_report"]),
            ("rec", world.ids["cy_report"]),
            ("lead", world.ids["cy_report"]),
            ("svc", world.ids["cy_report"]),
            ("int", world.ids["bo_report"]),
            ("rec", 99999),
        )
    ]
    assert all(answer == answers[0] for answer in answers)
    assert world.get("int", f"/reports/{world.ids['ana_report']}").status_code == 200
    _error(world.get("tech", f"/reports/{world.ids['ana_report']}"), 403)


# --- Resumable uploads ------------------------------------------------------------------------


def _spool_bytes(world: World) -> bytes:
    folder = world.appliance.config.paths.spool
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


def test_resumable_upload_in_three_pieces(world: World, tmp_path: Path) -> None:
    marker = b"PLAINTEXT-MARKER-" + b"\x13\x37" * 8
    data = write_wav(tmp_path / "answer.wav", 5.0, marker=marker).read_bytes()
    assert 2 * CHUNK < len(data) < 3 * CHUNK
    pieces = [data[:CHUNK], data[CHUNK : 2 * CHUNK], data[2 * CHUNK :]]
    interview = world.ids["ana_interview"]

    started = world.post(
        "svc",
        f"/interviews/{interview}/uploads",
        {"filename": "../answer.wav", "content_type": "audio/wav", "total_bytes": len(data)},
    )
    assert started.status_code == 201, started.get_data(as_text=True)
    upload = started.get_json()
    assert upload["received_bytes"] == 0 and upload["chunk_bytes"] == CHUNK
    assert upload["piece_bytes"] == world.appliance.config.web.upload_piece_bytes
    assert upload["filename"] == "answer.wav"
    path = f"/uploads/{upload['id']}"

    first = world.put("svc", path, pieces[0], offset=0)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["received_bytes"] == CHUNK and not first.get_json()["complete"]
    # The third piece sent too early: 409 with the offset to continue at.
    early = world.put("svc", path, pieces[2], offset=2 * CHUNK)
    assert _error(early, 409, "offset_mismatch")["expected"] == CHUNK
    assert world.get("svc", path).get_json()["received_bytes"] == CHUNK
    second = world.put("svc", path, pieces[1], offset=CHUNK)
    assert second.status_code == 200 and second.get_json()["received_bytes"] == 2 * CHUNK
    # While in progress the partial spool file holds ciphertext only.
    partial = _spool_bytes(world)
    assert partial and marker not in partial
    assert not any(piece[1000:1064] in partial for piece in pieces[:2])

    last = world.put("svc", path, pieces[2], offset=2 * CHUNK)
    assert last.status_code == 201, last.get_data(as_text=True)
    done = last.get_json()
    assert done["complete"] and done["received_bytes"] == len(data)
    recording = world.store.recordings.get(done["recording_id"])
    assert recording.interview_id == interview and recording.size_bytes == len(data)
    job = world.get("svc", f"/jobs/{done['job_id']}").get_json()
    assert job["state"] == "queued" and job["recording_id"] == recording.id
    assert last.headers["Location"].endswith(f"/jobs/{done['job_id']}")
    status = world.get("svc", path).get_json()
    assert status["complete"] and status["recording_id"] == recording.id

    stored = _spool_bytes(world)
    assert marker not in stored
    assert not any(piece[1000:1064] in stored for piece in pieces)
    assert not any(piece[-64:] in stored for piece in pieces)
    _error(world.put("svc", path, b"x", offset=len(data)), 422)


def test_uploads_are_scoped_and_strict(world: World) -> None:
    body = {"filename": "a.wav", "content_type": "audio/wav", "total_bytes": 1000}
    for guessed in (world.ids["cy_interview"], 99999):
        _error(world.post("svc", f"/interviews/{guessed}/uploads", body), 404)
    _error(world.post("rec", f"/interviews/{world.ids['bo_interview']}/uploads", body), 404)
    _error(world.post("lead", f"/interviews/{world.ids['ana_interview']}/uploads", body), 403)
    path = f"/interviews/{world.ids['ana_interview']}/uploads"
    _error(world.post("svc", path, {**body, "total_bytes": "1000"}), 422)
    _error(world.post("svc", path, {**body, "total_bytes": 0}), 422)
    _error(world.post("svc", path, {k: v for k, v in body.items() if k != "filename"}), 422)

    started = world.post("svc", path, body).get_json()
    upload = f"/uploads/{started['id']}"
    # Only the account that started an upload sees it; the same 404 as an unknown id.
    assert _error(world.get("rec", upload), 404) == _error(world.get("rec", "/uploads/nope"), 404)
    _error(world.put("rec", upload, b"RIFF", offset=0), 404)
    _error(world.put("svc", upload, b"RIFF" + b"\0" * 10), 422)  # no offset
    _error(world.put("svc", upload, b"RIFF" + b"\0" * 10, offset="zero"), 422)
    _error(world.put("svc", upload, b"%PDF-1.7" + b"\0" * 992, offset=0), 422, "media_rejected")
    assert world.get("svc", upload).get_json()["received_bytes"] == 0
    browser = world.app.test_client()
    login(browser, "rec")
    cookie_put = browser.put(PREFIX + upload + "?offset=0", data=b"RIFF")
    _error(cookie_put, 401)
