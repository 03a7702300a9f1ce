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
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.scheduling.ics import Invitation, build_invitation
from appliance.scheduling.links import Signers, issue_room_token, issue_scheduling_link
from appliance.scheduling.render import render_time
from appliance.store import Store
from appliance.store.compliance import compliance_of
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


def booking_messages(
    store: Store,
    config: ApplianceConfig,
    signers: Signers,
    request: SchedulingRequest,
    booking: Booking,
    event: Event,
    *,
    created_by: int,
) -> None:
    """Queue invitations (or cancellations) and reminders for a booking event."""
    settings = config.scheduling
    who = parties(store, request)
    base = settings.public_base_url.rstrip("/")
    zone_name, lang = request.candidate_timezone, who.language
    start, end = booking.start, booking.end
    when, until = render_time(start, zone_name, lang), render_time(end, zone_name, lang)
    notice = notice_text(store, who.region, lang)
    method: Literal["REQUEST", "CANCEL"] = "CANCEL" if event == "cancelled" else "REQUEST"
    room = manage = ""
    if event != "cancelled":
        room_token = issue_room_token(
            store,
            signers,
            request.interview_id,
            created_by=created_by,
            expires=end + timedelta(days=1),
        )
        room = f"{base}/room/{room_token}"
        manage = f"{base}/schedule/" + issue_scheduling_link(
            store, signers, request.id, created_by=created_by, expires=end
        )
    cutoff = render_time(start - timedelta(hours=settings.reschedule_cutoff_hours), zone_name, lang)
    staff = [store.users.get(user_id) for user_id in booking.attendees]
    attendees = (
        (who.candidate_name, who.candidate_email or ""),
        *((u.display_name, u.email or "") for u in staff),
    )
    attendees = tuple(a for a in attendees if a[1])
    key = f"booking:{booking.uid}:{booking.sequence}"

    def invitation(description: str, location: str) -> str:
        return build_invitation(
            Invitation(
                uid=booking.uid,
                sequence=booking.sequence,
                start=start,
                end=end,
                summary=f"Interview: {who.position} (round {who.round})",
                description=description,
                location=location,
                organizer_email=settings.smtp_sender,
                organizer_name=config.site.name,
                attendees=attendees,
                url=location,
            ),
            method,
        ).decode("utf-8")

    purpose = {"booked": "invitation", "rescheduled": "rescheduled", "cancelled": "cancelled"}[
        event
    ]
    subject, body = render(
        purpose,
        lang,
        {
            "name": who.candidate_name,
            "position": who.position,
            "when": when,
            "until": until,
            "room": room,
            "prepare": prepare_text(who.role_family, lang),
            "cutoff": cutoff,
            "link": manage,
            "notice": notice,
        },
    )
    common: dict[str, Any] = {
        "candidate_id": who.candidate_id,
        "interview_id": request.interview_id,
    }
    if who.candidate_email:
        enqueue(
            store,
            settings,
            message_key=f"{key}:candidate:email",
            channel="email",
            purpose=purpose,
            user_id=None,
            **common,
            payload={
                "to": who.candidate_email,
                "to_name": who.candidate_name,
                "subject": subject,
                "text": body,
                "ics": invitation(body, room),
                "method": method,
            },
        )
    if who.candidate_phone and settings.sms_gateway_url:
        enqueue(
            store,
            settings,
            message_key=f"{key}:candidate:sms",
            channel="sms",
            purpose=purpose,
            user_id=None,
            **common,
            payload={"to": who.candidate_phone, "text": subject},
        )
    profile_url = f"{base}/candidates/{who.candidate_id}"
    staff_purpose = "staff_cancelled" if event == "cancelled" else "staff_booked"
    for user in staff:
        u_zone, u_lang = user.timezone or "UTC", language_of(user.language)
        u_subject, u_body = render(
            staff_purpose,
            u_lang,
            {
                "name": user.display_name,
                "position": who.position,
                "round": who.round,
                "when": render_time(start, u_zone, u_lang),
                "until": render_time(end, u_zone, u_lang),
                "link": profile_url,
            },
        )
        if user.email:
            enqueue(
                store,
                settings,
                message_key=f"{key}:user:{user.id}:email",
                channel="email",
                purpose=staff_purpose,
                user_id=user.id,
                **common,
                payload={
                    "to": user.email,
                    "to_name": user.display_name,
                    "subject": u_subject,
                    "text": u_body,
                    "ics": invitation(u_body, profile_url),
                    "method": method,
                },
            )
        enqueue(
            store,
            settings,
            message_key=f"{key}:user:{user.id}:inapp",
            channel="inapp",
            purpose=staff_purpose,
            user_id=user.id,
            **common,
            payload={"title": u_subject, "text": u_body, "link": f"/candidates/{who.candidate_id}"},
        )
    # Reminders of the old time are void; new ones follow the new time.
    store.outbox.cancel_pending(f"reminder:{booking.uid}:")
    if event != "cancelled":
        queue_reminders(store, config, request, booking, who, room)


def queue_reminders(
    store: Store,
    config: ApplianceConfig,
    request: SchedulingRequest,
    booking: Booking,
    who: Parties,
    room: str,
) -> int:
    """Reminders at the configured offsets before the interview (future ones only)."""
    settings = config.scheduling
    now = utcnow()
    queued = 0
    common: dict[str, Any] = {
        "candidate_id": who.candidate_id,
        "interview_id": request.interview_id,
    }
    for offset in sorted(set(settings.reminder_offsets_hours), reverse=True):
        at: datetime = booking.start - timedelta(hours=offset)
        if at <= now:
            continue
        key = f"reminder:{booking.uid}:{booking.sequence}:{offset:g}h"
        timing: dict[str, Any] = {"not_before": to_stamp(at)}
        zone_name, lang = request.candidate_timezone, who.language
        subject, body = render(
            "reminder",
            lang,
            {
                "name": who.candidate_name,
                "position": who.position,
                "when": render_time(booking.start, zone_name, lang),
                "room": room,
                "prepare": prepare_text(who.role_family, lang),
            },
        )
        expiry = {"expires_at": booking.starts_at}
        if who.candidate_email:
            enqueue(
                store,
                settings,
                message_key=f"{key}:candidate:email",
                channel="email",
                purpose="reminder",
                user_id=None,
                **common,
                **timing,
                payload={
                    "to": who.candidate_email,
                    "to_name": who.candidate_name,
                    "subject": subject,
                    "text": body,
                    **expiry,
                },
            )
            queued += 1
        if who.candidate_phone and settings.sms_gateway_url:
            enqueue(
                store,
                settings,
                message_key=f"{key}:candidate:sms",
                channel="sms",
                purpose="reminder",
                user_id=None,
                **common,
                **timing,
                payload={"to": who.candidate_phone, "text": subject, **expiry},
            )
            queued += 1
        for user_id in booking.attendees:
            user = store.users.get(user_id)
            u_zone, u_lang = user.timezone or "UTC", language_of(user.language)
            u_subject, u_body = render(
                "staff_reminder",
                u_lang,
                {
                    "name": user.display_name,
                    "position": who.position,
                    "when": render_time(booking.start, u_zone, u_lang),
                    "link": f"{settings.public_base_url.rstrip('/')}/candidates/{who.candidate_id}",
                },
            )
            channel = "email" if user.email else "inapp"
            payload = (
                {
                    "to": user.email,
                    "to_name": user.display_name,
                    "subject": u_subject,
                    "text": u_body,
                }
                if user.email
                else {"title": u_subject, "text": u_body, "link": f"/candidates/{who.candidate_id}"}
            )
            enqueue(
                store,
                settings,
                message_key=f"{key}:user:{user_id}:{channel}",
                channel=channel,
                purpose="staff_reminder",
                user_id=user_id,
                **common,
                **timing,
                payload={**payload, **expiry},
            )
            queued += 1
    return queued
