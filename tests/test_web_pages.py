"""The hiring pages over a real store, CSRF on, logging in through the form: dashboard, jobs
and the competency-model editor, candidates and their profile, technical rounds, reports."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from flask import Flask

from appliance.hiring.review import current_scores
from appliance.security.permissions import PERMISSIONS, Action
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from webui.security import view_action

from .conftest import USER_PASSWORD, csrf_token_from, login

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


@dataclass
class World:
    """Users, jobs, candidates and a report across two departments and two regions."""

    app: Flask
    store: Store
    users: dict[str, int]
    job_a: int  # Engineering, EU: the home of most users
    job_b: int  # Sales, EU: another department
    job_us: int  # Engineering, US-IL: another region
    cand_a: int
    cand_b: int
    cand_us: int
    interview_a: int
    interview_b: int
    interview_us: int
    report_a: int
    report_b: int
    report_us: int
    model_v1: int


def _report(store: Store, interview_id: int, content: dict[str, Any]) -> int:
    with store.transaction():
        job = store.jobs.enqueue("analyse", max_open=100, max_attempts=1)
        return store.reports.create(
            interview_id, job.id, content, model_version="Engineer model v1"
        ).id


SCORED = {
    "media": {
        "container": "wav",
        "duration_s": 75.4,
        "streams": [
            {
                "index": 0,
                "kind": "audio",
                "codec": "pcm_s16le",
                "duration_s": 75.4,
                "sample_rate": 16000,
                "channels": 1,
            }
        ],
    },
    "steps_run": ["probe", "transcribe"],
    "steps_skipped": [],
    "scores": {
        "problem_solving": {
            "score": 7,
            "confidence": 0.8,
            "evidence": [{"quote": f"I said {IMG} there", "start": 12.3, "end": 15.0}],
        }
    },
}


@cache
def _password_hash() -> str:
    from appliance.accounts.auth import hash_password

    return hash_password(USER_PASSWORD)  # argon2id is slow on purpose: hash once per run


def make_user(
    store: Store,
    username: str,
    role: str,
    *,
    departments: list[str] | None = None,
    regions: list[str] | None = None,
) -> int:
    """Like conftest.make_user (same password), with the argon2 hash computed once."""
    with store.transaction():
        return store.users.create(
            username,
            username.replace(".", " ").title(),
            role,
            password_hash=_password_hash(),
            departments=departments or [],
            regions=regions or [],
        ).id


@pytest.fixture
def world(web: tuple[Flask, Store]) -> World:
    app, store = web
    eng_eu = {"departments": ["Engineering"], "regions": ["EU"]}
    users = {
        "hr": make_user(store, "hr.eu", "hr_admin", **eng_eu),
        "rec": make_user(store, "rec.eu", "recruiter", **eng_eu),
        "lead": make_user(store, "lead.eu", "business_lead", **eng_eu),
        "int": make_user(store, "int.eu", "interviewer", **eng_eu),
        "int2": make_user(store, "int.other", "interviewer", **eng_eu),
        "tech": make_user(store, "tech.eu", "tech_expert", **eng_eu),
        "tech2": make_user(store, "tech.other", "tech_expert", **eng_eu),
        "audit": make_user(store, "audit.all", "auditor", regions=["EU"]),
        "rec_sales": make_user(
            store, "rec.sales", "recruiter", departments=["Sales"], regions=["EU"]
        ),
    }
    dims = (
        DimensionSpec(
            "problem_solving",
            "Problem solving",
            0.6,
            "Breaks problems down.",
            questions=(
                Question("en", "Tell me about a hard problem."),
                Question("zh", "请讲一个难题。"),
            ),
        ),
        DimensionSpec(
            "ownership", "Ownership", 0.4, "", questions=(Question("en", "A mistake you made?"),)
        ),
    )
    with store.transaction():
        model = store.competency.save(ModelSpec("Engineer model", dims))
        job_a = store.requisitions.create(
            "Backend engineer", "Engineering", "Berlin", "EU", competency_model_id=model.id
        )
        job_b = store.requisitions.create("Account manager", "Sales", "Paris", "EU")
        job_us = store.requisitions.create(
            "SRE", "Engineering", "Chicago", "US-IL", competency_model_id=model.id
        )
    assert model.id is not None
    cand_a = store.candidates.create("Ada Alpha", email="ada@example.invalid")
    cand_b = store.candidates.create("Bea Beta", email="bea@example.invalid")
    cand_us = store.candidates.create("Cy Gamma", email="cy@example.invalid")
    interview_a = store.interviews.create(cand_a.id, job_a.id)
    interview_b = store.interviews.create(cand_b.id, job_b.id)
    interview_us = store.interviews.create(cand_us.id, job_us.id)
    with store.transaction():
        store.interviews.set_status(interview_a.id, "analysed")
    return World(
        app,
        store,
        users,
        job_a.id,
        job_b.id,
        job_us.id,
        cand_a.id,
        cand_b.id,
        cand_us.id,
        interview_a.id,
        interview_b.id,
        interview_us.id,
        _report(store, interview_a.id, SCORED),
        _report(store, interview_b.id, SCORED),
        _report(store, interview_us.id, SCORED),
        model.id,
    )


def client_for(world: World, username: str) -> Any:
    client = world.app.test_client()
    reply = login(client, username)
    assert reply.status_code in (302, 303), reply.get_data(as_text=True)
    return client


def page(client: Any, path: str, status: int = 200) -> str:
    reply = client.get(path)
    assert reply.status_code == status, (path, reply.status_code)
    return str(reply.get_data(as_text=True))


def post(client: Any, path: str, data: dict[str, Any], *, token_from: str | None = None) -> Any:
    """POST a form with a CSRF token taken from a page the user can see."""
    token = csrf_token_from(page(client, token_from or "/account"))
    return client.post(path, data={**data, "csrf_token": token})


def audit_actions(store: Store, action: str) -> list[Any]:
    return store.audit.entries(action=action)


# --- pages per role ----------------------------------------------------------------------------


def test_pages_render_for_the_right_roles(world: World) -> None:
    hr = client_for(world, "hr.eu")
    for path in (
        "/",
        "/jobs",
        f"/jobs/{world.job_a}",
        "/jobs/new",
        f"/jobs/{world.job_a}/edit",
        f"/jobs/{world.job_a}/model",
        "/candidates",
        "/candidates/new",
        f"/candidates/{world.cand_a}",
        f"/reports/{world.report_a}",
    ):
        body = page(hr, path)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
        assert 'style="' not in body and "<style" not in body  # strict CSP: no inline styles
        assert re.search(r"<script(?![^>]*\bsrc=)", body) is None  # and no inline scripts

    rec = client_for(world, "rec.eu")
    page(rec, "/jobs")
    page(rec, "/candidates/new")
    page(rec, "/jobs/new", 403)
    page(rec, f"/jobs/{world.job_a}/model", 403)
    page(rec, "/tech", 403)

    lead = client_for(world, "lead.eu")
    for path in (
        "/",
        "/jobs",
        "/candidates",
        f"/candidates/{world.cand_a}",
        f"/reports/{world.report_a}",
    ):
        page(lead, path)
    page(lead, "/candidates/new", 403)
    page(lead, f"/jobs/{world.job_a}/edit", 403)

    tech = client_for(world, "tech.eu")
    assert "Your account" in page(tech, "/")
    page(tech, "/tech")
    page(tech, "/candidates", 403)
    page(tech, f"/candidates/{world.cand_a}", 403)
    page(tech, f"/reports/{world.report_a}", 403)
    page(tech, "/jobs", 403)

    interviewer = client_for(world, "int.eu")
    page(interviewer, "/")
    page(interviewer, "/jobs", 403)
    assert "Ada Alpha" not in page(interviewer, "/candidates")  # nothing assigned yet
    page(interviewer, f"/candidates/{world.cand_a}", 404)

    auditor = client_for(world, "audit.all")
    # `/` (the brand link) sends a role without a dashboard to its own home, never a 403.
    home = auditor.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/exports"
    page(auditor, "/exports")
    page(auditor, "/candidates", 403)


def _counts(body: str) -> dict[str, int]:
    return {status: int(count) for status, count in re.findall(r'data-count="(\w+)">(\d+)<', body)}


def test_dashboard_counts_latest_and_awaiting_are_scoped(world: World) -> None:
    body = page(client_for(world, "rec.eu"), "/")
    assert "Ada Alpha" in body
    assert "Bea Beta" not in body and "Cy Gamma" not in body  # other department / region
    # Awaiting a decision: one row per interview, linking to the interview's report.
    assert f"/interviews/{world.interview_a}/report" in body
    assert f"/interviews/{world.interview_b}/report" not in body
    assert "/account" in body
    # Counts: one analysed candidate visible to this recruiter, none planned.
    counts = _counts(body)
    assert counts["analysed"] == 1 and counts["planned"] == 0

    hr = client_for(world, "hr.eu")
    # hr_admin has REGION scope: both EU departments, not US-IL.
    counts = _counts(page(hr, "/"))
    assert counts["analysed"] == 1 and counts["planned"] == 1


# --- search ------------------------------------------------------------------------------------


def _names(body: str) -> list[str]:
    return re.findall(r'<tr class="candidate-row">\s*<td[^>]*><a href="[^"]+">([^<]+)</a>', body)


def test_search_filters_and_paging(world: World) -> None:
    store = world.store
    for n in range(27):
        candidate = store.candidates.create(f"Pager {n:02d}", email=f"pager{n}@example.invalid")
        store.interviews.create(candidate.id, world.job_a)
    rec = client_for(world, "rec.eu")

    assert _names(page(rec, "/candidates?q=ada")) == ["Ada Alpha"]
    assert _names(page(rec, "/candidates?q=ada%40example")) == ["Ada Alpha"]  # by e-mail
    assert _names(page(rec, "/candidates?q=bea")) == []  # another department
    assert _names(page(rec, "/candidates?status=analysed")) == ["Ada Alpha"]
    assert "Ada Alpha" not in _names(page(rec, "/candidates?status=planned"))
    assert len(_names(page(rec, f"/candidates?job={world.job_a}&status=planned"))) == 25

    first = page(rec, "/candidates")
    second = page(rec, "/candidates?page=2")
    assert len(_names(first)) == 25 and 'rel="next"' in first
    assert len(_names(second)) == 3 and 'rel="prev"' in second and 'rel="next"' not in second
    assert not set(_names(first)) & set(_names(second))
    # A job filter for a job outside the scope finds nothing rather than leaking.
    assert _names(page(rec, f"/candidates?job={world.job_b}")) == []
    # Junk parameters are ignored, not errors.
    page(rec, "/candidates?job=abc&status=bogus&page=-3")


@pytest.mark.parametrize(
    "attack",
    [
        "' OR 1=1 --",
        "%'; DROP TABLE candidates; --",
        '" OR ""="',
        "') UNION SELECT * FROM users --",
    ],
)
def test_sql_injection_in_search_returns_nothing(world: World, attack: str) -> None:
    hr = client_for(world, "hr.eu")
    reply = hr.get("/candidates", query_string={"q": attack})
    assert reply.status_code == 200
    body = reply.get_data(as_text=True)
    assert _names(body) == [] and 'id="no-candidates"' in body
    assert world.store.candidates.count() == 3  # the table still exists, rows intact
    assert html.escape(attack, quote=True) in body or attack not in body  # echoed escaped


# --- escaping ----------------------------------------------------------------------------------


def test_candidate_name_and_report_quote_render_escaped(world: World) -> None:
    store = world.store
    evil = store.candidates.create(SCRIPT, email="x@example.invalid")
    store.interviews.create(evil.id, world.job_a)
    hr = client_for(world, "hr.eu")
    for path in ("/", "/candidates", f"/candidates?q={SCRIPT}", f"/candidates/{evil.id}"):
        body = page(hr, path)
        assert SCRIPT not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    body = page(hr, f"/reports/{world.report_a}")
    assert IMG not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


# --- scopes ------------------------------------------------------------------------------------


def test_other_department_and_region_are_not_found(world: World) -> None:
    rec = client_for(world, "rec.eu")
    for path in (
        f"/candidates/{world.cand_b}",
        f"/candidates/{world.cand_us}",
        f"/reports/{world.report_b}",
        f"/reports/{world.report_us}",
        f"/jobs/{world.job_b}",
        f"/jobs/{world.job_us}",
        "/candidates/999999",
    ):
        body = page(rec, path, 404)
        assert "Bea Beta" not in body and "Cy Gamma" not in body
    # Writes through guessed ids are refused the same way, and store nothing.
    reply = post(
        rec,
        f"/candidates/{world.cand_b}/decisions",
        {"requisition_id": world.job_b, "kind": "reject", "reason": "guessing"},
    )
    assert reply.status_code == 404
    reply = post(
        rec,
        f"/reports/{world.report_us}/overrides",
        {"dimension": "problem_solving", "score": "2", "reason": "guessing"},
    )
    assert reply.status_code == 404
    assert world.store.decisions.for_candidate(world.cand_b) == []
    assert world.store.overrides.for_report(world.report_us) == []
    # The sales recruiter sees their own department only.
    sales = client_for(world, "rec.sales")
    page(sales, f"/candidates/{world.cand_b}")
    page(sales, f"/candidates/{world.cand_a}", 404)


# --- reports and overrides ---------------------------------------------------------------------


def test_report_shows_media_steps_scores_and_evidence(world: World) -> None:
    body = page(client_for(world, "rec.eu"), f"/reports/{world.report_a}")
    assert "1:15" in body  # duration from the media description
    assert "PCM 16-bit" in body and "16000 Hz" in body and "pcm_s16le" not in body
    assert "checked the recording" in body and "transcribed the speech" in body
    assert "Problem solving" in body and "80 %" in body
    assert "0:12\u20130:15" in body  # evidence timestamps (en dash)
    assert "Engineer model v1" in body
    assert 'id="override-form"' in body


def test_report_without_scores_says_not_scored_yet(world: World) -> None:
    report_id = _report(world.store, world.interview_a, {"media": None, "steps_run": ["probe"]})
    body = page(client_for(world, "hr.eu"), f"/reports/{report_id}")
    assert 'id="not-scored"' in body
    assert "Not scored: the analysis does not include this step." in body
    assert 'id="override-form"' not in body  # nothing to override


def test_business_lead_reads_a_report_but_cannot_override(world: World) -> None:
    lead = client_for(world, "lead.eu")
    body = page(lead, f"/reports/{world.report_a}")
    assert "Problem solving" in body
    assert 'id="override-form"' not in body and "/overrides" not in body
    reply = post(
        lead,
        f"/reports/{world.report_a}/overrides",
        {"dimension": "problem_solving", "score": "10", "reason": "I like them"},
    )
    assert reply.status_code == 403
    assert current_scores(world.store, world.report_a) == {"problem_solving": 7.0}
    assert world.store.overrides.for_report(world.report_a) == []
    # No report route lets a lead change anything: every write needs OVERRIDE_SCORE,
    # which the permission table does not give business leads.
    writes = {
        rule.rule: view_action(world.app.view_functions[rule.endpoint])
        for rule in world.app.url_map.iter_rules()
        if rule.endpoint.startswith("reports.")
        and {"POST", "PUT", "PATCH", "DELETE"} & set(rule.methods or ())
    }
    assert writes == {
        "/reports/<int:report_id>/overrides": Action.OVERRIDE_SCORE,
        "/interviews/<int:interview_id>/overrides": Action.OVERRIDE_SCORE,
    }
    assert Action.OVERRIDE_SCORE not in PERMISSIONS["business_lead"]


def test_override_needs_a_reason_and_is_shown_with_who_and_when(world: World) -> None:
    rec = client_for(world, "rec.eu")
    path = f"/reports/{world.report_a}/overrides"
    reply = post(rec, path, {"dimension": "problem_solving", "score": "5", "reason": "  "})
    assert reply.status_code == 422
    assert world.store.overrides.for_report(world.report_a) == []
    reply = post(rec, path, {"dimension": "problem_solving", "score": "11", "reason": "x"})
    assert reply.status_code == 422
    reply = post(rec, path, {"dimension": "problem_solving", "score": "abc", "reason": "x"})
    assert reply.status_code == 422
    reply = post(
        rec, path, {"dimension": "problem_solving", "score": "5", "reason": "Answer was vague"}
    )
    assert reply.status_code == 303
    assert current_scores(world.store, world.report_a) == {"problem_solving": 5.0}
    body = page(rec, f"/reports/{world.report_a}")
    assert "Answer was vague" in body and "Rec Eu" in body and "7 → 5" in body
    assert audit_actions(world.store, "score.overridden")


# --- decisions and recommendations -------------------------------------------------------------


def test_decision_needs_a_reason_and_is_stored_with_who_and_when(world: World) -> None:
    rec = client_for(world, "rec.eu")
    path = f"/candidates/{world.cand_a}/decisions"
    reply = post(rec, path, {"requisition_id": world.job_a, "kind": "advance", "reason": ""})
    assert reply.status_code == 422
    assert "reason is required" in reply.get_data(as_text=True)
    assert world.store.decisions.for_candidate(world.cand_a) == []
    assert audit_actions(world.store, "decision.advance") == []
    # A recommendation kind cannot go through the decision route.
    reply = post(
        rec, path, {"requisition_id": world.job_a, "kind": "recommend_hire", "reason": "x"}
    )
    assert reply.status_code == 422

    reply = post(
        rec, path, {"requisition_id": world.job_a, "kind": "advance", "reason": "Strong answers"}
    )
    assert reply.status_code == 303
    [decision] = world.store.decisions.for_candidate(world.cand_a)
    assert decision.kind == "advance" and decision.reason == "Strong answers"
    assert decision.decided_by == world.users["rec"] and decision.decided_at
    [entry] = audit_actions(world.store, "decision.advance")
    assert entry.actor == f"user:{world.users['rec']}"
    body = page(rec, f"/candidates/{world.cand_a}")
    assert "Strong answers" in body and "Rec Eu" in body
    # Decided: the report no longer waits on the dashboard.
    assert f"/reports/{world.report_a}" not in page(rec, "/")


def test_business_lead_recommends_but_cannot_decide(world: World) -> None:
    lead = client_for(world, "lead.eu")
    body = page(lead, f"/candidates/{world.cand_a}")
    assert 'id="recommendation-form"' in body and 'id="decision-form"' not in body
    reply = post(
        lead,
        f"/candidates/{world.cand_a}/decisions",
        {"requisition_id": world.job_a, "kind": "hire", "reason": "x"},
    )
    assert reply.status_code == 403
    reply = post(
        lead,
        f"/candidates/{world.cand_a}/recommendations",
        {"requisition_id": world.job_a, "kind": "recommend_hire", "reason": ""},
    )
    assert reply.status_code == 422
    reply = post(
        lead,
        f"/candidates/{world.cand_a}/recommendations",
        {"requisition_id": world.job_a, "kind": "recommend_hire", "reason": "Fits the team"},
    )
    assert reply.status_code == 303
    [decision] = world.store.decisions.for_candidate(world.cand_a)
    assert decision.kind == "recommend_hire" and decision.decided_by == world.users["lead"]


def test_viewing_a_profile_or_report_is_audited(world: World) -> None:
    rec = client_for(world, "rec.eu")
    pseudonym = world.store.candidates.get(world.cand_a).pseudonym
    page(rec, f"/candidates/{world.cand_a}")
    reads = audit_actions(world.store, "candidate.read")
    assert [(e.actor, e.subject, e.details["what"]) for e in reads] == [
        (f"user:{world.users['rec']}", pseudonym, "profile")
    ]
    page(rec, f"/reports/{world.report_a}")
    last = audit_actions(world.store, "candidate.read")[-1]
    assert last.subject == pseudonym and last.details["what"] == f"report:{world.report_a}"
    page(rec, f"/candidates/{world.cand_b}", 404)  # a refused read logs nothing
    assert len(audit_actions(world.store, "candidate.read")) == 2


# --- jobs and the competency-model editor ------------------------------------------------------


def _model_form(rows: list[dict[str, str]], **extra: str) -> dict[str, str]:
    data = {"rows": str(len(rows)), **extra}
    for n, row in enumerate(rows):
        for field, value in row.items():
            data[f"dim-{n}-{field}"] = value
    return data


def test_job_detail_shows_the_model_and_its_version(world: World) -> None:
    body = page(client_for(world, "lead.eu"), f"/jobs/{world.job_a}")
    assert "Engineer model" in body and "version 1" in body
    assert "Problem solving" in body and "60 %" in body
    assert "Tell me about a hard problem." in body and "请讲一个难题。" in body
    assert "/model" not in body  # no editor link for a read-only role


def test_model_editor_saves_version_2_and_the_job_points_to_it(world: World) -> None:
    hr = client_for(world, "hr.eu")
    editor = page(hr, f"/jobs/{world.job_a}/model")
    assert 'value="problem_solving"' in editor and "Tell me about a hard problem." in editor
    rows = [
        {
            "key": "problem_solving",
            "name": "Problem solving",
            "weight": "3",
            "description": "Breaks problems down.",
            "questions-en": "Tell me about a hard problem.\nAnd another one?",
            "questions-zh": "请讲一个难题。",
        },
        {
            "key": "ownership",
            "name": "Ownership",
            "weight": "1",
            "questions-en": "",
            "questions-zh": "请讲一个错误。",
        },
        {"key": "", "name": "", "weight": "", "questions-en": "", "questions-zh": ""},
    ]
    path = f"/jobs/{world.job_a}/model"
    reply = post(hr, path, _model_form(rows), token_from=path)
    assert reply.status_code == 303, reply.get_data(as_text=True)
    job = world.store.requisitions.get(world.job_a)
    assert job.competency_model_id != world.model_v1
    assert job.competency_model_id is not None
    model = world.store.competency.spec(job.competency_model_id)
    assert (model.name, model.version) == ("Engineer model", 2)
    assert [(d.key, d.weight) for d in model.dimensions] == [
        ("problem_solving", 0.75),
        ("ownership", 0.25),
    ]
    assert [q.language for q in model.dimensions[1].questions] == ["zh"]
    # Version 1 is unchanged and still used by the other job.
    assert world.store.competency.spec(world.model_v1).version == 1
    assert world.store.requisitions.get(world.job_us).competency_model_id == world.model_v1
    assert "version 2" in page(hr, f"/jobs/{world.job_a}")
    assert audit_actions(world.store, "competency_model.saved")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "at least one dimension"),
        ([{"key": "a", "name": "A", "weight": "-1", "questions-en": "Q?"}], "above 0"),
        ([{"key": "a", "name": "A", "weight": "zero", "questions-en": "Q?"}], "above 0"),
        ([{"key": "a", "name": "A", "weight": "1"}], "at least one question"),
        ([{"key": "Bad Key", "name": "A", "weight": "1", "questions-en": "Q?"}], "key"),
        (
            [
                {"key": "a", "name": "A", "weight": "1", "questions-en": "Q?"},
                {"key": "a", "name": "B", "weight": "1", "questions-zh": "问?"},
            ],
            "used twice",
        ),
        ([{"key": "a", "name": "", "weight": "1", "questions-en": "Q?"}], "name is required"),
    ],
)
def test_model_editor_validates(world: World, rows: list[dict[str, str]], message: str) -> None:
    hr = client_for(world, "hr.eu")
    path = f"/jobs/{world.job_a}/model"
    reply = post(hr, path, _model_form(rows), token_from=path)
    assert reply.status_code == 422
    assert message in html.unescape(reply.get_data(as_text=True))
    assert world.store.requisitions.get(world.job_a).competency_model_id == world.model_v1
    assert world.store.competency.latest("Engineer model").version == 1  # type: ignore[union-attr]


def test_model_editor_and_job_forms_respect_scope(world: World) -> None:
    hr = client_for(world, "hr.eu")
    page(hr, f"/jobs/{world.job_us}/model", 404)  # US-IL: outside the hr admin's regions
    reply = post(
        hr,
        f"/jobs/{world.job_us}/model",
        _model_form([{"key": "a", "name": "A", "weight": "1", "questions-en": "Q?"}]),
    )
    assert reply.status_code == 404
    # A new job in a region outside the admin's scope is refused.
    reply = post(
        hr,
        "/jobs/new",
        {
            "title": "X",
            "department": "Engineering",
            "location": "NYC",
            "region": "US-IL",
            "status": "open",
        },
        token_from="/jobs/new",
    )
    assert reply.status_code == 422
    reply = post(
        hr,
        "/jobs/new",
        {
            "title": "Data engineer",
            "department": "Engineering",
            "location": "Munich",
            "region": "EU",
            "status": "open",
            "competency_model_id": str(world.model_v1),
        },
        token_from="/jobs/new",
    )
    assert reply.status_code == 303
    created = [j for j in world.store.requisitions.all() if j.title == "Data engineer"]
    assert len(created) == 1 and created[0].competency_model_id == world.model_v1
    reply = post(
        hr,
        f"/jobs/{created[0].id}/edit",
        {
            "title": "Data engineer II",
            "department": "Engineering",
            "location": "Munich",
            "region": "EU",
            "status": "closed",
        },
    )
    assert reply.status_code == 303
    assert world.store.requisitions.get(created[0].id).status == "closed"


# --- creating candidates -----------------------------------------------------------------------


def test_new_candidate_gets_a_first_interview(world: World) -> None:
    rec = client_for(world, "rec.eu")
    form = {
        "full_name": "Dee Delta",
        "email": "dee@example.invalid",
        "phone": "+49 30 1234",
        "residence_region": "EU",
        "language": "zh",
        "requisition_id": str(world.job_a),
    }
    reply = post(rec, "/candidates/new", form, token_from="/candidates/new")
    assert reply.status_code == 303
    [dee] = world.store.candidates.search("Dee Delta")
    [interview] = world.store.interviews.for_candidate(dee.id)
    assert interview.requisition_id == world.job_a and interview.language == "zh"
    assert dee.phone == "+49 30 1234" and dee.residence_region == "EU"
    assert audit_actions(world.store, "candidate.created")[-1].subject == dee.pseudonym
    # A job of another department cannot be chosen by guessing its id.
    reply = post(
        rec, "/candidates/new", {**form, "full_name": "Eve", "requisition_id": str(world.job_b)}
    )
    assert reply.status_code == 422
    reply = post(rec, "/candidates/new", {**form, "full_name": "", "email": "nope"})
    assert reply.status_code == 422
    assert world.store.candidates.search("Eve") == []


# --- assignments, evaluations and technical rounds ---------------------------------------------


def test_tech_expert_sees_only_their_round_and_hr_sees_the_evaluation(world: World) -> None:
    hr = client_for(world, "hr.eu")
    base = f"/candidates/{world.cand_a}/interviews/{world.interview_a}/assignments"
    reply = post(hr, base, {"duty": "tech_expert", "user_id": world.users["tech"]})
    assert reply.status_code == 303
    # An interviewer cannot be given a technical round, nor a stranger to the job.
    reply = post(hr, base, {"duty": "tech_expert", "user_id": world.users["int"]})
    assert reply.status_code == 422
    assert world.store.interviews.assignees(world.interview_a) == [
        (world.users["tech"], "tech_expert")
    ]

    tech = client_for(world, "tech.eu")
    listing = page(tech, "/tech")
    assert "Ada Alpha" in listing and "Backend engineer" in listing
    assert "Bea Beta" not in listing
    round_page = page(tech, f"/tech/interviews/{world.interview_a}")
    assert "Tell me about a hard problem." in round_page
    assert "ada@example.invalid" not in round_page  # nothing else of the candidate
    assert f"/reports/{world.report_a}" not in round_page
    for other in (world.interview_b, world.interview_us, 999999):
        page(tech, f"/tech/interviews/{other}", 404)
    other_tech = client_for(world, "tech.other")
    page(other_tech, f"/tech/interviews/{world.interview_a}", 404)
    reply = post(
        other_tech,
        f"/tech/interviews/{world.interview_a}/evaluations",
        {"rating": "3", "summary": "not mine"},
    )
    assert reply.status_code == 404

    path = f"/tech/interviews/{world.interview_a}/evaluations"
    assert post(tech, path, {"rating": "8", "summary": ""}).status_code == 422
    assert post(tech, path, {"rating": "0", "summary": "x"}).status_code == 422
    reply = post(tech, path, {"rating": "8", "summary": "Solid system design"})
    assert reply.status_code == 303
    assert "Solid system design" in page(tech, f"/tech/interviews/{world.interview_a}")

    profile = page(hr, f"/candidates/{world.cand_a}")
    assert "Solid system design" in profile and "Technical evaluation" in profile
    assert "Tech Eu" in profile


def test_assigned_interviewer_evaluates_only_their_interview(world: World) -> None:
    hr = client_for(world, "hr.eu")
    reply = post(
        hr,
        f"/candidates/{world.cand_a}/interviews/{world.interview_a}/assignments",
        {"duty": "interviewer", "user_id": world.users["int"]},
    )
    assert reply.status_code == 303
    interviewer = client_for(world, "int.eu")
    assert "Ada Alpha" in page(interviewer, "/")  # assigned interviews on the dashboard
    assert _names(page(interviewer, "/candidates")) == ["Ada Alpha"]
    profile = page(interviewer, f"/candidates/{world.cand_a}")
    assert "Your evaluation" in profile
    reply = post(
        interviewer,
        f"/candidates/{world.cand_a}/interviews/{world.interview_a}/evaluations",
        {"rating": "6", "summary": "Good communicator"},
    )
    assert reply.status_code == 303
    [evaluation] = world.store.evaluations.for_interview(world.interview_a)
    assert evaluation.author_id == world.users["int"] and evaluation.kind == "interview"
    # Another interviewer, or the wrong candidate in the URL: not found.
    other = client_for(world, "int.other")
    reply = post(
        other,
        f"/candidates/{world.cand_a}/interviews/{world.interview_a}/evaluations",
        {"rating": "6", "summary": "x"},
    )
    assert reply.status_code == 404
    reply = post(
        interviewer,
        f"/candidates/{world.cand_b}/interviews/{world.interview_a}/evaluations",
        {"rating": "6", "summary": "x"},
    )
    assert reply.status_code == 404
    timeline = page(hr, f"/candidates/{world.cand_a}")
    assert "Interviewer evaluation" in timeline and "Good communicator" in timeline


def test_profile_lists_recordings_reports_and_the_upload_link(world: World) -> None:
    store = world.store
    with store.transaction():
        recording = store.recordings.create(
            world.interview_a,
            world.cand_a,
            "spool-test",
            "answer-1.wav",
            "audio/wav",
            3 * 1024 * 1024,
            "0" * 64,
            b"wrapped",
        )
        store.recordings.set_media_info(recording.id, {"duration_s": 65.0, "streams": []})
    body = page(client_for(world, "rec.eu"), f"/candidates/{world.cand_a}")
    assert "answer-1.wav" in body and "3.0 MiB" in body and "1:05" in body
    assert f"/reports/{world.report_a}" in body
    assert "Candidate added" in body and "AI report drafted" in body  # the timeline
    has_uploads = "uploads.upload_page" in world.app.view_functions
    assert (f"/interviews/{world.interview_a}/upload" in body) is has_uploads
    # A business lead may not upload: no link.
    lead_body = page(client_for(world, "lead.eu"), f"/candidates/{world.cand_a}")
    assert f"/interviews/{world.interview_a}/upload" not in lead_body


def test_plan_another_round(world: World) -> None:
    hr = client_for(world, "hr.eu")
    reply = post(
        hr,
        f"/candidates/{world.cand_a}/interviews",
        {"requisition_id": world.job_a, "kind": "live", "language": "en"},
    )
    assert reply.status_code == 303
    rounds = [i.round for i in world.store.interviews.for_candidate(world.cand_a)]
    assert rounds == [1, 2]
    reply = post(
        hr,
        f"/candidates/{world.cand_a}/interviews",
        {"requisition_id": world.job_us, "kind": "live", "language": "en"},
    )
    assert reply.status_code == 404


# --- route hygiene -----------------------------------------------------------------------------


ONE_INTERVIEW = "/candidates/<int:candidate_id>/interviews/<int:interview_id>"
EXPECTED_POST_ACTIONS = {
    "/jobs/new": Action.EDIT_REQUISITIONS,
    "/jobs/<int:requisition_id>/edit": Action.EDIT_REQUISITIONS,
    "/jobs/<int:requisition_id>/model": Action.EDIT_REQUISITIONS,
    "/candidates/new": Action.EDIT_CANDIDATES,
    "/candidates/<int:candidate_id>/decisions": Action.RECORD_DECISION,
    "/candidates/<int:candidate_id>/recommendations": Action.RECORD_RECOMMENDATION,
    "/candidates/<int:candidate_id>/interviews": Action.EDIT_CANDIDATES,
    "/candidates/<int:candidate_id>/self-identification": Action.EDIT_CANDIDATES,
    f"{ONE_INTERVIEW}/assignments": Action.EDIT_CANDIDATES,
    f"{ONE_INTERVIEW}/evaluations": Action.ADD_EVALUATION,
    "/tech/interviews/<int:interview_id>/evaluations": Action.ADD_TECH_EVALUATION,
    "/reports/<int:report_id>/overrides": Action.OVERRIDE_SCORE,
    "/interviews/<int:interview_id>/overrides": Action.OVERRIDE_SCORE,
}


def test_each_post_route_names_its_own_action(world: World) -> None:
    found = {
        rule.rule: view_action(world.app.view_functions[rule.endpoint])
        for rule in world.app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
        and rule.endpoint.split(".")[0] in {"requisitions", "candidates", "reports", "dashboard"}
    }
    assert found == EXPECTED_POST_ACTIONS


def test_posts_without_csrf_token_are_refused(world: World) -> None:
    rec = client_for(world, "rec.eu")
    reply = rec.post(
        f"/candidates/{world.cand_a}/decisions",
        data={"requisition_id": world.job_a, "kind": "advance", "reason": "no token"},
    )
    assert reply.status_code == 400
    assert world.store.decisions.for_candidate(world.cand_a) == []
