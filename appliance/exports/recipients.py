"""Export recipients: an auditor's age public key and location, and what administrators allow
them (the regions they may receive, IL-2 videos, CN-3 cross-border)."""

from __future__ import annotations

from collections.abc import Sequence

from appliance.exports.rules import (
    REGIONS,
    ExportError,
    checked_reason,
    normalise_age_recipient,
    normalise_country,
)
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import WILDCARD, Action, Principal, require
from appliance.store import Store
from appliance.store.exports import ExportRepository, Recipient


def register_recipient(
    store: Store, principal: Principal, age_recipient: str, location_country: str
) -> Recipient:
    """An auditor registers (or replaces) their age public key and where they are."""
    require(principal, Action.VIEW_EXPORTS)
    key = normalise_age_recipient(age_recipient)
    country = normalise_country(location_country)
    repo = ExportRepository.of(store)
    with store.audited(
        principal.actor,
        "export.recipient_registered",
        subject=principal.actor,
        age_recipient=key,
        location=country,
    ):
        recipient = repo.save_recipient(principal.user_id, key, country, list(principal.regions))
    return recipient


def _administered(store: Store, principal: Principal, user_id: int) -> ExportRepository:
    require(principal, Action.MANAGE_SETTINGS)
    repo = ExportRepository.of(store)
    if repo.recipient(user_id) is None:
        raise NotFoundError(f"no export recipient for user {user_id}")
    return repo


def set_video_allow_list(
    store: Store, principal: Principal, user_id: int, *, allowed: bool, reason: str
) -> Recipient:
    """IL-2: put a recipient on (or off) the evaluation allow-list for videos, with a reason."""
    repo = _administered(store, principal, user_id)
    text = checked_reason(reason, "to change the video allow-list")
    with store.audited(
        principal.actor,
        "export.videos_allowed" if allowed else "export.videos_revoked",
        subject=f"user:{user_id}",
        reason=text,
    ):
        repo.set_videos(user_id, allowed, text, principal.user_id)
    return _recipient_of(repo, user_id)


def set_cross_border(
    store: Store, principal: Principal, user_id: int, *, allowed: bool, reason: str
) -> Recipient:
    """CN-3: allow (or stop) China-region data going to this recipient outside China."""
    repo = _administered(store, principal, user_id)
    text = checked_reason(reason, "to change a cross-border permission")
    with store.audited(
        principal.actor,
        "export.cross_border_allowed" if allowed else "export.cross_border_revoked",
        subject=f"user:{user_id}",
        reason=text,
    ):
        repo.set_cross_border(user_id, allowed, text, principal.user_id)
    return _recipient_of(repo, user_id)


def set_recipient_regions(
    store: Store, principal: Principal, user_id: int, regions: Sequence[str]
) -> Recipient:
    """Which regions' bundles a recipient may receive (`*`: all)."""
    repo = _administered(store, principal, user_id)
    unknown = sorted(set(regions) - {*REGIONS, WILDCARD})
    if unknown:
        raise ExportError(f"unknown region(s): {', '.join(unknown)}")
    with store.audited(
        principal.actor,
        "export.recipient_regions",
        subject=f"user:{user_id}",
        regions=sorted(set(regions)),
    ):
        repo.set_regions(user_id, sorted(set(regions)))
    return _recipient_of(repo, user_id)


def recipients(store: Store, principal: Principal) -> list[Recipient]:
    """Every registered recipient (for administrators)."""
    require(principal, Action.MANAGE_SETTINGS)
    return ExportRepository.of(store).recipients()


def own_recipient(store: Store, principal: Principal) -> Recipient | None:
    """The caller's registered recipient, if any."""
    require(principal, Action.VIEW_EXPORTS)
    return ExportRepository.of(store).recipient(principal.user_id)


def _recipient_of(repo: ExportRepository, user_id: int) -> Recipient:
    found = repo.recipient(user_id)
    if found is None:
        raise NotFoundError(f"no export recipient for user {user_id}")
    return found
