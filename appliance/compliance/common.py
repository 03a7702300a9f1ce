"""What the compliance services share: their error, the regions, region scope checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

from appliance.platform.clock import from_stamp, to_stamp
from appliance.platform.config import RegionEnum
from appliance.platform.errors import RefusedError
from appliance.platform.words import said
from appliance.security.permissions import (
    WILDCARD,
    Action,
    PermissionDeniedError,
    Principal,
    Scope,
    Visibility,
    require,
)
from appliance.store import Store

REGIONS: tuple[str, ...] = tuple(region.value for region in RegionEnum)
DEFAULT_REGION = "default"


class ComplianceError(RefusedError):
    """A compliance record or setting is incomplete or refused (answered with 422)."""

    exit_code = 43


def check_region(region: str) -> str:
    """`region` if the appliance knows its policy, else ComplianceError."""
    if region not in REGIONS:
        raise ComplianceError(
            said(
                "unknown region %(region)s (known: %(known)s)",
                region=repr(region),
                known=", ".join(REGIONS),
            )
        )
    return region


def in_scope(visibility: Visibility, region: str) -> bool:
    """Whether a visibility reaches records of `region` (region-wide records, no department)."""
    return (
        visibility.scope is Scope.ALL
        or WILDCARD in visibility.regions
        or region in visibility.regions
    )


def require_region(principal: Principal, action: Action, region: str) -> Visibility:
    """The visibility for `action`, which must reach `region`; else PermissionDeniedError."""
    visibility = require(principal, action)
    check_region(region)
    if not in_scope(visibility, region):
        raise PermissionDeniedError(
            said("%(action)s does not reach region %(region)s", action=action.value, region=region)
        )
    return visibility


def regions_in_scope(visibility: Visibility) -> list[str]:
    """The known regions a visibility reaches."""
    return [region for region in REGIONS if in_scope(visibility, region)]


def parse_moment(value: str | datetime | None, *, default: datetime | None = None) -> datetime:
    """An aware datetime from a store stamp, an ISO-8601 text or a datetime (naive = UTC)."""
    if value is None:
        if default is None:
            raise ComplianceError(said("a time is required"))
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    text = value.strip()
    try:
        return from_stamp(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ComplianceError(said("not a date and time: %(value)s", value=repr(value))) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stamp_of(value: str | datetime) -> str:
    """The store's timestamp text for a time given as text or datetime."""
    return to_stamp(parse_moment(value))


def parse_day(value: str | date) -> date:
    """A calendar date from YYYY-MM-DD (or a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ComplianceError(
            said("not a date (YYYY-MM-DD): %(value)s", value=repr(value))
        ) from None


def normalize_regions(regions: list[str]) -> list[str]:
    """Known regions in order, without repeats; `default` only when nothing else applies."""
    found: list[str] = []
    for region in regions:
        check_region(region)
        if region not in found:
            found.append(region)
    specific = [region for region in found if region != DEFAULT_REGION]
    return specific or [DEFAULT_REGION]


def regions_for_interview(store: Store, interview_id: int) -> list[str]:
    """The requisition's region and the candidate's declared residence."""
    interview = store.interviews.get(interview_id)
    requisition = store.requisitions.get(interview.requisition_id)
    candidate = store.candidates.get(interview.candidate_id)
    return regions_of(requisition.region, candidate.residence_region)


def regions_of(requisition_region: str, residence_region: str | None) -> list[str]:
    """`regions_for_interview` from what a caller has read already: the interview's
    requisition's region and its candidate's declared residence."""
    regions = [requisition_region]
    if residence_region in REGIONS:
        regions.append(residence_region)
    return normalize_regions(regions)
