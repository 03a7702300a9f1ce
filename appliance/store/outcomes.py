"""Post-hire outcomes: start, probation, leaving and performance ratings of hired people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import Repository
from appliance.store.db import Row

PROBATION_RESULTS = ("pending", "passed", "extended", "failed")
RATING_SCALE = (1.0, 5.0)


@dataclass(frozen=True)
class Rating:
    """One performance rating (1-5) on a date."""

    rated_on: str
    rating: float


@dataclass(frozen=True)
class HireOutcome:
    """What happened after one hire: linked to HR's records by `employee_id`."""

    id: int
    candidate_id: int
    requisition_id: int
    employee_id: str
    start_date: str | None
    probation: str
    left_on: str | None
    left_voluntarily: bool | None
    updated_by: int
    updated_at: str
    ratings: tuple[Rating, ...] = field(default=())


@dataclass(frozen=True)
class OutcomeFields:
    """The fields a person sets (None: unknown or not yet)."""

    start_date: str | None = None
    probation: str = "pending"
    left_on: str | None = None
    left_voluntarily: bool | None = None


def _outcome(row: Row, ratings: tuple[Rating, ...]) -> HireOutcome:
    voluntary = row["left_voluntarily"]
    return HireOutcome(
        row["id"],
        row["candidate_id"],
        row["requisition_id"],
        row["employee_id"],
        row["start_date"],
        row["probation"],
        row["left_on"],
        None if voluntary is None else bool(voluntary),
        row["updated_by"],
        row["updated_at"],
        ratings,
    )


class OutcomeRepository(Repository):
    """Hire outcomes and their ratings (deleted with the candidate on erasure)."""

    def _ratings(self, outcome_ids: list[int]) -> dict[int, tuple[Rating, ...]]:
        found: dict[int, list[Rating]] = {}
        for start in range(0, len(outcome_ids), 500):
            batch = outcome_ids[start : start + 500]
            rows = self.conn.execute(
                "SELECT outcome_id, rated_on, rating FROM performance_ratings"
                f" WHERE outcome_id IN ({', '.join('?' for _ in batch)}) ORDER BY rated_on",
                batch,
            )
            for row in rows:
                found.setdefault(row["outcome_id"], []).append(
                    Rating(row["rated_on"], float(row["rating"]))
                )
        return {key: tuple(value) for key, value in found.items()}

    def _many(self, where: str, params: Iterable[object]) -> list[HireOutcome]:
        rows = list(self.conn.execute(f"SELECT * FROM hire_outcomes WHERE {where}", list(params)))
        ratings = self._ratings([row["id"] for row in rows])
        return [_outcome(row, ratings.get(row["id"], ())) for row in rows]

    def get(self, outcome_id: int) -> HireOutcome:
        """One outcome, or NotFoundError."""
        found = self._many("id = ?", (outcome_id,))
        if not found:
            raise NotFoundError(f"no hire outcome {outcome_id}")
        return found[0]

    def for_hire(self, candidate_id: int, requisition_id: int) -> HireOutcome | None:
        """The outcome of a candidate's hire into a job, if one was recorded."""
        found = self._many(
            "candidate_id = ? AND requisition_id = ?", (candidate_id, requisition_id)
        )
        return found[0] if found else None

    def for_candidate(self, candidate_id: int) -> list[HireOutcome]:
        """A candidate's outcomes (one per job they were hired into)."""
        return self._many("candidate_id = ? ORDER BY requisition_id", (candidate_id,))

    def by_employee(self, employee_id: str) -> HireOutcome | None:
        """The outcome linked to an employee id."""
        found = self._many("employee_id = ?", (employee_id,))
        return found[0] if found else None

    def for_requisitions(self, requisition_ids: list[int]) -> list[HireOutcome]:
        """Every outcome of hires into these jobs."""
        found: list[HireOutcome] = []
        for start in range(0, len(requisition_ids), 500):
            batch = requisition_ids[start : start + 500]
            found += self._many(
                f"requisition_id IN ({', '.join('?' for _ in batch)}) ORDER BY id", batch
            )
        return found

    def any_rated(self) -> bool:
        """Whether any hire has a performance rating (else no question can be judged)."""
        row = self.conn.execute("SELECT EXISTS (SELECT 1 FROM performance_ratings)").fetchone()
        return bool(row[0])

    def hires_visible(self, visibility: Visibility) -> list[tuple[int, int, str]]:
        """(candidate, job, hired at) of every hire in reach whose job's latest decision is a
        hire, erased people left out, newest first."""
        clause, params = visibility.requisition_clause("r")
        rows = self.conn.execute(
            "SELECT d.candidate_id, d.requisition_id, d.decided_at FROM decisions d"
            " JOIN requisitions r ON r.id = d.requisition_id"
            f" WHERE d.kind = 'hire' AND {clause}"
            " AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.candidate_id = d.candidate_id)"
            " AND NOT EXISTS (SELECT 1 FROM decisions later"
            " WHERE later.candidate_id = d.candidate_id"
            " AND later.requisition_id = d.requisition_id"
            " AND later.kind IN ('advance', 'reject', 'hire')"
            " AND (later.decided_at > d.decided_at"
            " OR (later.decided_at = d.decided_at AND later.id > d.id)))"
            " ORDER BY d.decided_at DESC, d.id DESC",
            params,
        )
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    def save(
        self,
        candidate_id: int,
        requisition_id: int,
        employee_id: str,
        fields: OutcomeFields,
        user_id: int,
    ) -> int:
        """Create or replace the outcome of one hire (inside the caller's transaction)."""
        voluntary = None if fields.left_voluntarily is None else int(fields.left_voluntarily)
        self.conn.execute(
            "INSERT INTO hire_outcomes (candidate_id, requisition_id, employee_id, start_date,"
            " probation, left_on, left_voluntarily, updated_by, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (candidate_id, requisition_id) DO UPDATE SET"
            " employee_id = excluded.employee_id, start_date = excluded.start_date,"
            " probation = excluded.probation, left_on = excluded.left_on,"
            " left_voluntarily = excluded.left_voluntarily, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (
                candidate_id,
                requisition_id,
                employee_id,
                fields.start_date,
                fields.probation,
                fields.left_on,
                voluntary,
                user_id,
                now_stamp(),
            ),
        )
        row = self.conn.execute(
            "SELECT id FROM hire_outcomes WHERE candidate_id = ? AND requisition_id = ?",
            (candidate_id, requisition_id),
        ).fetchone()
        return int(row[0])

    def put_rating(self, outcome_id: int, candidate_id: int, rated_on: str, rating: float) -> None:
        """Set the rating of a date (a second rating on the same date replaces the first)."""
        self.conn.execute(
            "INSERT INTO performance_ratings (outcome_id, candidate_id, rated_on, rating)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (outcome_id, rated_on) DO UPDATE SET"
            " rating = excluded.rating",
            (outcome_id, candidate_id, rated_on, rating),
        )

    def remove_rating(self, outcome_id: int, rated_on: str) -> bool:
        """Delete the rating of a date; False when there was none."""
        cursor = self.conn.execute(
            "DELETE FROM performance_ratings WHERE outcome_id = ? AND rated_on = ?",
            (outcome_id, rated_on),
        )
        return int(cursor.rowcount) > 0


__all__ = [
    "PROBATION_RESULTS",
    "RATING_SCALE",
    "HireOutcome",
    "OutcomeFields",
    "OutcomeRepository",
    "Rating",
]
