"""Sealed columns: the candidate text the main database keeps encrypted with the candidate's key.

`SEALED_COLUMNS` is the one list of them. Repositories derive from `SealedRepository`, which
looks candidate keys up in the vault for each read or write (never caching one, so a shredded
key is gone for every process at once) and seals or opens values with appliance.store.fieldcrypt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository, dumps, loads
from appliance.store.db import Connection, checkpoint, transaction
from appliance.store.fieldcrypt import (
    ERASED,
    ERASED_CONTENT,
    PREFIX,
    FieldKey,
    cipher,
    seal_json,
    seal_text,
)

if TYPE_CHECKING:
    from appliance.store import Store

logger = logging.getLogger(__name__)

# A value written by the INSERT of a row whose sealed fields are bound to its new id; the
# UPDATE in the same savepoint replaces it before anything commits.
PENDING = "-"
PENDING_JSON = '"-"'
KEY_BATCH = 500  # candidate keys asked of the vault per query (SQLite's variable limit is 32766)
SEALED_FROM_VERSION = 6  # the schema version from which these columns are sealed

_VIA_INTERVIEW = (
    " JOIN interviews i ON i.id = t.interview_id JOIN candidates c ON c.id = i.candidate_id"
)
_VIA_CANDIDATE = " JOIN candidates c ON c.id = t.candidate_id"
# The FROM clause of each sealed table: the table as `t`, joined to its candidate as `c`.
OWNER_OF: dict[str, str] = {
    "candidates": "candidates t JOIN candidates c ON c.id = t.id",
    "reports": "reports t" + _VIA_INTERVIEW,
    "evaluations": "evaluations t" + _VIA_INTERVIEW,
    "interview_overrides": "interview_overrides t" + _VIA_INTERVIEW,
    "upload_sessions": "upload_sessions t" + _VIA_INTERVIEW,
    "decisions": "decisions t" + _VIA_CANDIDATE,
    "recordings": "recordings t" + _VIA_CANDIDATE,
    "data_requests": "data_requests t" + _VIA_CANDIDATE,
    "score_overrides": (
        "score_overrides t JOIN reports rep ON rep.id = t.report_id"
        " JOIN interviews i ON i.id = rep.interview_id JOIN candidates c ON c.id = i.candidate_id"
    ),
    "resumes": "resumes t" + _VIA_CANDIDATE,
    "personal_questions": "personal_questions t" + _VIA_CANDIDATE,
    "segment_corrections": (
        "segment_corrections t JOIN recordings rec ON rec.id = t.recording_id"
        " JOIN candidates c ON c.id = rec.candidate_id"
    ),
    "coding_drafts": "coding_drafts t" + _VIA_INTERVIEW,
    "coding_submissions": "coding_submissions t" + _VIA_INTERVIEW,
}


@dataclass(frozen=True)
class SealedColumn:
    """A column holding candidate text sealed with the candidate's key."""

    table: str
    column: str
    identity: str = "id"  # the column whose value binds a sealed value to its row
    json: bool = False  # a JSON column: the sealed text is stored as a JSON string

    @property
    def owner(self) -> str:
        """The FROM clause reaching the row's candidate (`t` the row, `c` the candidate)."""
        return OWNER_OF[self.table]


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    # A candidate's identity is their pseudonym (known before the row exists; their key's name).
    SealedColumn("candidates", "full_name", identity="pseudonym"),
    SealedColumn("candidates", "email", identity="pseudonym"),
    SealedColumn("candidates", "phone", identity="pseudonym"),
    SealedColumn("reports", "content", json=True),  # transcripts, evidence quotes, scores
    SealedColumn("evaluations", "summary"),
    SealedColumn("decisions", "reason"),
    SealedColumn("score_overrides", "reason"),
    SealedColumn("interview_overrides", "reason"),
    SealedColumn("evaluations", "ratings", json=True),  # a scorecard: rating per competency
    SealedColumn("recordings", "display_name"),
    SealedColumn("upload_sessions", "display_name"),
    SealedColumn("data_requests", "note"),
    SealedColumn("resumes", "display_name"),
    SealedColumn("resumes", "file"),  # base64 of the uploaded file's bytes
    SealedColumn("resumes", "extracted", json=True),  # text, skills, employers, roles
    SealedColumn("personal_questions", "text"),
    SealedColumn("segment_corrections", "spans", json=True),
    # A coding round: every autosave and submission of the candidate's code, and the result.
    SealedColumn("coding_drafts", "code"),
    SealedColumn("coding_submissions", "code"),
    SealedColumn("coding_submissions", "result", json=True),
)


@contextmanager
def savepoint(conn: Connection, name: str = "sealed_row") -> Iterator[None]:
    """All-or-nothing inside the caller's transaction, or a transaction of its own outside one."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


def batches(items: list[str], size: int = KEY_BATCH) -> Iterator[list[str]]:
    """`items` in lists of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SealedRepository(Repository):
    """A repository whose rows hold sealed candidate text."""

    def _keys(self, pseudonyms: Iterable[str]) -> dict[str, bytes]:
        """The data keys of these candidates that still exist (shredded ones are missing).

        Looked up on every call, never cached: a key shredded by any process is gone here too.
        """
        wanted = sorted(set(pseudonyms))
        found: dict[str, bytes] = {}
        vault = self._store.vault_conn
        for chunk in batches(wanted):
            marks = ", ".join("?" for _ in chunk)
            rows = vault.execute(
                f"SELECT pseudonym, data_key FROM candidate_keys WHERE pseudonym IN ({marks})",
                chunk,
            )
            found.update((row["pseudonym"], bytes(row["data_key"])) for row in rows)
        return found

    def _ciphers(self, pseudonyms: Iterable[str]) -> dict[str, FieldKey]:
        """`_keys`, each prepared once as a cipher: for opening many fields of a batch of rows."""
        return {pseudonym: cipher(key) for pseudonym, key in self._keys(pseudonyms).items()}

    def _key(self, pseudonym: str) -> bytes | None:
        """One candidate's data key, or None once shredded."""
        return self._keys([pseudonym]).get(pseudonym)

    def _require_key(self, pseudonym: str) -> bytes:
        """A candidate's key for writing their data; NotFoundError once they are erased."""
        key = self._key(pseudonym)
        if key is None:
            raise NotFoundError(f"candidate {pseudonym} is erased: nothing can be added")
        return key

    def _candidate_key(self, candidate_id: int) -> bytes:
        """A candidate's key by id, for writing their data; NotFoundError if there is no such
        candidate or they are erased."""
        owner = self.conn.execute(
            "SELECT pseudonym FROM candidates WHERE id = ?", (candidate_id,)
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        return self._require_key(owner["pseudonym"])

    def _seal_row(
        self,
        table: str,
        row: int,
        key: FieldKey,
        values: Mapping[str, Any],
        *,
        json_columns: Collection[str] = (),
    ) -> None:
        """Write sealed values bound to a row's id (inside the savepoint of its INSERT)."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        params = [
            seal_json(key, value, table=table, column=column, row=row)
            if column in json_columns
            else seal_text(key, value, table=table, column=column, row=row)
            for column, value in values.items()
        ]
        self.conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*params, row))


# --- sealing what was stored in clear before version 6 -----------------------------------------

_TOMBSTONES = {ERASED, dumps(ERASED_CONTENT)}


class _Sealer(SealedRepository):
    """Finds unsealed values and seals them in place."""

    def unsealed(self, column: SealedColumn) -> list[Any]:
        sealed_start = dumps(PREFIX)[:-1] if column.json else PREFIX  # '"fc1:' or 'fc1:'
        return list(
            self.conn.execute(
                f"SELECT t.{column.identity} AS ident, c.pseudonym AS owner,"
                f" t.{column.column} AS value FROM {column.owner}"
                f" WHERE t.{column.column} IS NOT NULL"
                f" AND substr(t.{column.column}, 1, ?) <> ?",
                (len(sealed_start), sealed_start),
            ).fetchall()
        )

    def replace(self, column: SealedColumn, identity: Any, value: str) -> None:
        self.conn.execute(
            f"UPDATE {column.table} SET {column.column} = ? WHERE {column.identity} = ?",
            (value, identity),
        )

    def seal_all(self) -> dict[str, int]:
        counts: dict[str, int] = {"keys_created": 0, "erased": 0}
        for column in SEALED_COLUMNS:
            rows = [row for row in self.unsealed(column) if row["value"] not in _TOMBSTONES]
            if not rows:
                continue
            keys = self._keys(row["owner"] for row in rows)
            if column.table == "candidates":
                # Clear text and no key: never erased, so the candidate gets the key they lack.
                for owner in {row["owner"] for row in rows} - set(keys):
                    keys[owner] = self._store.vault.create_key(owner)
                    counts["keys_created"] += 1
            sealed = 0
            with transaction(self.conn):
                for row in rows:
                    key = keys.get(row["owner"])
                    if key is None:  # erased meanwhile: the clear text must go, not be kept
                        value = dumps(ERASED_CONTENT) if column.json else ERASED
                        counts["erased"] += 1
                    elif column.json:
                        value = seal_json(
                            key,
                            loads(row["value"]),
                            table=column.table,
                            column=column.column,
                            row=row["ident"],
                        )
                        sealed += 1
                    else:
                        value = str(
                            seal_text(
                                key,
                                row["value"],
                                table=column.table,
                                column=column.column,
                                row=row["ident"],
                            )
                        )
                        sealed += 1
                    self.replace(column, row["ident"], value)
            counts[f"{column.table}.{column.column}"] = sealed
        return counts


def seal_existing_rows(store: Store) -> dict[str, int]:
    """Seal every candidate field still stored in clear (rows from before schema version 6).

    Idempotent and cheap once done: only unsealed values are read. Run by `migrate` after the
    SQL migrations. Returns how many values were sealed per `table.column`, plus `keys_created`
    (candidates that had no vault key get one) and `erased` (clear text of candidates whose
    key is gone, replaced by the tombstone). Check-points the WAL afterwards, so the frames
    holding the clear text are dropped; backups taken before still hold it and should be
    destroyed once this has run (see `backups_before_sealing`).
    """
    counts = _Sealer(store).seal_all()
    changed = sum(counts.values())
    if changed:
        with store.transaction():
            store.audit.append("operator", "data.sealed", details=counts)
        # Fold the WAL into the file and cut it: its old frames held the clear text
        # (secure_delete has zeroed the freed space in the file itself).
        checkpoint(store.conn)
        logger.info("sealed %d candidate field(s) stored in clear", changed)
    return counts


_BACKUP_VERSION = re.compile(r"-v(\d+)-")


def backups_before_sealing(folder: Path) -> list[Path]:
    """Backups of a schema older than version 6: they hold candidate text in clear."""
    found = []
    for path in sorted(folder.glob("appliance-*.db")):
        match = _BACKUP_VERSION.search(path.name)
        if match and int(match[1]) < SEALED_FROM_VERSION:
            found.append(path)
    return found
