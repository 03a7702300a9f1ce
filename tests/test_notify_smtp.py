"""E-mail through a real SMTP server (aiosmtpd) that requires STARTTLS (a self-signed
certificate made here, trusted through `smtp_ca_file`) and AUTH; the received messages are
parsed back: subject, times in each recipient's zone, the ICS invitation (icalendar)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from icalendar import Calendar

from appliance.notify.outbox import backoff, deliver_due, requeue_dead
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.scheduling import service
from appliance.store import Store
from tests.conftest import Appliance
from tests.support.ports import free_port
from tests.support.scheduling_world import candidate_request, make_world
from tests.support.smtp_relay import RELAY_USER, Relay, start_relay


def use_relay(config: ApplianceConfig, relay: Relay) -> None:
    """Point the appliance's scheduling settings at the relay."""
    settings = config.scheduling
    settings.smtp_host = "127.0.0.1"
    settings.smtp_port = relay.port
    settings.smtp_starttls = True
    settings.smtp_ca_file = relay.ca_file
    settings.smtp_username = RELAY_USER
    settings.smtp_password_file = relay.password_file
    settings.min_notice_hours = 48


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    controller, running = start_relay(tmp_path)
    try:
        yield running
    finally:
        controller.stop()


def ics_of(message: EmailMessage) -> Calendar:
    """The invite.ics attachment, parsed with icalendar."""
    for part in message.iter_attachments():
        if part.get_filename() == "invite.ics":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return Calendar.from_ical(payload)
    raise AssertionError("no invite.ics attached")


def test_invitation_and_cancellation_reach_a_real_relay(
    appliance: Appliance, store: Store, relay: Relay
) -> None:
    use_relay(appliance.config, relay)
    world = make_world(store, appliance.config)
    interviewer = world.interviewers[0]
    with store.transaction():
        store.users.set_preferences(interviewer, language="en", timezone="America/New_York")
    request, _ = candidate_request(world, timezone="Asia/Kolkata")
    slot = service.find_slots(store, appliance.config, request, limit=1)[0]
    booking = service.candidate_book(store, appliance.config, request, slot.start)

    report = deliver_due(store, appliance.config.scheduling)
    # The link mail, the candidate's and the interviewer's invitations, the in-app note.
    assert (report.sent, report.dead, report.retried) == (4, 0, 0)
    assert relay.inbox.logins == 3
    candidate_mail = relay.inbox.to("asha@example.invalid")
    assert [m["Subject"].split(":")[0] for m in candidate_mail] == [
        "Choose a time for your interview",
        "Interview confirmed",
    ]
    invite = candidate_mail[1]
    kolkata = slot.start.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    wall = kolkata.strftime("%H:%M")
    assert wall in invite["Subject"] and "(Asia/Kolkata, UTC+05:30)" in invite["Subject"]
    body = invite.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "coding environment" in text and "/room/" in text and "/schedule/" in text
    outbox_row = store.outbox.by_key(f"booking:{booking.uid}:0:candidate:email")
    assert outbox_row is not None and invite["Message-ID"] == outbox_row.message_id
    calendar = ics_of(invite)
    assert str(calendar["METHOD"]) == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == booking.uid
    assert event.decoded("SEQUENCE") == 0
    assert event.decoded("DTSTART") == slot.start
    assert event.decoded("DTEND") == slot.end
    attendees = {str(a).lower() for a in event.get("ATTENDEE")}
    assert "mailto:asha@example.invalid" in attendees
    assert "mailto:interviewer0@example.invalid" in attendees
    inline = [p for p in invite.walk() if p.get_content_type() == "text/calendar"]
    assert inline and inline[0].get_param("method") == "REQUEST"
    # The interviewer reads the same time on New York clocks.
    staff = relay.inbox.to("interviewer0@example.invalid")[0]
    new_york = slot.start.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert new_york.strftime("%H:%M") in staff["Subject"]
    assert "(America/New_York, UTC-0" in staff["Subject"]

    cancelled = service.candidate_cancel(store, appliance.config, request)
    deliver_due(store, appliance.config.scheduling)
    cancel_mail = relay.inbox.to("asha@example.invalid")[-1]
    assert cancel_mail["Subject"].startswith("Interview cancelled")
    calendar = ics_of(cancel_mail)
    assert str(calendar["METHOD"]) == "CANCEL"
    event = calendar.walk("VEVENT")[0]
    assert (str(event["UID"]), event.decoded("SEQUENCE"), str(event["STATUS"])) == (
        booking.uid,
        cancelled.sequence,
        "CANCELLED",
    )
    assert cancelled.sequence == 1
    # In-app notifications were delivered with their messages, once each.
    assert [n.content["title"].split(":")[0] for n in store.inapp.for_user(interviewer)] == [
        "Interview cancelled",
        "Interview booked",
    ]


def test_relay_down_retries_with_back_off_then_dead_letters(
    appliance: Appliance, store: Store
) -> None:
    settings = appliance.config.scheduling
    settings.smtp_host, settings.smtp_port = "127.0.0.1", free_port()  # nothing listens
    settings.smtp_starttls = False
    settings.outbox_backoff_base_s = 30
    world = make_world(store, appliance.config, emails=False)
    candidate_request(world)
    report = deliver_due(store, settings)
    assert report.retried == 1
    [message] = store.outbox.all()
    assert (message.state, message.attempts) == ("pending", 1)
    assert message.last_error == "ConnectionRefusedError during connect"
    waited = (
        dt.datetime.strptime(message.next_attempt_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=dt.UTC
        )
        - dt.datetime.now(dt.UTC)
    ).total_seconds()
    assert 20 < waited <= 30  # the first retry waits the base delay
    assert [backoff(settings, n) for n in (1, 2, 3, 9)] == [30, 60, 120, 3600]
    # Not due yet: nothing is tried.
    assert deliver_due(store, settings).retried == 0
    settings.outbox_backoff_base_s = 0
    with store.transaction():  # time passes: the retry is due
        store.conn.execute("UPDATE outbox SET next_attempt_at = ?", (now_stamp(),))
    for _ in range(settings.outbox_max_attempts):
        deliver_due(store, settings)
    [message] = store.outbox.all()
    assert (message.state, message.dead_reason, message.attempts) == (
        "dead",
        "attempts_exhausted",
        settings.outbox_max_attempts,
    )
    assert [a.phase for a in store.outbox.attempts(message.id)] == ["failed"] * 6


def test_refused_recipient_and_bad_password_are_dead_letters_a_person_can_resend(
    appliance: Appliance, store: Store, relay: Relay
) -> None:
    use_relay(appliance.config, relay)
    relay.inbox.refuse.add("asha@example.invalid")
    world = make_world(store, appliance.config, emails=False)
    candidate_request(world)
    deliver_due(store, appliance.config.scheduling)
    [message] = store.outbox.all()
    assert (message.state, message.dead_reason, message.attempts) == ("dead", "rejected", 1)
    assert relay.inbox.messages == []
    assert "asha" not in (message.last_error or "")  # no address in the error text

    relay.inbox.refuse.clear()
    resent = requeue_dead(store, world.hr, message.id)
    assert resent.state == "pending"
    deliver_due(store, appliance.config.scheduling)
    assert store.outbox.get(message.id).state == "sent"
    assert relay.inbox.messages[0]["Message-ID"] == message.message_id

    appliance.config.scheduling.smtp_password_file = relay.password_file.parent / "wrong"
    relay.password_file.with_name("wrong").write_text("not the password\n")
    candidate_request(world, "Second Person", email="second@example.invalid")
    deliver_due(store, appliance.config.scheduling)
    second = next(m for m in store.outbox.all() if m.id != message.id)
    assert (second.state, second.dead_reason) == ("dead", "rejected")
    assert second.last_error == "the relay answered 535 at AUTH"


def test_a_message_that_cannot_be_composed_is_dead_lettered_with_its_reason(
    appliance: Appliance, store: Store, relay: Relay
) -> None:
    # A line break in a name that reached the store another way (an old row, a direct write)
    # would split the To header: the composer refuses it. The outbox must not leave it
    # "sending" to fail again after every restart, and must say why to a person.
    use_relay(appliance.config, relay)
    world = make_world(store, appliance.config, emails=False)
    candidate_request(world, "Asha\r\nBcc: someone@evil.example", email="asha@example.invalid")
    deliver_due(store, appliance.config.scheduling)
    [message] = store.outbox.all()
    assert (message.state, message.dead_reason, message.attempts) == ("dead", "rejected", 1)
    assert (message.last_error or "").startswith("the message cannot be composed")
    assert "evil" not in (message.last_error or "")  # the fault, never the text
    assert relay.inbox.messages == []
    assert deliver_due(store, appliance.config.scheduling).sent == 0
    assert store.outbox.get(message.id).state == "dead"
