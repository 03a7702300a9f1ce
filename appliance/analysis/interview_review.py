"""A person changes an interview's score for one competency (all its answers together).

Lives beside the interview's document rather than with the other overrides in
`appliance.hiring.review`: the score being replaced is the one the answers add up to, which
only the analysis side can combine.
"""

from __future__ import annotations

from appliance.analysis.interview_scores import interview_scores
from appliance.hiring.review import ReviewError, require_reason
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.review import InterviewOverride


def override_interview_score(
    store: Store,
    principal: Principal,
    *,
    interview_id: int,
    dimension: str,
    new_score: float,
    reason: str,
) -> InterviewOverride:
    """A person replaces the interview's score for a competency; the reason is mandatory and
    the change is logged. Only a competency the AI scored in this interview can be changed."""
    visibility = require(principal, Action.OVERRIDE_SCORE)
    interview = store.interviews.get_visible(interview_id, visibility)
    scores = interview_scores(store, interview)
    if scores.ai.get(dimension) is None:
        raise ReviewError(said("the interview has no AI score for %(name)s", name=repr(dimension)))
    if not 1 <= new_score <= 10:
        raise ReviewError(said("a score is between 1 and 10"))
    text = require_reason(reason)
    candidate = store.candidates.get(interview.candidate_id)
    previous = scores.current.get(dimension)
    with store.transaction():
        override = store.interview_overrides.add(
            interview.id, dimension, previous, new_score, text, principal.user_id
        )
        store.audit.append(
            principal.actor,
            "score.overridden",
            subject=candidate.pseudonym,
            details={
                "interview": interview.id,
                "dimension": dimension,
                "from": previous,
                "to": new_score,
            },
        )
    return override


__all__ = ["override_interview_score"]
