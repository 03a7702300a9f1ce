"""Calendar import that does not lose meetings (issue 20, item 7), held against calendars
written for this repository in RFC 5545 style after the shapes real clients send (a free/busy
reply, an Exchange invitation, a CalDAV weekly series, ...; tests/data/ics/SOURCES.md): free/busy
periods are busy time, an unreadable event is left out and named while the rest imports,
DURATION hours are real hours across DST, floating times are the owner's wall times, a slot may
end when the clocks change, and a refusal caused by the clocks says so. Where the real-world
calendars of the icalendar and recurring-ical-events test suites lie under ../shared/data/ics,
each is read as well.

Times are UTC unless a comment gives the local wall time.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from appliance.scheduling import service
from appliance.scheduling.ics import SkippedEvent, busy_times, read_busy
from appliance.scheduling.model import CandidateWish, Interviewer, SlotRules, parse_hours
from appliance.scheduling.reference import reference_slots
from appliance.scheduling.service import alternatives_text
from appliance.scheduling.slots import SlotFinder
from appliance.scheduling.zones import wall_length_ok, wall_time_kind, zone
from tests.conftest import SHARED_DATA, csrf_token_from, login, make_user
from tests.support.scheduling_world import availability_fields, make_world

DATA = Path(__file__).parent / "data" / "ics"
# Real-world calendars from other projects' test suites: never in this repository, read only
# where the shared data folder beside the checkout has them (tests/data/ics/SOURCES.md).
REAL_WORLD = SHARED_DATA / "ics"
NEW_YORK = "America/New_York"
ALL_TIME = {"start": datetime(1970, 1, 1, tzinfo=UTC), "end": datetime(2040, 1, 1, tzinfo=UTC)}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def calendar(name: str) -> bytes:
    return (DATA / name).read_bytes()


def with_events(name: str, *events: str) -> bytes:
    """A calendar of tests/data/ics with more VEVENTs added before its END:VCALENDAR."""
    text = calendar(name).decode()
    cut = text.rindex("END:VCALENDAR")
    added = "".join(f"BEGIN:VEVENT\r\n{body}END:VEVENT\r\n" for body in events)
    return (text[:cut] + added + text[cut:]).encode()


# --- 1. VFREEBUSY periods are busy time --------------------------------------------------------


def test_free_busy_periods_are_busy_time() -> None:
    # A free/busy reply: one FREEBUSY line, five FBTYPE=BUSY start/end periods (0 busy
    # intervals before).
    reply = read_busy(calendar("freebusy_reply_one_line.ics"), "UTC", **ALL_TIME)
    assert (reply.periods, reply.events, reply.skipped) == (5, 0, ())
    assert reply.intervals == [
        (utc(2025, 3, 3, 8), utc(2025, 3, 3, 9)),
        (utc(2025, 3, 5, 12, 30), utc(2025, 3, 5, 14)),
        (utc(2025, 3, 11, 15), utc(2025, 3, 11, 15, 30)),
        (utc(2025, 3, 18, 9), utc(2025, 3, 18, 11, 30)),
        (utc(2025, 3, 27, 16), utc(2025, 3, 27, 17)),
    ]
    # Only the periods inside the window asked for count, clipped to it.
    window = read_busy(
        calendar("freebusy_reply_one_line.ics"),
        "UTC",
        start=utc(2025, 3, 5, 13),
        end=utc(2025, 3, 18, 10),
    )
    assert window.periods == 3
    assert window.intervals == [
        (utc(2025, 3, 5, 13), utc(2025, 3, 5, 14)),
        (utc(2025, 3, 11, 15), utc(2025, 3, 11, 15, 30)),
        (utc(2025, 3, 18, 9), utc(2025, 3, 18, 10)),
    ]
    # RFC 5545 3.8.2.6 style, start/duration: BUSY-UNAVAILABLE 08:00/PT8H30M (to 16:30), and
    # two default (BUSY) periods, 09:00/PT2H inside it and 16:00/PT1H15M running on to 17:15,
    # count; the FREE ones (17:30/PT1H, 19:00-20:00) do not.
    rfc = read_busy(calendar("freebusy_rfc_periods.ics"), "UTC", **ALL_TIME)
    assert (rfc.periods, rfc.events, rfc.skipped) == (3, 0, ())
    assert rfc.intervals == [(utc(2025, 5, 13, 8), utc(2025, 5, 13, 17, 15))]
    # A booking notice: its period is FREE and its event transparent (and its ORGANIZER line,
    # written without a value, does not stop the file being read).
    booking = read_busy(calendar("free_period_transparent_event.ics"), "UTC", **ALL_TIME)
    assert (booking.intervals, booking.periods, booking.events) == ([], 0, 0)
    assert booking.skipped == ()
    # The older entry point gives the same intervals.
    assert busy_times(calendar("freebusy_rfc_periods.ics"), "UTC", **ALL_TIME) == rfc.intervals


def test_every_busy_free_busy_type_counts_and_free_does_not() -> None:
    found = read_busy(calendar("freebusy_types.ics"), NEW_YORK, **ALL_TIME)
    assert found.intervals == [
        (utc(2027, 3, 1, 9), utc(2027, 3, 1, 10)),  # BUSY, start/end
        (utc(2027, 3, 1, 11), utc(2027, 3, 1, 11, 30)),  # no FBTYPE (BUSY), start/duration
        (utc(2027, 3, 1, 13), utc(2027, 3, 1, 14)),  # BUSY-UNAVAILABLE
        (utc(2027, 3, 1, 15), utc(2027, 3, 1, 16)),  # BUSY-TENTATIVE
        # 17:00-18:00 is FREE
        (utc(2027, 3, 2, 9), utc(2027, 3, 2, 10)),  # an unknown X- type reads as BUSY
        (utc(2027, 3, 2, 15), utc(2027, 3, 2, 15, 15)),  # BUSY-TENTATIVE, second value
    ]
    # Clipped to the window asked for, like events.
    window = read_busy(
        calendar("freebusy_types.ics"),
        NEW_YORK,
        start=utc(2027, 3, 1, 9, 30),
        end=utc(2027, 3, 1, 13, 30),
    )
    assert window.intervals == [
        (utc(2027, 3, 1, 9, 30), utc(2027, 3, 1, 10)),
        (utc(2027, 3, 1, 11), utc(2027, 3, 1, 11, 30)),
        (utc(2027, 3, 1, 13), utc(2027, 3, 1, 13, 30)),
    ]


# --- 2. an incomplete event is skipped and named; the rest imports -----------------------------


def test_an_event_without_a_start_is_skipped_and_the_rest_imports() -> None:
    # An events export: an instant (no busy time), a draft with only a DESCRIPTION (no start,
    # UID or summary), then a 90-minute event. The whole file was refused before.
    found = read_busy(calendar("events_instant_incomplete_complete.ics"), "UTC", **ALL_TIME)
    assert found.intervals == [(utc(2025, 9, 15, 7, 30), utc(2025, 9, 15, 9))]
    assert found.events == 1
    assert found.skipped == (SkippedEvent("", 2, "no-start"),)


def test_an_unreadable_rule_is_named_and_other_series_still_import() -> None:
    # An Exchange-style invitation wrote "BYDAY=MO, WE, FR": the library cannot read the rule.
    # The invitation's other meeting, 14:00-15:30 CEST on 2025-04-15, still imports.
    exchange = read_busy(calendar("exchange_invite_byday_spaces.ics"), "Europe/Berlin", **ALL_TIME)
    assert exchange.skipped == (SkippedEvent("Release 7 Daily Sync", 1, "unreadable-repetition"),)
    assert exchange.events == 1
    assert exchange.intervals == [(utc(2025, 4, 15, 12), utc(2025, 4, 15, 13, 30))]
    # A weekly series with a broken series and an event without a start beside it: the
    # six meetings still import; the two others are named by summary or UID.
    mixed = with_events(
        "weekly_berlin_one_week_deleted.ics",
        "UID:broken-rule@example.com\r\nSUMMARY:Planning\r\nDTSTART:20251104T090000Z\r\n"
        "DTEND:20251104T100000Z\r\nRRULE:FREQ=SOMETIMES\r\n",
        "UID:no-start@example.com\r\nDTEND:20251105T100000Z\r\n",
    )
    found = read_busy(mixed, "Europe/Berlin", **ALL_TIME)
    assert found.events == 6 and len(found.intervals) == 6
    assert found.skipped == (
        SkippedEvent("Planning", 2, "unreadable-repetition"),
        SkippedEvent("no-start@example.com", 3, "no-start"),
    )


def test_titles_of_skipped_events_stay_out_of_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        read_busy(calendar("exchange_invite_byday_spaces.ics"), "Europe/Berlin", **ALL_TIME)
    assert "Release 7" not in caplog.text


# --- 3. DURATION: hours are exact, days are nominal -------------------------------------------


def test_duration_hours_are_real_hours_across_dst() -> None:
    found = read_busy(calendar("dst_durations_new_york.ics"), NEW_YORK, **ALL_TIME)
    assert found.skipped == () and found.events == 5
    assert found.intervals == [
        # PT2H from 01:00 EST on 2027-03-14: to 04:00 EDT (was 03:00 EDT, one hour).
        (utc(2027, 3, 14, 6), utc(2027, 3, 14, 8)),
        # P1D from noon EDT on 2027-11-06: to noon EST the next day, 25 real hours.
        (utc(2027, 11, 6, 16), utc(2027, 11, 7, 17)),
        # PT24H from noon EST on 2028-03-11: 24 real hours, to 13:00 EDT (was 12:00 EDT).
        (utc(2028, 3, 11, 17), utc(2028, 3, 12, 17)),
        # Weekly PT2H from 00:30: 00:30-02:30 EDT, then 00:30 EDT-01:30 EST (was 02:30 EST).
        (utc(2028, 10, 29, 4, 30), utc(2028, 10, 29, 6, 30)),
        (utc(2028, 11, 5, 4, 30), utc(2028, 11, 5, 6, 30)),
    ]


def test_real_durations_without_a_dst_change_are_unchanged() -> None:
    # Floating events in the owner's zone: 2 days from 2025-02-10 (all day), 1 h 30 min from
    # 13:30 on the 12th, and an instant at 09:00 on the 14th (no busy time). New York: EST.
    found = read_busy(calendar("durations_floating_all_day.ics"), NEW_YORK, **ALL_TIME)
    assert (found.events, found.skipped) == (2, ())
    assert found.intervals == [
        (utc(2025, 2, 10, 5), utc(2025, 2, 12, 5)),
        (utc(2025, 2, 12, 18, 30), utc(2025, 2, 12, 20)),
    ]
    # The same file for an owner in Tokyo (UTC+9): the same wall times, other instants.
    tokyo = read_busy(calendar("durations_floating_all_day.ics"), "Asia/Tokyo", **ALL_TIME)
    assert tokyo.intervals == [
        (utc(2025, 2, 9, 15), utc(2025, 2, 11, 15)),
        (utc(2025, 2, 12, 4, 30), utc(2025, 2, 12, 6)),
    ]


# --- 4. floating times are the owner's; exception dates match their occurrences ---------------


def test_a_floating_series_with_utc_exception_dates_follows_the_owner() -> None:
    # Daily 09:00-09:30 floating, owner in New York (EST): 14:00Z. EXDATE 14:00Z removes the
    # 5th; RECURRENCE-ID 14:00Z moves the 7th to 11:00. Before: all at 09:00Z, the 7th twice.
    found = read_busy(calendar("floating_series_utc_exdate.ics"), NEW_YORK, **ALL_TIME)
    assert found.intervals == [
        (utc(2027, 1, 4, 14), utc(2027, 1, 4, 14, 30)),
        (utc(2027, 1, 6, 14), utc(2027, 1, 6, 14, 30)),
        (utc(2027, 1, 7, 16), utc(2027, 1, 7, 16, 30)),
        (utc(2027, 1, 8, 14), utc(2027, 1, 8, 14, 30)),
    ]
    # The same file for an owner in Tokyo: 09:00 JST is 00:00Z, which no UTC date matches.
    tokyo = read_busy(calendar("floating_series_utc_exdate.ics"), "Asia/Tokyo", **ALL_TIME)
    assert tokyo.intervals[0] == (utc(2027, 1, 4), utc(2027, 1, 4, 0, 30))
    assert len(tokyo.intervals) == 6


def test_a_zoned_series_keeps_matching_its_utc_exception_date() -> None:
    # Weekly on Tuesdays 00:30-01:30 Europe/Berlin from 2025-10-07, seven times; the clocks go
    # back on 26 October. EXDATE 2025-10-27 23:30Z is 00:30 CET on the 28th: that week goes.
    found = read_busy(calendar("weekly_berlin_one_week_deleted.ics"), NEW_YORK, **ALL_TIME)
    assert found.skipped == () and found.events == 6
    assert found.intervals == [
        (utc(2025, 10, 6, 22, 30), utc(2025, 10, 6, 23, 30)),  # CEST
        (utc(2025, 10, 13, 22, 30), utc(2025, 10, 13, 23, 30)),
        (utc(2025, 10, 20, 22, 30), utc(2025, 10, 20, 23, 30)),
        (utc(2025, 11, 3, 23, 30), utc(2025, 11, 4, 0, 30)),  # CET from 26 October
        (utc(2025, 11, 10, 23, 30), utc(2025, 11, 11, 0, 30)),
        (utc(2025, 11, 17, 23, 30), utc(2025, 11, 18, 0, 30)),
    ]


# --- 5. a slot may end when the clocks change ---------------------------------------------------


def test_a_slot_ending_exactly_at_a_dst_change_is_offered() -> None:
    tz = zone(NEW_YORK)
    # 2027-03-14: 01:00-02:00 EST ends at 07:00Z, when 02:00 EST becomes 03:00 EDT.
    assert wall_length_ok(utc(2027, 3, 14, 6), utc(2027, 3, 14, 7), tz)
    assert not wall_length_ok(utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7, 30), tz)
    # 2027-11-07: 01:00-02:00 EDT ends at 06:00Z, when 02:00 EDT becomes 01:00 EST.
    assert wall_length_ok(utc(2027, 11, 7, 5), utc(2027, 11, 7, 6), tz)
    assert not wall_length_ok(utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 6, 30), tz)
    person = Interviewer(1, NEW_YORK, parse_hours({"6": [["00:00", "05:00"]]}))
    rules = SlotRules(timedelta(hours=1), (1,))
    finder = SlotFinder([person], rules, start=utc(2027, 3, 13), days=2, step_minutes=30)
    wish = CandidateWish("UTC")
    found = sorted(slot.start for slot in finder.find(wish))
    assert found == [
        utc(2027, 3, 14, 5),  # 00:00 EST
        utc(2027, 3, 14, 5, 30),  # 00:30 EST
        utc(2027, 3, 14, 6),  # 01:00 EST, ends 02:00 EST = 03:00 EDT (refused before)
        utc(2027, 3, 14, 7),  # 03:00 EDT
        utc(2027, 3, 14, 7, 30),
        utc(2027, 3, 14, 8),  # 04:00 EDT, ends 05:00 EDT
    ]
    reference = reference_slots(
        [person], rules, wish, start=utc(2027, 3, 13), days=2, step_minutes=30
    )
    assert [slot.start for slot in reference] == found


# --- 6. a refusal the clocks cause says so ----------------------------------------------------


def test_a_refused_wall_time_says_it_does_not_exist_or_happens_twice() -> None:
    tz = zone(NEW_YORK)
    assert wall_time_kind(datetime(2027, 3, 14).date(), time(2, 30), tz) == "nonexistent"
    assert wall_time_kind(datetime(2027, 11, 7).date(), time(1, 30), tz) == "ambiguous"
    assert wall_time_kind(datetime(2027, 11, 7).date(), time(3, 0), tz) == "once"
    person = Interviewer(
        1, NEW_YORK, parse_hours({"6": [["00:00", "05:00"]], "0": [["09:00", "10:00"]]})
    )
    finder = SlotFinder(
        [person], SlotRules(timedelta(hours=1), (1,)), start=utc(2027, 11, 6), days=3
    )
    wish = CandidateWish(NEW_YORK)
    # 01:30 as written on 2027-11-07 (its first showing, EDT) would end at 01:30 EST.
    asked = datetime(2027, 11, 7, 1, 30, tzinfo=tz)
    assert finder.slot_at(wish, asked) is None
    text = alternatives_text(finder.alternatives(wish, asked), asked, NEW_YORK)
    assert text.startswith(
        "01:30 on Sunday 7 November 2027 happens twice in America/New_York "
        "(the clocks go back over it); "
    )
    assert "is taken" not in text
    # The second 01:30 (EST) asked for as an instant: refused as a repeated wall time.
    second = utc(2027, 11, 7, 6, 30)
    assert finder.slot_at(wish, second) is None
    assert "happens twice" in alternatives_text([], second, NEW_YORK)
    # A time that is simply busy still says it is taken.
    ordinary = utc(2027, 11, 8, 16)  # Monday 11:00 EST, outside the hours
    assert alternatives_text([], ordinary, NEW_YORK).startswith(
        "Monday 8 November 2027, 11:00 (America/New_York, UTC-05:00) is taken"
    )
    spring = SlotFinder(
        [person], SlotRules(timedelta(hours=1), (1,)), start=utc(2027, 3, 13), days=3
    )
    gap = datetime(2027, 3, 14, 2, 30, tzinfo=tz)
    text = alternatives_text(spring.alternatives(wish, gap), gap, NEW_YORK)
    assert text.startswith(
        "02:30 on Sunday 14 March 2027 does not exist in America/New_York "
        "(the clocks jump over it); "
    )
    assert text.endswith("works for all.")


# --- the import as people use it ---------------------------------------------------------------


def test_the_import_reports_skipped_events_and_audits_only_counts(appliance, store) -> None:  # type: ignore[no-untyped-def]
    world = make_world(store, appliance.config)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    data = with_events(
        "events_instant_incomplete_complete.ics",
        f"UID:soon@example.com\r\nSUMMARY:Busy\r\nDTSTART:{soon:%Y%m%dT%H%M%SZ}\r\n"
        "DURATION:PT1H\r\n",
    )
    imported = service.import_ics_file(
        store, appliance.config, world.hr, user_id=world.interviewers[0], data=data
    )
    assert imported.blocks == 1
    assert imported.skipped == (SkippedEvent("", 2, "no-start"),)
    entry = store.audit.entries(action="availability.busy_imported")[-1]
    assert entry.details["blocks"] == 1 and entry.details["skipped"] == 1
    assert (
        service.import_ics(
            store, appliance.config, world.hr, user_id=world.interviewers[0], data=data
        )
        == 1
    )


def test_the_person_importing_sees_what_was_left_out(web, caplog) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    client = app.test_client()
    make_user(store, "hr.ics", "hr_admin", departments=["*"], regions=["*"])
    interviewer = make_user(store, "iv.ics", "interviewer")
    login(client, "hr.ics")
    page = client.get(f"/scheduling/availability?user_id={interviewer}").get_data(as_text=True)
    token = csrf_token_from(page)
    saved = client.post(
        f"/scheduling/availability/{interviewer}",
        data={
            "csrf_token": token,
            "timezone": "Europe/Berlin",
            "holiday_region": "EU",
            **availability_fields({"0": [["09:00", "17:00"]]}),
            "max_per_day": "4",
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200

    def upload(name: str) -> str:
        reply = client.post(
            f"/scheduling/availability/{interviewer}/ics",
            data={"csrf_token": token, "ics": (io.BytesIO(calendar(name)), name)},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        return str(reply.get_data(as_text=True))

    with caplog.at_level(logging.DEBUG):
        exchange = upload("exchange_invite_byday_spaces.ics")
        export = upload("events_instant_incomplete_complete.ics")
    assert "busy times were imported" in exchange
    assert "Not imported: Release 7 Daily Sync (its repetition rule cannot be read)." in exchange
    assert "Not imported: event 2 in the file (it has no start time)." in export
    assert "Release 7" not in caplog.text


# --- the real-world calendars, where the shared data folder has them --------------------------

# Per file: the owner's zone, then what the import gave when these files were in the repository
# (merged intervals, busy event occurrences, busy free/busy periods, what was left out, and the
# first interval).
REAL_WORLD_COUNTS: dict[
    str,
    tuple[str, int, int, int, tuple[SkippedEvent, ...], tuple[datetime, datetime] | None],
] = {
    # DavMail: one FREEBUSY line, eight busy periods.
    "issue_27_multiple_periods_in_freebusy_one_freebusy.ics": (
        "UTC",
        8,
        0,
        8,
        (),
        (utc(2012, 1, 3, 9, 15), utc(2012, 1, 3, 10, 15)),
    ),
    # RFC 5545 3.8.2.6: BUSY-UNAVAILABLE and two default periods inside it; FREE does not count.
    "issue_798_freebusy.ics": ("UTC", 1, 0, 3, (), (utc(1997, 3, 8, 16), utc(1997, 3, 9, 0, 30))),
    # A rental confirmation: a FREE period and a transparent event.
    "issue_348_exception_parsing_value.ics": ("UTC", 0, 0, 0, (), None),
    # plone.app.event: a 2-hour event, an instant, an event with only a DESCRIPTION.
    "created_calendar_with_unicode_fields.ics": (
        "UTC",
        1,
        1,
        0,
        (SkippedEvent("", 3, "no-start"),),
        (utc(2010, 10, 10, 10), utc(2010, 10, 10, 12)),
    ),
    # Microsoft Exchange: "BYDAY=MO, TU, WE, TH, FR".
    "issue_165_missing_event.ics": (
        "Europe/Berlin",
        0,
        0,
        0,
        (SkippedEvent("Sprint 25 Daily Standup", 1, "unreadable-repetition"),),
        None,
    ),
    # SabreDAV/Thunderbird: weekly 00:30 Europe/Berlin, 8 weeks, a UTC EXDATE deletes one.
    "each_week_but_one_deleted.ics": (
        NEW_YORK,
        7,
        7,
        0,
        (),
        (utc(2019, 3, 3, 23, 30), utc(2019, 3, 4)),
    ),
    # Floating and all-day events with DURATION (3 days, 3 hours) and one instant.
    "duration.ics": (NEW_YORK, 2, 2, 0, (), (utc(2018, 1, 10, 5), utc(2018, 1, 13, 5))),
}


@pytest.mark.parametrize("name", sorted(REAL_WORLD_COUNTS))
def test_a_real_world_calendar_reads_as_it_did(name: str) -> None:
    path = REAL_WORLD / name
    if not path.is_file():
        pytest.skip(f"{name} is not under {REAL_WORLD} (the shared data folder)")
    tz_name, intervals, events, periods, skipped, first = REAL_WORLD_COUNTS[name]
    found = read_busy(path.read_bytes(), tz_name, **ALL_TIME)
    assert (len(found.intervals), found.events, found.periods) == (intervals, events, periods)
    assert found.skipped == skipped
    assert (found.intervals[0] if found.intervals else None) == first
