"""The bell (issue 20, item 4): one inbox for the room's and live assist's notices and the
scheduling messages, an unread count in the menu, each notice naming the candidate where the
reader may see them and linking to their profile; read one, read all, never another's."""

from __future__ import annotations

import pytest
from flask import Flask

from appliance.accounts.auth import principal_of
from appliance.notify.inbox import INTERVIEW, SCHEDULING, inbox, mark_all_read, mark_read, unread
from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.privacy.erasure import erase_candidate
from appliance.store import Store

from .conftest import Appliance, csrf_token_from, demo_interview, login, make_user


def _scheduling_message(store: Store, user_id: int, candidate_id: int, title: str) -> None:
    with store.transaction():
        outbox_id = store.outbox.enqueue(
            message_key=f"test:{title}",
            message_id=f"<{title.replace(' ', '.')}@test>",
            channel="inapp",
            purpose="scheduling",
            candidate_id=candidate_id,
            interview_id=None,
            user_id=user_id,
            payload={"title": title, "text": "Tuesday 10:00", "link": "/scheduling"},
            max_attempts=3,
            not_before=now_stamp(),
        )
        assert outbox_id is not None
        store.inapp.add(user_id, outbox_id, candidate_id, f"test:{title}", {"title": title})


def test_one_inbox_with_names_counts_and_reading(appliance: Appliance, store: Store) -> None:
    hr_id = make_user(store, "hr.bell", "hr_admin", departments=["*"], regions=["*"])
    iv_id = make_user(store, "iv.bell", "interviewer", regions=["*"])
    hr, interviewer = (principal_of(store.users.get(i)) for i in (hr_id, iv_id))
    interview_id = demo_interview(store, name="Ada Bell")
    candidate_id = store.interviews.get(interview_id).candidate_id
    with store.transaction():
        store.hr_notifications.add(hr_id, "room.completed", interview_id, {"answers": 3})
        store.hr_notifications.add(iv_id, "live.saved", interview_id, {"recording": 1})
    _scheduling_message(store, hr_id, candidate_id, "Interview booked: Engineer")
    items = inbox(store, hr)
    assert [(i.source, i.kind) for i in items] == [
        (SCHEDULING, "message"),
        (INTERVIEW, "room.completed"),
    ] or [(i.source, i.kind) for i in items] == [
        (INTERVIEW, "room.completed"),
        (SCHEDULING, "message"),
    ]
    notice = next(i for i in items if i.source == INTERVIEW)
    assert (notice.candidate_name, notice.job_title, notice.candidate_id) == (
        "Ada Bell",
        "Engineer",
        candidate_id,
    )
    assert unread(store, hr_id) == 2
    # An interviewer not assigned to the interview is told of it without the name.
    (theirs,) = inbox(store, interviewer)
    assert theirs.candidate_name is None and theirs.kind == "live.saved"
    # Reading someone else's notification is a not-found, and changes nothing.
    with pytest.raises(NotFoundError):
        mark_read(store, interviewer, INTERVIEW, notice.id)
    assert unread(store, hr_id) == 2
    mark_read(store, hr, INTERVIEW, notice.id)
    assert unread(store, hr_id) == 1
    assert mark_all_read(store, hr) == 1 and unread(store, hr_id) == 0
    assert unread(store, iv_id) == 1
    # An erased candidate is no longer named.
    erase_candidate(store, appliance.spool(), hr, candidate_id, "asked")
    notice = next(i for i in inbox(store, hr) if i.source == INTERVIEW)
    assert notice.candidate_name is None


def test_the_bell_in_the_menu_and_its_page(web: tuple[Flask, Store]) -> None:
    app, store = web
    hr_id = make_user(store, "hr.web.bell", "hr_admin", departments=["*"], regions=["*"])
    interview_id = demo_interview(store, name="Ben Bell")
    candidate_id = store.interviews.get(interview_id).candidate_id
    with store.transaction():
        store.hr_notifications.add(
            hr_id, "room.completed", interview_id, {"answers": 2, "analysis": "queued"}
        )
    client = app.test_client()
    assert login(client, "hr.web.bell").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert 'id="bell"' in home and 'data-unread="1"' in home
    assert 'aria-label="Notifications: 1 unread"' in home
    page = client.get("/notifications").get_data(as_text=True)
    assert "Ben Bell completed their interview for Engineer: 2 answers." in page
    assert f'href="/candidates/{candidate_id}"' in page and "interview #" not in page
    token = csrf_token_from(page)
    done = client.post("/notifications/read-all", data={"csrf_token": token})
    assert done.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert 'id="bell"' in home and "data-unread" not in home
    assert (
        client.post("/notifications/elsewhere/1/read", data={"csrf_token": token}).status_code
        == 404
    )
    # The auditor gets no bell (they receive no notifications).
    make_user(store, "audit.bell", "auditor", regions=["EU"])
    auditor = app.test_client()
    login(auditor, "audit.bell")
    assert 'id="bell"' not in auditor.get("/exports").get_data(as_text=True)
    assert auditor.get("/notifications").status_code == 403
