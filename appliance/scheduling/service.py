"""Scheduling as people and candidates use it: availability, interview types, requests, slots,
booking, rescheduling and cancelling. Every function checks who acts (a principal and the
permission table, or a candidate's signed link) and writes its audit entry in the same
transaction as its change.

Booking is safe under concurrent picks: the slot is checked again inside the write transaction
(BEGIN IMMEDIATE serialises writers), and a trigger refuses overlapping holds in any case.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.notify.secrets import read_secret
from appliance.platform.clock import utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError, ConfigError, NotFoundError
from appliance.platform.words import said
from appliance.scheduling.availability import interviewers, rules_of
from appliance.scheduling.caldav_import import caldav_busy
from appliance.scheduling.ics import CalendarImportError, SkippedEvent, read_busy
from appliance.scheduling.links import Signers, revoke_booked_room_links
from appliance.scheduling.messages import Event, booking_messages, schedule_invite
from appliance.scheduling.model import (
    CandidateWish,
    Slot,
    day_windows_to_json,
    hours_to_json,
    parse_day_windows,
    parse_hours,
)
from appliance.scheduling.render import render_time
from appliance.scheduling.slots import SlotFinder
from appliance.scheduling.zones import repeated_wall_time, wall_time_kind, zone
from appliance.security.permissions import Action, Principal, Scope, require
from appliance.store import Store
from appliance.store.availability import InterviewType, Profile
from appliance.store.db import IntegrityError
from appliance.store.people import User
from appliance.store.scheduling import Booking, SchedulingRequest

logger = logging.getLogger(__name__)

ROLE_FAMILIES = ("technical", "sales", "executive", "general")
REGIONS = ("EU", "US-NYC", "US-IL", "US-MD", "CN", "default")


class SchedulingError(ApplianceError):
    """A scheduling request that cannot be done as asked (a clear reason is given)."""

    exit_code = 25


class SlotTakenError(SchedulingError):
    """The requested time does not work (any more); `alternatives` are the nearest that do."""

    def __init__(self, message: str, alternatives: list[Slot]) -> None:
        super().__init__(message)
        self.alternatives = alternatives


# --- availability ------------------------------------------------------------------------------


def _in_availability_scope(principal: Principal, scope: Scope, user: User) -> bool:
    """Whether a person's availability lies within what `principal` may edit at `scope`."""
    if user.id == principal.user_id or scope is Scope.ALL:
        return True
    return scope is Scope.DEPARTMENT and (
        "*" in principal.departments or bool(set(user.departments) & set(principal.departments))
    )


def _may_edit_availability(store: Store, principal: Principal, user_id: int) -> None:
    scope = require(principal, Action.EDIT_AVAILABILITY).scope
    if user_id == principal.user_id or scope is Scope.ALL:
        return
    if not _in_availability_scope(principal, scope, store.users.get(user_id)):
        # Out of scope reads as absent, as everywhere: a guessed id reveals nothing.
        raise NotFoundError(f"no person {user_id}")


def editable_people(store: Store, principal: Principal) -> list[User]:
    """The active people whose availability `principal` may edit (always themselves)."""
    scope = require(principal, Action.EDIT_AVAILABILITY).scope
    return [
        user
        for user in store.users.all()
        if (user.active or user.id == principal.user_id)
        and _in_availability_scope(principal, scope, user)
    ]


def save_availability(
    store: Store,
    principal: Principal,
    *,
    user_id: int,
    timezone: str,
    holiday_region: str,
    working_hours: dict[str, list[list[str]]],
    focus_blocks: list[list[Any]],
    max_per_day: int,
    caldav_calendar: str | None = None,
) -> Profile:
    """Record a person's zone, weekly hours, focus blocks and daily cap (validated)."""
    _may_edit_availability(store, principal, user_id)
    store.users.get(user_id)
    zone(timezone)
    if holiday_region not in REGIONS:
        raise SchedulingError(f"unknown holiday region {holiday_region!r}")
    if not 1 <= max_per_day <= 24:
        raise SchedulingError(said("the daily cap is between 1 and 24 interviews"))
    hours = hours_to_json(parse_hours(working_hours))
    focus = day_windows_to_json(parse_day_windows(focus_blocks))
    with store.audited(principal.actor, "availability.saved", user=user_id):
        profile = store.scheduling.put_profile(
            user_id,
            timezone=timezone,
            holiday_region=holiday_region,
            working_hours=hours,
            focus_blocks=focus,
            max_per_day=max_per_day,
            caldav_calendar=(caldav_calendar or "").strip() or None,
        )
    return profile


@dataclass(frozen=True)
class IcsImported:
    """What an ICS import stored, and the events it had to leave out (named, for the person
    importing; never logged, as titles can name candidates)."""

    blocks: int
    skipped: tuple[SkippedEvent, ...]


def import_ics_file(
    store: Store, config: ApplianceConfig, principal: Principal, *, user_id: int, data: bytes
) -> IcsImported:
    """Replace a person's ICS busy times over the horizon with a file's; blocks and skips."""
    _may_edit_availability(store, principal, user_id)
    profile = _profile(store, user_id)
    start, end = _horizon(config)
    window = (start - timedelta(days=1), end + timedelta(days=1))
    found = read_busy(data, profile.timezone, start=window[0], end=window[1])
    with store.audited(
        principal.actor, "availability.busy_imported", user=user_id, source="ics"
    ) as entry:
        count = store.scheduling.replace_busy(
            user_id, "ics", found.intervals, start=window[0], end=window[1]
        )
        entry.details["blocks"] = count
        entry.details["skipped"] = len(found.skipped)  # how many only: titles stay out
    return IcsImported(count, found.skipped)


def import_ics(
    store: Store, config: ApplianceConfig, principal: Principal, *, user_id: int, data: bytes
) -> int:
    """`import_ics_file`, answering only how many busy blocks were stored."""
    return import_ics_file(store, config, principal, user_id=user_id, data=data).blocks


def sync_caldav(store: Store, config: ApplianceConfig, *, user_id: int) -> int:
    """Read a person's busy times from the CalDAV server into the store; how many blocks."""
    settings = config.scheduling
    profile = _profile(store, user_id)
    if not settings.caldav_url or not profile.caldav_calendar:
        raise SchedulingError(said("no CalDAV server or calendar is configured for this person"))
    password = read_secret(settings.caldav_password_file) if settings.caldav_password_file else ""
    start, end = _horizon(config)
    window = (start - timedelta(days=1), end + timedelta(days=1))
    intervals = caldav_busy(
        settings.caldav_url,
        profile.caldav_calendar,
        username=settings.caldav_username,
        password=password,
        tz_name=profile.timezone,
        start=window[0],
        end=window[1],
    )
    with store.audited(
        "system", "availability.busy_imported", user=user_id, source="caldav"
    ) as entry:
        count = store.scheduling.replace_busy(
            user_id, "caldav", intervals, start=window[0], end=window[1]
        )
        entry.details["blocks"] = count
    return count


def sync_caldav_for(
    store: Store, config: ApplianceConfig, principal: Principal, *, user_id: int
) -> int:
    """`sync_caldav` on a person's behalf (their own, or someone they may edit)."""
    _may_edit_availability(store, principal, user_id)
    return sync_caldav(store, config, user_id=user_id)


def caldav_chore(store: Store, config: ApplianceConfig, spool: object) -> object:
    """The worker's periodic chore: refresh busy times of everyone with a CalDAV calendar."""
    if not config.scheduling.caldav_url:
        return 0
    synced = 0
    for profile in store.scheduling.profiles():
        if not profile.caldav_calendar:
            continue
        try:
            sync_caldav(store, config, user_id=profile.user_id)
            synced += 1
        except (CalendarImportError, ConfigError) as exc:
            # One unreachable calendar must not stop the others; the old busy times stay.
            logger.warning("CalDAV sync for user %s failed: %s", profile.user_id, exc)
    return synced


def _profile(store: Store, user_id: int) -> Profile:
    profile = store.scheduling.profile(user_id)
    if profile is None:
        raise SchedulingError(said("record the person's time zone and working hours first"))
    return profile


# --- interview types and requests ---------------------------------------------------------------


def create_interview_type(
    store: Store,
    principal: Principal,
    *,
    name: str,
    duration_minutes: int,
    buffer_before_minutes: int,
    buffer_after_minutes: int,
    mode: str,
    attendees: int,
    role_family: str,
    members: list[int],
) -> InterviewType:
    """A new interview type (validated: lengths, mode, members with working hours)."""
    require(principal, Action.MANAGE_SCHEDULING)
    name = name.strip()
    if not name:
        raise SchedulingError(said("an interview type needs a name"))
    if store.scheduling.type_named(name) is not None:
        raise SchedulingError(f"an interview type named {name!r} exists")
    if not 5 <= duration_minutes <= 480:
        raise SchedulingError(said("an interview lasts between 5 and 480 minutes"))
    if not (0 <= buffer_before_minutes <= 240 and 0 <= buffer_after_minutes <= 240):
        raise SchedulingError(said("a buffer is between 0 and 240 minutes"))
    if mode not in ("panel", "pool"):
        raise SchedulingError(said("the mode is 'panel' (all attend) or 'pool' (any of them)"))
    if role_family not in ROLE_FAMILIES:
        raise SchedulingError(f"the role family is one of {', '.join(ROLE_FAMILIES)}")
    members = sorted(set(members))
    if not members:
        raise SchedulingError(said("choose at least one interviewer"))
    if mode == "pool" and not 1 <= attendees <= len(members):
        raise SchedulingError(said("a pool cannot send more interviewers than it has"))
    for user_id in members:
        _profile(store, user_id)
    with store.audited(principal.actor, "scheduling.type_created") as entry:
        kind = store.scheduling.create_type(
            name=name,
            duration_minutes=duration_minutes,
            buffer_before_minutes=buffer_before_minutes,
            buffer_after_minutes=buffer_after_minutes,
            mode=mode,
            attendees=attendees if mode == "pool" else len(members),
            role_family=role_family,
            members=members,
            created_by=principal.user_id,
        )
        entry.details["type"] = kind.id
    return kind


@dataclass(frozen=True)
class OpenedRequest:
    """A request and the link the candidate was sent."""

    request: SchedulingRequest
    url: str


def open_request(
    store: Store,
    config: ApplianceConfig,
    principal: Principal,
    *,
    interview_id: int,
    type_id: int,
    candidate_timezone: str,
    preferred_windows: list[list[Any]] | None = None,
) -> OpenedRequest:
    """Start scheduling an interview: the candidate is mailed a self-scheduling link."""
    visibility = require(principal, Action.MANAGE_SCHEDULING)
    interview = store.interviews.get_visible(interview_id, visibility)
    store.scheduling.get_type(type_id)
    zone(candidate_timezone)
    windows = day_windows_to_json(parse_day_windows(preferred_windows or []))
    if store.scheduling.request_for_interview(interview.id) is not None:
        raise SchedulingError(said("this interview is already being scheduled"))
    signers = Signers(store)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(principal.actor, "scheduling.opened", subject=candidate.pseudonym) as entry:
        request = store.scheduling.open_request(
            interview.id,
            type_id,
            candidate_timezone=candidate_timezone,
            preferred_windows=windows,
            opened_by=principal.user_id,
        )
        url = schedule_invite(store, config, signers, request, created_by=principal.user_id)
        entry.details["request"] = request.id
    return OpenedRequest(request, url)


def update_wish(
    store: Store, request: SchedulingRequest, *, timezone: str, windows: list[list[Any]]
) -> SchedulingRequest:
    """The candidate's own zone and preferred windows (from their link)."""
    zone(timezone)
    checked = day_windows_to_json(parse_day_windows(windows))
    with store.transaction():
        store.scheduling.update_wish(request.id, timezone, checked)
    return store.scheduling.get_request(request.id)


# --- slots and booking -------------------------------------------------------------------------


def _horizon(config: ApplianceConfig, now: datetime | None = None) -> tuple[datetime, datetime]:
    start = (now or utcnow()) + timedelta(hours=config.scheduling.min_notice_hours)
    return start, start + timedelta(days=config.scheduling.horizon_days)


def finder_for(
    store: Store,
    config: ApplianceConfig,
    request: SchedulingRequest,
    *,
    now: datetime | None = None,
) -> tuple[SlotFinder, CandidateWish]:
    """A slot finder over the horizon for a request's interview type, and the candidate's wish."""
    kind = store.scheduling.get_type(request.type_id)
    start, end = _horizon(config, now)
    booking = store.scheduling.booking_for(request.id)
    people = interviewers(
        store,
        kind.members,
        start=start,
        end=end,
        ignore_booking=booking.id if booking and booking.status == "booked" else None,
    )
    finder = SlotFinder(
        people,
        rules_of(kind),
        start=start,
        days=config.scheduling.horizon_days,
        step_minutes=config.scheduling.slot_step_minutes,
    )
    wish = CandidateWish(request.candidate_timezone, parse_day_windows(request.preferred_windows))
    return finder, wish


def find_slots(
    store: Store,
    config: ApplianceConfig,
    request: SchedulingRequest,
    *,
    limit: int | None = 20,
    now: datetime | None = None,
) -> list[Slot]:
    """The best slots for a request, best first."""
    finder, wish = finder_for(store, config, request, now=now)
    return finder.find(wish, limit=limit)


def _clock_problem(requested: datetime, timezone: str) -> tuple[str, str, datetime] | None:
    """Why a requested time cannot be booked as written, when the clocks are why: (its wall
    time, what the clocks do to it, a moment on its date); None for an ordinary time."""
    tz = zone(timezone)
    if isinstance(requested.tzinfo, ZoneInfo) and requested.tzinfo.key == tz.key:
        # A wall time someone wrote in the zone: the clocks may skip it or show it twice.
        wall = requested.replace(tzinfo=None)
        kind = wall_time_kind(wall.date(), wall.time(), tz)
        day = datetime.combine(wall.date(), time(12), tzinfo=tz)
    else:
        # An instant: of a repeated wall time, only the second showing is refused.
        wall = requested.astimezone(tz).replace(tzinfo=None)
        kind = "ambiguous" if repeated_wall_time(requested, tz) else "once"
        day = requested
    if kind == "once":
        return None
    if kind == "nonexistent":
        return f"{wall:%H:%M}", f"does not exist in {timezone} (the clocks jump over it)", day
    return f"{wall:%H:%M}", f"happens twice in {timezone} (the clocks go back over it)", day


def alternatives_text(
    slots: list[Slot], requested: datetime, timezone: str, language: str = "en"
) -> str:
    """'<requested> is taken; <alternative> works for all' in the reader's zone, or why the
    clocks make the requested wall time unbookable (it does not exist, or happens twice)."""
    problem = _clock_problem(requested, timezone)
    if problem is None:
        refused = f"{render_time(requested, timezone, language)} is taken"
    else:
        wall, reason, day = problem
        refused = f"{wall} on {render_time(day, timezone, language, date_only=True)} {reason}"
    if not slots:
        return f"{refused}, and no other time works in the next days."
    options = "; ".join(render_time(slot.start, timezone, language) for slot in slots)
    return f"{refused}; {options} works for all."


def _within_cutoff(config: ApplianceConfig, booking: Booking) -> bool:
    cutoff = booking.start - timedelta(hours=config.scheduling.reschedule_cutoff_hours)
    return utcnow() < cutoff


def book(
    store: Store,
    config: ApplianceConfig,
    request_id: int,
    start: datetime,
    *,
    actor: str,
    created_by: int,
    check_cutoff: bool = False,
    now: datetime | None = None,
) -> Booking:
    """Book (or move) a request's interview to the slot starting at `start`.

    Raises SlotTakenError, with the nearest working alternatives, when that time does not
    work for everyone (anymore). `check_cutoff`: a candidate may not move a booking past the
    reschedule cut-off.
    """
    if start.tzinfo is None:
        raise SchedulingError(said("a start time needs its time zone"))
    signers = Signers(store)
    try:
        with store.transaction():
            request = store.scheduling.get_request(request_id)
            if request.status == "cancelled":
                raise SchedulingError(said("this interview is no longer being scheduled"))
            previous = store.scheduling.booking_for(request.id)
            live = previous is not None and previous.status == "booked"
            if live and previous is not None and previous.start == start:
                return previous  # the same time again (a second click): nothing changes
            if (
                live
                and check_cutoff
                and previous is not None
                and not _within_cutoff(config, previous)
            ):
                raise SchedulingError(said("it is too late to move this interview; contact us"))
            finder, wish = finder_for(store, config, request, now=now)
            slot = finder.slot_at(wish, start)
            if slot is None:
                nearest = finder.alternatives(wish, start)
                raise SlotTakenError(
                    alternatives_text(nearest, start, request.candidate_timezone), nearest
                )
            revoked = (
                revoke_booked_room_links(store, request.interview_id, previous)
                if live and previous is not None
                else 0
            )
            kind = store.scheduling.get_type(request.type_id)
            hold = (
                slot.start - timedelta(minutes=kind.buffer_before_minutes),
                slot.end + timedelta(minutes=kind.buffer_after_minutes),
            )
            booking = store.scheduling.book(
                request.id,
                previous.uid if previous else _uid(config),
                start=slot.start,
                end=slot.end,
                hold=hold,
                attendees=slot.interviewers,
                booked_by=actor,
            )
            event: Event = "rescheduled" if live else "booked"
            # Never refused for a busy box: admission control may only open the room later.
            opens_at = booking_messages(
                store, config, signers, request, booking, event, created_by=created_by
            )
            interview = store.interviews.get(request.interview_id)
            store.scheduling.set_interview_time(interview.id, booking.starts_at)
            details: dict[str, Any] = {
                "request": request.id,
                "booking": booking.id,
                "sequence": booking.sequence,
            }
            if opens_at is not None:
                details["room_opens_at"] = opens_at
            if revoked:
                details["room_links_revoked"] = revoked
            store.audit.append(
                actor,
                f"scheduling.{event}",
                subject=store.candidates.get(interview.candidate_id).pseudonym,
                details=details,
            )
    except IntegrityError as exc:
        if "double booking" not in str(exc):
            raise
        # Another pick won the same interviewer at the same time between check and write.
        raise SlotTakenError("that time was just taken", []) from None
    return booking


def _uid(config: ApplianceConfig) -> str:
    domain = config.scheduling.smtp_sender.rpartition("@")[2] or "appliance.local"
    return f"{secrets.token_hex(16)}@{domain}"


def cancel(
    store: Store,
    config: ApplianceConfig,
    request_id: int,
    *,
    actor: str,
    created_by: int,
    check_cutoff: bool = False,
) -> Booking:
    """Cancel a booked interview: holds freed, CANCEL invitations and no more reminders."""
    signers = Signers(store)
    with store.audited(actor, "scheduling.cancelled") as entry:
        request = store.scheduling.get_request(request_id)
        booking = store.scheduling.booking_for(request.id)
        if booking is None or booking.status != "booked":
            raise SchedulingError(said("nothing is booked"))
        if check_cutoff and not _within_cutoff(config, booking):
            raise SchedulingError(said("it is too late to cancel this interview; contact us"))
        revoked = revoke_booked_room_links(store, request.interview_id, booking)
        cancelled = store.scheduling.cancel_booking(booking.id)
        store.scheduling.set_request_status(request.id, "open")
        booking_messages(
            store, config, signers, request, cancelled, "cancelled", created_by=created_by
        )
        interview = store.interviews.get(request.interview_id)
        store.scheduling.set_interview_time(interview.id, None)
        entry.subject = store.candidates.get(interview.candidate_id).pseudonym
        entry.details.update(
            request=request.id,
            booking=booking.id,
            sequence=cancelled.sequence,
            room_links_revoked=revoked,
        )
    return cancelled


def request_visible(store: Store, principal: Principal, request_id: int) -> SchedulingRequest:
    """A request the principal may manage; NotFoundError otherwise."""
    visibility = require(principal, Action.MANAGE_SCHEDULING)
    return store.scheduling.get_request_visible(request_id, visibility)


def hr_book(
    store: Store, config: ApplianceConfig, principal: Principal, request_id: int, start: datetime
) -> Booking:
    """HR books (or moves) an interview for the candidate."""
    request = request_visible(store, principal, request_id)
    return book(
        store,
        config,
        request.id,
        start,
        actor=principal.actor,
        created_by=principal.user_id,
    )


def hr_cancel(
    store: Store, config: ApplianceConfig, principal: Principal, request_id: int
) -> Booking:
    """HR cancels a booked interview."""
    request = request_visible(store, principal, request_id)
    return cancel(store, config, request.id, actor=principal.actor, created_by=principal.user_id)


def candidate_book(
    store: Store, config: ApplianceConfig, request: SchedulingRequest, start: datetime
) -> Booking:
    """The candidate picks (or moves to) a slot from their link."""
    if request.opened_by is None:
        raise NotFoundError("this request has no owner")
    return book(
        store,
        config,
        request.id,
        start,
        actor="candidate",
        created_by=request.opened_by,
        check_cutoff=True,
    )


def candidate_cancel(store: Store, config: ApplianceConfig, request: SchedulingRequest) -> Booking:
    """The candidate cancels from their link (until the cut-off)."""
    if request.opened_by is None:
        raise NotFoundError("this request has no owner")
    return cancel(
        store,
        config,
        request.id,
        actor="candidate",
        created_by=request.opened_by,
        check_cutoff=True,
    )
