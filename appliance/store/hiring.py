"""Job requisitions and interviews; the competency models they use are in `competency`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import Repository
from appliance.store.db import Row

ID_BATCH = 500  # ids bound per query, well below SQLite's bound-parameter limit


@dataclass(frozen=True)
class Requisition:
    """An open position, which decides the region policy."""

    id: int
    title: str
    department: str
    location: str
    region: str
    status: str
    competency_model_id: int | None


@dataclass(frozen=True)
class Interview:
    """One interview round of a candidate for a requisition."""

    id: int
    candidate_id: int
    requisition_id: int
    kind: str
    round: int
    language: str
    status: str
    scheduled_at: str | None


def _requisition(row: Row) -> Requisition:
    return Requisition(
        row["id"],
        row["title"],
        row["department"],
        row["location"],
        row["region"],
        row["status"],
        row["competency_model_id"],
    )


def _interview(row: Row) -> Interview:
    return Interview(
        row["id"],
        row["candidate_id"],
        row["requisition_id"],
        row["kind"],
        row["round"],
        row["language"],
        row["status"],
        row["scheduled_at"],
    )


class RequisitionRepository(Repository):
    """Open positions."""

    def create(
        self,
        title: str,
        department: str,
        location: str,
        region: str,
        *,
        competency_model_id: int | None = None,
        created_by: int | None = None,
        status: str = "open",
    ) -> Requisition:
        """Add a requisition."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO requisitions (title, department, location, region, status,"
            " competency_model_id, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                title,
                department,
                location,
                region,
                status,
                competency_model_id,
                created_by,
                now,
                now,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, requisition_id: int) -> Requisition:
        """One requisition by id."""
        row = self.conn.execute(
            "SELECT * FROM requisitions WHERE id = ?", (requisition_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no requisition {requisition_id}")
        return _requisition(row)

    def all(self, *, regions: list[str] | None = None) -> list[Requisition]:
        """Requisitions, optionally limited to some regions."""
        rows = self.conn.execute("SELECT * FROM requisitions ORDER BY id").fetchall()
        found = [_requisition(row) for row in rows]
        return [req for req in found if regions is None or req.region in regions]

    def many(self, requisition_ids: Collection[int]) -> dict[int, Requisition]:
        """Requisitions by id, in one query per 500 ids (unknown ids are left out)."""
        found: dict[int, Requisition] = {}
        ids = sorted(set(requisition_ids))
        for start in range(0, len(ids), ID_BATCH):
            chunk = ids[start : start + ID_BATCH]
            rows = self.conn.execute(
                f"SELECT * FROM requisitions WHERE id IN ({', '.join('?' for _ in chunk)})", chunk
            )
            found.update((int(row["id"]), _requisition(row)) for row in rows)
        return found

    def visible(self, visibility: Visibility) -> list[Requisition]:
        """Requisitions the visibility reaches."""
        clause, params = visibility.requisition_clause("r")
        rows = self.conn.execute(
            f"SELECT r.* FROM requisitions r WHERE {clause} ORDER BY r.id", params
        )
        return [_requisition(row) for row in rows]

    def get_visible(self, requisition_id: int, visibility: Visibility) -> Requisition:
        """One requisition inside the visibility, else NotFoundError."""
        clause, params = visibility.requisition_clause("r")
        row = self.conn.execute(
            f"SELECT r.* FROM requisitions r WHERE r.id = ? AND {clause}",
            (requisition_id, *params),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no requisition {requisition_id}")
        return _requisition(row)

    def update(
        self,
        requisition_id: int,
        *,
        title: str,
        department: str,
        location: str,
        region: str,
        status: str,
        competency_model_id: int | None,
    ) -> Requisition:
        """Change a requisition."""
        self.conn.execute(
            "UPDATE requisitions SET title = ?, department = ?, location = ?, region = ?,"
            " status = ?, competency_model_id = ?, updated_at = ? WHERE id = ?",
            (
                title,
                department,
                location,
                region,
                status,
                competency_model_id,
                now_stamp(),
                requisition_id,
            ),
        )
        return self.get(requisition_id)

    def set_competency_model(self, requisition_id: int, model_id: int) -> None:
        """Point a requisition at a (new version of its) competency model."""
        self.conn.execute(
            "UPDATE requisitions SET competency_model_id = ?, updated_at = ? WHERE id = ?",
            (model_id, now_stamp(), requisition_id),
        )


class InterviewRepository(Repository):
    """Interview rounds."""

    def create(
        self,
        candidate_id: int,
        requisition_id: int,
        *,
        kind: str = "upload",
        round_no: int = 1,
        language: str = "en",
        scheduled_at: str | None = None,
    ) -> Interview:
        """Plan an interview."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO interviews (candidate_id, requisition_id, kind, round, language,"
            " scheduled_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (candidate_id, requisition_id, kind, round_no, language, scheduled_at, now, now),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, interview_id: int) -> Interview:
        """One interview by id."""
        row = self.conn.execute("SELECT * FROM interviews WHERE id = ?", (interview_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no interview {interview_id}")
        return _interview(row)

    def set_status(self, interview_id: int, status: str) -> None:
        """Move an interview to a new status."""
        self.conn.execute(
            "UPDATE interviews SET status = ?, updated_at = ? WHERE id = ?",
            (status, now_stamp(), interview_id),
        )

    def get_visible(self, interview_id: int, visibility: Visibility) -> Interview:
        """One interview inside the visibility, else NotFoundError."""
        clause, params = visibility.interview_clause("i", "r")
        row = self.conn.execute(
            "SELECT i.* FROM interviews i JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE i.id = ? AND {clause}",
            (interview_id, *params),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no interview {interview_id}")
        return _interview(row)

    def for_candidate_visible(self, candidate_id: int, visibility: Visibility) -> list[Interview]:
        """A candidate's interviews inside the visibility."""
        clause, params = visibility.interview_clause("i", "r")
        rows = self.conn.execute(
            "SELECT i.* FROM interviews i JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE i.candidate_id = ? AND {clause} ORDER BY i.id",
            (candidate_id, *params),
        )
        return [_interview(row) for row in rows]

    def for_candidates_visible(
        self, candidate_ids: Collection[int], visibility: Visibility
    ) -> dict[int, list[Interview]]:
        """`for_candidate_visible` of many candidates in one query per 500 (a list page's rows):
        candidate id -> interviews, oldest first; a candidate with none visible is left out."""
        clause, params = visibility.interview_clause("i", "r")
        found: dict[int, list[Interview]] = {}
        ids = sorted(set(candidate_ids))
        for start in range(0, len(ids), ID_BATCH):
            chunk = ids[start : start + ID_BATCH]
            rows = self.conn.execute(
                "SELECT i.* FROM interviews i JOIN requisitions r ON r.id = i.requisition_id"
                f" WHERE i.candidate_id IN ({', '.join('?' for _ in chunk)}) AND {clause}",
                (*chunk, *params),
            )
            # Sorted here: SQLite's sorter costs more than the query under memory security.
            for interview in sorted((_interview(row) for row in rows), key=lambda i: i.id):
                found.setdefault(interview.candidate_id, []).append(interview)
        return found

    def assign(self, interview_id: int, user_id: int, duty: str) -> None:
        """Give a person an interview to run (interviewer) or a technical round to judge."""
        self.conn.execute(
            "INSERT OR REPLACE INTO interview_assignments (interview_id, user_id, duty,"
            " assigned_at) VALUES (?, ?, ?, ?)",
            (interview_id, user_id, duty, now_stamp()),
        )

    def assignees(self, interview_id: int) -> list[tuple[int, str]]:
        """(user id, duty) of everyone assigned to an interview."""
        rows = self.conn.execute(
            "SELECT user_id, duty FROM interview_assignments WHERE interview_id = ?"
            " ORDER BY user_id",
            (interview_id,),
        )
        return [(int(row["user_id"]), str(row["duty"])) for row in rows]

    def assigned_to(self, user_id: int, duty: str) -> list[Interview]:
        """Interviews assigned to a person for one duty."""
        rows = self.conn.execute(
            "SELECT i.* FROM interviews i JOIN interview_assignments ia ON ia.interview_id = i.id"
            " WHERE ia.user_id = ? AND ia.duty = ? ORDER BY i.id",
            (user_id, duty),
        )
        return [_interview(row) for row in rows]

    def for_candidate(self, candidate_id: int) -> list[Interview]:
        """A candidate's interviews, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM interviews WHERE candidate_id = ? ORDER BY id", (candidate_id,)
        )
        return [_interview(row) for row in rows]
