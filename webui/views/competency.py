"""Competency models from a built-in starter or an uploaded dictionary (web pages), and the
competency-model API (routes on the API blueprint, so they share its bearer-token rule and
CSRF exemption).

Both pages end in the model editor with the draft filled in: HR edits the generated questions,
anchors and keywords there, and saving creates the job's next model version.
"""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from appliance.competency import DictionaryError, starter_spec
from appliance.competency.dictionary import FORMATS, MAX_BYTES
from appliance.competency.gaps import ScoringGap, scoring_gaps
from appliance.competency.service import (
    dictionary_draft,
    save_from_json,
    spec_json,
    starter_choices,
    starter_draft,
)
from appliance.hiring.common import InvalidInputError
from appliance.hiring.competency_models import dimension_rows
from appliance.security.permissions import Action
from appliance.store.hiring import Requisition
from webui.api.errors import json_error
from webui.security import app_store, current_principal, requires, visibility
from webui.views.api import bp as api_bp
from webui.views.requisitions import render_model_editor

bp = Blueprint("competency", __name__)

ACCEPTED = ".csv,.xlsx,.json,.yaml,.yml"


def _job(requisition_id: int) -> Requisition:
    return app_store().requisitions.get_visible(requisition_id, visibility())


def _import_page(job: Requisition, problems: list[str], status: int) -> ResponseReturnValue:
    return (
        render_template(
            "requisitions/import.html",
            job=job,
            problems=problems,
            accepted=ACCEPTED,
            formats=FORMATS,
            max_mb=MAX_BYTES // (1024 * 1024),
            starters=starter_choices(),
        ),
        status,
    )


def _current_name(requisition: Requisition, fallback: str) -> str:
    if requisition.competency_model_id is None:
        return fallback
    return app_store().competency.spec(requisition.competency_model_id).name


@bp.post("/jobs/<int:requisition_id>/model/starter")
@requires(Action.EDIT_REQUISITIONS)
def starter(requisition_id: int) -> ResponseReturnValue:
    """Open a built-in starter model in the editor as a draft for this job."""
    return _starter_editor(requisition_id, request.form.get("starter", ""))


@bp.get("/jobs/<int:requisition_id>/model/starter/<key>")
@requires(Action.EDIT_REQUISITIONS)
def starter_for_new_job(requisition_id: int, key: str) -> ResponseReturnValue:
    """The editor filled from a starter chosen when the job was created."""
    return _starter_editor(requisition_id, key)


def _starter_editor(requisition_id: int, key: str) -> ResponseReturnValue:
    job = _job(requisition_id)
    try:
        draft = starter_draft(current_principal(), key)
    except InvalidInputError as exc:
        return _import_page(job, exc.problems, 422)
    return render_model_editor(
        job,
        None,
        dimension_rows(draft),
        _current_name(job, draft.name),
        draft.description,
        [],
        200,
        origin="starter",
        starter=key,
        draft_note=_(
            "A built-in starter model is filled in below. Review it and save it to create "
            "this job's next model version."
        ),
    )


@bp.route("/jobs/<int:requisition_id>/model/import", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def import_dictionary(requisition_id: int) -> ResponseReturnValue:
    """Upload a competency dictionary (CSV, XLSX, JSON, YAML); valid ones open in the editor
    with generated questions, invalid ones list every fault with its line."""
    job = _job(requisition_id)
    if request.method == "GET":
        return _import_page(job, [], 200)
    upload = request.files.get("dictionary")
    if upload is None or not upload.filename:
        return _import_page(job, [_("Choose a dictionary file to upload.")], 422)
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        draft = dictionary_draft(
            current_principal(),
            data,
            upload.filename,
            role=request.form.get("role", ""),
            role_zh=request.form.get("role_zh", ""),
        )
    except DictionaryError as exc:
        return _import_page(job, [str(problem) for problem in exc.problems], 422)
    except InvalidInputError as exc:
        return _import_page(job, exc.problems, 422)
    return render_model_editor(
        job,
        None,
        dimension_rows(draft),
        _current_name(job, draft.name),
        draft.description,
        [],
        200,
        origin="import",
        draft_warnings=[_gap_message(gap) for gap in scoring_gaps(draft)],
        draft_note=_(
            "The dictionary is valid. Questions were generated for competencies without "
            "any: edit them before saving. Nothing is stored until you save."
        ),
    )


def _gap_message(gap: ScoringGap) -> str:
    """What a competency without anchors or keywords loses, in the viewer's language."""
    chinese = str(get_locale() or "en").startswith("zh")
    name = gap.name_zh if chinese and gap.name_zh else gap.name
    if gap.no_anchors and gap.no_keywords:
        message = _(
            "%(name)s has no level anchors and no keywords: whether an answer speaks to it "
            "rests on its name and description alone, no keyword is quoted as evidence, and "
            "the report shows no level description beside its score.",
            name=name,
        )
    elif gap.no_anchors:
        message = _(
            "%(name)s has no level anchors: the report shows no level description beside its "
            "score, and whether an answer speaks to it rests on its name, description and "
            "keywords.",
            name=name,
        )
    else:
        message = _(
            "%(name)s has no keywords: no keyword is quoted as evidence for it, and whether an "
            "answer speaks to it rests on its name, description and anchors.",
            name=name,
        )
    return str(message)


# --- API -----------------------------------------------------------------------------------------


def _json_body() -> dict[str, object]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInputError(["send a JSON object as the body"])
    return body


@api_bp.get("/competency-starters")
@requires(Action.VIEW_REQUISITIONS)
def api_starters() -> ResponseReturnValue:
    """The built-in starter models (product content, no personal data), each in full."""
    return jsonify(
        {
            "starters": [
                {
                    "key": key,
                    "name": name,
                    "name_zh": name_zh,
                    "model": spec_json(starter_spec(key)),
                }
                for key, name, name_zh in starter_choices()
            ]
        }
    )


@api_bp.post("/competency-dictionaries")
@requires(Action.EDIT_REQUISITIONS)
def api_dictionary() -> ResponseReturnValue:
    """Validate a dictionary (base64 in JSON) and return the draft model with generated
    questions; nothing is stored. Faults come back as 422 with every problem and its line."""
    body = _json_body()
    try:
        data = base64.b64decode(str(body.get("content_base64") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(["content_base64 is not valid base64"]) from None
    if len(data) > MAX_BYTES:
        data = data[: MAX_BYTES + 1]
    try:
        draft = dictionary_draft(
            current_principal(),
            data,
            str(body.get("filename") or ""),
            role=str(body.get("role") or ""),
            role_zh=str(body.get("role_zh") or ""),
        )
    except DictionaryError as exc:
        problems = [{"where": p.where, "message": p.message} for p in exc.problems]
        return json_error(422, "invalid_dictionary", str(exc), problems=problems)
    gaps = [{"competency": gap.key, "missing": gap.missing} for gap in scoring_gaps(draft)]
    return jsonify({"model": spec_json(draft), "scoring_gaps": gaps})


@api_bp.get("/requisitions/<int:requisition_id>/competency-model")
@requires(Action.VIEW_REQUISITIONS)
def api_model(requisition_id: int) -> ResponseReturnValue:
    """The job's current competency-model version with anchors, keywords and questions."""
    job = _job(requisition_id)
    if job.competency_model_id is None:
        return jsonify({"model": None})
    return jsonify({"model": spec_json(app_store().competency.spec(job.competency_model_id))})


@api_bp.put("/requisitions/<int:requisition_id>/competency-model")
@requires(Action.EDIT_REQUISITIONS)
def api_save_model(requisition_id: int) -> ResponseReturnValue:
    """Save a model (JSON) as the job's next version; earlier versions stay as they were."""
    saved = save_from_json(app_store(), current_principal(), requisition_id, _json_body())
    response = jsonify({"model": spec_json(saved)})
    response.status_code = 201
    return response
