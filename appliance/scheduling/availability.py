"""Interviewers' availability as slot finding needs it, read from the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from appliance.scheduling.model import (
    Interviewer,
    SlotRules,
    parse_day_windows,
    parse_hours,
)
from appliance.scheduling.zones import ZoneError, zone
from appliance.store import Store
from appliance.store.availability import InterviewType
from appliance.store.compliance import compliance_of


def rules_of(kind: InterviewType) -> SlotRules:
    """The slot rules of an interview type."""
    return SlotRules(
        duration=timedelta(minutes=kind.duration_minutes),
        members=kind.members,
        mode="pool" if kind.mode == "pool" else "panel",
        attendees=kind.attendees,
        buffer_before=timedelta(minutes=kind.buffer_before_minutes),
        buffer_after=timedelta(minutes=kind.buffer_after_minutes),
    )


def interviewers(
    store: Store,
    user_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    ignore_booking: int | None = None,
) -> list[Interviewer]:
    """Availability of people over [start, end): hours, holidays, busy times, bookings, load.

    `ignore_booking` leaves one booking out (its own holds do not block a reschedule).
    """
    ids = sorted(set(user_ids))
    profiles = {profile.user_id: profile for profile in store.scheduling.profiles(ids)}
    missing = [user_id for user_id in ids if user_id not in profiles]
    if missing:
        names = ", ".join(store.users.get(user_id).display_name for user_id in missing)
        raise ZoneError(f"no working hours recorded for: {names}")
    margin = timedelta(days=2)
    busy = store.scheduling.busy(ids, start - margin, end + margin)
    bookings = store.scheduling.bookings_of(ids, start - margin, end + margin)
    if ignore_booking is not None:
        # The booking being moved does not block its own reschedule.
        bookings = {
            user_id: [b for b in items if b.id != ignore_booking]
            for user_id, items in bookings.items()
        }
        for user_id, hold_start, hold_end in store.scheduling.holds_of(ignore_booking):
            if (hold_start, hold_end) in busy.get(user_id, []):
                busy[user_id].remove((hold_start, hold_end))
    last = store.scheduling.last_booked(ids)
    holidays = compliance_of(store).holidays
    by_region: dict[str, frozenset[date]] = {}
    found = []
    for user_id in ids:
        profile = profiles[user_id]
        tz = zone(profile.timezone)
        if profile.holiday_region not in by_region:
            by_region[profile.holiday_region] = frozenset(
                date.fromisoformat(h.day) for h in holidays.for_region(profile.holiday_region)
            )
        per_day = Counter(b.start.astimezone(tz).date() for b in bookings[user_id])
        found.append(
            Interviewer(
                user_id=user_id,
                timezone=profile.timezone,
                hours=parse_hours(profile.working_hours),
                holidays=by_region[profile.holiday_region],
                busy=tuple(busy[user_id]),
                focus=parse_day_windows(profile.focus_blocks),
                max_per_day=profile.max_per_day,
                booked_days=tuple(sorted(per_day.items())),
                load=sum(1 for b in bookings[user_id] if start <= b.start < end),
                last_booked_at=last[user_id],
            )
        )
    return found
