"""Busy times read from the enterprise's CalDAV server (read-only: REPORT and GET only)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import caldav
from caldav.lib.error import DAVError

from appliance.scheduling.ics import CalendarImportError, read_busy
from appliance.scheduling.model import merge_intervals

logger = logging.getLogger(__name__)


def caldav_busy(
    url: str,
    calendar_path: str,
    *,
    username: str,
    password: str,
    tz_name: str,
    start: datetime,
    end: datetime,
    timeout_s: float = 20.0,
) -> list[tuple[datetime, datetime]]:
    """Busy intervals of one calendar on the server between start and end (UTC, merged)."""
    calendar_url = (
        calendar_path
        if "://" in calendar_path
        else url.rstrip("/") + "/" + (calendar_path.lstrip("/"))
    )
    try:
        client_class: Any = caldav.DAVClient
        with client_class(
            url=url, username=username or None, password=password or None, timeout=int(timeout_s)
        ) as client:
            calendar = client.calendar(url=calendar_url)
            # Expanded here (recurring_ical_events in read_busy), not by the server.
            objects = calendar.search(start=start, end=end, event=True)
            found = []
            skipped = 0
            for item in objects:
                read = read_busy(item.data, tz_name, start=start, end=end)
                found.extend(read.intervals)
                skipped += len(read.skipped)
    except (DAVError, OSError) as exc:
        raise CalendarImportError(
            f"the CalDAV server did not answer the calendar query ({type(exc).__name__})"
        ) from None
    if skipped:
        # The count only: event titles can name candidates and stay out of logs.
        logger.warning("CalDAV: %d unreadable events were left out of the busy times", skipped)
    return merge_intervals(found)
