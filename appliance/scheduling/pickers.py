"""What the scheduling forms offer to pick, by name rather than by number."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.security.permissions import Action, Principal, require
from appliance.store import Store

PICKER_LIMIT = 300  # newest candidates scanned for interviews still to be scheduled


@dataclass(frozen=True)
class SchedulableInterview:
    """An interview that can be scheduled now, with what a person recognises it by."""

    interview_id: int
    candidate_name: str
    job_title: str
    round: int


def schedulable_interviews(store: Store, principal: Principal) -> list[SchedulableInterview]:
    """Planned interviews the person may schedule and nobody is scheduling yet, newest
    candidates first."""
    visibility = require(principal, Action.MANAGE_SCHEDULING)
    titles: dict[int, str] = {}
    found = []
    for candidate in store.candidates.visible(visibility, status="planned", limit=PICKER_LIMIT):
        for interview in store.interviews.for_candidate_visible(candidate.id, visibility):
            if interview.status != "planned":
                continue
            if store.scheduling.request_for_interview(interview.id) is not None:
                continue
            if interview.requisition_id not in titles:
                titles[interview.requisition_id] = store.requisitions.get(
                    interview.requisition_id
                ).title
            found.append(
                SchedulableInterview(
                    interview.id,
                    candidate.full_name,
                    titles[interview.requisition_id],
                    interview.round,
                )
            )
    return found


__all__ = ["SchedulableInterview", "schedulable_interviews"]
