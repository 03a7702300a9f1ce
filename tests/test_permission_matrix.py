"""Every route for every role, generated from the live route table and the permission table.

For each rule in `app.url_map` (web pages and API alike; new pages join automatically) and
each role of `appliance.security.permissions.PERMISSIONS`, the route is requested with its own
methods
by an account of that role whose scope covers everything (departments and regions "*"), over
fixture records that all have id 1. The guard must answer as the table says:

* a public view is never refused (no 401, no 403, no redirect to the login page);
* a role without the view's action gets 403;
* a role with it is let through: no 401/403, no CSRF failure, no crash. What the view then
  answers to an empty form or body (2xx, 3xx, 404, 405, 409, 422, ...) is its own business.

API routes are called with a bearer token; web routes with a logged-in session and the
session's CSRF token in `X-CSRFToken`. A request whose session or token a previous request
ended (log out, token revoked) is repeated once after logging in again.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from appliance.accounts.auth import issue_api_token, principal_of
from appliance.media.recordings import ingest_recording
from appliance.media.uploads import start_upload
from appliance.security.permissions import PERMISSIONS, Action, allowed
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from webui.security import is_public, view_action

from .conftest import USER_PASSWORD, Appliance, csrf_token_from, login, make_user, write_wav

API_PREFIX = "/api/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass
class Fixture:
    """The records every route's ids point at."""

    upload_id: str


@dataclass
class Caller:
    """One account of a role, with a browser session and an API token."""

    app: Flask
    store: Store
    role: str
    username: str
    user_id: int
    token: str = ""
    csrf: str | None = None

    def __post_init__(self) -> None:
        self.api = self.app.test_client()
        self.web = self.app.test_client()
        self.renew_token()
        self.log_in()

    def renew_token(self) -> None:
        self.token = issue_api_token(self.store, 1, self.user_id, f"matrix {self.role}").secret

    def log_in(self) -> None:
        response = login(self.web, self.username)
        assert response.status_code == 302, f"{self.role} cannot log in"
        self.csrf = None

    def csrf_token(self) -> str:
        if self.csrf is None:
            with self.web.session_transaction() as session:
                logged_in = "uid" in session
            if not logged_in:
                self.log_in()
            # Any page carries the token, also the 403 page of a role without /account.
            self.csrf = csrf_token_from(self.web.get("/account").get_data(as_text=True))
        return self.csrf

    def reauthenticate(self) -> None:
        self.renew_token()
        self.log_in()


def _url(rule: Rule, fixture: Fixture) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif "upload" in name:
            values[name] = fixture.upload_id
        else:
            values[name] = "1"
    return rule.build(values, append_unknown=False)[1]  # type: ignore[index]


def _request(caller: Caller, rule: Rule, method: str, url: str, public: bool) -> Any:
    if rule.rule.startswith(API_PREFIX):
        headers = {"Authorization": f"Bearer {caller.token}"}
        body = {} if method not in SAFE_METHODS else None
        return caller.api.open(url, method=method, headers=headers, json=body)
    if method in SAFE_METHODS:
        return caller.web.open(url, method=method)
    headers = {"X-CSRFToken": caller.csrf_token()}
    # A public form (the login page) gets the role's own credentials; others an empty form.
    form = {"username": caller.username, "password": USER_PASSWORD} if public else {}
    response = caller.web.open(url, method=method, headers=headers, data=form)
    caller.csrf = None  # the request may have renewed or ended the session
    return response


def _unauthenticated(response: Any) -> bool:
    location = response.headers.get("Location", "")
    to_login = response.status_code in REDIRECTS and "/login" in location and "next=" in location
    return bool(response.status_code == 401 or to_login)


def _csrf_failure(response: Any) -> bool:
    return bool(response.status_code == 400 and b"csrf_failed" in response.get_data())


def _build_fixture(appliance: Appliance, store: Store, tmp_path: Path) -> Fixture:
    """Requisition, candidate, interview, recording, job, report and model, each with id 1."""
    with store.transaction():
        model = store.competency.save(
            ModelSpec(
                "Matrix model",
                (
                    DimensionSpec(
                        "ownership", "Ownership", 1.0, questions=(Question("en", "Tell me."),)
                    ),
                ),
            )
        )
        requisition = store.requisitions.create(
            "Engineer", "Engineering", "Berlin", "EU", competency_model_id=model.id
        )
    candidate = store.candidates.create("Matrix Candidate", email="matrix@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id)
    wav = write_wav(tmp_path / "matrix.wav", 1.0).read_bytes()
    ingested = ingest_recording(
        store,
        appliance.spool(),
        appliance.config,
        interview_id=interview.id,
        source=io.BytesIO(wav),
        filename="matrix.wav",
        content_type="audio/wav",
        actor="test",
    )
    with store.transaction():
        report = store.reports.create(
            interview.id,
            ingested.job.id,
            {"scores": {"ownership": {"score": 6, "confidence": 0.8, "evidence": []}}},
            recording_id=ingested.recording.id,
        )
    upload = start_upload(
        store,
        appliance.spool(),
        appliance.config,
        interview_id=interview.id,
        filename="matrix.wav",
        content_type="audio/wav",
        total_bytes=len(wav),
        user_id=None,
    )
    ids = {
        "competency model": model.id,
        "requisition": requisition.id,
        "candidate": candidate.id,
        "interview": interview.id,
        "recording": ingested.recording.id,
        "job": ingested.job.id,
        "report": report.id,
    }
    assert set(ids.values()) == {1}, ids
    return Fixture(upload.id)


@pytest.mark.slow
def test_every_route_answers_every_role_as_the_permission_table_says(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path, capsys
) -> None:
    app, store = web
    started = time.monotonic()
    fixture = _build_fixture(appliance, store, tmp_path)
    callers: list[Caller] = []
    for role in PERMISSIONS:
        username = f"matrix-{role}"
        user_id = make_user(store, username, role, departments=["*"], regions=["*"])
        callers.append(Caller(app, store, role, username, user_id))
    for caller in callers:
        if caller.role in ("interviewer", "tech_expert"):
            with store.transaction():
                store.interviews.assign(1, caller.user_id, caller.role)

    rules = sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"),
        key=lambda rule: (rule.rule, sorted(rule.methods or ())),
    )
    unguarded = [
        rule.rule
        for rule in rules
        if not is_public(app.view_functions[rule.endpoint])
        and view_action(app.view_functions[rule.endpoint]) is None
    ]
    assert unguarded == [], f"routes with neither @requires nor @public: {unguarded}"

    failures: list[str] = []
    statuses: Counter[int] = Counter()
    checked = 0
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        public = is_public(view)
        action: Action | None = view_action(view)
        url = _url(rule, fixture)
        for method in sorted(set(rule.methods or ()) - SKIPPED_METHODS):
            for caller in callers:
                checked += 1
                where = f"{caller.role:13} {method:6} {rule.rule}"
                try:
                    response = _request(caller, rule, method, url, public)
                    if _unauthenticated(response):
                        caller.reauthenticate()  # an earlier request ended the session/token
                        response = _request(caller, rule, method, url, public)
                except Exception as exc:  # a crash is a failure of that cell, not of the run
                    failures.append(f"{where}: raised {type(exc).__name__}: {exc}")
                    caller.reauthenticate()
                    continue
                status = response.status_code
                statuses[status] += 1
                if _csrf_failure(response):
                    failures.append(f"{where}: CSRF check failed (the test's fault)")
                elif public:
                    if status in (401, 403) or _unauthenticated(response):
                        failures.append(f"{where}: public view refused with {status}")
                elif (
                    action is None
                    or allowed(principal_of(store.users.get(caller.user_id)), action) is None
                ):
                    if status != 403:
                        failures.append(f"{where}: {action} is denied, got {status} not 403")
                elif status in (401, 403) or _unauthenticated(response):
                    failures.append(f"{where}: {action} is allowed, got {status}")
                elif status >= 500 and status != 503:
                    failures.append(f"{where}: {action} is allowed, the view failed ({status})")

    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nroutes × roles checked: {checked} "  # noqa: RUF001
            f"({len(rules)} rules, {len(callers)} roles, {elapsed:.1f} s; "
            f"statuses {dict(sorted(statuses.items()))})"
        )
    assert checked >= len(rules) * len(PERMISSIONS)
    assert failures == [], "\n".join(failures)
