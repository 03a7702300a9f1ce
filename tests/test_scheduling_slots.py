"""Slot finding across time zones and DST, with the expected slots written out by hand.

Times below are UTC unless a comment gives the local wall time. The rules under test: a slot
is as long on every participant's wall clock as in real time (never across a DST jump, though
it may end exactly at one), a wall time repeated in a DST fold is offered once (its first
occurrence), and a working window whose edge falls in a DST gap starts or ends at the jump.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import pytest

from appliance.scheduling.model import CandidateWish, Interviewer, SlotRules, parse_hours
from appliance.scheduling.reference import reference_slots
from appliance.scheduling.render import render_time
from appliance.scheduling.service import alternatives_text
from appliance.scheduling.slots import SlotFinder
from appliance.scheduling.zones import (
    ZoneError,
    repeated_wall_time,
    to_instant,
    wall_length_ok,
    zone,
)

HOUR = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def only(weekday: int, start: str, end: str) -> tuple[tuple[tuple[time, time], ...], ...]:
    """Working hours on one weekday (0 = Monday) only."""
    return parse_hours({str(weekday): [[start, end]]})


def starts(finder: SlotFinder, wish: CandidateWish) -> list[datetime]:
    return sorted(slot.start for slot in finder.find(wish))


def one(
    person: Interviewer,
    *,
    start: datetime,
    days: int = 2,
    minutes: int = 60,
    step: int = 30,
    wish: CandidateWish | None = None,
) -> list[datetime]:
    rules = SlotRules(timedelta(minutes=minutes), (person.user_id,))
    finder = SlotFinder([person], rules, start=start, days=days, step_minutes=step)
    return starts(finder, wish or CandidateWish("UTC"))


# --- the zone helpers ----------------------------------------------------------------------------


def test_wall_times_in_a_gap_move_to_the_jump_and_in_a_fold_take_the_outer_edge() -> None:
    new_york = zone("America/New_York")
    # 2026-03-08 02:30 does not exist in New York (02:00 EST -> 03:00 EDT at 07:00Z).
    assert to_instant(date(2026, 3, 8), time(2, 30), new_york) == utc(2026, 3, 8, 7)
    assert to_instant(date(2026, 3, 8), time(2, 30), new_york, edge="end") == utc(2026, 3, 8, 7)
    # 2026-11-01 01:30 happens twice (05:30Z EDT, 06:30Z EST).
    assert to_instant(date(2026, 11, 1), time(1, 30), new_york) == utc(2026, 11, 1, 5, 30)
    assert to_instant(date(2026, 11, 1), time(1, 30), new_york, edge="end") == utc(
        2026, 11, 1, 6, 30
    )
    assert repeated_wall_time(utc(2026, 11, 1, 6, 30), new_york)
    assert not repeated_wall_time(utc(2026, 11, 1, 5, 30), new_york)
    # 01:00-02:00 EST ends at the jump (07:00Z): fine; 01:30 EST would end at 03:30 EDT.
    assert wall_length_ok(utc(2026, 3, 8, 6), utc(2026, 3, 8, 7), new_york)
    assert not wall_length_ok(utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30), new_york)
    # Kolkata has no DST and a half-hour offset: 09:00 IST is 03:30Z.
    assert to_instant(date(2026, 3, 9), time(9), zone("Asia/Kolkata")) == utc(2026, 3, 9, 3, 30)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ZoneError):
        zone("Mars/Olympus_Mons")
    with pytest.raises(ZoneError):
        zone("../etc/passwd")


# --- America/New_York ------------------------------------------------------------


def test_new_york_spring_forward_never_spans_the_gap() -> None:
    # Sunday 2026-03-08, night shift 00:00-05:00 local: 01:30 EST would end at 03:30 EDT
    # (two wall-clock hours for one real hour), so it is not offered; 01:00 EST ends exactly
    # at the jump (02:00 EST = 03:00 EDT) and is.
    person = Interviewer(1, "America/New_York", only(6, "00:00", "05:00"))
    assert one(person, start=utc(2026, 3, 7)) == [
        utc(2026, 3, 8, 5, 0),  # 00:00 EST
        utc(2026, 3, 8, 5, 30),  # 00:30 EST
        utc(2026, 3, 8, 6, 0),  # 01:00 EST, ends at the jump
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT
        utc(2026, 3, 8, 7, 30),  # 03:30 EDT
        utc(2026, 3, 8, 8, 0),  # 04:00 EDT, ends 05:00 EDT
    ]


def test_new_york_window_starting_in_the_gap_starts_at_the_jump() -> None:
    person = Interviewer(1, "America/New_York", only(6, "02:30", "05:00"))
    assert one(person, start=utc(2026, 3, 7)) == [
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT: the first instant after the missing 02:30
        utc(2026, 3, 8, 7, 30),
        utc(2026, 3, 8, 8, 0),
    ]


def test_new_york_fall_back_offers_each_wall_time_once() -> None:
    # Sunday 2026-11-01: 01:00-02:00 happens twice (EDT, then EST from 06:00Z).
    person = Interviewer(1, "America/New_York", only(6, "00:00", "04:00"))
    assert one(person, start=utc(2026, 10, 31)) == [
        utc(2026, 11, 1, 4, 0),  # 00:00 EDT
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT, ends at the change (06:00Z)
        # 01:30 EDT would end at 01:30 EST; 01:00 and 01:30 EST repeat
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 30),  # 02:30 EST
        utc(2026, 11, 1, 8, 0),  # 03:00 EST, ends 04:00 EST
    ]
    # Half-hour slots: 01:00 EDT fits before the fold and is offered, once.
    assert one(person, start=utc(2026, 10, 31), minutes=30) == [
        utc(2026, 11, 1, 4, 0),
        utc(2026, 11, 1, 4, 30),
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT, ends at the change (06:00Z)
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 30),
        utc(2026, 11, 1, 8, 0),
        utc(2026, 11, 1, 8, 30),  # 03:30 EST
    ]


# --- Europe/London (the candidate's zone) -------------------------------------------------------


def test_london_candidate_spring_forward() -> None:
    # An interviewer in UTC free all Sunday; the candidate in London wants Sunday 00:00-03:00.
    # 2026-03-29 01:00 GMT -> 02:00 BST: the window is 00:00Z-02:00Z, and only slots that
    # do not span the jump remain (one ending at it does not span it).
    person = Interviewer(1, "UTC", only(6, "00:00", "24:00"))
    wish = CandidateWish("Europe/London", ((6, time(0), time(3)),))
    assert one(person, start=utc(2026, 3, 28), wish=wish) == [
        utc(2026, 3, 29, 0, 0),  # 00:00 GMT, ends at the jump
        utc(2026, 3, 29, 1, 0),  # 02:00 BST
    ]


def test_london_candidate_fall_back() -> None:
    # 2026-10-25 02:00 BST -> 01:00 GMT: the window Sunday 00:00 BST (Sat 23:00Z) to 03:00 GMT.
    person = Interviewer(
        1, "UTC", parse_hours({"5": [["00:00", "24:00"]], "6": [["00:00", "24:00"]]})
    )
    wish = CandidateWish("Europe/London", ((6, time(0), time(3)),))
    assert one(person, start=utc(2026, 10, 24), wish=wish) == [
        utc(2026, 10, 24, 23, 0),  # 00:00 BST
        utc(2026, 10, 24, 23, 30),  # 00:30 BST
        utc(2026, 10, 25, 0, 0),  # 01:00 BST, ends at the change (01:00Z)
        utc(2026, 10, 25, 2, 0),  # 02:00 GMT
    ]


# --- Australia/Sydney (southern hemisphere) ------------------------------------------------------


def test_sydney_dst_ends_in_april_fold() -> None:
    # Sunday 2026-04-05 03:00 AEDT -> 02:00 AEST at 16:00Z on the 4th: 02:00-03:00 repeats.
    person = Interviewer(1, "Australia/Sydney", only(6, "01:00", "05:00"))
    assert one(person, start=utc(2026, 4, 3)) == [
        utc(2026, 4, 4, 14, 0),  # 01:00 AEDT
        utc(2026, 4, 4, 14, 30),  # 01:30 AEDT
        utc(2026, 4, 4, 15, 0),  # 02:00 AEDT, ends at the change (16:00Z)
        utc(2026, 4, 4, 17, 0),  # 03:00 AEST
        utc(2026, 4, 4, 17, 30),  # 03:30 AEST
        utc(2026, 4, 4, 18, 0),  # 04:00 AEST, ends 05:00 AEST
    ]


def test_sydney_dst_starts_in_october_gap() -> None:
    # Sunday 2026-10-04 02:00 AEST -> 03:00 AEDT at 16:00Z on the 3rd: 02:00-03:00 is missing.
    person = Interviewer(1, "Australia/Sydney", only(6, "01:00", "05:00"))
    assert one(person, start=utc(2026, 10, 2)) == [
        utc(2026, 10, 3, 15, 0),  # 01:00 AEST, ends at the jump
        utc(2026, 10, 3, 16, 0),  # 03:00 AEDT
        utc(2026, 10, 3, 16, 30),  # 03:30 AEDT
        utc(2026, 10, 3, 17, 0),  # 04:00 AEDT, ends 05:00 AEDT
    ]


# --- Asia/Kolkata (+05:30) with a panel across zones ---------------------------------------------


def kolkata_and_london(busy: tuple[tuple[datetime, datetime], ...] = ()) -> list[Interviewer]:
    weekdays = {str(d): [["09:00", "17:30"]] for d in range(5)}
    return [
        Interviewer(1, "Asia/Kolkata", parse_hours(weekdays)),  # 03:30Z-12:00Z in January
        Interviewer(
            2,
            "Europe/London",
            parse_hours({str(d): [["09:00", "17:00"]] for d in range(5)}),
            busy=busy,
        ),
    ]


def test_kolkata_and_london_panel_overlap() -> None:
    rules = SlotRules(HOUR, (1, 2))
    finder = SlotFinder(
        kolkata_and_london(), rules, start=utc(2026, 1, 12), days=1, step_minutes=30
    )
    assert starts(finder, CandidateWish("America/New_York")) == [
        utc(2026, 1, 12, 9, 0),  # 14:30 IST, 09:00 GMT, 04:00 EST
        utc(2026, 1, 12, 9, 30),  # 15:00 IST
        utc(2026, 1, 12, 10, 0),  # 15:30 IST
        utc(2026, 1, 12, 10, 30),  # 16:00 IST
        utc(2026, 1, 12, 11, 0),  # 16:30 IST, ends 17:30 IST
    ]
    # The candidate in New York only wants Monday 04:00-06:00 EST (09:00Z-11:00Z).
    wish = CandidateWish("America/New_York", ((0, time(4), time(6)),))
    assert starts(finder, wish) == [
        utc(2026, 1, 12, 9),
        utc(2026, 1, 12, 9, 30),
        utc(2026, 1, 12, 10),
    ]
    assert render_time(utc(2026, 1, 12, 9), "Asia/Kolkata") == (
        "Monday 12 January 2026, 14:30 (Asia/Kolkata, UTC+05:30)"
    )


def test_busy_time_and_buffers_block_slots() -> None:
    # London is busy 10:00-10:30Z; the interview needs 15 minutes after it: starts whose
    # [start, start + 75 min) touch the busy half hour are gone.
    people = kolkata_and_london(busy=((utc(2026, 1, 12, 10), utc(2026, 1, 12, 10, 30)),))
    rules = SlotRules(HOUR, (1, 2), buffer_after=timedelta(minutes=15))
    finder = SlotFinder(people, rules, start=utc(2026, 1, 12), days=1, step_minutes=30)
    # 09:00Z-10:00Z would put the interview or its buffer into the busy half hour; the buffer
    # itself need not lie inside working hours (11:00Z ends 12:00Z = 17:30 IST).
    assert starts(finder, CandidateWish("UTC")) == [utc(2026, 1, 12, 10, 30), utc(2026, 1, 12, 11)]


def test_holidays_remove_the_day() -> None:
    people = kolkata_and_london()
    people[0] = Interviewer(
        1, "Asia/Kolkata", people[0].hours, holidays=frozenset({date(2026, 1, 12)})
    )
    finder = SlotFinder(people, SlotRules(HOUR, (1, 2)), start=utc(2026, 1, 12), days=1)
    assert finder.find(CandidateWish("UTC")) == []


# --- ranking, fairness, alternatives -------------------------------------------------------------


def test_ranking_prefers_soon_then_spares_focus_time() -> None:
    # Monday 2026-01-12 and Tuesday 09:00-17:00 UTC; focus time Monday 09:00-12:00.
    person = Interviewer(
        1,
        "UTC",
        parse_hours({"0": [["09:00", "17:00"]], "1": [["09:00", "17:00"]]}),
        focus=((0, time(9), time(12)),),
    )
    finder = SlotFinder([person], SlotRules(HOUR, (1,)), start=utc(2026, 1, 12), days=2)
    ranked = finder.find(CandidateWish("UTC"))
    assert ranked[0].start == utc(2026, 1, 12, 12)  # the first start that breaks no focus time
    monday_nine = next(s for s in ranked if s.start == utc(2026, 1, 12, 9))
    tuesday_nine = next(s for s in ranked if s.start == utc(2026, 1, 13, 9))
    assert monday_nine.focus_minutes == 60
    # An hour of focus time broken (0.5 day) costs less than waiting a whole day.
    assert ranked.index(monday_nine) < ranked.index(tuesday_nine)
    assert monday_nine.score == pytest.approx(9 / 24 + 0.5)


def test_pool_is_round_robin_by_load() -> None:
    hours = parse_hours({"0": [["09:00", "12:00"]]})
    people = [
        Interviewer(1, "UTC", hours, load=2),
        Interviewer(2, "UTC", hours, load=0, last_booked_at="2026-01-05T10:00:00.000000Z"),
        Interviewer(3, "UTC", hours, load=0, last_booked_at="2026-01-02T10:00:00.000000Z"),
    ]
    rules = SlotRules(HOUR, (1, 2, 3), mode="pool", attendees=1)
    finder = SlotFinder(people, rules, start=utc(2026, 1, 12), days=1)
    first = finder.find(CandidateWish("UTC"))[0]
    # Least loaded first; between equals, the one who waited longest since their last one.
    assert first.interviewers == (3,)
    two = SlotFinder(
        people, SlotRules(HOUR, (1, 2, 3), mode="pool", attendees=2), start=utc(2026, 1, 12), days=1
    ).find(CandidateWish("UTC"))[0]
    assert two.interviewers == (2, 3)


def test_nearest_alternatives_when_the_requested_time_is_taken() -> None:
    # Monday and Tuesday are full; Wednesday 10:00-11:00 London works for all.
    busy = ((utc(2026, 1, 12), utc(2026, 1, 14)),)
    person = Interviewer(
        1,
        "Europe/London",
        parse_hours(
            {"0": [["09:00", "17:00"]], "1": [["09:00", "17:00"]], "2": [["10:00", "11:00"]]}
        ),
        busy=busy,
    )
    finder = SlotFinder([person], SlotRules(HOUR, (1,)), start=utc(2026, 1, 12), days=7)
    wish = CandidateWish("Europe/London")
    asked = utc(2026, 1, 12, 14)
    assert finder.slot_at(wish, asked) is None
    nearest = finder.alternatives(wish, asked)
    assert [s.start for s in nearest] == [utc(2026, 1, 14, 10)]
    assert alternatives_text(nearest, asked, "Europe/London") == (
        "Monday 12 January 2026, 14:00 (Europe/London, UTC+00:00) is taken; "
        "Wednesday 14 January 2026, 10:00 (Europe/London, UTC+00:00) works for all."
    )


def test_the_fast_finder_agrees_with_the_reference_on_random_calendars() -> None:
    zones = [
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
        "Asia/Kolkata",
        "UTC",
        "Asia/Kathmandu",
    ]
    rng = random.Random(20261129)
    compared = 0
    for _ in range(25):
        begin = utc(2026, rng.choice([3, 4, 10, 11]), rng.randint(1, 6), rng.randint(0, 23))
        people = []
        for uid in range(4):
            hours = tuple(
                ((time(rng.randint(0, 10)), time(rng.randint(13, 23))),)
                if rng.random() < 0.85
                else ()
                for _ in range(7)
            )
            busy = []
            for _ in range(rng.randint(0, 12)):
                at = begin + timedelta(minutes=15 * rng.randint(0, 4 * 96))
                busy.append((at, at + timedelta(minutes=15 * rng.randint(1, 8))))
            focus = ((rng.randint(0, 6), time(rng.randint(8, 11)), time(13)),)
            people.append(
                Interviewer(
                    uid,
                    rng.choice(zones),
                    hours,
                    busy=tuple(busy),
                    focus=focus,
                    load=rng.randint(0, 2),
                )
            )
        mode: Literal["panel", "pool"] = "panel" if rng.random() < 0.5 else "pool"
        members = (0, 1) if mode == "panel" else (0, 1, 2, 3)
        rules = SlotRules(
            timedelta(minutes=rng.choice([30, 45, 60])),
            members,
            mode=mode,
            buffer_before=timedelta(minutes=rng.choice([0, 15])),
            buffer_after=timedelta(minutes=rng.choice([0, 10])),
        )
        wish = CandidateWish(
            rng.choice(zones),
            tuple(
                (rng.randint(0, 6), time(rng.randint(0, 11)), time(rng.randint(12, 23)))
                for _ in range(rng.randint(0, 4))
            ),
        )
        fast = SlotFinder(people, rules, start=begin, days=4).find(wish)
        slow = reference_slots(people, rules, wish, start=begin, days=4)
        assert fast == slow
        compared += len(fast)
    assert compared > 200  # the calendars were not all empty


# --- when a zone's rules change -----------------------------------------------------------------


def test_a_change_of_zone_rules_moves_wall_times_not_instants(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Suppose the UK stops changing clocks from 2027 (GMT all year): the rule change ships as a
    new TZif file. A booked interview keeps its instant (stored in UTC) but shows an hour
    earlier on London clocks; newly found slots follow the new rules."""
    import importlib.resources
    import zoneinfo

    from appliance.scheduling import slots as slots_module
    from appliance.scheduling import zones as zones_module

    original = importlib.resources.files("tzdata").joinpath("zoneinfo/Europe/London").read_bytes()
    rule = b"\nGMT0BST,M3.5.0/1,M10.5.0\n"
    assert original.endswith(rule)  # the POSIX rule that governs years after the table
    changed = original[: -len(rule)] + b"\nGMT0\n"
    folder = tmp_path / "tz" / "Europe"
    folder.mkdir(parents=True)
    (folder / "London").write_bytes(changed)

    booked = utc(2027, 7, 5, 8)  # 09:00 BST under today's rules
    person = Interviewer(1, "Europe/London", parse_hours({"0": [["09:00", "17:00"]]}))
    before = SlotFinder([person], SlotRules(HOUR, (1,)), start=utc(2027, 7, 5), days=1)
    assert min(s.start for s in before.find(CandidateWish("UTC"))) == booked
    assert render_time(booked, "Europe/London").startswith("Monday 5 July 2027, 09:00")

    # The new file read directly: July 2027 is GMT.
    with open(folder / "London", "rb") as handle:
        new_rules = zoneinfo.ZoneInfo.from_file(handle, key="Europe/London")
    assert booked.astimezone(new_rules).hour == 8

    # Installed where the appliance looks first: every cache of zone data is dropped.
    monkeypatch.setattr(zoneinfo, "TZPATH", (str(tmp_path / "tz"),))
    zoneinfo.reset_tzpath(to=[str(tmp_path / "tz")])
    try:
        zoneinfo.ZoneInfo.clear_cache()
        zones_module.zone.cache_clear()
        slots_module.zone_ok.cache_clear()
        assert render_time(booked, "Europe/London").startswith("Monday 5 July 2027, 08:00")
        after = SlotFinder([person], SlotRules(HOUR, (1,)), start=utc(2027, 7, 5), days=1)
        assert min(s.start for s in after.find(CandidateWish("UTC"))) == utc(2027, 7, 5, 9)
        # Years in the file's table keep their history (1990 had summer time).
        assert render_time(utc(1990, 7, 2, 8), "Europe/London").startswith(
            "Monday 2 July 1990, 09:00"
        )
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
        zones_module.zone.cache_clear()
        slots_module.zone_ok.cache_clear()
