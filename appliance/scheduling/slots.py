"""Slot finding: every start on a UTC grid that all needed interviewers and the candidate can
make, ranked, plus the nearest alternatives to a time that does not work.

The work that does not depend on the candidate (each interviewer's free starts and the focus
time each start would break) is done once per `SlotFinder` as boolean and integer matrices
(interviewer x grid start); each candidate request is then a few vectorised operations. The
rules, which `appliance.scheduling.reference` restates start by start:

* the interview lies inside one of the interviewer's working windows on a local date that is
  neither a holiday nor already at their daily cap; its buffers lie clear of busy time;
* for every participant's zone (interviewers and candidate), the slot is as long on the wall
  clock as in real time (it never spans a DST jump) and its start is not the second
  occurrence of a wall time in a DST fold (a repeated wall time is offered once);
* with preferred windows, the interview lies inside one of them on the candidate's calendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from appliance.platform.words import said
from appliance.scheduling.model import (
    FOCUS_WEIGHT_PER_HOUR,
    LOAD_WEIGHT,
    CandidateWish,
    DayWindow,
    Interviewer,
    Slot,
    SlotRules,
    merge_intervals,
)
from appliance.scheduling.zones import (
    ZoneError,
    repeated_wall_time,
    to_instant,
    wall_length_ok,
    zone,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BoolRow = npt.NDArray[np.bool_]


def seconds(moment: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime."""
    return int((moment - EPOCH).total_seconds())


def instant(value: int) -> datetime:
    """The aware UTC datetime of epoch seconds."""
    return EPOCH + timedelta(seconds=int(value))


def grid_start(start: datetime, step_minutes: int) -> datetime:
    """The first grid point at or after `start` (grid points are multiples of the step)."""
    step = step_minutes * 60
    value = seconds(start)
    return instant(-(-value // step) * step)


def local_days(first: datetime, last: datetime, tz_name: str) -> list[date]:
    """Local dates of a zone touched by [first, last], with a day of margin each side."""
    tz = zone(tz_name)
    low = first.astimezone(tz).date() - timedelta(days=1)
    high = last.astimezone(tz).date() + timedelta(days=1)
    return [low + timedelta(days=n) for n in range((high - low).days + 1)]


def day_intervals(
    windows_of: Iterable[tuple[date, time, time]], tz_name: str
) -> list[tuple[int, int]]:
    """Local (date, from, to) windows as merged UTC intervals in epoch seconds (DST-safe
    edges)."""
    tz = zone(tz_name)
    found = []
    for day, start, end in windows_of:
        low = seconds(to_instant(day, start, tz, edge="start"))
        high = seconds(to_instant(day, end, tz, edge="end"))
        if high > low:
            found.append((low, high))
    return merge_intervals(found)


def weekly_windows(
    days: list[date], windows: Iterable[DayWindow], skip: frozenset[date] = frozenset()
) -> list[tuple[date, time, time]]:
    """Recurring (weekday, from, to) windows laid out on concrete dates."""
    listed = list(windows)
    return [
        (day, start, end)
        for day in days
        if day not in skip
        for weekday, start, end in listed
        if day.weekday() == weekday
    ]


def working_windows(person: Interviewer, days: list[date]) -> list[tuple[date, time, time]]:
    """An interviewer's working windows on concrete dates, holidays and full days left out."""
    skip = person.holidays | person.full_days()
    return [
        (day, start, end)
        for day in days
        if day not in skip
        for start, end in person.hours[day.weekday()]
    ]


@lru_cache(maxsize=256)
def zone_ok(tz_name: str, first: int, count: int, step: int, duration: int) -> BoolRow:
    """Grid starts whose slot keeps its wall-clock length and is no repeated wall time."""
    tz = zone(tz_name)
    ok = np.ones(count, dtype=np.bool_)
    # Only starts near an offset change can fail: find the changes, check around them.
    offsets = [
        instant(first + n * step).astimezone(tz).utcoffset()
        for n in range(0, count + duration // step + 2)
    ]
    changes = [n for n in range(1, len(offsets)) if offsets[n] != offsets[n - 1]]
    span = duration // step + 2
    suspects: set[int] = set()
    for change in changes:
        # A fold's repeated hour can last longer than the slot: cover up to a day around it.
        reach = max(span, 86400 // step)
        suspects.update(range(max(0, change - reach), min(count, change + reach)))
    for n in sorted(suspects):
        start = instant(first + n * step)
        end = start + timedelta(seconds=duration)
        if not wall_length_ok(start, end, tz) or repeated_wall_time(start, tz):
            ok[n] = False
    ok.setflags(write=False)
    return ok


class SlotFinder:
    """Free slots for one interview shape over a horizon, for any number of candidates."""

    def __init__(
        self,
        people: Sequence[Interviewer],
        rules: SlotRules,
        *,
        start: datetime,
        days: int,
        step_minutes: int = 15,
    ) -> None:
        if not rules.members:
            raise ZoneError(said("the interview type has no interviewers"))
        if rules.needed() > len(rules.members):
            raise ZoneError(said("the interview needs more interviewers than it has"))
        by_id = {person.user_id: person for person in people}
        missing = [member for member in rules.members if member not in by_id]
        if missing:
            raise ZoneError(f"no availability for interviewer(s) {missing}")
        self.rules = rules
        self.step = step_minutes * 60
        self.first = seconds(grid_start(start, step_minutes))
        self.count = days * 86400 // self.step
        self.duration = int(rules.duration.total_seconds())
        self.before = int(rules.buffer_before.total_seconds())
        self.after = int(rules.buffer_after.total_seconds())
        self.grid = self.first + self.step * np.arange(self.count, dtype=np.int64)
        # Fairness order for pools: fewest interviews, longest since the last one, lowest id.
        self.members = sorted(
            (by_id[member] for member in rules.members),
            key=lambda p: (p.load, p.last_booked_at, p.user_id),
        )
        self.free = np.zeros((len(self.members), self.count), dtype=np.bool_)
        self.focus = np.zeros((len(self.members), self.count), dtype=np.int64)
        last = instant(self.first + self.count * self.step + self.duration)
        for row, person in enumerate(self.members):
            days_of = local_days(instant(self.first), last, person.timezone)
            self.free[row] = self._free_row(person, days_of)
            self.focus[row] = self._focus_row(person, days_of)
        self.loads = np.array([p.load for p in self.members], dtype=np.int64)
        self._wishes: dict[CandidateWish, BoolRow] = {}

    def _zone_ok(self, tz_name: str) -> BoolRow:
        return zone_ok(tz_name, self.first, self.count, self.step, self.duration)

    def _marked(self, lows: npt.NDArray[np.int64], highs: npt.NDArray[np.int64]) -> BoolRow:
        """Grid columns in any of the index ranges [lows[i], highs[i]) (vectorised)."""
        row = np.zeros(self.count + 1, dtype=np.int64)
        keep = highs > lows
        np.add.at(row, lows[keep], 1)
        np.add.at(row, highs[keep], -1)
        marked: BoolRow = np.cumsum(row[:-1]) > 0
        return marked

    def _starts_inside(self, intervals: Iterable[tuple[int, int]]) -> BoolRow:
        """Grid starts whose interview fits in one of the intervals."""
        spans = np.array(list(intervals), dtype=np.int64).reshape(-1, 2)
        lows = np.searchsorted(self.grid, spans[:, 0], side="left")
        highs = np.searchsorted(self.grid, spans[:, 1] - self.duration, side="right")
        return self._marked(lows, highs)

    def _free_row(self, person: Interviewer, days_of: list[date]) -> BoolRow:
        intervals = day_intervals(working_windows(person, days_of), person.timezone)
        row = self._starts_inside(intervals)
        if person.busy:
            # Blocked: the interview with its buffers overlaps the busy time.
            busy = np.array([(seconds(a), seconds(b)) for a, b in person.busy], dtype=np.int64)
            lows = np.searchsorted(self.grid, busy[:, 0] - self.duration - self.after, "right")
            highs = np.searchsorted(self.grid, busy[:, 1] + self.before, side="left")
            row &= ~self._marked(lows, highs)
        return row & self._zone_ok(person.timezone)

    def _focus_row(self, person: Interviewer, days_of: list[date]) -> npt.NDArray[np.int64]:
        """Minutes of focus time each start (with buffers) would take."""
        row = np.zeros(self.count, dtype=np.int64)
        if not person.focus:
            return row
        block_start = self.grid - self.before
        block_end = self.grid + self.duration + self.after
        for low, high in day_intervals(weekly_windows(days_of, person.focus), person.timezone):
            overlap = np.minimum(block_end, high) - np.maximum(block_start, low)
            row += np.maximum(overlap, 0) // 60
        return row

    def candidate_mask(self, wish: CandidateWish) -> BoolRow:
        """Grid starts the candidate can make (cached: many candidates share a wish)."""
        found = self._wishes.get(wish)
        if found is None:
            found = self._wishes[wish] = self._candidate_mask(wish)
        return found

    def _candidate_mask(self, wish: CandidateWish) -> BoolRow:
        ok = self._zone_ok(wish.timezone)
        if not wish.windows:
            return ok
        last = instant(self.first + self.count * self.step + self.duration)
        days_of = local_days(instant(self.first), last, wish.timezone)
        intervals = day_intervals(weekly_windows(days_of, wish.windows), wish.timezone)
        return ok & self._starts_inside(intervals)

    def find(self, wish: CandidateWish, limit: int | None = None) -> list[Slot]:
        """Every slot that works for all, best first (score, then time)."""
        columns, chosen = self._feasible(wish)
        if columns.size == 0:
            return []
        focus = np.zeros(columns.size, dtype=np.int64)
        load = np.zeros(columns.size, dtype=np.int64)
        for rows in chosen:
            focus += self.focus[rows, columns]
            load += self.loads[rows]
        excess = load - (self.loads.min() * len(chosen) if self.rules.mode == "pool" else load)
        score = (
            (self.grid[columns] - self.first) / 86400.0
            + FOCUS_WEIGHT_PER_HOUR * focus / 60.0
            + LOAD_WEIGHT * excess
        )
        order = np.lexsort((self.grid[columns], np.round(score, 9)))
        if limit is not None:
            order = order[:limit]
        slots = []
        for index in order:
            column = int(columns[index])
            start = instant(int(self.grid[column]))
            people = tuple(sorted(self.members[int(rows[index])].user_id for rows in chosen))
            slots.append(
                Slot(
                    start,
                    start + timedelta(seconds=self.duration),
                    people,
                    round(float(score[index]), 6),
                    int(focus[index]),
                )
            )
        return slots

    def _feasible(
        self, wish: CandidateWish
    ) -> tuple[npt.NDArray[np.intp], list[npt.NDArray[np.intp]]]:
        """Columns that work, and for each attendee position the member row chosen per column."""
        wanted = self.candidate_mask(wish)
        if self.rules.mode == "panel":
            columns = np.flatnonzero(wanted & self.free.all(axis=0))
            return columns, [
                np.full(columns.size, row, dtype=np.intp) for row in range(len(self.members))
            ]
        needed = self.rules.attendees
        columns = np.flatnonzero(wanted & (self.free.sum(axis=0) >= needed))
        available = self.free[:, columns].copy()
        chosen = []
        for _ in range(needed):
            # Members are in fairness order: the first free one of each column is chosen.
            rows = np.argmax(available, axis=0).astype(np.intp)
            available[rows, np.arange(columns.size)] = False
            chosen.append(rows)
        return columns, chosen

    def slot_at(self, wish: CandidateWish, start: datetime) -> Slot | None:
        """The slot starting exactly at `start`, if it works for all."""
        for slot in self.find(wish):
            if slot.start == start:
                return slot
        return None

    def alternatives(self, wish: CandidateWish, requested: datetime, count: int = 3) -> list[Slot]:
        """The working slots nearest in time to a requested start (earlier one first on ties)."""
        slots = self.find(wish)
        slots.sort(key=lambda slot: (abs((slot.start - requested).total_seconds()), slot.start))
        return slots[:count]
