"""Signed, expiring self-scheduling links (the habit of appliance.hiring.links: an
itsdangerous token signed with a secret kept in the store, plus a nonce recorded so a link can
be revoked), and the room link put into invitations."""

from __future__ import annotations

import secrets
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from appliance.hiring.links import SALT as ROOM_SALT
from appliance.hiring.links import SECRET_NAME as ROOM_SECRET
from appliance.platform.clock import from_stamp, to_stamp, utcnow
from appliance.platform.errors import ApplianceError
from appliance.store import Store
from appliance.store.scheduling import SchedulingLink, SchedulingRequest

SECRET_NAME = "scheduling-links-v1"  # noqa: S105 - the name of a secret kept in the store
SALT = "self-scheduling"


class InvalidSchedulingLinkError(ApplianceError):
    """The link is not valid (the candidate is not told why)."""

    exit_code = 21


class Signers:
    """The two serializers, read from the store before a write transaction starts (creating
    a secret on first use needs a transaction of its own)."""

    def __init__(self, store: Store) -> None:
        self.scheduling = URLSafeSerializer(store.links.secret(SECRET_NAME), salt=SALT)
        self.room = URLSafeSerializer(store.links.secret(ROOM_SECRET), salt=ROOM_SALT)


def issue_scheduling_link(
    store: Store,
    signers: Signers,
    request_id: int,
    *,
    created_by: int | None,
    expires: datetime,
) -> str:
    """A token for the candidate's scheduling page (inside the caller's transaction)."""
    nonce = secrets.token_urlsafe(16)
    stamp = to_stamp(expires)
    store.scheduling.create_link(request_id, nonce, stamp, created_by)
    return str(signers.scheduling.dumps({"r": request_id, "n": nonce, "e": stamp}))


def issue_room_token(
    store: Store, signers: Signers, interview_id: int, *, created_by: int, expires: datetime
) -> str:
    """A candidate room link token (appliance.hiring.links' format and table), for the
    invitation; inside the caller's transaction."""
    nonce = secrets.token_urlsafe(16)
    stamp = to_stamp(expires)
    store.links.create(interview_id, nonce, stamp, created_by)
    return str(signers.room.dumps({"i": interview_id, "n": nonce, "e": stamp}))


def verify_scheduling_link(store: Store, token: str) -> tuple[SchedulingRequest, SchedulingLink]:
    """The request a token opens; InvalidSchedulingLinkError for anything else."""
    refused = InvalidSchedulingLinkError("this scheduling link is not valid or has expired")
    serializer = URLSafeSerializer(store.links.secret(SECRET_NAME), salt=SALT)
    try:
        payload = serializer.loads(token)
        request_id, nonce, expires = int(payload["r"]), str(payload["n"]), str(payload["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise refused from None
    link = store.scheduling.link_by_nonce(nonce)
    if (
        link is None
        or link.request_id != request_id
        or link.expires_at != expires
        or link.revoked_at is not None
        or from_stamp(link.expires_at) <= utcnow()
    ):
        raise refused
    request = store.scheduling.get_request(request_id)
    if request.status == "cancelled" or store.interviews.get(request.interview_id).status == (
        "cancelled"
    ):
        raise refused
    return request, link
