"""Signed, expiring self-scheduling links (see `appliance.security.signed_links`), and the room
link put into invitations."""

from __future__ import annotations

from datetime import datetime

from appliance.platform.clock import from_stamp, to_stamp
from appliance.platform.errors import ApplianceError
from appliance.security.signed_links import (
    ROOM_LINKS,
    SCHEDULING_LINKS,
    LinkSigner,
    link_is_live,
    new_nonce,
)
from appliance.store import Store
from appliance.store.scheduling import Booking, SchedulingLink, SchedulingRequest


class InvalidSchedulingLinkError(ApplianceError):
    """The link is not valid (the candidate is not told why)."""

    exit_code = 26


class Signers:
    """The two serializers, read from the store before a write transaction starts (creating
    a secret on first use needs a transaction of its own)."""

    def __init__(self, store: Store) -> None:
        self.scheduling = scheduling_signer(store)
        self.room = LinkSigner(ROOM_LINKS, store.links.secret)


def scheduling_signer(store: Store) -> LinkSigner:
    """The signer of self-scheduling links, with its secret from the store."""
    return LinkSigner(SCHEDULING_LINKS, store.links.secret)


def issue_scheduling_link(
    store: Store,
    signers: Signers,
    request_id: int,
    *,
    created_by: int | None,
    expires: datetime,
) -> str:
    """A token for the candidate's scheduling page (inside the caller's transaction)."""
    nonce = new_nonce()
    stamp = to_stamp(expires)
    store.scheduling.create_link(request_id, nonce, stamp, created_by)
    return signers.scheduling.sign(request_id, nonce, stamp)


def issue_room_token(
    store: Store,
    signers: Signers,
    interview_id: int,
    *,
    created_by: int,
    expires: datetime,
    opens_at: str | None = None,
) -> str:
    """A candidate room link token (appliance.hiring.links' format and table), for the
    invitation, opening at `opens_at` (admission control) or at once; inside the caller's
    transaction."""
    nonce = new_nonce()
    stamp = to_stamp(expires)
    store.links.create(interview_id, nonce, stamp, created_by, opens_at)
    return signers.room.sign(interview_id, nonce, stamp)


def revoke_booked_room_links(store: Store, interview_id: int, booking: Booking) -> int:
    """Revoke the room links sent with a booking that is being moved or cancelled (every live
    link of the interview issued since the booking was last made), so that the old time's link
    no longer opens the room nor counts in the backlog; how many were live. Inside the caller's
    transaction, before the booking row changes."""
    live = [
        link
        for link in store.links.for_interview(interview_id)
        if link.created_at >= booking.updated_at and link.revoked_at is None
    ]
    for link in live:
        store.links.revoke(link.id)
    return len(live)


def booked_room_opens_at(store: Store, interview_id: int, booking: Booking) -> datetime | None:
    """When the room link sent with a live booking opens, where admission control put it after
    the booked time (None: it opens in time)."""
    # The booking's link is the first issued for the interview since the booking was last made.
    for link in reversed(store.links.for_interview(interview_id)):
        if link.created_at >= booking.updated_at:
            return from_stamp(link.opens_at) if link.opens_at is not None else None
    return None


def verify_scheduling_link(store: Store, token: str) -> tuple[SchedulingRequest, SchedulingLink]:
    """The request a token opens; InvalidSchedulingLinkError for anything else."""
    refused = InvalidSchedulingLinkError("this scheduling link is not valid or has expired")
    claim = scheduling_signer(store).read(token)
    if claim is None:
        raise refused
    link = store.scheduling.link_by_nonce(claim.nonce)
    if link is None or not link_is_live(claim, link.request_id, link.expires_at, link.revoked_at):
        raise refused
    request = store.scheduling.get_request(claim.subject_id)
    if request.status == "cancelled" or store.interviews.get(request.interview_id).status == (
        "cancelled"
    ):
        raise refused
    return request, link
