"""Technical rounds: what a technical expert sees of the interviews assigned to them."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.hiring.common import competency_model_of
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Interview, Requisition
from appliance.store.review import Evaluation


@dataclass(frozen=True)
class TechRound:
    """What a technical expert sees of an interview assigned to them: nothing else."""

    interview: Interview
    candidate_name: str
    candidate_pseudonym: str
    requisition: Requisition
    model: ModelSpec | None
    evaluations: list[Evaluation]


def tech_rounds(store: Store, principal: Principal) -> list[TechRound]:
    """The technical rounds assigned to the principal."""
    require(principal, Action.VIEW_TECH_ROUND)
    return [
        _tech_round(store, principal, interview)
        for interview in store.interviews.assigned_to(principal.user_id, "tech_expert")
    ]


def tech_round(store: Store, principal: Principal, interview_id: int) -> TechRound:
    """One technical round assigned to the principal; any other id is not found."""
    visibility = require(principal, Action.VIEW_TECH_ROUND)
    if (principal.user_id, "tech_expert") not in store.interviews.assignees(interview_id):
        raise NotFoundError(f"no interview {interview_id}")
    return _tech_round(store, principal, store.interviews.get_visible(interview_id, visibility))


def _tech_round(store: Store, principal: Principal, interview: Interview) -> TechRound:
    candidate = store.candidates.get(interview.candidate_id)
    requisition = store.requisitions.get(interview.requisition_id)
    model = competency_model_of(store, requisition)
    own = [
        evaluation
        for evaluation in store.evaluations.for_interview(interview.id)
        if evaluation.author_id == principal.user_id and evaluation.kind == "technical"
    ]
    return TechRound(interview, candidate.full_name, candidate.pseudonym, requisition, model, own)


__all__ = ["TechRound", "tech_round", "tech_rounds"]
