"""Hiring analytics and post-hire outcomes: the analytics page (charts, tables, CSV), the list
of hires with their outcomes, the outcome form and the outcome import. Thin: the rules live in
`appliance.analytics.hiring`, `.outcomes` and `.outcome_import`."""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from appliance.analytics.hiring import MIN_N, Analytics, BandRow, hiring_analytics, period_of_days
from appliance.analytics.questions import people_needed
from appliance.hiring.common import InvalidInputError
from appliance.hiring.outcome_import import (
    OutcomeImportError,
    OutcomePlan,
    plan_outcomes,
)
from appliance.hiring.outcomes import get_hire, hires, record_outcome, record_rating, remove_rating
from appliance.platform.clock import utcnow
from appliance.platform.stats import Estimate
from appliance.security.permissions import Action
from appliance.store.outcomes import OutcomeFields
from webui.charts import Bar, bar_chart
from webui.report_words import viewer_language
from webui.security import app_store, current_principal, requires
from webui.words import say

bp = Blueprint("analytics", __name__)

PROBATION_LABELS = {
    "pending": lazy_gettext("not known yet"),
    "passed": lazy_gettext("passed"),
    "extended": lazy_gettext("extended"),
    "failed": lazy_gettext("failed"),
}
OUTCOME_LABELS = {
    "performance": lazy_gettext("Performance rating"),
    "retention_12": lazy_gettext("Still employed after 12 months"),
}
TABLES = (
    "jobs",
    "departments",
    "scores",
    "hire_rate",
    "retention_6",
    "retention_12",
    "probation",
    "performance",
    "validity",
    "questions",
)


def _period() -> tuple[str | None, str | None, dict[str, str]]:
    values = {key: request.args.get(key, "").strip() for key in ("start", "end")}
    start, end = period_of_days(values["start"], values["end"])
    return start, end, values


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def rate_words(estimate: Estimate | None, n: int) -> str:
    """A rate with its interval in words, or why there is none."""
    if estimate is None:
        return str(_("not enough data (%(n)s of at least %(min)s people)", n=n, min=MIN_N))
    return str(
        _(
            "%(rate)s (95 %% interval %(low)s to %(high)s), %(n)s people",
            rate=_percent(estimate.value),
            low=_percent(estimate.low),
            high=_percent(estimate.high),
            n=n,
        )
    )


def mean_words(estimate: Estimate | None, n: int) -> str:
    """A mean rating with its interval in words, or why there is none."""
    if estimate is None:
        return str(_("not enough data (%(n)s of at least %(min)s people)", n=n, min=MIN_N))
    return str(
        _(
            "%(mean)s of 5 (95 %% interval %(low)s to %(high)s), %(n)s people",
            mean=f"{estimate.value:.2f}",
            low=f"{estimate.low:.2f}",
            high=f"{estimate.high:.2f}",
            n=n,
        )
    )


def _band_chart(
    title: str,
    rows: list[BandRow],
    figure: Callable[[float], str],
    *,
    minimum: float = 0.0,
    maximum: float = 1.0,
) -> Any:
    """Bars per score band with their intervals; a band without enough people says so."""
    bars = [
        Bar(
            _("score %(band)s", band=row.band),
            row.estimate.value if row.estimate else None,
            row.estimate.low if row.estimate else None,
            row.estimate.high if row.estimate else None,
            figure(row.estimate.value) if row.estimate else _("not enough data (%(n)s)", n=row.n),
        )
        for row in rows
    ]
    return bar_chart(title, bars, minimum=minimum, maximum=maximum)


def _rate_chart(title: str, rows: list[BandRow]) -> Any:
    return _band_chart(title, rows, _percent)


def _mean_chart(title: str, rows: list[BandRow]) -> Any:
    return _band_chart(title, rows, lambda mean: f"{mean:.2f}", minimum=1.0, maximum=5.0)


def _charts(found: Analytics) -> dict[str, Any]:
    histogram = bar_chart(
        _("People by overall score"),
        [
            Bar(_("score %(band)s", band=row.band), float(row.n), note=str(row.n))
            for row in found.score_histogram
        ],
        maximum=float(max([row.n for row in found.score_histogram] + [1])),
    )
    funnel = bar_chart(
        _("Hiring funnel"),
        [
            Bar(label, float(value), note=str(value))
            for label, value in (
                (_("Applied"), sum(r.applied for r in found.by_job)),
                (_("Interviewed"), sum(r.interviewed for r in found.by_job)),
                (_("Advanced"), sum(r.advanced for r in found.by_job)),
                (_("Hired"), sum(r.hired for r in found.by_job)),
            )
        ],
        maximum=float(max([sum(r.applied for r in found.by_job), 1])),
    )
    return {
        "funnel": funnel,
        "histogram": histogram,
        "hire_rate": _rate_chart(_("Hired, by overall score"), found.hire_rate),
        "retention_6": _rate_chart(
            _("Still employed after 6 months, by overall score"), found.retention[6]
        ),
        "retention_12": _rate_chart(
            _("Still employed after 12 months, by overall score"), found.retention[12]
        ),
        "probation": _rate_chart(_("Probation passed, by overall score"), found.probation),
        "performance": _mean_chart(
            _("Mean performance rating, by overall score"), found.performance
        ),
    }


@bp.get("/analytics")
@requires(Action.VIEW_ANALYTICS)
def index() -> ResponseReturnValue:
    """The analytics page: funnel, time to hire, scores against hiring and outcomes, validity."""
    try:
        start, end, values = _period()
    except InvalidInputError:
        flash(_("Dates are written YYYY-MM-DD."), "error")
        start, end, values = None, None, {"start": "", "end": ""}
    found = hiring_analytics(app_store(), current_principal(), start=start, end=end)
    return render_template(
        "analytics/index.html",
        found=found,
        charts=_charts(found),
        values=values,
        rate_words=rate_words,
        mean_words=mean_words,
        outcome_labels=OUTCOME_LABELS,
        min_n=MIN_N,
        language=viewer_language(),
        people_needed=people_needed(),
    )


def _csv_rows(found: Analytics, table: str, language: str) -> list[list[Any]]:
    def est(row: BandRow) -> list[Any]:
        e = row.estimate
        return [
            row.band,
            row.n,
            *([round(e.value, 4), round(e.low, 4), round(e.high, 4)] if e else ["", "", ""]),
        ]

    if table in ("jobs", "departments"):
        rows = found.by_job if table == "jobs" else found.by_department
        return [
            [
                "group",
                "department",
                "applied",
                "interviewed",
                "advanced",
                "hired",
                "median_days_to_hire",
            ]
        ] + [
            [
                r.label,
                r.department,
                r.applied,
                r.interviewed,
                r.advanced,
                r.hired,
                "" if r.days_to_hire is None else round(r.days_to_hire, 1),
            ]
            for r in rows
        ]
    if table == "scores":
        return [["score_band", "people"]] + [[r.band, r.n] for r in found.score_histogram]
    if table == "questions":
        header = ["question", "competency", "people", "spearman_rho", "low_95", "high_95"]
        return [[*header, "p_holm", "predicts_nothing"]] + [
            [
                row.text,
                row.dimension_key,
                row.n,
                round(row.correlation.rho, 4) if row.correlation else "",
                round(row.interval[0], 4) if row.interval else "",
                round(row.interval[1], 4) if row.interval else "",
                round(row.p_adjusted, 4) if row.p_adjusted is not None else "",
                "yes" if row.predicts_nothing else "no",
            ]
            for row in found.questions
        ]
    if table == "validity":
        return [
            ["competency", "outcome", "people", "spearman_rho", "p_value", "p_holm", "predicts"]
        ] + [
            [
                row.names.get(language, row.names.get("en", row.key)),
                row.outcome,
                row.correlation.n if row.correlation else "",
                round(row.correlation.rho, 4) if row.correlation else "",
                round(row.correlation.p_value, 4) if row.correlation else "",
                round(row.p_adjusted, 4) if row.p_adjusted is not None else "",
                "" if row.predicts is None else ("yes" if row.predicts else "no"),
            ]
            for row in found.validity
        ]
    bands = {
        "hire_rate": found.hire_rate,
        "retention_6": found.retention[6],
        "retention_12": found.retention[12],
        "probation": found.probation,
        "performance": found.performance,
    }[table]
    measure = "mean_rating" if table == "performance" else "rate"
    return [["score_band", "people", measure, "low_95", "high_95"]] + [est(r) for r in bands]


@bp.get("/analytics.csv")
@requires(Action.VIEW_ANALYTICS)
def table_csv() -> ResponseReturnValue:
    """One of the analytics tables as CSV (the same figures as the page)."""
    table = request.args.get("table", "")
    if table not in TABLES:
        raise InvalidInputError(
            [_("Choose one of the tables: %(names)s.", names=", ".join(TABLES))]
        )
    start, end, _values = _period()
    found = hiring_analytics(app_store(), current_principal(), start=start, end=end)
    language = viewer_language()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(_csv_rows(found, table, language))
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="analytics-{table}.csv"'},
    )


# --- outcomes ----------------------------------------------------------------------------------


@bp.get("/outcomes")
@requires(Action.RECORD_OUTCOMES)
def outcomes() -> ResponseReturnValue:
    """Everyone hired, with what has been recorded since."""
    return render_template(
        "analytics/outcomes.html",
        hires=hires(app_store(), current_principal()),
        probation_labels=PROBATION_LABELS,
    )


def _fields() -> tuple[str, OutcomeFields]:
    form = request.form
    left = form.get("left_on", "").strip() or None
    voluntary_text = form.get("left_voluntarily", "")
    voluntary = None if not left else {"yes": True, "no": False}.get(voluntary_text)
    problems = []
    days: dict[str, str | None] = {}
    for name, label in (("start_date", _("Start date")), ("left_on", _("Leaving date"))):
        text = form.get(name, "").strip()
        try:
            days[name] = date.fromisoformat(text).isoformat() if text else None
        except ValueError:
            problems.append(_("%(field)s: write the date as YYYY-MM-DD.", field=label))
    if left and voluntary is None:
        problems.append(_("Say whether the person left voluntarily."))
    if problems:
        raise InvalidInputError(problems)
    return form.get("employee_id", ""), OutcomeFields(
        days["start_date"], form.get("probation", "pending"), days["left_on"], voluntary
    )


@bp.route("/outcomes/<int:candidate_id>/<int:requisition_id>", methods=["GET", "POST"])
@requires(Action.RECORD_OUTCOMES)
def outcome(candidate_id: int, requisition_id: int) -> ResponseReturnValue:
    """One hire's outcome: the form, its ratings, and saving it."""
    store, principal = app_store(), current_principal()
    problems: list[str] = []
    if request.method == "POST":
        try:
            employee, fields = _fields()
            record_outcome(
                store,
                principal,
                candidate_id=candidate_id,
                requisition_id=requisition_id,
                employee_id=employee,
                fields=fields,
            )
        except InvalidInputError as error:
            problems = error.problems
        else:
            flash(_("The outcome is saved."), "success")
            return redirect(
                url_for(".outcome", candidate_id=candidate_id, requisition_id=requisition_id)
            )
    hire = get_hire(store, principal, candidate_id, requisition_id)
    return render_template(
        "analytics/outcome.html",
        hire=hire,
        problems=problems,
        form=request.form if request.method == "POST" else None,
        probation_labels=PROBATION_LABELS,
        today=utcnow().date().isoformat(),  # the rules' 'not in the future' is in UTC
    ), (422 if problems else 200)


@bp.post("/outcomes/<int:candidate_id>/<int:requisition_id>/ratings")
@requires(Action.RECORD_OUTCOMES)
def add_rating(candidate_id: int, requisition_id: int) -> ResponseReturnValue:
    """Add a performance rating (or replace the one of the same date)."""
    try:
        record_rating(
            app_store(),
            current_principal(),
            candidate_id=candidate_id,
            requisition_id=requisition_id,
            rated_on=request.form.get("rated_on", ""),
            rating=request.form.get("rating", ""),
        )
    except InvalidInputError as error:
        for problem in error.problems:
            flash(say(problem), "error")
    else:
        flash(_("The rating is saved."), "success")
    return redirect(url_for(".outcome", candidate_id=candidate_id, requisition_id=requisition_id))


@bp.post("/outcomes/<int:candidate_id>/<int:requisition_id>/ratings/remove")
@requires(Action.RECORD_OUTCOMES)
def delete_rating(candidate_id: int, requisition_id: int) -> ResponseReturnValue:
    """Remove the rating of a date (a mistake corrected)."""
    remove_rating(
        app_store(),
        current_principal(),
        candidate_id=candidate_id,
        requisition_id=requisition_id,
        rated_on=request.form.get("rated_on", ""),
    )
    flash(_("The rating is removed."), "success")
    return redirect(url_for(".outcome", candidate_id=candidate_id, requisition_id=requisition_id))


# The checked file travels back with the "import as checked" form, base64 and form-encoded
# (about 4/3 of its size): the page takes files whose round trip fits the request limit; the
# API takes them up to MAX_BYTES.
PAGE_MAX_BYTES = 3 << 20


def _staged() -> tuple[str, bytes] | None:
    """The file of the form: uploaded now, or carried from the check the person just saw."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.stream.read(PAGE_MAX_BYTES + 1)
        if len(data) > PAGE_MAX_BYTES:
            raise OutcomeImportError(
                _(
                    "The file is larger than %(mib)s MiB: split it, or send it through the API.",
                    mib=PAGE_MAX_BYTES >> 20,
                )
            )
        return upload.filename, data
    staged = request.form.get("staged", "")
    if not staged:
        return None
    try:
        data = base64.b64decode(staged, validate=True)
    except (binascii.Error, ValueError):
        raise OutcomeImportError(
            _("The checked file did not come back intact: choose it again.")
        ) from None
    if hashlib.sha256(data).hexdigest() != request.form.get("sha256", ""):
        raise OutcomeImportError(_("The checked file did not come back intact: choose it again."))
    return request.form.get("name", "outcomes.csv"), data


@bp.route("/outcomes/import", methods=["GET", "POST"])
@requires(Action.RECORD_OUTCOMES)
def import_outcomes() -> ResponseReturnValue:
    """Check an outcome file (nothing written), then import it as checked."""
    plan: OutcomePlan | None = None
    error: str | None = None
    staged: tuple[str, bytes] | None = None
    if request.method == "POST":
        try:
            staged = _staged()
            if staged is None:
                error = _("Choose a CSV or XLSX file.")
            else:
                plan = plan_outcomes(
                    app_store(),
                    current_principal(),
                    staged[0],
                    staged[1],
                    apply=request.form.get("apply") == "1",
                )
        except OutcomeImportError as problem:
            error = str(problem)
    status = 422 if error or (plan is not None and plan.problems) else 200
    return render_template(
        "analytics/import.html",
        plan=plan,
        error=error,
        name=staged[0] if staged else "",
        staged=base64.b64encode(staged[1]).decode("ascii")
        if staged and plan and plan.ok and not plan.applied
        else "",
        max_mib=PAGE_MAX_BYTES >> 20,
    ), status
