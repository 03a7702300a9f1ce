"""The queries retention runs on: items older than a cut-off, and removing them
(appliance/privacy/retention.py holds the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.store.base import Repository, dumps
from appliance.store.fieldcrypt import ERASED_CONTENT


@dataclass(frozen=True)
class AgedItem:
    """A recording, report or evaluation created before a cut-off, with its candidate."""

    id: int
    candidate_id: int
    pseudonym: str
    created_at: str
    regions: list[str]
    spool_name: str | None = None


class RetentionRepository(Repository):
    """The queries behind retention: items older than a cut-off, and removing them."""

    def _aged(self, sql: str, *params: Any) -> list[AgedItem]:
        rows = self.conn.execute(sql, params).fetchall()
        return [
            AgedItem(
                row["id"],
                row["candidate_id"],
                row["pseudonym"],
                row["created_at"],
                sorted({row["region"], row["residence_region"]}),
                row["spool_name"],
            )
            for row in rows
        ]

    def recordings_before(self, before: str) -> list[AgedItem]:
        """Recordings older than `before` (their job's region and the residence apply)."""
        return self._aged(
            "SELECT rec.id, rec.candidate_id, rec.created_at, rec.spool_name, c.pseudonym,"
            " c.residence_region, r.region FROM recordings rec"
            " JOIN interviews i ON i.id = rec.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = rec.candidate_id"
            " WHERE rec.created_at < ? ORDER BY rec.id",
            before,
        )

    def reports_before(self, before: str) -> list[AgedItem]:
        """Reports older than `before`, erased candidates' stubs left out."""
        return self._aged(
            "SELECT rep.id, i.candidate_id, rep.created_at, NULL AS spool_name, c.pseudonym,"
            " c.residence_region, r.region FROM reports rep"
            " JOIN interviews i ON i.id = rep.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            " WHERE rep.created_at < ? AND rep.content <> ? ORDER BY rep.id",
            before,
            dumps(ERASED_CONTENT),
        )

    def evaluations_before(self, before: str) -> list[AgedItem]:
        """Evaluations older than `before`."""
        return self._aged(
            "SELECT ev.id, i.candidate_id, ev.created_at, NULL AS spool_name, c.pseudonym,"
            " c.residence_region, r.region FROM evaluations ev"
            " JOIN interviews i ON i.id = ev.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            " WHERE ev.created_at < ? ORDER BY ev.id",
            before,
        )

    def coding_work_before(self, before: str) -> list[tuple[str, AgedItem]]:
        """Coding submissions and drafts older than `before`, each as ("submission" or
        "draft", the item)."""
        found: list[tuple[str, AgedItem]] = []
        for kind, table, stamp in (
            ("submission", "coding_submissions", "submitted_at"),
            ("draft", "coding_drafts", "saved_at"),
        ):
            items = self._aged(
                f"SELECT w.id, i.candidate_id, w.{stamp} AS created_at, NULL AS spool_name,"
                f" c.pseudonym, c.residence_region, r.region FROM {table} w"
                " JOIN interviews i ON i.id = w.interview_id"
                " JOIN requisitions r ON r.id = i.requisition_id"
                " JOIN candidates c ON c.id = i.candidate_id"
                f" WHERE w.{stamp} < ? ORDER BY w.id",
                before,
            )
            found.extend((kind, item) for item in items)
        return found

    def delete_coding_work(self, kind: str, item_id: int) -> None:
        """Remove one coding submission or draft (`kind` as `coding_work_before` names it)."""
        table = {"submission": "coding_submissions", "draft": "coding_drafts"}[kind]
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (item_id,))

    def idle_candidates(self, before: str) -> list[AgedItem]:
        """Candidates not erased whose last activity (record, interview, decision) is older."""
        rows = self.conn.execute(
            "SELECT * FROM (SELECT c.id, c.pseudonym, c.residence_region, max(c.updated_at,"
            " coalesce((SELECT max(updated_at) FROM interviews WHERE candidate_id = c.id), ''),"
            " coalesce((SELECT max(decided_at) FROM decisions WHERE candidate_id = c.id), ''))"
            " AS last_activity FROM candidates c"
            " WHERE NOT EXISTS (SELECT 1 FROM erasures e WHERE e.candidate_id = c.id))"
            " WHERE last_activity < ? ORDER BY id",
            (before,),
        ).fetchall()
        found = []
        for row in rows:
            regions = {row["residence_region"]} | {
                str(r[0])
                for r in self.conn.execute(
                    "SELECT DISTINCT r.region FROM interviews i JOIN requisitions r"
                    " ON r.id = i.requisition_id WHERE i.candidate_id = ?",
                    (row["id"],),
                )
            }
            found.append(
                AgedItem(
                    row["id"], row["id"], row["pseudonym"], row["last_activity"], sorted(regions)
                )
            )
        return found

    def delete_recording(self, recording_id: int) -> None:
        """Remove a recording's row (its spool file goes separately); reports keep no link."""
        self.conn.execute(
            "UPDATE reports SET recording_id = NULL WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute("DELETE FROM upload_sessions WHERE recording_id = ?", (recording_id,))
        self.conn.execute("DELETE FROM interview_answers WHERE recording_id = ?", (recording_id,))
        self.conn.execute(
            "UPDATE room_takes SET recording_id = NULL WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute(
            "UPDATE live_sessions SET recording_id = NULL WHERE recording_id = ?", (recording_id,)
        )
        self.conn.execute("DELETE FROM segment_corrections WHERE recording_id = ?", (recording_id,))
        self.conn.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))

    def delete_report(self, report_id: int) -> None:
        """Remove a report and its overrides (its AI decision log entry stays); the overrides
        of its interview's scores go with the interview's last report."""
        row = self.conn.execute(
            "SELECT interview_id FROM reports WHERE id = ?", (report_id,)
        ).fetchone()
        self.conn.execute("DELETE FROM score_overrides WHERE report_id = ?", (report_id,))
        self.conn.execute("DELETE FROM reports WHERE id = ?", (report_id,))
        if row is not None:
            self.conn.execute(
                "DELETE FROM interview_overrides WHERE interview_id = ?"
                " AND NOT EXISTS (SELECT 1 FROM reports WHERE interview_id = ?)",
                (row["interview_id"], row["interview_id"]),
            )

    def delete_evaluation(self, evaluation_id: int) -> None:
        """Remove an evaluation."""
        self.conn.execute("DELETE FROM evaluations WHERE id = ?", (evaluation_id,))
