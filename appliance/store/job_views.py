"""Analysis jobs as people may see them: scoped through recording → interview → requisition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import Repository, limit_clause
from appliance.store.db import Row
from appliance.store.queue import Job, job_from_row

FINISHED_STATES = ("succeeded", "failed")

# Jobs reach people only through the recording they analyse; jobs about nothing a person can
# see (maintenance, other departments) never match.
_FROM = (
    " FROM jobs j"
    " JOIN recordings rec ON j.subject_type = 'recording' AND rec.id = j.subject_id"
    " JOIN interviews i ON i.id = rec.interview_id"
    " JOIN requisitions r ON r.id = i.requisition_id"
    " LEFT JOIN reports rep ON rep.job_id = j.id"
)
_COLUMNS = (
    "SELECT j.*, rec.id AS v_recording_id, rec.candidate_id AS v_candidate_id,"
    " i.id AS v_interview_id, i.round AS v_round, r.id AS v_requisition_id,"
    " r.title AS v_title, r.department AS v_department, r.region AS v_region,"
    " rep.id AS v_report_id"
)


@dataclass(frozen=True)
class JobView:
    """A job with what it is about (no personal data: ids, requisition title, department)."""

    job: Job
    recording_id: int
    candidate_id: int
    interview_id: int
    interview_round: int
    requisition_id: int
    requisition_title: str
    department: str
    region: str
    report_id: int | None


def _view(row: Row) -> JobView:
    return JobView(
        job_from_row(row),
        row["v_recording_id"],
        row["v_candidate_id"],
        row["v_interview_id"],
        row["v_round"],
        row["v_requisition_id"],
        row["v_title"],
        row["v_department"],
        row["v_region"],
        row["v_report_id"],
    )


class JobViewRepository(Repository):
    """Read-only, visibility-scoped queries over analysis jobs."""

    def _select(
        self,
        visibility: Visibility,
        where: str,
        params: list[Any],
        tail: str = "",
        tail_params: list[Any] | None = None,
    ) -> list[Row]:
        clause, scope_params = visibility.interview_clause("i", "r")
        sql = f"{_COLUMNS}{_FROM} WHERE {clause} AND {where} {tail}"
        values = (*scope_params, *params, *(tail_params or []))
        return list(self.conn.execute(sql, values).fetchall())

    def visible(self, visibility: Visibility, *, limit: int = 100) -> list[JobView]:
        """The newest jobs the visibility reaches."""
        rows = self._select(visibility, "1", [], f"ORDER BY j.id DESC {limit_clause(limit)}")
        return [_view(row) for row in rows]

    def get_visible(self, job_id: int, visibility: Visibility) -> JobView:
        """One job inside the visibility, else NotFoundError (same answer as a missing id)."""
        rows = self._select(visibility, "j.id = ?", [job_id])
        if not rows:
            raise NotFoundError(f"no job {job_id}")
        return _view(rows[0])

    def for_recording(self, recording_id: int, visibility: Visibility) -> JobView | None:
        """The newest job analysing a recording, if the visibility reaches it."""
        rows = self._select(visibility, "rec.id = ?", [recording_id], "ORDER BY j.id DESC LIMIT 1")
        return _view(rows[0]) if rows else None

    def finished_since(
        self, visibility: Visibility, since: str, *, limit: int = 20
    ) -> list[JobView]:
        """Jobs that succeeded or failed after `since` (a store timestamp), newest first."""
        rows = self._select(
            visibility,
            "j.state IN (?, ?) AND j.finished_at > ?",
            [*FINISHED_STATES, since],
            f"ORDER BY j.finished_at DESC, j.id DESC {limit_clause(limit)}",
        )
        return [_view(row) for row in rows]
