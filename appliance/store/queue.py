"""The durable job queue and the registry of worker processes, as rows in the encrypted store."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError, QueueFullError
from appliance.store.base import Repository, dumps, limit_clause, loads
from appliance.store.db import Row, transaction

OPEN_STATES = ("queued", "running")


class LostClaimError(RuntimeError):
    """The job was requeued or finished by someone else since this worker claimed it."""


@dataclass(frozen=True)
class Job:
    """A unit of background work."""

    id: int
    kind: str
    subject_type: str | None
    subject_id: int | None
    payload: dict[str, Any]
    state: str
    priority: int
    attempts: int
    max_attempts: int
    run_after: str
    claimed_by: str | None
    heartbeat_at: str | None
    progress: float
    step: str | None
    error_code: str | None
    error: str | None
    result: dict[str, Any] | None
    created_at: str
    finished_at: str | None


@dataclass(frozen=True)
class Claim:
    """A job held by one worker; the token proves the claim is still this worker's."""

    job: Job
    token: str
    worker_id: str


@dataclass(frozen=True)
class WorkerRecord:
    """A worker process as it registered itself."""

    id: str
    hostname: str
    pid: int
    pid_started_at: float
    heartbeat_at: str
    stopped_at: str | None


def job_from_row(row: Row) -> Job:
    """A Job from a `jobs` row (also used by joined queries)."""
    return Job(
        row["id"],
        row["kind"],
        row["subject_type"],
        row["subject_id"],
        loads(row["payload"]),
        row["state"],
        row["priority"],
        row["attempts"],
        row["max_attempts"],
        row["run_after"],
        row["claimed_by"],
        row["heartbeat_at"],
        row["progress"],
        row["step"],
        row["error_code"],
        row["error"],
        loads(row["result"]),
        row["created_at"],
        row["finished_at"],
    )


class JobRepository(Repository):
    """Enqueue, claim, heartbeat and finish jobs."""

    def enqueue(
        self,
        kind: str,
        *,
        max_open: int,
        max_attempts: int,
        subject_type: str | None = None,
        subject_id: int | None = None,
        payload: dict[str, Any] | None = None,
        priority: int = 100,
    ) -> Job:
        """Add a job; QueueFullError when `max_open` jobs are already queued or running."""
        if self.conn.in_transaction:
            return self._enqueue(
                kind, max_open, max_attempts, subject_type, subject_id, payload, priority
            )
        with transaction(self.conn):
            return self._enqueue(
                kind, max_open, max_attempts, subject_type, subject_id, payload, priority
            )

    def _enqueue(
        self,
        kind: str,
        max_open: int,
        max_attempts: int,
        subject_type: str | None,
        subject_id: int | None,
        payload: dict[str, Any] | None,
        priority: int,
    ) -> Job:
        open_jobs = self.conn.execute(
            "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
        ).fetchone()[0]
        if open_jobs >= max_open:
            raise QueueFullError(
                f"the job queue is full ({open_jobs} of {max_open} jobs waiting or running); "
                "try again when the worker has caught up"
            )
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO jobs (kind, subject_type, subject_id, payload, priority, max_attempts,"
            " run_after, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                subject_type,
                subject_id,
                dumps(payload or {}),
                priority,
                max_attempts,
                now,
                now,
                now,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, job_id: int) -> Job:
        """One job by id."""
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id}")
        return job_from_row(row)

    def claim(
        self,
        worker_id: str,
        *,
        kinds: Collection[str] | None = None,
        exclude_kinds: Collection[str] = (),
    ) -> Claim | None:
        """Take the next ready job for `worker_id` (of `kinds`, not of `exclude_kinds`)."""
        now = now_stamp()
        lane = ""
        params: list[object] = [now]
        if kinds is not None:
            lane += f" AND kind IN ({', '.join('?' for _ in kinds) or 'NULL'})"
            params.extend(kinds)
        if exclude_kinds:
            lane += f" AND kind NOT IN ({', '.join('?' for _ in exclude_kinds)})"
            params.extend(exclude_kinds)
        # BEGIN IMMEDIATE takes the write lock first, so two workers can never pick one row.
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT id FROM jobs WHERE state = 'queued' AND run_after <= ?"
                f"{lane} ORDER BY priority, run_after, id LIMIT 1",
                params,
            ).fetchone()
            if row is None:
                return None
            token = secrets.token_hex(16)
            self.conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, claim_token = ?,"
                " claimed_by = ?, heartbeat_at = ?, progress = 0, step = NULL, updated_at = ?"
                " WHERE id = ?",
                (token, worker_id, now, now, row["id"]),
            )
            job = self.get(row["id"])
            self.conn.execute(
                "INSERT INTO job_runs (job_id, attempt, worker_id, claim_token, started_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (job.id, job.attempts, worker_id, token, now),
            )
        return Claim(job, token, worker_id)

    def heartbeat(
        self, claim: Claim, *, progress: float | None = None, step: str | None = None
    ) -> bool:
        """Refresh a running job's heartbeat; False when the claim was lost."""
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE jobs SET heartbeat_at = ?, progress = coalesce(?, progress),"
                " step = coalesce(?, step) WHERE id = ? AND claim_token = ? AND state = 'running'",
                (now_stamp(), progress, step, claim.job.id, claim.token),
            )
        return bool(cursor.rowcount == 1)

    def _finish(
        self,
        claim: Claim,
        state: str,
        outcome: str,
        *,
        result: dict[str, Any] | None,
        error_code: str | None,
        error: str | None,
        run_after: str | None,
    ) -> None:
        now = now_stamp()
        finished = now if state in ("succeeded", "failed", "cancelled") else None
        cursor = self.conn.execute(
            "UPDATE jobs SET state = ?, result = ?, error_code = ?, error = ?,"
            " run_after = coalesce(?, run_after), claim_token = NULL,"
            " progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END,"
            " updated_at = ?, finished_at = ?"
            " WHERE id = ? AND claim_token = ? AND state = 'running'",
            (
                state,
                None if result is None else dumps(result),
                error_code,
                error,
                run_after,
                state,
                now,
                finished,
                claim.job.id,
                claim.token,
            ),
        )
        if cursor.rowcount != 1:
            raise LostClaimError(f"job {claim.job.id} is no longer held by {claim.worker_id}")
        self.conn.execute(
            "UPDATE job_runs SET ended_at = ?, outcome = ?, error = ? WHERE claim_token = ?",
            (now, outcome, error, claim.token),
        )

    def succeed(self, claim: Claim, result: dict[str, Any]) -> None:
        """Mark done; call inside the transaction that writes the job's results."""
        self._finish(
            claim,
            "succeeded",
            "succeeded",
            result=result,
            error_code=None,
            error=None,
            run_after=None,
        )

    def retry(self, claim: Claim, error_code: str, error: str, delay_s: float) -> None:
        """Put the job back in the queue after `delay_s` seconds."""
        self._finish(
            claim,
            "queued",
            "retry",
            result=None,
            error_code=error_code,
            error=error,
            run_after=now_stamp(delay_s),
        )

    def fail(self, claim: Claim, error_code: str, error: str) -> None:
        """Mark the job failed for good, with a reason a person can read."""
        self._finish(
            claim,
            "failed",
            "failed",
            result=None,
            error_code=error_code,
            error=error,
            run_after=None,
        )

    def running(self) -> list[tuple[Job, str]]:
        """Running jobs with their claim tokens."""
        rows = self.conn.execute("SELECT * FROM jobs WHERE state = 'running' ORDER BY id")
        return [(job_from_row(row), row["claim_token"]) for row in rows]

    def requeue_abandoned(self, job_id: int, token: str, reason: str) -> str:
        """Return a job whose worker died to the queue (or fail it when out of attempts)."""
        now = now_stamp()
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT attempts, max_attempts FROM jobs"
                " WHERE id = ? AND claim_token = ? AND state = 'running'",
                (job_id, token),
            ).fetchone()
            if row is None:
                return "gone"
            exhausted = row["attempts"] >= row["max_attempts"]
            state = "failed" if exhausted else "queued"
            error = f"{reason}; gave up after {row['attempts']} attempts" if exhausted else reason
            self.conn.execute(
                "UPDATE jobs SET state = ?, claim_token = NULL, run_after = ?,"
                " error_code = 'worker_lost', error = ?, updated_at = ?, finished_at = ?"
                " WHERE id = ?",
                (state, now, error, now, now if exhausted else None, job_id),
            )
            self.conn.execute(
                "UPDATE job_runs SET ended_at = ?, outcome = 'abandoned', error = ?"
                " WHERE claim_token = ?",
                (now, reason, token),
            )
        return state

    def release(self, claim: Claim, reason: str) -> bool:
        """Give a job back untouched (its worker is stopping): the attempt does not count."""
        now = now_stamp()
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0),"
                " claim_token = NULL, run_after = ?, updated_at = ?"
                " WHERE id = ? AND claim_token = ? AND state = 'running'",
                (now, now, claim.job.id, claim.token),
            )
            self.conn.execute(
                "UPDATE job_runs SET ended_at = ?, outcome = 'abandoned', error = ?"
                " WHERE claim_token = ?",
                (now, reason, claim.token),
            )
        return bool(cursor.rowcount == 1)

    def cancel(self, job_id: int, reason: str) -> str | None:
        """Stop a queued or running job; a running one loses its claim (its worker drops it)."""
        now = now_stamp()
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT state, claim_token FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None or row["state"] not in OPEN_STATES:
                return None
            self.conn.execute(
                "UPDATE jobs SET state = 'cancelled', claim_token = NULL, error_code = 'stopped',"
                " error = ?, updated_at = ?, finished_at = ? WHERE id = ?",
                (reason, now, now, job_id),
            )
            if row["claim_token"]:
                self.conn.execute(
                    "UPDATE job_runs SET ended_at = ?, outcome = 'abandoned', error = ?"
                    " WHERE claim_token = ?",
                    (now, reason, row["claim_token"]),
                )
        return str(row["state"])

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = self.conn.execute("SELECT state, count(*) AS n FROM jobs GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}

    def has_open(self, kind: str) -> bool:
        """Whether a job of this kind is queued or running (a chore enqueues one at a time)."""
        row = self.conn.execute(
            "SELECT 1 FROM jobs WHERE kind = ? AND state IN ('queued', 'running') LIMIT 1",
            (kind,),
        ).fetchone()
        return row is not None

    def count_for(
        self, kind: str, subject_type: str, subject_id: int, *, open_only: bool = False
    ) -> int:
        """How many jobs of a kind one subject has had (only queued or running ones)."""
        sql = "SELECT count(*) FROM jobs WHERE kind = ? AND subject_type = ? AND subject_id = ?"
        if open_only:
            sql += " AND state IN ('queued', 'running')"
        return int(self.conn.execute(sql, (kind, subject_type, subject_id)).fetchone()[0])

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs."""
        rows = self.conn.execute(f"SELECT * FROM jobs ORDER BY id DESC {limit_clause(limit)}")
        return [job_from_row(row) for row in rows]

    def runs(self, job_id: int) -> list[dict[str, Any]]:
        """Every attempt of a job."""
        rows = self.conn.execute(
            "SELECT attempt, worker_id, started_at, ended_at, outcome, error FROM job_runs"
            " WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        return [dict(row) for row in rows]


class WorkerRepository(Repository):
    """Worker processes, so a new worker can tell a dead one's jobs from a live one's."""

    def register(self, worker_id: str, hostname: str, pid: int, pid_started_at: float) -> None:
        """Record a starting worker."""
        now = now_stamp()
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO workers (id, hostname, pid, pid_started_at, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (worker_id, hostname, pid, pid_started_at, now, now),
            )

    def heartbeat(self, worker_id: str) -> None:
        """Show the worker is alive."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE workers SET heartbeat_at = ? WHERE id = ?", (now_stamp(), worker_id)
            )

    def stop(self, worker_id: str) -> None:
        """Record a clean stop."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE workers SET stopped_at = ? WHERE id = ?", (now_stamp(), worker_id)
            )

    def get(self, worker_id: str) -> WorkerRecord | None:
        """One worker by id."""
        row = self.conn.execute("SELECT * FROM workers WHERE id = ?", (worker_id,)).fetchone()
        if row is None:
            return None
        return WorkerRecord(
            row["id"],
            row["hostname"],
            row["pid"],
            row["pid_started_at"],
            row["heartbeat_at"],
            row["stopped_at"],
        )

    def alive_since(self, since: str) -> list[WorkerRecord]:
        """Workers that have not stopped and heartbeat after `since`."""
        rows = self.conn.execute(
            "SELECT * FROM workers WHERE stopped_at IS NULL AND heartbeat_at >= ? ORDER BY id",
            (since,),
        )
        return [
            WorkerRecord(
                row["id"],
                row["hostname"],
                row["pid"],
                row["pid_started_at"],
                row["heartbeat_at"],
                row["stopped_at"],
            )
            for row in rows
        ]
