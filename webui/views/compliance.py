"""Compliance pages: notices, consents of an interview, region analysis settings, the bias
audit, and the holiday calendar. Thin: every rule lives in `appliance.compliance`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from appliance.compliance import (
    analysis_settings,
    bias,
    bias_publication,
    business_days,
    common,
    consents,
    illinois,
    notices,
    policy,
)
from appliance.compliance.common import REGIONS, ComplianceError, regions_in_scope
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.words import said
from appliance.security.permissions import Action
from appliance.store.compliance import Notice, compliance_of
from webui.bias_pdf import bias_summary_pdf
from webui.security import app_store, current_principal, requires, visibility
from webui.words import say_error

bp = Blueprint("compliance", __name__)

FIELD_LABELS = {
    "title": lazy_gettext("Title"),
    "controller": lazy_gettext("Who is responsible (controller)"),
    "purposes": lazy_gettext("Purposes of the processing"),
    "retention": lazy_gettext("How long the data are kept"),
    "rights": lazy_gettext("The candidate's rights"),
    "automated_evaluation": lazy_gettext("Automated evaluation: that it is used and how"),
    "body": lazy_gettext("Further information"),
}
KIND_LABELS = {
    consents.AI_EVALUATION: lazy_gettext("Consent to AI evaluation"),
    consents.VISUAL_CUES: lazy_gettext("Consent to visual-cue analysis"),
    consents.BIOMETRIC: lazy_gettext("Separate consent to biometric processing"),
    consents.FACIAL_RECOGNITION_WAIVER: lazy_gettext("Facial-recognition waiver (Maryland)"),
    consents.REFUSE_AUTOMATED_DECISION: lazy_gettext("Refusal of a solely automated decision"),
}
ACTION_LABELS = {
    policy.PolicyAction.RUN_AI_SCORING.value: lazy_gettext("AI scoring"),
    policy.PolicyAction.RUN_VISUAL_CUES.value: lazy_gettext("Visual cues"),
    policy.PolicyAction.RUN_BIOMETRICS.value: lazy_gettext("Biometric processing"),
    policy.PolicyAction.RUN_AFFECT_ANALYSIS.value: lazy_gettext("Affect analysis"),
    policy.PolicyAction.EXPORT_OUTSIDE_REGION.value: lazy_gettext("Export outside the region"),
    policy.PolicyAction.SHARE_VIDEO.value: lazy_gettext("Sharing a video"),
    policy.PolicyAction.COLLECT_SELF_ID.value: lazy_gettext("Voluntary self-identification"),
}
DIMENSION_LABELS = {
    bias.SEX: lazy_gettext("Sex"),
    bias.RACE: lazy_gettext("Race/ethnicity"),
    bias.INTERSECTION: lazy_gettext("Race/ethnicity and sex"),
}
# What "under 2 percent" is a share of (6 RCNY 5-301(d)), in the words the page uses.
EXCLUSION_BASE_LABELS = {
    bias.BASE_ALL: lazy_gettext("everyone assessed (unknown category included)"),
    bias.BASE_KNOWN: lazy_gettext("the people whose category is known"),
}
CHANNEL_LABELS = {
    "email": lazy_gettext("e-mail"),
    "letter": lazy_gettext("letter"),
    "portal": lazy_gettext("career portal"),
    "in_person": lazy_gettext("in person"),
}


def _problem(error: ComplianceError) -> str:
    """The core's message in the reader's language where the core marked it translatable
    (otherwise English: it names fields and legal sources precisely)."""
    return say_error(error)


# --- notices -----------------------------------------------------------------------------------


@bp.get("/compliance/notices")
@requires(Action.MANAGE_NOTICES)
def notice_list() -> ResponseReturnValue:
    """Every notice version in the viewer's regions, newest first per region and language."""
    return render_template(
        "compliance/notices.html",
        notices=notices.visible_notices(app_store(), current_principal()),
    )


def _notice_fields() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in FIELD_LABELS}


def _notice_form(
    notice: Notice | None, values: dict[str, Any], status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "compliance/notice_form.html",
            notice=notice,
            values=values,
            labels=FIELD_LABELS,
            required=notices.REQUIRED_FIELDS,
            regions=regions_in_scope(visibility()),
        ),
        status,
    )


@bp.route("/compliance/notices/new", methods=["GET", "POST"])
@requires(Action.MANAGE_NOTICES)
def notice_new() -> ResponseReturnValue:
    """Write a new notice (saved as a draft version)."""
    if request.method == "GET":
        return _notice_form(None, {"language": "en"})
    values: dict[str, Any] = {
        **_notice_fields(),
        "region": request.form.get("region", ""),
        "language": request.form.get("language", ""),
    }
    try:
        notice = notices.save_notice(
            app_store(),
            current_principal(),
            region=values["region"],
            language=values["language"],
            fields=_notice_fields(),
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _notice_form(None, values, 422)
    flash(_("Draft saved as version %(version)s.", version=notice.version), "success")
    return redirect(url_for("compliance.notice_show", notice_id=notice.id))


@bp.get("/compliance/notices/<int:notice_id>")
@requires(Action.MANAGE_NOTICES)
def notice_show(notice_id: int) -> ResponseReturnValue:
    """One version as the candidate reads it, with what is missing before it can be published."""
    store = app_store()
    notice = notices.get_notice(store, current_principal(), notice_id)
    # What the interviews of jobs with a coding round read: HR's text and the round's paragraph.
    rounds = notices.rounds_for_region(store, notice.region)
    return render_template(
        "compliance/notice.html",
        notice=notice,
        text=notices.notice_text(notice, rounds),
        rounds=rounds,
        missing=notices.missing_fields(notice.fields()),
        labels=FIELD_LABELS,
    )


@bp.route("/compliance/notices/<int:notice_id>/edit", methods=["GET", "POST"])
@requires(Action.MANAGE_NOTICES)
def notice_edit(notice_id: int) -> ResponseReturnValue:
    """Change a draft; editing a published version saves the next version."""
    store, principal = app_store(), current_principal()
    notice = notices.get_notice(store, principal, notice_id)
    if request.method == "GET":
        return _notice_form(
            notice, {**notice.fields(), "region": notice.region, "language": notice.language}
        )
    values: dict[str, Any] = {
        **_notice_fields(),
        "region": notice.region,
        "language": notice.language,
    }
    try:
        saved = notices.save_notice(
            store,
            principal,
            region=notice.region,
            language=notice.language,
            fields=_notice_fields(),
            notice_id=notice.id,
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _notice_form(notice, values, 422)
    flash(_("Draft saved as version %(version)s.", version=saved.version), "success")
    return redirect(url_for("compliance.notice_show", notice_id=saved.id))


@bp.post("/compliance/notices/<int:notice_id>/publish")
@requires(Action.MANAGE_NOTICES)
def notice_publish(notice_id: int) -> ResponseReturnValue:
    """Publish a draft (refused while a required field is empty)."""
    try:
        notice = notices.publish_notice(app_store(), current_principal(), notice_id)
    except notices.NoticeError as exc:
        missing = ", ".join(str(FIELD_LABELS[name]) for name in exc.missing)
        if missing:
            flash(_("The notice cannot be published; fill in: %(fields)s", fields=missing), "error")
        else:
            flash(_problem(exc), "error")
        return redirect(url_for("compliance.notice_show", notice_id=notice_id)), 303
    flash(_("Version %(version)s is published.", version=notice.version), "success")
    return redirect(url_for("compliance.notice_show", notice_id=notice.id))


# --- consents of an interview ----------------------------------------------------------------


def _consent_page(interview_id: int, status: int = 200) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    state = consents.interview_consents(store, principal, interview_id)
    interview = store.interviews.get(interview_id)
    requisition = store.requisitions.get(interview.requisition_id)
    regions = common.regions_for_interview(store, interview_id)
    repo = compliance_of(store)
    applicable = [n for region in (*regions, "default") for n in repo.notices.published_for(region)]
    decisions = {
        # A preview, not an attempt: nothing is refused, so nothing is logged.
        action.value: policy.decide_for_interview(
            store, action, interview_id, extra={"dry_run": True}
        )
        for action in (
            policy.PolicyAction.RUN_AI_SCORING,
            policy.PolicyAction.RUN_VISUAL_CUES,
            policy.PolicyAction.RUN_BIOMETRICS,
            policy.PolicyAction.RUN_AFFECT_ANALYSIS,
        )
    }
    return (
        render_template(
            "compliance/consents.html",
            interview=interview,
            requisition=requisition,
            regions=regions,
            state=state,
            notices=applicable,
            notice_texts={n.id: notices.notice_text(n) for n in applicable},
            kinds=KIND_LABELS,
            decisions=decisions,
            action_labels=ACTION_LABELS,
            channels=CHANNEL_LABELS,
            form=request.form if request.method == "POST" else {},
        ),
        status,
    )


@bp.get("/compliance/interviews/<int:interview_id>/consents")
@requires(Action.RECORD_CONSENT)
def consent_list(interview_id: int) -> ResponseReturnValue:
    """An interview's consents, notices sent, and what the policy allows with them."""
    return _consent_page(interview_id)


def _optional_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if value.isdigit() else None


@bp.post("/compliance/interviews/<int:interview_id>/consents")
@requires(Action.RECORD_CONSENT)
def consent_record(interview_id: int) -> ResponseReturnValue:
    """Record a consent, waiver or refusal the candidate gave (with the exact text shown)."""
    form = request.form
    given = form.get("given_at", "").strip()
    read = form.get("read_confirmed", "")
    try:
        consents.record_consent(
            app_store(),
            current_principal(),
            interview_id=interview_id,
            kind=form.get("kind", ""),
            text_shown=form.get("text_shown", ""),
            language=form.get("language", ""),
            notice_id=_optional_int("notice_id"),
            given_at=given or None,
            signed_name=form.get("signed_name") or None,
            interview_date=form.get("interview_date") or None,
            read_confirmed={"yes": True, "no": False}.get(read),
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _consent_page(interview_id, 422)
    flash(_("The consent record was saved."), "success")
    return redirect(url_for("compliance.consent_list", interview_id=interview_id))


@bp.post("/compliance/interviews/<int:interview_id>/consents/<int:consent_id>/withdraw")
@requires(Action.RECORD_CONSENT)
def consent_withdraw(interview_id: int, consent_id: int) -> ResponseReturnValue:
    """Record that the candidate withdrew a consent."""
    try:
        consents.withdraw_consent(
            app_store(), current_principal(), interview_id=interview_id, consent_id=consent_id
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _consent_page(interview_id, 422)
    flash(_("The consent was withdrawn."), "success")
    return redirect(url_for("compliance.consent_list", interview_id=interview_id))


@bp.post("/compliance/interviews/<int:interview_id>/deliveries")
@requires(Action.RECORD_CONSENT)
def delivery_record(interview_id: int) -> ResponseReturnValue:
    """Record when a published notice was sent for the interview."""
    notice_id = _optional_int("notice_id")
    try:
        if notice_id is None:
            raise notices.NoticeError(said("choose the notice that was sent"))
        notices.record_delivery(
            app_store(),
            current_principal(),
            interview_id=interview_id,
            notice_id=notice_id,
            sent_at=request.form.get("sent_at", "").strip() or None,
            channel=request.form.get("channel", "email"),
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _consent_page(interview_id, 422)
    flash(_("The notice delivery was recorded."), "success")
    return redirect(url_for("compliance.consent_list", interview_id=interview_id))


# --- region analysis settings ----------------------------------------------------------------


def _settings_page(status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "compliance/settings.html",
            settings=analysis_settings.region_analysis(app_store()),
            prohibited={
                region: policy.prohibition(policy.PolicyAction.RUN_AFFECT_ANALYSIS, region)
                for region in REGIONS
            },
            table=policy.policy_table(),
            policy_version=policy.POLICY_VERSION,
            action_labels=ACTION_LABELS,
        ),
        status,
    )


@bp.route("/compliance/settings", methods=["GET", "POST"])
@requires(Action.MANAGE_SETTINGS)
def settings() -> ResponseReturnValue:
    """Which optional analyses each region runs, and the policy table they are checked against."""
    if request.method == "GET":
        return _settings_page()
    form = request.form
    try:
        saved = analysis_settings.set_region_analysis(
            app_store(),
            current_principal(),
            form.get("region", ""),
            visual_cues=form.get("visual_cues") == "on",
            affect=form.get("affect") == "on",
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _settings_page(422)
    flash(_("The analyses of %(region)s were saved.", region=saved.region), "success")
    return redirect(url_for("compliance.settings"))


# --- bias audit ------------------------------------------------------------------------------


def _period() -> tuple[str | None, str | None, str, str]:
    """(start stamp, end stamp exclusive, start text, end text) from the query or form."""
    values = request.values
    start_text, end_text = values.get("start", "").strip(), values.get("end", "").strip()
    start = end = None
    try:
        if start_text:
            day = date.fromisoformat(start_text)
            start = to_stamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
        if end_text:
            day = date.fromisoformat(end_text) + timedelta(days=1)
            end = to_stamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
    except ValueError:
        raise ComplianceError(said("dates are written YYYY-MM-DD")) from None
    return start, end, start_text, end_text


def _audit_arguments() -> dict[str, Any]:
    regions = regions_in_scope(visibility())
    region = request.values.get("region", "") or (regions[0] if regions else "")
    start, end, _start_text, _end_text = _period()
    return {
        "region": region,
        "start": start,
        "end": end,
        "data_source": request.values.get("data_source", "") or bias.DEFAULT_SOURCE,
        "exclude_small": request.values.get("exclude_small") == "on",
        "exclusion_base": request.values.get("exclusion_base", "") or bias.DEFAULT_EXCLUSION_BASE,
    }


@bp.get("/compliance/bias")
@requires(Action.VIEW_BIAS_AUDIT)
def bias_page() -> ResponseReturnValue:
    """NY-2 impact-ratio tables with the ALL-1 four-fifths flags (aggregates only, no names)."""
    store, principal = app_store(), current_principal()
    regions = regions_in_scope(visibility())
    summary = None
    published: list[Any] = []
    status = 200
    try:
        arguments = _audit_arguments()
        if arguments["region"]:
            summary = bias.bias_audit(store, principal, **arguments)
            published = bias.published_audits(store, principal, arguments["region"])
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        status = 422
    return (
        render_template(
            "compliance/bias.html",
            regions=regions,
            summary=summary,
            published=published,
            dimension_labels=DIMENSION_LABELS,
            base_labels=EXCLUSION_BASE_LABELS,
            default_base=bias.DEFAULT_EXCLUSION_BASE,
            base_of=bias.exclusion_base_of,
            values=request.values,
            default_source=bias.DEFAULT_SOURCE,
            il_year=illinois.illinois_year_containing(utcnow().date()),
        ),
        status,
    )


@bp.post("/compliance/bias/publish")
@requires(Action.VIEW_BIAS_AUDIT)
def bias_publish() -> ResponseReturnValue:
    """Publish the audit summary as shown (NY-3)."""
    store, principal = app_store(), current_principal()
    try:
        arguments = _audit_arguments()
        if not request.form.get("region"):
            raise ComplianceError(said("choose the region of the audit"))
        published = bias.publish_audit(
            store, principal, bias.bias_audit(store, principal, **arguments)
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return redirect(url_for("compliance.bias_page")), 303
    flash(_("The audit of %(date)s was published.", date=published.audit_date), "success")
    return redirect(url_for("compliance.bias_page", region=published.region))


def _summary_labels() -> dict[str, str]:
    return {
        **{key: str(label) for key, label in DIMENSION_LABELS.items()},
        bias.SELECTION: _("Selection"),
        bias.SCORING: _("Scoring"),
    }


@bp.get("/compliance/bias/published/<int:audit_id>")
@requires(Action.VIEW_BIAS_AUDIT)
def bias_published(audit_id: int) -> ResponseReturnValue:
    """NY-3: a published summary as posted, with its CSV and PDF."""
    audit = bias_publication.published_audit(app_store(), current_principal(), audit_id)
    return render_template(
        "compliance/bias_published.html",
        audit=audit,
        tables=bias_publication.tables_of(audit.summary),
        labels=_summary_labels(),
        base_label=EXCLUSION_BASE_LABELS.get(
            bias.exclusion_base_of(audit.summary), bias.exclusion_base_of(audit.summary)
        ),
    )


@bp.get("/compliance/bias/published/<int:audit_id>.csv")
@requires(Action.VIEW_BIAS_AUDIT)
def bias_published_csv(audit_id: int) -> ResponseReturnValue:
    """A published summary as CSV, one row per outcome, dimension and category."""
    audit = bias_publication.published_audit(app_store(), current_principal(), audit_id)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(bias_publication.csv_rows(audit))
    name = f"bias-audit-{audit.region}-{audit.audit_date}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/compliance/bias/published/<int:audit_id>.pdf")
@requires(Action.VIEW_BIAS_AUDIT)
def bias_published_pdf(audit_id: int) -> ResponseReturnValue:
    """A published summary as a PDF, labels in the reader's language."""
    audit = bias_publication.published_audit(app_store(), current_principal(), audit_id)
    base = bias.exclusion_base_of(audit.summary)
    data = bias_summary_pdf(audit, _summary_labels(), str(EXCLUSION_BASE_LABELS.get(base, base)))
    name = f"bias-audit-{audit.region}-{audit.audit_date}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/compliance/bias/illinois")
@requires(Action.VIEW_BIAS_AUDIT)
def illinois_report() -> ResponseReturnValue:
    """IL-4: the annual race/ethnicity report (12 months ending 30 November, due 31 December)."""
    year_text = request.args.get("year", "")
    year = (
        int(year_text)
        if year_text.isdigit()
        else illinois.illinois_year_containing(utcnow().date())
    )
    try:
        report = illinois.illinois_report(app_store(), current_principal(), year=year)
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return redirect(url_for("compliance.bias_page")), 303
    return render_template("compliance/illinois.html", report=report)


# --- holidays --------------------------------------------------------------------------------


def _holidays_page(status: int = 200) -> ResponseReturnValue:
    regions = regions_in_scope(visibility())
    return (
        render_template(
            "compliance/holidays.html",
            holidays=compliance_of(app_store()).holidays.all(regions),
            regions=regions,
            form=request.form if request.method == "POST" else {},
        ),
        status,
    )


@bp.route("/compliance/holidays", methods=["GET", "POST"])
@requires(Action.MANAGE_NOTICES)
def holidays() -> ResponseReturnValue:
    """The holiday calendar business days skip (NY-1's ten business days)."""
    if request.method == "GET":
        return _holidays_page()
    form = request.form
    try:
        business_days.add_holiday(
            app_store(),
            current_principal(),
            region=form.get("region", ""),
            day=form.get("day", ""),
            name=form.get("name", ""),
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _holidays_page(422)
    flash(_("The holiday was saved."), "success")
    return redirect(url_for("compliance.holidays"))


@bp.post("/compliance/holidays/delete")
@requires(Action.MANAGE_NOTICES)
def holiday_delete() -> ResponseReturnValue:
    """Remove a holiday from a region's calendar."""
    form = request.form
    try:
        removed = business_days.remove_holiday(
            app_store(), current_principal(), region=form.get("region", ""), day=form.get("day", "")
        )
    except ComplianceError as exc:
        flash(_problem(exc), "error")
        return _holidays_page(422)
    if removed:
        flash(_("The holiday was removed."), "success")
    return redirect(url_for("compliance.holidays"))
