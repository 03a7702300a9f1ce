"""The availability page's week editor: working hours and focus blocks as plain form fields,
read back into the stored structures with every fault named beside its field.

Works without JavaScript: adding or removing a row and copying Monday are submit buttons that
re-render the form (nothing is saved). The rules themselves are appliance.scheduling.week's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from appliance.scheduling.model import WEEKDAYS, hours_to_json, standard_week
from appliance.scheduling.week import (
    Typed,
    WindowFault,
    check_windows,
    end_for_input,
    end_from_input,
)

MAX_RANGES = 6  # per day: more would be a form nobody can read
MAX_FOCUS = 20
COPY_TO = range(1, 5)  # "copy Monday" fills Tuesday to Friday; the weekend stays as it is
WEEKDAY_NAMES = (
    lazy_gettext("Monday"),
    lazy_gettext("Tuesday"),
    lazy_gettext("Wednesday"),
    lazy_gettext("Thursday"),
    lazy_gettext("Friday"),
    lazy_gettext("Saturday"),
    lazy_gettext("Sunday"),
)
# A row's fields: whose row it is (a weekday; focus blocks have one list) and its place.
_RANGE_FIELD = re.compile(r"hours-(?P<owner>[0-6])-(?P<row>\d{1,2})-(?:start|end)")
_FOCUS_FIELD = re.compile(r"focus-(?P<owner>)(?P<row>\d{1,2})-(?:day|start|end)")


@dataclass
class Row:
    """One time range as the form shows it (times as typed, an end of 00:00 is midnight)."""

    start: str = ""
    end: str = ""
    error: str = ""

    def empty(self) -> bool:
        """Neither time given: the row is ignored."""
        return not self.start.strip() and not self.end.strip()


@dataclass
class Day:
    """A weekday's ranges and whether the person works that day at all."""

    weekday: int
    off: bool
    ranges: list[Row]

    @property
    def name(self) -> str:
        """The weekday's name in the viewer's language."""
        return str(WEEKDAY_NAMES[self.weekday])


@dataclass
class Focus(Row):
    """A focus block: a weekday (as the select sent it) and its range."""

    weekday: str = "0"


@dataclass
class Problem:
    """A fault in words, and the id of the field it is about (for the summary's link)."""

    field_id: str
    message: str


@dataclass
class Week:
    """The whole editor: seven days, the focus blocks, the faults found, what to focus next."""

    days: list[Day]
    focus: list[Focus]
    problems: list[Problem] = field(default_factory=list)
    autofocus: str = ""  # the id of the control to focus after an edit
    notice: str = ""  # what an edit did, said beside the editor


def range_label(day: Day, position: int) -> str:
    """'Tuesday, range 2': how messages and screen readers name a range."""
    return str(_("%(day)s, range %(number)d", day=day.name, number=position + 1))


def focus_label(position: int) -> str:
    """'Focus block 2'."""
    return str(_("Focus block %(number)d", number=position + 1))


def week_from_profile(
    working_hours: Mapping[str, list[list[str]]] | None, focus_blocks: list[list[Any]] | None
) -> Week:
    """The editor filled from a stored profile; without one, Monday to Friday 09:00-17:00."""
    hours = hours_to_json(standard_week()) if working_hours is None else working_hours
    days = []
    for weekday in WEEKDAYS:
        windows = hours.get(str(weekday), [])
        rows = [Row(str(a), end_for_input(str(b))) for a, b in windows] or [Row()]
        days.append(Day(weekday, off=not windows, ranges=rows))
    focus = [
        Focus(str(start), end_for_input(str(end)), weekday=str(weekday))
        for weekday, start, end in focus_blocks or []
    ]
    focus.append(Focus())  # room for one more without a round trip
    return Week(days, focus)


def _rows(form: Mapping[str, str], pattern: re.Pattern[str], limit: int) -> dict[str, int]:
    """How many rows each owner sent: its highest row number plus one (at most `limit`)."""
    found: dict[str, int] = {}
    for key in form:
        match = pattern.fullmatch(key)
        if match and int(match["row"]) < limit:
            found[match["owner"]] = max(found.get(match["owner"], 0), int(match["row"]) + 1)
    return found


def week_from_form(form: Mapping[str, str]) -> Week:
    """The editor as the person submitted it; empty rows keep their place (messages count
    rows as shown)."""
    slots = _rows(form, _RANGE_FIELD, MAX_RANGES)
    days = []
    for weekday in WEEKDAYS:
        rows = [
            Row(
                form.get(f"hours-{weekday}-{i}-start", ""), form.get(f"hours-{weekday}-{i}-end", "")
            )
            for i in range(slots.get(str(weekday), 1))
        ]
        days.append(Day(weekday, off=f"off-{weekday}" in form, ranges=rows))
    focus = [
        Focus(
            form.get(f"focus-{i}-start", ""),
            form.get(f"focus-{i}-end", ""),
            weekday=form.get(f"focus-{i}-day", "0"),
        )
        for i in range(_rows(form, _FOCUS_FIELD, MAX_FOCUS).get("", 1))
    ]
    return Week(days, focus)


def edit_week(week: Week, form: Mapping[str, str]) -> bool:
    """Apply an editing button (add or remove a row, copy Monday); False when none was pressed
    (the form is to be saved)."""
    if "add_range" in form:
        day = week.days[_index(form["add_range"], len(week.days))]
        if len(day.ranges) < MAX_RANGES:
            day.ranges.append(Row())
            day.off = False  # adding hours to a day means working it
        week.autofocus = f"hours-{day.weekday}-{len(day.ranges) - 1}-start"
    elif "remove_range" in form:
        weekday, _sep, place = form["remove_range"].partition("-")
        day = week.days[_index(weekday, len(week.days))]
        position = _index(place, len(day.ranges))
        del day.ranges[position]
        if not day.ranges:
            day.ranges.append(Row())
        week.autofocus = f"hours-{day.weekday}-{min(position, len(day.ranges) - 1)}-start"
    elif "copy_monday" in form:
        monday = week.days[0]
        kept = [Row(row.start, row.end) for row in monday.ranges if not row.empty()]
        for target in COPY_TO:
            week.days[target].off = monday.off
            week.days[target].ranges = [Row(r.start, r.end) for r in kept] or [Row()]
        week.autofocus = "copy-monday"
        week.notice = _("Monday's hours were copied to Tuesday to Friday. Save to keep them.")
    elif "add_focus" in form:
        if len(week.focus) < MAX_FOCUS:
            week.focus.append(Focus())
        week.autofocus = f"focus-{len(week.focus) - 1}-day"
    elif "remove_focus" in form:
        position = _index(form["remove_focus"], len(week.focus))
        del week.focus[position]
        if not week.focus:
            week.focus.append(Focus())
        week.autofocus = f"focus-{min(position, len(week.focus) - 1)}-day"
    else:
        return False
    return True


def _index(text: str, size: int) -> int:
    """A button's row number, kept inside the list (a tampered value edits the last row)."""
    try:
        return min(max(int(text), 0), size - 1)
    except ValueError:
        return size - 1


def check_week(week: Week) -> tuple[dict[str, list[list[str]]], list[list[object]]] | None:
    """The hours and focus blocks as `service.save_availability` takes them, or None with
    every fault recorded on its row and in `week.problems`."""
    hours: dict[str, list[list[str]]] = {}
    for day in week.days:
        if day.off:
            continue  # a day off is saved without hours, whatever its rows still say
        typed = [
            Typed(i, row.start.strip(), end_from_input(row.end))
            for i, row in enumerate(day.ranges)
            if not row.empty()
        ]
        _windows, faults = check_windows(typed)
        for fault in faults:
            _record(
                week,
                day.ranges[fault.position],
                f"hours-{day.weekday}-{fault.position}",
                fault,
                range_label(day, fault.position),
                day,
            )
        if typed:
            hours[str(day.weekday)] = [[item.start, item.end] for item in typed]
    focus: list[list[object]] = []
    for i, block in enumerate(week.focus):
        if block.empty():
            continue
        field_id = f"focus-{i}"
        if block.weekday not in {str(weekday) for weekday in WEEKDAYS}:
            _note(
                week, block, f"{field_id}-day", _("%(where)s: choose a day.", where=focus_label(i))
            )
            continue
        typed = [Typed(i, block.start.strip(), end_from_input(block.end))]
        _windows, faults = check_windows(typed, may_overlap=True)
        for fault in faults:
            _record(week, block, field_id, fault, focus_label(i), None)
        focus.append([int(block.weekday), typed[0].start, typed[0].end])
    return None if week.problems else (hours, focus)


def _record(
    week: Week, row: Row, field_id: str, fault: WindowFault, where: str, day: Day | None
) -> None:
    """Say one fault in words, with the times as the person typed them."""
    start, end = row.start.strip(), row.end.strip()
    if fault.kind == "no-start":
        message = _("%(where)s: the start time is missing.", where=where)
    elif fault.kind == "no-end":
        message = _("%(where)s: the end time is missing.", where=where)
    elif fault.kind in ("bad-start", "bad-end"):
        typed = start if fault.kind == "bad-start" else end
        message = _(
            "%(where)s: %(time)s is not a time of day (HH:MM, 00:00 to 24:00).",
            where=where,
            time=typed,
        )
    elif fault.kind == "ends-before-start":
        message = _(
            "%(where)s: the end %(end)s is before the start %(start)s.",
            where=where,
            end=end,
            start=start,
        )
    elif fault.kind == "ends-at-start":
        message = _("%(where)s: it ends when it starts (%(time)s).", where=where, time=start)
    else:  # overlap: only working hours, one day at a time
        assert day is not None and fault.other is not None
        message = _(
            "%(where)s: %(start)s-%(end)s overlaps range %(other)d (%(since)s-%(until)s).",
            where=where,
            start=start,
            end=end,
            other=fault.other + 1,
            since=day.ranges[fault.other].start.strip(),
            until=day.ranges[fault.other].end.strip(),
        )
    suffix = "end" if fault.kind in ("no-end", "bad-end", "ends-before-start") else "start"
    _note(week, row, f"{field_id}-{suffix}", message)


def _note(week: Week, row: Row, field_id: str, message: str) -> None:
    row.error = f"{row.error} {message}".strip()
    week.problems.append(Problem(field_id, message))
