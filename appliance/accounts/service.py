"""Managing accounts: creating and editing users, setting passwords, issuing API tokens.

Every function takes the acting principal, checks the permission table, validates its input
(raising `AccountError` with a stable `code` the UI translates) and writes the audit entry in
the same transaction as the change. Audit entries carry ids and roles only, never names.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.accounts.auth import (
    IssuedToken,
    hash_password,
    issue_api_token,
    set_password_by_admin,
)
from appliance.accounts.passwords import PasswordPolicyError
from appliance.platform.config import RegionEnum
from appliance.platform.errors import ApplianceError, NotFoundError
from appliance.security.permissions import WILDCARD, Action, Principal, require
from appliance.store import Store
from appliance.store.people import ROLES, User
from appliance.store.tokens import ApiToken

ADMIN_ROLE = "hr_admin"
SERVICE_ROLE = "service"  # the only role that gets API tokens
REGIONS = tuple(region.value for region in RegionEnum)
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254
MAX_SCOPE_ITEM_CHARS = 100
MAX_TOKEN_NAME_CHARS = 100
MAX_TOKEN_DAYS = 3650


class AccountError(ApplianceError):
    """An account change is invalid or not allowed; `code` names the problem for the UI."""

    exit_code = 19

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def parse_list(text: str) -> list[str]:
    """A comma-separated list, trimmed and de-duplicated in order; `*` alone means all."""
    items: list[str] = []
    for raw in (text or "").split(","):
        item = " ".join(raw.split())
        if not item or item in items:
            continue
        if len(item) > MAX_SCOPE_ITEM_CHARS:
            raise AccountError(
                "item_too_long",
                f"a list item is longer than {MAX_SCOPE_ITEM_CHARS} characters",
                limit=MAX_SCOPE_ITEM_CHARS,
            )
        items.append(item)
    return [WILDCARD] if WILDCARD in items else items


def parse_regions(text: str) -> list[str]:
    """A comma-separated list of known regions (or `*`)."""
    regions = parse_list(text)
    unknown = [region for region in regions if region != WILDCARD and region not in REGIONS]
    if unknown:
        raise AccountError(
            "unknown_region",
            f"unknown region(s): {', '.join(unknown)}",
            regions=", ".join(unknown),
            known=", ".join(REGIONS),
        )
    return regions


def _display_name(text: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise AccountError("name_required", "a display name is required")
    if len(name) > MAX_NAME_CHARS:
        raise AccountError(
            "name_too_long", f"the name is longer than {MAX_NAME_CHARS}", limit=MAX_NAME_CHARS
        )
    return name


def _email(text: str | None) -> str | None:
    email = (text or "").strip()
    if not email:
        return None
    if len(email) > MAX_EMAIL_CHARS or not EMAIL_PATTERN.fullmatch(email):
        raise AccountError("invalid_email", "the e-mail address is not valid")
    return email


def _role(role: str) -> str:
    if role not in ROLES:
        raise AccountError("unknown_role", "unknown role", role=role)
    return role


def _policy_problem(error: PasswordPolicyError) -> AccountError:
    # A common password has its own message: "too weak" alone would not say what to change.
    code = "common_password" if error.code == "common" else "weak_password"
    return AccountError(code, str(error))


def _password_hash(password: str) -> str:
    try:
        return hash_password(password)
    except PasswordPolicyError as exc:
        raise _policy_problem(exc) from None


def _grantable(principal: Principal, *, departments: list[str], regions: list[str]) -> None:
    """AccountError unless the acting person holds every department and region they give:
    nobody widens their own scope, nor gives another more than they have themselves."""
    for kind, given, held in (
        ("departments", departments, principal.departments),
        ("regions", regions, principal.regions),
    ):
        if WILDCARD in held:
            continue
        beyond = [item for item in given if item not in held]  # "*" included
        if beyond:
            raise AccountError(
                "scope_beyond_yours",
                f"{kind} beyond your own scope: {', '.join(beyond)}",
                items=", ".join(beyond),
            )


def create_account(
    store: Store,
    principal: Principal,
    *,
    username: str,
    display_name: str,
    email: str | None,
    role: str,
    departments: list[str],
    regions: list[str],
    password: str,
) -> User:
    """Create an account with an initial password (optional for service accounts)."""
    require(principal, Action.MANAGE_USERS)
    username = (username or "").strip()
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(
            "invalid_username", "a user name is 2-64 letters, digits, dots, dashes or underscores"
        )
    name, address, role = _display_name(display_name), _email(email), _role(role)
    _grantable(principal, departments=departments, regions=regions)
    if password or role != SERVICE_ROLE:
        password_hash: str | None = _password_hash(password)
    else:
        password_hash = None  # a service account without a password cannot log in
    with store.audited(
        principal.actor, "user.created", role=role, password=password_hash is not None
    ) as entry:
        if store.users.by_username(username) is not None:
            raise AccountError("username_taken", "that user name is taken", username=username)
        user = store.users.create(
            username,
            name,
            role,
            password_hash=password_hash,
            email=address,
            departments=departments,
            regions=regions,
        )
        entry.subject = f"user:{user.id}"
    return user


def update_account(
    store: Store,
    principal: Principal,
    user_id: int,
    *,
    display_name: str,
    email: str | None,
    role: str,
    departments: list[str],
    regions: list[str],
    active: bool,
) -> User:
    """Change an account's details, role, scope or activity (never one's own role or activity)."""
    require(principal, Action.MANAGE_USERS)
    user = store.users.get(user_id)
    name, address, role = _display_name(display_name), _email(email), _role(role)
    if user.id == principal.user_id:
        if not active:
            raise AccountError("cannot_deactivate_self", "you cannot deactivate your own account")
        if role != user.role:
            raise AccountError("cannot_demote_self", "you cannot change your own role")
    # What is taken away needs no right; what is added must be the acting person's own.
    _grantable(
        principal,
        departments=[item for item in departments if item not in user.departments],
        regions=[item for item in regions if item not in user.regions],
    )
    changes = {
        "display_name": name != user.display_name,
        "email": address != user.email,
        "role": role != user.role,
        "departments": departments != user.departments,
        "regions": regions != user.regions,
        "active": active != user.active,
    }
    changed = sorted(field for field, differs in changes.items() if differs)
    if not changed:
        return user  # nothing to do: the account's sessions go on
    with store.audited(
        principal.actor, "user.updated", subject=f"user:{user_id}", changed=changed
    ) as entry:
        updated = store.users.update(
            user_id,
            display_name=name,
            email=address,
            role=role,
            departments=departments,
            regions=regions,
            active=active,
        )
        if changes["role"]:
            entry.details["role"] = {"from": user.role, "to": role}
        if changes["active"]:
            entry.details["active"] = active
    return updated


def set_account_password(store: Store, principal: Principal, user_id: int, password: str) -> None:
    """Set someone's password; ends all their sessions."""
    require(principal, Action.MANAGE_USERS)
    store.users.get(user_id)
    try:
        set_password_by_admin(store, principal.user_id, user_id, password)
    except PasswordPolicyError as exc:
        raise _policy_problem(exc) from None


def end_sessions(store: Store, principal: Principal, user_id: int) -> int:
    """Sign an account out everywhere (every web session ends at once; API tokens are revoked
    apart); returns how many sessions were open. An administrator's own current session is
    the caller's to end by signing out."""
    require(principal, Action.MANAGE_USERS)
    store.users.get(user_id)
    with store.audited(principal.actor, "sessions.ended", subject=f"user:{user_id}") as entry:
        ended = store.web_sessions.end_all(user_id)
        entry.details.update(sessions=ended)
    return ended


def issue_token(
    store: Store, principal: Principal, user_id: int, name: str, *, valid_days: int = 365
) -> IssuedToken:
    """A new API token for an active service account (its secret is returned only here)."""
    require(principal, Action.MANAGE_USERS)
    user = store.users.get(user_id)
    if user.role != SERVICE_ROLE:
        raise AccountError("not_a_service_account", "API tokens are for service accounts only")
    if not user.active:
        raise AccountError("inactive_account", "the account is deactivated")
    label = " ".join((name or "").split())
    if not label or len(label) > MAX_TOKEN_NAME_CHARS:
        raise AccountError(
            "invalid_token_name",
            f"a token needs a name of at most {MAX_TOKEN_NAME_CHARS} characters",
            limit=MAX_TOKEN_NAME_CHARS,
        )
    if not 1 <= valid_days <= MAX_TOKEN_DAYS:
        raise AccountError(
            "invalid_token_days",
            f"a token is valid for 1 to {MAX_TOKEN_DAYS} days",
            limit=MAX_TOKEN_DAYS,
        )
    return issue_api_token(store, principal.user_id, user_id, label, valid_days=valid_days)


def tokens_of(store: Store, principal: Principal, user_id: int) -> list[ApiToken]:
    """An account's API tokens (records only: the secrets are never stored)."""
    require(principal, Action.MANAGE_USERS)
    return store.api_tokens.for_user(user_id)


def revoke_token(store: Store, principal: Principal, user_id: int, token_id: int) -> None:
    """Revoke one of an account's API tokens for good."""
    require(principal, Action.MANAGE_USERS)
    token = next((t for t in store.api_tokens.for_user(user_id) if t.id == token_id), None)
    if token is None:
        raise NotFoundError(f"no token {token_id} of user {user_id}")
    if token.revoked_at is not None:
        return  # already revoked: nothing changes, nothing to record
    with store.audited(
        principal.actor, "api_token.revoked", subject=f"user:{user_id}", token=token_id
    ):
        store.api_tokens.revoke(token_id)
