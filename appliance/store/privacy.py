"""Data-subject requests, legal holds, erasure tombstones, the AI decision log, and the queries
retention runs on (appliance/privacy/erasure.py and appliance/privacy/retention.py hold the
rules)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import Repository, dumps, loads
from appliance.store.db import Row
from appliance.store.fieldcrypt import ERASED, ERASED_CONTENT, FieldKey, open_text
from appliance.store.sealed import OWNER_OF, PENDING, SealedRepository, savepoint

REQUEST_KINDS = ("access", "portability", "erasure", "explanation", "objection")
REQUEST_STATUSES = ("open", "done", "refused")
# Tables of other parts of the appliance that hold a candidate's data by candidate_id, and are
# deleted with the candidate when the schema has them (consents: their text is the notice
# shown and a signed name; demographics: sex and race/ethnicity; import_records: the id the
# previous HR system gave the person).
CANDIDATE_TABLES = ("consents", "candidate_demographics", "import_records")

_INTERVIEWS_OF = "SELECT id FROM interviews WHERE candidate_id = ?"


def _scope(visibility: Visibility, candidate_column: str) -> tuple[str, list[Any]]:
    """SQL: the visibility reaches one of the candidate's interviews."""
    clause, params = visibility.interview_clause("si", "sr")
    return (
        "EXISTS (SELECT 1 FROM interviews si JOIN requisitions sr ON sr.id = si.requisition_id"
        f" WHERE si.candidate_id = {candidate_column} AND {clause})"
    ), params


def ai_scores(content: dict[str, Any]) -> dict[str, float]:
    """The AI's score per competency in a report's content (no text: quotes stay out).

    Reads the scorer's `sections.scoring.dimensions` and, for reports drafted before it,
    the older `scores` mapping.
    """
    scores = content.get("scores") if isinstance(content, dict) else None
    found: dict[str, float] = {}
    for key, value in (scores or {}).items() if isinstance(scores, dict) else ():
        score = value.get("score") if isinstance(value, dict) else None
        if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
            found[str(key)] = float(score)
    sections = content.get("sections") if isinstance(content, dict) else None
    scoring = sections.get("scoring") if isinstance(sections, dict) else None
    dimensions = scoring.get("dimensions") if isinstance(scoring, dict) else None
    for dim in dimensions if isinstance(dimensions, list) else ():
        score = dim.get("score") if isinstance(dim, dict) else None
        if (
            dim.get("key")
            and isinstance(score, int | float)
            and not isinstance(score, bool)
            and math.isfinite(score)
        ):
            found[str(dim["key"])] = float(score)
    return found


# --- data-subject requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class DataRequest:
    """A candidate's request: access, portability, erasure, explanation or objection."""

    id: int
    candidate_id: int
    pseudonym: str
    kind: str
    regions: list[str]
    received_at: str
    due_at: str
    status: str
    note: str | None
    created_by: int | None
    created_at: str
    closed_at: str | None
    closed_by: int | None

    def overdue(self, now: str) -> bool:
        """Still open after its deadline."""
        return self.status == "open" and self.due_at < now


def _request(row: Row, key: FieldKey | None) -> DataRequest:
    return DataRequest(
        row["id"],
        row["candidate_id"],
        row["sealed_owner"],
        row["kind"],
        loads(row["regions"]),
        row["received_at"],
        row["due_at"],
        row["status"],
        open_text(key, row["note"], table="data_requests", column="note", row=row["id"]),
        row["created_by"],
        row["created_at"],
        row["closed_at"],
        row["closed_by"],
    )


_REQUESTS = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['data_requests']}"


class DataRequestRepository(SealedRepository):
    """Data-subject requests and their deadlines; the note is sealed with the candidate's key."""

    def _opened(self, rows: list[Row]) -> list[DataRequest]:
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_request(row, keys.get(row["sealed_owner"])) for row in rows]

    def create(
        self,
        candidate_id: int,
        kind: str,
        *,
        regions: list[str],
        received_at: str,
        due_at: str,
        note: str | None,
        created_by: int | None,
    ) -> DataRequest:
        """Record a request as received."""
        owner = self.conn.execute(
            "SELECT pseudonym FROM candidates WHERE id = ?", (candidate_id,)
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        key = self._key(owner["pseudonym"])
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO data_requests (candidate_id, kind, regions, received_at, due_at,"
                " note, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    candidate_id,
                    kind,
                    dumps(regions),
                    received_at,
                    due_at,
                    None if note is None else PENDING,
                    created_by,
                    now_stamp(),
                ),
            )
            request_id = int(cursor.lastrowid)
            if note is not None and key is not None:
                self._seal_row("data_requests", request_id, key, {"note": note})
            elif note is not None:  # an erased candidate: nothing about them is kept in clear
                self.conn.execute(
                    "UPDATE data_requests SET note = NULL WHERE id = ?", (request_id,)
                )
        return self.get(request_id)

    def get(self, request_id: int) -> DataRequest:
        """One request by id."""
        rows = self.conn.execute(f"{_REQUESTS} WHERE t.id = ?", (request_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no data request {request_id}")
        return self._opened(rows)[0]

    def get_visible(self, request_id: int, visibility: Visibility) -> DataRequest:
        """One request about a candidate the visibility reaches, else NotFoundError."""
        scope, params = _scope(visibility, "t.candidate_id")
        rows = self.conn.execute(
            f"{_REQUESTS} WHERE t.id = ? AND {scope}", (request_id, *params)
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no data request {request_id}")
        return self._opened(rows)[0]

    def visible(
        self,
        visibility: Visibility,
        *,
        status: str | None = None,
        candidate_id: int | None = None,
        limit: int = 200,
    ) -> list[DataRequest]:
        """Requests the visibility reaches: open ones first, soonest deadline first."""
        scope, params = _scope(visibility, "t.candidate_id")
        if status:
            scope += " AND t.status = ?"
            params.append(status)
        if candidate_id is not None:
            scope += " AND t.candidate_id = ?"
            params.append(candidate_id)
        rows = self.conn.execute(
            f"{_REQUESTS} WHERE {scope} ORDER BY t.status <> 'open', t.due_at, t.id LIMIT ?",
            (*params, limit),
        ).fetchall()
        return self._opened(rows)

    def overdue(self, now: str) -> list[DataRequest]:
        """Every open request past its deadline (for the worker and the dashboard)."""
        rows = self.conn.execute(
            f"{_REQUESTS} WHERE t.status = 'open' AND t.due_at < ? ORDER BY t.due_at", (now,)
        ).fetchall()
        return self._opened(rows)

    def close(self, request_id: int, status: str, closed_by: int | None) -> None:
        """Mark a request done or refused."""
        self.conn.execute(
            "UPDATE data_requests SET status = ?, closed_at = ?, closed_by = ?"
            " WHERE id = ? AND status = 'open'",
            (status, now_stamp(), closed_by, request_id),
        )


# --- legal holds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegalHold:
    """A hold keeping all of a candidate's data (litigation, an authority's order)."""

    id: int
    candidate_id: int
    pseudonym: str
    reason: str
    placed_by: int
    placed_at: str
    released_at: str | None
    released_by: int | None

    @property
    def active(self) -> bool:
        """Not yet released."""
        return self.released_at is None


def _hold(row: Row) -> LegalHold:
    return LegalHold(
        row["id"],
        row["candidate_id"],
        row["pseudonym"],
        row["reason"],
        row["placed_by"],
        row["placed_at"],
        row["released_at"],
        row["released_by"],
    )


_HOLDS = "SELECT h.*, c.pseudonym FROM legal_holds h JOIN candidates c ON c.id = h.candidate_id"


class LegalHoldRepository(Repository):
    """Legal holds; a released hold stays as a record."""

    def place(self, candidate_id: int, reason: str, placed_by: int) -> LegalHold:
        """Put a candidate's data on hold."""
        cursor = self.conn.execute(
            "INSERT INTO legal_holds (candidate_id, reason, placed_by, placed_at)"
            " VALUES (?, ?, ?, ?)",
            (candidate_id, reason, placed_by, now_stamp()),
        )
        return self.get(int(cursor.lastrowid))

    def release(self, hold_id: int, released_by: int) -> None:
        """End a hold."""
        self.conn.execute(
            "UPDATE legal_holds SET released_at = ?, released_by = ?"
            " WHERE id = ? AND released_at IS NULL",
            (now_stamp(), released_by, hold_id),
        )

    def get(self, hold_id: int) -> LegalHold:
        """One hold by id."""
        row = self.conn.execute(f"{_HOLDS} WHERE h.id = ?", (hold_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no legal hold {hold_id}")
        return _hold(row)

    def get_visible(self, hold_id: int, visibility: Visibility) -> LegalHold:
        """One hold on a candidate the visibility reaches, else NotFoundError."""
        scope, params = _scope(visibility, "h.candidate_id")
        row = self.conn.execute(
            f"{_HOLDS} WHERE h.id = ? AND {scope}", (hold_id, *params)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no legal hold {hold_id}")
        return _hold(row)

    def active_for(self, candidate_id: int) -> list[LegalHold]:
        """The holds on a candidate not yet released, oldest first."""
        rows = self.conn.execute(
            f"{_HOLDS} WHERE h.candidate_id = ? AND h.released_at IS NULL ORDER BY h.id",
            (candidate_id,),
        )
        return [_hold(row) for row in rows]

    def visible(
        self, visibility: Visibility, *, active_only: bool = True, candidate_id: int | None = None
    ) -> list[LegalHold]:
        """Holds on candidates the visibility reaches, newest first."""
        scope, params = _scope(visibility, "h.candidate_id")
        if active_only:
            scope += " AND h.released_at IS NULL"
        if candidate_id is not None:
            scope += " AND h.candidate_id = ?"
            params.append(candidate_id)
        rows = self.conn.execute(f"{_HOLDS} WHERE {scope} ORDER BY h.id DESC", params)
        return [_hold(row) for row in rows]

    def held_candidates(self) -> dict[int, str]:
        """Every candidate under an active hold: id -> pseudonym."""
        rows = self.conn.execute(
            "SELECT DISTINCT h.candidate_id, c.pseudonym FROM legal_holds h"
            " JOIN candidates c ON c.id = h.candidate_id WHERE h.released_at IS NULL"
        )
        return {int(row[0]): str(row[1]) for row in rows}


# --- erasures (tombstones) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """The tombstone of an erased candidate: who, when, why, on which request."""

    id: int
    candidate_id: int
    pseudonym: str
    actor: str
    erased_by: int | None
    request_id: int | None
    reason: str
    regions: list[str]
    started_at: str
    completed_at: str | None
    counts: dict[str, int]


def _erasure(row: Row) -> Erasure:
    return Erasure(
        row["id"],
        row["candidate_id"],
        row["pseudonym"],
        row["actor"],
        row["erased_by"],
        row["request_id"],
        row["reason"],
        loads(row["regions"]),
        row["started_at"],
        row["completed_at"],
        loads(row["counts"]),
    )


@dataclass(frozen=True)
class CandidateFiles:
    """The spool files of a candidate: complete recordings and unfinished uploads."""

    recordings: list[str]
    partial_uploads: list[str]


class ErasureRepository(Repository):
    """Tombstones, and removing everything derived from a candidate."""

    def begin(
        self,
        candidate_id: int,
        pseudonym: str,
        *,
        actor: str,
        erased_by: int | None,
        request_id: int | None,
        reason: str,
        regions: list[str],
    ) -> Erasure:
        """Write the tombstone (not yet complete) before the key is shredded."""
        self.conn.execute(
            "INSERT INTO erasures (candidate_id, pseudonym, actor, erased_by, request_id, reason,"
            " regions, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                candidate_id,
                pseudonym,
                actor,
                erased_by,
                request_id,
                reason,
                dumps(regions),
                now_stamp(),
            ),
        )
        found = self.for_candidate(candidate_id)
        assert found is not None
        return found

    def for_candidate(self, candidate_id: int) -> Erasure | None:
        """A candidate's tombstone, if they are (being) erased."""
        row = self.conn.execute(
            "SELECT * FROM erasures WHERE candidate_id = ?", (candidate_id,)
        ).fetchone()
        return _erasure(row) if row else None

    def pending(self) -> list[Erasure]:
        """Erasures begun and not completed (interrupted): to finish."""
        rows = self.conn.execute("SELECT * FROM erasures WHERE completed_at IS NULL ORDER BY id")
        return [_erasure(row) for row in rows]

    def visible(self, visibility: Visibility, *, limit: int = 100) -> list[Erasure]:
        """Tombstones of candidates the visibility reaches, newest first."""
        scope, params = _scope(visibility, "e.candidate_id")
        rows = self.conn.execute(
            f"SELECT e.* FROM erasures e WHERE {scope} ORDER BY e.id DESC LIMIT ?",
            (*params, limit),
        )
        return [_erasure(row) for row in rows]

    def files_of(self, candidate_id: int) -> CandidateFiles:
        """The spool names to delete with a candidate."""
        recordings = self.conn.execute(
            "SELECT spool_name FROM recordings WHERE candidate_id = ?", (candidate_id,)
        )
        partial = self.conn.execute(
            f"SELECT spool_name FROM upload_sessions WHERE interview_id IN ({_INTERVIEWS_OF})"
            " AND completed_at IS NULL",
            (candidate_id,),
        )
        return CandidateFiles([r[0] for r in recordings], [r[0] for r in partial])

    def open_jobs(self, candidate_id: int) -> list[int]:
        """Queued or running jobs analysing the candidate's recordings."""
        rows = self.conn.execute(
            "SELECT j.id FROM jobs j JOIN recordings rec ON j.subject_type = 'recording'"
            " AND rec.id = j.subject_id WHERE rec.candidate_id = ?"
            " AND j.state IN ('queued', 'running')",
            (candidate_id,),
        )
        return [int(row[0]) for row in rows]

    def remove_derived(self, candidate_id: int) -> dict[str, int]:
        """Inside the caller's transaction: delete or blank everything derived from a candidate.

        Kept, without text: interviews, reports (content replaced by a stub; their scores are
        in the AI decision log), decisions and score overrides (who decided what and when,
        their reasons replaced) and the data requests (their notes cleared).
        """
        counts: dict[str, int] = {}

        def run(label: str, sql: str, *params: Any) -> None:
            counts[label] = counts.get(label, 0) + int(self.conn.execute(sql, params).rowcount)

        run(
            "uploads",
            f"DELETE FROM upload_sessions WHERE interview_id IN ({_INTERVIEWS_OF})",
            candidate_id,
        )
        run(
            "reports",
            "UPDATE reports SET content = ?, recording_id = NULL"
            f" WHERE interview_id IN ({_INTERVIEWS_OF})",
            dumps(ERASED_CONTENT),
            candidate_id,
        )
        run(
            "overrides",
            "UPDATE score_overrides SET reason = ? WHERE report_id IN"
            f" (SELECT id FROM reports WHERE interview_id IN ({_INTERVIEWS_OF}))",
            ERASED,
            candidate_id,
        )
        run(
            "decisions",
            "UPDATE decisions SET reason = ? WHERE candidate_id = ?",
            ERASED,
            candidate_id,
        )
        run(
            "evaluations",
            f"DELETE FROM evaluations WHERE interview_id IN ({_INTERVIEWS_OF})",
            candidate_id,
        )
        run(
            "segment_corrections",
            "DELETE FROM segment_corrections WHERE recording_id IN"
            " (SELECT id FROM recordings WHERE candidate_id = ?)",
            candidate_id,
        )
        # The interview room and live assist (their pieces and plans go with them by cascade).
        run(
            "interview_answers",
            f"DELETE FROM interview_answers WHERE interview_id IN ({_INTERVIEWS_OF})",
            candidate_id,
        )
        run(
            "room_sessions",
            f"DELETE FROM room_sessions WHERE interview_id IN ({_INTERVIEWS_OF})",
            candidate_id,
        )
        run(
            "live_sessions",
            f"DELETE FROM live_sessions WHERE interview_id IN ({_INTERVIEWS_OF})",
            candidate_id,
        )
        run("recordings", "DELETE FROM recordings WHERE candidate_id = ?", candidate_id)
        run("personal_questions", "DELETE FROM personal_questions WHERE candidate_id = ?",
            candidate_id)
        run("resumes", "DELETE FROM resumes WHERE candidate_id = ?", candidate_id)
        run(
            "candidate_links",
            f"DELETE FROM candidate_links WHERE interview_id IN ({_INTERVIEWS_OF})",
            candidate_id,
        )
        run("requests", "UPDATE data_requests SET note = NULL WHERE candidate_id = ?", candidate_id)
        present = self._present()
        for table in CANDIDATE_TABLES:
            if table in present:
                run(table, f"DELETE FROM {table} WHERE candidate_id = ?", candidate_id)
        return counts

    def _present(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row[0]) for row in rows}

    def other_records(self, candidate_id: int) -> dict[str, list[dict[str, Any]]]:
        """The candidate's rows in CANDIDATE_TABLES the schema has (consents, demographics...)."""
        found: dict[str, list[dict[str, Any]]] = {}
        present = self._present()
        for table in CANDIDATE_TABLES:
            if table in present:
                rows = self.conn.execute(
                    f"SELECT * FROM {table} WHERE candidate_id = ? ORDER BY rowid", (candidate_id,)
                )
                found[table] = [
                    {key: row[key] for key in row.keys()}  # noqa: SIM118 - a Row is no mapping
                    for row in rows
                ]
        return found

    def complete(self, erasure_id: int, counts: dict[str, int]) -> None:
        """Mark an erasure done, with what it removed."""
        self.conn.execute(
            "UPDATE erasures SET completed_at = ?, counts = ? WHERE id = ?",
            (now_stamp(), dumps(counts), erasure_id),
        )

    def candidate_regions(self, candidate_id: int) -> list[str]:
        """The candidate's residence and the regions of the jobs they interviewed for."""
        rows = self.conn.execute(
            "SELECT residence_region FROM candidates WHERE id = ?"
            " UNION SELECT r.region FROM interviews i JOIN requisitions r"
            " ON r.id = i.requisition_id WHERE i.candidate_id = ?",
            (candidate_id, candidate_id),
        )
        return sorted({str(row[0]) for row in rows})


# --- the AI decision log -----------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionLogEntry:
    """What the AI produced for one report: pseudonymous, scores only."""

    id: int
    pseudonym: str
    interview_id: int | None
    report_id: int | None
    job_id: int | None
    model_version: str | None
    scores: dict[str, float]
    regions: list[str]
    created_at: str


def _log_entry(row: Row) -> DecisionLogEntry:
    return DecisionLogEntry(
        row["id"],
        row["pseudonym"],
        row["interview_id"],
        row["report_id"],
        row["job_id"],
        row["model_version"],
        loads(row["scores"]),
        loads(row["regions"]),
        row["created_at"],
    )


class DecisionLogRepository(Repository):
    """The AI decision log and its purges."""

    def record(
        self,
        pseudonym: str,
        *,
        interview_id: int | None,
        report_id: int | None,
        job_id: int | None,
        model_version: str | None,
        scores: dict[str, float],
        regions: list[str],
    ) -> None:
        """Log an AI output (inside the transaction that stores it)."""
        self.conn.execute(
            "INSERT INTO ai_decision_log (pseudonym, interview_id, report_id, job_id,"
            " model_version, scores, regions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pseudonym,
                interview_id,
                report_id,
                job_id,
                model_version,
                dumps(scores),
                dumps(regions),
                now_stamp(),
            ),
        )

    def for_pseudonym(self, pseudonym: str) -> list[DecisionLogEntry]:
        """A candidate's log entries, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM ai_decision_log WHERE pseudonym = ? ORDER BY id", (pseudonym,)
        )
        return [_log_entry(row) for row in rows]

    def created_before(self, before: str) -> list[DecisionLogEntry]:
        """Entries written before a time (retention decides which of them may go)."""
        rows = self.conn.execute(
            "SELECT * FROM ai_decision_log WHERE created_at < ? ORDER BY id", (before,)
        )
        return [_log_entry(row) for row in rows]

    def delete(self, entry_ids: list[int]) -> int:
        """Remove entries; returns how many."""
        removed = 0
        for entry_id in entry_ids:
            removed += int(
                self.conn.execute("DELETE FROM ai_decision_log WHERE id = ?", (entry_id,)).rowcount
            )
        return removed

    def record_purge(
        self,
        pseudonym: str | None,
        entries: int,
        *,
        reason: str,
        override: bool,
        purged_by: int | None,
    ) -> None:
        """Keep a record of a purge (retention's, or an override's with its person)."""
        self.conn.execute(
            "INSERT INTO decision_log_purges (pseudonym, entries, override, reason, purged_by,"
            " purged_at) VALUES (?, ?, ?, ?, ?, ?)",
            (pseudonym, entries, int(override), reason, purged_by, now_stamp()),
        )

    def purges(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The latest purges, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM decision_log_purges ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [{key: row[key] for key in row.keys()} for row in rows]  # noqa: SIM118


# --- what retention looks at -------------------------------------------------------------------


@dataclass(frozen=True)
class AgedItem:
    """A recording, report or evaluation created before a cut-off, with its candidate."""

    id: int
    candidate_id: int
    pseudonym: str
    created_at: str
    regions: list[str]
    spool_name: str | None = None


class RetentionRepository(Repository):
    """The queries behind retention: items older than a cut-off, and removing them."""

    def _aged(self, sql: str, *params: Any) -> list[AgedItem]:
        rows = self.conn.execute(sql, params).fetchall()
        return [
            AgedItem(
                row["id"],
                row["candidate_id"],
                row["pseudonym"],
                row["created_at"],
                sorted({row["region"], row["residence_region"]}),
                row["spool_name"],
            )
            for row in rows
        ]

    def recordings_before(self, before: str) -> list[AgedItem]:
        """Recordings older than `before` (their job's region and the residence apply)."""
        return self._aged(
            "SELECT rec.id, rec.candidate_id, rec.created_at, rec.spool_name, c.pseudonym,"
            " c.residence_region, r.region FROM recordings rec"
            " JOIN interviews i ON i.id = rec.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = rec.candidate_id"
            " WHERE rec.created_at < ? ORDER BY rec.id",
            before,
        )

    def reports_before(self, before: str) -> list[AgedItem]:
        """Reports older than `before`, erased candidates' stubs left out."""
        return self._aged(
            "SELECT rep.id, i.candidate_id, rep.created_at, NULL AS spool_name, c.pseudonym,"
            " c.residence_region, r.region FROM reports rep"
            " JOIN interviews i ON i.id = rep.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            " WHERE rep.created_at < ? AND rep.content <> ? ORDER BY rep.id",
            before,
            dumps(ERASED_CONTENT),
        )

    def evaluations_before(self, before: str) -> list[AgedItem]:
        """Evaluations older than `before`."""
        return self._aged(
            "SELECT ev.id, i.candidate_id, ev.created_at, NULL AS spool_name, c.pseudonym,"
            " c.residence_region, r.region FROM evaluations ev"
            " JOIN interviews i ON i.id = ev.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            " WHERE ev.created_at < ? ORDER BY ev.id",
            before,
        )

    def idle_candidates(self, before: str) -> list[AgedItem]:
        """Candidates not erased whose last activity (record, interview, decision) is older."""
        rows = self.conn.execute(
            "SELECT * FROM (SELECT c.id, c.pseudonym, c.residence_region, max(c.updated_at,"
            " coalesce((SELECT max(updated_at) FROM interviews WHERE candidate_id = c.id), ''),"
            " coalesce((SELECT max(decided_at) FROM decisions WHERE candidate_id = c.id), ''))"
            " AS last_activity FROM candidates c"
            " WHERE NOT EXISTS (SELECT 1 FROM erasures e WHERE e.candidate_id = c.id))"
            " WHERE last_activity < ? ORDER BY id",
            (before,),
        ).fetchall()
        found = []
        for row in rows:
            regions = {row["residence_region"]} | {
                str(r[0])
                for r in self.conn.execute(
                    "SELECT DISTINCT r.region FROM interviews i JOIN requisitions r"
                    " ON r.id = i.requisition_id WHERE i.candidate_id = ?",
                    (row["id"],),
                )
            }
            found.append(
                AgedItem(
                    row["id"], row["id"], row["pseudonym"], row["last_activity"], sorted(regions)
                )
            )
        return found

    def delete_recording(self, recording_id: int) -> None:
        """Remove a recording's row (its spool file goes separately); reports keep no link."""
        self.conn.execute(
            "UPDATE reports SET recording_id = NULL WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute("DELETE FROM upload_sessions WHERE recording_id = ?", (recording_id,))
        self.conn.execute("DELETE FROM interview_answers WHERE recording_id = ?", (recording_id,))
        self.conn.execute(
            "UPDATE room_takes SET recording_id = NULL WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute(
            "UPDATE live_sessions SET recording_id = NULL WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute(
            "DELETE FROM segment_corrections WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))

    def delete_report(self, report_id: int) -> None:
        """Remove a report and its overrides (its AI decision log entry stays)."""
        self.conn.execute("DELETE FROM score_overrides WHERE report_id = ?", (report_id,))
        self.conn.execute("DELETE FROM reports WHERE id = ?", (report_id,))

    def delete_evaluation(self, evaluation_id: int) -> None:
        """Remove an evaluation."""
        self.conn.execute("DELETE FROM evaluations WHERE id = ?", (evaluation_id,))
