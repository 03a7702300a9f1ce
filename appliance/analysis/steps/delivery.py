"""The delivery step: pace, pauses, fillers and hesitations from the transcript's word times.

Delivery metrics describe how a candidate spoke, which is part of the AI's evaluation; they are
computed only where the region policy and consent allow AI evaluation (the transcript itself
is made either way, since people may always review the recording).
"""

from __future__ import annotations

from appliance.analysis.pipeline import AnalysisStep, ReportDraft, StepContext, register_step
from appliance.analysis.steps.policy_gate import step_decision
from appliance.analysis.steps.transcribe import step_span
from appliance.compliance.policy import PolicyAction
from inference.delivery import transcript_delivery
from inference.interfaces import Transcript


@register_step
class DeliveryStep(AnalysisStep):
    """`sections["delivery"]` from the transcript made by the transcribe step."""

    name = "delivery"

    def able_to_run(self, ctx: StepContext) -> bool:
        """Only where AI evaluation of the interview is allowed."""
        return step_decision(ctx, PolicyAction.RUN_AI_SCORING).allowed

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Measure delivery; without a transcript say why nothing was measured."""
        transcript = draft.artifacts.get("transcript")
        if not isinstance(transcript, Transcript) and "transcript" in draft.sections:
            transcript = Transcript.from_dict(draft.sections["transcript"])
        if not isinstance(transcript, Transcript):
            draft.notes[self.name] = "no transcript: the transcribe step must run first"
            return draft
        if not transcript.words():
            draft.notes[self.name] = "no words were recognised, so there is nothing to measure"
            return draft
        ctx.report_progress(step_span(ctx, self.name)[0], self.name)
        draft.sections["delivery"] = transcript_delivery(transcript)
        return draft
