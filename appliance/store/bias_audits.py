"""Bias-audit records: declared demographics (sealed) and published bias-audit summaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository, dumps, loads
from appliance.store.fieldcrypt import ERASED, open_text, seal_text
from appliance.store.sealed import SealedRepository


@dataclass(frozen=True)
class AssessedPerson:
    """One individual assessed by the AI in a period, with the outcome of their selection."""

    candidate_id: int
    sex: str | None
    race_ethnicity: str | None
    report_ids: tuple[int, ...]
    selected: bool
    hired: bool


@dataclass(frozen=True)
class PublishedAudit:
    """A published bias-audit summary."""

    id: int
    region: str
    audit_date: str
    data_source: str
    summary: dict[str, Any]
    published_by: int
    published_at: str


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def _category(key: bytes | None, value: str | None, column: str, candidate_id: int) -> str | None:
    text = open_text(key, value, table="candidate_demographics", column=column, row=candidate_id)
    return None if text == ERASED else text  # an erased candidate's category is unknown


class DemographicsRepository(SealedRepository):
    """Self-declared sex and race/ethnicity, sealed with the candidate's key and read only in
    aggregate by bias audits."""

    def put(self, candidate_id: int, sex: str | None, race_ethnicity: str | None) -> None:
        """Set a candidate's declared categories (None: unknown)."""
        key = self._candidate_key(candidate_id)
        sealed = {
            column: seal_text(
                key, value, table="candidate_demographics", column=column, row=candidate_id
            )
            for column, value in (("sex", sex), ("race_ethnicity", race_ethnicity))
        }
        self.conn.execute(
            "INSERT INTO candidate_demographics (candidate_id, sex, race_ethnicity, recorded_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (candidate_id) DO UPDATE SET sex = excluded.sex,"
            " race_ethnicity = excluded.race_ethnicity, recorded_at = excluded.recorded_at",
            (candidate_id, sealed["sex"], sealed["race_ethnicity"], now_stamp()),
        )

    def get(self, candidate_id: int) -> tuple[str | None, str | None]:
        """A candidate's (sex, race/ethnicity); None is unknown."""
        row = self.conn.execute(
            "SELECT d.*, c.pseudonym AS sealed_owner FROM candidate_demographics d"
            " JOIN candidates c ON c.id = d.candidate_id WHERE d.candidate_id = ?",
            (candidate_id,),
        ).fetchone()
        if row is None:
            return None, None
        key = self._key(row["sealed_owner"])
        return (
            _category(key, row["sex"], "sex", candidate_id),
            _category(key, row["race_ethnicity"], "race_ethnicity", candidate_id),
        )

    def assessed(
        self, regions: list[str], start: str | None = None, end: str | None = None
    ) -> list[AssessedPerson]:
        """Individuals with an AI report for a job in `regions` (report time in [start, end)).

        Selected: a person advanced or hired them for a job of that region; hired: hired.
        """
        where = f"r.region IN ({_marks(regions)})"
        params: list[Any] = list(regions)
        if start is not None:
            where += " AND rep.created_at >= ?"
            params.append(start)
        if end is not None:
            where += " AND rep.created_at < ?"
            params.append(end)
        rows = self.conn.execute(
            "SELECT i.candidate_id AS candidate_id, group_concat(rep.id) AS report_ids,"
            " c.pseudonym AS sealed_owner, d.sex AS sex, d.race_ethnicity AS race_ethnicity,"
            " EXISTS (SELECT 1 FROM decisions x JOIN requisitions xr ON xr.id = x.requisition_id"
            "  WHERE x.candidate_id = i.candidate_id AND x.kind IN ('advance', 'hire')"
            f"  AND xr.region IN ({_marks(regions)})) AS selected,"
            " EXISTS (SELECT 1 FROM decisions x JOIN requisitions xr ON xr.id = x.requisition_id"
            "  WHERE x.candidate_id = i.candidate_id AND x.kind = 'hire'"
            f"  AND xr.region IN ({_marks(regions)})) AS hired"
            " FROM reports rep JOIN interviews i ON i.id = rep.interview_id"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            " LEFT JOIN candidate_demographics d ON d.candidate_id = i.candidate_id"
            f" WHERE {where} GROUP BY i.candidate_id ORDER BY i.candidate_id",
            (*regions, *regions, *params),
        ).fetchall()
        keys = self._keys(row["sealed_owner"] for row in rows)
        found = []
        for row in rows:
            key, candidate_id = keys.get(row["sealed_owner"]), int(row["candidate_id"])
            found.append(
                AssessedPerson(
                    candidate_id,
                    _category(key, row["sex"], "sex", candidate_id),
                    _category(key, row["race_ethnicity"], "race_ethnicity", candidate_id),
                    tuple(sorted(int(x) for x in str(row["report_ids"]).split(","))),
                    bool(row["selected"]),
                    bool(row["hired"]),
                )
            )
        return found


class BiasAuditRepository(Repository):
    """Published bias-audit summaries; append-only."""

    def add(
        self,
        region: str,
        audit_date: str,
        data_source: str,
        summary: dict[str, Any],
        published_by: int,
    ) -> PublishedAudit:
        """Store a published summary."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO bias_audits (region, audit_date, data_source, summary, published_by,"
            " published_at) VALUES (?, ?, ?, ?, ?, ?)",
            (region, audit_date, data_source, dumps(summary), published_by, now),
        )
        return PublishedAudit(
            int(cursor.lastrowid), region, audit_date, data_source, summary, published_by, now
        )

    def published(self, audit_id: int) -> PublishedAudit | None:
        """One published summary by id."""
        row = self.conn.execute("SELECT * FROM bias_audits WHERE id = ?", (audit_id,)).fetchone()
        if row is None:
            return None
        return PublishedAudit(
            row["id"],
            row["region"],
            row["audit_date"],
            row["data_source"],
            loads(row["summary"]),
            row["published_by"],
            row["published_at"],
        )

    def for_region(self, region: str) -> list[PublishedAudit]:
        """A region's published audits, newest audit date first."""
        rows = self.conn.execute(
            "SELECT * FROM bias_audits WHERE region = ? ORDER BY audit_date DESC, id DESC",
            (region,),
        ).fetchall()
        return [
            PublishedAudit(
                r["id"],
                r["region"],
                r["audit_date"],
                r["data_source"],
                loads(r["summary"]),
                r["published_by"],
                r["published_at"],
            )
            for r in rows
        ]
