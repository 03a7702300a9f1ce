"""Voluntary self-identification (sex, race/ethnicity) for bias audits, through the real app.

The candidate's room asks after the consents and before the questions where the region policy
allows it; HR records a paper form; the bias audit counts what was declared; an erasure removes
it. Tests are named after the rules they check: the policy's `<REGION>.self_id` rows
(appliance/compliance/policy.py) and the rules of shared/compliance/REGIONS.md (NY-2, ALL-1).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from appliance.accounts.auth import issue_api_token
from appliance.compliance.policy import Fact, PolicyAction, may
from appliance.store import Store
from appliance.store.compliance import compliance_of
from tests.conftest import REPO, csrf_token_from, login, make_user
from tests.support.room_fixtures import RoomSetup, room_setup

Web = tuple[Flask, Store]
DECLARED = "candidate.demographics_set"
SELF_ID = PolicyAction.COLLECT_SELF_ID


def _declared(store: Store, candidate_id: int) -> tuple[str | None, str | None] | None:
    """The stored declaration (None: no row at all)."""
    row = store.conn.execute(
        "SELECT 1 FROM candidate_demographics WHERE candidate_id = ?", (candidate_id,)
    ).fetchone()
    return None if row is None else compliance_of(store).demographics.get(candidate_id)


def _through_consent(client: Any, setup: RoomSetup, *, ai: str = "accept") -> Any:
    """Open the room from its link and answer the consent page; returns the answer."""
    page = client.get(f"/room/{setup.token}").get_data(as_text=True)
    return client.post(
        f"/room/{setup.token}/consent", data={"ai": ai, "csrf_token": csrf_token_from(page)}
    )


def _self_id_page(client: Any, setup: RoomSetup) -> str:
    page = client.get(f"/room/{setup.token}/self-identification")
    assert page.status_code == 200
    return str(page.get_data(as_text=True))


def _declare(client: Any, setup: RoomSetup, **answers: str) -> Any:
    csrf = csrf_token_from(_self_id_page(client, setup))
    return client.post(
        f"/room/{setup.token}/self-identification", data={"csrf_token": csrf, **answers}
    )


def _staff(app: Flask, store: Store, username: str, role: str, **scope: list[str]) -> Any:
    make_user(
        store,
        username,
        role,
        departments=scope.get("departments", ["*"]),
        regions=scope.get("regions", ["*"]),
    )
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


# --- the policy ------------------------------------------------------------------------------


def test_self_id_policy_asks_consent_in_EU_CN_and_default_never_collects_in_MD() -> None:
    without = {Fact.CONSENT_SELF_ID.value: False}
    consented = {Fact.CONSENT_SELF_ID.value: True}
    for region in ("US-NYC", "US-IL"):
        decision = may(None, SELF_ID, regions=[region], context=without)
        assert decision.allowed and decision.requirements == ["audit_only"], region
    for region in ("EU", "CN", "default"):
        refused = may(None, SELF_ID, regions=[region], context=without)
        assert not refused.allowed and refused.requirements == [Fact.CONSENT_SELF_ID.value]
        assert may(None, SELF_ID, regions=[region], context=consented).allowed
    maryland = may(None, SELF_ID, regions=["US-MD"], context=consented)
    assert not maryland.allowed and maryland.rules == ("MD.self_id",)
    # The stricter rule wins across the candidate's regions.
    assert not may(None, SELF_ID, regions=["US-NYC", "US-MD"], context=consented).allowed
    both = may(None, SELF_ID, regions=["US-NYC", "EU"], context=without)
    assert not both.allowed and both.requirements == [Fact.CONSENT_SELF_ID.value]


# --- the candidate's room --------------------------------------------------------------------


@pytest.mark.parametrize("region", ["US-NYC", "US-IL"])
def test_NYC_and_IL_self_id_is_asked_after_consent_and_before_the_questions(
    web: Web, region: str
) -> None:
    app, store = web
    setup = room_setup(store, region=region)
    client = app.test_client()
    # Before the consents, the step is not open: it leads back to them.
    assert client.get(f"/room/{setup.token}").status_code == 200
    early = client.get(f"/room/{setup.token}/self-identification")
    assert early.status_code == 302 and early.headers["Location"].endswith(f"/room/{setup.token}")
    answer = _through_consent(client, setup)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/room/{setup.token}/self-identification")
    page = _self_id_page(client, setup)
    assert "Why we ask" in page and "Answering is voluntary" in page
    assert "never see what you choose here" in page and "bias audits" in page
    assert 'value="Native American or Alaska Native"' in page and "Prefer not to say" in page
    assert 'name="consent"' not in page  # no consent box where the policy needs none
    # "Prefer not to say" is the choice already made; no category is pre-selected.
    assert re.findall(r'value="([^"]+)" checked', page) == ["prefer_not_to_say"] * 2
    saved = _declare(client, setup, sex="Female", race_ethnicity="Asian")
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/interview")
    assert _declared(store, setup.candidate_id) == ("Female", "Asian")
    [entry] = store.audit.entries(action=DECLARED)
    assert entry.actor == "candidate" and entry.details["channel"] == "candidate"
    assert entry.details["interview"] == setup.interview_id
    assert entry.details["rules"] == [f"{'NYC' if region == 'US-NYC' else 'IL'}.self_id"]
    assert "Female" not in str(entry.details) and "Asian" not in str(entry.details)
    # Nothing else of the room changed: the device check is next, the AI choice as given.
    room = store.room.session_for(setup.interview_id)
    assert room is not None and room.stage == "device_check" and room.ai_choice == "accepted"
    # Once the questions begin, the step is over: the page leads on, a late answer is refused.
    interview = client.get(f"/room/{setup.token}/interview").get_data(as_text=True)
    headers = {"X-CSRFToken": csrf_token_from(interview)}
    assert client.post(f"/room/{setup.token}/begin", json={}, headers=headers).status_code == 200
    late_page = client.get(f"/room/{setup.token}/self-identification")
    assert late_page.status_code == 302 and late_page.headers["Location"].endswith("/interview")
    late = client.post(
        f"/room/{setup.token}/self-identification",
        data={"csrf_token": headers["X-CSRFToken"], "sex": "Male", "race_ethnicity": "White"},
    )
    assert late.status_code == 302
    assert _declared(store, setup.candidate_id) == ("Female", "Asian")


def test_NYC_self_id_skipping_is_one_click_and_changes_nothing(web: Web) -> None:
    app, store = web
    setup = room_setup(store, region="US-NYC")
    client = app.test_client()
    _through_consent(client, setup)
    before = store.room.session_for(setup.interview_id)
    entries = len(store.audit.entries())
    page = _self_id_page(client, setup)
    skip = re.search(r'<a [^>]*id="self-id-skip" href="([^"]+)"', page)
    assert skip is not None and skip.group(1) == f"/room/{setup.token}/interview"
    followed = client.get(skip.group(1))  # a plain link: it sends nothing
    assert followed.status_code == 200 and 'id="device-check"' in followed.get_data(as_text=True)
    assert _declared(store, setup.candidate_id) is None
    assert store.room.session_for(setup.interview_id) == before
    assert len(store.audit.entries()) == entries


def test_EU_self_id_needs_an_explicit_opt_in_before_the_questions_GDPR_art_9(web: Web) -> None:
    app, store = web
    setup = room_setup(store, region="EU")
    client = app.test_client()
    _through_consent(client, setup)
    page = _self_id_page(client, setup)
    assert re.search(r'<input type="checkbox" name="consent" value="yes">', page)  # unticked
    refused = _declare(client, setup, sex="Male", race_ethnicity="White")
    assert refused.status_code == 422
    assert "tick the consent box" in refused.get_data(as_text=True)
    kept = re.findall(r'value="([^"]+)" checked', refused.get_data(as_text=True))
    assert kept == ["Male", "White"]  # the candidate's choices stay: only the box is missing
    assert _declared(store, setup.candidate_id) is None
    [logged] = store.audit.entries(action="policy.refused")
    assert logged.details["rules"] == ["EU.self_id"]
    assert logged.details["missing"] == [Fact.CONSENT_SELF_ID.value]
    # Declaring nothing needs no consent; then the opt-in records the categories.
    assert _declare(client, setup, sex="prefer_not_to_say").status_code == 302
    assert _declared(store, setup.candidate_id) == (None, None)
    opted_in = _declare(client, setup, sex="Male", race_ethnicity="White", consent="yes")
    assert opted_in.status_code == 302
    assert _declared(store, setup.candidate_id) == ("Male", "White")
    consents = [e.details["consent"] for e in store.audit.entries(action=DECLARED)]
    assert consents == [False, True]
    assert _declare(client, setup, sex="Other", consent="yes").status_code == 422
    assert _declared(store, setup.candidate_id) == ("Male", "White")


def test_CN_self_id_needs_a_separate_consent_PIPL_art_29_in_chinese(web: Web) -> None:
    app, store = web
    setup = room_setup(store, region="CN")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    _through_consent(client, setup)
    page = _self_id_page(client, setup)
    for chinese in (
        "可选：关于您",  # noqa: RUF001 - Chinese punctuation
        "我们为什么询问",
        "回答完全自愿",
        "亚裔",
        "不愿透露",
        "跳过此步骤",
    ):
        assert chinese in page, chinese
    assert 'name="consent"' in page and "此同意独立于其他同意" in page
    refused = _declare(client, setup, race_ethnicity="Asian")
    assert refused.status_code == 422 and "请勾选同意框" in refused.get_data(as_text=True)
    assert _declared(store, setup.candidate_id) is None
    assert _declare(client, setup, race_ethnicity="Asian", consent="yes").status_code == 302
    assert _declared(store, setup.candidate_id) == (None, "Asian")
    [entry] = store.audit.entries(action=DECLARED)
    assert entry.details["language"] == "zh" and entry.details["rules"] == ["CN.self_id"]


def test_MD_self_id_is_not_collected_the_step_is_absent_and_every_endpoint_refuses(
    web: Web,
) -> None:
    app, store = web
    setup = room_setup(store, region="US-MD")
    client = app.test_client()
    answer = _through_consent(client, setup, ai="decline")
    assert answer.headers["Location"].endswith("/interview")
    shown = client.get(f"/room/{setup.token}/self-identification")
    assert shown.status_code == 302 and shown.headers["Location"].endswith("/interview")
    csrf = csrf_token_from(client.get(f"/room/{setup.token}/interview").get_data(as_text=True))
    posted = client.post(
        f"/room/{setup.token}/self-identification",
        data={"csrf_token": csrf, "sex": "Female", "consent": "yes"},
    )
    assert posted.status_code == 403
    assert "does not allow collecting" in posted.get_data(as_text=True)
    hr = _staff(app, store, "hr.md", "hr_admin")
    profile = hr.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
    assert 'id="self-id-not-collected"' in profile and 'name="race_ethnicity"' not in profile
    form = hr.post(
        f"/candidates/{setup.candidate_id}/self-identification",
        data={"csrf_token": csrf_token_from(profile), "sex": "Female", "consent": "yes"},
    )
    assert form.status_code == 422
    token = issue_api_token(store, setup.hr_id, setup.hr_id, "md").secret
    api = client.put(
        f"/api/v1/candidates/{setup.candidate_id}/self-identification",
        json={"sex": "Female", "consent": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 422
    assert _declared(store, setup.candidate_id) is None
    refusals = store.audit.entries(action="policy.refused")
    assert len(refusals) == 3 and {tuple(e.details["rules"]) for e in refusals} == {("MD.self_id",)}


# --- HR: a paper form, on the profile and through the API ------------------------------------


def test_NYC_self_id_hr_records_a_paper_form_and_is_denied_by_default(web: Web) -> None:
    app, store = web
    setup = room_setup(store, region="US-NYC")
    path = f"/candidates/{setup.candidate_id}/self-identification"
    recruiter = _staff(
        app, store, "rec.eng", "recruiter", departments=["Engineering"], regions=["US-NYC"]
    )
    profile = recruiter.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
    assert 'id="self-id"' in profile and 'name="consent"' not in profile
    csrf = csrf_token_from(profile)
    saved = recruiter.post(
        path,
        data={"csrf_token": csrf, "sex": "Male", "race_ethnicity": "Two or More Races"},
    )
    assert saved.status_code == 303
    assert _declared(store, setup.candidate_id) == ("Male", "Two or More Races")
    [entry] = store.audit.entries(action=DECLARED)
    assert entry.details["channel"] == "hr" and entry.actor.startswith("user:")
    assert "Two or More" not in str(entry.details)
    # Write-only: the form never shows what was recorded.
    again = recruiter.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
    selected = re.findall(r'<option value="([^"]+)" selected>', again)
    assert "Male" not in selected and "Two or More Races" not in selected
    # Deny by default: a role without candidate edits, another department, another region.
    interviewer = _staff(app, store, "int.view", "interviewer")
    viewer = store.users.by_username("int.view")
    assert viewer is not None
    with store.transaction():
        store.interviews.assign(setup.interview_id, viewer.id, "interviewer")
    seen = interviewer.get(f"/candidates/{setup.candidate_id}")
    assert seen.status_code == 200
    html = seen.get_data(as_text=True)
    assert 'id="self-id"' not in html and "Two or More Races" not in html
    csrf_i = csrf_token_from(html)
    assert interviewer.post(path, data={"csrf_token": csrf_i, "sex": "Female"}).status_code == 403
    for username, scope in (
        ("rec.sales", {"departments": ["Sales"], "regions": ["US-NYC"]}),
        ("rec.eu", {"departments": ["Engineering"], "regions": ["EU"]}),
    ):
        other = _staff(app, store, username, "recruiter", **scope)
        token = csrf_token_from(other.get("/candidates").get_data(as_text=True))
        assert other.post(path, data={"csrf_token": token, "sex": "Female"}).status_code == 404
    lead = _staff(app, store, "lead.eng", "business_lead", departments=["Engineering"])
    token = csrf_token_from(lead.get("/candidates").get_data(as_text=True))
    assert lead.post(path, data={"csrf_token": token, "sex": "Female"}).status_code == 403
    assert _declared(store, setup.candidate_id) == ("Male", "Two or More Races")


def test_EU_self_id_api_records_a_paper_form_with_its_consent(web: Web) -> None:
    app, store = web
    setup = room_setup(store, region="EU")
    client = app.test_client()
    url = f"/api/v1/candidates/{setup.candidate_id}/self-identification"
    bearer = {
        "Authorization": f"Bearer {issue_api_token(store, setup.hr_id, setup.hr_id, 'x').secret}"
    }
    body = {"sex": "Female", "race_ethnicity": "Black or African American"}
    assert client.put(url, json=body).status_code == 401  # no bearer token
    no_consent = client.put(url, json=body, headers=bearer)
    assert no_consent.status_code == 422 and "consent" in no_consent.get_json()["error"]["message"]
    assert client.put(url, json={**body, "consent": "yes"}, headers=bearer).status_code == 422
    assert client.put(url, json={"sex": "Other"}, headers=bearer).status_code == 422
    assert client.put(url, json={**body, "name": "x"}, headers=bearer).status_code == 422
    done = client.put(url, json={**body, "consent": True}, headers=bearer)
    assert done.status_code == 200
    assert done.get_json() == {"candidate_id": setup.candidate_id, "recorded": True}
    assert _declared(store, setup.candidate_id) == ("Female", "Black or African American")
    # Never read back: not in the candidate's profile as the API gives it.
    profile = client.get(f"/api/v1/candidates/{setup.candidate_id}", headers=bearer)
    assert profile.status_code == 200 and "Black or African" not in profile.get_data(as_text=True)
    # "Prefer not to say" for both removes the declaration (e.g. the consent was withdrawn).
    withdrawn = client.put(
        url, json={"sex": "prefer_not_to_say", "race_ethnicity": None}, headers=bearer
    )
    assert withdrawn.status_code == 200 and _declared(store, setup.candidate_id) == (None, None)
    make_user(store, "int.api", "interviewer")
    interviewer = store.users.by_username("int.api")
    assert interviewer is not None
    other = issue_api_token(store, setup.hr_id, interviewer.id, "i").secret
    denied = client.put(url, json=body, headers={"Authorization": f"Bearer {other}"})
    assert denied.status_code == 403


def test_self_id_never_reaches_reviewers_reports_or_the_scorer() -> None:
    """Only the audits, the declaration itself and the erasure touch the stored categories."""
    allowed = {
        "appliance/compliance/bias.py",
        "appliance/compliance/illinois.py",
        "appliance/compliance/self_id.py",
        "appliance/store/bias_audits.py",
        "appliance/store/compliance.py",
        "appliance/store/erasures.py",
    }
    readers = {
        path.relative_to(REPO).as_posix()
        for folder in ("appliance", "webui")
        for path in (REPO / folder).rglob("*.py")
        if re.search(
            r"\.demographics\b|candidate_demographics|DemographicsRepository",
            path.read_text(encoding="utf-8"),
        )
    }
    assert readers == allowed


# --- the audit counts them (NY-2, ALL-1) -----------------------------------------------------

PEOPLE = (  # name, what they declare in the room (None: they skip), the decision
    ("Ada Room", ("Female", "Asian"), "advance"),
    ("Bea Room", ("Female", "White"), "hire"),
    ("Cal Room", ("Male", "White"), "reject"),
    ("Dan Room", ("Male", "Asian"), "reject"),
    ("Eli Room", None, "advance"),
)


def _row(html: str, table: str, category: str) -> tuple[int, int, str]:
    """(individuals, counted, rate) of one category's row in one impact table of the page."""
    section = html.split(f'id="t-selection-{table}"', 1)[1].split("</section>", 1)[0]
    cells = re.search(
        rf"<td>{re.escape(category)}[^<]*(?:<span[^>]*>[^<]*</span>)?</td>\s*<td>(\d+)</td>"
        r"\s*<td>(\d+)</td>\s*<td>([^<]+)</td>",
        section,
    )
    assert cells is not None, (table, category)
    return int(cells.group(1)), int(cells.group(2)), cells.group(3)


def test_NY_2_room_declarations_and_decisions_reach_the_bias_audit_and_erasure_removes_them(
    web: Web, appliance: Any
) -> None:
    app, store = web
    setups = []
    for name, declared, _decision in PEOPLE:
        setup = room_setup(store, region="US-NYC", name=name)
        client = app.test_client()
        _through_consent(client, setup)
        if declared is None:
            client.get(f"/room/{setup.token}/interview")  # skipped
        else:
            sex, race = declared
            assert _declare(client, setup, sex=sex, race_ethnicity=race).status_code == 302
        # The AI's report (the analysis itself is tested elsewhere): what makes them assessed.
        with store.transaction():
            job = store.jobs.enqueue("analyse", max_open=1000, max_attempts=1)
            store.reports.create(
                setup.interview_id,
                job.id,
                {"scores": {"ownership": {"score": 6.0, "evidence": []}}},
            )
        setups.append(setup)
    # People decide, on the candidates' profiles.
    hr = _staff(app, store, "hr.ny", "hr_admin", regions=["US-NYC"])
    for setup, (_name, _declared_as, decision) in zip(setups, PEOPLE, strict=True):
        profile = hr.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
        decided = hr.post(
            f"/candidates/{setup.candidate_id}/decisions",
            data={
                "csrf_token": csrf_token_from(profile),
                "requisition_id": str(setup.requisition_id),
                "kind": decision,
                "reason": "reviewed the answers",
            },
        )
        assert decided.status_code == 303, decided.get_data(as_text=True)

    auditor = _staff(app, store, "ny.auditor", "auditor", regions=["US-NYC"])
    html = auditor.get("/compliance/bias?region=US-NYC").get_data(as_text=True)
    assert re.search(r'id="individuals">5<', html)
    # Selected: Ada, Bea (Female 2 of 2), Eli (unknown); Cal and Dan (Male 0 of 2) are flagged.
    assert _row(html, "sex", "Female") == (2, 2, "1.000")
    assert _row(html, "sex", "Male") == (2, 0, "0.000")
    assert _row(html, "race_ethnicity", "Asian") == (2, 1, "0.500")
    assert _row(html, "race_ethnicity", "White") == (2, 1, "0.500")
    assert _row(html, "intersection", "Asian · Female") == (1, 1, "1.000")
    assert re.search(r"Unknown sex</dt><dd>1<", html) and re.search(
        r"Unknown race/ethnicity</dt><dd>1<", html
    )
    # Male, White · Male and Asian · Male: below four fifths (all scores equal: no scoring flag).
    assert re.search(r'id="flag-count">3<', html)
    for name, *_ in PEOPLE:
        assert name not in html

    # Erasing Ada removes her declaration; she counts as unknown from then on.
    ada = setups[0]
    pseudonym = store.candidates.get(ada.candidate_id).pseudonym
    page = hr.get(f"/privacy/candidates/{ada.candidate_id}").get_data(as_text=True)
    erased = hr.post(
        f"/privacy/candidates/{ada.candidate_id}/erase",
        data={"csrf_token": csrf_token_from(page), "confirm": pseudonym, "reason": "request"},
    )
    assert erased.status_code in (302, 303), erased.get_data(as_text=True)
    assert _declared(store, ada.candidate_id) is None
    after = auditor.get("/compliance/bias?region=US-NYC").get_data(as_text=True)
    assert _row(after, "sex", "Female") == (1, 1, "1.000")
    assert re.search(r"Unknown sex</dt><dd>2<", after)
