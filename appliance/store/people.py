"""Users of the appliance and the candidates they interview."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from appliance.clock import now_stamp
from appliance.db import Row
from appliance.errors import NotFoundError
from appliance.permissions import Visibility
from appliance.store.base import Repository, dumps, loads

ROLES = (
    "hr_admin",
    "recruiter",
    "interviewer",
    "business_lead",
    "tech_expert",
    "auditor",
    "service",
)


@dataclass(frozen=True)
class User:
    """An account on the appliance."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    password_hash: str | None
    departments: list[str]
    regions: list[str]
    active: bool
    failed_logins: int = 0
    locked_until: str | None = None
    language: str = "en"
    timezone: str = "UTC"
    session_epoch: int = 0


@dataclass(frozen=True)
class Candidate:
    """A person being interviewed; `pseudonym` is what logs and the vault use."""

    id: int
    pseudonym: str
    full_name: str
    email: str | None
    phone: str | None
    residence_region: str
    language: str
    created_at: str


def like_literal(text: str) -> str:
    """`text` with LIKE's wildcards escaped, so `%` and `_` match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _user(row: Row) -> User:
    return User(
        row["id"],
        row["username"],
        row["display_name"],
        row["email"],
        row["role"],
        row["password_hash"],
        loads(row["departments"]),
        loads(row["regions"]),
        bool(row["active"]),
        row["failed_logins"],
        row["locked_until"],
        row["language"],
        row["timezone"],
        row["session_epoch"],
    )


def _candidate(row: Row) -> Candidate:
    return Candidate(
        row["id"],
        row["pseudonym"],
        row["full_name"],
        row["email"],
        row["phone"],
        row["residence_region"],
        row["language"],
        row["created_at"],
    )


class UserRepository(Repository):
    """Accounts and their roles."""

    def create(
        self,
        username: str,
        display_name: str,
        role: str,
        *,
        password_hash: str | None = None,
        email: str | None = None,
        departments: list[str] | None = None,
        regions: list[str] | None = None,
    ) -> User:
        """Add an account."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO users (username, display_name, email, role, password_hash, departments,"
            " regions, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                username,
                display_name,
                email,
                role,
                password_hash,
                dumps(departments or []),
                dumps(regions or []),
                now,
                now,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, user_id: int) -> User:
        """One account by id."""
        row = self.conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no user {user_id}")
        return _user(row)

    def by_username(self, username: str) -> User | None:
        """One account by login name (case-insensitive)."""
        row = self.conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        return _user(row) if row else None

    def all(self) -> list[User]:
        """All accounts."""
        return [_user(row) for row in self.conn.execute("SELECT * FROM users ORDER BY username")]

    def count(self) -> int:
        """How many accounts exist."""
        return int(self.conn.execute("SELECT count(*) FROM users").fetchone()[0])

    def record_failed_login(self, user_id: int, locked_until: str | None) -> None:
        """Count a failed login and, past the threshold, lock until a time."""
        self.conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until = ? WHERE id = ?",
            (locked_until, user_id),
        )

    def record_login(self, user_id: int) -> None:
        """Reset the failure count after a successful login."""
        self.conn.execute(
            "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", (user_id,)
        )

    def set_password(self, user_id: int, password_hash: str) -> None:
        """Store a new password hash and end every existing session."""
        now = now_stamp()
        self.conn.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0,"
            " locked_until = NULL, session_epoch = session_epoch + 1, updated_at = ? WHERE id = ?",
            (password_hash, now, now, user_id),
        )

    def update(
        self,
        user_id: int,
        *,
        display_name: str,
        email: str | None,
        role: str,
        departments: list[str],
        regions: list[str],
        active: bool,
    ) -> User:
        """Change an account's details; a role, scope or activity change ends its sessions."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.conn.execute(
            "UPDATE users SET display_name = ?, email = ?, role = ?, departments = ?,"
            " regions = ?, active = ?, session_epoch = session_epoch + 1, updated_at = ?"
            " WHERE id = ?",
            (
                display_name,
                email,
                role,
                dumps(departments),
                dumps(regions),
                int(active),
                now_stamp(),
                user_id,
            ),
        )
        return self.get(user_id)

    def set_preferences(self, user_id: int, *, language: str, timezone: str) -> User:
        """The account's UI language and time zone."""
        self.conn.execute(
            "UPDATE users SET language = ?, timezone = ?, updated_at = ? WHERE id = ?",
            (language, timezone, now_stamp(), user_id),
        )
        return self.get(user_id)


class CandidateRepository(Repository):
    """Candidates; creating one also creates their data key in the vault."""

    def create(
        self,
        full_name: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        residence_region: str = "default",
        language: str = "en",
    ) -> Candidate:
        """Add a candidate with a fresh pseudonym and data key."""
        pseudonym = "cand-" + secrets.token_hex(8)
        # The key is committed first: an orphan key is harmless, a candidate without one is not.
        self._store.vault.create_key(pseudonym)
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO candidates (pseudonym, full_name, email, phone, residence_region,"
            " language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (pseudonym, full_name, email, phone, residence_region, language, now, now),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, candidate_id: int) -> Candidate:
        """One candidate by id."""
        row = self.conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        return _candidate(row)

    def search(self, text: str = "", *, limit: int = 100) -> list[Candidate]:
        """Candidates whose name or e-mail contains `text`."""
        pattern = f"%{like_literal(text)}%"
        rows = self.conn.execute(
            "SELECT * FROM candidates WHERE full_name LIKE ? ESCAPE '\\'"
            " OR coalesce(email, '') LIKE ? ESCAPE '\\'"
            " ORDER BY id LIMIT ?",
            (pattern, pattern, limit),
        )
        return [_candidate(row) for row in rows]

    def visible(
        self,
        visibility: Visibility,
        *,
        text: str = "",
        requisition_id: int | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Candidate]:
        """Candidates the visibility reaches, filtered by name/e-mail text, job and status."""
        clause, params = visibility.interview_clause("i", "r")
        extra = ""
        if requisition_id is not None:
            extra += " AND r.id = ?"
            params.append(requisition_id)
        if status:
            extra += " AND i.status = ?"
            params.append(status)
        pattern = f"%{like_literal(text)}%"
        rows = self.conn.execute(
            "SELECT c.* FROM candidates c WHERE EXISTS (SELECT 1 FROM interviews i"
            " JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE i.candidate_id = c.id AND {clause}{extra})"
            " AND (c.full_name LIKE ? ESCAPE '\\' OR coalesce(c.email, '') LIKE ? ESCAPE '\\')"
            " ORDER BY c.id DESC LIMIT ? OFFSET ?",
            (*params, pattern, pattern, limit, offset),
        )
        return [_candidate(row) for row in rows]

    def get_visible(self, candidate_id: int, visibility: Visibility) -> Candidate:
        """One candidate if the visibility reaches them; otherwise the same NotFoundError."""
        clause, params = visibility.interview_clause("i", "r")
        row = self.conn.execute(
            "SELECT c.* FROM candidates c WHERE c.id = ? AND EXISTS (SELECT 1 FROM interviews i"
            " JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE i.candidate_id = c.id AND {clause})",
            (candidate_id, *params),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        return _candidate(row)

    def count(self) -> int:
        """How many candidates exist."""
        return int(self.conn.execute("SELECT count(*) FROM candidates").fetchone()[0])

    def as_dict(self, candidate: Candidate) -> dict[str, Any]:
        """A JSON-ready view of a candidate."""
        return {
            "id": candidate.id,
            "pseudonym": candidate.pseudonym,
            "full_name": candidate.full_name,
            "email": candidate.email,
            "residence_region": candidate.residence_region,
            "language": candidate.language,
        }
