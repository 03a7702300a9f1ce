"""The slot rules restated start by start, without precomputation.

Slow on purpose and easy to check by eye: the tests compare `SlotFinder` with it on random
calendars, and the benchmark runs it beside `SlotFinder` as the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from appliance.scheduling.model import (
    FOCUS_WEIGHT_PER_HOUR,
    LOAD_WEIGHT,
    CandidateWish,
    Interviewer,
    Slot,
    SlotRules,
)
from appliance.scheduling.slots import grid_start
from appliance.scheduling.zones import repeated_wall_time, to_instant, wall_length_ok, zone


def _clean_in(start: datetime, end: datetime, tz_name: str) -> bool:
    tz = zone(tz_name)
    return wall_length_ok(start, end, tz) and not repeated_wall_time(start, tz)


def _contained(
    windows: list[tuple[date, time, time]], tz_name: str, start: datetime, end: datetime
) -> bool:
    """Whether [start, end) lies inside the windows, touching windows joined."""
    tz = zone(tz_name)
    spans = sorted(
        (to_instant(day, low, tz, edge="start"), to_instant(day, high, tz, edge="end"))
        for day, low, high in windows
    )
    joined: list[tuple[datetime, datetime]] = []
    for low, high in spans:
        if joined and low <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], high))
        elif high > low:
            joined.append((low, high))
    return any(low <= start and end <= high for low, high in joined)


def _near_days(moment: datetime, tz_name: str) -> list[date]:
    local = moment.astimezone(zone(tz_name)).date()
    return [local + timedelta(days=n) for n in (-2, -1, 0, 1, 2)]


def _inside_hours(person: Interviewer, start: datetime, end: datetime) -> bool:
    skip = person.holidays | person.full_days()
    windows = [
        (day, low, high)
        for day in _near_days(start, person.timezone)
        if day not in skip
        for low, high in person.hours[day.weekday()]
    ]
    return _contained(windows, person.timezone, start, end)


def _free(person: Interviewer, rules: SlotRules, start: datetime, end: datetime) -> bool:
    if not _inside_hours(person, start, end) or not _clean_in(start, end, person.timezone):
        return False
    block_start, block_end = start - rules.buffer_before, end + rules.buffer_after
    return all(not (b_start < block_end and block_start < b_end) for b_start, b_end in person.busy)


def _candidate_ok(wish: CandidateWish, start: datetime, end: datetime) -> bool:
    if not _clean_in(start, end, wish.timezone):
        return False
    if not wish.windows:
        return True
    windows = [
        (day, low, high)
        for day in _near_days(start, wish.timezone)
        for weekday, low, high in wish.windows
        if day.weekday() == weekday
    ]
    return _contained(windows, wish.timezone, start, end)


def _focus_minutes(person: Interviewer, rules: SlotRules, start: datetime, end: datetime) -> int:
    tz = zone(person.timezone)
    block_start, block_end = start - rules.buffer_before, end + rules.buffer_after
    local = start.astimezone(tz).date()
    total = 0
    for day in (local - timedelta(days=2) + timedelta(days=n) for n in range(5)):
        for weekday, low, high in person.focus:
            if day.weekday() != weekday:
                continue
            f_start = to_instant(day, low, tz, edge="start")
            f_end = to_instant(day, high, tz, edge="end")
            overlap = (min(block_end, f_end) - max(block_start, f_start)).total_seconds()
            total += max(int(overlap), 0) // 60
    return total


def reference_slots(
    people: Sequence[Interviewer],
    rules: SlotRules,
    wish: CandidateWish,
    *,
    start: datetime,
    days: int,
    step_minutes: int = 15,
) -> list[Slot]:
    """All slots by checking every grid start against every rule, best first."""
    by_id = {person.user_id: person for person in people}
    members = sorted(
        (by_id[m] for m in rules.members), key=lambda p: (p.load, p.last_booked_at, p.user_id)
    )
    first = grid_start(start, step_minutes)
    min_load = min(p.load for p in members)
    found: list[tuple[float, datetime, Slot]] = []
    for n in range(days * 1440 // step_minutes):
        slot_start = first + timedelta(minutes=n * step_minutes)
        slot_end = slot_start + rules.duration
        if not _candidate_ok(wish, slot_start, slot_end):
            continue
        free = [p for p in members if _free(p, rules, slot_start, slot_end)]
        if rules.mode == "panel":
            if len(free) < len(members):
                continue
            chosen, excess = free, 0
        else:
            if len(free) < rules.attendees:
                continue
            chosen = free[: rules.attendees]
            excess = sum(p.load for p in chosen) - min_load * rules.attendees
        focus = sum(_focus_minutes(p, rules, slot_start, slot_end) for p in chosen)
        score = (
            (slot_start - first).total_seconds() / 86400.0
            + FOCUS_WEIGHT_PER_HOUR * focus / 60.0
            + LOAD_WEIGHT * excess
        )
        slot = Slot(
            slot_start,
            slot_end,
            tuple(sorted(p.user_id for p in chosen)),
            round(score, 6),
            focus,
        )
        found.append((round(score, 9), slot_start, slot))
    found.sort(key=lambda item: (item[0], item[1]))
    return [slot for _, _, slot in found]
