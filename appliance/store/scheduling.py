"""Scheduling rows: requests, bookings, self-scheduling links and next rounds (interviewer
profiles, busy times and interview types: `appliance.store.availability`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.platform.clock import from_stamp, now_stamp, to_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.availability import AvailabilityRepository
from appliance.store.base import dumps, loads
from appliance.store.db import Row


@dataclass(frozen=True)
class SchedulingRequest:
    """An interview waiting for (or holding) a time."""

    id: int
    interview_id: int
    type_id: int
    candidate_timezone: str
    preferred_windows: list[list[Any]]
    status: str
    opened_by: int | None
    created_at: str


@dataclass(frozen=True)
class Booking:
    """The booked time of a request, with its calendar UID and SEQUENCE."""

    id: int
    request_id: int
    uid: str
    sequence: int
    starts_at: str
    ends_at: str
    status: str
    attendees: tuple[int, ...]
    booked_by: str
    created_at: str
    updated_at: str

    @property
    def start(self) -> datetime:
        """Start as an aware UTC datetime."""
        return from_stamp(self.starts_at)

    @property
    def end(self) -> datetime:
        """End as an aware UTC datetime."""
        return from_stamp(self.ends_at)


@dataclass(frozen=True)
class SchedulingLink:
    """A self-scheduling link issued for one request."""

    id: int
    request_id: int
    nonce: str
    expires_at: str
    created_by: int | None
    revoked_at: str | None


def _request(row: Row) -> SchedulingRequest:
    return SchedulingRequest(
        row["id"],
        row["interview_id"],
        row["type_id"],
        row["candidate_timezone"],
        loads(row["preferred_windows"]),
        row["status"],
        row["opened_by"],
        row["created_at"],
    )


def _booking(row: Row) -> Booking:
    return Booking(
        row["id"],
        row["request_id"],
        row["uid"],
        row["sequence"],
        row["starts_at"],
        row["ends_at"],
        row["status"],
        tuple(int(x) for x in loads(row["attendees"])),
        row["booked_by"],
        row["created_at"],
        row["updated_at"],
    )


def _marks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class SchedulingRepository(AvailabilityRepository):
    """Everything scheduling keeps, in the encrypted store."""

    # --- the bookings interviewers hold --------------------------------------------------------

    def bookings_of(
        self, user_ids: Iterable[int], start: datetime, end: datetime
    ) -> dict[int, list[Booking]]:
        """Live bookings each person attends overlapping [start, end)."""
        ids = list(user_ids)
        found: dict[int, list[Booking]] = {user_id: [] for user_id in ids}
        rows = self.conn.execute(
            "SELECT h.user_id AS holder, b.* FROM booking_holds h JOIN bookings b"
            f" ON b.id = h.booking_id WHERE h.user_id IN ({_marks(ids)})"
            " AND b.starts_at < ? AND b.ends_at > ? ORDER BY b.starts_at",
            (*ids, to_stamp(end), to_stamp(start)),
        )
        for row in rows:
            found[int(row["holder"])].append(_booking(row))
        return found

    def last_booked(self, user_ids: Iterable[int]) -> dict[int, str]:
        """When each person was last given an interview ('' never)."""
        ids = list(user_ids)
        rows = self.conn.execute(
            "SELECT h.user_id AS holder, max(b.updated_at) AS last FROM booking_holds h"
            f" JOIN bookings b ON b.id = h.booking_id WHERE h.user_id IN ({_marks(ids)})"
            " GROUP BY h.user_id",
            ids,
        )
        found = {user_id: "" for user_id in ids}
        found.update({int(row["holder"]): str(row["last"]) for row in rows})
        return found

    # --- requests ------------------------------------------------------------------------------

    def open_request(
        self,
        interview_id: int,
        type_id: int,
        *,
        candidate_timezone: str,
        preferred_windows: list[list[Any]],
        opened_by: int | None,
    ) -> SchedulingRequest:
        """Start scheduling an interview."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO scheduling_requests (interview_id, type_id, candidate_timezone,"
            " preferred_windows, opened_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                interview_id,
                type_id,
                candidate_timezone,
                dumps(preferred_windows),
                opened_by,
                now,
                now,
            ),
        )
        return self.get_request(int(cursor.lastrowid))

    def get_request(self, request_id: int) -> SchedulingRequest:
        """One request; NotFoundError if none."""
        row = self.conn.execute(
            "SELECT * FROM scheduling_requests WHERE id = ?", (request_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no scheduling request {request_id}")
        return _request(row)

    def request_for_interview(self, interview_id: int) -> SchedulingRequest | None:
        """The request of an interview, or None."""
        row = self.conn.execute(
            "SELECT * FROM scheduling_requests WHERE interview_id = ?", (interview_id,)
        ).fetchone()
        return _request(row) if row else None

    def get_request_visible(self, request_id: int, visibility: Visibility) -> SchedulingRequest:
        """A request whose interview lies inside the visibility; NotFoundError otherwise."""
        clause, params = visibility.interview_clause("i", "r")
        row = self.conn.execute(
            "SELECT s.* FROM scheduling_requests s JOIN interviews i ON i.id = s.interview_id"
            f" JOIN requisitions r ON r.id = i.requisition_id WHERE s.id = ? AND {clause}",
            (request_id, *params),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no scheduling request {request_id}")
        return _request(row)

    def requests_visible(self, visibility: Visibility) -> list[SchedulingRequest]:
        """Requests inside the visibility, newest first."""
        clause, params = visibility.interview_clause("i", "r")
        rows = self.conn.execute(
            "SELECT s.* FROM scheduling_requests s JOIN interviews i ON i.id = s.interview_id"
            f" JOIN requisitions r ON r.id = i.requisition_id WHERE {clause} ORDER BY s.id DESC",
            params,
        )
        return [_request(row) for row in rows]

    def update_wish(
        self, request_id: int, candidate_timezone: str, preferred_windows: list[list[Any]]
    ) -> None:
        """Store the candidate's zone and preferred windows."""
        self.conn.execute(
            "UPDATE scheduling_requests SET candidate_timezone = ?, preferred_windows = ?,"
            " updated_at = ? WHERE id = ?",
            (candidate_timezone, dumps(preferred_windows), now_stamp(), request_id),
        )

    def set_request_status(self, request_id: int, status: str) -> None:
        """Move a request to open, booked or cancelled."""
        self.conn.execute(
            "UPDATE scheduling_requests SET status = ?, updated_at = ? WHERE id = ?",
            (status, now_stamp(), request_id),
        )

    # --- bookings ------------------------------------------------------------------------------

    def booking_for(self, request_id: int) -> Booking | None:
        """The booking of a request (live or cancelled), or None."""
        row = self.conn.execute(
            "SELECT * FROM bookings WHERE request_id = ?", (request_id,)
        ).fetchone()
        return _booking(row) if row else None

    def get_booking(self, booking_id: int) -> Booking:
        """One booking; NotFoundError if none."""
        row = self.conn.execute("SELECT * FROM bookings WHERE id = ?", (booking_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no booking {booking_id}")
        return _booking(row)

    def _hold(self, booking_id: int, attendees: Iterable[int], hold: tuple[str, str]) -> None:
        # The trigger booking_holds_no_overlap refuses a hold that overlaps another booking's.
        for user_id in attendees:
            self.conn.execute(
                "INSERT INTO booking_holds (booking_id, user_id, starts_at, ends_at)"
                " VALUES (?, ?, ?, ?)",
                (booking_id, user_id, hold[0], hold[1]),
            )

    def book(
        self,
        request_id: int,
        uid: str,
        *,
        start: datetime,
        end: datetime,
        hold: tuple[datetime, datetime],
        attendees: tuple[int, ...],
        booked_by: str,
    ) -> Booking:
        """Book a time for a request (or re-book a cancelled one: SEQUENCE grows)."""
        now = now_stamp()
        previous = self.booking_for(request_id)
        if previous is None:
            cursor = self.conn.execute(
                "INSERT INTO bookings (request_id, uid, starts_at, ends_at, status, attendees,"
                " booked_by, created_at, updated_at) VALUES (?, ?, ?, ?, 'booked', ?, ?, ?, ?)",
                (
                    request_id,
                    uid,
                    to_stamp(start),
                    to_stamp(end),
                    dumps(list(attendees)),
                    booked_by,
                    now,
                    now,
                ),
            )
            booking_id = int(cursor.lastrowid)
        else:
            booking_id = previous.id
            self.conn.execute("DELETE FROM booking_holds WHERE booking_id = ?", (booking_id,))
            self.conn.execute(
                "UPDATE bookings SET starts_at = ?, ends_at = ?, status = 'booked',"
                " attendees = ?, booked_by = ?, sequence = sequence + 1, updated_at = ?"
                " WHERE id = ?",
                (
                    to_stamp(start),
                    to_stamp(end),
                    dumps(list(attendees)),
                    booked_by,
                    now,
                    booking_id,
                ),
            )
        self._hold(booking_id, attendees, (to_stamp(hold[0]), to_stamp(hold[1])))
        self.set_request_status(request_id, "booked")
        return self.get_booking(booking_id)

    def holds_of(self, booking_id: int) -> list[tuple[int, datetime, datetime]]:
        """(user id, start, end) of the time a booking holds."""
        rows = self.conn.execute(
            "SELECT user_id, starts_at, ends_at FROM booking_holds WHERE booking_id = ?"
            " ORDER BY user_id",
            (booking_id,),
        )
        return [
            (int(r["user_id"]), from_stamp(r["starts_at"]), from_stamp(r["ends_at"])) for r in rows
        ]

    def cancel_booking(self, booking_id: int) -> Booking:
        """Cancel a booking: its holds are freed and SEQUENCE grows."""
        self.conn.execute("DELETE FROM booking_holds WHERE booking_id = ?", (booking_id,))
        self.conn.execute(
            "UPDATE bookings SET status = 'cancelled', sequence = sequence + 1, updated_at = ?"
            " WHERE id = ?",
            (now_stamp(), booking_id),
        )
        return self.get_booking(booking_id)

    def set_interview_time(self, interview_id: int, starts_at: str | None) -> None:
        """Copy a booked time onto its interview (None when cancelled)."""
        self.conn.execute(
            "UPDATE interviews SET scheduled_at = ?, updated_at = ? WHERE id = ?",
            (starts_at, now_stamp(), interview_id),
        )

    def live_bookings_between(self, start: datetime, end: datetime) -> list[Booking]:
        """Live bookings starting in [start, end), in order (for reminders)."""
        rows = self.conn.execute(
            "SELECT * FROM bookings WHERE status = 'booked' AND starts_at >= ? AND starts_at < ?"
            " ORDER BY starts_at",
            (to_stamp(start), to_stamp(end)),
        )
        return [_booking(row) for row in rows]

    def overlapping_holds(self) -> int:
        """Pairs of holds of one person that overlap (always 0; a check for tests and health)."""
        row = self.conn.execute(
            "SELECT count(*) FROM booking_holds a JOIN booking_holds b ON a.user_id = b.user_id"
            " AND a.booking_id < b.booking_id AND a.starts_at < b.ends_at"
            " AND b.starts_at < a.ends_at"
        ).fetchone()
        return int(row[0])

    # --- self-scheduling links -----------------------------------------------------------------

    def create_link(
        self, request_id: int, nonce: str, expires_at: str, created_by: int | None
    ) -> SchedulingLink:
        """Record an issued link."""
        cursor = self.conn.execute(
            "INSERT INTO scheduling_links (request_id, nonce, expires_at, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (request_id, nonce, expires_at, created_by, now_stamp()),
        )
        return self._link_where("id = ?", int(cursor.lastrowid))

    def _link_where(self, clause: str, value: Any) -> SchedulingLink:
        row = self.conn.execute(
            f"SELECT * FROM scheduling_links WHERE {clause}", (value,)
        ).fetchone()
        if row is None:
            raise NotFoundError("no such scheduling link")
        return SchedulingLink(
            row["id"],
            row["request_id"],
            row["nonce"],
            row["expires_at"],
            row["created_by"],
            row["revoked_at"],
        )

    def link_by_nonce(self, nonce: str) -> SchedulingLink | None:
        """The link a token names, or None."""
        try:
            return self._link_where("nonce = ?", nonce)
        except NotFoundError:
            return None

    def links_for(self, request_id: int) -> list[SchedulingLink]:
        """A request's links, newest first."""
        rows = self.conn.execute(
            "SELECT id FROM scheduling_links WHERE request_id = ? ORDER BY id DESC", (request_id,)
        ).fetchall()
        return [self._link_where("id = ?", int(row["id"])) for row in rows]

    def revoke_link(self, link_id: int) -> None:
        """Make a link unusable."""
        self.conn.execute(
            "UPDATE scheduling_links SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            (now_stamp(), link_id),
        )

    def touch_link(self, link_id: int) -> None:
        """Note the link was used now."""
        self.conn.execute(
            "UPDATE scheduling_links SET last_used_at = ? WHERE id = ?", (now_stamp(), link_id)
        )

    # --- next rounds ---------------------------------------------------------------------------

    def next_round_of(self, decision_id: int) -> tuple[int, int | None] | None:
        """(interview id, request id) a decision opened, or None."""
        row = self.conn.execute(
            "SELECT interview_id, request_id FROM next_rounds WHERE decision_id = ?",
            (decision_id,),
        ).fetchone()
        if row is None:
            return None
        return int(row["interview_id"]), row["request_id"]

    def record_next_round(
        self, decision_id: int, interview_id: int, request_id: int | None
    ) -> None:
        """Note the round a decision opened."""
        self.conn.execute(
            "INSERT INTO next_rounds (decision_id, interview_id, request_id, opened_at)"
            " VALUES (?, ?, ?, ?)",
            (decision_id, interview_id, request_id, now_stamp()),
        )
