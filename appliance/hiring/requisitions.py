"""Requisitions (jobs): which ones a visibility reaches, opening and changing them, and the
competency-model versions they use."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.hiring.common import (
    DUTIES,
    REGIONS,
    InvalidInputError,
    clean_text,
    reaches,
)
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, Scope, Visibility, require
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Requisition

REQUISITION_STATUSES = ("draft", "open", "closed")


def visible_requisitions(store: Store, visibility: Visibility) -> list[Requisition]:
    """Requisitions a visibility reaches; for OWN scopes, those of the person's assignments."""
    if visibility.scope is not Scope.OWN:
        return store.requisitions.visible(visibility)
    ids = sorted(
        {
            interview.requisition_id
            for duty in DUTIES
            for interview in store.interviews.assigned_to(visibility.user_id, duty)
        }
    )
    return [store.requisitions.get(requisition_id) for requisition_id in ids]


@dataclass(frozen=True)
class RequisitionInput:
    """The fields of the requisition form."""

    title: str
    department: str
    location: str
    region: str
    status: str
    competency_model_id: int | None = None


def _check_requisition(data: RequisitionInput, visibility: Visibility) -> RequisitionInput:
    problems: list[str] = []
    title = clean_text(data.title, said("the title"), problems)
    department = clean_text(data.department, said("the department"), problems)
    location = clean_text(data.location, said("the location"), problems)
    if data.region not in REGIONS:
        problems.append(said("choose a region from the list"))
    if data.status not in REQUISITION_STATUSES:
        problems.append(said("choose a status from the list"))
    if not problems and not reaches(visibility, region=data.region, department=department):
        problems.append(said("you may not manage jobs in that region or department"))
    if problems:
        raise InvalidInputError(problems)
    return RequisitionInput(
        title, department, location, data.region, data.status, data.competency_model_id
    )


def create_requisition(store: Store, principal: Principal, data: RequisitionInput) -> Requisition:
    """A new requisition inside the principal's regions (and departments), optionally with a
    competency model taken from a requisition they can already see."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    checked = _check_requisition(data, visibility)
    if checked.competency_model_id is not None and checked.competency_model_id not in {
        model.id for model in models_in_use(store, visibility)
    }:
        raise InvalidInputError([said("choose a competency model from the list")])
    with store.audited(principal.actor, "requisition.created") as entry:
        requisition = store.requisitions.create(
            checked.title,
            checked.department,
            checked.location,
            checked.region,
            competency_model_id=checked.competency_model_id,
            created_by=principal.user_id,
            status=checked.status,
        )
        entry.details.update(requisition=requisition.id, region=requisition.region)
    return requisition


def update_requisition(
    store: Store, principal: Principal, requisition_id: int, data: RequisitionInput
) -> Requisition:
    """Change a visible requisition's details; its competency model is changed by the editor."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    current = store.requisitions.get_visible(requisition_id, visibility)
    checked = _check_requisition(data, visibility)
    with store.audited(principal.actor, "requisition.updated") as entry:
        updated = store.requisitions.update(
            current.id,
            title=checked.title,
            department=checked.department,
            location=checked.location,
            region=checked.region,
            status=checked.status,
            competency_model_id=current.competency_model_id,
        )
        entry.details.update(requisition=updated.id, region=updated.region)
    return updated


def models_in_use(store: Store, visibility: Visibility) -> list[ModelSpec]:
    """The competency-model versions used by the requisitions a visibility reaches."""
    ids = {
        req.competency_model_id
        for req in visible_requisitions(store, visibility)
        if req.competency_model_id is not None
    }
    return [store.competency.spec(model_id) for model_id in sorted(ids)]


__all__ = [
    "REQUISITION_STATUSES",
    "RequisitionInput",
    "create_requisition",
    "models_in_use",
    "update_requisition",
    "visible_requisitions",
]
