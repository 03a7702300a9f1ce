"""AI reports: scores with evidence, current scores after overrides, and the override form."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.analysis.interview_review import override_interview_score
from appliance.analysis.report_document import (
    explanation,
    interview_document,
    log_document_read,
    log_explanation_export,
    report_document,
    report_page,
)
from appliance.hiring.report_views import ReportDetail
from appliance.hiring.review import (
    DECISIONS,
    RECOMMENDATIONS,
    ReviewError,
    log_candidate_read,
    override_score,
)
from appliance.platform.errors import RefusedError
from appliance.security.permissions import Action, allowed
from webui import report_words
from webui.report_pdf import ReportFontMissingError, explanation_pdf, report_pdf
from webui.security import app_store, current_principal, requires
from webui.words import say_error

bp = Blueprint("reports", __name__)
report_words.register(bp)


def _viewer_language() -> str:
    """The language the viewer reads the page in (`en`, `zh`): a transcript in another one is
    shown beside its machine translation."""
    return report_words.viewer_language()


def _legacy_name(key: str, name: str) -> str:
    """An older report's competency name; a bare key (the job has no model naming it) in words."""
    return key.replace("_", " ").capitalize() if name == key else name


def _legacy_rows(detail: ReportDetail) -> list[dict[str, Any]]:
    """An older report's scores (its `scores` shape) as the summary card charts them."""
    return [
        {
            "key": row.key,
            "name": _legacy_name(row.key, row.name),
            "score": row.current,
            "ai_score": row.ai_score,
            "override": row.overridden,
        }
        for row in detail.scores
    ]


def _report_page(
    report_id: int,
    *,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    detail, document = report_page(store, principal, report_id)
    log_candidate_read(store, principal, detail.candidate.pseudonym, f"report:{report_id}")
    return (
        render_template(
            "reports/show.html",
            detail=detail,
            doc=document,
            may_override=allowed(principal, Action.OVERRIDE_SCORE) is not None,
            viewer_language=_viewer_language(),
            decisions=DECISIONS,
            recommendations=RECOMMENDATIONS,
            legacy_rows=_legacy_rows(detail) if detail.scored else [],
            legacy_names={row.key: _legacy_name(row.key, row.name) for row in detail.scores},
            problems=problems or [],
            values=values or {},
        ),
        status,
    )


@bp.get("/reports/<int:report_id>")
@requires(Action.VIEW_REPORTS)
def show(report_id: int) -> ResponseReturnValue:
    """A report: media, steps run, scores with evidence, overrides; read-only unless the
    viewer may override scores."""
    return _report_page(report_id)


@bp.post("/reports/<int:report_id>/overrides")
@requires(Action.OVERRIDE_SCORE)
def override(report_id: int) -> ResponseReturnValue:
    """Replace an AI score with a person's, with a mandatory reason."""
    store, principal = app_store(), current_principal()
    form = request.form
    try:
        override_score(
            store,
            principal,
            report_id=report_id,
            dimension=form.get("dimension", ""),
            new_score=_form_score(form),
            reason=form.get("reason", ""),
        )
    except RefusedError as exc:
        values = {key: form.get(key, "") for key in ("dimension", "score", "reason")}
        return _report_page(report_id, problems=[say_error(exc)], values=values, status=422)
    flash(_("The score was overridden."), "success")
    return redirect(url_for("reports.show", report_id=report_id), 303)


# --- the report document: interview view, JSON and PDF exports, the candidate's explanation ---


def _wants_transcript() -> bool:
    """Whether the PDF should carry every answer's transcript (`?transcript=1`): a choice made
    per export, as a transcript makes the document longer and more personal."""
    return request.args.get("transcript") in ("1", "true", "yes")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_download(document: dict[str, Any], filename: str) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    return _download(body, "application/json", filename)


def _pdf_download(render: Callable[[], bytes], filename: str) -> Response:
    try:
        body = render()
    except ReportFontMissingError as exc:
        abort(503, description=str(exc))
    return _download(body, "application/pdf", filename)


@bp.get("/reports/<int:report_id>/export.json")
@requires(Action.VIEW_REPORTS)
def report_json(report_id: int) -> ResponseReturnValue:
    """One report as machine-readable JSON (scores, evidence, overrides, model versions)."""
    store, principal = app_store(), current_principal()
    document = report_document(store, principal, report_id)
    log_document_read(store, principal, document, f"report-json:{report_id}")
    return _json_download(document, f"report-{report_id}.json")


@bp.get("/reports/<int:report_id>/export.pdf")
@requires(Action.VIEW_REPORTS)
def report_pdf_export(report_id: int) -> ResponseReturnValue:
    """One report as a PDF for reviewers."""
    store, principal = app_store(), current_principal()
    document = report_document(store, principal, report_id)
    with_transcript = _wants_transcript()
    log_document_read(
        store,
        principal,
        document,
        f"report-pdf{'-transcript' if with_transcript else ''}:{report_id}",
    )
    return _pdf_download(
        lambda: report_pdf(document, transcript=with_transcript), f"report-{report_id}.pdf"
    )


def _interview_page(
    interview_id: int,
    *,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    log_document_read(store, principal, document, f"interview-report:{interview_id}")
    return (
        render_template(
            "reports/interview.html",
            doc=document,
            may_explain=allowed(principal, Action.EXPORT_EXPLANATION) is not None,
            viewer_language=_viewer_language(),
            decisions=DECISIONS,
            recommendations=RECOMMENDATIONS,
            problems=problems or [],
            values=values or {},
        ),
        status,
    )


@bp.get("/interviews/<int:interview_id>/report")
@requires(Action.VIEW_REPORTS)
def interview_report(interview_id: int) -> ResponseReturnValue:
    """The interview's report: all its recordings' analyses together, overrides applied."""
    return _interview_page(interview_id)


def _form_score(form: Any) -> float:
    """The score typed in a form (a comma as decimal mark too); ReviewError when not 1-10."""
    try:
        score = float(form.get("score", "").strip().replace(",", "."))
    except ValueError:
        raise ReviewError(_("a score is between 1 and 10")) from None
    if not math.isfinite(score):
        raise ReviewError(_("a score is between 1 and 10"))
    return score


@bp.post("/interviews/<int:interview_id>/overrides")
@requires(Action.OVERRIDE_SCORE)
def interview_override(interview_id: int) -> ResponseReturnValue:
    """Replace the interview's score for a competency (all answers together), with a reason."""
    store, principal = app_store(), current_principal()
    form = request.form
    try:
        override_interview_score(
            store,
            principal,
            interview_id=interview_id,
            dimension=form.get("dimension", ""),
            new_score=_form_score(form),
            reason=form.get("reason", ""),
        )
    except RefusedError as exc:
        values = {key: form.get(key, "") for key in ("dimension", "score", "reason")}
        return _interview_page(interview_id, problems=[say_error(exc)], values=values, status=422)
    flash(_("The score was overridden."), "success")
    return redirect(url_for("reports.interview_report", interview_id=interview_id), 303)


@bp.get("/interviews/<int:interview_id>/report.json")
@requires(Action.VIEW_REPORTS)
def interview_report_json(interview_id: int) -> ResponseReturnValue:
    """The interview's report as machine-readable JSON."""
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    log_document_read(store, principal, document, f"interview-report-json:{interview_id}")
    return _json_download(document, f"interview-{interview_id}-report.json")


@bp.get("/interviews/<int:interview_id>/report.pdf")
@requires(Action.VIEW_REPORTS)
def interview_report_pdf(interview_id: int) -> ResponseReturnValue:
    """The interview's report as a PDF."""
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    with_transcript = _wants_transcript()
    what = "interview-report-pdf-transcript" if with_transcript else "interview-report-pdf"
    log_document_read(store, principal, document, f"{what}:{interview_id}")
    return _pdf_download(
        lambda: report_pdf(document, transcript=with_transcript),
        f"interview-{interview_id}-report.pdf",
    )


@bp.get("/interviews/<int:interview_id>/explanation.json")
@requires(Action.EXPORT_EXPLANATION)
def explanation_json(interview_id: int) -> ResponseReturnValue:
    """The candidate's explanation (competencies, weights, evidence, who decided) as JSON."""
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    log_explanation_export(store, principal, document)
    return _json_download(explanation(document), f"interview-{interview_id}-explanation.json")


@bp.get("/interviews/<int:interview_id>/explanation.pdf")
@requires(Action.EXPORT_EXPLANATION)
def explanation_pdf_export(interview_id: int) -> ResponseReturnValue:
    """The candidate's explanation as a PDF."""
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    expl = explanation(document)
    response = _pdf_download(
        lambda: explanation_pdf(expl), f"interview-{interview_id}-explanation.pdf"
    )
    log_explanation_export(store, principal, document)
    return response
