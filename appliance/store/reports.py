"""Analysis reports (drafts written by the worker, reviewed by people)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.clock import now_stamp
from appliance.db import Row
from appliance.errors import NotFoundError
from appliance.permissions import Visibility
from appliance.store.base import Repository, dumps, loads


@dataclass(frozen=True)
class Report:
    """A report drafted from one analysis job."""

    id: int
    interview_id: int
    recording_id: int | None
    job_id: int
    model_version: str | None
    status: str
    content: dict[str, Any]
    created_at: str


def _report(row: Row) -> Report:
    return Report(
        row["id"],
        row["interview_id"],
        row["recording_id"],
        row["job_id"],
        row["model_version"],
        row["status"],
        loads(row["content"]),
        row["created_at"],
    )


class ReportRepository(Repository):
    """Reports; one per successful analysis job (the UNIQUE job_id makes that a rule)."""

    def create(
        self,
        interview_id: int,
        job_id: int,
        content: dict[str, Any],
        *,
        recording_id: int | None = None,
        model_version: str | None = None,
    ) -> Report:
        """Store a drafted report."""
        cursor = self.conn.execute(
            "INSERT INTO reports (interview_id, recording_id, job_id, model_version, content,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, recording_id, job_id, model_version, dumps(content), now_stamp()),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, report_id: int) -> Report:
        """One report by id."""
        row = self.conn.execute("SELECT * FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no report {report_id}")
        return _report(row)

    def get_visible(self, report_id: int, visibility: Visibility) -> Report:
        """One report whose interview the visibility reaches, else NotFoundError."""
        clause, params = visibility.interview_clause("i", "r")
        row = self.conn.execute(
            "SELECT rep.* FROM reports rep JOIN interviews i ON i.id = rep.interview_id"
            f" JOIN requisitions r ON r.id = i.requisition_id WHERE rep.id = ? AND {clause}",
            (report_id, *params),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no report {report_id}")
        return _report(row)

    def for_interview(self, interview_id: int) -> list[Report]:
        """An interview's reports, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM reports WHERE interview_id = ? ORDER BY id", (interview_id,)
        )
        return [_report(row) for row in rows]
