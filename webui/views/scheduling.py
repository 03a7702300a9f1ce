"""Scheduling pages: availability, interview types, requests with slots, the outbox's dead
letters, in-app notifications, and the candidate's self-scheduling page (signed link)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.notify.outbox import requeue_dead
from appliance.notify.readiness import channel_ready
from appliance.platform import jsonlimits
from appliance.platform.clock import from_stamp, to_stamp, utcnow
from appliance.platform.errors import ApplianceError, ConfigError, NotFoundError
from appliance.platform.jsonlimits import MAX_DEPTH
from appliance.scheduling import service
from appliance.scheduling.capacity import backlog
from appliance.scheduling.ics import CalendarImportError, SkippedEvent
from appliance.scheduling.links import (
    InvalidSchedulingLinkError,
    booked_room_opens_at,
    verify_scheduling_link,
)
from appliance.scheduling.model import Slot
from appliance.scheduling.pickers import schedulable_interviews
from appliance.scheduling.render import render_time
from appliance.scheduling.zones import ZoneError, tzdata_version, zone, zone_names
from appliance.security.permissions import Action
from appliance.store.people import User
from appliance.store.scheduling import Booking, SchedulingRequest
from webui.availability_form import (
    MAX_FOCUS,
    MAX_RANGES,
    WEEKDAY_NAMES,
    Week,
    check_week,
    edit_week,
    week_from_form,
    week_from_profile,
)
from webui.report_words import viewer_language
from webui.security import (
    app_config,
    app_store,
    current_principal,
    current_user,
    public,
    requires,
    visibility,
)
from webui.words import say_error

bp = Blueprint("scheduling", __name__)

MAX_ICS_UPLOAD = 5 * 1024 * 1024
SLOTS_PER_DAY = 6
DAYS_SHOWN = 10
SKIPPED_SHOWN = 10  # events an import left out, named one by one; the rest are counted
# Errors a form can cause: shown to the person, the page answers 422, nothing is lost.
FORM_ERRORS = (service.SchedulingError, ZoneError, CalendarImportError, ConfigError)


def _json_field(name: str, default: Any) -> Any:
    text = request.form.get(name, "").strip()
    if not text:
        return default
    try:
        return jsonlimits.loads(text)
    except ValueError:
        raise service.SchedulingError(_("%(field)s is not valid JSON.", field=name)) from None
    except jsonlimits.JsonLimitError:
        raise service.SchedulingError(
            _("%(field)s is nested more than %(depth)s levels deep.", field=name, depth=MAX_DEPTH)
        ) from None


def _int_field(name: str, default: int | None = None) -> int:
    try:
        return int(request.form.get(name, "") or (default if default is not None else ""))
    except ValueError:
        raise service.SchedulingError(_("%(field)s must be a whole number.", field=name)) from None


def _start_field() -> datetime:
    try:
        return from_stamp(request.form.get("start", ""))
    except ValueError:
        raise service.SchedulingError(_("Choose a time.")) from None


# --- HR: overview, types, requests ----------------------------------------------------------


@bp.get("/scheduling")
@requires(Action.MANAGE_SCHEDULING)
def index() -> ResponseReturnValue:
    """Requests, interview types and the outbox at a glance; the tzdata version in use."""
    store = app_store()
    requests_ = store.scheduling.requests_visible(visibility())
    bookings = {r.id: store.scheduling.booking_for(r.id) for r in requests_}
    return render_template(
        "scheduling/index.html",
        requests=requests_,
        bookings=bookings,
        types=store.scheduling.types(),
        counts=store.outbox.counts(),
        tzdata=tzdata_version(),
        interviews={r.id: store.interviews.get(r.interview_id) for r in requests_},
    )


@bp.route("/scheduling/types", methods=["GET", "POST"])
@requires(Action.MANAGE_SCHEDULING)
def types() -> ResponseReturnValue:
    """Interview types: list and create."""
    store = app_store()
    status = 200
    if request.method == "POST":
        try:
            kind = service.create_interview_type(
                store,
                current_principal(),
                name=request.form.get("name", ""),
                duration_minutes=_int_field("duration_minutes"),
                buffer_before_minutes=_int_field("buffer_before_minutes", 0),
                buffer_after_minutes=_int_field("buffer_after_minutes", 0),
                mode=request.form.get("mode", ""),
                attendees=_int_field("attendees", 1),
                role_family=request.form.get("role_family", ""),
                members=[int(x) for x in request.form.getlist("members") if x.isdigit()],
            )
        except FORM_ERRORS as exc:
            flash(say_error(exc), "error")
            status = 422
        else:
            flash(_("The interview type %(name)s was created.", name=kind.name), "success")
            return redirect(url_for("scheduling.types"))
    profiles = {p.user_id for p in store.scheduling.profiles()}
    people = [u for u in store.users.all() if u.id in profiles and u.active]
    return render_template(
        "scheduling/types.html",
        types=store.scheduling.types(),
        people=people,
        names={u.id: u.display_name for u in store.users.all()},
        form=request.form,
    ), status


PREFERRED_ROWS = 3


def _preferred_windows() -> list[list[Any]]:
    """The candidate's preferred times from the form's rows (day, from, to); empty rows are
    left out, and the core checks the rest."""
    windows: list[list[Any]] = []
    for place in range(PREFERRED_ROWS):
        start = request.form.get(f"pref-{place}-start", "").strip()
        end = request.form.get(f"pref-{place}-end", "").strip()
        if not start and not end:
            continue
        day = request.form.get(f"pref-{place}-day", "0")
        windows.append(
            [int(day) if day.isdigit() else day, start, "24:00" if end == "00:00" else end]
        )
    return windows


@bp.route("/scheduling/requests/new", methods=["GET", "POST"])
@requires(Action.MANAGE_SCHEDULING)
def new_request() -> ResponseReturnValue:
    """Open scheduling for an interview: the candidate is mailed a link."""
    store = app_store()
    status = 200
    if request.method == "POST":
        try:
            opened = service.open_request(
                store,
                app_config(),
                current_principal(),
                interview_id=_int_field("interview_id"),
                type_id=_int_field("type_id"),
                candidate_timezone=request.form.get("candidate_timezone", "").strip(),
                preferred_windows=_preferred_windows(),
            )
        except FORM_ERRORS as exc:
            flash(say_error(exc), "error")
            status = 422
        else:
            config = app_config()
            if not channel_ready(config, "email"):
                # Nothing can be mailed: the person hands the link over themselves, now.
                return render_template(
                    "scheduling/link_handover.html",
                    opened=opened,
                    valid_hours=config.scheduling.link_valid_hours,
                )
            flash(
                _(
                    "An e-mail with a link to choose a time is queued for the candidate; the "
                    "outbox shows whether it could be delivered."
                ),
                "success",
            )
            return redirect(url_for("scheduling.detail", request_id=opened.request.id))
    return render_template(
        "scheduling/request_new.html",
        types=store.scheduling.types(),
        zones=zone_names(),
        interview_id=request.values.get("interview_id", ""),
        interviews=schedulable_interviews(store, current_principal()),
        form=request.form,
        preferred_rows=PREFERRED_ROWS,
        weekday_names=[str(name) for name in WEEKDAY_NAMES],
    ), status


def _visible_request(request_id: int) -> SchedulingRequest:
    return app_store().scheduling.get_request_visible(request_id, visibility())


def _live_booking(found: SchedulingRequest) -> Booking | None:
    """The request's booking while it stands (not cancelled)."""
    booking = app_store().scheduling.booking_for(found.id)
    return booking if booking is not None and booking.status == "booked" else None


def _late_rooms_until(found: SchedulingRequest) -> datetime | None:
    """While the analysis queue is over capacity: the time before which a booked interview's
    room would open only then (admission control's own rule); None when any time opens in time."""
    return backlog(app_store(), app_config(), excluding=found.interview_id).opens_at()


@bp.get("/scheduling/requests/<int:request_id>")
@requires(Action.MANAGE_SCHEDULING)
def detail(request_id: int) -> ResponseReturnValue:
    """A request: its booking (and when its room opens, if late), or the best slots
    (candidate's and viewer's zones) and alternatives while there is none or HR moves it."""
    store, config = app_store(), app_config()
    scheduling_request = _visible_request(request_id)
    booking = _live_booking(scheduling_request)
    moving = booking is not None and request.args.get("move") == "1"
    offer = booking is None or moving
    message = ""
    slots = []
    try:
        # A booked request offers no slots to book again, unless HR asks to move it.
        slots = service.find_slots(store, config, scheduling_request, limit=20) if offer else []
        wanted = request.args.get("want", "").strip() if offer else ""
        if wanted:
            asked = datetime.fromisoformat(wanted).replace(
                tzinfo=zone(scheduling_request.candidate_timezone)
            )
            finder, wish = service.finder_for(store, config, scheduling_request)
            if finder.slot_at(wish, asked) is None:
                message = service.alternatives_text(
                    finder.alternatives(wish, asked), asked, scheduling_request.candidate_timezone
                )
            else:
                message = _(
                    "%(when)s works for all.",
                    when=render_time(asked, scheduling_request.candidate_timezone),
                )
    except ValueError:
        flash(_("Write the time as YYYY-MM-DDTHH:MM."), "error")
    except FORM_ERRORS as exc:
        flash(say_error(exc), "error")
    names = {u.id: u.display_name for u in store.users.all()}
    return render_template(
        "scheduling/request.html",
        req=scheduling_request,
        interview=store.interviews.get(scheduling_request.interview_id),
        kind=store.scheduling.get_type(scheduling_request.type_id),
        booking=booking,
        room_opens=(
            booked_room_opens_at(store, scheduling_request.interview_id, booking)
            if booking is not None
            else None
        ),
        offer=offer,
        moving=moving,
        late_until=_late_rooms_until(scheduling_request) if offer else None,
        slots=slots,
        message=message,
        names=names,
        viewer_zone=current_user().timezone or "UTC",
        render_time=lambda moment, tz: render_time(moment, tz, _time_language()),
        calendar=_slot_calendar(slots, current_user().timezone or "UTC"),
        zone_of=zone,
        to_stamp=to_stamp,
    )


def _time_language() -> str:
    """The reader's language as render_time names it."""
    return "zh_CN" if viewer_language() == "zh" else "en"


def _slot_calendar(slots: list[Slot], timezone: str) -> list[tuple[str, list[Slot]]]:
    """The slots by day on the viewer's wall clock, in order: (day heading, that day's slots)."""
    language = _time_language()
    days: dict[str, tuple[str, list[Slot]]] = {}
    for slot in sorted(slots, key=lambda item: item.start):
        local = slot.start.astimezone(zone(timezone))
        heading = render_time(slot.start, timezone, language, date_only=True)
        days.setdefault(local.date().isoformat(), (heading, []))[1].append(slot)
    return [days[key] for key in sorted(days)]


@bp.post("/scheduling/requests/<int:request_id>/book")
@requires(Action.MANAGE_SCHEDULING)
def hr_book(request_id: int) -> ResponseReturnValue:
    """HR books a slot for the candidate."""
    _visible_request(request_id)
    try:
        service.hr_book(app_store(), app_config(), current_principal(), request_id, _start_field())
    except service.SlotTakenError as exc:
        flash(say_error(exc), "error")
    except FORM_ERRORS as exc:
        flash(say_error(exc), "error")
    else:
        if channel_ready(app_config(), "email"):
            flash(
                _("The interview is booked; the invitations are queued (see the outbox)."),
                "success",
            )
        else:
            flash(
                _(
                    "The interview is booked. No mail relay is configured, so no invitation was "
                    "sent: tell the candidate and the interviewers yourself."
                ),
                "warning",
            )
    return redirect(url_for("scheduling.detail", request_id=request_id))


@bp.post("/scheduling/requests/<int:request_id>/cancel")
@requires(Action.MANAGE_SCHEDULING)
def hr_cancel(request_id: int) -> ResponseReturnValue:
    """HR cancels the booked interview."""
    _visible_request(request_id)
    try:
        service.hr_cancel(app_store(), app_config(), current_principal(), request_id)
    except FORM_ERRORS as exc:
        flash(say_error(exc), "error")
    else:
        if channel_ready(app_config(), "email"):
            flash(
                _("The interview was cancelled; the cancellations are queued (see the outbox)."),
                "success",
            )
        else:
            flash(
                _(
                    "The interview was cancelled. No mail relay is configured, so nobody was "
                    "told: tell the candidate and the interviewers yourself."
                ),
                "warning",
            )
    return redirect(url_for("scheduling.detail", request_id=request_id))


# --- availability -------------------------------------------------------------------------------


def _editable_people() -> list[User]:
    return service.editable_people(app_store(), current_principal())


@bp.get("/scheduling/availability")
@requires(Action.EDIT_AVAILABILITY)
def availability() -> ResponseReturnValue:
    """A person's zone, weekly hours, focus blocks, busy-time import (own, or people one may
    edit)."""
    try:
        user_id = int(request.args.get("user_id", current_user().id))
    except ValueError:
        user_id = current_user().id
    people = _people_including(user_id)
    profile = app_store().scheduling.profile(user_id)
    person = app_store().users.get(user_id)
    values = {
        "timezone": profile.timezone if profile else person.timezone,
        "holiday_region": profile.holiday_region if profile else "default",
        "max_per_day": str(profile.max_per_day if profile else 4),
        "caldav_calendar": (profile.caldav_calendar or "") if profile else "",
    }
    week = week_from_profile(
        profile.working_hours if profile else None, profile.focus_blocks if profile else None
    )
    return _availability_page(people, user_id, week, values)


def _people_including(user_id: int) -> list[User]:
    """The people one may edit; NotFoundError unless `user_id` is one of them."""
    people = _editable_people()
    if user_id not in {u.id for u in people}:
        raise NotFoundError(f"no person {user_id}")
    return people


def _availability_page(
    people: list[User], user_id: int, week: Week, values: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    store = app_store()
    return render_template(
        "scheduling/availability.html",
        people=people,
        person=store.users.get(user_id),
        profile=store.scheduling.profile(user_id),
        values=values,
        week=week,
        weekday_names=WEEKDAY_NAMES,
        max_ranges=MAX_RANGES,
        max_focus=MAX_FOCUS,
        busy_blocks=store.scheduling.busy_count(user_id),
        zones=zone_names(),
        tzdata=tzdata_version(),
        caldav=bool(app_config().scheduling.caldav_url),
    ), status


@bp.post("/scheduling/availability/<int:user_id>")
@requires(Action.EDIT_AVAILABILITY)
def save_availability(user_id: int) -> ResponseReturnValue:
    """Save a person's availability, or apply an editing button of the week editor (adding or
    removing a row, copying Monday) and show the form again unsaved."""
    people = _people_including(user_id)
    values = {
        name: request.form.get(name, "")
        for name in ("timezone", "holiday_region", "max_per_day", "caldav_calendar")
    }
    week = week_from_form(request.form)
    if edit_week(week, request.form):
        return _availability_page(people, user_id, week, values)
    checked = check_week(week)
    if checked is None:
        return _availability_page(people, user_id, week, values, 422)
    working_hours, focus_blocks = checked
    try:
        service.save_availability(
            app_store(),
            current_principal(),
            user_id=user_id,
            timezone=values["timezone"].strip(),
            holiday_region=values["holiday_region"] or "default",
            working_hours=working_hours,
            focus_blocks=focus_blocks,
            max_per_day=_int_field("max_per_day", 4),
            caldav_calendar=values["caldav_calendar"],
        )
    except FORM_ERRORS as exc:
        flash(say_error(exc), "error")
        return _availability_page(people, user_id, week, values, 422)
    flash(_("The availability was saved."), "success")
    return redirect(url_for("scheduling.availability", user_id=user_id))


@bp.post("/scheduling/availability/<int:user_id>/ics")
@requires(Action.EDIT_AVAILABILITY)
def import_ics(user_id: int) -> ResponseReturnValue:
    """Import busy times from an uploaded ICS file (only times are kept)."""
    upload = request.files.get("ics")
    try:
        if upload is None or not upload.filename:
            raise service.SchedulingError(_("Choose an .ics file."))
        data = upload.stream.read(MAX_ICS_UPLOAD + 1)
        if len(data) > MAX_ICS_UPLOAD:
            raise service.SchedulingError(_("The file is larger than 5 MiB."))
        imported = service.import_ics_file(
            app_store(), app_config(), current_principal(), user_id=user_id, data=data
        )
    except FORM_ERRORS as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("%(count)d busy times were imported.", count=imported.blocks), "success")
        for line in _skipped_lines(imported.skipped):
            flash(line, "error")
    return redirect(url_for("scheduling.availability", user_id=user_id))


def _skipped_lines(skipped: tuple[SkippedEvent, ...]) -> list[str]:
    """One line per event an import left out (the first few), named so it can be fixed."""
    reasons = {
        "no-start": _("it has no start time"),
        "unreadable-time": _("its start, end or duration cannot be read"),
        "unreadable-repetition": _("its repetition rule cannot be read"),
        "unreadable-period": _("one of its periods cannot be read"),
    }
    lines = []
    for item in skipped[:SKIPPED_SHOWN]:
        if item.name:
            what = item.name
        elif item.position:
            what = _("event %(number)d in the file", number=item.position)
        else:
            what = _("a free/busy block")
        lines.append(
            _("Not imported: %(event)s (%(reason)s).", event=what, reason=reasons[item.reason])
        )
    if len(skipped) > SKIPPED_SHOWN:
        rest = len(skipped) - SKIPPED_SHOWN
        lines.append(_("%(count)d more events were not imported.", count=rest))
    return lines


@bp.post("/scheduling/availability/<int:user_id>/caldav")
@requires(Action.EDIT_AVAILABILITY)
def sync_caldav(user_id: int) -> ResponseReturnValue:
    """Read busy times from the CalDAV server now."""
    try:
        count = service.sync_caldav_for(
            app_store(), app_config(), current_principal(), user_id=user_id
        )
    except FORM_ERRORS as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("%(count)d busy times were read from the calendar server.", count=count), "success")
    return redirect(url_for("scheduling.availability", user_id=user_id))


# --- outbox and in-app notifications --------------------------------------------------------


@bp.get("/scheduling/outbox")
@requires(Action.MANAGE_OUTBOX)
def outbox() -> ResponseReturnValue:
    """Dead letters (and what waits), for a person to resend or leave."""
    store = app_store()
    return render_template(
        "scheduling/outbox.html",
        dead=store.outbox.visible(visibility(), states=("dead",)),
        waiting=store.outbox.visible(visibility(), states=("pending", "sending")),
        counts=store.outbox.counts(),
        relay_ready=channel_ready(app_config(), "email"),
        sms_ready=channel_ready(app_config(), "sms"),
    )


@bp.post("/scheduling/outbox/<int:outbox_id>/requeue")
@requires(Action.MANAGE_OUTBOX)
def requeue(outbox_id: int) -> ResponseReturnValue:
    """Send a dead-lettered message again (same Message-ID)."""
    requeue_dead(app_store(), current_principal(), outbox_id)
    flash(_("The message will be sent again."), "success")
    return redirect(url_for("scheduling.outbox"))


@bp.get("/scheduling/inbox")
@requires(Action.VIEW_INAPP_NOTIFICATIONS)
def inbox() -> ResponseReturnValue:
    """The signed-in person's scheduling notifications."""
    return render_template(
        "scheduling/inbox.html", items=app_store().inapp.for_user(current_user().id)
    )


@bp.post("/scheduling/inbox/<int:notification_id>/read")
@requires(Action.VIEW_INAPP_NOTIFICATIONS)
def mark_read(notification_id: int) -> ResponseReturnValue:
    """Mark one of one's notifications read."""
    if not app_store().inapp.mark_read(current_user().id, notification_id):
        raise NotFoundError(f"no notification {notification_id}")
    return redirect(url_for("scheduling.inbox"))


# --- the candidate's page (signed link, no account) ---------------------------------------------


def _candidate_request(token: str) -> SchedulingRequest:
    try:
        found, _link = verify_scheduling_link(app_store(), token)
    except InvalidSchedulingLinkError:
        abort(404, description=_("This scheduling link is not valid or has expired."))
    return found


@bp.get("/schedule/<token>")
@public
def candidate_page(token: str) -> ResponseReturnValue:
    """The candidate's free slots in their own zone; pick, move or cancel."""
    store, config = app_store(), app_config()
    found = _candidate_request(token)
    interview = store.interviews.get(found.interview_id)
    language = "zh_CN" if interview.language.lower().startswith("zh") else "en"
    booking = _live_booking(found)
    days: list[tuple[str, list[Slot]]] = []
    problem = ""
    try:
        days = _by_day(
            service.find_slots(store, config, found, limit=None), found.candidate_timezone
        )
    except FORM_ERRORS:
        problem = _("No times can be offered right now; we will contact you.")
    may_change = booking is not None and utcnow() < booking.start - timedelta(
        hours=config.scheduling.reschedule_cutoff_hours
    )
    offer = booking is None or may_change
    return render_template(
        "scheduling/candidate.html",
        token=token,
        req=found,
        days=days,
        booking=booking,
        room_opens=(
            booked_room_opens_at(store, found.interview_id, booking)
            if booking is not None
            else None
        ),
        late_until=_late_rooms_until(found) if offer else None,
        may_change=may_change,
        problem=problem,
        zones=zone_names(),
        requisition=store.requisitions.get(interview.requisition_id),
        interview=interview,
        when=lambda moment: render_time(moment, found.candidate_timezone, language),
        to_stamp=to_stamp,
        weekdays=[_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        day_title=lambda moment: render_time(
            moment, found.candidate_timezone, language, date_only=True
        ),
        windows={int(w[0]): (w[1], w[2]) for w in found.preferred_windows},
    )


def _by_day(ranked: list[Slot], timezone: str) -> list[tuple[str, list[Slot]]]:
    """The best slots of each of the candidate's local days, in time order (a choice across
    days rather than one crowded morning)."""
    tz = zone(timezone)
    per_day: dict[str, list[Slot]] = {}
    for slot in ranked:  # best first
        day = slot.start.astimezone(tz).date().isoformat()
        chosen = per_day.setdefault(day, [])
        if len(chosen) < SLOTS_PER_DAY:
            chosen.append(slot)
    ordered = sorted(per_day.items())[:DAYS_SHOWN]
    return [(day, sorted(items, key=lambda slot: slot.start)) for day, items in ordered]


@bp.post("/schedule/<token>/zone")
@public
def candidate_zone(token: str) -> ResponseReturnValue:
    """The candidate states their time zone (and, optionally, preferred windows)."""
    found = _candidate_request(token)
    windows = []
    for weekday in request.form.getlist("weekday"):
        windows.append(
            [weekday, request.form.get("from", "09:00"), request.form.get("to", "18:00")]
        )
    try:
        service.update_wish(
            app_store(), found, timezone=request.form.get("timezone", "").strip(), windows=windows
        )
    except (ZoneError, ValueError) as exc:
        flash(say_error(exc), "error")
    return redirect(url_for("scheduling.candidate_page", token=token))


@bp.post("/schedule/<token>/book")
@public
def candidate_book(token: str) -> ResponseReturnValue:
    """The candidate books (or moves to) a slot."""
    found = _candidate_request(token)
    try:
        service.candidate_book(app_store(), app_config(), found, _start_field())
    except service.SlotTakenError as exc:
        flash(_("That time is no longer free.") + " " + str(exc), "error")
    except (ApplianceError, ValueError) as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("Your interview is booked. A confirmation is on its way."), "success")
    return redirect(url_for("scheduling.candidate_page", token=token))


@bp.post("/schedule/<token>/cancel")
@public
def candidate_cancel(token: str) -> ResponseReturnValue:
    """The candidate cancels (until the cut-off)."""
    found = _candidate_request(token)
    try:
        service.candidate_cancel(app_store(), app_config(), found)
    except ApplianceError as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("Your interview was cancelled."), "success")
    return redirect(url_for("scheduling.candidate_page", token=token))
