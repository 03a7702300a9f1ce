"""Users of the appliance and the candidates they interview."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import Repository, dumps, limit_clause, loads
from appliance.store.db import Row
from appliance.store.fieldcrypt import ERASED, FieldKey, open_text, seal_text
from appliance.store.sealed import SealedRepository

ROLES = (
    "hr_admin",
    "recruiter",
    "interviewer",
    "business_lead",
    "tech_expert",
    "auditor",
    "service",
)
SCAN_BATCH = 200  # rows opened at a time by a text search


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
    must_change_password: bool = False


@dataclass(frozen=True)
class Candidate:
    """A person being interviewed; `pseudonym` is what logs and the vault use.

    `full_name`, `email` and `phone` are sealed in the database with the candidate's key; once
    that key is shredded the candidate reads as a tombstone (`erased`, name ERASED, no contact).
    """

    id: int
    pseudonym: str
    full_name: str
    email: str | None
    phone: str | None
    residence_region: str
    language: str
    created_at: str
    erased: bool = False


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
        bool(row["must_change_password"]),
    )


def _candidate(row: Row, key: FieldKey | None) -> Candidate:
    pseudonym = row["pseudonym"]
    if key is None:
        return Candidate(
            row["id"],
            pseudonym,
            ERASED,
            None,
            None,
            row["residence_region"],
            row["language"],
            row["created_at"],
            erased=True,
        )

    def field(column: str) -> str | None:
        return open_text(key, row[column], table="candidates", column=column, row=pseudonym)

    return Candidate(
        row["id"],
        pseudonym,
        field("full_name") or "",
        field("email"),
        field("phone"),
        row["residence_region"],
        row["language"],
        row["created_at"],
    )


def _contains(row: Row, key: FieldKey, needle: str) -> bool:
    """Whether the sealed name or e-mail contains `needle` (already case-folded)."""
    for column in ("full_name", "email"):
        value = open_text(key, row[column], table="candidates", column=column, row=row["pseudonym"])
        if value and needle in value.casefold():
            return True
    return False


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
        must_change_password: bool = False,
    ) -> User:
        """Add an account (`must_change_password`: its first password is to be replaced)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO users (username, display_name, email, role, password_hash, departments,"
            " regions, must_change_password, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                username,
                display_name,
                email,
                role,
                password_hash,
                dumps(departments or []),
                dumps(regions or []),
                int(must_change_password),
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
        """Count a login attempt as failed and, past the threshold, lock until a time."""
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
        """Store a new password hash (no longer one to replace); ends every existing session."""
        now = now_stamp()
        self.conn.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0,"
            " locked_until = NULL, must_change_password = 0, session_epoch = session_epoch + 1,"
            " updated_at = ? WHERE id = ?",
            (password_hash, now, now, user_id),
        )
        self._end_web_sessions(user_id, now)

    def _end_web_sessions(self, user_id: int, now: str) -> None:
        """The sessions a new epoch invalidates end on the server too (counted as ended)."""
        self.conn.execute(
            "UPDATE web_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL",
            (now, user_id),
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
        self._end_web_sessions(user_id, now_stamp())
        return self.get(user_id)

    def set_preferences(self, user_id: int, *, language: str, timezone: str) -> User:
        """The account's UI language and time zone."""
        self.conn.execute(
            "UPDATE users SET language = ?, timezone = ?, updated_at = ? WHERE id = ?",
            (language, timezone, now_stamp(), user_id),
        )
        return self.get(user_id)


class CandidateRepository(SealedRepository):
    """Candidates; creating one also creates their data key in the vault.

    Name, e-mail and phone are sealed with that key, so the database cannot search them:
    text searches open the scope's rows in order and filter here, page by page.
    """

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
        key = self._store.vault.create_key(pseudonym)

        def sealed(column: str, value: str | None) -> str | None:
            return seal_text(key, value, table="candidates", column=column, row=pseudonym)

        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO candidates (pseudonym, full_name, email, phone, residence_region,"
            " language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pseudonym,
                sealed("full_name", full_name),
                sealed("email", email),
                sealed("phone", phone),
                residence_region,
                language,
                now,
                now,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def _opened(self, rows: list[Row]) -> list[Candidate]:
        keys = self._ciphers(row["pseudonym"] for row in rows)
        return [_candidate(row, keys.get(row["pseudonym"])) for row in rows]

    def _one(self, row: Row | None, candidate_id: int) -> Candidate:
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        return _candidate(row, self._key(row["pseudonym"]))

    def _page(self, cursor: Any, text: str, limit: int, offset: int) -> list[Candidate]:
        """The `limit` rows whose name or e-mail contains `text` (plain substring, any case)
        after skipping `offset` matches, opened batch by batch in the cursor's order.

        An erased candidate has neither name nor e-mail: a text never matches them.
        """
        needle = text.casefold()
        found: list[Candidate] = []
        skip = max(offset, 0)
        while len(found) < limit and (rows := cursor.fetchmany(SCAN_BATCH)):
            keys = self._ciphers(row["pseudonym"] for row in rows)
            for row in rows:
                key = keys.get(row["pseudonym"])
                if key is None or not _contains(row, key, needle):
                    continue
                if skip:
                    skip -= 1
                    continue
                found.append(_candidate(row, key))
                if len(found) == limit:
                    break
        cursor.close()
        return found

    def get(self, candidate_id: int) -> Candidate:
        """One candidate by id."""
        row = self.conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        return self._one(row, candidate_id)

    def get_by_pseudonym(self, pseudonym: str) -> Candidate:
        """One candidate by their reference (pseudonym), or NotFoundError."""
        row = self.conn.execute(
            "SELECT * FROM candidates WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        if row is None:
            raise NotFoundError("no such candidate")
        return self._one(row, int(row["id"]))

    def search(self, text: str = "", *, limit: int = 100) -> list[Candidate]:
        """Candidates whose name or e-mail contains `text`."""
        if not text:
            rows = self.conn.execute(f"SELECT * FROM candidates ORDER BY id {limit_clause(limit)}")
            return self._opened(rows.fetchall())
        cursor = self.conn.execute("SELECT * FROM candidates ORDER BY id")
        return self._page(cursor, text, limit, 0)

    def _visible_sql(
        self, visibility: Visibility, requisition_id: int | None, status: str | None
    ) -> tuple[str, list[Any]]:
        clause, params = visibility.interview_clause("i", "r")
        extra = ""
        if requisition_id is not None:
            extra += " AND r.id = ?"
            params.append(requisition_id)
        if status:
            extra += " AND i.status = ?"
            params.append(status)
        return (
            "FROM candidates c WHERE EXISTS (SELECT 1 FROM interviews i"
            " JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE i.candidate_id = c.id AND {clause}{extra})"
        ), params

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
        where, params = self._visible_sql(visibility, requisition_id, status)
        if not text:
            # The page's bounds are written into the statement (whole numbers: nothing can be
            # injected). Bound as parameters, this statement took as long as listing every
            # candidate: four times as long for a page of ten (SQLCipher, memory security on).
            rows = self.conn.execute(
                f"SELECT c.* {where} ORDER BY c.id DESC LIMIT {int(limit)} OFFSET {int(offset)}",
                params,
            )
            return self._opened(rows.fetchall())
        cursor = self.conn.execute(f"SELECT c.* {where} ORDER BY c.id DESC", params)
        return self._page(cursor, text, limit, offset)

    def count_visible(
        self,
        visibility: Visibility,
        *,
        requisition_id: int | None = None,
        status: str | None = None,
    ) -> int:
        """How many candidates `visible` would list without a text (counted, not opened)."""
        where, params = self._visible_sql(visibility, requisition_id, status)
        return int(self.conn.execute(f"SELECT count(*) {where}", params).fetchone()[0])

    def count_visible_by_status(self, visibility: Visibility) -> dict[str, int]:
        """`count_visible` for every interview status at once (a status no visible interview
        has is left out): one query, the candidates counted here (SQLite's GROUP BY costs more
        than the query under memory security)."""
        clause, params = visibility.interview_clause("i", "r")
        rows = self.conn.execute(
            "SELECT i.status, i.candidate_id FROM interviews i"
            f" JOIN requisitions r ON r.id = i.requisition_id WHERE {clause}",
            params,
        )
        candidates: dict[str, set[int]] = {}
        for row in rows:
            candidates.setdefault(str(row["status"]), set()).add(int(row["candidate_id"]))
        return {status: len(ids) for status, ids in candidates.items()}

    def get_visible(self, candidate_id: int, visibility: Visibility) -> Candidate:
        """One candidate if the visibility reaches them; otherwise the same NotFoundError."""
        clause, params = visibility.interview_clause("i", "r")
        row = self.conn.execute(
            "SELECT c.* FROM candidates c WHERE c.id = ? AND EXISTS (SELECT 1 FROM interviews i"
            " JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE i.candidate_id = c.id AND {clause})",
            (candidate_id, *params),
        ).fetchone()
        return self._one(row, candidate_id)

    def count(self) -> int:
        """How many candidates exist."""
        return int(self.conn.execute("SELECT count(*) FROM candidates").fetchone()[0])

    def mark_erased(self, candidate_id: int) -> None:
        """Replace the sealed fields with the tombstone (their key is already shredded)."""
        self.conn.execute(
            "UPDATE candidates SET full_name = ?, email = NULL, phone = NULL, updated_at = ?"
            " WHERE id = ?",
            (ERASED, now_stamp(), candidate_id),
        )

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
