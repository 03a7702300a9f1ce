"""The scheduling pages through the Flask app over the real store: HR availability, interview
types, requests with slots and alternatives, the dead-letter view, the tzdata version, in-app
notifications, and the candidate's self-scheduling page."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from appliance.notify.outbox import deliver_due
from appliance.platform.clock import from_stamp, to_stamp
from appliance.scheduling import service
from appliance.scheduling.render import render_time
from appliance.scheduling.zones import tzdata_version
from tests.conftest import csrf_token_from, login, make_user
from tests.support.scheduling_world import (
    EVERY_DAY,
    availability_fields,
    candidate_request,
    make_world,
    over_capacity,
    token_of,
)


def test_hr_pages_end_to_end(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    client = app.test_client()
    make_user(store, "hr.web", "hr_admin", departments=["*"], regions=["*"])
    interviewer = make_user(store, "iv.web", "interviewer")
    login(client, "hr.web")

    page = client.get(f"/scheduling/availability?user_id={interviewer}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"tzdata {tzdata_version()}" in html
    token = csrf_token_from(html)
    saved = client.post(
        f"/scheduling/availability/{interviewer}",
        data={
            "csrf_token": token,
            "timezone": "Europe/Berlin",
            "holiday_region": "EU",
            **availability_fields(EVERY_DAY, [[0, "09:00", "10:00"]]),
            "max_per_day": "5",
        },
        follow_redirects=True,
    )
    assert "The availability was saved." in saved.get_data(as_text=True)
    assert store.scheduling.profile(interviewer).timezone == "Europe/Berlin"
    assert store.scheduling.profile(interviewer).focus_blocks == [[0, "09:00", "10:00"]]
    bad = client.post(
        f"/scheduling/availability/{interviewer}",
        data={"csrf_token": token, "timezone": "Nowhere/City", **availability_fields({})},
    )
    assert bad.status_code == 422
    assert "unknown time zone" in bad.get_data(as_text=True)
    assert 'value="Nowhere/City"' in bad.get_data(as_text=True)  # the input is kept
    assert store.scheduling.profile(interviewer).timezone == "Europe/Berlin"  # nothing lost

    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\n"
        b"DTSTAMP:20260101T000000Z\r\nDTSTART:20991201T100000Z\r\nDTEND:20991201T110000Z\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    imported = client.post(
        f"/scheduling/availability/{interviewer}/ics",
        data={"csrf_token": token, "ics": (io.BytesIO(ics), "busy.ics")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "busy times were imported" in imported.get_data(as_text=True)
    broken = client.post(
        f"/scheduling/availability/{interviewer}/ics",
        data={"csrf_token": token, "ics": (io.BytesIO(b"not a calendar"), "busy.ics")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "iCalendar" in broken.get_data(as_text=True)

    created = client.post(
        "/scheduling/types",
        data={
            "csrf_token": token,
            "name": "Sales interview",
            "duration_minutes": "45",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "15",
            "mode": "pool",
            "attendees": "1",
            "role_family": "sales",
            "members": [str(interviewer)],
        },
        follow_redirects=True,
    )
    assert "Sales interview" in created.get_data(as_text=True)
    kind = store.scheduling.type_named("Sales interview")
    assert kind is not None and kind.members == (interviewer,)
    refused = client.post(
        "/scheduling/types", data={"csrf_token": token, "name": "", "duration_minutes": "x"}
    )
    assert refused.status_code == 422

    candidate = store.candidates.create("Web Candidate", email="web@example.invalid")
    with store.transaction():
        requisition = store.requisitions.create("Account executive", "Sales", "Paris", "EU")
        interview = store.interviews.create(candidate.id, requisition.id)
    opened = client.post(
        "/scheduling/requests/new",
        data={
            "csrf_token": token,
            "interview_id": str(interview.id),
            "type_id": str(kind.id),
            "candidate_timezone": "America/Sao_Paulo",
        },
        follow_redirects=True,
    )
    # No mail relay here: the page says nothing was sent and hands the link over instead.
    handover = opened.get_data(as_text=True)
    assert 'id="not-sent"' in handover and "no e-mail was sent" in handover
    link = re.search(r'id="candidate-link" type="text" value="([^"]+)"', handover)
    assert link is not None and "/schedule/" in link.group(1)
    assert "sent a link" not in handover
    request = store.scheduling.request_for_interview(interview.id)
    assert request is not None
    html = client.get(f"/scheduling/requests/{request.id}").get_data(as_text=True)
    # The best slots at a glance: a column per day of the viewer, a Book button per time.
    assert 'id="slot-calendar"' in html and 'aria-label="Book ' in html
    assert "(America/Sao_Paulo, UTC-03:00)" in html and "(UTC, UTC+00:00)" in html
    start = re.search(r'name="start" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    booked = client.post(
        f"/scheduling/requests/{request.id}/book",
        data={"csrf_token": token, "start": start},
        follow_redirects=True,
    )
    booked_page = booked.get_data(as_text=True)
    assert "The interview is booked. No mail relay is configured" in booked_page
    assert "on their way" not in booked_page
    # Another candidate asks for the same hour: it is taken, the nearest free ones are named.
    other = store.candidates.create("Other Candidate", email="other@example.invalid")
    with store.transaction():
        other_interview = store.interviews.create(other.id, requisition.id)
    client.post(
        "/scheduling/requests/new",
        data={
            "csrf_token": token,
            "interview_id": str(other_interview.id),
            "type_id": str(kind.id),
            "candidate_timezone": "America/Sao_Paulo",
        },
    )
    other_request = store.scheduling.request_for_interview(other_interview.id)
    assert other_request is not None
    booked_first = store.scheduling.booking_for(request.id)
    assert booked_first is not None
    wall = booked_first.start.astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%Y-%m-%dT%H:%M")
    asked = client.get(f"/scheduling/requests/{other_request.id}?want={wall}")
    assert "is taken;" in asked.get_data(as_text=True)
    assert "works for all" in asked.get_data(as_text=True)

    index = client.get("/scheduling").get_data(as_text=True)
    assert f"tzdata {tzdata_version()}" in index and "booked" in index

    # Nothing can be sent (no relay configured): the mails become dead letters, visible here.
    deliver_due(store, app.extensions["appliance.config"].scheduling)
    dead = client.get("/scheduling/outbox").get_data(as_text=True)
    assert 'id="no-relay"' in dead and "no SMTP relay is configured" in dead
    # Each dead letter in words, with what to do about it (no raw codes).
    assert "could not be sent and trying again will not help" in dead
    assert "ask the operator to set one" in dead and "link to choose a time" in dead
    assert ">rejected<" not in dead and ">schedule_invite<" not in dead
    first_dead = store.outbox.all(state="dead")[0]
    again = client.post(
        f"/scheduling/outbox/{first_dead.id}/requeue",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "will be sent again" in again.get_data(as_text=True)
    assert store.outbox.get(first_dead.id).state == "pending"

    # The interviewer sees their in-app notification.
    other = app.test_client()
    login(other, "iv.web")
    inbox = other.get("/scheduling/inbox").get_data(as_text=True)
    assert "Interview booked: Account executive" in inbox
    assert other.get("/scheduling").status_code == 403
    assert other.get("/scheduling/outbox").status_code == 403


def test_candidate_page_pick_move_cancel(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    config = app.extensions["appliance.config"]
    config.scheduling.min_notice_hours = 48
    world = make_world(store, config)
    request, url = candidate_request(world, timezone="Asia/Kolkata")
    client = app.test_client()
    page = client.get(f"/schedule/{token_of(url)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "(Asia/Kolkata, UTC+05:30)" in html
    token = csrf_token_from(html)
    changed = client.post(
        f"/schedule/{token_of(url)}/zone",
        data={"csrf_token": token, "timezone": "Australia/Sydney"},
        follow_redirects=True,
    )
    html = changed.get_data(as_text=True)
    assert "(Australia/Sydney, UTC+11:00)" in html and "(Asia/Kolkata" not in html
    starts = re.findall(r'name="start" value="([^"]+)"', html)
    booked = client.post(
        f"/schedule/{token_of(url)}/book",
        data={"csrf_token": token, "start": starts[0]},
        follow_redirects=True,
    )
    html = booked.get_data(as_text=True)
    assert "Your interview is booked" in html
    assert 'id="booked-time"' in html
    moved = client.post(
        f"/schedule/{token_of(url)}/book",
        data={"csrf_token": token, "start": starts[8]},
        follow_redirects=True,
    )
    assert "Your interview is booked" in moved.get_data(as_text=True)
    booking = store.scheduling.booking_for(request.id)
    assert booking is not None and booking.sequence == 1
    cancelled = client.post(
        f"/schedule/{token_of(url)}/cancel", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Your interview was cancelled." in cancelled.get_data(as_text=True)
    assert client.get("/schedule/not-a-token").status_code == 404


def test_candidate_facing_times_have_one_writer() -> None:
    """Every time a candidate reads (their page, mails, SMS, invitations' text) is written by
    appliance.scheduling.render.render_time: no other formatting of times in those paths."""
    from tests.conftest import REPO

    paths = [
        REPO / "webui" / "templates" / "scheduling" / "candidate.html",
        REPO / "appliance" / "scheduling" / "messages.py",
        REPO / "appliance" / "scheduling" / "next_round.py",
        REPO / "appliance" / "notify" / "templates.py",
    ]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for other in ("strftime", "isoformat()", "| localtime", "|localtime", "format_datetime"):
            assert other not in text, f"{path.name} formats a time with {other}"
    messages = (REPO / "appliance" / "scheduling" / "messages.py").read_text(encoding="utf-8")
    assert messages.count("render_time(") >= 6


def test_with_a_relay_the_page_says_queued_not_sent(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    app.extensions["appliance.config"].scheduling.smtp_host = "127.0.0.1"
    client = app.test_client()
    make_user(store, "hr.relay", "hr_admin", departments=["*"], regions=["*"])
    interviewer = make_user(store, "iv.relay", "interviewer")
    login(client, "hr.relay")
    token = csrf_token_from(client.get("/scheduling/types").get_data(as_text=True))
    client.post(
        f"/scheduling/availability/{interviewer}",
        data={
            "csrf_token": token,
            "timezone": "Europe/Paris",
            "holiday_region": "EU",
            **availability_fields(EVERY_DAY),
            "max_per_day": "5",
        },
    )
    client.post(
        "/scheduling/types",
        data={
            "csrf_token": token,
            "name": "Relay interview",
            "duration_minutes": "30",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "0",
            "mode": "pool",
            "attendees": "1",
            "role_family": "sales",
            "members": [str(interviewer)],
        },
    )
    kind = store.scheduling.type_named("Relay interview")
    assert kind is not None
    with store.transaction():
        requisition = store.requisitions.create("Analyst", "Sales", "Paris", "EU")
    candidate = store.candidates.create("Relay Candidate", email="relay@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id)
    opened = client.post(
        "/scheduling/requests/new",
        data={
            "csrf_token": token,
            "interview_id": str(interview.id),
            "type_id": str(kind.id),
            "candidate_timezone": "Europe/Paris",
        },
        follow_redirects=True,
    )
    html = opened.get_data(as_text=True)
    assert "is queued for the candidate" in html and 'id="candidate-link"' not in html
    assert 'id="no-relay"' not in client.get("/scheduling/outbox").get_data(as_text=True)


def test_scheduling_starts_from_the_profile_and_picks_by_name(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    client = app.test_client()
    make_user(store, "hr.pick", "hr_admin", departments=["*"], regions=["*"])
    login(client, "hr.pick")
    with store.transaction():
        requisition = store.requisitions.create("Data analyst", "Finance", "Lyon", "EU")
    named = store.candidates.create("Named Person", email="named@example.invalid")
    interview = store.interviews.create(named.id, requisition.id)
    profile = client.get(f"/candidates/{named.id}").get_data(as_text=True)
    link = f"/scheduling/requests/new?interview_id={interview.id}"
    assert f'href="{link}"' in profile and "Schedule this interview" in profile
    form = client.get(link).get_data(as_text=True)
    # The interview is chosen by who and for what, not by a number typed from a URL.
    assert "Interview number" not in form and 'type="number"' not in form
    assert re.search(
        rf'<option value="{interview.id}" selected>Named Person · Data analyst · round 1</option>',
        form,
    )
    # Once scheduling is open for it, it is no longer offered.
    kind_free = client.get("/scheduling/requests/new").get_data(as_text=True)
    assert "Named Person" in kind_free
    with store.transaction():
        store.interviews.set_status(interview.id, "analysed")
    assert "Named Person" not in client.get("/scheduling/requests/new").get_data(as_text=True)


def test_preferred_times_are_rows_not_json(web, appliance) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    world = make_world(store, appliance.config)
    candidate = store.candidates.create("Pref Person", email="pref@example.invalid")
    with store.transaction():
        interview = store.interviews.create(candidate.id, world.requisition_id)
    client = app.test_client()
    login(client, "hr.sched")
    form = client.get(f"/scheduling/requests/new?interview_id={interview.id}")
    page = form.get_data(as_text=True)
    assert "JSON" not in page and 'id="pref-0-day"' in page
    fields = {
        "csrf_token": csrf_token_from(page),
        "interview_id": str(interview.id),
        "type_id": str(world.type_id),
        "candidate_timezone": "Asia/Kolkata",
    }
    backwards = {**fields, "pref-0-day": "1", "pref-0-start": "17:00", "pref-0-end": "09:00"}
    refused = client.post("/scheduling/requests/new", data=backwards)
    assert refused.status_code == 422
    assert 'value="17:00"' in refused.get_data(as_text=True)  # what was typed stays
    assert store.scheduling.request_for_interview(interview.id) is None
    good = {
        **fields,
        "pref-0-day": "1",
        "pref-0-start": "09:00",
        "pref-0-end": "12:00",
        "pref-2-day": "3",
        "pref-2-start": "14:00",
        "pref-2-end": "00:00",  # midnight: the end of the day
    }
    assert client.post("/scheduling/requests/new", data=good).status_code in (200, 303)
    opened = store.scheduling.request_for_interview(interview.id)
    assert opened is not None
    assert sorted(map(tuple, opened.preferred_windows)) == [
        (1, "09:00", "12:00"),
        (3, "14:00", "24:00"),
    ]


def test_the_request_page_speaks_the_readers_language(web, appliance) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    world = make_world(store, appliance.config)
    request, _link = candidate_request(world)
    hr = store.users.by_username("hr.sched")
    assert hr is not None
    with store.transaction():
        store.users.set_preferences(hr.id, language="zh_CN", timezone="Asia/Shanghai")
    client = app.test_client()
    login(client, "hr.sched")
    html = client.get(f"/scheduling/requests/{request.id}").get_data(as_text=True)
    assert 'id="slot-calendar"' in html and "星期" in html
    for english in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        assert f"{english} " not in html.split('id="slot-calendar"', 1)[1]


def _notice(html: str, element_id: str) -> str:
    """The text of the paragraph with that id."""
    return html.split(f'id="{element_id}"', 1)[1].split("</p>", 1)[0]


def test_a_booked_request_shows_its_booking_and_when_its_room_opens(web, appliance) -> None:  # type: ignore[no-untyped-def]
    """Booked, the request page shows the booking (both zones) and no slots to book again,
    unless HR moves it; over capacity, HR and the candidate read when the room opens."""
    app, store = web
    world = make_world(store, appliance.config)
    request, url = candidate_request(world)
    expected_opening = over_capacity(store, appliance.config)
    hr = store.users.by_username("hr.sched")
    assert hr is not None
    viewer = hr.timezone or "UTC"
    client = app.test_client()
    login(client, "hr.sched")
    page = client.get(f"/scheduling/requests/{request.id}").get_data(as_text=True)
    assert 'id="slot-calendar"' in page
    # Told before booking: a time before the backlog is back within capacity opens late.
    late = _notice(page, "late-rooms")
    assert any(
        render_time(expected_opening + timedelta(minutes=m), viewer) in late for m in (-1, 0, 1)
    )
    early = service.find_slots(store, appliance.config, request, limit=1)[0]
    booked = client.post(
        f"/scheduling/requests/{request.id}/book",
        data={"csrf_token": csrf_token_from(page), "start": to_stamp(early.start)},
        follow_redirects=True,
    )
    html = booked.get_data(as_text=True)
    assert booked.status_code == 200 and 'id="booked-time"' in html
    assert render_time(early.start, "Asia/Kolkata") in _notice(html, "booked-time")
    assert render_time(early.start, viewer) in _notice(html, "booked-time")
    assert 'id="slot-calendar"' not in html and 'name="start"' not in html
    assert 'id="late-rooms"' not in html and 'id="move-booking"' in html
    link = store.links.for_interview(request.interview_id)[0]
    assert link.opens_at is not None
    opens = from_stamp(link.opens_at)
    told = _notice(html, "room-opens-later")
    assert render_time(opens, "Asia/Kolkata") in told and render_time(opens, viewer) in told
    # HR may still move it: the slots come back on asking.
    moving = client.get(f"/scheduling/requests/{request.id}?move=1").get_data(as_text=True)
    assert 'id="slot-calendar"' in moving and 'id="booked-time"' in moving
    assert 'id="move-booking"' not in moving

    candidate = app.test_client().get(f"/schedule/{token_of(url)}").get_data(as_text=True)
    assert 'id="booked-time"' in candidate
    assert render_time(opens, "Asia/Kolkata") in _notice(candidate, "room-opens-later")

    # Cancelled, the request offers its slots again.
    cancelled = client.post(
        f"/scheduling/requests/{request.id}/cancel",
        data={"csrf_token": csrf_token_from(html)},
        follow_redirects=True,
    )
    html = cancelled.get_data(as_text=True)
    assert 'id="slot-calendar"' in html and 'id="booked-time"' not in html
