"""What slot finding works from: interviewer profiles, busy times and interview types."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.platform.clock import from_stamp, now_stamp, to_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository, dumps, loads
from appliance.store.db import Row


@dataclass(frozen=True)
class Profile:
    """An interviewer's zone, weekly hours, focus blocks and daily cap."""

    user_id: int
    timezone: str
    holiday_region: str
    working_hours: dict[str, list[list[str]]]
    focus_blocks: list[list[Any]]
    max_per_day: int
    caldav_calendar: str | None
    updated_at: str


@dataclass(frozen=True)
class InterviewType:
    """The shape of an interview: length, buffers, panel or pool, role family."""

    id: int
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    mode: str
    attendees: int
    role_family: str
    members: tuple[int, ...]


def _profile(row: Row) -> Profile:
    return Profile(
        row["user_id"],
        row["timezone"],
        row["holiday_region"],
        loads(row["working_hours"]),
        loads(row["focus_blocks"]),
        row["max_per_day"],
        row["caldav_calendar"],
        row["updated_at"],
    )


def _marks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class AvailabilityRepository(Repository):
    """Interviewer profiles, busy times and interview types (the base of `SchedulingRepository`)."""

    # --- interviewer profiles and busy times --------------------------------------------------

    def put_profile(
        self,
        user_id: int,
        *,
        timezone: str,
        holiday_region: str,
        working_hours: dict[str, list[list[str]]],
        focus_blocks: list[list[Any]],
        max_per_day: int,
        caldav_calendar: str | None,
    ) -> Profile:
        """Create or replace a person's availability profile."""
        self.conn.execute(
            "INSERT INTO interviewer_profiles (user_id, timezone, holiday_region, working_hours,"
            " focus_blocks, max_per_day, caldav_calendar, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone,"
            " holiday_region = excluded.holiday_region, working_hours = excluded.working_hours,"
            " focus_blocks = excluded.focus_blocks, max_per_day = excluded.max_per_day,"
            " caldav_calendar = excluded.caldav_calendar, updated_at = excluded.updated_at",
            (
                user_id,
                timezone,
                holiday_region,
                dumps(working_hours),
                dumps(focus_blocks),
                max_per_day,
                caldav_calendar,
                now_stamp(),
            ),
        )
        found = self.profile(user_id)
        assert found is not None
        return found

    def profile(self, user_id: int) -> Profile | None:
        """A person's profile, or None."""
        row = self.conn.execute(
            "SELECT * FROM interviewer_profiles WHERE user_id = ?", (user_id,)
        ).fetchone()
        return _profile(row) if row else None

    def profiles(self, user_ids: Iterable[int] | None = None) -> list[Profile]:
        """Profiles of some (or all) people, by user id."""
        if user_ids is None:
            rows = self.conn.execute("SELECT * FROM interviewer_profiles ORDER BY user_id")
        else:
            ids = list(user_ids)
            rows = self.conn.execute(
                f"SELECT * FROM interviewer_profiles WHERE user_id IN ({_marks(ids)})"
                " ORDER BY user_id",
                ids,
            )
        return [_profile(row) for row in rows]

    def replace_busy(
        self,
        user_id: int,
        source: str,
        intervals: Iterable[tuple[datetime, datetime]],
        *,
        start: datetime,
        end: datetime,
    ) -> int:
        """Replace a person's busy times of one source inside [start, end); how many stored."""
        self.conn.execute(
            "DELETE FROM busy_blocks WHERE user_id = ? AND source = ? AND starts_at < ?"
            " AND ends_at > ?",
            (user_id, source, to_stamp(end), to_stamp(start)),
        )
        count = 0
        now = now_stamp()
        for low, high in intervals:
            self.conn.execute(
                "INSERT INTO busy_blocks (user_id, starts_at, ends_at, source, imported_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (user_id, to_stamp(low), to_stamp(high), source, now),
            )
            count += 1
        return count

    def busy(
        self, user_ids: Iterable[int], start: datetime, end: datetime
    ) -> dict[int, list[tuple[datetime, datetime]]]:
        """Imported busy times and live booking holds overlapping [start, end), per person."""
        ids = list(user_ids)
        found: dict[int, list[tuple[datetime, datetime]]] = {user_id: [] for user_id in ids}
        params = (*ids, to_stamp(end), to_stamp(start))
        for table in ("busy_blocks", "booking_holds"):
            rows = self.conn.execute(
                f"SELECT user_id, starts_at, ends_at FROM {table} WHERE user_id IN"
                f" ({_marks(ids)}) AND starts_at < ? AND ends_at > ? ORDER BY starts_at",
                params,
            )
            for row in rows:
                found[int(row["user_id"])].append(
                    (from_stamp(row["starts_at"]), from_stamp(row["ends_at"]))
                )
        return found

    def busy_count(self, user_id: int) -> int:
        """How many imported busy blocks a person has."""
        row = self.conn.execute(
            "SELECT count(*) FROM busy_blocks WHERE user_id = ?", (user_id,)
        ).fetchone()
        return int(row[0])

    # --- interview types -----------------------------------------------------------------------

    def create_type(
        self,
        *,
        name: str,
        duration_minutes: int,
        buffer_before_minutes: int,
        buffer_after_minutes: int,
        mode: str,
        attendees: int,
        role_family: str,
        members: Iterable[int],
        created_by: int | None,
    ) -> InterviewType:
        """A new interview type with its interviewers."""
        cursor = self.conn.execute(
            "INSERT INTO interview_types (name, duration_minutes, buffer_before_minutes,"
            " buffer_after_minutes, mode, attendees, role_family, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                duration_minutes,
                buffer_before_minutes,
                buffer_after_minutes,
                mode,
                attendees,
                role_family,
                created_by,
                now_stamp(),
            ),
        )
        type_id = int(cursor.lastrowid)
        for user_id in sorted(set(members)):
            self.conn.execute(
                "INSERT INTO interview_type_members (type_id, user_id) VALUES (?, ?)",
                (type_id, user_id),
            )
        return self.get_type(type_id)

    def get_type(self, type_id: int) -> InterviewType:
        """One interview type; NotFoundError if none."""
        row = self.conn.execute("SELECT * FROM interview_types WHERE id = ?", (type_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no interview type {type_id}")
        members = tuple(
            int(r["user_id"])
            for r in self.conn.execute(
                "SELECT user_id FROM interview_type_members WHERE type_id = ? ORDER BY user_id",
                (type_id,),
            )
        )
        return InterviewType(
            row["id"],
            row["name"],
            row["duration_minutes"],
            row["buffer_before_minutes"],
            row["buffer_after_minutes"],
            row["mode"],
            row["attendees"],
            row["role_family"],
            members,
        )

    def types(self) -> list[InterviewType]:
        """Every interview type, by name."""
        rows = self.conn.execute("SELECT id FROM interview_types ORDER BY name").fetchall()
        return [self.get_type(int(row["id"])) for row in rows]

    def type_named(self, name: str) -> InterviewType | None:
        """The interview type with this name, or None."""
        row = self.conn.execute("SELECT id FROM interview_types WHERE name = ?", (name,)).fetchone()
        return self.get_type(int(row["id"])) if row else None
