"""One inbox per person: the interview room's and live assist's notices and the scheduling
messages delivered in the app, newest first, each naming the candidate (where the reader may
see them) and pointing at the thing it is about; with one unread count for the menu's bell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action, Principal, Visibility, allowed, require
from appliance.store import Store
from appliance.store.fieldcrypt import ERASED

INTERVIEW = "interview"  # a notice of the room or of live assist (hr_notifications)
SCHEDULING = "scheduling"  # a scheduling message delivered in the app (notifications)


@dataclass(frozen=True)
class InboxItem:
    """One notification, as its reader sees it."""

    source: str  # INTERVIEW | SCHEDULING
    id: int
    kind: str  # room.completed, live.saved, ...; 'message' for scheduling messages
    created_at: str
    read: bool
    candidate_id: int | None = None
    candidate_name: str | None = None  # None: erased, or outside the reader's reach
    interview_id: int | None = None
    job_title: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _candidates_scope(principal: Principal) -> Visibility | None:
    if allowed(principal, Action.VIEW_CANDIDATES) is None:
        return None
    return require(principal, Action.VIEW_CANDIDATES)


def _interview_item(store: Store, principal: Principal, notice: Any) -> InboxItem:
    candidate_id = name = title = None
    if notice.interview_id is not None:
        interview = store.interviews.get(notice.interview_id)
        candidate_id = interview.candidate_id
        title = store.requisitions.get(interview.requisition_id).title
        scope = _candidates_scope(principal)
        if scope is not None:
            try:
                name = store.candidates.get_visible(candidate_id, scope).full_name
            except NotFoundError:
                name = None
        if name == ERASED:
            name = None  # said as "an erased candidate" by the page
    return InboxItem(
        INTERVIEW,
        notice.id,
        notice.kind,
        notice.created_at,
        notice.read_at is not None,
        candidate_id,
        name,
        notice.interview_id,
        title,
        dict(notice.details),
    )


def inbox(store: Store, principal: Principal, *, limit: int = 100) -> list[InboxItem]:
    """The reader's notifications of both kinds, newest first."""
    require(principal, Action.VIEW_INAPP_NOTIFICATIONS)
    items = [
        _interview_item(store, principal, notice)
        for notice in store.hr_notifications.for_user(principal.user_id, limit=limit)
    ]
    for message in store.inapp.for_user(principal.user_id, limit=limit):
        items.append(
            InboxItem(
                SCHEDULING,
                message.id,
                "message",
                message.created_at,
                message.read_at is not None,
                details=dict(message.content),
            )
        )
    items.sort(key=lambda item: (item.created_at, item.source, item.id), reverse=True)
    return items[:limit]


def unread(store: Store, user_id: int) -> int:
    """How many notifications of both kinds the person has not read."""
    return store.hr_notifications.unread_count(user_id) + store.inapp.unread_count(user_id)


def mark_read(store: Store, principal: Principal, source: str, notification_id: int) -> None:
    """Mark one of the reader's notifications read; NotFoundError when it is not theirs."""
    require(principal, Action.VIEW_INAPP_NOTIFICATIONS)
    with store.transaction():
        if source == INTERVIEW:
            found = store.hr_notifications.mark_read(principal.user_id, notification_id)
        elif source == SCHEDULING:
            found = store.inapp.mark_read(principal.user_id, notification_id)
        else:
            found = False
    if not found:
        raise NotFoundError("no such notification")


def mark_all_read(store: Store, principal: Principal) -> int:
    """Mark every notification of the reader read; how many were unread."""
    require(principal, Action.VIEW_INAPP_NOTIFICATIONS)
    with store.transaction():
        return store.hr_notifications.mark_all_read(principal.user_id) + store.inapp.mark_all_read(
            principal.user_id
        )


__all__ = ["INTERVIEW", "SCHEDULING", "InboxItem", "inbox", "mark_all_read", "mark_read", "unread"]
