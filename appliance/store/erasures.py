"""Erasure tombstones, and removing everything derived from a candidate.

appliance/privacy/erasure.py holds the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.security.permissions import Visibility
from appliance.store.base import Repository, dumps, limit_clause, loads
from appliance.store.candidate_scope import candidate_scope
from appliance.store.db import Row
from appliance.store.fieldcrypt import ERASED, ERASED_CONTENT

# Tables of other parts of the appliance that hold a candidate's data by candidate_id, and are
# deleted with the candidate when the schema has them (consents: their text is the notice
# shown and a signed name; demographics: sex and race/ethnicity; import_records: the id the
# previous HR system gave the person; performance ratings and hire outcomes: what happened
# after a hire, ratings first because they refer to their outcome).
CANDIDATE_TABLES = (
    "consents",
    "candidate_demographics",
    "import_records",
    "performance_ratings",
    "hire_outcomes",
)

_INTERVIEWS_OF = "SELECT id FROM interviews WHERE candidate_id = ?"

# What erasing a candidate deletes or blanks, in this order: (label, SQL whose last parameter
# is the candidate's id, the parameters before it). A table keeps `remove_derived` short and
# the statements' order in one place.
_DERIVED: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("uploads", f"DELETE FROM upload_sessions WHERE interview_id IN ({_INTERVIEWS_OF})", ()),
    (
        "reports",
        "UPDATE reports SET content = ?, recording_id = NULL"
        f" WHERE interview_id IN ({_INTERVIEWS_OF})",
        (dumps(ERASED_CONTENT),),
    ),
    (
        "overrides",
        "UPDATE score_overrides SET reason = ? WHERE report_id IN"
        f" (SELECT id FROM reports WHERE interview_id IN ({_INTERVIEWS_OF}))",
        (ERASED,),
    ),
    (
        "interview_overrides",
        f"UPDATE interview_overrides SET reason = ? WHERE interview_id IN ({_INTERVIEWS_OF})",
        (ERASED,),
    ),
    ("decisions", "UPDATE decisions SET reason = ? WHERE candidate_id = ?", (ERASED,)),
    ("evaluations", f"DELETE FROM evaluations WHERE interview_id IN ({_INTERVIEWS_OF})", ()),
    (
        "segment_corrections",
        "DELETE FROM segment_corrections WHERE recording_id IN"
        " (SELECT id FROM recordings WHERE candidate_id = ?)",
        (),
    ),
    # The interview room and live assist (their pieces and plans go with them by cascade).
    (
        "interview_answers",
        f"DELETE FROM interview_answers WHERE interview_id IN ({_INTERVIEWS_OF})",
        (),
    ),
    ("room_sessions", f"DELETE FROM room_sessions WHERE interview_id IN ({_INTERVIEWS_OF})", ()),
    # A coding round: every draft and submission (code and results).
    (
        "coding_submissions",
        f"DELETE FROM coding_submissions WHERE interview_id IN ({_INTERVIEWS_OF})",
        (),
    ),
    ("coding_drafts", f"DELETE FROM coding_drafts WHERE interview_id IN ({_INTERVIEWS_OF})", ()),
    ("live_sessions", f"DELETE FROM live_sessions WHERE interview_id IN ({_INTERVIEWS_OF})", ()),
    ("recordings", "DELETE FROM recordings WHERE candidate_id = ?", ()),
    ("personal_questions", "DELETE FROM personal_questions WHERE candidate_id = ?", ()),
    ("resumes", "DELETE FROM resumes WHERE candidate_id = ?", ()),
    (
        "candidate_links",
        f"DELETE FROM candidate_links WHERE interview_id IN ({_INTERVIEWS_OF})",
        (),
    ),
    ("requests", "UPDATE data_requests SET note = NULL WHERE candidate_id = ?", ()),
)


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

    def tombstones(self) -> list[Erasure]:
        """Every erasure begun (complete or not), oldest first: what a backup ledger keeps."""
        rows = self.conn.execute("SELECT * FROM erasures ORDER BY id")
        return [_erasure(row) for row in rows]

    def candidate_with(self, pseudonym: str) -> int | None:
        """The id of the candidate with this pseudonym, if there is one."""
        row = self.conn.execute(
            "SELECT id FROM candidates WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        return int(row[0]) if row else None

    def visible(self, visibility: Visibility, *, limit: int = 100) -> list[Erasure]:
        """Tombstones of candidates the visibility reaches, newest first."""
        scope, params = candidate_scope(visibility, "e.candidate_id")
        rows = self.conn.execute(
            f"SELECT e.* FROM erasures e WHERE {scope} ORDER BY e.id DESC {limit_clause(limit)}",
            params,
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

        for label, sql, leading in _DERIVED:
            run(label, sql, *leading, candidate_id)
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
