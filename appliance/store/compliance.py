"""Compliance records: notices, consents and waivers, notice deliveries, holidays, region
analysis settings, demographics for bias audits and published bias audits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository, dumps, loads
from appliance.store.db import Row
from appliance.store.fieldcrypt import ERASED, open_text, seal_text
from appliance.store.sealed import PENDING, SealedRepository, savepoint

if TYPE_CHECKING:
    from appliance.store import Store

NOTICE_FIELDS = (
    "title",
    "controller",
    "purposes",
    "retention",
    "rights",
    "automated_evaluation",
    "body",
)


@dataclass(frozen=True)
class Notice:
    """One version of a region's notice in one language."""

    id: int
    region: str
    language: str
    version: int
    title: str
    controller: str
    purposes: str
    retention: str
    rights: str
    automated_evaluation: str
    body: str
    created_at: str
    updated_at: str
    published_at: str | None
    published_by: int | None

    @property
    def published(self) -> bool:
        """Whether this version was published (and can no longer change)."""
        return self.published_at is not None

    def fields(self) -> dict[str, str]:
        """The editable text fields by name."""
        return {name: str(getattr(self, name)) for name in NOTICE_FIELDS}


@dataclass(frozen=True)
class Consent:
    """A consent, a waiver or a refusal, with the exact text the candidate saw."""

    id: int
    candidate_id: int
    interview_id: int
    kind: str
    notice_version_id: int | None
    text_shown: str
    language: str
    given_at: str
    recorded_at: str
    recorded_by: int | None
    channel: str
    withdrawn_at: str | None
    signed_name: str | None
    interview_date: str | None
    read_confirmed: bool | None

    @property
    def active(self) -> bool:
        """Not withdrawn."""
        return self.withdrawn_at is None


@dataclass(frozen=True)
class NoticeDelivery:
    """A published notice sent for an interview (NY-1 counts business days from `sent_at`)."""

    id: int
    interview_id: int
    notice_version_id: int
    sent_at: str
    channel: str
    recorded_by: int | None
    recorded_at: str


@dataclass(frozen=True)
class Holiday:
    """A public holiday of a region (`day` is YYYY-MM-DD)."""

    region: str
    day: str
    name: str


@dataclass(frozen=True)
class RegionAnalysis:
    """Which optional analyses a region runs."""

    region: str
    visual_cues_enabled: bool
    affect_enabled: bool
    updated_by: int | None
    updated_at: str | None


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


def _notice(row: Row) -> Notice:
    return Notice(
        row["id"],
        row["region"],
        row["language"],
        row["version"],
        row["title"],
        row["controller"],
        row["purposes"],
        row["retention"],
        row["rights"],
        row["automated_evaluation"],
        row["body"],
        row["created_at"],
        row["updated_at"],
        row["published_at"],
        row["published_by"],
    )


def _consent(row: Row, key: bytes | None) -> Consent:
    read = row["read_confirmed"]
    return Consent(
        row["id"],
        row["candidate_id"],
        row["interview_id"],
        row["kind"],
        row["notice_version_id"],
        row["text_shown"],
        row["language"],
        row["given_at"],
        row["recorded_at"],
        row["recorded_by"],
        row["channel"],
        row["withdrawn_at"],
        open_text(key, row["signed_name"], table="consents", column="signed_name", row=row["id"]),
        row["interview_date"],
        None if read is None else bool(read),
    )


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class NoticeRepository(Repository):
    """Notice versions; a published one never changes (a trigger makes that a rule)."""

    def create(
        self, region: str, language: str, fields: dict[str, str], created_by: int | None
    ) -> Notice:
        """Save `fields` as the next version (a draft) of the region's notice in `language`."""
        row = self.conn.execute(
            "SELECT coalesce(max(version), 0) FROM notice_versions WHERE region = ? AND"
            " language = ?",
            (region, language),
        ).fetchone()
        now = now_stamp()
        values = [fields.get(name, "") for name in NOTICE_FIELDS]
        cursor = self.conn.execute(
            f"INSERT INTO notice_versions (region, language, version, {', '.join(NOTICE_FIELDS)},"
            " created_by, created_at, updated_at)"
            f" VALUES (?, ?, ?, {_marks(list(NOTICE_FIELDS))}, ?, ?, ?)",
            (region, language, int(row[0]) + 1, *values, created_by, now, now),
        )
        return self.get(int(cursor.lastrowid))

    def update_draft(self, notice_id: int, fields: dict[str, str]) -> Notice:
        """Change a draft's text (a published version is refused by the database)."""
        assignments = ", ".join(f"{name} = ?" for name in NOTICE_FIELDS)
        self.conn.execute(
            f"UPDATE notice_versions SET {assignments}, updated_at = ? WHERE id = ?",
            (*[fields.get(name, "") for name in NOTICE_FIELDS], now_stamp(), notice_id),
        )
        return self.get(notice_id)

    def publish(self, notice_id: int, published_by: int) -> Notice:
        """Mark a draft published."""
        self.conn.execute(
            "UPDATE notice_versions SET published_at = ?, published_by = ? WHERE id = ?"
            " AND published_at IS NULL",
            (now_stamp(), published_by, notice_id),
        )
        return self.get(notice_id)

    def get(self, notice_id: int) -> Notice:
        """One version by id."""
        row = self.conn.execute(
            "SELECT * FROM notice_versions WHERE id = ?", (notice_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no notice {notice_id}")
        return _notice(row)

    def all(self, regions: list[str] | None = None) -> list[Notice]:
        """Every version, optionally in some regions, newest version first per notice."""
        sql = "SELECT * FROM notice_versions"
        params: list[Any] = []
        if regions is not None:
            sql += f" WHERE region IN ({_marks(regions)})"
            params.extend(regions)
        rows = self.conn.execute(
            sql + " ORDER BY region, language, version DESC", params
        ).fetchall()
        return [_notice(row) for row in rows]

    def latest_published(self, region: str, language: str) -> Notice | None:
        """The newest published version of a region's notice in `language`."""
        row = self.conn.execute(
            "SELECT * FROM notice_versions WHERE region = ? AND language = ?"
            " AND published_at IS NOT NULL ORDER BY version DESC LIMIT 1",
            (region, language),
        ).fetchone()
        return _notice(row) if row else None

    def published_for(self, region: str) -> list[Notice]:
        """The newest published version per language of a region's notice."""
        rows = self.conn.execute(
            "SELECT * FROM notice_versions n WHERE region = ? AND published_at IS NOT NULL"
            " AND version = (SELECT max(version) FROM notice_versions m WHERE m.region ="
            " n.region AND m.language = n.language AND m.published_at IS NOT NULL)"
            " ORDER BY language",
            (region,),
        ).fetchall()
        return [_notice(row) for row in rows]


_CONSENT_SELECT = (
    "SELECT t.*, c.pseudonym AS sealed_owner FROM consents t JOIN candidates c"
    " ON c.id = t.candidate_id"
)


class ConsentRepository(SealedRepository):
    """Consents, waivers and refusals; the name signed on a waiver is sealed (candidate key)."""

    def add(
        self,
        *,
        candidate_id: int,
        interview_id: int,
        kind: str,
        notice_version_id: int | None,
        text_shown: str,
        language: str,
        given_at: str,
        recorded_by: int | None,
        channel: str,
        signed_name: str | None = None,
        interview_date: str | None = None,
        read_confirmed: bool | None = None,
    ) -> Consent:
        """Record one consent (or waiver, or refusal)."""
        key = self._candidate_key(candidate_id)
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO consents (candidate_id, interview_id, kind, notice_version_id,"
                " text_shown, language, given_at, recorded_at, recorded_by, channel, signed_name,"
                " interview_date, read_confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    candidate_id,
                    interview_id,
                    kind,
                    notice_version_id,
                    text_shown,
                    language,
                    given_at,
                    now_stamp(),
                    recorded_by,
                    channel,
                    None if signed_name is None else PENDING,
                    interview_date,
                    None if read_confirmed is None else int(read_confirmed),
                ),
            )
            consent_id = int(cursor.lastrowid)
            if signed_name is not None:
                # Sealed values are bound to the row's id: known only after the INSERT, which
                # carries a placeholder (the waiver's CHECK wants a name) replaced here.
                self.conn.execute(
                    "UPDATE consents SET signed_name = ? WHERE id = ?",
                    (
                        seal_text(
                            key,
                            signed_name,
                            table="consents",
                            column="signed_name",
                            row=consent_id,
                        ),
                        consent_id,
                    ),
                )
        return self.get(consent_id)

    def get(self, consent_id: int) -> Consent:
        """One record by id."""
        row = self.conn.execute(_CONSENT_SELECT + " WHERE t.id = ?", (consent_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no consent {consent_id}")
        return _consent(row, self._key(row["sealed_owner"]))

    def withdraw(self, consent_id: int) -> Consent:
        """Mark a record withdrawn (once)."""
        self.conn.execute(
            "UPDATE consents SET withdrawn_at = ? WHERE id = ? AND withdrawn_at IS NULL",
            (now_stamp(), consent_id),
        )
        return self.get(consent_id)

    def for_interview(self, interview_id: int) -> list[Consent]:
        """An interview's records, oldest first."""
        rows = self.conn.execute(
            _CONSENT_SELECT + " WHERE t.interview_id = ? ORDER BY t.given_at, t.id",
            (interview_id,),
        ).fetchall()
        keys = self._keys(row["sealed_owner"] for row in rows)
        return [_consent(row, keys.get(row["sealed_owner"])) for row in rows]


class NoticeDeliveryRepository(Repository):
    """When notices were sent for interviews."""

    def add(
        self,
        interview_id: int,
        notice_version_id: int,
        sent_at: str,
        channel: str,
        recorded_by: int | None,
    ) -> NoticeDelivery:
        """Record that a notice was sent."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO notice_deliveries (interview_id, notice_version_id, sent_at, channel,"
            " recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, notice_version_id, sent_at, channel, recorded_by, now),
        )
        return NoticeDelivery(
            int(cursor.lastrowid),
            interview_id,
            notice_version_id,
            sent_at,
            channel,
            recorded_by,
            now,
        )

    def for_interview(self, interview_id: int) -> list[NoticeDelivery]:
        """An interview's deliveries, earliest sent first."""
        rows = self.conn.execute(
            "SELECT * FROM notice_deliveries WHERE interview_id = ? ORDER BY sent_at, id",
            (interview_id,),
        ).fetchall()
        return [
            NoticeDelivery(
                r["id"],
                r["interview_id"],
                r["notice_version_id"],
                r["sent_at"],
                r["channel"],
                r["recorded_by"],
                r["recorded_at"],
            )
            for r in rows
        ]


class HolidayRepository(Repository):
    """The holiday calendar per region."""

    def put(self, region: str, day: str, name: str, created_by: int | None) -> Holiday:
        """Add a holiday, or rename the one on that day."""
        self.conn.execute(
            "INSERT INTO holidays (region, day, name, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (region, day) DO UPDATE SET name = excluded.name",
            (region, day, name, created_by, now_stamp()),
        )
        return Holiday(region, day, name)

    def remove(self, region: str, day: str) -> bool:
        """Delete a holiday; whether one was there."""
        cursor = self.conn.execute(
            "DELETE FROM holidays WHERE region = ? AND day = ?", (region, day)
        )
        return bool(cursor.rowcount)

    def for_region(self, region: str) -> list[Holiday]:
        """A region's holidays by date."""
        rows = self.conn.execute(
            "SELECT region, day, name FROM holidays WHERE region = ? ORDER BY day", (region,)
        ).fetchall()
        return [Holiday(r["region"], r["day"], r["name"]) for r in rows]

    def all(self, regions: list[str] | None = None) -> list[Holiday]:
        """Holidays of some (or all) regions, by region and date."""
        sql = "SELECT region, day, name FROM holidays"
        params: list[Any] = []
        if regions is not None:
            sql += f" WHERE region IN ({_marks(regions)})"
            params.extend(regions)
        rows = self.conn.execute(sql + " ORDER BY region, day", params).fetchall()
        return [Holiday(r["region"], r["day"], r["name"]) for r in rows]


class RegionSettingsRepository(Repository):
    """Optional analyses per region (no row: everything off)."""

    def get(self, region: str) -> RegionAnalysis:
        """A region's settings (defaults when never set)."""
        row = self.conn.execute(
            "SELECT * FROM region_analysis_settings WHERE region = ?", (region,)
        ).fetchone()
        if row is None:
            return RegionAnalysis(region, False, False, None, None)
        return RegionAnalysis(
            row["region"],
            bool(row["visual_cues_enabled"]),
            bool(row["affect_enabled"]),
            row["updated_by"],
            row["updated_at"],
        )

    def put(
        self, region: str, visual_cues: bool, affect: bool, updated_by: int | None
    ) -> RegionAnalysis:
        """Store a region's settings."""
        self.conn.execute(
            "INSERT INTO region_analysis_settings (region, visual_cues_enabled, affect_enabled,"
            " updated_by, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (region) DO UPDATE SET"
            " visual_cues_enabled = excluded.visual_cues_enabled,"
            " affect_enabled = excluded.affect_enabled, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (region, int(visual_cues), int(affect), updated_by, now_stamp()),
        )
        return self.get(region)


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


class InterviewTimesRepository(Repository):
    """What tells when an interview started."""

    def start_times(self, interview_id: int) -> list[str]:
        """Its scheduled time, its first upload and its first recording (those that exist)."""
        rows = self.conn.execute(
            "SELECT scheduled_at AS t FROM interviews WHERE id = ?"
            " UNION ALL SELECT min(created_at) FROM upload_sessions WHERE interview_id = ?"
            " UNION ALL SELECT min(created_at) FROM recordings WHERE interview_id = ?",
            (interview_id, interview_id, interview_id),
        ).fetchall()
        return [str(row[0]) for row in rows if row[0] is not None]


class Compliance:
    """The compliance repositories together (`store.compliance` once wired into Store)."""

    def __init__(self, store: Store) -> None:
        self.notices = NoticeRepository(store)
        self.consents = ConsentRepository(store)
        self.deliveries = NoticeDeliveryRepository(store)
        self.holidays = HolidayRepository(store)
        self.region_settings = RegionSettingsRepository(store)
        self.demographics = DemographicsRepository(store)
        self.bias_audits = BiasAuditRepository(store)
        self.interview_times = InterviewTimesRepository(store)


def compliance_of(store: Store) -> Compliance:
    """The store's compliance repositories (built on the fly until Store has the attribute)."""
    found = getattr(store, "compliance", None)
    return found if isinstance(found, Compliance) else Compliance(store)
