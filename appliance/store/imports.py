"""Import batches from another HR system and the external ids of the records they created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository, dumps, limit_clause, loads
from appliance.store.db import Row

ENTITIES = ("requisition", "candidate")
BATCH_STATUSES = ("planned", "rejected", "completed", "failed", "discarded")


@dataclass(frozen=True)
class ImportBatch:
    """One dry run or import: counts and a report of hashes, never personal data."""

    id: int
    created_by: int
    created_at: str
    finished_at: str | None
    source_format: str
    source_sha256: str
    source_bytes: int
    status: str
    counts: dict[str, Any]
    report: dict[str, Any] | None
    staged: bool


def _batch(row: Row) -> ImportBatch:
    return ImportBatch(
        row["id"],
        row["created_by"],
        row["created_at"],
        row["finished_at"],
        row["source_format"],
        row["source_sha256"],
        row["source_bytes"],
        row["status"],
        loads(row["counts"]),
        loads(row["report"]),
        bool(row["staged"]),
    )


_BATCH_COLUMNS = (
    "id, created_by, created_at, finished_at, source_format, source_sha256, source_bytes,"
    " status, counts, report, staged_source IS NOT NULL AS staged"
)


def _id_column(entity: str) -> str:
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity {entity!r}")
    return f"{entity}_id"


class ImportRepository(Repository):
    """The import log and the external-id map; call the writers inside a transaction."""

    def create_batch(
        self,
        created_by: int,
        *,
        source_format: str,
        source_sha256: str,
        source_bytes: int,
        status: str,
        counts: dict[str, Any],
        report: dict[str, Any] | None = None,
        staged_source: bytes | None = None,
    ) -> ImportBatch:
        """Log a new batch (a dry run); `staged_source` keeps the file until confirmation."""
        if status not in BATCH_STATUSES:
            raise ValueError(f"unknown batch status {status!r}")
        cursor = self.conn.execute(
            "INSERT INTO import_batches (created_by, created_at, source_format, source_sha256,"
            " source_bytes, status, counts, report, staged_source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                created_by,
                now_stamp(),
                source_format,
                source_sha256,
                source_bytes,
                status,
                dumps(counts),
                None if report is None else dumps(report),
                staged_source,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, batch_id: int) -> ImportBatch:
        """One batch by id."""
        row = self.conn.execute(
            f"SELECT {_BATCH_COLUMNS} FROM import_batches WHERE id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no import batch {batch_id}")
        return _batch(row)

    def recent(self, limit: int = 50) -> list[ImportBatch]:
        """The newest batches first."""
        rows = self.conn.execute(
            f"SELECT {_BATCH_COLUMNS} FROM import_batches ORDER BY id DESC {limit_clause(limit)}"
        )
        return [_batch(row) for row in rows]

    def staged_source(self, batch_id: int) -> bytes | None:
        """The uploaded file of a batch awaiting confirmation (None once cleared)."""
        row = self.conn.execute(
            "SELECT staged_source FROM import_batches WHERE id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no import batch {batch_id}")
        return None if row["staged_source"] is None else bytes(row["staged_source"])

    def finish(
        self,
        batch_id: int,
        status: str,
        *,
        counts: dict[str, Any] | None = None,
        report: dict[str, Any] | None = None,
    ) -> None:
        """Close a batch with its outcome; the staged file is dropped."""
        if status not in BATCH_STATUSES:
            raise ValueError(f"unknown batch status {status!r}")
        self.conn.execute(
            "UPDATE import_batches SET status = ?, finished_at = ?, staged_source = NULL,"
            " counts = coalesce(?, counts), report = coalesce(?, report) WHERE id = ?",
            (
                status,
                now_stamp(),
                None if counts is None else dumps(counts),
                None if report is None else dumps(report),
                batch_id,
            ),
        )

    def expire_staged(self, before: str) -> int:
        """Discard planned batches staged before `before`; how many were discarded."""
        cursor = self.conn.execute(
            "UPDATE import_batches SET status = 'discarded', staged_source = NULL,"
            " finished_at = ? WHERE staged_source IS NOT NULL AND created_at < ?",
            (now_stamp(), before),
        )
        return int(cursor.rowcount)

    def map_record(
        self, batch_id: int, entity: str, external_id: str, local_id: int, position: int
    ) -> None:
        """Remember the external id of a record the batch created."""
        column = _id_column(entity)
        self.conn.execute(
            f"INSERT INTO import_records (batch_id, entity, external_id, {column}, position)"
            " VALUES (?, ?, ?, ?, ?)",
            (batch_id, entity, external_id, local_id, position),
        )

    def local_ids(self, entity: str, external_ids: list[str]) -> dict[str, int]:
        """Local ids of records imported earlier under these external ids."""
        column = _id_column(entity)
        found: dict[str, int] = {}
        for start in range(0, len(external_ids), 500):
            chunk = external_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.conn.execute(
                f"SELECT external_id, {column} AS local_id FROM import_records"
                f" WHERE entity = ? AND external_id IN ({marks})",
                (entity, *chunk),
            )
            found.update({str(row["external_id"]): int(row["local_id"]) for row in rows})
        return found

    def external_ids(self, entity: str, local_ids: list[int]) -> dict[int, str]:
        """External ids of local records that an import created."""
        column = _id_column(entity)
        found: dict[int, str] = {}
        for start in range(0, len(local_ids), 500):
            chunk = local_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.conn.execute(
                f"SELECT external_id, {column} AS local_id FROM import_records"
                f" WHERE entity = ? AND {column} IN ({marks})",
                (entity, *chunk),
            )
            found.update({int(row["local_id"]): str(row["external_id"]) for row in rows})
        return found

    def records(self, batch_id: int, entity: str) -> list[tuple[str, int]]:
        """(external id, local id) of what a batch created, in the source's order."""
        column = _id_column(entity)
        rows = self.conn.execute(
            f"SELECT external_id, {column} AS local_id FROM import_records"
            " WHERE batch_id = ? AND entity = ? ORDER BY position",
            (batch_id, entity),
        )
        return [(str(row["external_id"]), int(row["local_id"])) for row in rows]

    def candidate_ids(self) -> list[int]:
        """Ids of every candidate (no personal column is read; use candidates.get for those)."""
        return [int(row[0]) for row in self.conn.execute("SELECT id FROM candidates ORDER BY id")]

    def restore_decided_at(self, decision_id: int, decided_at: str) -> None:
        """Give an imported decision the time it was made in the other system."""
        self.conn.execute(
            "UPDATE decisions SET decided_at = ? WHERE id = ?", (decided_at, decision_id)
        )
