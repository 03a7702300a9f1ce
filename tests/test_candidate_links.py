"""Signed, expiring candidate links: issue, verify, revoke, and the invitation they open."""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.accounts.auth import principal_of
from appliance.hiring.links import InvalidLinkError, issue_link, revoke_link, verify_link
from appliance.platform.clock import utcnow
from appliance.platform.errors import NotFoundError
from appliance.security import signed_links
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store

from .conftest import csrf_token_from, login, make_user


@pytest.fixture
def setting(store: Store) -> dict[str, int]:
    with store.transaction():
        eu = store.requisitions.create("Backend engineer", "Engineering", "Berlin", "EU")
        il = store.requisitions.create("Sales lead", "Sales", "Chicago", "US-IL")
    ana = store.candidates.create("Ana Example")
    bo = store.candidates.create("Bo Other")
    return {
        "eu_interview": store.interviews.create(ana.id, eu.id).id,
        "il_interview": store.interviews.create(bo.id, il.id).id,
        "ana": ana.id,
        "recruiter": make_user(
            store, "rec", "recruiter", departments=["Engineering"], regions=["EU"]
        ),
        "lead": make_user(store, "lead", "business_lead", departments=["*"], regions=["*"]),
    }


def test_issue_verify_revoke(store: Store, setting: dict[str, int]) -> None:
    recruiter = principal_of(store.users.get(setting["recruiter"]))
    issued = issue_link(store, recruiter, interview_id=setting["eu_interview"], valid_hours=48)
    interview, link = verify_link(store, issued.token)
    assert interview.id == setting["eu_interview"] and link.id == issued.link.id
    assert store.links.get(link.id).last_used_at is not None
    assert store.audit.entries(action="candidate_link.opened")
    tampered = issued.token[:-2] + ("A" if issued.token[-2] != "A" else "B") + issued.token[-1]
    for bad in (tampered, "garbage", ""):
        with pytest.raises(InvalidLinkError):
            verify_link(store, bad)
    revoke_link(store, recruiter, link_id=issued.link.id)
    with pytest.raises(InvalidLinkError):
        verify_link(store, issued.token)


def test_links_expire(
    store: Store, setting: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    recruiter = principal_of(store.users.get(setting["recruiter"]))
    issued = issue_link(store, recruiter, interview_id=setting["eu_interview"], valid_hours=1)
    later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(signed_links, "utcnow", lambda: later)
    with pytest.raises(InvalidLinkError, match="expired"):
        verify_link(store, issued.token)


def test_only_hr_in_scope_issues_links(store: Store, setting: dict[str, int]) -> None:
    recruiter = principal_of(store.users.get(setting["recruiter"]))
    with pytest.raises(NotFoundError):
        issue_link(store, recruiter, interview_id=setting["il_interview"])
    with pytest.raises(PermissionDeniedError):
        issue_link(
            store,
            principal_of(store.users.get(setting["lead"])),
            interview_id=setting["eu_interview"],
        )
    with pytest.raises(InvalidLinkError):
        issue_link(store, recruiter, interview_id=setting["eu_interview"], valid_hours=10_000)


def test_hr_creates_a_link_and_the_candidate_opens_it(web, setting: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    hr = app.test_client()
    assert login(hr, "rec").status_code == 302
    profile = hr.get(f"/candidates/{setting['ana']}")
    assert profile.status_code == 200
    token = csrf_token_from(profile.get_data(as_text=True))
    issued = hr.post(
        f"/candidates/{setting['ana']}/interviews/{setting['eu_interview']}/links",
        data={"valid_hours": "72", "csrf_token": token},
    )
    assert issued.status_code == 200
    page = issued.get_data(as_text=True)
    url = page.split('id="candidate-link" type="text" value="', 1)[1].split('"', 1)[0]
    path = url.split("://", 1)[1].split("/", 1)[1]
    candidate = app.test_client()  # no account, no session
    opened = candidate.get("/" + path)
    assert opened.status_code == 200
    assert "Backend engineer" in opened.get_data(as_text=True)
    assert candidate.get("/room/not-a-valid-token").status_code == 404
    link_id = store.links.for_interview(setting["eu_interview"])[0].id
    revoked = hr.post(
        f"/candidates/{setting['ana']}/interviews/{setting['eu_interview']}/links/{link_id}/revoke",
        data={"csrf_token": token},
    )
    assert revoked.status_code == 302
    assert candidate.get("/" + path).status_code == 404
