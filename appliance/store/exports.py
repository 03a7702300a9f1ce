"""Export bundles: recipients (age keys), requests, the CN-3 counter, and the rows exported.

Every statement the export builder runs lives here. The read queries stream: they return
cursors or yield batches, so an export of any size holds one batch in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import dumps, limit_clause, loads
from appliance.store.db import Row
from appliance.store.fieldcrypt import open_json
from appliance.store.sealed import SealedRepository

if TYPE_CHECKING:
    from appliance.store import Store

FINAL_STATES = ("succeeded", "failed")
# Where the audit log's signed checkpoints live (migration 0005), by the names it may have.
CHECKPOINT_TABLES = ("audit_checkpoints", "checkpoints")


@dataclass(frozen=True)
class Recipient:
    """An auditor who can receive bundles, encrypted to their age public key."""

    user_id: int
    age_recipient: str
    regions: list[str]
    location_country: str
    videos_allowed: bool
    videos_reason: str | None
    videos_decided_by: int | None
    videos_decided_at: str | None
    cross_border_allowed: bool
    cross_border_reason: str | None
    cross_border_decided_by: int | None
    cross_border_decided_at: str | None
    registered_at: str
    updated_at: str


@dataclass(frozen=True)
class ExportRequest:
    """One requested bundle and, once built, where and what it is."""

    id: int
    requested_by: int
    kind: str
    region: str
    period_start: str
    period_end: str
    include_media: bool
    reason: str | None
    age_recipient: str
    recipient_country: str
    cross_border: bool
    job_id: int | None
    state: str
    progress: float
    error: str | None
    bundle_name: str | None
    tar_bytes: int | None
    bundle_bytes: int | None
    bundle_sha256: str | None
    manifest_sha256: str | None
    counts: dict[str, Any] | None
    created_at: str
    started_at: str | None
    finished_at: str | None

    @property
    def final(self) -> bool:
        """Whether the bundle is built or failed for good."""
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class CnExportCount:
    """CN-3: individuals whose China-region data left China in one year."""

    year: int
    individuals: int
    sensitive_individuals: int
    exports: int


@dataclass(frozen=True)
class BundleFacts:
    """What a finished bundle is: file, sizes, digests and counts."""

    bundle_name: str
    tar_bytes: int
    bundle_bytes: int
    bundle_sha256: str
    manifest_sha256: str
    counts: dict[str, Any]


def _recipient(row: Row) -> Recipient:
    return Recipient(
        row["user_id"],
        row["age_recipient"],
        loads(row["regions"]),
        row["location_country"],
        bool(row["videos_allowed"]),
        row["videos_reason"],
        row["videos_decided_by"],
        row["videos_decided_at"],
        bool(row["cross_border_allowed"]),
        row["cross_border_reason"],
        row["cross_border_decided_by"],
        row["cross_border_decided_at"],
        row["registered_at"],
        row["updated_at"],
    )


def _request(row: Row) -> ExportRequest:
    return ExportRequest(
        row["id"],
        row["requested_by"],
        row["kind"],
        row["region"],
        row["period_start"],
        row["period_end"],
        bool(row["include_media"]),
        row["reason"],
        row["age_recipient"],
        row["recipient_country"],
        bool(row["cross_border"]),
        row["job_id"],
        row["state"],
        row["progress"],
        row["error"],
        row["bundle_name"],
        row["tar_bytes"],
        row["bundle_bytes"],
        row["bundle_sha256"],
        row["manifest_sha256"],
        loads(row["counts"]),
        row["created_at"],
        row["started_at"],
        row["finished_at"],
    )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class ExportRepository(SealedRepository):
    """Recipients, export requests, the CN-3 counter, and the streamed rows of each kind."""

    @classmethod
    def of(cls, store: Store) -> ExportRepository:
        """The store's export repository (`store.exports` once the store registers one)."""
        registered = getattr(store, "exports", None)
        return registered if isinstance(registered, ExportRepository) else cls(store)

    # --- Recipients -------------------------------------------------------------------------

    def recipient(self, user_id: int) -> Recipient | None:
        """The registered recipient of an account, if any."""
        row = self.conn.execute(
            "SELECT * FROM export_recipients WHERE user_id = ?", (user_id,)
        ).fetchone()
        return _recipient(row) if row else None

    def recipients(self) -> list[Recipient]:
        """Every registered recipient."""
        rows = self.conn.execute("SELECT * FROM export_recipients ORDER BY user_id")
        return [_recipient(row) for row in rows]

    def save_recipient(
        self, user_id: int, age_recipient: str, location_country: str, regions: list[str]
    ) -> Recipient:
        """Register or replace an account's key and location (an administrator's grants stay).

        A recipient who moves keeps no cross-border permission: it was given for a place.
        """
        now = now_stamp()
        self.conn.execute(
            "INSERT INTO export_recipients (user_id, age_recipient, regions, location_country,"
            " registered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET age_recipient = excluded.age_recipient,"
            " updated_at = excluded.updated_at,"
            " cross_border_allowed = CASE WHEN location_country = excluded.location_country"
            "   THEN cross_border_allowed ELSE 0 END,"
            " location_country = excluded.location_country",
            (user_id, age_recipient, dumps(regions), location_country, now, now),
        )
        found = self.recipient(user_id)
        assert found is not None
        return found

    def set_regions(self, user_id: int, regions: list[str]) -> None:
        """Which regions' bundles the recipient may receive."""
        self._update(user_id, "regions = ?", dumps(regions))

    def set_videos(self, user_id: int, allowed: bool, reason: str, decided_by: int) -> None:
        """Put the recipient on (or take them off) the evaluation allow-list for videos."""
        self._update(
            user_id,
            "videos_allowed = ?, videos_reason = ?, videos_decided_by = ?, videos_decided_at = ?",
            int(allowed),
            reason,
            decided_by,
            now_stamp(),
        )

    def set_cross_border(self, user_id: int, allowed: bool, reason: str, decided_by: int) -> None:
        """Allow (or stop) China-region data going to this recipient outside China."""
        self._update(
            user_id,
            "cross_border_allowed = ?, cross_border_reason = ?, cross_border_decided_by = ?,"
            " cross_border_decided_at = ?",
            int(allowed),
            reason,
            decided_by,
            now_stamp(),
        )

    def _update(self, user_id: int, assignments: str, *values: Any) -> None:
        cursor = self.conn.execute(
            f"UPDATE export_recipients SET {assignments}, updated_at = ? WHERE user_id = ?",
            (*values, now_stamp(), user_id),
        )
        if cursor.rowcount != 1:
            raise NotFoundError(f"no export recipient for user {user_id}")

    # --- Requests ---------------------------------------------------------------------------

    def create(
        self,
        *,
        requested_by: int,
        kind: str,
        region: str,
        period_start: str,
        period_end: str,
        include_media: bool,
        reason: str | None,
        recipient: Recipient,
        cross_border: bool,
    ) -> ExportRequest:
        """Record a requested bundle (its job is attached next, in the same transaction)."""
        cursor = self.conn.execute(
            "INSERT INTO export_requests (requested_by, kind, region, period_start, period_end,"
            " include_media, reason, age_recipient, recipient_country, cross_border, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                requested_by,
                kind,
                region,
                period_start,
                period_end,
                int(include_media),
                reason,
                recipient.age_recipient,
                recipient.location_country,
                int(cross_border),
                now_stamp(),
            ),
        )
        return self.get(int(cursor.lastrowid))

    def attach_job(self, export_id: int, job_id: int) -> None:
        """Link the request to the job that builds it."""
        self.conn.execute("UPDATE export_requests SET job_id = ? WHERE id = ?", (job_id, export_id))

    def get(self, export_id: int) -> ExportRequest:
        """One request by id."""
        row = self.conn.execute(
            "SELECT * FROM export_requests WHERE id = ?", (export_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no export {export_id}")
        return _request(row)

    def get_own(self, export_id: int, user_id: int) -> ExportRequest:
        """One request of this account; someone else's is as absent as a missing one."""
        row = self.conn.execute(
            "SELECT * FROM export_requests WHERE id = ? AND requested_by = ?",
            (export_id, user_id),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no export {export_id}")
        return _request(row)

    def for_user(self, user_id: int, *, limit: int = 100) -> list[ExportRequest]:
        """An account's requests, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM export_requests WHERE requested_by = ? ORDER BY id DESC "
            + limit_clause(limit),
            (user_id,),
        )
        return [_request(row) for row in rows]

    def mark_running(self, export_id: int, age_recipient: str) -> None:
        """The builder started (again); the key it encrypts to is the recipient's current one."""
        self.conn.execute(
            "UPDATE export_requests SET state = 'running', progress = 0, error = NULL,"
            " age_recipient = ?, started_at = ? WHERE id = ? AND state IN ('queued', 'running')",
            (age_recipient, now_stamp(), export_id),
        )

    def mark_succeeded(self, export_id: int, facts: BundleFacts) -> None:
        """The bundle is written."""
        self.conn.execute(
            "UPDATE export_requests SET state = 'succeeded', progress = 1, error = NULL,"
            " bundle_name = ?, tar_bytes = ?, bundle_bytes = ?, bundle_sha256 = ?,"
            " manifest_sha256 = ?, counts = ?, finished_at = ? WHERE id = ?",
            (
                facts.bundle_name,
                facts.tar_bytes,
                facts.bundle_bytes,
                facts.bundle_sha256,
                facts.manifest_sha256,
                dumps(facts.counts),
                now_stamp(),
                export_id,
            ),
        )

    def mark_failed(self, export_id: int, error: str) -> None:
        """The bundle will not be built (a rule refused it, or the job gave up)."""
        self.conn.execute(
            "UPDATE export_requests SET state = 'failed', error = ?, finished_at = ?"
            " WHERE id = ? AND state != 'succeeded'",
            (error[:500], now_stamp(), export_id),
        )

    def bundle_names(self) -> set[str]:
        """The file names of every built bundle."""
        rows = self.conn.execute(
            "SELECT bundle_name FROM export_requests WHERE bundle_name IS NOT NULL"
        )
        return {row["bundle_name"] for row in rows}

    # --- CN-3 counter -----------------------------------------------------------------------

    def count_cn_individuals(
        self, year: int, export_id: int, pseudonyms: Iterable[str], *, sensitive: bool
    ) -> int:
        """Record who was exported this year; returns how many were not counted before."""
        added = 0
        for pseudonym in pseudonyms:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO cn_export_individuals (year, pseudonym, sensitive,"
                " first_export_id) VALUES (?, ?, ?, ?)",
                (year, pseudonym, int(sensitive), export_id),
            )
            added += cursor.rowcount
        return added

    def add_cn_counts(self, year: int, individuals: int, sensitive_individuals: int) -> None:
        """Add one cross-border export and its newly counted individuals to the year."""
        self.conn.execute(
            "INSERT INTO cn_export_counts (year, individuals, sensitive_individuals, exports,"
            " updated_at) VALUES (?, ?, ?, 1, ?) ON CONFLICT (year) DO UPDATE SET"
            " individuals = individuals + excluded.individuals,"
            " sensitive_individuals = sensitive_individuals + excluded.sensitive_individuals,"
            " exports = exports + 1, updated_at = excluded.updated_at",
            (year, individuals, sensitive_individuals, now_stamp()),
        )

    def cn_counts(self, year: int) -> CnExportCount:
        """The CN-3 figures of one year (zeros when nothing left China)."""
        row = self.conn.execute("SELECT * FROM cn_export_counts WHERE year = ?", (year,)).fetchone()
        if row is None:
            return CnExportCount(year, 0, 0, 0)
        return CnExportCount(year, row["individuals"], row["sensitive_individuals"], row["exports"])

    # --- Rows of the kinds (read inside the builder's read transaction) ---------------------

    def last_candidate_id(self) -> int:
        """The highest candidate id (subjects come in id order: a cheap measure of progress)."""
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM candidates").fetchone()[0])

    def subject_batches(
        self, region: str, start: str, end: str, batch_size: int
    ) -> Iterator[list[Row]]:
        """(candidate, requisition) pairs of the region with a decision, report or override
        in the period, in batches, ordered by candidate and requisition."""
        cursor = self.conn.execute(_SUBJECTS, _subject_params(region, start, end))
        while rows := cursor.fetchmany(batch_size):
            yield rows

    def decisions_of(self, candidate_ids: Sequence[int], start: str, end: str) -> list[Row]:
        """Decisions of these candidates made in the period, with the decider's role."""
        rows: list[Row] = self.conn.execute(
            "SELECT d.id, d.candidate_id, d.requisition_id, d.kind, d.decided_by, d.decided_at,"
            " u.role AS decided_by_role FROM decisions d LEFT JOIN users u ON u.id = d.decided_by"
            f" WHERE d.candidate_id IN ({_marks(candidate_ids)})"
            " AND d.decided_at >= ? AND d.decided_at < ? ORDER BY d.id",
            (*candidate_ids, start, end),
        ).fetchall()
        return rows

    def reports_of(
        self, candidate_ids: Sequence[int], start: str, end: str
    ) -> list[dict[str, Any]]:
        """Reports of these candidates written, or overridden, in the period.

        `content` is opened with the candidate's key (an erased candidate's reads as erased).
        """
        rows: list[Row] = self.conn.execute(
            "SELECT rep.id, rep.interview_id, rep.model_version, rep.status, rep.content,"
            " rep.created_at, i.candidate_id, i.requisition_id, c.pseudonym AS sealed_owner"
            " FROM reports rep JOIN interviews i ON i.id = rep.interview_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            f" WHERE i.candidate_id IN ({_marks(candidate_ids)}) AND ((rep.created_at >= ?"
            " AND rep.created_at < ?) OR EXISTS (SELECT 1 FROM score_overrides o"
            " WHERE o.report_id = rep.id AND o.overridden_at >= ? AND o.overridden_at < ?))"
            " ORDER BY rep.id",
            (*candidate_ids, start, end, start, end),
        ).fetchall()
        keys = self._keys(row["sealed_owner"] for row in rows)
        return [
            {
                **{key: row[key] for key in row.keys()},  # noqa: SIM118 - a Row is no mapping
                "content": open_json(
                    keys.get(row["sealed_owner"]),
                    row["content"],
                    table="reports",
                    column="content",
                    row=row["id"],
                ),
            }
            for row in rows
        ]

    def overrides_of(self, report_ids: Sequence[int]) -> list[Row]:
        """Every override of these reports, oldest first, with the overrider's role."""
        rows: list[Row] = self.conn.execute(
            "SELECT o.id, o.report_id, o.dimension, o.previous_score, o.new_score,"
            " o.overridden_by, o.overridden_at, u.role AS overridden_by_role"
            " FROM score_overrides o LEFT JOIN users u ON u.id = o.overridden_by"
            f" WHERE o.report_id IN ({_marks(report_ids)}) ORDER BY o.id",
            tuple(report_ids),
        ).fetchall()
        return rows

    def interview_overrides_of(
        self, candidate_ids: Sequence[int], start: str, end: str
    ) -> list[Row]:
        """Overrides of whole interviews' scores of these candidates made in the period,
        oldest first, with the interview's job and the overrider's role."""
        rows: list[Row] = self.conn.execute(
            "SELECT o.id, o.interview_id, o.dimension, o.previous_score, o.new_score,"
            " o.overridden_by, o.overridden_at, u.role AS overridden_by_role,"
            " i.candidate_id, i.requisition_id"
            " FROM interview_overrides o JOIN interviews i ON i.id = o.interview_id"
            " LEFT JOIN users u ON u.id = o.overridden_by"
            f" WHERE i.candidate_id IN ({_marks(candidate_ids)})"
            " AND o.overridden_at >= ? AND o.overridden_at < ? ORDER BY o.id",
            (*candidate_ids, start, end),
        ).fetchall()
        return rows

    def audit_range(self, start: str, end: str) -> tuple[int, int] | None:
        """The first and last audit seq written in the period (None: no entry)."""
        row = self.conn.execute(
            "SELECT min(seq), max(seq) FROM audit_log WHERE at >= ? AND at < ?", (start, end)
        ).fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def audit_batches(self, first: int, last: int, batch_size: int) -> Iterator[list[Row]]:
        """Every audit entry from `first` to `last` (a contiguous piece of the chain)."""
        cursor = self.conn.execute(
            "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log"
            " WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (first, last),
        )
        while rows := cursor.fetchmany(batch_size):
            yield rows

    def candidate_regions(self, pseudonyms: Sequence[str]) -> dict[str, tuple[str, set[str]]]:
        """pseudonym -> (residence region, regions of the requisitions they interviewed for)."""
        found: dict[str, tuple[str, set[str]]] = {}
        rows = self.conn.execute(
            "SELECT c.pseudonym, c.residence_region, r.region FROM candidates c"
            " LEFT JOIN interviews i ON i.candidate_id = c.id"
            " LEFT JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE c.pseudonym IN ({_marks(pseudonyms)})",
            tuple(pseudonyms),
        )
        for row in rows:
            _, regions = found.setdefault(row["pseudonym"], (row["residence_region"], set()))
            if row["region"] is not None:
                regions.add(row["region"])
        return found

    def residences(self, candidate_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """candidate id -> (pseudonym, residence region)."""
        rows = self.conn.execute(
            "SELECT id, pseudonym, residence_region FROM candidates"
            f" WHERE id IN ({_marks(candidate_ids)})",
            tuple(candidate_ids),
        )
        return {int(row["id"]): (row["pseudonym"], row["residence_region"]) for row in rows}

    def recording_count(self, region: str, start: str, end: str) -> int:
        """How many recordings of the region were made in the period."""
        row = self.conn.execute(
            f"SELECT count(*) FROM ({_RECORDINGS})", (region, start, end)
        ).fetchone()
        return int(row[0])

    def recording_batches(
        self, region: str, start: str, end: str, batch_size: int
    ) -> Iterator[list[Row]]:
        """Recordings of the region made in the period, with their subject, in batches."""
        cursor = self.conn.execute(_RECORDINGS, (region, start, end))
        while rows := cursor.fetchmany(batch_size):
            yield rows

    def latest_checkpoint(self) -> dict[str, Any] | None:
        """The newest signed audit checkpoint, if the schema keeps them."""
        for table in CHECKPOINT_TABLES:
            exists = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            if exists is None:
                continue
            row = self.conn.execute(f"SELECT * FROM {table} ORDER BY rowid DESC LIMIT 1").fetchone()
            return None if row is None else {key: row[key] for key in row.keys()}  # noqa: SIM118
        return None


_SUBJECTS = (
    "SELECT p.candidate_id, p.requisition_id, c.pseudonym, c.residence_region, r.region,"
    " r.department FROM ("
    " SELECT candidate_id, requisition_id FROM decisions WHERE decided_at >= ? AND decided_at < ?"
    " UNION SELECT i.candidate_id, i.requisition_id FROM reports rep"
    "  JOIN interviews i ON i.id = rep.interview_id"
    "  WHERE rep.created_at >= ? AND rep.created_at < ?"
    " UNION SELECT i.candidate_id, i.requisition_id FROM score_overrides o"
    "  JOIN reports rep ON rep.id = o.report_id JOIN interviews i ON i.id = rep.interview_id"
    "  WHERE o.overridden_at >= ? AND o.overridden_at < ?"
    " UNION SELECT i.candidate_id, i.requisition_id FROM interview_overrides o"
    "  JOIN interviews i ON i.id = o.interview_id"
    "  WHERE o.overridden_at >= ? AND o.overridden_at < ?"
    ") p JOIN candidates c ON c.id = p.candidate_id JOIN requisitions r ON r.id = p.requisition_id"
    " WHERE r.region = ? ORDER BY p.candidate_id, p.requisition_id"
)

_RECORDINGS = (
    "SELECT rec.id, rec.interview_id, rec.spool_name, rec.content_type, rec.size_bytes,"
    " rec.sha256, rec.wrapped_data_key, rec.created_at, i.requisition_id, c.pseudonym,"
    " c.residence_region, r.region FROM recordings rec JOIN interviews i ON i.id = rec.interview_id"
    " JOIN candidates c ON c.id = rec.candidate_id JOIN requisitions r ON r.id = i.requisition_id"
    " WHERE r.region = ? AND rec.created_at >= ? AND rec.created_at < ? ORDER BY rec.id"
)


def _subject_params(region: str, start: str, end: str) -> tuple[str, ...]:
    return (start, end, start, end, start, end, start, end, region)
