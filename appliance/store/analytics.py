"""The rows hiring analytics count: one per candidate and job, with how far they got."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.security.permissions import Visibility
from appliance.store.base import Repository


@dataclass(frozen=True)
class Application:
    """A candidate's path through one job: applied, interviewed, advanced, hired."""

    candidate_id: int
    requisition_id: int
    title: str
    department: str
    region: str
    applied_at: str  # when their first interview for the job was created
    interviewed: bool  # an interview was recorded (or analysed)
    analysed_interview: int | None  # their newest analysed interview, for its scores
    advanced: bool  # ever advanced or hired
    decided: str | None  # the job's latest decision: advance, reject or hire
    decided_at: str | None


class AnalyticsRepository(Repository):
    """Aggregate reads for the dashboards (no sealed text: ids, states, decisions, times)."""

    def applications(
        self, visibility: Visibility, *, start: str | None = None, end: str | None = None
    ) -> list[Application]:
        """Every candidate x job in reach (erased people left out), applied in [start, end)."""
        clause, params = visibility.requisition_clause("r")
        period = ""
        if start:
            period += " AND applied_at >= ?"
        if end:
            period += " AND applied_at < ?"
        rows = self.conn.execute(
            "WITH apps AS (SELECT i.candidate_id, i.requisition_id, r.title, r.department,"
            " r.region, MIN(i.created_at) AS applied_at,"
            " MAX(i.status IN ('recorded', 'analysing', 'analysed')) AS interviewed,"
            " (SELECT i2.id FROM interviews i2 WHERE i2.candidate_id = i.candidate_id"
            "  AND i2.requisition_id = i.requisition_id AND i2.status = 'analysed'"
            "  ORDER BY i2.round DESC, i2.id DESC LIMIT 1) AS analysed_interview"
            " FROM interviews i JOIN requisitions r ON r.id = i.requisition_id"
            f" WHERE {clause} AND i.status != 'cancelled'"
            " AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.candidate_id = i.candidate_id)"
            " GROUP BY i.candidate_id, i.requisition_id)"
            " SELECT apps.*,"
            " EXISTS (SELECT 1 FROM decisions d WHERE d.candidate_id = apps.candidate_id"
            "  AND d.requisition_id = apps.requisition_id AND d.kind IN ('advance', 'hire'))"
            "  AS advanced,"
            " (SELECT d.kind || ' ' || d.decided_at FROM decisions d"
            "  WHERE d.candidate_id = apps.candidate_id AND d.requisition_id = apps.requisition_id"
            "  AND d.kind IN ('advance', 'reject', 'hire')"
            "  ORDER BY d.decided_at DESC, d.id DESC LIMIT 1) AS latest"
            f" FROM apps WHERE 1{period} ORDER BY applied_at, candidate_id",
            [*params, *([start] if start else []), *([end] if end else [])],
        )
        found = []
        for row in rows:
            latest = row["latest"]
            kind, _, when = latest.partition(" ") if latest else (None, "", None)
            found.append(
                Application(
                    int(row["candidate_id"]),
                    int(row["requisition_id"]),
                    row["title"],
                    row["department"],
                    row["region"],
                    row["applied_at"],
                    bool(row["interviewed"]),
                    row["analysed_interview"],
                    bool(row["advanced"]),
                    kind,
                    when or None,
                )
            )
        return found


__all__ = ["AnalyticsRepository", "Application"]
