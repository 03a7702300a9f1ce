"""Business days: weekends and the region's holiday calendar are skipped (NY-1)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from appliance.compliance.common import ComplianceError, check_region, parse_day, require_region
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal
from appliance.store import Store
from appliance.store.compliance import compliance_of
from appliance.store.region_settings import Holiday

MAX_HOLIDAY_NAME_CHARS = 200
SATURDAY = 5


def is_business_day(day: date, holidays: Collection[date]) -> bool:
    """Monday to Friday and not a holiday."""
    return day.weekday() < SATURDAY and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date]) -> date:
    """The date `days` business days after `start` (`start` itself never counts)."""
    if days < 0:
        raise ValueError("business days are counted forward")
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if is_business_day(current, holidays):
            counted += 1
    return current


def add_business_days_at(
    moment: datetime, days: int, holidays: Collection[date], zone: str
) -> datetime:
    """`moment` plus `days` business days of the region's calendar, same local time of day."""
    local = moment.astimezone(ZoneInfo(zone))
    target = add_business_days(local.date(), days, holidays)
    return datetime.combine(target, local.timetz().replace(tzinfo=None), ZoneInfo(zone))


def holiday_dates(store: Store, region: str) -> set[date]:
    """The configured holidays of a region."""
    return {date.fromisoformat(h.day) for h in compliance_of(store).holidays.for_region(region)}


def add_holiday(
    store: Store, principal: Principal, *, region: str, day: str | date, name: str
) -> Holiday:
    """Add (or rename) a holiday of a region's calendar."""
    require_region(principal, Action.MANAGE_NOTICES, check_region(region))
    when = parse_day(day)
    label = (name or "").strip()
    if not label or len(label) > MAX_HOLIDAY_NAME_CHARS:
        raise ComplianceError(
            said(
                "a holiday needs a name of 1 to %(limit)s characters",
                limit=MAX_HOLIDAY_NAME_CHARS,
            )
        )
    with store.audited(principal.actor, "holiday.set", region=region) as entry:
        holiday = compliance_of(store).holidays.put(
            region, when.isoformat(), label, principal.user_id
        )
        entry.details.update(day=holiday.day, name=label)
    return holiday


def remove_holiday(store: Store, principal: Principal, *, region: str, day: str | date) -> bool:
    """Delete a holiday; whether there was one."""
    require_region(principal, Action.MANAGE_NOTICES, check_region(region))
    when = parse_day(day).isoformat()
    with store.transaction():
        removed = compliance_of(store).holidays.remove(region, when)
        if removed:
            store.audit.append(
                principal.actor,
                "holiday.removed",
                details={"region": region, "day": when},
            )
    return removed
