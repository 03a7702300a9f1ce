"""Admission control: how long the analysis backlog would take, and when a new interview link
may open so that the box keeps up (issue 22).

The backlog is the analyses waiting or running plus the answers expected from interview links
that are out and not yet finished, at the pace the box has shown lately. Above the configured
capacity a new link is still issued, but opens later: the candidate is told when, instead of
being turned away after recording. A recorded answer is never refused (`appliance.room`).

The same rule holds for the room link sent with a booked interview: its room opens at the booked
time unless the backlog expected by then is still above capacity; then it opens when the backlog
is expected back under it, as an HR link issued now would. It lives here, below `hiring`, so that
both scheduling and the hiring side (which imports scheduling) can apply it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.store import Store

ANALYSE = "analyse"
RECENT_RUNS = 50  # the pace is the median of this many recent analyses
DEFAULT_SECONDS_PER_ANSWER = 90.0  # before the box has analysed anything (2 cores, 1 minute)
DEFAULT_ANSWERS_PER_LINK = 5  # before any room has closed
RECENT_ROOMS = 100


@dataclass(frozen=True)
class Backlog:
    """The analysis backlog and what it means for a link issued now."""

    waiting: int  # analyses queued or running
    expected: int  # answers expected from links that are out and unfinished
    seconds_per_answer: float
    capacity_hours: float
    measured: bool  # the pace comes from this box's own recent analyses

    @property
    def hours(self) -> float:
        """Hours of analysis the backlog holds."""
        return (self.waiting + self.expected) * self.seconds_per_answer / 3600.0

    @property
    def over(self) -> bool:
        """Whether the backlog is above the capacity the box was given."""
        return self.hours > self.capacity_hours

    def opens_at(
        self, now: datetime | None = None, *, booked: datetime | None = None
    ) -> datetime | None:
        """When a link issued now opens (None: at once); with `booked`, when the room of an
        interview booked for then opens (None: at the booked time, the backlog expected by
        then being within capacity)."""
        if not self.over:
            return None
        # The box works the backlog off hour for hour: back within capacity this much later.
        opening = (now or utcnow()) + timedelta(hours=self.hours - self.capacity_hours)
        if booked is not None and opening <= booked:
            return None
        return opening

    def opens_stamp(self, *, booked: datetime | None = None) -> str | None:
        """`opens_at` as a store stamp (None: at once, or at the booked time)."""
        moment = self.opens_at(booked=booked)
        return None if moment is None else to_stamp(moment)


def seconds_per_answer(store: Store) -> tuple[float, bool]:
    """The median wall time of the box's recent successful analyses, and whether it was
    measured (False: the default before any)."""
    rows = store.conn.execute(
        "SELECT r.started_at, r.ended_at FROM job_runs r JOIN jobs j ON j.id = r.job_id"
        " WHERE j.kind = ? AND r.outcome = 'succeeded' AND r.ended_at IS NOT NULL"
        " ORDER BY r.id DESC LIMIT ?",
        (ANALYSE, RECENT_RUNS),
    ).fetchall()
    durations = [
        (from_stamp(row["ended_at"]) - from_stamp(row["started_at"])).total_seconds()
        for row in rows
    ]
    durations = [d for d in durations if d > 0]
    if not durations:
        return DEFAULT_SECONDS_PER_ANSWER, False
    return float(statistics.median(durations)), True


def answers_per_link(store: Store) -> float:
    """How many answers a finished room held, lately (the median; a default before any)."""
    rows = store.conn.execute(
        "SELECT (SELECT count(*) FROM interview_answers a WHERE a.interview_id = s.interview_id)"
        " AS answers FROM room_sessions s WHERE s.closed_at IS NOT NULL"
        " ORDER BY s.closed_at DESC LIMIT ?",
        (RECENT_ROOMS,),
    ).fetchall()
    counts = [int(row["answers"]) for row in rows if int(row["answers"]) > 0]
    return float(statistics.median(counts)) if counts else float(DEFAULT_ANSWERS_PER_LINK)


def backlog(store: Store, config: ApplianceConfig, *, excluding: int | None = None) -> Backlog:
    """The backlog now, against the capacity in the configuration; `excluding`: an interview
    whose own links are not counted (the one a link is being issued for waits for no one's
    answers but the others')."""
    waiting = int(
        store.conn.execute(
            "SELECT count(*) FROM jobs WHERE kind = ? AND state IN ('queued', 'running')",
            (ANALYSE,),
        ).fetchone()[0]
    )
    # Links out whose interview is neither finished nor cancelled: one per interview.
    outstanding = int(
        store.conn.execute(
            "SELECT count(DISTINCT l.interview_id) FROM candidate_links l"
            " JOIN interviews i ON i.id = l.interview_id"
            " WHERE l.revoked_at IS NULL AND l.expires_at > ? AND i.status = 'planned'"
            " AND l.interview_id IS NOT ?"
            " AND NOT EXISTS (SELECT 1 FROM room_sessions s"
            "  WHERE s.interview_id = l.interview_id AND s.closed_at IS NOT NULL)",
            (now_stamp(), excluding),
        ).fetchone()[0]
    )
    pace, measured = seconds_per_answer(store)
    expected = round(outstanding * answers_per_link(store))
    return Backlog(waiting, expected, pace, config.worker.capacity_hours, measured)


def opening_stamp(store: Store, config: ApplianceConfig) -> str | None:
    """When a link issued now opens, as a store stamp (None: at once)."""
    return backlog(store, config).opens_stamp()


def room_opening(
    store: Store, config: ApplianceConfig, *, interview_id: int, booked: datetime
) -> str | None:
    """When the room link of an interview booked for `booked` opens, as a store stamp: None
    (at the booked time) unless the backlog expected by then is above capacity."""
    return backlog(store, config, excluding=interview_id).opens_stamp(booked=booked)


__all__ = [
    "Backlog",
    "answers_per_link",
    "backlog",
    "opening_stamp",
    "room_opening",
    "seconds_per_answer",
]
