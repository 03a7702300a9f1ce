"""The one function that writes a time for a candidate (and every other recipient)."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime

from appliance.scheduling.zones import zone

# Day, date and wall time in the reader's language; the zone is added as name and UTC offset
# so a time is never ambiguous, even inside a DST fold.
_PATTERNS = {
    "en": "EEEE d MMMM y, HH:mm",
    "zh_CN": "y年M月d日 EEEE HH:mm",
}
_DATE_PATTERNS = {"en": "EEEE d MMMM y", "zh_CN": "y年M月d日 EEEE"}
_LOCALES = {"en": "en_GB", "zh_CN": "zh_Hans_CN"}


def render_time(
    moment: datetime, timezone: str, language: str = "en", *, date_only: bool = False
) -> str:
    """`moment` on the reader's wall clock, e.g. `Monday 9 March 2026, 14:00 (Europe/London,
    UTC+00:00)`; every candidate-facing time goes through here (`date_only`: the local date,
    e.g. for a day's heading)."""
    if moment.tzinfo is None:
        raise ValueError("render_time needs an aware datetime")
    tz = zone(timezone)
    local = moment.astimezone(tz)
    language = language if language in _PATTERNS else "en"
    if date_only:
        return format_datetime(
            local, _DATE_PATTERNS[language], tzinfo=tz, locale=_LOCALES[language]
        )
    text = format_datetime(local, _PATTERNS[language], tzinfo=tz, locale=_LOCALES[language])
    offset = local.utcoffset()
    total = int(offset.total_seconds()) if offset is not None else 0
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"{text} ({timezone}, UTC{sign}{hours:02d}:{minutes:02d})"
