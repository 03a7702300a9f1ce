"""The rules for windows of a day typed as text, with every fault found and where it is.

`parse_hours` and `parse_day_windows` (model.py) apply them to the stored JSON and stop at the
first fault; the availability form applies them field by field and names every fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from typing import Literal

from appliance.scheduling.zones import ZoneError, format_wall, parse_wall

FaultKind = Literal[
    "no-start", "no-end", "bad-start", "bad-end", "ends-before-start", "ends-at-start", "overlap"
]
# A time input cannot hold 24:00, so a form's end of 00:00 means midnight at the day's end
# (a window cannot end at the midnight it would have to start after).
INPUT_MIDNIGHT = "00:00"


@dataclass(frozen=True)
class Typed:
    """One window as typed: its place in the person's list (0-based) and its two times."""

    position: int
    start: str
    end: str


@dataclass(frozen=True)
class WindowFault:
    """What is wrong with one typed window; `other` is the place of a window it overlaps."""

    position: int
    kind: FaultKind
    start: str
    end: str
    other: int | None = None

    def describe(self) -> str:
        """The fault in the words `parse_hours` has always used (English, for logs and the API)."""
        if self.kind in ("no-start", "bad-start"):
            return f"{self.start!r} is not a time of day (HH:MM)"
        if self.kind in ("no-end", "bad-end"):
            return f"{self.end!r} is not a time of day (HH:MM)"
        if self.kind == "overlap":
            return "working windows of one day overlap"
        return f"{self.start}-{self.end}: a window ends after it starts"


def _wall(text: str) -> time | None:
    try:
        return parse_wall(text)
    except ZoneError:
        return None


def check_windows(
    typed: Sequence[Typed], *, may_overlap: bool = False
) -> tuple[list[tuple[time, time]], list[WindowFault]]:
    """One day's windows read (in order) and every fault: each time is HH:MM within 00:00-24:00,
    a window ends after it starts, and (unless `may_overlap`) no two windows overlap (meeting
    at one instant is fine)."""
    faults: list[WindowFault] = []
    read: list[tuple[time, time, Typed]] = []
    for item in typed:
        start, end = _wall(item.start), _wall(item.end)
        if start is None:
            kind: FaultKind = "bad-start" if item.start.strip() else "no-start"
            faults.append(WindowFault(item.position, kind, item.start, item.end))
        if end is None:
            kind = "bad-end" if item.end.strip() else "no-end"
            faults.append(WindowFault(item.position, kind, item.start, item.end))
        if start is None or end is None:
            continue
        if end < start:
            faults.append(WindowFault(item.position, "ends-before-start", item.start, item.end))
        elif end == start:
            faults.append(WindowFault(item.position, "ends-at-start", item.start, item.end))
        else:
            read.append((start, end, item))
    read.sort(key=lambda entry: (entry[0], entry[1]))
    if not may_overlap:
        reach: tuple[time, Typed] | None = None  # the latest end so far, and whose it is
        for start, end, item in read:
            if reach is not None and start < reach[0]:
                other = reach[1].position
                faults.append(WindowFault(item.position, "overlap", item.start, item.end, other))
            if reach is None or end > reach[0]:
                reach = (end, item)
    faults.sort(key=lambda fault: fault.position)
    return [(start, end) for start, end, _ in read], faults


def end_from_input(text: str) -> str:
    """A form's end time as `parse_wall` reads it: 00:00 is the end of the day (24:00)."""
    return "24:00" if text.strip() == INPUT_MIDNIGHT else text.strip()


def end_for_input(text: str) -> str:
    """A stored end time as a time input can show it: 24:00 becomes 00:00."""
    return INPUT_MIDNIGHT if text == format_wall(time.max) else text
