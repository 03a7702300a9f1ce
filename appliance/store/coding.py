"""Coding rounds: the tasks of a job (a version per save), and candidates' drafts and
submissions (their code and results sealed with the candidate's key).

The task's content is kept as the JSON form of its file (`spec`); appliance/coding reads and
checks it. This module only stores and reads rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository, dumps, loads
from appliance.store.db import Row
from appliance.store.fieldcrypt import (
    ERASED,
    FieldKey,
    SealedFieldError,
    open_json,
    open_sealed,
    open_text,
    seal,
)
from appliance.store.sealed import OWNER_OF, PENDING, SealedRepository, savepoint

TASK_ORIGINS = ("import", "api", "form")
SUBMISSION_STATES = ("queued", "judged", "failed")
_DRAFTS = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['coding_drafts']}"
_SUBMISSIONS = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['coding_submissions']}"
# A trial run's result (the candidate's "run the tests") travels in its worker job's result,
# sealed with the candidate's key and bound to the draft it ran: erasing the candidate
# shreds it with everything else, though the job row stays.
TRIAL_TABLE, TRIAL_COLUMN = "coding_drafts", "trial_result"


@dataclass(frozen=True)
class StoredTask:
    """One saved version of a coding task: its JSON spec and where it came from."""

    id: int
    requisition_id: int
    key: str
    version: int
    title: str
    spec: dict[str, Any]
    origin: str
    created_by: int | None
    created_at: str


@dataclass(frozen=True)
class CodeDraft:
    """One autosave of a candidate's code for a task."""

    id: int
    interview_id: int
    task_id: int
    language: str
    code: str
    size_bytes: int
    saved_at: str


@dataclass(frozen=True)
class CodeSubmission:
    """A candidate's submitted code and (once judged) its result."""

    id: int
    interview_id: int
    task_id: int
    language: str
    code: str
    state: str
    result: dict[str, Any] | None
    job_id: int | None
    submitted_by: str
    submitted_at: str
    judged_at: str | None

    @property
    def erased(self) -> bool:
        """Whether the candidate's key is gone (the code and result no longer open)."""
        return self.code == ERASED


def _task(row: Row) -> StoredTask:
    return StoredTask(
        row["id"],
        row["requisition_id"],
        row["key"],
        row["version"],
        row["title"],
        loads(row["spec"]),
        row["origin"],
        row["created_by"],
        row["created_at"],
    )


class CodingTaskRepository(Repository):
    """Coding tasks of jobs; a save always inserts the next version of the task's key."""

    def save(
        self,
        requisition_id: int,
        key: str,
        title: str,
        spec: dict[str, Any],
        *,
        origin: str,
        created_by: int | None,
    ) -> StoredTask:
        """Store `spec` as the next version of the job's task called `key`."""
        if origin not in TASK_ORIGINS:
            raise ValueError(f"unknown task origin {origin!r}")
        row = self.conn.execute(
            "SELECT coalesce(max(version), 0) FROM coding_tasks"
            " WHERE requisition_id = ? AND key = ?",
            (requisition_id, key),
        ).fetchone()
        cursor = self.conn.execute(
            "INSERT INTO coding_tasks (requisition_id, key, version, title, spec, origin,"
            " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                requisition_id,
                key,
                int(row[0]) + 1,
                title,
                dumps(spec),
                origin,
                created_by,
                now_stamp(),
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, task_id: int) -> StoredTask:
        """One task version by id."""
        row = self.conn.execute("SELECT * FROM coding_tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no coding task {task_id}")
        return _task(row)

    def current(self, requisition_id: int) -> list[StoredTask]:
        """The newest version of each of the job's tasks, in the order they were first added."""
        rows = self.conn.execute(
            "SELECT t.* FROM coding_tasks t WHERE t.requisition_id = ? AND t.version ="
            " (SELECT max(version) FROM coding_tasks v WHERE v.requisition_id = t.requisition_id"
            " AND v.key = t.key) ORDER BY (SELECT min(id) FROM coding_tasks f"
            " WHERE f.requisition_id = t.requisition_id AND f.key = t.key)",
            (requisition_id,),
        ).fetchall()
        return [_task(row) for row in rows]

    def versions(self, requisition_id: int, key: str) -> list[StoredTask]:
        """Every saved version of one task, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM coding_tasks WHERE requisition_id = ? AND key = ? ORDER BY version DESC",
            (requisition_id, key),
        ).fetchall()
        return [_task(row) for row in rows]

    def with_tasks(self, requisition_ids: list[int]) -> set[int]:
        """Which of these jobs have at least one coding task."""
        if not requisition_ids:
            return set()
        marks = ", ".join("?" for _ in requisition_ids)
        rows = self.conn.execute(
            f"SELECT DISTINCT requisition_id FROM coding_tasks WHERE requisition_id IN ({marks})",
            requisition_ids,
        )
        return {int(row[0]) for row in rows}

    def in_region(self, region: str) -> bool:
        """Whether any job of `region` has a coding task."""
        row = self.conn.execute(
            "SELECT 1 FROM coding_tasks t JOIN requisitions r ON r.id = t.requisition_id"
            " WHERE r.region = ? LIMIT 1",
            (region,),
        ).fetchone()
        return row is not None


def _draft(row: Row, key: FieldKey | None) -> CodeDraft:
    code = open_text(key, row["code"], table="coding_drafts", column="code", row=row["id"])
    return CodeDraft(
        row["id"],
        row["interview_id"],
        row["task_id"],
        row["language"],
        code or "",
        row["size_bytes"],
        row["saved_at"],
    )


def _submission(row: Row, key: FieldKey | None) -> CodeSubmission:
    code = open_text(key, row["code"], table="coding_submissions", column="code", row=row["id"])
    result = None
    if row["result"] is not None:
        opened = open_json(
            key, row["result"], table="coding_submissions", column="result", row=row["id"]
        )
        result = opened if isinstance(opened, dict) else None
    return CodeSubmission(
        row["id"],
        row["interview_id"],
        row["task_id"],
        row["language"],
        code or "",
        row["state"],
        result,
        row["job_id"],
        row["submitted_by"],
        row["submitted_at"],
        row["judged_at"],
    )


class CodingWorkRepository(SealedRepository):
    """Drafts and submissions of candidates; code and results sealed with their key."""

    def _interview_key(self, interview_id: int) -> bytes:
        row = self.conn.execute(
            "SELECT c.pseudonym FROM interviews i JOIN candidates c ON c.id = i.candidate_id"
            " WHERE i.id = ?",
            (interview_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no interview {interview_id}")
        return self._require_key(row["pseudonym"])

    def add_draft(self, interview_id: int, task_id: int, language: str, code: str) -> CodeDraft:
        """Store one autosave of the candidate's code."""
        key = self._interview_key(interview_id)
        size = len(code.encode("utf-8"))
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO coding_drafts (interview_id, task_id, language, code, size_bytes,"
                " saved_at) VALUES (?, ?, ?, ?, ?, ?)",
                (interview_id, task_id, language, PENDING, size, now_stamp()),
            )
            draft_id = int(cursor.lastrowid)
            self._seal_row("coding_drafts", draft_id, key, {"code": code})
        return self.draft(draft_id)

    def draft(self, draft_id: int) -> CodeDraft:
        """One draft."""
        rows = self.conn.execute(f"{_DRAFTS} WHERE t.id = ?", (draft_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no draft {draft_id}")
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return _draft(rows[0], keys.get(rows[0]["sealed_owner"]))

    def drafts(self, interview_id: int, task_ids: list[int] | None = None) -> list[CodeDraft]:
        """An interview's drafts, oldest first (only those of `task_ids` when given)."""
        sql, params = f"{_DRAFTS} WHERE t.interview_id = ?", [interview_id]
        if task_ids is not None:
            sql += f" AND t.task_id IN ({', '.join('?' for _ in task_ids) or 'NULL'})"
            params.extend(task_ids)
        rows = self.conn.execute(f"{sql} ORDER BY t.id", params).fetchall()
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_draft(row, keys.get(row["sealed_owner"])) for row in rows]

    def last_draft(self, interview_id: int, task_id: int) -> CodeDraft | None:
        """The newest draft of an interview for one task version, if any."""
        rows = self.conn.execute(
            f"{_DRAFTS} WHERE t.interview_id = ? AND t.task_id = ? ORDER BY t.id DESC LIMIT 1",
            (interview_id, task_id),
        ).fetchall()
        if not rows:
            return None
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return _draft(rows[0], keys.get(rows[0]["sealed_owner"]))

    def draft_count(self, interview_id: int, task_ids: list[int]) -> int:
        """How many drafts an interview holds for these task versions."""
        marks = ", ".join("?" for _ in task_ids) or "NULL"
        row = self.conn.execute(
            f"SELECT count(*) FROM coding_drafts WHERE interview_id = ? AND task_id IN ({marks})",
            (interview_id, *task_ids),
        ).fetchone()
        return int(row[0])

    def add_submission(
        self, interview_id: int, task_id: int, language: str, code: str, submitted_by: str
    ) -> CodeSubmission:
        """Store submitted code, queued for judging."""
        key = self._interview_key(interview_id)
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO coding_submissions (interview_id, task_id, language, code,"
                " submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                (interview_id, task_id, language, PENDING, submitted_by, now_stamp()),
            )
            submission_id = int(cursor.lastrowid)
            self._seal_row("coding_submissions", submission_id, key, {"code": code})
        return self.submission(submission_id)

    def set_job(self, submission_id: int, job_id: int) -> None:
        """Note the worker job that judges a submission."""
        self.conn.execute(
            "UPDATE coding_submissions SET job_id = ? WHERE id = ?", (job_id, submission_id)
        )

    def record_result(self, submission_id: int, state: str, result: dict[str, Any]) -> None:
        """Store a submission's result, sealed (NotFoundError once the candidate is erased)."""
        if state not in SUBMISSION_STATES:
            raise ValueError(f"unknown submission state {state!r}")
        row = self.conn.execute(
            f"SELECT t.id, c.pseudonym AS sealed_owner FROM {OWNER_OF['coding_submissions']}"
            " WHERE t.id = ?",
            (submission_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no submission {submission_id}")
        key = self._require_key(row["sealed_owner"])
        with savepoint(self.conn):
            self.conn.execute(
                "UPDATE coding_submissions SET state = ?, judged_at = ? WHERE id = ?",
                (state, now_stamp(), submission_id),
            )
            self._seal_row(
                "coding_submissions",
                submission_id,
                key,
                {"result": result},
                json_columns={"result"},
            )

    def submission(self, submission_id: int) -> CodeSubmission:
        """One submission."""
        rows = self.conn.execute(f"{_SUBMISSIONS} WHERE t.id = ?", (submission_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no submission {submission_id}")
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return _submission(rows[0], keys.get(rows[0]["sealed_owner"]))

    def submissions(self, interview_id: int) -> list[CodeSubmission]:
        """An interview's submissions, oldest first."""
        rows = self.conn.execute(
            f"{_SUBMISSIONS} WHERE t.interview_id = ? ORDER BY t.id", (interview_id,)
        ).fetchall()
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_submission(row, keys.get(row["sealed_owner"])) for row in rows]

    def submission_count(self, interview_id: int, task_ids: list[int]) -> int:
        """How many submissions an interview made for these task versions."""
        marks = ", ".join("?" for _ in task_ids) or "NULL"
        row = self.conn.execute(
            f"SELECT count(*) FROM coding_submissions WHERE interview_id = ?"
            f" AND task_id IN ({marks})",
            (interview_id, *task_ids),
        ).fetchone()
        return int(row[0])

    def judging_count(self, interview_id: int, *, since: str = "") -> int:
        """How many of an interview's submissions (made at `since` or later) wait for judging."""
        row = self.conn.execute(
            "SELECT count(*) FROM coding_submissions WHERE interview_id = ? AND state = 'queued'"
            " AND submitted_at >= ?",
            (interview_id, since),
        ).fetchone()
        return int(row[0])

    def _draft_owner(self, draft_id: int) -> str:
        row = self.conn.execute(
            f"SELECT c.pseudonym FROM {OWNER_OF['coding_drafts']} WHERE t.id = ?", (draft_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no draft {draft_id}")
        return str(row["pseudonym"])

    def seal_trial(self, draft_id: int, result: dict[str, Any]) -> str:
        """A trial run's result sealed with the candidate's key, bound to the draft it ran."""
        key = self._require_key(self._draft_owner(draft_id))
        return seal(key, dumps(result), table=TRIAL_TABLE, column=TRIAL_COLUMN, row=draft_id)

    def open_trial(self, draft_id: int, sealed: str) -> dict[str, Any] | None:
        """A sealed trial result (None once the candidate is erased or it does not open)."""
        try:
            key = self._key(self._draft_owner(draft_id))
            if key is None:
                return None
            opened = loads(
                open_sealed(key, sealed, table=TRIAL_TABLE, column=TRIAL_COLUMN, row=draft_id)
            )
        except (NotFoundError, SealedFieldError):
            return None
        return opened if isinstance(opened, dict) else None
