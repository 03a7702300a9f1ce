"""Scheduling against the real encrypted store: availability, booking, rescheduling,
cancelling, concurrent picks, the database's own guard, the next round after "advance"."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from appliance.accounts.auth import principal_of
from appliance.hiring.links import InvalidLinkError, LinkNotOpenYetError, check_link
from appliance.hiring.review import record_decision
from appliance.jobs.worker import Worker
from appliance.platform.clock import from_stamp, utcnow
from appliance.platform.errors import NotFoundError
from appliance.scheduling import service
from appliance.scheduling.capacity import backlog
from appliance.scheduling.links import InvalidSchedulingLinkError, verify_scheduling_link
from appliance.scheduling.next_round import JOB_KIND
from appliance.scheduling.render import render_time
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store
from appliance.store.compliance import compliance_of
from appliance.store.db import IntegrityError
from appliance.store.scheduling import SchedulingRequest
from tests.conftest import Appliance, make_user
from tests.support.scheduling_world import (
    EVERY_DAY,
    candidate_request,
    make_world,
    over_capacity,
    token_of,
)

# --- tests -------------------------------------------------------------------------------------


def test_book_reschedule_cancel_with_sequence_and_messages(
    appliance: Appliance, store: Store
) -> None:
    world = make_world(store, appliance.config)
    request, url = candidate_request(world)
    found, _ = verify_scheduling_link(store, token_of(url))
    assert found.id == request.id
    slots = service.find_slots(store, appliance.config, request, limit=5)
    assert slots and all(s.start >= datetime.now(UTC) + timedelta(hours=12) for s in slots)

    first = service.candidate_book(store, appliance.config, request, slots[0].start)
    assert (first.sequence, first.status, first.attendees) == (
        0,
        "booked",
        tuple(world.interviewers),
    )
    assert store.interviews.get(request.interview_id).scheduled_at == first.starts_at
    # The same time again changes nothing (a double click).
    assert service.candidate_book(store, appliance.config, request, slots[0].start) == first

    later = next(
        s
        for s in service.find_slots(store, appliance.config, request, limit=50)
        if s.start >= first.end + timedelta(hours=2)
    )
    moved = service.candidate_book(store, appliance.config, request, later.start)
    assert (moved.uid, moved.sequence, moved.start) == (first.uid, 1, later.start)
    # The old time is free again for someone else; the new one is held.
    holds = store.scheduling.holds_of(moved.id)
    assert [h[1] for h in holds] == [later.start]

    cancelled = service.candidate_cancel(store, appliance.config, request)
    assert (cancelled.status, cancelled.sequence) == ("cancelled", 2)
    assert store.scheduling.holds_of(cancelled.id) == []
    assert store.scheduling.get_request(request.id).status == "open"

    keys = [m.message_key for m in store.outbox.all()]
    uid = first.uid
    for sequence in (0, 1, 2):
        assert f"booking:{uid}:{sequence}:candidate:email" in keys
        assert f"booking:{uid}:{sequence}:user:{world.interviewers[0]}:inapp" in keys
    # Reminders of an old time are void: none pending after the cancellation.
    pending = [m for m in store.outbox.all(state="pending") if m.purpose.endswith("reminder")]
    assert pending == []
    actions = [row["action"] for row in store.conn.execute("SELECT action FROM audit_log")]
    for action in (
        "scheduling.opened",
        "scheduling.booked",
        "scheduling.rescheduled",
        "scheduling.cancelled",
    ):
        assert action in actions


def test_reminders_at_the_configured_offsets(appliance: Appliance, store: Store) -> None:
    appliance.config.scheduling.min_notice_hours = 72
    world = make_world(store, appliance.config)
    request, _ = candidate_request(world)
    slot = service.find_slots(store, appliance.config, request, limit=1)[0]
    booking = service.candidate_book(store, appliance.config, request, slot.start)
    reminders = {
        m.message_key.split(":")[-3]: m
        for m in store.outbox.all()
        if m.message_key.startswith(f"reminder:{booking.uid}:0:")
        and m.message_key.endswith("candidate:email")
    }
    assert set(reminders) == {"24h", "1h"}
    assert reminders["24h"].next_attempt_at == (booking.start - timedelta(hours=24)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    # Technical role family, in the candidate's language and zone.
    text = reminders["1h"].payload["text"]
    assert "coding environment" in text
    assert "(Asia/Kolkata, UTC+05:30)" in text


def test_a_taken_time_gives_the_nearest_alternatives(appliance: Appliance, store: Store) -> None:
    world = make_world(store, appliance.config)
    first, _ = candidate_request(world, "First Person")
    second, _ = candidate_request(world, "Second Person")
    slot = service.find_slots(store, appliance.config, first, limit=1)[0]
    service.candidate_book(store, appliance.config, first, slot.start)
    with pytest.raises(service.SlotTakenError) as taken:
        service.candidate_book(store, appliance.config, second, slot.start)
    assert taken.value.alternatives
    assert all(
        alt.start >= slot.end + timedelta(minutes=15) or alt.end <= slot.start
        for alt in taken.value.alternatives
    )
    assert "is taken;" in str(taken.value) and "works for all" in str(taken.value)


def test_concurrent_picks_never_double_book(appliance: Appliance, store: Store) -> None:
    """Eight candidates pick the same hour of the one interviewer at once, from eight threads
    with their own connections: exactly one wins."""
    world = make_world(store, appliance.config)
    requests = [candidate_request(world, f"Candidate {n}")[0] for n in range(8)]
    target = service.find_slots(store, appliance.config, requests[0], limit=1)[0].start
    # Half of them aim 30 minutes later: overlapping, not identical.
    aims = [target + timedelta(minutes=30 * (n % 2)) for n in range(8)]
    barrier = threading.Barrier(len(requests))
    results: list[str] = []
    lock = threading.Lock()

    def pick(request: SchedulingRequest, start: datetime) -> None:
        barrier.wait()
        try:
            service.candidate_book(store, appliance.config, request, start)
            outcome = "booked"
        except service.SlotTakenError:
            outcome = "taken"
        finally:
            store.close()
        with lock:
            results.append(outcome)

    threads = [
        threading.Thread(target=pick, args=(r, a)) for r, a in zip(requests, aims, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["booked"] + ["taken"] * 7
    live = store.conn.execute("SELECT count(*) FROM bookings WHERE status = 'booked'").fetchone()
    assert live[0] == 1
    assert store.scheduling.overlapping_holds() == 0


def test_the_database_refuses_overlapping_holds(appliance: Appliance, store: Store) -> None:
    world = make_world(store, appliance.config)
    one, _ = candidate_request(world, "One")
    two, _ = candidate_request(world, "Two")
    at = datetime(2030, 1, 7, 10, tzinfo=UTC)
    person = world.interviewers[0]
    with store.transaction():
        store.scheduling.book(
            one.id,
            "a@x",
            start=at,
            end=at + timedelta(hours=1),
            hold=(at, at + timedelta(hours=1)),
            attendees=(person,),
            booked_by="test",
        )
    with pytest.raises(IntegrityError, match="double booking"), store.transaction():
        store.scheduling.book(
            two.id,
            "b@x",
            start=at + timedelta(minutes=30),
            end=at + timedelta(minutes=90),
            hold=(at + timedelta(minutes=30), at + timedelta(minutes=90)),
            attendees=(person,),
            booked_by="test",
        )
    assert store.scheduling.booking_for(two.id) is None  # rolled back whole


def test_holidays_and_imported_busy_times_are_respected(appliance: Appliance, store: Store) -> None:
    world = make_world(store, appliance.config)
    request, _ = candidate_request(world)
    first_day = service.find_slots(store, appliance.config, request, limit=1)[0].start
    local_day = first_day.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).date()
    with store.transaction():
        compliance_of(store).holidays.put("EU", local_day.isoformat(), "Test holiday", None)
    after = service.find_slots(store, appliance.config, request, limit=500)
    assert all(
        s.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).date() != local_day
        for s in after
    )
    # A busy ICS event over the next free slot removes it (and the 15-minute buffer before it).
    target = after[0]
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:busy-1\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART:{target.start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{target.end:%Y%m%dT%H%M%SZ}\r\nSUMMARY:Private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    count = service.import_ics(
        store, appliance.config, world.hr, user_id=world.interviewers[0], data=ics.encode()
    )
    assert count == 1
    starts = {s.start for s in service.find_slots(store, appliance.config, request, limit=500)}
    assert target.start not in starts
    assert "Private" not in str(list(store.conn.execute("SELECT * FROM busy_blocks")))


def test_only_people_allowed_may_change_availability(appliance: Appliance, store: Store) -> None:
    world = make_world(store, appliance.config)
    other = make_user(store, "iv.other", "interviewer")
    me = principal_of(store.users.get(world.interviewers[0]))
    with pytest.raises(NotFoundError):
        service.save_availability(
            store,
            me,
            user_id=other,
            timezone="UTC",
            holiday_region="EU",
            working_hours=EVERY_DAY,
            focus_blocks=[],
            max_per_day=4,
        )
    with pytest.raises(service.SchedulingError):
        service.save_availability(
            store,
            world.hr,
            user_id=other,
            timezone="UTC",
            holiday_region="Atlantis",
            working_hours=EVERY_DAY,
            focus_blocks=[],
            max_per_day=4,
        )
    with pytest.raises(PermissionDeniedError):
        service.create_interview_type(
            store,
            me,
            name="x",
            duration_minutes=30,
            buffer_before_minutes=0,
            buffer_after_minutes=0,
            mode="panel",
            attendees=1,
            role_family="general",
            members=[other],
        )


def test_links_expire_and_are_refused_after_revocation(appliance: Appliance, store: Store) -> None:
    world = make_world(store, appliance.config)
    request, url = candidate_request(world)
    token = token_of(url)
    link = store.scheduling.links_for(request.id)[0]
    with store.transaction():
        store.scheduling.revoke_link(link.id)
    with pytest.raises(InvalidSchedulingLinkError):
        verify_scheduling_link(store, token)
    with pytest.raises(InvalidSchedulingLinkError):
        verify_scheduling_link(store, token[:-2] + "xx")


def test_advance_opens_the_next_round_and_notifies(appliance: Appliance, store: Store) -> None:
    world = make_world(store, appliance.config)
    request, _ = candidate_request(world, timezone="America/New_York")
    lead_id = make_user(
        store, "lead.eng", "business_lead", departments=["Engineering"], regions=["EU"]
    )
    interview = store.interviews.get(request.interview_id)
    decision = record_decision(
        store,
        world.hr,
        candidate_id=interview.candidate_id,
        requisition_id=interview.requisition_id,
        kind="advance",
        reason="Strong first round",
    )
    jobs = store.conn.execute("SELECT id, kind FROM jobs WHERE kind = ?", (JOB_KIND,)).fetchall()
    assert len(jobs) == 1

    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded"
    rounds = store.interviews.for_candidate(interview.candidate_id)
    assert [i.round for i in rounds] == [1, 2]
    second = store.scheduling.request_for_interview(rounds[1].id)
    assert second is not None and second.type_id == world.type_id
    assert second.candidate_timezone == "America/New_York"  # carried over from round 1
    purposes = {
        (m.purpose, m.channel, m.user_id)
        for m in store.outbox.all()
        if m.interview_id == rounds[1].id
    }
    assert ("schedule_invite", "email", None) in purposes
    assert ("next_round_lead", "inapp", lead_id) in purposes
    assert store.scheduling.next_round_of(decision.id) == (rounds[1].id, second.id)
    # Running the job's task again opens nothing new.
    from appliance.scheduling.next_round import open_next_round

    again = open_next_round(
        store,
        appliance.config,
        {
            "decision": decision.id,
            "candidate": interview.candidate_id,
            "requisition": interview.requisition_id,
            "by": world.hr.user_id,
        },
        lambda fraction, step: None,
    )
    assert again["opened"] is False
    assert len(store.interviews.for_candidate(interview.candidate_id)) == 2


def test_over_capacity_a_booked_room_opens_later(appliance: Appliance, store: Store) -> None:
    """Admission control holds for the room link of a booking too: booked before the backlog is
    expected back within capacity, the room opens only then (the booking is never refused, and
    the candidate is told); booked after, it opens in time."""
    world = make_world(store, appliance.config)
    request, _ = candidate_request(world, phone="+15550100")
    appliance.config.scheduling.sms_gateway_url = "http://127.0.0.1:9/sms"
    expected_opening = over_capacity(store, appliance.config)  # about 9 hours from now
    early = service.find_slots(store, appliance.config, request, limit=1)[0]
    assert early.start < expected_opening - timedelta(hours=1)

    booking = service.candidate_book(store, appliance.config, request, early.start)
    assert booking.status == "booked"
    link = store.links.for_interview(request.interview_id)[0]
    assert link.opens_at is not None
    opens = from_stamp(link.opens_at)
    assert opens == pytest.approx(expected_opening, abs=timedelta(minutes=1))
    # The link keeps the interview's length and a day's grace after its late opening.
    assert from_stamp(link.expires_at) - opens == timedelta(hours=1, days=1)
    mails = {
        m.purpose: m.payload
        for m in store.outbox.all()
        if m.channel == "email" and m.user_id is None and m.purpose != "schedule_invite"
    }
    room = re.search(r"/room/(\S+)", mails["invitation"]["text"])
    assert room is not None
    with pytest.raises(LinkNotOpenYetError):  # a candidate who comes early is told when
        check_link(store, room.group(1))
    audit = store.audit.entries(action="scheduling.booked")[-1]
    assert audit.details["room_opens_at"] == link.opens_at
    # The candidate reads when, in their zone: in the invitation, its SMS and the reminder.
    said = render_time(opens, "Asia/Kolkata")
    assert f"the interview room opens only at {said}" in mails["invitation"]["text"]
    assert f"opens only at {said}" in mails["reminder"]["text"]
    sms = [m.payload["text"] for m in store.outbox.all() if m.channel == "sms"]
    assert any(f"The interview room opens at {said}." in text for text in sms)
    # The interviewers are told too, in their own zone: mail and in-app note alike.
    staff = [m for m in store.outbox.all() if m.purpose == "staff_booked"]
    assert {m.channel for m in staff} >= {"email", "inapp"}
    for message in staff:
        user = store.users.get(message.user_id)
        when = render_time(opens, user.timezone or "UTC")
        assert f"the candidate's interview room opens only at {when}" in message.payload["text"]

    # Moved to a time after the backlog is expected back within capacity: in time, no note.
    later = next(
        s
        for s in service.find_slots(store, appliance.config, request, limit=None)
        if s.start >= expected_opening + timedelta(hours=1)
    )
    moved = service.hr_book(store, appliance.config, world.hr, request.id, later.start)
    newest = store.links.for_interview(request.interview_id)[0]
    assert newest.id != link.id and newest.opens_at is None
    assert from_stamp(newest.expires_at) == moved.end + timedelta(days=1)
    invitation = next(
        m for m in store.outbox.all() if m.message_key == f"booking:{moved.uid}:1:candidate:email"
    )
    assert "opens only at" not in invitation.payload["text"]
    moved_staff = [
        m
        for m in store.outbox.all()
        if m.message_key.startswith(f"booking:{moved.uid}:1:user:") and m.channel == "email"
    ]
    assert moved_staff and all("opens only at" not in m.payload["text"] for m in moved_staff)
    assert "room_opens_at" not in store.audit.entries(action="scheduling.rescheduled")[-1].details


def test_the_rule_for_a_booked_time(appliance: Appliance, store: Store) -> None:
    """One rule: the room of a booking opens when an HR link issued now would, unless the booked
    time is later; the interview being booked does not wait for its own earlier link."""
    world = make_world(store, appliance.config)
    request, _ = candidate_request(world)
    now = utcnow()
    over_capacity(store, appliance.config)
    found = backlog(store, appliance.config)
    opening = found.opens_at(now)
    assert opening is not None
    assert found.opens_at(now, booked=opening - timedelta(hours=2)) == opening
    assert found.opens_at(now, booked=opening + timedelta(minutes=1)) is None
    slot = service.find_slots(store, appliance.config, request, limit=1)[0]
    service.candidate_book(store, appliance.config, request, slot.start)
    assert backlog(store, appliance.config).expected == 5  # its room link is out
    assert backlog(store, appliance.config, excluding=request.interview_id).expected == 0


def _room_tokens(store: Store) -> list[str]:
    """The room link tokens sent to candidates by e-mail, oldest first, each once."""
    tokens: list[str] = []
    for message in store.outbox.all():
        if message.channel != "email" or message.user_id is not None:
            continue
        for token in re.findall(r"/room/(\S+)", message.payload.get("text", "")):
            if token not in tokens:
                tokens.append(token)
    return tokens


def test_a_moved_or_cancelled_booking_revokes_its_room_link(
    appliance: Appliance, store: Store
) -> None:
    """The room link sent for the old time stops opening the room once the interview is moved
    (the new time's link works) or cancelled, and no longer counts in the backlog."""
    world = make_world(store, appliance.config)
    request, _ = candidate_request(world)
    slots = service.find_slots(store, appliance.config, request, limit=50)
    first = service.candidate_book(store, appliance.config, request, slots[0].start)
    [old] = _room_tokens(store)
    assert check_link(store, old)[0].id == request.interview_id
    assert backlog(store, appliance.config).expected == 5

    later = next(s for s in slots if s.start >= first.end + timedelta(hours=2))
    service.hr_book(store, appliance.config, world.hr, request.id, later.start)
    tokens = _room_tokens(store)
    assert tokens[0] == old and len(tokens) == 2
    with pytest.raises(InvalidLinkError):
        check_link(store, old)
    assert check_link(store, tokens[1])[0].id == request.interview_id
    assert backlog(store, appliance.config).expected == 5  # one live link, not two
    moved = store.audit.entries(action="scheduling.rescheduled")[-1]
    assert moved.details["room_links_revoked"] == 1

    service.hr_cancel(store, appliance.config, world.hr, request.id)
    with pytest.raises(InvalidLinkError):
        check_link(store, tokens[1])
    assert backlog(store, appliance.config).expected == 0
    cancelled = store.audit.entries(action="scheduling.cancelled")[-1]
    assert cancelled.details["room_links_revoked"] == 1
