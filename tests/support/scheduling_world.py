"""A scheduling world over the real store: a recruiter, interviewers with working hours, an
interview type, a requisition; and a candidate's open scheduling request with its link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.accounts.auth import principal_of
from appliance.platform.clock import utcnow
from appliance.platform.config import ApplianceConfig
from appliance.scheduling import service
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.scheduling import SchedulingRequest
from tests.conftest import make_user

EVERY_DAY = {str(d): [["00:00", "24:00"]] for d in range(7)}


def availability_fields(
    hours: dict[str, list[list[str]]], focus: list[list[object]] | None = None
) -> dict[str, str]:
    """The availability form's week-editor fields for these hours and focus blocks, as a
    person would fill them (a day without hours is ticked "not working")."""
    fields: dict[str, str] = {}
    for day in range(7):
        windows = hours.get(str(day), [])
        if not windows:
            fields[f"off-{day}"] = "on"
        for place, (start, end) in enumerate(windows):
            fields[f"hours-{day}-{place}-start"] = start
            fields[f"hours-{day}-{place}-end"] = end
    for place, (weekday, begins, ends) in enumerate(focus or []):
        fields[f"focus-{place}-day"] = str(weekday)
        fields[f"focus-{place}-start"] = str(begins)
        fields[f"focus-{place}-end"] = str(ends)
    return fields


@dataclass
class World:
    """A recruiter, interviewers with hours, an interview type and a requisition."""

    store: Store
    config: ApplianceConfig
    hr: Principal
    interviewers: list[int]
    type_id: int
    requisition_id: int


def make_world(
    store: Store,
    config: ApplianceConfig,
    *,
    interviewers: int = 1,
    mode: str = "pool",
    hours: dict[str, list[list[str]]] | None = None,
    zones: list[str] | None = None,
    role_family: str = "technical",
    emails: bool = True,
) -> World:
    """People, their availability and one interview type (60 minutes, 15 minutes after)."""
    hr_id = make_user(store, "hr.sched", "hr_admin", departments=["*"], regions=["*"])
    hr = principal_of(store.users.get(hr_id))
    ids = []
    for n in range(interviewers):
        user_id = make_user(store, f"iv.{n}", "interviewer")
        if emails:
            with store.transaction():
                store.conn.execute(
                    "UPDATE users SET email = ? WHERE id = ?",
                    (f"interviewer{n}@example.invalid", user_id),
                )
        service.save_availability(
            store,
            hr,
            user_id=user_id,
            timezone=(zones or ["Europe/London"])[n % len(zones or [1])],
            holiday_region="EU",
            working_hours=hours or EVERY_DAY,
            focus_blocks=[],
            max_per_day=24,
        )
        ids.append(user_id)
    kind = service.create_interview_type(
        store,
        hr,
        name="Technical interview",
        duration_minutes=60,
        buffer_before_minutes=0,
        buffer_after_minutes=15,
        mode=mode,
        attendees=1,
        role_family=role_family,
        members=ids,
    )
    with store.transaction():
        requisition = store.requisitions.create("Platform engineer", "Engineering", "Berlin", "EU")
    return World(store, config, hr, ids, kind.id, requisition.id)


def candidate_request(
    world: World,
    name: str = "Asha Rao",
    *,
    timezone: str = "Asia/Kolkata",
    email: str | None = "asha@example.invalid",
    phone: str | None = None,
) -> tuple[SchedulingRequest, str]:
    """A candidate, their interview and an open scheduling request; (request, link URL)."""
    store = world.store
    candidate = store.candidates.create(name, email=email, phone=phone)
    with store.transaction():
        interview = store.interviews.create(candidate.id, world.requisition_id)
    opened = service.open_request(
        store,
        world.config,
        world.hr,
        interview_id=interview.id,
        type_id=world.type_id,
        candidate_timezone=timezone,
    )
    return opened.request, opened.url


def token_of(url: str) -> str:
    """The token at the end of a scheduling link."""
    return url.rsplit("/", 1)[1]


def over_capacity(store: Store, config: ApplianceConfig) -> datetime:
    """Put the box over its analysis capacity: 1 hour of capacity, 400 analyses waiting at the
    default pace (90 s each, 10 hours), slots from 2 hours ahead. Returns when the backlog is
    expected back within capacity (in 9 hours), the time before which a booked room opens late."""
    config.worker.capacity_hours = 1.0
    config.scheduling.min_notice_hours = 2
    with store.transaction():
        for _ in range(400):
            store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
    return utcnow() + timedelta(hours=9)
