"""Time stamps stored in the database: fixed-width UTC ISO-8601, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_stamp(moment: datetime) -> str:
    """Format an aware datetime as the store's timestamp text."""
    return moment.astimezone(UTC).strftime(_FORMAT)


def from_stamp(text: str) -> datetime:
    """Parse the store's timestamp text."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def now_stamp(offset_s: float = 0.0) -> str:
    """The current time (plus an offset in seconds) as the store's timestamp text."""
    return to_stamp(utcnow() + timedelta(seconds=offset_s))
