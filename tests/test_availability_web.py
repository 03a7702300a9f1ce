"""The availability page's week editor through the Flask app over the real store: working hours
and focus blocks as form fields (no JSON), pre-filled, saved, faults named per field with the
rest of the input kept (422), and the no-JavaScript editing buttons."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from appliance.store import Store
from tests.conftest import csrf_token_from, login, make_user
from tests.support.scheduling_world import availability_fields

Web = tuple[Flask, Store]


def _open(web: Web) -> tuple[FlaskClient, Store, int, str]:
    app, store = web
    client = app.test_client()
    make_user(store, "hr.week", "hr_admin", departments=["*"], regions=["*"])
    person = make_user(store, "iv.week", "interviewer")
    login(client, "hr.week")
    page = client.get(f"/scheduling/availability?user_id={person}")
    assert page.status_code == 200
    return client, store, person, csrf_token_from(page.get_data(as_text=True))


def _value(html: str, field_id: str) -> str:
    """The value an input shows ('' when it has none); fails if there is no such input."""
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    assert tag is not None, f"no input {field_id}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def _checked(html: str, field_id: str) -> bool:
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    assert tag is not None, f"no input {field_id}"
    return " checked" in tag.group(0)


def _selected_day(html: str, field_id: str) -> str:
    select = re.search(rf'<select[^>]*\bid="{re.escape(field_id)}".*?</select>', html, re.S)
    assert select is not None, f"no select {field_id}"
    chosen = re.search(r'<option value="(\d)" selected>', select.group(0))
    assert chosen is not None
    return chosen.group(1)


def _form(**fields: Any) -> dict[str, str]:
    base = {
        "timezone": "Europe/Berlin",
        "holiday_region": "EU",
        "max_per_day": "3",
        "caldav_calendar": "",
    }
    return {**base, **{key: str(value) for key, value in fields.items()}}


def _week() -> dict[str, list[list[str]]]:
    """Monday-Friday 09:00-17:00, Tuesday split by lunch, Wednesday off."""
    return {
        "0": [["09:00", "17:00"]],
        "1": [["08:00", "12:00"], ["13:00", "17:30"]],
        "3": [["09:00", "17:00"]],
        "4": [["09:00", "15:00"]],
    }


def test_a_new_person_gets_monday_to_friday_nine_to_five(web: Web) -> None:
    client, _, person, _ = _open(web)
    html = client.get(f"/scheduling/availability?user_id={person}").get_data(as_text=True)
    assert 'name="working_hours"' not in html and 'name="focus_blocks"' not in html
    assert "JSON" not in html
    for day, name in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]):
        assert f'id="day-{day}-name">{name}</span>' in html
        assert (_value(html, f"hours-{day}-0-start"), _value(html, f"hours-{day}-0-end")) == (
            "09:00",
            "17:00",
        )
        assert not _checked(html, f"off-{day}")
    for day in (5, 6):
        assert _checked(html, f"off-{day}")
        assert _value(html, f"hours-{day}-0-start") == ""
    assert 'type="time"' in html
    assert _value(html, "focus-0-start") == ""  # one empty focus row, room to add


def test_a_week_with_a_split_day_and_a_day_off_is_saved_and_shown_again(web: Web) -> None:
    client, store, person, token = _open(web)
    fields = availability_fields(_week())
    fields["hours-2-0-start"], fields["hours-2-0-end"] = "10:00", "11:00"  # ticked off: ignored
    fields["hours-0-1-start"] = fields["hours-0-1-end"] = ""  # an empty slot: ignored
    saved = client.post(
        f"/scheduling/availability/{person}",
        data={"csrf_token": token, **_form(**fields)},
        follow_redirects=True,
    )
    assert saved.status_code == 200
    assert "The availability was saved." in saved.get_data(as_text=True)
    profile = store.scheduling.profile(person)
    assert profile is not None
    assert profile.working_hours == _week()
    assert (profile.timezone, profile.holiday_region, profile.max_per_day) == (
        "Europe/Berlin",
        "EU",
        3,
    )

    html = client.get(f"/scheduling/availability?user_id={person}").get_data(as_text=True)
    assert [_value(html, f"hours-1-{i}-{end}") for i in (0, 1) for end in ("start", "end")] == [
        "08:00",
        "12:00",
        "13:00",
        "17:30",
    ]
    assert _checked(html, "off-2") and _value(html, "hours-2-0-start") == ""
    assert not _checked(html, "off-1")
    assert _checked(html, "off-5") and _checked(html, "off-6")
    assert 'id="hours-0-1-start"' not in html  # Monday has one range again
    assert 'value="Europe/Berlin"' in html and 'value="EU" selected' in html


def test_faults_are_named_per_field_and_the_rest_is_kept(web: Web) -> None:
    client, store, person, token = _open(web)
    fields = availability_fields(
        {
            "0": [["09:00", "17:00"]],
            "1": [["09:00", "12:00"], ["17:00", "09:00"]],  # Tuesday's second ends first
            "2": [["09:00", "12:00"], ["11:00", "13:00"]],  # Wednesday's two overlap
            "3": [["9 o'clock", "17:00"]],  # Thursday's start is no time
            "4": [["09:00", ""]],  # Friday's end is missing
        },
        [[2, "14:00", "13:00"]],
    )
    reply = client.post(
        f"/scheduling/availability/{person}",
        data={"csrf_token": token, **_form(caldav_calendar="team/ines", **fields)},
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    for message in (
        "Tuesday, range 2: the end 09:00 is before the start 17:00.",
        "Wednesday, range 2: 11:00-13:00 overlaps range 1 (09:00-12:00).",
        "Thursday, range 1: 9 o&#39;clock is not a time of day (HH:MM, 00:00 to 24:00).",
        "Friday, range 1: the end time is missing.",
        "Focus block 1: the end 13:00 is before the start 14:00.",
    ):
        assert html.count(message) == 2, message  # in the summary and beside the field
    assert '<a href="#hours-1-1-end">' in html and '<a href="#hours-2-1-start">' in html
    assert 'aria-invalid="true" aria-describedby="hours-1-1-error"' in html
    assert "JSON" not in html and "Traceback" not in html
    # Everything typed is still there, right and wrong alike.
    assert _value(html, "hours-0-0-start") == "09:00"
    assert (_value(html, "hours-1-1-start"), _value(html, "hours-1-1-end")) == ("17:00", "09:00")
    assert _value(html, "hours-3-0-start") == "9 o&#39;clock"
    assert _value(html, "timezone") == "Europe/Berlin"
    assert _value(html, "max_per_day") == "3"
    assert _value(html, "caldav_calendar") == "team/ines"
    assert _selected_day(html, "focus-0-day") == "2"
    assert _checked(html, "off-5") and _checked(html, "off-6")
    assert store.scheduling.profile(person) is None  # nothing was saved


def test_a_range_past_midnight_and_a_range_that_touches_the_next(web: Web) -> None:
    client, store, person, token = _open(web)
    # An end of 00:00 is midnight at the end of the day (a time input cannot say 24:00);
    # ranges that meet at 12:00 do not overlap.
    fields = availability_fields({"5": [["08:00", "12:00"], ["12:00", "00:00"]]})
    del fields["off-6"]
    fields["hours-6-0-start"], fields["hours-6-0-end"] = "24:30", "25:00"
    bad = client.post(
        f"/scheduling/availability/{person}", data={"csrf_token": token, **_form(**fields)}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Sunday, range 1: 24:30 is not a time of day (HH:MM, 00:00 to 24:00)." in text
    assert "Sunday, range 1: 25:00 is not a time of day (HH:MM, 00:00 to 24:00)." in text
    problems = re.search(r'<div class="problems".*?</div>', text, re.S)
    assert problems is not None and "Saturday" not in problems.group(0)  # 12:00 meets 12:00
    del fields["hours-6-0-start"], fields["hours-6-0-end"]
    fields["off-6"] = "on"
    saved = client.post(
        f"/scheduling/availability/{person}", data={"csrf_token": token, **_form(**fields)}
    )
    assert saved.status_code == 302
    profile = store.scheduling.profile(person)
    assert profile is not None
    assert profile.working_hours == {"5": [["08:00", "12:00"], ["12:00", "24:00"]]}
    html = client.get(f"/scheduling/availability?user_id={person}").get_data(as_text=True)
    assert _value(html, "hours-5-1-end") == "00:00"  # shown as a time input can hold it


def test_focus_blocks_round_trip(web: Web) -> None:
    client, store, person, token = _open(web)
    fields = availability_fields(_week(), [[4, "13:00", "15:00"], [0, "09:00", "10:30"]])
    fields.update({"focus-2-day": "3", "focus-2-start": "", "focus-2-end": ""})  # empty row
    saved = client.post(
        f"/scheduling/availability/{person}", data={"csrf_token": token, **_form(**fields)}
    )
    assert saved.status_code == 302
    profile = store.scheduling.profile(person)
    assert profile is not None
    # Stored as before: [[weekday, from, to], ...] in order (a block outside working hours,
    # as on Friday 15:00, is allowed: the core only avoids focus time when ranking).
    assert profile.focus_blocks == [[0, "09:00", "10:30"], [4, "13:00", "15:00"]]
    html = client.get(f"/scheduling/availability?user_id={person}").get_data(as_text=True)
    assert _selected_day(html, "focus-0-day") == "0"
    assert (_value(html, "focus-0-start"), _value(html, "focus-0-end")) == ("09:00", "10:30")
    assert _selected_day(html, "focus-1-day") == "4"
    assert (_value(html, "focus-1-start"), _value(html, "focus-1-end")) == ("13:00", "15:00")
    assert _value(html, "focus-2-start") == ""  # and room for one more
    assert 'id="focus-3-start"' not in html


def test_the_editing_buttons_work_without_javascript(web: Web) -> None:
    client, store, person, token = _open(web)
    fields = _form(**availability_fields({"0": [["08:30", "16:30"]], "1": [["09:00", "17:00"]]}))
    url = f"/scheduling/availability/{person}"

    added = client.post(url, data={"csrf_token": token, **fields, "add_range": "1"})
    assert added.status_code == 200
    html = added.get_data(as_text=True)
    assert _value(html, "hours-1-0-start") == "09:00" and _value(html, "hours-1-1-start") == ""
    assert re.search(r'id="hours-1-1-start"[^>]*autofocus', html)
    assert store.scheduling.profile(person) is None  # an edit saves nothing

    fields.update({"hours-1-1-start": "18:00", "hours-1-1-end": "19:00"})
    removed = client.post(url, data={"csrf_token": token, **fields, "remove_range": "1-0"})
    html = removed.get_data(as_text=True)
    assert (_value(html, "hours-1-0-start"), _value(html, "hours-1-0-end")) == ("18:00", "19:00")
    assert 'id="hours-1-1-start"' not in html

    copied = client.post(url, data={"csrf_token": token, **fields, "copy_monday": "1"})
    html = copied.get_data(as_text=True)
    assert "Monday&#39;s hours were copied to Tuesday to Friday. Save to keep them." in html
    for day in range(1, 5):
        assert (_value(html, f"hours-{day}-0-start"), _value(html, f"hours-{day}-0-end")) == (
            "08:30",
            "16:30",
        )
        assert not _checked(html, f"off-{day}")
    assert _checked(html, "off-5") and _checked(html, "off-6")  # the weekend stays off
    assert _value(html, "timezone") == "Europe/Berlin"

    more = client.post(url, data={"csrf_token": token, **fields, "add_focus": "1"})
    html = more.get_data(as_text=True)
    assert 'id="focus-0-start"' in html and 'id="focus-1-start"' in html
    assert store.scheduling.profile(person) is None


def test_someone_else_out_of_scope_cannot_edit_or_preview(web: Web) -> None:
    app, store = web
    client = app.test_client()
    make_user(store, "iv.one", "interviewer")
    other = make_user(store, "iv.two", "interviewer")
    login(client, "iv.one")
    token = csrf_token_from(client.get("/scheduling/availability").get_data(as_text=True))
    fields = _form(**availability_fields({"0": [["09:00", "17:00"]]}))
    for extra in ({}, {"add_range": "0"}):
        reply = client.post(
            f"/scheduling/availability/{other}", data={"csrf_token": token, **fields, **extra}
        )
        assert reply.status_code == 404
    assert store.scheduling.profile(other) is None
