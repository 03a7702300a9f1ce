"""The rules for a day's typed windows (appliance.scheduling.week): every fault with its place,
and the stored JSON's readers applying the same rules."""

from __future__ import annotations

from datetime import time

import pytest

from appliance.scheduling.model import parse_day_windows, parse_hours
from appliance.scheduling.week import Typed, check_windows, end_for_input, end_from_input
from appliance.scheduling.zones import ZoneError


def test_every_fault_is_found_with_its_place() -> None:
    read, faults = check_windows(
        [
            Typed(0, "09:00", "12:00"),
            Typed(2, "11:00", "13:00"),  # overlaps 0
            Typed(3, "17:00", "09:00"),
            Typed(4, "nine", ""),
            Typed(5, "10:00", "10:00"),
            Typed(6, "12:30", "12:45"),  # inside 0-2's reach (to 13:00): overlaps 2
        ]
    )
    assert [(f.position, f.kind, f.other) for f in faults] == [
        (2, "overlap", 0),
        (3, "ends-before-start", None),
        (4, "bad-start", None),
        (4, "no-end", None),
        (5, "ends-at-start", None),
        (6, "overlap", 2),
    ]
    assert read[0] == (time(9), time(12))


def test_windows_that_meet_do_not_overlap_and_focus_may() -> None:
    meeting = [Typed(0, "08:00", "12:00"), Typed(1, "12:00", "24:00")]
    assert check_windows(meeting)[1] == []
    assert check_windows(meeting)[0][1] == (time(12), time.max)
    crossing = [Typed(0, "08:00", "12:00"), Typed(1, "11:00", "13:00")]
    assert check_windows(crossing, may_overlap=True)[1] == []


def test_the_stored_forms_readers_keep_their_words() -> None:
    with pytest.raises(ZoneError, match="working windows of one day overlap"):
        parse_hours({"0": [["09:00", "12:00"], ["11:00", "13:00"]]})
    with pytest.raises(ZoneError, match="17:00-09:00: a window ends after it starts"):
        parse_hours({"1": [["17:00", "09:00"]]})
    with pytest.raises(ZoneError, match="'25:00' is not a time of day"):
        parse_day_windows([[0, "09:00", "25:00"]])
    with pytest.raises(ZoneError, match="working windows of one day overlap"):
        parse_hours({"0": [["09:00", "12:00"]], "00": [["11:00", "13:00"]]})  # both Monday
    assert parse_day_windows([[0, "09:00", "12:00"], [0, "11:00", "13:00"]])  # focus may


def test_a_time_inputs_midnight() -> None:
    assert end_from_input("00:00") == "24:00" and end_from_input(" 17:00 ") == "17:00"
    assert end_for_input("24:00") == "00:00" and end_for_input("17:00") == "17:00"
