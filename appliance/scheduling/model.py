"""What slot finding works on: people's hours and busy times, the interview's shape, the wish."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal, TypeVar

from appliance.platform.words import said
from appliance.scheduling.week import Typed, check_windows
from appliance.scheduling.zones import ZoneError, format_wall, parse_wall

# An interval's end points: instants, or epoch seconds where the slot finder works in integers.
Point = TypeVar("Point", int, datetime)


def merge_intervals(intervals: Iterable[tuple[Point, Point]]) -> list[tuple[Point, Point]]:
    """Intervals that overlap or meet joined, in order (a window to 24:00 and one from 00:00
    are one)."""
    merged: list[tuple[Point, Point]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


Window = tuple[time, time]
DayWindow = tuple[int, time, time]  # (weekday with Monday 0, from, to) on a local calendar
WEEKDAYS = range(7)

# Ranking weights, in days of delay one unit is worth: an hour of focus time broken costs half
# a day of earliness; one interview more than the least-loaded colleague costs a quarter day.
FOCUS_WEIGHT_PER_HOUR = 0.5
LOAD_WEIGHT = 0.25


@dataclass(frozen=True)
class Interviewer:
    """One person's availability: weekly hours in their zone, holidays, busy times, load."""

    user_id: int
    timezone: str
    hours: tuple[tuple[Window, ...], ...]  # seven entries, Monday first
    holidays: frozenset[date] = frozenset()
    busy: tuple[tuple[datetime, datetime], ...] = ()
    focus: tuple[DayWindow, ...] = ()
    max_per_day: int = 24
    booked_days: tuple[tuple[date, int], ...] = ()  # interviews already booked per local date
    load: int = 0  # live bookings in the horizon (round-robin fairness)
    last_booked_at: str = ""  # when they were last given an interview ("" never)

    def full_days(self) -> frozenset[date]:
        """Local dates on which the daily interview cap is already reached."""
        return frozenset(day for day, count in self.booked_days if count >= self.max_per_day)


@dataclass(frozen=True)
class SlotRules:
    """The shape of an interview: its length, buffers and who must attend."""

    duration: timedelta
    members: tuple[int, ...]
    mode: Literal["panel", "pool"] = "panel"
    attendees: int = 1  # pool mode: how many members attend
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)

    def needed(self) -> int:
        """How many interviewers attend one slot."""
        return len(self.members) if self.mode == "panel" else self.attendees


@dataclass(frozen=True)
class CandidateWish:
    """The candidate's zone and preferred windows in it (none: any time the panel offers)."""

    timezone: str
    windows: tuple[DayWindow, ...] = ()


@dataclass(frozen=True)
class Slot:
    """A bookable interview time (UTC), who attends, and its rank score (lower is better)."""

    start: datetime
    end: datetime
    interviewers: tuple[int, ...]
    score: float = 0.0
    focus_minutes: int = 0
    extra: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


def parse_hours(data: dict[str, list[list[str]]]) -> tuple[tuple[Window, ...], ...]:
    """Weekly hours from `{"0": [["09:00", "17:00"]], ...}` (Monday 0); ZoneError if invalid."""
    typed: list[list[Typed]] = [[] for _ in WEEKDAYS]
    for key, windows in data.items():
        try:
            weekday = int(key)
        except ValueError:
            raise ZoneError(f"{key!r} is not a weekday number (0 is Monday)") from None
        if weekday not in WEEKDAYS:
            raise ZoneError(f"{key!r} is not a weekday number (0 is Monday)")
        # "0" and "00" are both Monday: their windows are checked together.
        for pair in windows:
            typed[weekday].append(Typed(len(typed[weekday]), str(pair[0]), str(pair[1])))
    days = []
    for day in typed:
        read, faults = check_windows(day)
        if faults:
            raise ZoneError(faults[0].describe())
        days.append(tuple(read))
    return tuple(days)


def hours_to_json(hours: tuple[tuple[Window, ...], ...]) -> dict[str, list[list[str]]]:
    """The JSON form `parse_hours` reads."""
    return {
        str(weekday): [[format_wall(a), format_wall(b)] for a, b in windows]
        for weekday, windows in enumerate(hours)
        if windows
    }


def parse_day_windows(items: list[list[object]]) -> tuple[DayWindow, ...]:
    """`[[weekday, "HH:MM", "HH:MM"], ...]` as day windows; ZoneError if invalid."""
    found: list[DayWindow] = []
    for item in items:
        if len(item) != 3:
            raise ZoneError(said("a window is [weekday, from, to]"))
        weekday = int(str(item[0]))
        if weekday not in WEEKDAYS:
            raise ZoneError(f"{item[0]!r} is not a weekday number (0 is Monday)")
        # Windows of one day may overlap here (focus blocks, a candidate's wishes).
        read, faults = check_windows([Typed(0, str(item[1]), str(item[2]))], may_overlap=True)
        if faults:
            raise ZoneError(faults[0].describe())
        found.append((weekday, *read[0]))
    return tuple(sorted(found))


def day_windows_to_json(windows: tuple[DayWindow, ...]) -> list[list[object]]:
    """The JSON form `parse_day_windows` reads."""
    return [[weekday, format_wall(a), format_wall(b)] for weekday, a, b in windows]


def standard_week(start: str = "09:00", end: str = "17:00") -> tuple[tuple[Window, ...], ...]:
    """Monday to Friday, one window a day."""
    window = (parse_wall(start), parse_wall(end))
    return tuple(((window,) if weekday < 5 else ()) for weekday in WEEKDAYS)
