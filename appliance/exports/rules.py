"""The rules of exports, and the checks of what people ask for (periods, keys, countries).

Rules enforced at request time and again when the bundle is built (the checks are here; the
kinds' writers apply the per-subject ones row by row):
* the requester's role holds `exports.view` and the region is inside their scope;
* only subjects of the requested region appear (the region of the requisition);
* IL-2: media (videos) only to recipients on the evaluation allow-list, and only with a
  reason, both logged;
* CN-3: China-region data (a CN requisition, or a candidate residing in CN) is not exported
  to a recipient outside China unless an administrator allowed it for that recipient (with a
  reason, logged); when it is, the individuals are counted per year, sensitive data
  (recordings: face and voice) separately;
* free text people wrote (decision and override reasons) is never exported: only its kind.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pyrage  # type: ignore[import-untyped]

from appliance.platform.clock import to_stamp
from appliance.platform.config import RegionEnum
from appliance.platform.errors import ApplianceError
from appliance.security.permissions import (
    WILDCARD,
    Action,
    PermissionDeniedError,
    Principal,
    Scope,
    Visibility,
    require,
)
from appliance.store.exports import Recipient

MAX_REASON_CHARS = 1000
CHINA = RegionEnum.CN.value
CHINA_COUNTRY = "CN"  # mainland China; HK, MO and TW are outside it for cross-border rules
REGIONS = tuple(region.value for region in RegionEnum)

_COUNTRY = re.compile(r"[A-Z]{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ExportError(ApplianceError):
    """An export that cannot be asked for or built; `rule` names the region rule, if one."""

    exit_code = 36

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


def parse_period(period_start: str, period_end: str) -> tuple[str, str]:
    """The period as store stamps [start, end).

    Dates (`YYYY-MM-DD`, UTC) include both days; times (ISO 8601 with a zone) end exclusive.
    """
    start = _moment(period_start, "period_start", end=False)
    end = _moment(period_end, "period_end", end=True)
    if start >= end:
        raise ExportError("the period must start before it ends")
    return to_stamp(start), to_stamp(end)


def _moment(text: str, name: str, *, end: bool) -> datetime:
    value = (text or "").strip()
    try:
        if _DATE.fullmatch(value):
            day = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ExportError(f"{name} needs a time zone (for example 2026-01-31T00:00:00Z)")
    return moment.astimezone(UTC)


def normalise_age_recipient(text: str) -> str:
    """An age X25519 recipient (`age1…`), checked by parsing it; ExportError otherwise."""
    value = (text or "").strip()
    if not value.lower().startswith("age1"):
        raise ExportError("the key must be an age X25519 public key starting with age1")
    try:
        pyrage.x25519.Recipient.from_str(value)
    except pyrage.RecipientError:
        raise ExportError("the key is not a valid age X25519 public key") from None
    return value.lower()


def normalise_country(text: str) -> str:
    """An ISO 3166-1 alpha-2 country or region code, upper case."""
    value = (text or "").strip().upper()
    if not _COUNTRY.fullmatch(value):
        raise ExportError("the location must be a two-letter country or region code (CN, DE…)")
    return value


def checked_reason(text: str | None, what: str) -> str:
    """A reason someone gave `what` for (e.g. "to export videos"), required and bounded."""
    value = (text or "").strip()
    if not value:
        raise ExportError(f"a reason is required {what}")
    if len(value) > MAX_REASON_CHARS:
        raise ExportError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return value


def is_china_data(requisition_region: str | None, residence_region: str | None) -> bool:
    """China-region data: a position in China or a candidate living there (the stricter wins)."""
    return CHINA in (requisition_region, residence_region)


def _reaches(visibility: Visibility, region: str) -> bool:
    return (
        visibility.scope is Scope.ALL
        or WILDCARD in visibility.regions
        or region in visibility.regions
    )


def require_region(principal: Principal, region: str) -> None:
    """The caller may see exports of this region (ExportError, PermissionDeniedError if not)."""
    visibility = require(principal, Action.VIEW_EXPORTS)
    if region not in REGIONS:
        raise ExportError(f"unknown region {region!r}; one of: {', '.join(REGIONS)}")
    if not _reaches(visibility, region):
        raise PermissionDeniedError(f"the region {region} is outside your scope")


def exportable_regions(principal: Principal) -> list[str]:
    """The regions whose exports the caller may ask for, in the policy table's order."""
    visibility = require(principal, Action.VIEW_EXPORTS)
    return [region for region in REGIONS if _reaches(visibility, region)]


def check_recipient(recipient: Recipient, region: str, *, media: bool) -> bool:
    """Whether this recipient may receive this bundle (ExportError if not).

    Returns whether China-region data may cross the border to them (CN-3).
    """
    if WILDCARD not in recipient.regions and region not in recipient.regions:
        raise ExportError(f"this recipient may not receive bundles of the region {region}")
    if media and not recipient.videos_allowed:
        raise ExportError(
            "IL-2: videos are exported only to people on the evaluation allow-list; "
            "an administrator must add this recipient, with a reason, first",
            rule="IL-2",
        )
    abroad = recipient.location_country != CHINA_COUNTRY
    if abroad and region == CHINA and not recipient.cross_border_allowed:
        raise ExportError(
            "CN-3: China-region data is not exported to recipients outside China "
            f"(this recipient is in {recipient.location_country}); an administrator must "
            "allow cross-border export for this recipient, with a reason, first",
            rule="CN-3",
        )
    return abroad and recipient.cross_border_allowed
