"""Busy times read from a real CalDAV server (Radicale, started here on a free port with a
password file): one-off, recurring, all-day, free and cancelled events; read-only."""

from __future__ import annotations

import socket
import subprocess
import sys
import time as clock
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import pytest

from appliance.scheduling import service
from appliance.scheduling.caldav_import import caldav_busy
from appliance.scheduling.ics import CalendarImportError
from appliance.store import Store
from tests.conftest import Appliance
from tests.support.ports import free_port
from tests.support.scheduling_world import EVERY_DAY, make_world

pytestmark = pytest.mark.slow  # a real Radicale server process per test

USER, PASSWORD = "iv0", "caldav password 9"


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[str]:
    """`python -m radicale` on loopback with htpasswd (plain) auth; yields its URL."""
    users = tmp_path / "users"
    users.write_text(f"{USER}:{PASSWORD}\n")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(tmp_path / "collections"),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(users),
            "--auth-htpasswd-encryption",
            "plain",
            "--logging-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = clock.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if clock.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("radicale did not start") from None
                clock.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)


def event(uid: str, body: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def fill_calendar(url: str, monday: datetime) -> str:
    """The interviewer's calendar, written as their own client would; returns its path."""
    client_class: Any = caldav.DAVClient
    with client_class(url=url, username=USER, password=PASSWORD) as client:
        calendar = client.principal().make_calendar(name="work", cal_id="work")
        day = monday.strftime("%Y%m%d")
        calendar.save_event(
            event(
                "one-off",
                f"DTSTART:{day}T100000Z\r\nDTEND:{day}T110000Z\r\nSUMMARY:Private appointment\r\n",
            )
        )
        calendar.save_event(
            event(
                "daily",
                "DTSTART;TZID=Europe/London:"
                f"{day}T140000\r\nDTEND;TZID=Europe/London:{day}T143000\r\n"
                "RRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:Stand-up\r\n",
            )
        )
        wednesday = (monday + timedelta(days=2)).strftime("%Y%m%d")
        thursday = (monday + timedelta(days=3)).strftime("%Y%m%d")
        calendar.save_event(
            event(
                "all-day",
                f"DTSTART;VALUE=DATE:{wednesday}\r\n"
                f"DTEND;VALUE=DATE:{thursday}\r\nSUMMARY:Offsite\r\n",
            )
        )
        calendar.save_event(
            event(
                "free",
                f"DTSTART:{day}T120000Z\r\nDTEND:{day}T130000Z\r\n"
                "TRANSP:TRANSPARENT\r\nSUMMARY:Optional talk\r\n",
            )
        )
        calendar.save_event(
            event(
                "off",
                f"DTSTART:{day}T150000Z\r\nDTEND:{day}T160000Z\r\n"
                "STATUS:CANCELLED\r\nSUMMARY:Cancelled\r\n",
            )
        )
    return f"/{USER}/work/"


def test_busy_times_from_a_caldav_server(radicale: str) -> None:
    monday = datetime(2027, 1, 11, tzinfo=UTC)  # London is on GMT: local = UTC
    path = fill_calendar(radicale, monday)
    busy = caldav_busy(
        radicale,
        path,
        username=USER,
        password=PASSWORD,
        tz_name="Europe/London",
        start=monday,
        end=monday + timedelta(days=7),
    )
    london = ZoneInfo("Europe/London")

    def at(days: int, hour: int, minute: int = 0) -> datetime:
        local = (monday + timedelta(days=days)).astimezone(london).replace(hour=hour, minute=minute)
        return local.astimezone(UTC)

    assert busy == [
        (at(0, 10), at(0, 11)),  # the one-off
        (at(0, 14), at(0, 14, 30)),  # the daily stand-up, three times
        (at(1, 14), at(1, 14, 30)),
        (monday + timedelta(days=2), monday + timedelta(days=3)),  # Wednesday, all day
        # (the stand-up's third day lies inside the all-day event and merges with it)
    ]
    with pytest.raises(CalendarImportError):
        caldav_busy(
            radicale,
            path,
            username=USER,
            password="wrong",
            tz_name="UTC",
            start=monday,
            end=monday + timedelta(days=1),
        )


def test_sync_stores_only_times_and_blocks_slots(
    appliance: Appliance, store: Store, radicale: str
) -> None:
    now = datetime.now(UTC)
    monday = (now + timedelta(days=7 - now.weekday() + 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    path = fill_calendar(radicale, monday)
    settings = appliance.config.scheduling
    settings.caldav_url = radicale
    settings.caldav_username = USER
    password_file = Path(appliance.data_dir) / "caldav-password"
    password_file.write_text(PASSWORD + "\n")
    settings.caldav_password_file = password_file
    settings.horizon_days = 21
    world = make_world(store, appliance.config)
    person = world.interviewers[0]
    service.save_availability(
        store,
        world.hr,
        user_id=person,
        timezone="Europe/London",
        holiday_region="EU",
        working_hours=EVERY_DAY,
        focus_blocks=[],
        max_per_day=24,
        caldav_calendar=path,
    )
    count = service.sync_caldav_for(store, appliance.config, world.hr, user_id=person)
    assert count == 4
    rows = store.conn.execute("SELECT * FROM busy_blocks WHERE user_id = ?", (person,))
    assert {row["source"] for row in rows} == {"caldav"}
    dumped = "\n".join(str(tuple(row)) for row in store.conn.execute("SELECT * FROM busy_blocks"))
    assert "Private" not in dumped and "Stand-up" not in dumped
    # Syncing again replaces rather than duplicates.
    assert service.sync_caldav_for(store, appliance.config, world.hr, user_id=person) == 4
    assert store.scheduling.busy_count(person) == 4
