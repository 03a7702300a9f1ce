"""What the outbox is given when a booking is made, moved or cancelled, and for reminders.

Every recipient gets their own copy in their own zone and language: the candidate by e-mail
(with the calendar invitation) and SMS, each interviewer by e-mail (invitation too) and in-app.
Message keys make enqueueing idempotent: the same event never queues a message twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from appliance.notify.outbox import enqueue
from appliance.notify.templates import language_of, prepare_text, render
from appliance.platform.clock import from_stamp, to_stamp, utcnow
from appliance.platform.config import ApplianceConfig, SchedulingConfig
from appliance.scheduling.capacity import room_opening
from appliance.scheduling.ics import Invitation, build_invitation
from appliance.scheduling.links import Signers, issue_room_token, issue_scheduling_link
from appliance.scheduling.render import render_time
from appliance.store import Store
from appliance.store.compliance import compliance_of
from appliance.store.people import User
from appliance.store.scheduling import Booking, SchedulingRequest

Event = Literal["booked", "rescheduled", "cancelled"]


@dataclass(frozen=True)
class Parties:
    """Who a booking concerns, read once."""

    candidate_id: int
    candidate_name: str
    candidate_email: str | None
    candidate_phone: str | None
    language: str
    position: str
    region: str
    round: int
    role_family: str


def parties(store: Store, request: SchedulingRequest) -> Parties:
    """The candidate, position and round of a request."""
    interview = store.interviews.get(request.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    requisition = store.requisitions.get(interview.requisition_id)
    kind = store.scheduling.get_type(request.type_id)
    return Parties(
        candidate.id,
        candidate.full_name,
        candidate.email,
        candidate.phone,
        language_of(interview.language or candidate.language),
        requisition.title,
        requisition.region,
        interview.round,
        kind.role_family,
    )


def notice_text(store: Store, region: str, language: str) -> str:
    """The region's published notice, as a line for messages ('' when none is published)."""
    notice = compliance_of(store).notices.latest_published(region, language)
    if notice is None and language != "en":
        notice = compliance_of(store).notices.latest_published(region, "en")
    if notice is None:
        return ""
    return f"\n{notice.title}\n{notice.purposes}\n{notice.rights}\n"


def schedule_invite(
    store: Store,
    config: ApplianceConfig,
    signers: Signers,
    request: SchedulingRequest,
    *,
    created_by: int | None,
) -> str:
    """Issue a self-scheduling link and queue the mail asking the candidate to pick a time;
    returns the link's URL (inside the caller's transaction)."""
    settings = config.scheduling
    who = parties(store, request)
    expires = utcnow() + timedelta(hours=settings.link_valid_hours)
    token = issue_scheduling_link(
        store, signers, request.id, created_by=created_by, expires=expires
    )
    url = f"{settings.public_base_url.rstrip('/')}/schedule/{token}"
    subject, body = render(
        "schedule_invite",
        who.language,
        {
            "name": who.candidate_name,
            "position": who.position,
            "round": who.round,
            "zone": request.candidate_timezone,
            "link": url,
            "valid_until": render_time(expires, request.candidate_timezone, who.language),
            "notice": notice_text(store, who.region, who.language),
        },
    )
    enqueue(
        store,
        settings,
        message_key=f"schedule-invite:{request.id}:{token[-16:]}",
        channel="email",
        purpose="schedule_invite",
        candidate_id=who.candidate_id,
        interview_id=request.interview_id,
        user_id=None,
        payload={
            "to": who.candidate_email,
            "to_name": who.candidate_name,
            "subject": subject,
            "text": body,
        },
    )
    return url


_PURPOSES: dict[Event, str] = {
    "booked": "invitation",
    "rescheduled": "rescheduled",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class _Sender:
    """Queues the messages of one event under one key prefix, for one candidate's interview."""

    store: Store
    settings: SchedulingConfig
    key: str
    candidate_id: int
    interview_id: int
    not_before: str | None = None

    def send(
        self, suffix: str, channel: str, purpose: str, user_id: int | None, payload: dict[str, Any]
    ) -> None:
        """Enqueue one message keyed `<key>:<suffix>` (idempotent by that key)."""
        enqueue(
            self.store,
            self.settings,
            message_key=f"{self.key}:{suffix}",
            channel=channel,
            purpose=purpose,
            candidate_id=self.candidate_id,
            interview_id=self.interview_id,
            user_id=user_id,
            payload=payload,
            not_before=self.not_before,
        )


@dataclass(frozen=True)
class _Invite:
    """The calendar invitation (or cancellation) of a booking, rendered per recipient."""

    config: ApplianceConfig
    booking: Booking
    who: Parties
    method: Literal["REQUEST", "CANCEL"]
    attendees: tuple[tuple[str, str], ...]

    def ics(self, description: str, location: str) -> str:
        """The iCalendar text with a recipient's own description and location."""
        return build_invitation(
            Invitation(
                uid=self.booking.uid,
                sequence=self.booking.sequence,
                start=self.booking.start,
                end=self.booking.end,
                summary=f"Interview: {self.who.position} (round {self.who.round})",
                description=description,
                location=location,
                organizer_email=self.config.scheduling.smtp_sender,
                organizer_name=self.config.site.name,
                attendees=self.attendees,
                url=location,
            ),
            self.method,
        ).decode("utf-8")


@dataclass(frozen=True)
class _Links:
    """The links of a (not cancelled) booking: its room, when that room opens if admission
    control put it after the booked time (None: in time), and the manage-booking page."""

    room: str
    opens_at: str | None
    manage: str


def _booking_links(
    store: Store,
    config: ApplianceConfig,
    signers: Signers,
    request: SchedulingRequest,
    booking: Booking,
    *,
    created_by: int,
) -> _Links:
    """Issue the room link (opening as admission control says) and the manage-booking link."""
    base = config.scheduling.public_base_url.rstrip("/")
    opens_at = room_opening(store, config, interview_id=request.interview_id, booked=booking.start)
    # A room that opens late keeps the whole interview's length, and a day's grace, after it.
    ends = booking.end if opens_at is None else from_stamp(opens_at) + (booking.end - booking.start)
    room_token = issue_room_token(
        store,
        signers,
        request.interview_id,
        created_by=created_by,
        expires=ends + timedelta(days=1),
        opens_at=opens_at,
    )
    manage = f"{base}/schedule/" + issue_scheduling_link(
        store, signers, request.id, created_by=created_by, expires=booking.end
    )
    return _Links(f"{base}/room/{room_token}", opens_at, manage)


def _opening_note(
    opens_at: str | None, timezone: str, language: str, *, message: str = "room_opens_later"
) -> tuple[str, str]:
    """(a short line for SMS, a paragraph for mail) saying when a late room opens; empty when
    it opens in time. `message`: the candidate's wording, or the interviewers'."""
    if opens_at is None:
        return "", ""
    opens = render_time(from_stamp(opens_at), timezone, language)
    line, paragraph = render(message, language, {"opens": opens})
    return line, paragraph.strip()


def _attendees(who: Parties, staff: list[User]) -> tuple[tuple[str, str], ...]:
    """(name, e-mail) of everyone on the invitation; those without an address are left out."""
    everyone = (
        (who.candidate_name, who.candidate_email or ""),
        *((u.display_name, u.email or "") for u in staff),
    )
    return tuple(a for a in everyone if a[1])


def _queue_candidate_booking(
    sender: _Sender,
    invite: _Invite,
    request: SchedulingRequest,
    purpose: str,
    *,
    links: _Links | None,
    notice: str,
) -> None:
    """The candidate's e-mail (with the invitation) and SMS about a booking event."""
    settings, who, booking = sender.settings, invite.who, invite.booking
    zone_name, lang = request.candidate_timezone, who.language
    cutoff_at = booking.start - timedelta(hours=settings.reschedule_cutoff_hours)
    room = links.room if links else ""
    line, paragraph = _opening_note(links.opens_at if links else None, zone_name, lang)
    subject, body = render(
        purpose,
        lang,
        {
            "name": who.candidate_name,
            "position": who.position,
            "when": render_time(booking.start, zone_name, lang),
            "until": render_time(booking.end, zone_name, lang),
            "room": room,
            "opening": f"\n{paragraph}" if paragraph else "",
            "prepare": prepare_text(who.role_family, lang),
            "cutoff": render_time(cutoff_at, zone_name, lang),
            "link": links.manage if links else "",
            "notice": notice,
        },
    )
    if who.candidate_email:
        payload = {
            "to": who.candidate_email,
            "to_name": who.candidate_name,
            "subject": subject,
            "text": body,
            "ics": invite.ics(body, room),
            "method": invite.method,
        }
        sender.send("candidate:email", "email", purpose, None, payload)
    if who.candidate_phone and settings.sms_gateway_url:
        sms = {"to": who.candidate_phone, "text": f"{subject}\n{line}" if line else subject}
        sender.send("candidate:sms", "sms", purpose, None, sms)


def _queue_staff_booking(
    sender: _Sender,
    invite: _Invite,
    user: User,
    purpose: str,
    profile_url: str,
    opens_at: str | None = None,
) -> None:
    """An interviewer's e-mail (with the invitation, when they have an address) and in-app note;
    `opens_at`: when the candidate's room opens, where that is later than the booked time."""
    who, booking = invite.who, invite.booking
    u_zone, u_lang = user.timezone or "UTC", language_of(user.language)
    _, paragraph = _opening_note(opens_at, u_zone, u_lang, message="staff_room_opens_later")
    subject, body = render(
        purpose,
        u_lang,
        {
            "name": user.display_name,
            "position": who.position,
            "round": who.round,
            "when": render_time(booking.start, u_zone, u_lang),
            "until": render_time(booking.end, u_zone, u_lang),
            "link": profile_url,
            "opening": f"\n{paragraph}" if paragraph else "",
        },
    )
    if user.email:
        payload = {
            "to": user.email,
            "to_name": user.display_name,
            "subject": subject,
            "text": body,
            "ics": invite.ics(body, profile_url),
            "method": invite.method,
        }
        sender.send(f"user:{user.id}:email", "email", purpose, user.id, payload)
    note = {"title": subject, "text": body, "link": f"/candidates/{who.candidate_id}"}
    sender.send(f"user:{user.id}:inapp", "inapp", purpose, user.id, note)


def booking_messages(
    store: Store,
    config: ApplianceConfig,
    signers: Signers,
    request: SchedulingRequest,
    booking: Booking,
    event: Event,
    *,
    created_by: int,
) -> str | None:
    """Queue invitations (or cancellations) and reminders for a booking event; returns when
    the booking's room opens where admission control put that after the booked time."""
    settings = config.scheduling
    who = parties(store, request)
    base = settings.public_base_url.rstrip("/")
    notice = notice_text(store, who.region, who.language)
    method: Literal["REQUEST", "CANCEL"] = "CANCEL" if event == "cancelled" else "REQUEST"
    links = None
    if event != "cancelled":
        links = _booking_links(store, config, signers, request, booking, created_by=created_by)
    staff = [store.users.get(user_id) for user_id in booking.attendees]
    invite = _Invite(config, booking, who, method, _attendees(who, staff))
    sender = _Sender(
        store,
        settings,
        f"booking:{booking.uid}:{booking.sequence}",
        who.candidate_id,
        request.interview_id,
    )
    _queue_candidate_booking(sender, invite, request, _PURPOSES[event], links=links, notice=notice)
    profile_url = f"{base}/candidates/{who.candidate_id}"
    staff_purpose = "staff_cancelled" if event == "cancelled" else "staff_booked"
    for user in staff:
        _queue_staff_booking(
            sender, invite, user, staff_purpose, profile_url, links.opens_at if links else None
        )
    # Reminders of the old time are void; new ones follow the new time.
    store.outbox.cancel_pending(f"reminder:{booking.uid}:")
    if links is None:
        return None
    queue_reminders(store, config, request, booking, who, links.room, opens_at=links.opens_at)
    return links.opens_at


def _queue_candidate_reminders(
    sender: _Sender,
    request: SchedulingRequest,
    booking: Booking,
    who: Parties,
    room: str,
    opens_at: str | None,
) -> int:
    """The candidate's reminder by e-mail and SMS; returns how many were queued."""
    settings = sender.settings
    zone_name, lang = request.candidate_timezone, who.language
    line, paragraph = _opening_note(opens_at, zone_name, lang)
    subject, body = render(
        "reminder",
        lang,
        {
            "name": who.candidate_name,
            "position": who.position,
            "when": render_time(booking.start, zone_name, lang),
            "room": room,
            "opening": f"\n{paragraph}" if paragraph else "",
            "prepare": prepare_text(who.role_family, lang),
        },
    )
    # A reminder that has not gone out by the start of the interview is no use any more.
    expiry = {"expires_at": booking.starts_at}
    queued = 0
    if who.candidate_email:
        payload = {
            "to": who.candidate_email,
            "to_name": who.candidate_name,
            "subject": subject,
            "text": body,
            **expiry,
        }
        sender.send("candidate:email", "email", "reminder", None, payload)
        queued += 1
    if who.candidate_phone and settings.sms_gateway_url:
        text = f"{subject}\n{line}" if line else subject
        sms = {"to": who.candidate_phone, "text": text, **expiry}
        sender.send("candidate:sms", "sms", "reminder", None, sms)
        queued += 1
    return queued


def _queue_staff_reminder(sender: _Sender, booking: Booking, who: Parties, user_id: int) -> None:
    """An interviewer's reminder: by e-mail when they have an address, otherwise in-app."""
    user = sender.store.users.get(user_id)
    u_zone, u_lang = user.timezone or "UTC", language_of(user.language)
    subject, body = render(
        "staff_reminder",
        u_lang,
        {
            "name": user.display_name,
            "position": who.position,
            "when": render_time(booking.start, u_zone, u_lang),
            "link": f"{sender.settings.public_base_url.rstrip('/')}/candidates/{who.candidate_id}",
        },
    )
    channel = "email" if user.email else "inapp"
    payload = (
        {
            "to": user.email,
            "to_name": user.display_name,
            "subject": subject,
            "text": body,
        }
        if user.email
        else {"title": subject, "text": body, "link": f"/candidates/{who.candidate_id}"}
    )
    expiry = {"expires_at": booking.starts_at}
    sender.send(
        f"user:{user_id}:{channel}", channel, "staff_reminder", user_id, {**payload, **expiry}
    )


def queue_reminders(
    store: Store,
    config: ApplianceConfig,
    request: SchedulingRequest,
    booking: Booking,
    who: Parties,
    room: str,
    *,
    opens_at: str | None = None,
) -> int:
    """Reminders at the configured offsets before the interview (future ones only); a room
    that opens after the booked time (`opens_at`) is said so."""
    settings = config.scheduling
    now = utcnow()
    queued = 0
    for offset in sorted(set(settings.reminder_offsets_hours), reverse=True):
        at: datetime = booking.start - timedelta(hours=offset)
        if at <= now:
            continue
        sender = _Sender(
            store,
            settings,
            f"reminder:{booking.uid}:{booking.sequence}:{offset:g}h",
            who.candidate_id,
            request.interview_id,
            not_before=to_stamp(at),
        )
        queued += _queue_candidate_reminders(sender, request, booking, who, room, opens_at)
        for user_id in booking.attendees:
            _queue_staff_reminder(sender, booking, who, user_id)
            queued += 1
    return queued
