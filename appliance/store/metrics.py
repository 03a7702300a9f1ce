"""The counts and times the operator's metrics read: jobs, runs, steps, uploads in flight.
Numbers only: no names, no content, no ids of people."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.store.base import Repository, limit_clause

RECENT_RUNS = 50


@dataclass(frozen=True)
class RunTotals:
    """Succeeded runs of one job kind: how many and their wall seconds in all."""

    kind: str
    count: int
    seconds: float


class MetricsRepository(Repository):
    """Aggregate reads for `/metrics`."""

    def jobs_by_state(self) -> dict[tuple[str, str], int]:
        """(state, kind) -> how many jobs."""
        rows = self.conn.execute("SELECT state, kind, count(*) FROM jobs GROUP BY state, kind")
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    def run_totals(self) -> list[RunTotals]:
        """Succeeded runs per job kind with their summed wall time."""
        rows = self.conn.execute(
            "SELECT j.kind, count(*), coalesce(sum((julianday(r.ended_at)"
            " - julianday(r.started_at)) * 86400.0), 0) FROM job_runs r"
            " JOIN jobs j ON j.id = r.job_id WHERE r.outcome = 'succeeded'"
            " AND r.ended_at IS NOT NULL GROUP BY j.kind"
        )
        return [RunTotals(str(r[0]), int(r[1]), float(r[2])) for r in rows]

    def run_outcomes(self) -> dict[tuple[str, str], int]:
        """(kind, outcome) -> how many runs ended so (retry, failed, abandoned, succeeded)."""
        rows = self.conn.execute(
            "SELECT j.kind, r.outcome, count(*) FROM job_runs r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.outcome IS NOT NULL GROUP BY j.kind, r.outcome"
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    def step_totals(self) -> dict[str, tuple[int, float]]:
        """Analysis step -> (how many runs timed it, their seconds in all)."""
        rows = self.conn.execute(
            "SELECT s.key, count(*), sum(s.value) FROM jobs j,"
            " json_each(j.result, '$.step_seconds') s"
            " WHERE j.state = 'succeeded' AND j.result IS NOT NULL GROUP BY s.key"
        )
        return {str(r[0]): (int(r[1]), float(r[2] or 0.0)) for r in rows}

    def realtime_factor(self) -> float | None:
        """Seconds of media analysed per wall second over the last analyses (None: none)."""
        row = self.conn.execute(
            "SELECT sum(media), sum(wall) FROM (SELECT"
            " json_extract(rec.media_info, '$.duration_s') AS media,"
            " (julianday(r.ended_at) - julianday(r.started_at)) * 86400.0 AS wall"
            " FROM job_runs r JOIN jobs j ON j.id = r.job_id"
            " JOIN recordings rec ON j.subject_type = 'recording' AND rec.id = j.subject_id"
            " WHERE j.kind = 'analyse' AND r.outcome = 'succeeded' AND r.ended_at IS NOT NULL"
            f" AND rec.media_info IS NOT NULL ORDER BY r.id DESC {limit_clause(RECENT_RUNS)})",
        ).fetchone()
        media, wall = row[0], row[1]
        if not media or not wall or wall <= 0:
            return None
        return float(media) / float(wall)

    def uploads_in_flight(self) -> dict[str, int]:
        """Uploads not finished: resumable uploads and interview-room takes being recorded."""
        resumable = self.conn.execute(
            "SELECT count(*) FROM upload_sessions WHERE completed_at IS NULL"
        ).fetchone()[0]
        room = self.conn.execute(
            "SELECT count(*) FROM room_takes WHERE state = 'recording'"
        ).fetchone()[0]
        return {"upload": int(resumable), "room_take": int(room)}

    def workers_alive(self, since: str) -> int:
        """Workers running with a heartbeat at or after `since`."""
        row = self.conn.execute(
            "SELECT count(*) FROM workers WHERE stopped_at IS NULL AND heartbeat_at >= ?",
            (since,),
        ).fetchone()
        return int(row[0])


__all__ = ["MetricsRepository", "RunTotals"]
