"""Signed, expiring links for candidates, who have no account.

A link names one interview. Its token is signed (HMAC-SHA256 via itsdangerous) with a secret
kept in the encrypted store, carries its own expiry, and is also recorded by a random nonce,
so HR can revoke it and the appliance can tell which link was used. Verification accepts
nothing else: a wrong signature, an expired or revoked link, or a link whose interview was
cancelled all fail with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.errors import ApplianceError
from appliance.security.permissions import Action, Principal, require
from appliance.security.signed_links import ROOM_LINKS, LinkSigner, link_is_live, new_nonce
from appliance.store import Store
from appliance.store.hiring import Interview
from appliance.store.links import CandidateLink

MAX_VALID_HOURS = 30 * 24


class InvalidLinkError(ApplianceError):
    """The link is not valid (any reason: the candidate is not told which)."""

    exit_code = 20


@dataclass(frozen=True)
class IssuedLink:
    """A link as HR hands it to the candidate; the token is shown once."""

    link: CandidateLink
    token: str


def room_signer(store: Store) -> LinkSigner:
    """The signer of room links, with its secret from the store."""
    return LinkSigner(ROOM_LINKS, store.links.secret)


class LinkNotOpenYetError(InvalidLinkError):
    """The link is genuine but opens later (issued while the box was over its capacity)."""

    def __init__(self, opens_at: str) -> None:
        super().__init__(f"this interview opens at {opens_at}")
        self.opens_at = opens_at


def issue_link(
    store: Store,
    principal: Principal,
    *,
    interview_id: int,
    valid_hours: int = 72,
    opens_at: str | None = None,
) -> IssuedLink:
    """A new link to one interview, for HR who may edit that candidate; with `opens_at` (the
    box over its capacity) it opens then, and stays valid `valid_hours` from then."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    interview = store.interviews.get_visible(interview_id, visibility)
    if interview.status == "cancelled":
        raise InvalidLinkError("the interview is cancelled")
    if not 1 <= valid_hours <= MAX_VALID_HOURS:
        raise InvalidLinkError(f"a link is valid between 1 hour and {MAX_VALID_HOURS} hours")
    nonce = new_nonce()
    start = 0.0 if opens_at is None else max(0.0, (from_stamp(opens_at) - utcnow()).total_seconds())
    expires = now_stamp(start + valid_hours * 3600.0)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        principal.actor, "candidate_link.issued", subject=candidate.pseudonym
    ) as entry:
        link = store.links.create(interview.id, nonce, expires, principal.user_id, opens_at)
        entry.details.update(link=link.id, interview=interview.id, expires_at=expires)
        if opens_at is not None:
            entry.details.update(opens_at=opens_at)
    token = room_signer(store).sign(interview.id, nonce, expires)
    return IssuedLink(link, token)


def revoke_link(store: Store, principal: Principal, *, link_id: int) -> None:
    """Make a link unusable (HR who may edit the candidate)."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    link = store.links.get(link_id)
    interview = store.interviews.get_visible(link.interview_id, visibility)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        principal.actor, "candidate_link.revoked", subject=candidate.pseudonym, link=link.id
    ):
        store.links.revoke(link.id)


def verify_link(store: Store, token: str) -> tuple[Interview, CandidateLink]:
    """The interview a candidate's token opens; InvalidLinkError for anything else."""
    interview, link = check_link(store, token)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        "candidate", "candidate_link.opened", subject=candidate.pseudonym, link=link.id
    ):
        store.links.touch(link.id)
    return interview, link


def check_link(store: Store, token: str) -> tuple[Interview, CandidateLink]:
    """`verify_link` without the audit entry: for each request a room page makes after opening."""
    refused = InvalidLinkError("this interview link is not valid or has expired")
    claim = room_signer(store).read(token)
    if claim is None:
        raise refused
    link = store.links.by_nonce(claim.nonce)
    if link is None or not link_is_live(claim, link.interview_id, link.expires_at, link.revoked_at):
        raise refused
    interview = store.interviews.get(claim.subject_id)
    if interview.status == "cancelled":
        raise refused
    if link.opens_at is not None and from_stamp(link.opens_at) > utcnow():
        raise LinkNotOpenYetError(link.opens_at)
    return interview, link


def expires_in(link: CandidateLink) -> timedelta:
    """Time left before a link expires (negative once expired)."""
    return from_stamp(link.expires_at) - utcnow()
