"""Resumes (the file and what was read from it) and personalised interview questions.

The file's bytes, its name, the extracted profile and the question texts are sealed with the
candidate's key: nothing of a resume is ever stored in clear, on disk or in the database.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.db import Row
from appliance.store.fieldcrypt import ERASED, FieldKey, open_json, open_text
from appliance.store.sealed import OWNER_OF, PENDING, PENDING_JSON, SealedRepository, savepoint

_RESUMES = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['resumes']}"
_QUESTIONS = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['personal_questions']}"


@dataclass(frozen=True)
class Resume:
    """An uploaded resume with the profile extracted from it (the file is read on demand)."""

    id: int
    candidate_id: int
    display_name: str
    content_type: str
    size_bytes: int
    extracted: dict[str, Any]
    language: str
    uploaded_by: int | None
    created_at: str


@dataclass(frozen=True)
class PersonalQuestion:
    """A question for one candidate's interviews for one requisition."""

    id: int
    candidate_id: int
    requisition_id: int
    resume_id: int | None
    dimension_key: str | None
    language: str
    text: str
    source: str
    position: int
    created_by: int | None
    created_at: str
    updated_at: str


def _resume(row: Row, key: FieldKey | None) -> Resume:
    name = open_text(
        key, row["display_name"], table="resumes", column="display_name", row=row["id"]
    )
    extracted = open_json(key, row["extracted"], table="resumes", column="extracted", row=row["id"])
    return Resume(
        row["id"],
        row["candidate_id"],
        name or "",
        row["content_type"],
        row["size_bytes"],
        extracted if isinstance(extracted, dict) else {},
        row["language"],
        row["uploaded_by"],
        row["created_at"],
    )


def _question(row: Row, key: FieldKey | None) -> PersonalQuestion:
    text = open_text(key, row["text"], table="personal_questions", column="text", row=row["id"])
    return PersonalQuestion(
        row["id"],
        row["candidate_id"],
        row["requisition_id"],
        row["resume_id"],
        row["dimension_key"],
        row["language"],
        text or "",
        row["source"],
        row["position"],
        row["created_by"],
        row["created_at"],
        row["updated_at"],
    )


class ResumeRepository(SealedRepository):
    """Resumes of candidates; rows are added, never changed."""

    def create(
        self,
        candidate_id: int,
        *,
        display_name: str,
        content_type: str,
        data: bytes,
        extracted: dict[str, Any],
        language: str,
        uploaded_by: int | None,
    ) -> Resume:
        """Store a resume file and its extracted profile, both sealed."""
        key = self._candidate_key(candidate_id)
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO resumes (candidate_id, display_name, content_type, size_bytes, file,"
                " extracted, language, uploaded_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    candidate_id,
                    PENDING,
                    content_type,
                    len(data),
                    PENDING,
                    PENDING_JSON,
                    language,
                    uploaded_by,
                    now_stamp(),
                ),
            )
            resume_id = int(cursor.lastrowid)
            self._seal_row(
                "resumes",
                resume_id,
                key,
                {
                    "display_name": display_name,
                    "file": base64.b64encode(data).decode("ascii"),
                    "extracted": extracted,
                },
                json_columns={"extracted"},
            )
        return self.get(resume_id)

    def get(self, resume_id: int) -> Resume:
        """One resume (without its file)."""
        rows = self.conn.execute(f"{_RESUMES} WHERE t.id = ?", (resume_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no resume {resume_id}")
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return _resume(rows[0], keys.get(rows[0]["sealed_owner"]))

    def for_candidate(self, candidate_id: int) -> list[Resume]:
        """A candidate's resumes, newest first."""
        rows = self.conn.execute(
            f"{_RESUMES} WHERE t.candidate_id = ? ORDER BY t.id DESC", (candidate_id,)
        ).fetchall()
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_resume(row, keys.get(row["sealed_owner"])) for row in rows]

    def latest(self, candidate_id: int) -> Resume | None:
        """The candidate's newest resume, if any."""
        found = self.for_candidate(candidate_id)
        return found[0] if found else None

    def file(self, resume_id: int) -> bytes:
        """The uploaded file's bytes; NotFoundError once the candidate is erased."""
        row = self.conn.execute(
            f"SELECT t.id, t.file, c.pseudonym AS sealed_owner FROM {OWNER_OF['resumes']}"
            " WHERE t.id = ?",
            (resume_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no resume {resume_id}")
        key = self._key(row["sealed_owner"])
        text = open_text(key, row["file"], table="resumes", column="file", row=row["id"])
        if text is None or text == ERASED:
            raise NotFoundError(f"resume {resume_id} is erased")
        return base64.b64decode(text)


class PersonalQuestionRepository(SealedRepository):
    """Personalised questions of a candidate's interview plan for one requisition."""

    def add(
        self,
        candidate_id: int,
        requisition_id: int,
        *,
        text: str,
        language: str,
        source: str,
        dimension_key: str | None = None,
        resume_id: int | None = None,
        created_by: int | None = None,
    ) -> PersonalQuestion:
        """Append a question to the plan."""
        key = self._candidate_key(candidate_id)
        now = now_stamp()
        row = self.conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM personal_questions"
            " WHERE candidate_id = ? AND requisition_id = ?",
            (candidate_id, requisition_id),
        ).fetchone()
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO personal_questions (candidate_id, requisition_id, resume_id,"
                " dimension_key, language, text, source, position, created_by, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    candidate_id,
                    requisition_id,
                    resume_id,
                    dimension_key,
                    language,
                    PENDING,
                    source,
                    int(row[0]),
                    created_by,
                    now,
                    now,
                ),
            )
            question_id = int(cursor.lastrowid)
            self._seal_row("personal_questions", question_id, key, {"text": text})
        return self.get(question_id)

    def get(self, question_id: int) -> PersonalQuestion:
        """One question."""
        rows = self.conn.execute(f"{_QUESTIONS} WHERE t.id = ?", (question_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no personal question {question_id}")
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return _question(rows[0], keys.get(rows[0]["sealed_owner"]))

    def for_plan(self, candidate_id: int, requisition_id: int) -> list[PersonalQuestion]:
        """The candidate's questions for a requisition, in plan order."""
        rows = self.conn.execute(
            f"{_QUESTIONS} WHERE t.candidate_id = ? AND t.requisition_id = ?"
            " ORDER BY t.position, t.id",
            (candidate_id, requisition_id),
        ).fetchall()
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_question(row, keys.get(row["sealed_owner"])) for row in rows]

    def for_candidate(self, candidate_id: int) -> list[PersonalQuestion]:
        """All the candidate's questions, by requisition and plan order."""
        rows = self.conn.execute(
            f"{_QUESTIONS} WHERE t.candidate_id = ? ORDER BY t.requisition_id, t.position, t.id",
            (candidate_id,),
        ).fetchall()
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_question(row, keys.get(row["sealed_owner"])) for row in rows]

    def update(self, question_id: int, *, text: str, dimension_key: str | None) -> PersonalQuestion:
        """HR rewrites a question (its text is sealed anew)."""
        current = self.get(question_id)
        key = self._candidate_key(current.candidate_id)
        with savepoint(self.conn):
            self.conn.execute(
                "UPDATE personal_questions SET dimension_key = ?, updated_at = ? WHERE id = ?",
                (dimension_key, now_stamp(), question_id),
            )
            self._seal_row("personal_questions", question_id, key, {"text": text})
        return self.get(question_id)

    def delete(self, question_id: int) -> None:
        """Remove a question from the plan."""
        self.conn.execute("DELETE FROM personal_questions WHERE id = ?", (question_id,))
