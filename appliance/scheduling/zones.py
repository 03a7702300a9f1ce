"""Time-zone arithmetic that is safe across DST: wall times to instants and back.

Every instant is held in UTC. Local wall times only enter through `to_instant`, which says
what a wall time that does not exist (a DST gap) or exists twice (a DST fold) means, and leave
through `wall_length_ok` / `repeated_wall_time`, which slot finding uses to refuse a slot that
spans a DST jump (ending exactly at one is fine) or repeats a wall time already offered.
"""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from appliance.platform.errors import ApplianceError
from appliance.platform.words import said


class ZoneError(ApplianceError):
    """An unknown time-zone name or an invalid wall time."""

    exit_code = 22


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The zone named by an IANA name (from the pinned tzdata); ZoneError if unknown."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise ZoneError(said("unknown time zone %(name)s", name=repr(name)))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(said("unknown time zone %(name)s", name=repr(name))) from None


def zone_names() -> list[str]:
    """Every IANA zone name the appliance knows, sorted (for pickers)."""
    return sorted(name for name in available_timezones() if "/" in name or name == "UTC")


def tzdata_version() -> str:
    """The version of the pinned tzdata package the zone rules come from."""
    try:
        return importlib.metadata.version("tzdata")
    except importlib.metadata.PackageNotFoundError:
        return "system"


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    # A wall time exists when converting it to UTC and back gives it again.
    back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back == local.replace(tzinfo=None)


def _transition_between(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The instant the UTC offset changes between two UTC instants (to the second)."""
    low, high = before, after
    offset = low.astimezone(tz).utcoffset()
    while (high - low) > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


@lru_cache(maxsize=65536)  # windows repeat across people, candidates and requests
def to_instant(
    day: date, wall: time, tz: ZoneInfo, *, edge: Literal["start", "end"] = "start"
) -> datetime:
    """The UTC instant of a wall time on a local date, as the edge of a window.

    A wall time inside a DST gap does not exist: either edge moves to the instant of the jump
    (a window 02:30-05:00 on a spring-forward night starts at 03:00 new time). A wall time in
    a DST fold exists twice: a window's start is the first occurrence and its end the second,
    so the window holds every instant whose wall time lies inside it.
    """
    # 24:00 (stored as time.max) is midnight at the start of the next day.
    naive = (
        datetime.combine(day + timedelta(days=1), time(0))
        if wall == time.max
        else datetime.combine(day, wall)
    )
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        # The usual case, far from any transition: the wall time exists exactly once.
        return first.astimezone(UTC)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    if _exists(first, tz) or _exists(second, tz):
        if first_utc == second_utc:
            return first_utc
        # In a fold, fold=0 is the earlier instant and fold=1 the later one.
        return min(first_utc, second_utc) if edge == "start" else max(first_utc, second_utc)
    # In a gap, zoneinfo gives fold=1 the earlier instant: the jump lies between the two.
    return _transition_between(min(first_utc, second_utc), max(first_utc, second_utc), tz)


def wall_length_ok(start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """Whether [start, end) lasts as long on the zone's wall clock as in real time."""
    # The clock read just before the end: a slot that ends exactly when the clocks change
    # (01:00-02:00 before a jump to 03:00) has run its whole length on the old offset.
    last = max(start, end - timedelta(microseconds=1))
    return start.astimezone(tz).utcoffset() == last.astimezone(tz).utcoffset()


def repeated_wall_time(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether the instant's wall time is the second occurrence of one shown in a DST fold."""
    local = moment.astimezone(tz)
    if local.fold == 1:
        earlier = local.replace(fold=0)
        return earlier.astimezone(UTC) != local.astimezone(UTC)
    return False


def wall_time_kind(
    day: date, wall: time, tz: ZoneInfo
) -> Literal["once", "nonexistent", "ambiguous"]:
    """Whether a wall time on a local date exists once, not at all (the clocks jump over it)
    or twice (the clocks go back over it)."""
    naive = datetime.combine(day, wall)
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return "once"
    return "ambiguous" if _exists(first, tz) or _exists(second, tz) else "nonexistent"


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The date on the zone's calendar at an instant."""
    return moment.astimezone(tz).date()


def parse_wall(text: str) -> time:
    """`HH:MM` (00:00-24:00) as a time; 24:00 is the end of the day (23:59:59.999999)."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
    except ValueError:
        raise ZoneError(said("%(text)s is not a time of day (HH:MM)", text=repr(text))) from None
    if (hours, minutes) == (24, 0):
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ZoneError(said("%(text)s is not a time of day (HH:MM)", text=repr(text)))
    return time(hours, minutes)


def format_wall(value: time) -> str:
    """A time as `HH:MM` (the end of the day as 24:00)."""
    return "24:00" if value == time.max else value.strftime("%H:%M")
