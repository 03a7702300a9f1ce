"""Hiring analytics and outcomes after hire through the web UI and the API (issue 17, items 2
and 3): the page's figures and its CSV agree with the core, the outcome form and the import
(check, then import as checked) work end to end, and every role gets only what it may."""

from __future__ import annotations

import csv
import io
import random
import re

from flask import Flask

from appliance.accounts.auth import issue_api_token, principal_of
from appliance.analytics.hiring import hiring_analytics
from appliance.store import Store
from tests.support.hiring_world import Applicant, build

from .conftest import csrf_token_from, login, make_user

Web = tuple[Flask, Store]


def _history() -> list[Applicant]:
    rng = random.Random(3)
    people = []
    for index in range(40):
        tech = float(rng.randint(3, 10))
        hired = tech >= 7
        people.append(
            Applicant(
                (tech, float(rng.randint(1, 10))),
                "hire" if hired else ("reject" if index % 3 else None),
                start_date="2025-01-10" if hired else None,
                probation="passed" if hired else "pending",
                ratings=(("2025-12-01", min(5.0, tech / 2)),) if hired else (),
            )
        )
    return people


def _client(app: Flask, store: Store, role: str, **kwargs: list[str]):  # type: ignore[no-untyped-def]
    make_user(
        store,
        f"web.{role}",
        role,
        departments=kwargs.get("departments", ["*"]),
        regions=kwargs.get("regions", ["*"]),
    )
    client = app.test_client()
    assert login(client, f"web.{role}").status_code == 302
    return client


def test_the_analytics_page_and_its_csv(web: Web) -> None:
    app, store = web
    admin_id = make_user(store, "builder", "hr_admin", departments=["*"], regions=["*"])
    admin = principal_of(store.users.get(admin_id))
    build(store, admin, _history())
    client = _client(app, store, "hr_admin")
    page = client.get("/analytics")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    found = hiring_analytics(store, admin)
    assert f"{found.people} people interviewed" in body
    assert body.count("<svg") >= 7 and "<script" not in body.split("<main", 1)[-1]
    assert "not enough data" in body  # some bands are below 10 people
    assert "None" not in re.sub(r"<[^>]+>", " ", body)
    # The table of hire rates as CSV: the same figures as the core computed.
    reply = client.get("/analytics.csv?table=hire_rate")
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(reply.get_data(as_text=True))))
    assert rows[0] == ["score_band", "people", "rate", "low_95", "high_95"]
    for row, band in zip(rows[1:], found.hire_rate, strict=True):
        assert int(row[1]) == band.n
        if band.estimate is None:
            assert row[2] == ""
        else:
            assert float(row[2]) == round(band.estimate.value, 4)
    validity = list(
        csv.reader(io.StringIO(client.get("/analytics.csv?table=validity").get_data(as_text=True)))
    )
    assert validity[0][:3] == ["competency", "outcome", "people"]
    assert client.get("/analytics.csv?table=secrets").status_code == 422
    assert client.get("/analytics?start=yesterday").status_code == 200  # said, not a crash
    # A period without anyone.
    empty = client.get("/analytics?start=2001-01-01&end=2001-12-31").get_data(as_text=True)
    assert "0 people interviewed" in empty and "No interviews in this period." in empty


def test_roles_reach_what_they_may(web: Web) -> None:
    app, store = web
    lead = _client(app, store, "business_lead", departments=["Engineering"], regions=["US-NYC"])
    assert lead.get("/analytics").status_code == 200
    assert lead.get("/outcomes").status_code == 403
    assert lead.get("/outcomes/import").status_code == 403
    for role in ("interviewer", "tech_expert", "auditor"):
        other = _client(app, store, role)
        assert other.get("/analytics").status_code == 403, role
        assert other.get("/analytics.csv?table=jobs").status_code == 403, role


def test_outcome_form_and_ratings(web: Web) -> None:
    app, store = web
    admin_id = make_user(store, "builder", "hr_admin", departments=["*"], regions=["*"])
    admin = principal_of(store.users.get(admin_id))
    world = build(store, admin, [Applicant((8.0, 7.0), "hire"), Applicant((3.0, 3.0), "reject")])
    (hired, _), (rejected, _) = world.candidates
    client = _client(app, store, "hr_admin")
    listing = client.get("/outcomes").get_data(as_text=True)
    assert "Applicant 0" in listing and "Applicant 1" not in listing
    assert "Nothing recorded yet." in listing
    url = f"/outcomes/{hired}/{world.requisition_id}"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    bad = client.post(
        url,
        data={
            "csrf_token": token,
            "employee_id": "E 1",
            "start_date": "2026-02-30",
            "probation": "passed",
            "left_on": "",
        },
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "write the date as YYYY-MM-DD" in text
    assert store.outcomes.for_candidate(hired) == []
    good = client.post(
        url,
        data={
            "csrf_token": token,
            "employee_id": "E-1",
            "start_date": "2026-02-02",
            "probation": "passed",
            "left_on": "",
        },
    )
    assert good.status_code == 302
    rated = client.post(
        url + "/ratings", data={"csrf_token": token, "rated_on": "2026-06-30", "rating": "4"}
    )
    assert rated.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'value="E-1"' in page and "2026-06-30" in page
    outcome = store.outcomes.by_employee("E-1")
    assert outcome is not None and [r.rating for r in outcome.ratings] == [4.0]
    assert client.get(f"/outcomes/{rejected}/{world.requisition_id}").status_code == 404
    removed = client.post(
        url + "/ratings/remove", data={"csrf_token": token, "rated_on": "2026-06-30"}
    )
    assert removed.status_code == 302
    outcome = store.outcomes.by_employee("E-1")
    assert outcome is not None and outcome.ratings == ()


def test_import_page_checks_then_imports_as_checked(web: Web) -> None:
    app, store = web
    admin_id = make_user(store, "builder", "hr_admin", departments=["*"], regions=["*"])
    admin = principal_of(store.users.get(admin_id))
    world = build(store, admin, [Applicant((8.0, 7.0), "hire")])
    reference = world.candidates[0][1]
    client = _client(app, store, "hr_admin")
    token = csrf_token_from(client.get("/outcomes/import").get_data(as_text=True))
    data = (
        "employee_id,candidate,start_date,rating_date,rating\n"
        f"E-9,{reference},2025-03-01,2025-09-01,3\n"
    )
    checked = client.post(
        "/outcomes/import",
        data={"csrf_token": token, "file": (io.BytesIO(data.encode()), "hr.csv")},
        content_type="multipart/form-data",
    )
    body = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "The file is ready to import" in body
    assert store.outcomes.by_employee("E-9") is None
    staged = re.search(r'name="staged" value="([^"]+)"', body)
    digest = re.search(r'name="sha256" value="([^"]+)"', body)
    assert staged and digest
    # A tampered staged file is refused.
    refused = client.post(
        "/outcomes/import",
        data={
            "csrf_token": token,
            "staged": staged.group(1)[:-4] + "AAAA",
            "sha256": digest.group(1),
            "name": "hr.csv",
            "apply": "1",
        },
    )
    assert refused.status_code == 422 and store.outcomes.by_employee("E-9") is None
    done = client.post(
        "/outcomes/import",
        data={
            "csrf_token": token,
            "staged": staged.group(1),
            "sha256": digest.group(1),
            "name": "hr.csv",
            "apply": "1",
        },
    )
    assert done.status_code == 200 and "Imported" in done.get_data(as_text=True)
    outcome = store.outcomes.by_employee("E-9")
    assert outcome is not None and outcome.start_date == "2025-03-01"
    bad = client.post(
        "/outcomes/import",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(b"employee_id,start_date\nE-9,tomorrow\n"), "x.csv"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "is not a date (YYYY-MM-DD)" in bad.get_data(as_text=True)


def test_outcomes_and_analytics_through_the_api(web: Web) -> None:
    app, store = web
    admin_id = make_user(store, "api.admin", "hr_admin", departments=["*"], regions=["*"])
    admin = principal_of(store.users.get(admin_id))
    world = build(store, admin, _history())
    hired = next(
        c for c, a in zip(world.candidates, _history(), strict=True) if a.decision == "hire"
    )
    token = issue_api_token(store, admin_id, admin_id, "hr system").secret
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    base = f"/api/v1/hires/{hired[0]}/{world.requisition_id}"
    put = client.put(
        base + "/outcome",
        json={"employee_id": "API-1", "start_date": "2025-01-10", "probation": "passed"},
        headers=headers,
    )
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["employee_id"] == "API-1"
    wrong = client.put(
        base + "/outcome", json={"employee_id": "API-1", "left_on": "2025-05-01"}, headers=headers
    )
    assert wrong.status_code == 422
    rated = client.post(
        base + "/ratings", json={"rated_on": "2025-11-30", "rating": 4.5}, headers=headers
    )
    assert (
        rated.status_code == 201
        and {"rated_on": "2025-11-30", "rating": 4.5} in rated.get_json()["ratings"]
    )
    dry = client.post(
        "/api/v1/outcomes/import?dry_run=true",
        data=b"employee_id,probation\nAPI-1,extended\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert (
        dry.status_code == 200 and dry.get_json()["updated"] == 1 and not dry.get_json()["applied"]
    )
    problems = client.post(
        "/api/v1/outcomes/import",
        data=b"employee_id,probation\nAPI-1,sometimes\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert problems.status_code == 422
    assert problems.get_json()["problems"][0]["line"] == 2
    assert (
        client.post(
            "/api/v1/outcomes/import",
            data=b"x",
            headers={**headers, "Content-Type": "application/pdf"},
        ).status_code
        == 415
    )
    figures = client.get("/api/v1/analytics", headers=headers)
    assert figures.status_code == 200
    payload = figures.get_json()
    assert payload["people"] == 40 and payload["min_n"] == 10
    assert client.get("/api/v1/analytics?start=someday", headers=headers).status_code == 422


def test_the_editor_offers_questions_that_predict_nothing(web: Web) -> None:
    from tests.support.hiring_world import QUESTIONS

    app, store = web
    admin_id = make_user(store, "builder", "hr_admin", departments=["*"], regions=["*"])
    admin = principal_of(store.users.get(admin_id))
    people = [
        Applicant(
            (float(2 + i % 9), float(1 + (i * 7 // 9) % 10)),
            "hire",
            start_date="2025-01-01",
            ratings=(("2025-12-01", round(1 + (2 + i % 9) * 0.4, 1)),),
        )
        for i in range(120)
    ]
    world = build(store, admin, people)
    spec_id = store.requisitions.get(world.requisition_id).competency_model_id
    client = _client(app, store, "hr_admin")
    analytics = client.get("/analytics").get_data(as_text=True)
    assert 'id="questions"' in analytics and "predicts nothing" in analytics
    rows = list(
        csv.reader(io.StringIO(client.get("/analytics.csv?table=questions").get_data(as_text=True)))
    )
    flagged = {r[0] for r in rows[1:] if r[-1] == "yes"}
    assert flagged == {QUESTIONS[1]}
    editor = client.get(f"/jobs/{world.requisition_id}/model").get_data(as_text=True)
    assert 'id="question-advice"' in editor and QUESTIONS[1] in editor
    link = re.search(r'href="(/jobs/\d+/model\?drop=[0-9a-f]+)"', editor)
    assert link is not None
    dropped = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Taken out of the draft" in dropped
    assert f">{QUESTIONS[1]}" not in dropped.split('id="question-advice"')[-1]
    # Nothing changed until a person saves.
    assert store.requisitions.get(world.requisition_id).competency_model_id == spec_id
