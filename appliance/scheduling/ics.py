"""iCalendar (RFC 5545): invitations out (METHOD REQUEST / CANCEL with SEQUENCE) and busy
times in (from an ICS file or CalDAV data: events, recurring ones expanded, and free/busy
periods). An event that cannot be read is left out and named; the rest of the file counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar, Event, vCalAddress, vPeriod, vText
from icalendar.parser import Contentlines
from icalendar.parser_tools import to_unicode

from appliance.platform.errors import ApplianceError
from appliance.scheduling.model import merge_intervals
from appliance.scheduling.zones import ZoneError, to_instant, zone

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


# --- busy times in -----------------------------------------------------------------------------

SkipReason = Literal["no-start", "unreadable-time", "unreadable-repetition", "unreadable-period"]
# Damage to these makes an event's time, or which times it repeats at, unknowable.
_TIME_PROPERTIES = frozenset({"DTSTART", "DTEND", "DURATION"})
_REPEAT_PROPERTIES = frozenset({"RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID"})
# The DURATION as written, carried into every occurrence (the library drops DURATION from the
# occurrences it makes). Set on the parsed copy only, never written anywhere.
_WRITTEN_DURATION = "X-APPLIANCE-WRITTEN-DURATION"
_DURATION_TEXT = re.compile(
    r"([-+]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
_NAME_LENGTH = 80


@dataclass(frozen=True)
class SkippedEvent:
    """Something an import left out and why: an event, by its summary (else UID, else "") and
    its place among the file's events (from 1), or a free/busy block (place 0)."""

    name: str
    position: int
    reason: SkipReason


@dataclass(frozen=True)
class BusyImport:
    """What one iCalendar document gave: merged busy intervals and what was left out."""

    intervals: list[tuple[datetime, datetime]]
    skipped: tuple[SkippedEvent, ...] = ()
    events: int = 0  # event occurrences that made busy time
    periods: int = 0  # free/busy periods that made busy time


@dataclass(frozen=True)
class _Duration:
    """A duration as RFC 5545 3.3.6 reads it: days and weeks are nominal (added on the wall
    clock, so a day across a DST change lasts 23 or 25 hours); hours, minutes and seconds are
    exact (added in real time)."""

    days: int
    exact: timedelta

    @classmethod
    def written(cls, text: str) -> _Duration | None:
        """The duration a DURATION text says (None if it says none)."""
        match = _DURATION_TEXT.fullmatch(text.strip().upper())
        if match is None:
            return None
        sign = -1 if match.group(1) == "-" else 1
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
        exact = timedelta(hours=hours, minutes=minutes, seconds=seconds)
        return cls(sign * (7 * weeks + days), sign * exact)

    @classmethod
    def parsed(cls, value: timedelta) -> _Duration:
        """From a parsed timedelta, whose text is gone: its whole days are taken as nominal."""
        if value < timedelta(0):
            positive = cls.parsed(-value)
            return cls(-positive.days, -positive.exact)
        return cls(value.days, value - timedelta(days=value.days))

    def on_wall_clock(self) -> timedelta:
        """All of it as one timedelta (what wall-clock arithmetic adds)."""
        return timedelta(days=self.days) + self.exact


def _aware(value: date | datetime, tz_name: str, *, edge: Literal["start", "end"]) -> datetime:
    """An iCalendar time as UTC: floating times and all-day dates are in the person's zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return to_instant(value.date(), value.time(), zone(tz_name), edge=edge)
        return value.astimezone(UTC)
    return to_instant(value, time(0), zone(tz_name), edge=edge)


def _plus(begin: date | datetime, duration: _Duration, tz_name: str) -> date | datetime:
    """`begin` + `duration`: the days on the wall clock, the rest in real time."""
    if not isinstance(begin, datetime):
        if not duration.exact:
            return begin + timedelta(days=duration.days)
        begin = datetime.combine(begin, time(0))  # hours after an all-day start: from midnight
    # Python adds to a naive or zoned datetime on its wall clock: right for the days.
    wall = begin + timedelta(days=duration.days)
    if not duration.exact:
        return wall
    return _aware(wall, tz_name, edge="start") + duration.exact


def _written_durations(data: bytes | str) -> list[str | None]:
    """Each VEVENT's DURATION as written, in document order: the parsed value is a timedelta,
    which cannot tell a nominal P1D from an exact PT24H."""
    found: list[str | None] = []
    open_components: list[str] = []
    try:
        lines = Contentlines.from_ical(to_unicode(data))  # type: ignore[no-untyped-call]
    except ValueError:
        return []
    for line in lines:
        if not line[:8].upper().startswith(("BEGIN", "END", "DURATION")):
            continue
        try:
            name, _, value = line.parts()
        except ValueError:
            continue
        name, value = name.upper(), str(value)
        if name == "BEGIN":
            open_components.append(value.upper())
            if value.upper() == "VEVENT":
                found.append(None)
        elif name == "END" and open_components:
            open_components.pop()
        elif name == "DURATION" and open_components[-1:] == ["VEVENT"] and found:
            found[-1] = value
    return found


def _name(component: Any) -> str:
    """What a person knows an event by: its summary, else its UID ("" when neither)."""
    for key in ("SUMMARY", "UID"):
        text = " ".join(str(component.get(key, "")).split())
        if text:
            return text[:_NAME_LENGTH]
    return ""


def _problem(event: Any, duration: _Duration | None, tz_name: str) -> SkipReason | None:
    """Why an event cannot count as busy time (None when it can). An end before the start is
    not one: the library swaps the two, as calendars in the wild need."""
    broken = {str(name).upper() for name, _ in getattr(event, "errors", [])}
    if event.get("DTSTART") is None:
        return "no-start"
    if broken & _TIME_PROPERTIES:
        return "unreadable-time"
    if broken & _REPEAT_PROPERTIES:
        return "unreadable-repetition"
    try:
        begin = event.decoded("DTSTART")
        finish = event.decoded("DTEND") if event.get("DTEND") is not None else begin
        length = event.decoded("DURATION") if event.get("DURATION") is not None else None
        if not isinstance(begin, date) or not isinstance(finish, date):
            return "unreadable-time"
        if length is not None:
            if not isinstance(length, timedelta):
                return "unreadable-time"
            # The end must be a time Python can hold (a huge duration ends after 9999).
            _plus(begin, duration or _Duration.parsed(length), tz_name)
    except (ValueError, TypeError, KeyError, OverflowError):
        return "unreadable-time"
    return None


def _series_key(event: Any) -> str:
    # The library groups a series by UID; an event without one is a series of its own.
    return str(event.get("UID") or f"#{id(event)}")


def _local_like(value: Any, start: date | datetime, tz_name: str) -> Any:
    """An EXDATE, RDATE or RECURRENCE-ID value in the kind of its series' start: an instant
    becomes the owner's wall time in a floating series and their local date in an all-day one
    (left alone, the library would read the whole series as UTC)."""
    if isinstance(value, tuple):  # an RDATE period
        return tuple(_local_like(part, start, tz_name) for part in value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        return value
    if isinstance(start, datetime) and start.tzinfo is not None:
        return value
    local = value.astimezone(zone(tz_name)).replace(tzinfo=None)
    return local if isinstance(start, datetime) else local.date()


def _follow_start(event: Any, start: date | datetime, tz_name: str) -> None:
    """Give the event's EXDATE, RDATE and RECURRENCE-ID values the kind of the series' start."""
    for key in ("EXDATE", "RDATE"):
        value = event.get(key)
        for listed in value if isinstance(value, list) else [value] if value is not None else []:
            for item in listed.dts:
                item.dt = _local_like(item.dt, start, tz_name)
    recurrence_id = event.get("RECURRENCE-ID")
    if recurrence_id is not None:
        recurrence_id.dt = _local_like(recurrence_id.dt, start, tz_name)


def _declared_zone(calendar: Any) -> str | None:
    """The zone a calendar names for itself (X-WR-TIMEZONE) if it is one the appliance knows."""
    name = calendar.get("X-WR-TIMEZONE") if calendar.name == "VCALENDAR" else None
    try:
        return zone(str(name)).key if name is not None else None
    except ZoneError:
        return None


def _with_events(calendar: Any, events: list[Any]) -> Calendar:
    """The calendar's properties and time zones with only the given events."""
    part = Calendar()
    if calendar.name == "VCALENDAR":
        part.update(calendar)
        # The library reads floating and UTC times in the named zone; one it cannot find
        # would fail every event, so the owner's zone is used instead.
        if _declared_zone(calendar) is None:
            part.pop("X-WR-TIMEZONE", None)
    part.subcomponents = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"] + events
    return part


def _expand(
    calendar: Any, events: list[Any], start: datetime, end: datetime
) -> tuple[list[Any], list[Any]]:
    """Occurrences of the events between start and end, and the first event of each series
    whose repetitions cannot be worked out."""
    try:
        return list(
            recurring_ical_events.of(_with_events(calendar, events)).between(start, end)
        ), []
    except Exception:  # the library raises many kinds for bad recurrence data
        # One bad series must not cost the others: expand each series on its own.
        series: dict[str, list[Any]] = {}
        for event in events:
            series.setdefault(_series_key(event), []).append(event)
        found: list[Any] = []
        failed: list[Any] = []
        for members in series.values():
            try:
                query = recurring_ical_events.of(_with_events(calendar, members))
                found.extend(query.between(start, end))
            except Exception:
                failed.append(members[0])
        return found, failed


def _occurrence_span(occurrence: Any, tz_name: str) -> tuple[datetime, datetime]:
    """An occurrence's [start, end) in UTC."""
    begin = occurrence.decoded("DTSTART")
    # The library gives every occurrence a DTEND; without one, the event is an instant.
    finish = occurrence.decoded("DTEND") if occurrence.get("DTEND") is not None else begin
    written = occurrence.get(_WRITTEN_DURATION)
    duration = _Duration.written(str(written)) if written is not None else None
    if duration is not None:
        wall = (
            datetime.combine(begin, time(0))
            if not isinstance(begin, datetime) and duration.exact
            else begin
        )
        # The library added the duration on the wall clock; where its end is that (an RDATE
        # period brings an end of its own), the hours are added again in real time.
        if finish == wall + duration.on_wall_clock():
            finish = _plus(begin, duration, tz_name)
    return _aware(begin, tz_name, edge="start"), _aware(finish, tz_name, edge="end")


def _busy_periods(
    freebusy: Any, tz_name: str
) -> tuple[list[tuple[datetime, datetime]], list[SkippedEvent]]:
    """The busy periods of a VFREEBUSY (every FBTYPE but FREE: RFC 5545 3.2.9 says to read
    unknown ones as BUSY), as UTC intervals, and the values that cannot be read."""
    value = freebusy.get("FREEBUSY")
    found: list[tuple[datetime, datetime]] = []
    skipped: list[SkippedEvent] = []
    for period in value if isinstance(value, list) else [value] if value is not None else []:
        if not isinstance(period, vPeriod):
            skipped.append(SkippedEvent(_name(freebusy), 0, "unreadable-period"))
            continue
        if str(period.params.get("FBTYPE", "BUSY")).upper() == "FREE":
            continue
        begin, finish = period.dt
        if isinstance(finish, timedelta):
            # Free/busy times are UTC (RFC 5545 3.8.2.6), where nominal and exact agree.
            finish = _plus(begin, _Duration.parsed(finish), tz_name)
        found.append((_aware(begin, tz_name, edge="start"), _aware(finish, tz_name, edge="end")))
    return found, skipped


def read_busy(data: bytes | str, tz_name: str, *, start: datetime, end: datetime) -> BusyImport:
    """Busy time of an iCalendar document between start and end, and what it had to leave out.

    Events count unless transparent (free) or cancelled, all-day events fill the person's local
    day, floating times are the person's wall times, a DURATION's hours are real hours; free/busy
    periods count unless FREE. An event that cannot be read is left out and named in `skipped`,
    the rest counts. Nothing but the times is kept (no titles, no attendees).
    """
    if len(data) > MAX_ICS_BYTES:
        raise CalendarImportError("the calendar is larger than 5 MiB")
    try:
        components = Calendar.from_ical(data, multiple=True)
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarImportError(f"not an iCalendar file: {exc}") from None
    if not components:
        raise CalendarImportError("not an iCalendar file: no VCALENDAR")
    everything = [event for component in components for event in component.walk("VEVENT")]
    written = _written_durations(data)
    if len(written) != len(everything):  # the text and the parse disagree: use parsed values
        written = [None] * len(everything)
    position = {id(event): n for n, event in enumerate(everything, start=1)}
    written_of = {id(event): text for event, text in zip(everything, written, strict=True)}
    found: list[tuple[datetime, datetime]] = []
    skipped: list[SkippedEvent] = []
    events = periods = 0
    for component in components:
        if str(component.get("CALSCALE", "GREGORIAN")).upper() != "GREGORIAN":
            raise CalendarImportError("the calendar does not use the Gregorian calendar")
        kept = []
        for event in component.walk("VEVENT"):
            text = written_of[id(event)]
            duration = _Duration.written(text) if text is not None else None
            problem = _problem(event, duration, tz_name)
            if problem is not None:
                skipped.append(SkippedEvent(_name(event), position[id(event)], problem))
                continue
            if text is not None and duration is not None and event.get("DTEND") is None:
                event[_WRITTEN_DURATION] = vText(text)
            kept.append(event)
        # A calendar that names its zone has its floating times read in it (by the library,
        # UTC exception dates included); otherwise they are the owner's wall times.
        if _declared_zone(component) is None:
            masters = {_series_key(e): e for e in kept if e.get("RECURRENCE-ID") is None}
            for event in kept:
                master = masters.get(_series_key(event), event)
                _follow_start(event, master.decoded("DTSTART"), tz_name)
        occurrences, failed = _expand(component, kept, start, end)
        skipped.extend(
            SkippedEvent(_name(event), position[id(event)], "unreadable-repetition")
            for event in failed
        )
        for occurrence in occurrences:
            if str(occurrence.get("transp", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(occurrence.get("status", "")).upper() == "CANCELLED":
                continue
            low, high = _occurrence_span(occurrence, tz_name)
            low, high = max(low, start), min(high, end)
            if high > low:
                found.append((low, high))
                events += 1
        for freebusy in component.walk("VFREEBUSY"):
            busy, unreadable = _busy_periods(freebusy, tz_name)
            skipped.extend(unreadable)
            for low, high in busy:
                low, high = max(low, start), min(high, end)
                if high > low:
                    found.append((low, high))
                    periods += 1
    skipped.sort(key=lambda item: item.position)
    return BusyImport(merge_intervals(found), tuple(skipped), events, periods)


def busy_times(
    data: bytes | str, tz_name: str, *, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Busy intervals (UTC, merged, clipped to [start, end)) of an iCalendar document; events
    that cannot be read are left out (`read_busy` names them)."""
    return read_busy(data, tz_name, start=start, end=end).intervals
