"""iCalendar (RFC 5545): invitations out (METHOD REQUEST / CANCEL with SEQUENCE) and busy
times in (from an ICS file or CalDAV data, recurring events expanded)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar, Event, vCalAddress, vText

from appliance.platform.errors import ApplianceError
from appliance.scheduling.model import merge_intervals
from appliance.scheduling.zones import to_instant, zone

PRODID = "-//Interview Appliance//Scheduling//EN"
MAX_ICS_BYTES = 5 * 1024 * 1024


class CalendarImportError(ApplianceError):
    """A calendar file or server answer that cannot be read as iCalendar."""

    exit_code = 23


@dataclass(frozen=True)
class Invitation:
    """What a calendar invitation says."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    location: str
    organizer_email: str
    organizer_name: str
    attendees: tuple[tuple[str, str], ...]  # (name, email)
    url: str = ""


def build_invitation(invitation: Invitation, method: Literal["REQUEST", "CANCEL"]) -> bytes:
    """An iTIP message (RFC 5546) with one VEVENT, times in UTC so every client agrees."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", invitation.uid)
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    event.add("dtstart", invitation.start.astimezone(UTC))
    event.add("dtend", invitation.end.astimezone(UTC))
    event.add("summary", invitation.summary)
    event.add("description", invitation.description)
    if invitation.location:
        event.add("location", invitation.location)
    if invitation.url:
        event.add("url", invitation.url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{invitation.organizer_email}")
    organizer.params["cn"] = vText(invitation.organizer_name)
    event.add("organizer", organizer)
    for name, email in invitation.attendees:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["cn"] = vText(name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _aware(value: date | datetime, tz_name: str, *, edge: Literal["start", "end"]) -> datetime:
    """An iCalendar time as UTC: floating times and all-day dates are in the person's zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return to_instant(value.date(), value.time(), zone(tz_name), edge=edge)
        return value.astimezone(UTC)
    return to_instant(value, time(0), zone(tz_name), edge=edge)


def _events(calendar: Any, start: datetime, end: datetime) -> Iterable[Any]:
    try:
        return list(recurring_ical_events.of(calendar).between(start, end))
    except Exception as exc:  # the library raises many kinds for bad recurrence data
        raise CalendarImportError(
            f"the calendar's recurring events cannot be expanded: {type(exc).__name__}"
        ) from None


def busy_times(
    data: bytes | str, tz_name: str, *, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Busy intervals (UTC, merged, clipped to [start, end)) of an iCalendar document.

    Transparent (free) and cancelled events do not count; all-day events fill the person's
    local day; nothing but the times is kept (no titles, no attendees).
    """
    if len(data) > MAX_ICS_BYTES:
        raise CalendarImportError("the calendar is larger than 5 MiB")
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarImportError(f"not an iCalendar file: {exc}") from None
    if not calendars:
        raise CalendarImportError("not an iCalendar file: no VCALENDAR")
    found: list[tuple[datetime, datetime]] = []
    for calendar in calendars:
        for event in _events(calendar, start, end):
            if str(event.get("transp", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(event.get("status", "")).upper() == "CANCELLED":
                continue
            if event.get("dtstart") is None:
                continue
            begin = event.decoded("dtstart")
            if event.get("dtend") is not None:
                finish = event.decoded("dtend")
            elif event.get("duration") is not None:
                finish = begin + event.decoded("duration")
            else:
                finish = begin + (
                    timedelta(days=1) if not isinstance(begin, datetime) else timedelta(0)
                )
            low = _aware(begin, tz_name, edge="start")
            high = _aware(finish, tz_name, edge="end")
            low, high = max(low, start), min(high, end)
            if high > low:
                found.append((low, high))
    return merge_intervals(found)
