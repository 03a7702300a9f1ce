"""Whether affect observations may feed a requisition's scores: off unless an HR admin turned
it on with a recorded justification (every change appended and audited).

Affect output is stored apart (`affect_observations`) and scoring must reach it only through
`observations_for_scoring`, which hands it out only while the setting is on. In a region
where affect analysis is prohibited (the EU) the setting cannot be turned on at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.compliance.common import ComplianceError
from appliance.compliance.policy import PolicyAction, prohibition
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.affect import AffectObservation, AffectScoringSetting, affect_of
from appliance.store.hiring import Requisition

MIN_JUSTIFICATION = 20
MAX_JUSTIFICATION = 2000


class AffectScoringError(ComplianceError):
    """The change is refused: no justification, or a region that forbids affect."""


@dataclass(frozen=True)
class AffectScoringView:
    """A requisition with its current setting and its history (newest first)."""

    requisition: Requisition
    current: AffectScoringSetting | None
    history: list[AffectScoringSetting]
    prohibited_by: str | None  # the rule that forbids affect in the requisition's region

    @property
    def enabled(self) -> bool:
        """Whether affect may feed this requisition's scores now."""
        return self.current is not None and self.current.enabled


def affect_scoring_view(
    store: Store, principal: Principal, requisition_id: int
) -> AffectScoringView:
    """The setting of a requisition in the principal's scope."""
    visibility = require(principal, Action.MANAGE_AFFECT_SCORING)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    repo = affect_of(store).scoring
    rule = prohibition(PolicyAction.RUN_AFFECT_ANALYSIS, requisition.region)
    return AffectScoringView(
        requisition,
        repo.current(requisition.id),
        repo.history(requisition.id),
        f"{rule.summary} ({rule.source})" if rule is not None else None,
    )


def set_affect_scoring(
    store: Store,
    principal: Principal,
    requisition_id: int,
    *,
    enabled: bool,
    justification: str,
) -> AffectScoringSetting:
    """Record a change of the setting with its justification, audited in the same commit."""
    visibility = require(principal, Action.MANAGE_AFFECT_SCORING)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    reason = " ".join((justification or "").split())
    if len(reason) < MIN_JUSTIFICATION:
        raise AffectScoringError(
            f"a justification of at least {MIN_JUSTIFICATION} characters is required"
        )
    if len(reason) > MAX_JUSTIFICATION:
        raise AffectScoringError(f"the justification is longer than {MAX_JUSTIFICATION} characters")
    rule = prohibition(PolicyAction.RUN_AFFECT_ANALYSIS, requisition.region)
    actor = principal.actor
    if enabled and rule is not None:
        with store.transaction():
            store.audit.append(
                actor,
                "policy.refused",
                details={
                    "action": "enable:affect_scoring",
                    "requisition": requisition.id,
                    "regions": [requisition.region],
                    "rules": [rule.id],
                },
            )
        raise AffectScoringError(
            f"affect cannot feed scores in {requisition.region}: {rule.summary} ({rule.source})"
        )
    with store.audited(
        actor,
        "affect_scoring.changed",
        requisition=requisition.id,
        enabled=enabled,
        justification=reason,
    ) as entry:
        saved = affect_of(store).scoring.record(
            requisition.id, enabled=enabled, justification=reason, changed_by=principal.user_id
        )
        entry.details["setting"] = saved.id
    return saved


def affect_may_feed_scores(store: Store, requisition_id: int) -> bool:
    """Whether the requisition's current setting lets affect observations into its scores."""
    current = affect_of(store).scoring.current(requisition_id)
    return current is not None and current.enabled


def observations_for_scoring(store: Store, recording_id: int) -> list[AffectObservation]:
    """A recording's affect observations for scoring: empty unless the setting is on."""
    recording = store.recordings.get(recording_id)
    interview = store.interviews.get(recording.interview_id)
    if not affect_may_feed_scores(store, interview.requisition_id):
        return []
    return affect_of(store).observations.for_recording(recording_id)


def persist_affect(
    store: Store, job_id: int, recording_id: int, report_id: int | None, output: dict[str, Any]
) -> int:
    """Store the affect step's output apart (inside the worker's completing transaction)."""
    observations = output.get("observations") or []
    return affect_of(store).observations.add(
        recording_id=recording_id,
        report_id=report_id,
        job_id=job_id,
        model=str(output.get("model", "unknown")),
        frames=len(observations),
        content=output,
    )
