"""Analysis reports (drafts written by the worker, reviewed by people).

A report's content (transcripts, evidence quotes, scores) is sealed with the candidate's key;
creating one also writes its pseudonymous entry of the AI decision log (scores only, no text).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.db import Row
from appliance.store.decision_log import DecisionLogRepository, ai_scores
from appliance.store.fieldcrypt import FieldKey, json_sealing, open_json
from appliance.store.sealed import OWNER_OF, PENDING_JSON, SealedRepository, savepoint

_SELECT = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['reports']}"


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
    # Which sealing of the content this is (`fieldcrypt.json_sealing`: resealed content is a
    # new one), for keeping what is worked out from the content (`report_document`'s delivery
    # figures). None where the content was not opened with the candidate's key (erased, or a
    # row from before field encryption): never kept.
    content_version: str | None = field(default=None, compare=False, repr=False)


def _report(row: Row, key: FieldKey | None) -> Report:
    text = row["content"]
    return Report(
        row["id"],
        row["interview_id"],
        row["recording_id"],
        row["job_id"],
        row["model_version"],
        row["status"],
        open_json(key, text, table="reports", column="content", row=row["id"]),
        row["created_at"],
        json_sealing(text) if key is not None else None,
    )


class ReportRepository(SealedRepository):
    """Reports; one per successful analysis job (the UNIQUE job_id makes that a rule)."""

    def _opened(self, rows: list[Row]) -> list[Report]:
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_report(row, keys.get(row["sealed_owner"])) for row in rows]

    def create(
        self,
        interview_id: int,
        job_id: int,
        content: dict[str, Any],
        *,
        recording_id: int | None = None,
        model_version: str | None = None,
    ) -> Report:
        """Store a drafted report (and its AI decision log entry)."""
        owner = self.conn.execute(
            "SELECT c.pseudonym, c.residence_region, r.region FROM interviews i"
            " JOIN candidates c ON c.id = i.candidate_id"
            " JOIN requisitions r ON r.id = i.requisition_id WHERE i.id = ?",
            (interview_id,),
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no interview {interview_id}")
        key = self._require_key(owner["pseudonym"])
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO reports (interview_id, recording_id, job_id, model_version, content,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (interview_id, recording_id, job_id, model_version, PENDING_JSON, now_stamp()),
            )
            report_id = int(cursor.lastrowid)
            self._seal_content(report_id, key, content)
            DecisionLogRepository(self._store).record(
                owner["pseudonym"],
                interview_id=interview_id,
                report_id=report_id,
                job_id=job_id,
                model_version=model_version,
                scores=ai_scores(content),
                regions=sorted({owner["region"], owner["residence_region"]}),
            )
        return self.get(report_id)

    def get(self, report_id: int) -> Report:
        """One report by id."""
        rows = self.conn.execute(f"{_SELECT} WHERE t.id = ?", (report_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no report {report_id}")
        return self._opened(rows)[0]

    def get_visible(self, report_id: int, visibility: Visibility) -> Report:
        """One report whose interview the visibility reaches, else NotFoundError."""
        clause, params = visibility.interview_clause("i", "r")
        rows = self.conn.execute(
            f"{_SELECT} JOIN requisitions r ON r.id = i.requisition_id WHERE t.id = ? AND {clause}",
            (report_id, *params),
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no report {report_id}")
        return self._opened(rows)[0]

    def for_interview(self, interview_id: int) -> list[Report]:
        """An interview's reports, oldest first."""
        rows = self.conn.execute(
            f"{_SELECT} WHERE t.interview_id = ? ORDER BY t.id", (interview_id,)
        ).fetchall()
        return self._opened(rows)

    def stamps_for_interviews(self, interview_ids: Collection[int]) -> dict[int, tuple[int, str]]:
        """(how many reports, when the newest was drafted) of each of these interviews that has
        any, in one query per 500 ids and without opening a report's sealed content (the
        dashboard asks this of every analysed interview it shows).

        Counted here rather than by GROUP BY: SQLite's temporary b-tree for it costs several
        times the query under SQLCipher's memory security (each of its pages locked and wiped).
        """
        ids = sorted(set(interview_ids))
        found: dict[int, tuple[int, str]] = {}
        for start in range(0, len(ids), 500):  # well below SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                "SELECT interview_id, created_at FROM reports"
                f" WHERE interview_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for row in rows:
                interview_id, created_at = int(row["interview_id"]), str(row["created_at"])
                reports, newest = found.get(interview_id, (0, created_at))
                found[interview_id] = (reports + 1, max(newest, created_at))
        return found

    def replace_content(self, report_id: int, content: dict[str, Any]) -> None:
        """Seal new content into a report (retention removing the transcript, say)."""
        report = self.conn.execute(
            f"SELECT c.pseudonym FROM {OWNER_OF['reports']} WHERE t.id = ?", (report_id,)
        ).fetchone()
        if report is None:
            raise NotFoundError(f"no report {report_id}")
        self._seal_content(report_id, self._require_key(report["pseudonym"]), content)

    def _seal_content(self, report_id: int, key: FieldKey, content: dict[str, Any]) -> None:
        self._seal_row("reports", report_id, key, {"content": content}, json_columns={"content"})
