"""Signed, expiring link tokens for people without an account (candidates).

A token is an itsdangerous payload signed (HMAC-SHA256) with a secret the store keeps per kind
of link: the subject's id, a random nonce recorded in the store (so a link can be revoked and
its use seen) and the expiry stamp. Reading a token checks only the signature and the shape;
the caller then checks the recorded link (nonce, expiry, revocation) with `link_is_live`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from appliance.platform.clock import from_stamp, utcnow


@dataclass(frozen=True)
class LinkKind:
    """One kind of link: the store's secret that signs it, a salt, the payload's id field."""

    secret_name: str
    salt: str
    id_field: str


# Room links (one interview) and self-scheduling links (one scheduling request).
ROOM_LINKS = LinkKind("candidate-links-v1", "candidate-room", "i")
SCHEDULING_LINKS = LinkKind("scheduling-links-v1", "self-scheduling", "r")


@dataclass(frozen=True)
class LinkClaim:
    """What a token says: the subject's id, the nonce and the expiry stamp it was issued with."""

    subject_id: int
    nonce: str
    expires_at: str


class LinkSigner:
    """Signs and reads the tokens of one kind with its secret."""

    def __init__(self, kind: LinkKind, secret_of: Callable[[str], bytes | str]) -> None:
        # `secret_of` looks a secret up by name (the store's; kept out of this layer).
        self.kind = kind
        self._serializer = URLSafeSerializer(secret_of(kind.secret_name), salt=kind.salt)

    def sign(self, subject_id: int, nonce: str, expires_at: str) -> str:
        """The token for a link recorded with `nonce` that expires at `expires_at`."""
        return str(
            self._serializer.dumps({self.kind.id_field: subject_id, "n": nonce, "e": expires_at})
        )

    def read(self, token: str) -> LinkClaim | None:
        """The claim of a well-signed token of this kind, else None (whatever is wrong)."""
        try:
            payload = self._serializer.loads(token)
            return LinkClaim(int(payload[self.kind.id_field]), str(payload["n"]), str(payload["e"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None


def new_nonce() -> str:
    """A fresh random nonce for a link's record."""
    return secrets.token_urlsafe(16)


def link_is_live(
    claim: LinkClaim, subject_id: int, expires_at: str, revoked_at: str | None
) -> bool:
    """Whether the recorded link matches the claim and is neither revoked nor expired."""
    return (
        subject_id == claim.subject_id
        and expires_at == claim.expires_at
        and revoked_at is None
        and from_stamp(expires_at) > utcnow()
    )
