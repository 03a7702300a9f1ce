"""Compliance records: notices, consents and waivers, notice deliveries and interview start
times, and every compliance repository together (`compliance_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository
from appliance.store.bias_audits import BiasAuditRepository, DemographicsRepository
from appliance.store.db import Row
from appliance.store.fieldcrypt import open_text, seal_text
from appliance.store.region_settings import HolidayRepository, RegionSettingsRepository
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
