"""The policy gate: the worker re-checks region policy and consent for every analysis job.

The UI is not the only gate: this step records in the report draft which analyses the
job's regions (the requisition's and the candidate's residence) and the interview's consents
allow, and other steps ask `step_decision` in their `able_to_run`. Without a consent to AI
evaluation (IL-1) the AI does not evaluate the video, but people may still review it.

The store reaches the step as `ctx.store` (the worker sets it); without one only the
requisition's region is known and no consent can be established, so everything that needs
one is refused (fail closed).
"""

from __future__ import annotations

from typing import Any

from appliance.analysis.pipeline import AnalysisStep, ReportDraft, StepContext, register_step
from appliance.compliance.common import normalize_regions, regions_for_interview
from appliance.compliance.consents import consent_state
from appliance.compliance.policy import POLICY_VERSION, Decision, PolicyAction, may
from appliance.platform.clock import now_stamp
from appliance.store import Store

# The analyses a job may run, in the order the report lists them.
ANALYSES = (
    PolicyAction.RUN_AI_SCORING,
    PolicyAction.RUN_VISUAL_CUES,
    PolicyAction.RUN_BIOMETRICS,
    PolicyAction.RUN_AFFECT_ANALYSIS,
)


def store_of(ctx: StepContext) -> Store | None:
    """The store the worker gave the step context, if any."""
    found = getattr(ctx, "store", None)
    return found if isinstance(found, Store) else None


def job_regions(ctx: StepContext) -> list[str]:
    """The regions whose policy applies to the job."""
    store = store_of(ctx)
    if store is None:
        return normalize_regions([ctx.region])
    return regions_for_interview(store, ctx.recording.interview_id)


def step_decision(ctx: StepContext, action: PolicyAction | str) -> Decision:
    """`may` for the job's interview, as a step's `able_to_run` asks it (refusals logged)."""
    store = store_of(ctx)
    context: dict[str, Any] = {"actor": f"job:{ctx.job_id}"}
    if store is not None:
        context["interview_id"] = ctx.recording.interview_id
    return may(store, action, regions=job_regions(ctx), context=context)


@register_step
class PolicyGateStep(AnalysisStep):
    """Record which analyses policy and consent allow for this job (`sections["policy"]`)."""

    name = "policy_gate"

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Decide every analysis once, in the worker, and write the answer into the draft."""
        store = store_of(ctx)
        decisions = {action.value: step_decision(ctx, action) for action in ANALYSES}
        scoring = decisions[PolicyAction.RUN_AI_SCORING.value]
        draft.sections["policy"] = {
            "policy_version": POLICY_VERSION,
            "checked_at": now_stamp(),
            "regions": job_regions(ctx),
            "consent": (
                consent_state(store, ctx.recording.interview_id).summary()
                if store is not None
                else None
            ),
            "analyses": {name: decision.as_dict() for name, decision in decisions.items()},
            "ai_evaluation_allowed": scoring.allowed,
            # People may always review the recording; only the AI's evaluation is gated.
            "human_review_available": True,
        }
        return draft
